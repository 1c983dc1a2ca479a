//! TraceQL metrics over HTTP: `GET /api/metrics/query_range` (series of samples) and
//! `GET /api/metrics/query` (one value per series). This module reads and checks the
//! parameters and writes Tempo's JSON; the evaluation is the engine's
//! ([`dojo_traceql::metrics`]), reached through [`Store::query_metrics`].

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use dojo_traceql::EvalBudget;
use dojo_traceql::metrics::{Label, MetricsResult, MetricsWindow, default_step};
use serde_json::{Map, Value as Json, json};

use super::error::{ApiError, blocking};
use super::params::{Params, Tenant};
use crate::duration::parse_go_duration;
use crate::otlp::encode::{any_value, any_value_json};
use crate::storage::Store;

/// Tempo's ceiling on the number of intervals.
const MAX_INTERVALS: u64 = 10_000;
/// Tempo's ceiling on exemplars per query.
const MAX_EXEMPLARS: usize = 100;
const NANOS: u64 = 1_000_000_000;
/// The latest time Tempo can represent: `i64::MAX` nanoseconds, in the year 2262.
const MAX_TIME_NANOS: u64 = i64::MAX as u64;

pub fn router() -> Router<Store> {
    Router::new()
        .route("/api/metrics/query_range", get(query_range))
        .route("/api/metrics/query", get(query_instant))
}

/// A checked metrics request.
#[derive(Debug, Clone)]
pub struct MetricsRequest {
    pub query: String,
    pub window: MetricsWindow,
}

/// Reads a timestamp as Tempo does: seconds, nanoseconds (more than 10 digits), fractional
/// seconds or RFC3339.
pub fn parse_timestamp(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
        let n: u64 = text.parse().map_err(|_| format!("{text:?} is too large"))?;
        return Ok(if text.len() > 10 {
            n
        } else {
            n.saturating_mul(NANOS)
        });
    }
    if let Ok(seconds) = text.parse::<f64>()
        && seconds.is_finite()
        && seconds >= 0.0
    {
        return Ok((seconds * 1e9) as u64);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| format!("{text:?} is not unix seconds, unix nanoseconds or an RFC3339 time"))
}

/// Reads a step or `since`: float seconds, a Go duration, or whole days/weeks (`2d`, `1w`).
pub fn parse_step(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() && seconds > 0.0 {
            return Ok((seconds * 1e9) as u64);
        }
        return Err(format!("{text:?} must be positive"));
    }
    for (suffix, seconds) in [("d", 86_400u64), ("w", 604_800)] {
        if let Some(n) = text
            .strip_suffix(suffix)
            .and_then(|n| n.parse::<u64>().ok())
        {
            return Ok(n.saturating_mul(seconds).saturating_mul(NANOS));
        }
    }
    parse_go_duration(text)
        .map(|d| d.as_nanos().min(u128::from(u64::MAX)) as u64)
        .map_err(|e| e.to_string())
}

