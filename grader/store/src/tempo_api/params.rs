//! Query-string parameters shared by the Tempo endpoints, read into checked values.
//!
//! Handlers take the raw pairs and convert them here, so every endpoint words a bad `limit`
//! or `start` the same way.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::storage::TenantId;
use crate::storage::query::TimeRange;

/// The query string as key → value (the last one wins for repeated keys).
#[derive(Debug, Default, Clone)]
pub struct Params(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = serde_urlencoded_pairs(query)?;
        Ok(Params(pairs.into_iter().collect()))
    }
}

fn serde_urlencoded_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{query}")
            .parse()
            .map_err(|_| ApiError::bad_request("the query string is not valid"))?,
    )
    .map(|q| q.0)
    .map_err(|e| ApiError::bad_request(format!("the query string is not valid: {e}")))
}

/// The tenant of a request, from `X-Scope-OrgID`.
#[derive(Debug, Clone)]
pub struct Tenant(pub TenantId);

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(dojo_defaults::TENANT_HEADER);
        Ok(Tenant(TenantId::from_header_bytes(
            header.map(|v| v.as_bytes()),
        )?))
    }
}

impl Params {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A non-negative integer parameter.
    pub fn u64(&self, key: &str) -> Result<Option<u64>, ApiError> {
        self.get(key)
            .map(|v| {
                v.trim().parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!("invalid {key}: {v:?} is not a whole number"))
                })
            })
            .transpose()
    }

    /// `start` and `end` in unix seconds: both or neither, `end` after `start`.
    pub fn seconds_range(&self) -> Result<Option<TimeRange>, ApiError> {
        match (self.u64("start")?, self.u64("end")?) {
            (None, None) => Ok(None),
            (Some(start), Some(end)) => {
                if end <= start {
                    return Err(ApiError::bad_request(format!(
                        "invalid start and end: end ({end}) must be greater than start ({start})"
                    )));
                }
                Ok(Some(TimeRange {
                    start_nanos: start.saturating_mul(1_000_000_000),
                    end_nanos: end.saturating_mul(1_000_000_000),
                }))
            }
            _ => Err(ApiError::bad_request(
                "give both start and end (unix seconds), or neither",
            )),
        }
    }
}
