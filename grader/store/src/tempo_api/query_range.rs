//! placeholder
use crate::storage::Store;
use axum::Router;
pub fn router() -> Router<Store> {
    Router::new()
}