impl MetricsRequest {
    /// Reads and checks the parameters; `now_nanos` is the default end.
    pub fn from_params(params: &Params, instant: bool, now_nanos: u64) -> Result<Self, ApiError> {
        let query = params
            .get("q")
            .or_else(|| params.get("query"))
            .ok_or_else(|| {
                ApiError::bad_request("missing q: give a TraceQL metrics query such as {} | rate()")
            })?
            .to_string();
        let time = |key: &str| {
            params
                .get(key)
                .map(|v| {
                    parse_timestamp(v)
                        .map_err(|e| ApiError::bad_request(format!("invalid {key}: {e}")))
                })
                .transpose()
        };
        let end = time("end")?.unwrap_or(now_nanos);
        // Tempo reads times as signed 64-bit nanoseconds; later ones are not times at all,
        // and the interval arithmetic below relies on the headroom.
        for (key, value) in [("start", time("start")?), ("end", Some(end))] {
            if value.is_some_and(|v| v > MAX_TIME_NANOS) {
                return Err(ApiError::bad_request(format!(
                    "invalid {key}: it is after the year 2262, the latest time Tempo can represent"
                )));
            }
        }
        let start = match time("start")? {
            Some(start) => start,
            None => {
                let since = match params.get("since") {
                    Some(s) => parse_step(s)
                        .map_err(|e| ApiError::bad_request(format!("invalid since: {e}")))?,
                    None => 3600 * NANOS,
                };
                end.saturating_sub(since)
            }
        };
        if start >= end {
            return Err(ApiError::bad_request(
                "invalid start and end: end must be greater than start",
            ));
        }
        let max_exemplars = params
            .u64("exemplars")?
            .map_or(MAX_EXEMPLARS, |n| (n as usize).min(MAX_EXEMPLARS));
        if instant {
            return Ok(MetricsRequest {
                query,
                window: MetricsWindow {
                    start_nanos: start,
                    end_nanos: end,
                    step_nanos: end - start,
                    max_exemplars,
                    instant: true,
                },
            });
        }
        let step = match params.get("step") {
            Some(s) => {
                parse_step(s).map_err(|e| ApiError::bad_request(format!("invalid step: {e}")))?
            }
            None => default_step(end - start),
        };
        if step == 0 {
            return Err(ApiError::bad_request("invalid step: must be positive"));
        }
        // Align to the step, as Tempo's frontend does.
        let start = start / step * step;
        let end = end.div_ceil(step).saturating_mul(step);
        let intervals = (end - start) / step;
        if intervals > MAX_INTERVALS {
            return Err(ApiError::bad_request(format!(
                "step of {} is too small for the time range: it needs {intervals} intervals and the limit is {MAX_INTERVALS}; use a larger step",
                crate::duration::format_go_duration(std::time::Duration::from_nanos(step))
            )));
        }
        Ok(MetricsRequest {
            query,
            window: MetricsWindow {
                start_nanos: start,
                end_nanos: end,
                step_nanos: step,
                max_exemplars,
                instant: false,
            },
        })
    }
}

/// Labels as OTLP key-values; a `nil` group value is an empty value, as Tempo writes it.
fn labels_json(labels: &[Label]) -> Json {
    Json::Array(
        labels
            .iter()
            .map(|label| {
                let value = label
                    .value
                    .as_ref()
                    .map_or_else(|| json!({}), |v| any_value_json(&any_value(v)));
                json!({"key": label.key, "value": value})
            })
            .collect(),
    )
}

fn metrics_json(result: &MetricsResult) -> Json {
    json!({
        "inspectedTraces": result.inspected_traces,
        "inspectedSpans": result.inspected_spans.to_string(),
        "totalJobs": 1,
        "completedJobs": 1,
    })
}

/// Tempo leaves a zero value out of its JSON.
fn put_value(map: &mut Map<String, Json>, value: f64) {
    if value != 0.0 {
        map.insert("value".into(), json!(value));
    }
}

/// The `QueryRangeResponse` JSON.
pub fn range_json(request: &MetricsRequest, result: &MetricsResult) -> Json {
    let series: Vec<Json> = result
        .series
        .values()
        .map(|s| {
            let samples: Vec<Json> = s
                .values
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_nan())
                .map(|(i, v)| {
                    let mut m = Map::new();
                    m.insert("timestampMs".into(), json!(request.window.timestamp_ms(i).to_string()));
                    put_value(&mut m, *v);
                    Json::Object(m)
                })
                .collect();
            let exemplars: Vec<Json> = s
                .exemplars
                .iter()
                .map(|e| {
                    let mut m = Map::new();
                    m.insert(
                        "labels".into(),
                        json!([{"key": "trace:id", "value": {"stringValue": e.trace_id.to_string()}}]),
                    );
                    put_value(&mut m, e.value);
                    m.insert("timestampMs".into(), json!(e.timestamp_ms.to_string()));
                    Json::Object(m)
                })
                .collect();
            let mut m = Map::new();
            m.insert("labels".into(), labels_json(&s.labels));
            if !samples.is_empty() {
                m.insert("samples".into(), Json::Array(samples));
            }
            if !exemplars.is_empty() {
                m.insert("exemplars".into(), Json::Array(exemplars));
            }
            Json::Object(m)
        })
        .collect();
    let mut body = Map::new();
    if !series.is_empty() {
        body.insert("series".into(), Json::Array(series));
    }
    body.insert("metrics".into(), metrics_json(result));
    Json::Object(body)
}

