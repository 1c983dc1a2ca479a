//! Every statement the api runs, one function each, each inside its own CLIENT span.
//! The SQL text in the span is the statement as written here: values travel as bind
//! parameters, so no user input reaches `db.query.text`.

use std::time::Duration;

use serde::Serialize;
use tracing::Instrument;

use super::{Conn, on_conn, query_span};

/// A statement and the names its span carries.
struct Statement {
    operation: &'static str,
    collection: &'static str,
    text: &'static str,
}

impl Statement {
    fn span(&self, conn: &Conn) -> tracing::Span {
        query_span(conn.system(), self.operation, self.collection, self.text)
    }
}

const ALL_PRODUCTS: Statement = Statement {
    operation: "SELECT",
    collection: "products",
    text: "SELECT id, name, description, price_cents, stock FROM products ORDER BY id",
};
const PRODUCT_IDS: Statement = Statement {
    operation: "SELECT",
    collection: "products",
    text: "SELECT id FROM products ORDER BY id",
};
const PRODUCT_BY_ID: Statement = Statement {
    operation: "SELECT",
    collection: "products",
    text: "SELECT id, name, description, price_cents, stock FROM products WHERE id = $1",
};
const INSERT_CART: Statement = Statement {
    operation: "INSERT",
    collection: "carts",
    text: "INSERT INTO carts (user_id, created_at) VALUES ($1, $2) RETURNING id",
};
const CART_EXISTS: Statement = Statement {
    operation: "SELECT",
    collection: "carts",
    text: "SELECT id FROM carts WHERE id = $1",
};
const UPSERT_ITEM: Statement = Statement {
    operation: "INSERT",
    collection: "cart_items",
    text: "INSERT INTO cart_items (cart_id, product_id, quantity) VALUES ($1, $2, $3) \
           ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = cart_items.quantity + excluded.quantity",
};
const CART_LINES: Statement = Statement {
    operation: "SELECT",
    collection: "cart_items",
    text: "SELECT ci.product_id, p.name, p.price_cents, ci.quantity FROM cart_items ci \
           JOIN products p ON p.id = ci.product_id WHERE ci.cart_id = $1 ORDER BY ci.product_id",
};
const INSERT_ORDER: Statement = Statement {
    operation: "INSERT",
    collection: "orders",
    text: "INSERT INTO orders (cart_id, user_id, total_cents, status, created_at) \
           VALUES ($1, $2, $3, $4, $5) RETURNING id",
};
const UPDATE_ORDER: Statement = Statement {
    operation: "UPDATE",
    collection: "orders",
    text: "UPDATE orders SET status = $1, charge_id = $2 WHERE id = $3",
};

/// A product of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub price_cents: i64,
    pub stock: i64,
}

/// One line of a cart.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct CartLine {
    pub product_id: i64,
    pub name: String,
    pub price_cents: i64,
    pub quantity: i64,
}

/// Records a failed statement on its span.
fn finish<T>(span: &tracing::Span, result: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
    if let Err(error) = &result {
        dojo_telemetry::server::record_exception(span, "sqlx::Error", &error.to_string());
    }
    result
}

fn now_millis() -> i64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}

/// The whole catalogue in one query.
pub async fn all_products(conn: &mut Conn) -> Result<Vec<Product>, sqlx::Error> {
    let span = ALL_PRODUCTS.span(conn);
    let result = on_conn!(conn, |c| sqlx::query_as::<_, Product>(ALL_PRODUCTS.text)
        .fetch_all(c)
        .instrument(span.clone())
        .await);
    finish(&span, result)
}

/// Only the ids (the first step of the N+1 pattern).
pub async fn product_ids(conn: &mut Conn) -> Result<Vec<i64>, sqlx::Error> {
    let span = PRODUCT_IDS.span(conn);
    let result = on_conn!(conn, |c| sqlx::query_scalar::<_, i64>(PRODUCT_IDS.text)
        .fetch_all(c)
        .instrument(span.clone())
        .await);
    finish(&span, result)
}

