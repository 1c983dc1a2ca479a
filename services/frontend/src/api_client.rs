//! The frontend's client for the api tier. Every call is a CLIENT span named from the api's
//! route template; whether the trace context is sent is decided once per inbound request
//! ([`Hop`]), which is where the `broken_propagation` fault bites.

use dojo_telemetry::client::{OmitTraceContext, UrlTemplate, traced_client};
use reqwest_middleware::{ClientWithMiddleware, RequestBuilder};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How calls made for one inbound request propagate context.
#[derive(Debug, Clone, Copy)]
pub struct Hop {
    /// False when `broken_propagation` hit this request: baggage is sent, traceparent is not.
    pub propagate: bool,
}

/// A product as the api returns it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub price_cents: i64,
    pub stock: i64,
}

/// One line of a cart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CartLine {
    pub product_id: i64,
    pub name: String,
    pub price_cents: i64,
    pub quantity: i64,
}

/// A cart as the api returns it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cart {
    pub cart_id: i64,
    pub items: Vec<CartLine>,
    pub item_count: i64,
    pub total_cents: i64,
}

/// A paid order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    pub order_id: i64,
    pub status: String,
    pub total_cents: i64,
    pub item_count: i64,
    pub charge_id: String,
}

#[derive(Debug, Deserialize)]
struct NewCart {
    cart_id: i64,
}

/// What went wrong calling the api.
#[derive(Debug, thiserror::Error)]
pub enum ApiCallError {
    /// The api answered with an error; `code` and `message` come from its JSON body.
    #[error("the api answered {status}: {message}")]
    Answered {
        status: u16,
        code: String,
        message: String,
    },
    /// The api could not be reached or its answer could not be read.
    #[error("the api could not be reached: {0}")]
    Unreachable(String),
}

/// The api client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: ClientWithMiddleware,
    base: String,
}

impl ApiClient {
    /// A client for the api at `base`.
    pub fn new(base: String) -> ApiClient {
        ApiClient {
            http: traced_client(reqwest::Client::new()),
            base,
        }
    }

    fn get(&self, hop: Hop, path: &str, template: &'static str) -> RequestBuilder {
        self.prepare(self.http.get(format!("{}{path}", self.base)), hop, template)
    }

    fn post(&self, hop: Hop, path: &str, template: &'static str) -> RequestBuilder {
        self.prepare(
            self.http.post(format!("{}{path}", self.base)),
            hop,
            template,
        )
    }

    fn prepare(&self, builder: RequestBuilder, hop: Hop, template: &'static str) -> RequestBuilder {
        let builder = builder.with_extension(UrlTemplate(template));
        if hop.propagate {
            builder
        } else {
            builder.with_extension(OmitTraceContext)
        }
    }

    async fn send<T: DeserializeOwned>(builder: RequestBuilder) -> Result<T, ApiCallError> {
        let response = builder
            .send()
            .await
            .map_err(|error| ApiCallError::Unreachable(error.to_string()))?;
        let status = response.status();
        if status.is_success() {
            return response
                .json::<T>()
                .await
                .map_err(|error| ApiCallError::Unreachable(error.to_string()));
        }
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        Err(ApiCallError::Answered {
            status: status.as_u16(),
            code: body["error"].as_str().unwrap_or("error").to_owned(),
            message: body["message"]
                .as_str()
                .unwrap_or("the api failed")
                .to_owned(),
        })
    }

    pub async fn catalogue(&self, hop: Hop) -> Result<Vec<Product>, ApiCallError> {
        ApiClient::send(self.get(hop, "/catalogue", "/catalogue")).await
    }

    pub async fn product(&self, hop: Hop, id: i64) -> Result<Product, ApiCallError> {
        ApiClient::send(self.get(hop, &format!("/products/{id}"), "/products/{id}")).await
    }

    pub async fn create_cart(&self, hop: Hop, user_id: Option<&str>) -> Result<i64, ApiCallError> {
        let body = json!({ "user_id": user_id });
        let cart: NewCart = ApiClient::send(self.post(hop, "/carts", "/carts").json(&body)).await?;
        Ok(cart.cart_id)
    }

    pub async fn cart(&self, hop: Hop, cart_id: i64) -> Result<Cart, ApiCallError> {
        ApiClient::send(self.get(hop, &format!("/carts/{cart_id}"), "/carts/{id}")).await
    }

    pub async fn add_item(
        &self,
        hop: Hop,
        cart_id: i64,
        product_id: i64,
        quantity: i64,
    ) -> Result<Cart, ApiCallError> {
        let body = json!({ "product_id": product_id, "quantity": quantity });
        ApiClient::send(
            self.post(hop, &format!("/carts/{cart_id}/items"), "/carts/{id}/items")
                .json(&body),
        )
        .await
    }

    pub async fn checkout(
        &self,
        hop: Hop,
        cart_id: i64,
        card_number: &str,
    ) -> Result<Order, ApiCallError> {
        let body = json!({ "cart_id": cart_id, "card_number": card_number });
        ApiClient::send(self.post(hop, "/orders", "/orders").json(&body)).await
    }
}
