//! Carts: `POST /carts`, `GET /carts/{id}`, `POST /carts/{id}/items`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use dojo_telemetry::propagation::{Caller, is_valid_id};
use serde::{Deserialize, Serialize};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::AppState;
use crate::db::Conn;
use crate::db::queries::{self, CartLine};
use crate::error::ApiError;

/// Most of one product a single request may add.
const MAX_QUANTITY: i64 = 10;

/// A cart with its lines and total.
#[derive(Debug, Serialize)]
pub struct Cart {
    pub cart_id: i64,
    pub items: Vec<CartLine>,
    /// Units across all lines.
    pub item_count: i64,
    pub total_cents: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCart {
    user_id: Option<String>,
}

/// What `POST /carts/{id}/items` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    pub product_id: i64,
    pub quantity: i64,
}

/// Reads a cart's lines and records `cart.id` and `cart.items` on the server span.
pub async fn load(conn: &mut Conn, cart_id: i64) -> Result<Cart, ApiError> {
    if !queries::cart_exists(conn, cart_id).await? {
        return Err(ApiError::NotFound {
            what: "cart",
            id: cart_id,
        });
    }
    let items = queries::cart_lines(conn, cart_id).await?;
    let item_count = items.iter().map(|line| line.quantity).sum();
    let total_cents = items
        .iter()
        .map(|line| line.quantity * line.price_cents)
        .sum();
    let span = tracing::Span::current();
    span.set_attribute("cart.id", cart_id);
    span.set_attribute("cart.items", item_count);
    Ok(Cart {
        cart_id,
        items,
        item_count,
        total_cents,
    })
}

/// A new empty cart for the user named in the body, or in the request's baggage.
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    state.before(&caller, "/carts").await?;
    let request: NewCart = if body.iter().all(u8::is_ascii_whitespace) {
        NewCart::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|error| ApiError::BadRequest(format!("invalid cart: {error}")))?
    };
    let user_id = request.user_id.or(caller.user_id.clone());
    if let Some(user) = &user_id
        && !is_valid_id(user)
    {
        return Err(ApiError::BadRequest(
            "user_id must be 1 to 64 letters, digits or ._@-".to_owned(),
        ));
    }
    let mut conn = state.connection(&caller).await?;
    let cart_id = queries::insert_cart(&mut conn, user_id).await?;
    tracing::Span::current().set_attribute("cart.id", cart_id);
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "cart_id": cart_id })),
    ))
}

/// The cart with its lines.
pub async fn show(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(cart_id): Path<i64>,
) -> Result<Json<Cart>, ApiError> {
    state.before(&caller, "/carts/{id}").await?;
    let mut conn = state.connection(&caller).await?;
    Ok(Json(load(&mut conn, cart_id).await?))
}

/// Adds a product to the cart and answers with the whole cart.
pub async fn add_item(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(cart_id): Path<i64>,
    Json(item): Json<NewItem>,
) -> Result<Json<Cart>, ApiError> {
    state.before(&caller, "/carts/{id}/items").await?;
    if !(1..=MAX_QUANTITY).contains(&item.quantity) {
        return Err(ApiError::BadRequest(format!(
            "quantity must be from 1 to {MAX_QUANTITY}"
        )));
    }
    tracing::Span::current().set_attribute("product.id", item.product_id);
    let mut conn = state.connection(&caller).await?;
    if !queries::cart_exists(&mut conn, cart_id).await? {
        return Err(ApiError::NotFound {
            what: "cart",
            id: cart_id,
        });
    }
    if queries::product_by_id(&mut conn, item.product_id, None)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound {
            what: "product",
            id: item.product_id,
        });
    }
    queries::add_item(&mut conn, cart_id, item.product_id, item.quantity).await?;
    Ok(Json(load(&mut conn, cart_id).await?))
}
