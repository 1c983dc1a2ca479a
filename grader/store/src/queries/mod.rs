//! The store's query entry points, in process and below the HTTP layer: what callers inside the
//! lab (the grader's embedded backend, the course) read, and what [`crate::tempo_api`] maps to
//! Tempo's HTTP API. Each returns typed results and a typed [`QueryError`] that keeps the
//! engine's error with its position, so a learner's console can point at the fault.

pub mod error;
pub mod metrics;
pub mod search;

pub use error::{MAX_QUERY_BYTES, QueryError, parse_query};
pub use metrics::parse_metrics;
pub use search::{SearchHit, SearchKind, SearchRequest, SearchResults, root_service_name};
