//! `POST /orders`: checkout. Reads the cart, records a pending order, charges the card
//! through payments (with the connection released: never hold a pooled connection across a
//! call to a third party) and records the outcome.

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use dojo_telemetry::propagation::Caller;
use serde::{Deserialize, Serialize};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::AppState;
use crate::db::queries;
use crate::error::ApiError;
use crate::payments::{ChargeOutcome, ChargeRequest};
use crate::routes::carts;

/// What checkout takes. `Debug` is written by hand so the card number never prints.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    pub cart_id: i64,
    pub card_number: String,
}

impl std::fmt::Debug for NewOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewOrder")
            .field("cart_id", &self.cart_id)
            .finish_non_exhaustive()
    }
}

/// A paid order.
#[derive(Debug, Serialize)]
pub struct Order {
    pub order_id: i64,
    pub status: &'static str,
    pub total_cents: i64,
    pub item_count: i64,
    pub charge_id: String,
}

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Json(order): Json<NewOrder>,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    state.before(&caller, "/orders").await?;
    let span = tracing::Span::current();
    let mut conn = state.connection(&caller).await?;
    let cart = carts::load(&mut conn, order.cart_id).await?;
    if cart.items.is_empty() {
        return Err(ApiError::EmptyCart);
    }
    let order_id = queries::insert_order(
        &mut conn,
        cart.cart_id,
        caller.user_id.clone(),
        cart.total_cents,
    )
    .await?;
    drop(conn);
    span.set_attribute("order.id", order_id);
    span.set_attribute("order.total_cents", cart.total_cents);

    let charge = ChargeRequest {
        amount_cents: cart.total_cents,
        currency: "EUR",
        card_number: order.card_number,
        reference: format!("order-{order_id}"),
    };
    let outcome = state.payments.charge(&charge).await;
    let (status, charge_id) = match &outcome {
        ChargeOutcome::Captured { charge_id } => ("paid", Some(charge_id.clone())),
        ChargeOutcome::Declined => ("declined", None),
        ChargeOutcome::Unavailable { .. } => ("payment_failed", None),
    };
    let mut conn = state.connection(&caller).await?;
    queries::update_order(&mut conn, order_id, status, charge_id.clone()).await?;
    drop(conn);
    span.set_attribute("order.status", status);
    tracing::info!(
        order_id,
        status,
        total_cents = cart.total_cents,
        "checkout finished"
    );
    match outcome {
        ChargeOutcome::Captured { charge_id } => Ok((
            StatusCode::CREATED,
            Json(Order {
                order_id,
                status,
                total_cents: cart.total_cents,
                item_count: cart.item_count,
                charge_id,
            }),
        )),
        ChargeOutcome::Declined => Err(ApiError::PaymentDeclined { order_id }),
        ChargeOutcome::Unavailable { attempts, .. } => {
            Err(ApiError::PaymentsUnavailable { order_id, attempts })
        }
    }
}
