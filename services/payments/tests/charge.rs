//! `POST /charge` through the pure router (no socket): what the provider accepts, declines
//! and how its faults answer.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use dojo_faults::activation::ActivationRequest;
use dojo_faults::{FaultId, Faults, Service};
use dojo_payments::{AppState, router};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn charge(state: &AppState, body: Value) -> (StatusCode, Value) {
    let request = Request::post("/charge")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("valid request");
    let response = router(state.clone())
        .oneshot(request)
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

fn state() -> AppState {
    AppState {
        faults: Faults::new(Service::Payments),
        admin_token: None,
    }
}

fn card(number: &str) -> Value {
    json!({"amount_cents": 3800, "currency": "EUR", "card_number": number, "reference": "order-1"})
}

#[tokio::test]
async fn a_valid_card_is_captured_with_a_charge_id() {
    let (status, body) = charge(&state(), card("4242 4242 4242 4242")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "captured");
    assert!(
        body["charge_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("ch_"))
    );
    assert!(
        !body.to_string().contains("4242"),
        "the card number is not echoed"
    );
}

#[tokio::test]
async fn invalid_requests_are_refused_with_a_reason() {
    let cases = [
        (
            "the declined test card",
            card("4000000000000002"),
            StatusCode::PAYMENT_REQUIRED,
            "card_declined",
        ),
        (
            "a number failing the Luhn check",
            card("4242424242424241"),
            StatusCode::PAYMENT_REQUIRED,
            "card_declined",
        ),
        (
            "a zero amount",
            json!({"amount_cents": 0, "currency": "EUR", "card_number": "4242424242424242", "reference": "r"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_amount",
        ),
        (
            "an unknown currency",
            json!({"amount_cents": 5, "currency": "XXX", "card_number": "4242424242424242", "reference": "r"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_currency",
        ),
    ];
    for (description, body, status, code) in cases {
        let (got, answer) = charge(&state(), body).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(code)),
            "{description}: {answer}"
        );
    }
}

#[tokio::test]
async fn a_failing_provider_answers_503_while_the_fault_is_on() {
    let state = state();
    let activation: ActivationRequest =
        serde_json::from_value(json!({"fraction": 1.0, "params": {"mode": "error"}}))
            .expect("valid");
    state
        .faults
        .enable(FaultId::PaymentsFailing, activation)
        .expect("payments' own fault");
    let (status, body) = charge(&state, card("4242424242424242")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("provider_unavailable")
        )
    );
    state.faults.reset();
    let (status, _) = charge(&state, card("4242424242424242")).await;
    assert_eq!(status, StatusCode::OK);
}
