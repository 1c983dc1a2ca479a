//! One shopper's journey through the frontend's JSON endpoints.

use std::time::{Duration, Instant};

use rand::Rng;
use rand::rngs::StdRng;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use crate::stats::Summary;

/// A card every provider accepts in test mode.
const GOOD_CARD: &str = "4242424242424242";
/// A card every provider declines in test mode; a few shoppers use it.
const DECLINED_CARD: &str = "4000000000000002";
/// Share of shoppers whose card is declined.
const DECLINED_SHARE: f64 = 0.05;
/// Products in the seeded catalogue.
const PRODUCTS: i64 = 12;

/// Headers every request of a journey carries: baggage with the learner and the shopper.
pub fn baggage_headers(learner: Option<&str>, user: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(value) = dojo_telemetry::propagation::baggage_header(learner, Some(user))
        && let Ok(value) = HeaderValue::from_str(&value)
    {
        headers.insert("baggage", value);
    }
    headers
}

/// Walks browse → product → cart → add item → checkout, recording each step; stops at the
/// first failed step. Returns true when the journey completed.
pub async fn walk(
    client: &reqwest::Client,
    target: &str,
    headers: HeaderMap,
    rng: &mut StdRng,
    summary: &mut Summary,
) -> bool {
    let product_id = rng.random_range(1..=PRODUCTS);
    let quantity = rng.random_range(1..=3);
    let card = if rng.random_bool(DECLINED_SHARE) {
        DECLINED_CARD
    } else {
        GOOD_CARD
    };
    let step = |name: &'static str, request: reqwest::RequestBuilder| {
        let headers = headers.clone();
        async move {
            let start = Instant::now();
            let result = request.headers(headers).send().await;
            let (ok, body) = match result {
                Ok(response) => {
                    let ok = response.status().is_success();
                    (ok, response.json::<Value>().await.ok())
                }
                Err(_) => (false, None),
            };
            (name, start.elapsed(), ok, body)
        }
    };
    let mut record = |(name, latency, ok, body): (&'static str, Duration, bool, Option<Value>)| {
        summary.record(name, latency, ok);
        ok.then_some(body).flatten()
    };
    if record(step("browse", client.get(format!("{target}/api/products"))).await).is_none() {
        return false;
    }
    if record(
        step(
            "product",
            client.get(format!("{target}/api/products/{product_id}")),
        )
        .await,
    )
    .is_none()
    {
        return false;
    }
    let Some(cart) = record(step("cart", client.post(format!("{target}/api/carts"))).await) else {
        return false;
    };
    let Some(cart_id) = cart["cart_id"].as_i64() else {
        return false;
    };
    let item = json!({ "product_id": product_id, "quantity": quantity });
    let add = client
        .post(format!("{target}/api/carts/{cart_id}/items"))
        .json(&item);
    if record(step("add_item", add).await).is_none() {
        return false;
    }
    let checkout = client
        .post(format!("{target}/api/checkout"))
        .json(&json!({ "cart_id": cart_id, "card_number": card }));
    // A declined card is the shopper's problem, not the shop's: it counts as a completed journey.
    let (name, latency, ok, body) = step("checkout", checkout).await;
    let declined = body
        .as_ref()
        .is_some_and(|b| b["error"] == "payment_declined");
    summary.record(name, latency, ok || declined);
    ok || declined
}
