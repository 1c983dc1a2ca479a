//! `GET /catalogue` and `GET /products/{id}`: the read side of the shop, where the
//! `n_plus_one`, `slow_query` and `bad_product` faults live.

use axum::Json;
use axum::extract::{Extension, Path, State};
use dojo_faults::FaultId;
use dojo_telemetry::propagation::Caller;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::AppState;
use crate::db::queries::{self, Product};
use crate::error::ApiError;

/// Every product, in one query (or, with `n_plus_one`, one query per product).
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<Product>>, ApiError> {
    state.before(&caller, "/catalogue").await?;
    let mut conn = state.connection(&caller).await?;
    let products = if state
        .faults
        .fires(FaultId::NPlusOne, caller.learner_id.as_deref())
        .is_some()
    {
        let mut products = Vec::new();
        for id in queries::product_ids(&mut conn).await? {
            if let Some(product) = queries::product_by_id(&mut conn, id, None).await? {
                products.push(product);
            }
        }
        products
    } else {
        queries::all_products(&mut conn).await?
    };
    tracing::Span::current().set_attribute("catalogue.products", products.len() as i64);
    Ok(Json(products))
}

/// One product.
pub async fn show(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<Json<Product>, ApiError> {
    tracing::Span::current().set_attribute("product.id", id);
    state.before(&caller, "/products/{id}").await?;
    let learner = caller.learner_id.as_deref();
    let delay = state
        .faults
        .fires(FaultId::SlowQuery, learner)
        .map(|fault| {
            // With a spread, hits vary from delay_ms − spread_ms to delay_ms, as a query
            // without its index varies with what else the database is doing.
            let spread = fault.millis("spread_ms").min(fault.millis("delay_ms"));
            fault.millis("delay_ms") - spread.mul_f64(rand::random::<f64>())
        });
    let mut conn = state.connection(&caller).await?;
    let product = queries::product_by_id(&mut conn, id, delay).await?;
    drop(conn);
    let product = product.ok_or(ApiError::NotFound {
        what: "product",
        id,
    })?;
    let corrupt = state
        .faults
        .active(FaultId::BadProduct)
        .is_some_and(|fault| fault.integer("product_id") == id)
        && state.faults.fires(FaultId::BadProduct, learner).is_some();
    if corrupt {
        return Err(ApiError::Injected {
            kind: "DataCorruption",
            message: format!("product {id} has a corrupt price record and cannot be shown"),
        });
    }
    Ok(Json(product))
}
