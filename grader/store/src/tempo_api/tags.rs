//! Tag names and tag values: what Grafana's query builder offers in its drop-downs.
//!
//! v1 answers plain lists; v2 groups names by scope (always adding the `intrinsic` scope)
//! and types each value. A v2 tag must be a TraceQL identifier (`resource.service.name`,
//! `.http.method`, `span:name`, `status`).

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value as JsonValue, json};

use super::error::{ApiError, blocking};
use super::filter::span_filter;
use super::params::{Params, Tenant};
use crate::storage::Store;
use crate::storage::query::{INTRINSIC_TAGS, TagRef, TagScope, in_range, tag_names, tag_values};

pub fn router() -> Router<Store> {
    Router::new()
        .route("/api/search/tags", get(tags_v1))
        .route("/api/v2/search/tags", get(tags_v2))
        .route("/api/search/tag/{tag}/values", get(values_v1))
        .route("/api/v2/search/tag/{tag}/values", get(values_v2))
}

/// Which scopes a `scope` parameter asks for; `intrinsic` separately.
fn scopes(params: &Params) -> Result<(Vec<TagScope>, bool), ApiError> {
    match params.get("scope") {
        None | Some("none") => Ok((TagScope::ALL.to_vec(), true)),
        Some("intrinsic") => Ok((Vec::new(), true)),
        Some(name) => TagScope::ALL
            .iter()
            .find(|s| s.name() == name)
            .map(|s| (vec![*s], false))
            .ok_or_else(|| ApiError::bad_request(format!("invalid scope: {name}"))),
    }
}

fn metrics(inspected_traces: usize) -> JsonValue {
    json!({"inspectedTraces": inspected_traces, "totalJobs": 1, "completedJobs": 1})
}

fn with_list(mut body: JsonValue, key: &str, list: Vec<JsonValue>) -> JsonValue {
    // Tempo leaves empty lists out of its JSON.
    if !list.is_empty() {
        body[key] = JsonValue::Array(list);
    }
    body
}

async fn tags_v1(
    State(store): State<Store>,
    tenant: Tenant,
    params: Params,
) -> Result<Response, ApiError> {
    // v1 lists intrinsics only when `scope=intrinsic` asks for them alone.
    let (scopes, _) = scopes(&params)?;
    let range = params.seconds_range()?;
    blocking(move || {
        let traces = in_range(store.snapshot(&tenant.0), range);
        let mut names: Vec<String> = if scopes.is_empty() {
            INTRINSIC_TAGS.iter().map(|s| s.to_string()).collect()
        } else {
            let by_scope = tag_names(traces.iter().flat_map(|t| t.spans.iter()), &scopes);
            by_scope.into_values().flatten().collect()
        };
        names.sort();
        names.dedup();
        let list = names.into_iter().map(JsonValue::from).collect();
        Ok(Json(with_list(
            json!({"metrics": metrics(traces.len())}),
            "tagNames",
            list,
        ))
        .into_response())
    })
    .await
}

async fn tags_v2(
    State(store): State<Store>,
    tenant: Tenant,
    params: Params,
) -> Result<Response, ApiError> {
    let (scopes, intrinsic) = scopes(&params)?;
    let range = params.seconds_range()?;
    let query = params.get("q").map(str::to_string);
    blocking(move || {
        let traces = in_range(store.snapshot(&tenant.0), range);
        let filter = span_filter(query.as_deref());
        let spans = traces.iter().flat_map(|t| {
            let filter = &filter;
            t.spans
                .iter()
                .enumerate()
                .filter(move |(i, _)| filter(t, *i))
                .map(|(_, s)| s)
        });
        let by_scope = tag_names(spans, &scopes);
        let mut list: Vec<JsonValue> = by_scope
            .into_iter()
            .filter(|(_, tags)| !tags.is_empty())
            .map(|(scope, tags)| json!({"name": scope.name(), "tags": tags}))
            .collect();
        if intrinsic {
            list.push(json!({"name": "intrinsic", "tags": INTRINSIC_TAGS}));
        }
        Ok(Json(with_list(
            json!({"metrics": metrics(traces.len())}),
            "scopes",
            list,
        ))
        .into_response())
    })
    .await
}

fn limit(params: &Params) -> Result<Option<usize>, ApiError> {
    Ok(params.u64("limit")?.filter(|l| *l > 0).map(|l| l as usize))
}

async fn values_v1(
    State(store): State<Store>,
    tenant: Tenant,
    Path(tag): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let range = params.seconds_range()?;
    let limit = limit(&params)?;
    blocking(move || {
        let traces = in_range(store.snapshot(&tenant.0), range);
        let values = tag_values(&traces, &TagRef::parse_v1(&tag), limit, &|_, _| true);
        let list = values
            .into_iter()
            .map(|v| JsonValue::from(v.text()))
            .collect();
        Ok(Json(with_list(
            json!({"metrics": metrics(traces.len())}),
            "tagValues",
            list,
        ))
        .into_response())
    })
    .await
}

async fn values_v2(
    State(store): State<Store>,
    tenant: Tenant,
    Path(tag): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let tag_ref = TagRef::parse_traceql(&tag).ok_or_else(|| {
        ApiError::bad_request(format!(
            "please provide a valid tagName: {tag:?} is not a TraceQL attribute or intrinsic (try resource.service.name, span.http.route, .http.method, name or status)"
        ))
    })?;
    let range = params.seconds_range()?;
    let limit = limit(&params)?;
    let query = params.get("q").map(str::to_string);
    blocking(move || {
        let traces = in_range(store.snapshot(&tenant.0), range);
        let filter = span_filter(query.as_deref());
        let values = tag_values(&traces, &tag_ref, limit, &filter);
        let list = values
            .into_iter()
            .map(|v| json!({"type": v.type_name(), "value": v.text()}))
            .collect();
        Ok(Json(with_list(
            json!({"metrics": metrics(traces.len())}),
            "tagValues",
            list,
        ))
        .into_response())
    })
    .await
}
