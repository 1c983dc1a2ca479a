//! Endpoints the shop no longer serves, kept so that old clients get a clear answer.
//!
//! The first mobile app checked out with `POST /orders` on the frontend; the app now uses
//! `POST /api/checkout`. Old installs still call the retired route, which answers
//! `410 Gone` without touching the api, so its server span is a frontend `/orders` span with
//! no api work beneath it (the lab's TraceQL exercises rely on such spans to tell "the api's
//! `/orders` route" from "any `/orders` route").

use axum::Json;
use axum::http::StatusCode;
use serde_json::{Value, json};

/// `POST /orders`: retired; tells the client where checkout moved.
pub async fn old_checkout() -> (StatusCode, Json<Value>) {
    (
        StatusCode::GONE,
        Json(json!({
            "error": "endpoint_retired",
            "message": "POST /orders was retired: update the app, which checks out with POST /api/checkout",
        })),
    )
}
