//! The api through its pure router on a real database (a fresh SQLite file, and PostgreSQL
//! when `DOJO_TEST_POSTGRES_URL` is set): seeded catalogue, carts, checkout validation.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use dojo_api::db::Db;
use dojo_api::payments::PaymentsClient;
use dojo_api::{AppState, router};
use dojo_faults::{Faults, Service};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn state(url: &str) -> AppState {
    let db = Db::connect(url, 2)
        .await
        .expect("database opens and migrates");
    // No payments provider listens here: checkout tests stop before charging.
    let payments = PaymentsClient::new("http://127.0.0.1:9".into(), Duration::from_millis(200), 1);
    AppState {
        db,
        faults: Faults::new(Service::Api),
        payments,
        admin_token: None,
    }
}

async fn call(
    state: &AppState,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    let body = match body {
        Some(json) => {
            request = request.header("content-type", "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    let response = router(state.clone())
        .oneshot(request.body(body).expect("valid request"))
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The behaviour every database backend must show.
async fn the_shop_behaves(state: AppState) {
    let (status, products) = call(&state, Method::GET, "/catalogue", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        products.as_array().map(Vec::len),
        Some(12),
        "the seeded catalogue"
    );

    let (status, product) = call(&state, Method::GET, "/products/7", None).await;
    assert_eq!(
        (status, product["name"].as_str()),
        (StatusCode::OK, Some("Focus mitts"))
    );
    let (status, missing) = call(&state, Method::GET, "/products/999", None).await;
    assert_eq!(
        (status, missing["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );

    let (status, cart) = call(
        &state,
        Method::POST,
        "/carts",
        Some(json!({"user_id": "u-1"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let cart_id = cart["cart_id"].as_i64().expect("cart id");
    let items = format!("/carts/{cart_id}/items");
    let (status, empty_checkout) = call(
        &state,
        Method::POST,
        "/orders",
        Some(json!({"cart_id": cart_id, "card_number": "4242424242424242"})),
    )
    .await;
    assert_eq!(
        (status, empty_checkout["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("empty_cart"))
    );

    for _ in 0..2 {
        let (status, _) = call(
            &state,
            Method::POST,
            &items,
            Some(json!({"product_id": 3, "quantity": 2})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, cart) = call(&state, Method::GET, &format!("/carts/{cart_id}"), None).await;
    assert_eq!(
        cart["item_count"], 4,
        "adding the same product twice adds to its line: {cart}"
    );
    assert_eq!(cart["total_cents"], 4 * 1900);

    let bad = [
        (
            "zero quantity",
            json!({"product_id": 3, "quantity": 0}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "unknown product",
            json!({"product_id": 404, "quantity": 1}),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (description, body, expected) in bad {
        let (status, answer) = call(&state, Method::POST, &items, Some(body)).await;
        assert_eq!(status, expected, "{description}: {answer}");
    }
    let (status, _) = call(
        &state,
        Method::POST,
        "/carts/999999/items",
        Some(json!({"product_id": 3, "quantity": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "unknown cart");

    let (status, unavailable) = call(
        &state,
        Method::POST,
        "/orders",
        Some(json!({"cart_id": cart_id, "card_number": "4242424242424242"})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_GATEWAY,
        "no provider listening: {unavailable}"
    );
    assert_eq!(unavailable["error"], "payments_unavailable");
    assert!(
        unavailable["order_id"].is_i64(),
        "the failed order is kept and named"
    );
}

#[tokio::test]
async fn the_shop_works_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("dojo-api-test-{}", std::process::id()));
    let url = format!("sqlite://{}?mode=rwc", dir.join("shop.db").display());
    the_shop_behaves(state(&url).await).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_shop_works_on_postgresql() {
    let Some(database) = dojo_testkit::postgres::fresh_database()
        .await
        .expect("creating a test database")
    else {
        return;
    };
    the_shop_behaves(state(&database.url).await).await;
}

#[tokio::test]
async fn an_unsupported_database_url_is_refused_with_the_accepted_schemes() {
    let error = Db::connect("mysql://localhost/shop", 1)
        .await
        .expect_err("mysql is not supported");
    assert!(
        error.to_string().contains("sqlite:") && error.to_string().contains("postgres://"),
        "{error}"
    );
}
