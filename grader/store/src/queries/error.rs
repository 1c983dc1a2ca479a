//! Why a query of the store gave no answer, typed, so each caller says it its own way: the
//! Tempo API as a 400 with the engine's one-line message, the console with a caret under the
//! column the engine pointed at.

use dojo_traceql::{ErrorKind, Query};

/// Tempo refuses queries longer than this (`MaxQueryExpressionSizeBytes`).
pub const MAX_QUERY_BYTES: usize = 128 * 1024;

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// The query is longer than Tempo accepts.
    #[error("the query is {length} bytes long; the limit is {MAX_QUERY_BYTES} bytes")]
    TooLong { length: usize },
    /// The engine refused or stopped the query (parse, validation, unsupported feature,
    /// budget, runtime), with the query it was given: the error carries its position.
    #[error("{}", .error.one_line(.query))]
    Engine {
        query: String,
        error: dojo_traceql::Error,
    },
    /// A metrics query sent to search.
    #[error(
        "this is a TraceQL metrics query: run it on /api/metrics/query_range instead of /api/search"
    )]
    MetricsOnSearch,
    /// A valid search query sent where a metrics query belongs: it has spans, not series.
    #[error(
        "this is a search query, not a metrics query: add a metrics function such as | rate() or | count_over_time(), or run it on /api/search"
    )]
    NotMetrics,
}

impl QueryError {
    /// The engine's error about `query`.
    pub fn engine(query: &str, error: dojo_traceql::Error) -> Self {
        QueryError::Engine {
            query: query.to_string(),
            error,
        }
    }

    /// True when the query itself is wrong (it does not parse or validate), as opposed to
    /// one that ran out of budget or failed while running.
    pub fn is_invalid_query(&self) -> bool {
        match self {
            QueryError::Engine { error, .. } => {
                !matches!(error.kind, ErrorKind::Budget | ErrorKind::Runtime)
            }
            QueryError::TooLong { .. } | QueryError::MetricsOnSearch | QueryError::NotMetrics => {
                false
            }
        }
    }
}

/// Parses a query with Tempo's size limit.
pub fn parse_query(query: &str) -> Result<Query, QueryError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(QueryError::TooLong {
            length: query.len(),
        });
    }
    dojo_traceql::parse(query).map_err(|error| QueryError::engine(query, error))
}