/// One product; `extra` is the `slow_query` fault's delay, spent inside the query's span.
pub async fn product_by_id(
    conn: &mut Conn,
    id: i64,
    extra: Option<Duration>,
) -> Result<Option<Product>, sqlx::Error> {
    let span = PRODUCT_BY_ID.span(conn);
    let result = async {
        if let Some(extra) = extra {
            tokio::time::sleep(extra).await;
        }
        on_conn!(conn, |c| sqlx::query_as::<_, Product>(PRODUCT_BY_ID.text)
            .bind(id)
            .fetch_optional(c)
            .await)
    }
    .instrument(span.clone())
    .await;
    finish(&span, result)
}

/// A new empty cart, returning its id.
pub async fn insert_cart(conn: &mut Conn, user_id: Option<String>) -> Result<i64, sqlx::Error> {
    let span = INSERT_CART.span(conn);
    let created = now_millis();
    let result = on_conn!(conn, |c| sqlx::query_scalar::<_, i64>(INSERT_CART.text)
        .bind(user_id.clone())
        .bind(created)
        .fetch_one(c)
        .instrument(span.clone())
        .await);
    finish(&span, result)
}

/// Whether the cart exists.
pub async fn cart_exists(conn: &mut Conn, cart_id: i64) -> Result<bool, sqlx::Error> {
    let span = CART_EXISTS.span(conn);
    let result = on_conn!(conn, |c| sqlx::query_scalar::<_, i64>(CART_EXISTS.text)
        .bind(cart_id)
        .fetch_optional(c)
        .instrument(span.clone())
        .await);
    finish(&span, result).map(|found| found.is_some())
}

/// Adds `quantity` of a product to a cart (or to its existing line).
pub async fn add_item(
    conn: &mut Conn,
    cart_id: i64,
    product_id: i64,
    quantity: i64,
) -> Result<(), sqlx::Error> {
    let span = UPSERT_ITEM.span(conn);
    let result = on_conn!(conn, |c| sqlx::query(UPSERT_ITEM.text)
        .bind(cart_id)
        .bind(product_id)
        .bind(quantity)
        .execute(c)
        .instrument(span.clone())
        .await
        .map(|_| ()));
    finish(&span, result)
}

/// The lines of a cart with product names and prices.
pub async fn cart_lines(conn: &mut Conn, cart_id: i64) -> Result<Vec<CartLine>, sqlx::Error> {
    let span = CART_LINES.span(conn);
    let result = on_conn!(conn, |c| sqlx::query_as::<_, CartLine>(CART_LINES.text)
        .bind(cart_id)
        .fetch_all(c)
        .instrument(span.clone())
        .await);
    finish(&span, result)
}

/// A new order in status `pending`, returning its id.
pub async fn insert_order(
    conn: &mut Conn,
    cart_id: i64,
    user_id: Option<String>,
    total_cents: i64,
) -> Result<i64, sqlx::Error> {
    let span = INSERT_ORDER.span(conn);
    let created = now_millis();
    let result = on_conn!(conn, |c| sqlx::query_scalar::<_, i64>(INSERT_ORDER.text)
        .bind(cart_id)
        .bind(user_id.clone())
        .bind(total_cents)
        .bind("pending")
        .bind(created)
        .fetch_one(c)
        .instrument(span.clone())
        .await);
    finish(&span, result)
}

/// Records the outcome of an order's payment.
pub async fn update_order(
    conn: &mut Conn,
    order_id: i64,
    status: &'static str,
    charge_id: Option<String>,
) -> Result<(), sqlx::Error> {
    let span = UPDATE_ORDER.span(conn);
    let result = on_conn!(conn, |c| sqlx::query(UPDATE_ORDER.text)
        .bind(status)
        .bind(charge_id.clone())
        .bind(order_id)
        .execute(c)
        .instrument(span.clone())
        .await
        .map(|_| ()));
    finish(&span, result)
}
