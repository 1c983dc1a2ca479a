//! Server-rendered pages: browse, view a product, add to cart, check out. The cart lives in
//! a `cart_id` cookie (never recorded anywhere).

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use dojo_telemetry::propagation::Caller;
use serde::Deserialize;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::AppState;
use crate::api_client::{ApiCallError, Hop};
use crate::error::FrontendError;
use crate::routes::money;

/// A product ready to show.
pub struct ProductView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub price: String,
    pub stock: i64,
}

/// A cart line ready to show.
pub struct LineView {
    pub name: String,
    pub quantity: i64,
    pub subtotal: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "catalogue.html")]
struct CataloguePage {
    products: Vec<ProductView>,
}

#[derive(Template, WebTemplate)]
#[template(path = "product.html")]
struct ProductPage {
    product: ProductView,
}

#[derive(Template, WebTemplate)]
#[template(path = "cart.html")]
struct CartPage {
    lines: Vec<LineView>,
    total: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "order.html")]
struct OrderPage {
    order_id: i64,
    total: String,
    item_count: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    heading: String,
    message: String,
}

/// A failed page: the error template with the error's status.
pub struct PageError(FrontendError);

impl From<ApiCallError> for PageError {
    fn from(error: ApiCallError) -> PageError {
        PageError(FrontendError::Api(error))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        self.0.record();
        let status = self.0.status();
        let heading = match status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::PAYMENT_REQUIRED => "Payment declined",
            s if s.is_client_error() => "That did not work",
            _ => "Something went wrong",
        };
        (
            status,
            ErrorPage {
                heading: heading.to_owned(),
                message: self.0.message(),
            },
        )
            .into_response()
    }
}

fn product_view(product: crate::api_client::Product) -> ProductView {
    ProductView {
        id: product.id,
        name: product.name,
        description: product.description,
        price: money(product.price_cents),
        stock: product.stock,
    }
}

/// The cart id from the `cart_id` cookie, if any.
fn cart_cookie(headers: &HeaderMap) -> Option<i64> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix("cart_id=")?.parse().ok())
}

fn set_cart_cookie(cart_id: Option<i64>) -> HeaderValue {
    let cookie = match cart_id {
        Some(id) => format!("cart_id={id}; Path=/; HttpOnly; SameSite=Lax"),
        None => "cart_id=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0".to_owned(),
    };
    // Built only from digits and fixed ASCII text, so always a valid header value.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("cart_id=; Path=/"))
}

pub async fn home(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, PageError> {
    let products = state.api.catalogue(state.hop(&caller)).await?;
    Ok(CataloguePage {
        products: products.into_iter().map(product_view).collect(),
    }
    .into_response())
}

pub async fn product(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    tracing::Span::current().set_attribute("product.id", id);
    let product = state.api.product(state.hop(&caller), id).await?;
    state.recommendations(&caller).await;
    Ok(ProductPage {
        product: product_view(product),
    }
    .into_response())
}

/// Form fields of "Add to cart".
#[derive(Debug, Deserialize)]
pub struct AddToCart {
    pub product_id: i64,
    pub quantity: i64,
}

pub async fn add_to_cart(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Form(form): Form<AddToCart>,
) -> Result<Response, PageError> {
    let hop = state.hop(&caller);
    let span = tracing::Span::current();
    span.set_attribute("product.id", form.product_id);
    let cart = match cart_cookie(&headers) {
        Some(cart_id) => match state
            .api
            .add_item(hop, cart_id, form.product_id, form.quantity)
            .await
        {
            // A stale cookie (the database was reset): start a fresh cart.
            Err(ApiCallError::Answered {
                status: 404, code, ..
            }) if code == "not_found" => new_cart_with(&state, hop, &caller, &form).await?,
            other => other?,
        },
        None => new_cart_with(&state, hop, &caller, &form).await?,
    };
    span.set_attribute("cart.id", cart.cart_id);
    span.set_attribute("cart.items", cart.item_count);
    let mut response = Redirect::to("/cart").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cart_cookie(Some(cart.cart_id)));
    Ok(response)
}

async fn new_cart_with(
    state: &AppState,
    hop: Hop,
    caller: &Caller,
    form: &AddToCart,
) -> Result<crate::api_client::Cart, PageError> {
    let cart_id = state
        .api
        .create_cart(hop, caller.user_id.as_deref())
        .await?;
    Ok(state
        .api
        .add_item(hop, cart_id, form.product_id, form.quantity)
        .await?)
}

pub async fn cart(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(cart_id) = cart_cookie(&headers) else {
        return Ok(CartPage {
            lines: Vec::new(),
            total: money(0),
        }
        .into_response());
    };
    let cart = match state.api.cart(state.hop(&caller), cart_id).await {
        Err(ApiCallError::Answered { status: 404, .. }) => {
            return Ok(CartPage {
                lines: Vec::new(),
                total: money(0),
            }
            .into_response());
        }
        other => other?,
    };
    tracing::Span::current().set_attribute("cart.id", cart_id);
    let lines = cart
        .items
        .iter()
        .map(|line| LineView {
            name: line.name.clone(),
            quantity: line.quantity,
            subtotal: money(line.quantity * line.price_cents),
        })
        .collect();
    Ok(CartPage {
        lines,
        total: money(cart.total_cents),
    }
    .into_response())
}

/// Form fields of "Check out". `Debug` is written by hand so the card number never prints.
#[derive(Deserialize)]
pub struct CheckoutForm {
    pub card_number: String,
}

impl std::fmt::Debug for CheckoutForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckoutForm").finish_non_exhaustive()
    }
}

pub async fn checkout(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Form(form): Form<CheckoutForm>,
) -> Result<Response, PageError> {
    let Some(cart_id) = cart_cookie(&headers) else {
        return Err(PageError(FrontendError::BadRequest(
            "your cart is empty; add a product first".to_owned(),
        )));
    };
    let span = tracing::Span::current();
    span.set_attribute("cart.id", cart_id);
    let order = state
        .api
        .checkout(state.hop(&caller), cart_id, &form.card_number)
        .await?;
    span.set_attribute("order.id", order.order_id);
    let mut response = OrderPage {
        order_id: order.order_id,
        total: money(order.total_cents),
        item_count: order.item_count,
    }
    .into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cart_cookie(None));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cart_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; cart_id=42; x=1"),
        );
        assert_eq!(cart_cookie(&headers), Some(42));
        headers.insert(header::COOKIE, HeaderValue::from_static("cart_id=abc"));
        assert_eq!(cart_cookie(&headers), None);
    }
}
