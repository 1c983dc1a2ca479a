//! The shop's other client: an old install of its mobile app (`shop-app` 0.1.0), which talks
//! to the frontend *and* straight to the api.
//!
//! Each visit is one trace the app starts (an internal `app visit` span, with a client span
//! per call, when `dojo loadgen` exports telemetry), so one trace holds server spans of both
//! tiers side by side, neither below the other. The app also calls two routes old installs
//! still use: the api's `GET /orders` (not served: 405) and the frontend's retired
//! `POST /orders` (410). That traffic is what tells a structural TraceQL answer from a flat
//! one (`>>` vs `&&`), a route from a route and method, one service's route from another's,
//! a version from a service's version, and "the root is not the frontend" from "the root is
//! the api", so the labs' graders can refuse those near misses.

use std::time::{Duration, Instant};

use dojo_telemetry::client::UrlTemplate;
use rand::Rng;
use rand::rngs::StdRng;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use reqwest_middleware::{ClientWithMiddleware, RequestBuilder};
use tracing::Instrument;

use crate::stats::Summary;

/// One in this many journeys is an app visit instead of a browser journey.
pub const APP_SHARE: u64 = 5;
/// The app's `service.name`.
pub const APP_SERVICE: &str = "shop-app";
/// The app's `service.version`: an old install.
pub const APP_VERSION: &str = "0.1.0";
/// Products in the seeded catalogue.
const PRODUCTS: i64 = 12;

/// One visit: a product page through the frontend, the same product from the api, the order
/// history and a checkout on the retired route. Returns true when every call got the answer
/// the app expects (a faulty api's error is a failed visit).
pub async fn visit(
    client: &ClientWithMiddleware,
    frontend: &str,
    api: &str,
    headers: HeaderMap,
    rng: &mut StdRng,
    summary: &mut Summary,
) -> bool {
    let product = rng.random_range(1..=PRODUCTS);
    let calls: [(RequestBuilder, StatusCode); 4] = [
        (
            client
                .get(format!("{frontend}/api/products/{product}"))
                .with_extension(UrlTemplate("/api/products/{id}")),
            StatusCode::OK,
        ),
        (
            client
                .get(format!("{api}/products/{product}"))
                .with_extension(UrlTemplate("/products/{id}")),
            StatusCode::OK,
        ),
        (
            client
                .get(format!("{api}/orders"))
                .with_extension(UrlTemplate("/orders")),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            client
                .post(format!("{frontend}/orders"))
                .with_extension(UrlTemplate("/orders"))
                .json(&serde_json::json!({ "product_id": product })),
            StatusCode::GONE,
        ),
    ];
    let start = Instant::now();
    let span = tracing::info_span!("app visit", otel.name = "app visit");
    let ok = async move {
        let mut ok = true;
        for (request, expected) in calls {
            let status = request
                .headers(headers.clone())
                .timeout(Duration::from_secs(30))
                .send()
                .await
                .map(|r| r.status());
            ok &= status.is_ok_and(|s| s == expected);
        }
        ok
    }
    .instrument(span)
    .await;
    summary.record("app", start.elapsed(), ok);
    ok
}
