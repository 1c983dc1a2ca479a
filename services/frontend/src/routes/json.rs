//! The shop as JSON under `/api/…`: the journey the load generator walks.

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use dojo_telemetry::propagation::Caller;
use serde::Deserialize;
use serde_json::{Value, json};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::AppState;
use crate::api_client::{Cart, Order, Product};
use crate::error::FrontendError;

/// Body of `POST /api/carts/{id}/items`.
#[derive(Debug, Deserialize)]
pub struct NewItem {
    pub product_id: i64,
    pub quantity: i64,
}

/// Body of `POST /api/checkout`. `Debug` is written by hand so the card number never prints.
#[derive(Deserialize)]
pub struct Checkout {
    pub cart_id: i64,
    pub card_number: String,
}

impl std::fmt::Debug for Checkout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkout")
            .field("cart_id", &self.cart_id)
            .finish_non_exhaustive()
    }
}

pub async fn products(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<Product>>, FrontendError> {
    Ok(Json(state.api.catalogue(state.hop(&caller)).await?))
}

pub async fn product(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<Json<Product>, FrontendError> {
    tracing::Span::current().set_attribute("product.id", id);
    let product = state.api.product(state.hop(&caller), id).await?;
    state.recommendations(&caller).await;
    Ok(Json(product))
}

pub async fn create_cart(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<(StatusCode, Json<Value>), FrontendError> {
    let cart_id = state
        .api
        .create_cart(state.hop(&caller), caller.user_id.as_deref())
        .await?;
    tracing::Span::current().set_attribute("cart.id", cart_id);
    Ok((StatusCode::CREATED, Json(json!({ "cart_id": cart_id }))))
}

pub async fn cart(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(cart_id): Path<i64>,
) -> Result<Json<Cart>, FrontendError> {
    tracing::Span::current().set_attribute("cart.id", cart_id);
    Ok(Json(state.api.cart(state.hop(&caller), cart_id).await?))
}

pub async fn add_item(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(cart_id): Path<i64>,
    Json(item): Json<NewItem>,
) -> Result<Json<Cart>, FrontendError> {
    let span = tracing::Span::current();
    span.set_attribute("cart.id", cart_id);
    span.set_attribute("product.id", item.product_id);
    let cart = state
        .api
        .add_item(state.hop(&caller), cart_id, item.product_id, item.quantity)
        .await?;
    span.set_attribute("cart.items", cart.item_count);
    Ok(Json(cart))
}

pub async fn checkout(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Json(checkout): Json<Checkout>,
) -> Result<(StatusCode, Json<Order>), FrontendError> {
    let span = tracing::Span::current();
    span.set_attribute("cart.id", checkout.cart_id);
    if checkout.card_number.trim().is_empty() {
        return Err(FrontendError::BadRequest(
            "a card number is needed to check out".to_owned(),
        ));
    }
    let order = state
        .api
        .checkout(state.hop(&caller), checkout.cart_id, &checkout.card_number)
        .await?;
    span.set_attribute("order.id", order.order_id);
    span.set_attribute("cart.items", order.item_count);
    Ok((StatusCode::CREATED, Json(order)))
}