/// The `QueryInstantResponse` JSON.
pub fn instant_json(result: &MetricsResult) -> Json {
    let series: Vec<Json> = result
        .series
        .values()
        .filter_map(|s| s.values.first().filter(|v| !v.is_nan()).map(|v| (s, *v)))
        .map(|(s, v)| {
            let mut m = Map::new();
            m.insert("labels".into(), labels_json(&s.labels));
            put_value(&mut m, v);
            Json::Object(m)
        })
        .collect();
    let mut body = Map::new();
    if !series.is_empty() {
        body.insert("series".into(), Json::Array(series));
    }
    body.insert("metrics".into(), metrics_json(result));
    Json::Object(body)
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos().min(u128::from(u64::MAX)) as u64)
        .unwrap_or(0)
}

/// Evaluates a checked request with the default budget, errors as Tempo's 400s.
fn run(
    store: &Store,
    tenant: &Tenant,
    request: &MetricsRequest,
) -> Result<MetricsResult, ApiError> {
    store
        .query_metrics(
            &tenant.0,
            &request.query,
            &request.window,
            &mut EvalBudget::default(),
        )
        .map_err(ApiError::from)
}

async fn query_range(
    State(store): State<Store>,
    tenant: Tenant,
    params: Params,
) -> Result<axum::Json<Json>, ApiError> {
    let instant = params.get("instant") == Some("true");
    let request = MetricsRequest::from_params(&params, instant, now_nanos())?;
    blocking(move || {
        let result = run(&store, &tenant, &request)?;
        Ok(axum::Json(if instant {
            instant_json(&result)
        } else {
            range_json(&request, &result)
        }))
    })
    .await
}

async fn query_instant(
    State(store): State<Store>,
    tenant: Tenant,
    params: Params,
) -> Result<axum::Json<Json>, ApiError> {
    let request = MetricsRequest::from_params(&params, true, now_nanos())?;
    blocking(move || Ok(axum::Json(instant_json(&run(&store, &tenant, &request)?)))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_read_in_every_form_tempo_accepts() {
        assert_eq!(parse_timestamp("1700000000"), Ok(1_700_000_000 * NANOS));
        assert_eq!(
            parse_timestamp("1700000000123456789"),
            Ok(1_700_000_000_123_456_789)
        );
        assert_eq!(
            parse_timestamp("1700000000.5"),
            Ok(1_700_000_000_500_000_000)
        );
        assert_eq!(
            parse_timestamp("2023-11-14T22:13:20Z"),
            Ok(1_700_000_000 * NANOS)
        );
        assert!(parse_timestamp("yesterday").is_err());
    }

    #[test]
    fn steps_are_read_as_seconds_or_durations() {
        assert_eq!(parse_step("30"), Ok(30 * NANOS));
        assert_eq!(parse_step("1m"), Ok(60 * NANOS));
        assert_eq!(parse_step("2d"), Ok(2 * 86_400 * NANOS));
        assert!(parse_step("0").is_err());
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn times_past_what_tempo_can_represent_are_refused() {
        let request = params(&[
            ("q", "{ } | rate()"),
            ("start", "0"),
            ("end", "18446744073709551615"),
        ]);
        let error = MetricsRequest::from_params(&request, false, 0).unwrap_err();
        assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST);
        assert!(error.to_string().contains("invalid end"), "{error}");
    }
}
