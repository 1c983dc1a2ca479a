//! `POST /charge`: take a payment, or fail the way a real provider does.

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dojo_faults::FaultId;
use dojo_telemetry::propagation::Caller;
use dojo_telemetry::redact::passes_luhn;
use dojo_telemetry::server::record_exception;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::AppState;

/// The test card every real provider declines.
const DECLINED_TEST_CARD: &str = "4000000000000002";
/// Currencies the provider accepts.
const CURRENCIES: [&str; 3] = ["EUR", "USD", "GBP"];

/// A charge request. `Debug` is written by hand so the card number never prints.
#[derive(Deserialize)]
pub struct ChargeRequest {
    pub amount_cents: i64,
    pub currency: String,
    pub card_number: String,
    /// The caller's reference (the order), echoed back.
    pub reference: String,
}

impl std::fmt::Debug for ChargeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChargeRequest")
            .field("amount_cents", &self.amount_cents)
            .field("currency", &self.currency)
            .field("card_number", &"[redacted]")
            .field("reference", &self.reference)
            .finish()
    }
}

/// A captured charge.
#[derive(Debug, Serialize)]
pub struct Charge {
    pub charge_id: String,
    pub status: &'static str,
    pub amount_cents: i64,
    pub currency: String,
    pub reference: String,
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

pub async fn charge(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Json(request): Json<ChargeRequest>,
) -> Response {
    let span = tracing::Span::current();
    let learner = caller.learner_id.as_deref();
    if let Some(fault) = state.faults.fires(FaultId::PaymentsSlow, learner) {
        tokio::time::sleep(fault.millis("delay_ms")).await;
    }
    if let Some(fault) = state.faults.fires(FaultId::PaymentsFailing, learner) {
        if fault.choice("mode") == "timeout" {
            // Hang like an overloaded provider; the caller's timeout fires long before.
            tokio::time::sleep(fault.millis("hang_ms")).await;
        }
        record_exception(
            &span,
            "ProviderUnavailable",
            "the payment provider is unavailable",
        );
        tracing::warn!(reference = %request.reference, "charge failed: provider unavailable");
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "provider_unavailable",
            "the payment provider is unavailable; try again",
        );
    }
    span.set_attribute("payment.amount_cents", request.amount_cents);
    span.set_attribute("payment.currency", request.currency.clone());
    if request.amount_cents <= 0 {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_amount",
            "amount_cents must be positive",
        );
    }
    if !CURRENCIES.contains(&request.currency.as_str()) {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_currency",
            "currency must be EUR, USD or GBP",
        );
    }
    let digits: String = request
        .card_number
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    if !passes_luhn(&request.card_number) || digits == DECLINED_TEST_CARD {
        span.set_attribute("payment.outcome", "declined");
        tracing::info!(reference = %request.reference, "charge declined");
        return refuse(
            StatusCode::PAYMENT_REQUIRED,
            "card_declined",
            "the card was declined",
        );
    }
    let charge = Charge {
        charge_id: format!("ch_{:016x}", rand::random::<u64>()),
        status: "captured",
        amount_cents: request.amount_cents,
        currency: request.currency,
        reference: request.reference,
    };
    span.set_attribute("payment.charge_id", charge.charge_id.clone());
    span.set_attribute("payment.outcome", "captured");
    tracing::info!(charge_id = %charge.charge_id, reference = %charge.reference, "charge captured");
    (StatusCode::OK, Json(charge)).into_response()
}
