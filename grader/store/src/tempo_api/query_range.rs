//! TraceQL metrics: `GET /api/metrics/query_range` (series of samples) and
//! `GET /api/metrics/query` (one value per series), evaluated over the stored spans with the
//! engine's metrics AST.
//!
//! Supported: `rate`, `count_over_time`, `min/max/avg/sum_over_time`, `quantile_over_time`,
//! `histogram_over_time`, each with `by(…)`; arithmetic between parenthesised metrics queries
//! and scalars; second stages `topk`, `bottomk` and value filters. Spans are bucketed by their
//! start time into right-closed intervals stamped with their right edge, as Tempo does.
//! Quantiles are computed exactly from the values in each interval (Tempo interpolates across
//! power-of-two buckets, so its figures can differ by up to the width of one bucket).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use dojo_traceql::ast::{
    ArithOp, CmpOp, MetricsAggregate, MetricsExpr, MetricsFunction, SecondStage, Static,
};
use dojo_traceql::model::{Trace, TraceId, Value};
use dojo_traceql::{EvalBudget, MetricsQuery, evaluate_pipeline, field_result_value, field_value};
use serde_json::{Map, Value as Json, json};

use super::error::{ApiError, blocking};
use super::filter::{parse_query, query_error};
use super::params::{Params, Tenant};
use crate::duration::parse_go_duration;
use crate::otlp::encode::{any_value, any_value_json};
use crate::storage::query::{TimeRange, in_range};
use crate::storage::{Store, TenantId};

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
    pub start_nanos: u64,
    pub end_nanos: u64,
    /// For an instant query, `end - start`.
    pub step_nanos: u64,
    pub max_exemplars: usize,
    pub instant: bool,
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

/// About 240 points over the range, rounded down to a friendly step.
pub fn default_step(range_nanos: u64) -> u64 {
    let raw = range_nanos / 240;
    for unit in [3600, 300, 60, 15, 5, 1] {
        let unit = unit * NANOS;
        if raw >= unit {
            return raw / unit * unit;
        }
    }
    let fifty_ms = 50_000_000;
    (raw / fifty_ms * fifty_ms).max(fifty_ms)
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
                start_nanos: start,
                end_nanos: end,
                step_nanos: end - start,
                max_exemplars,
                instant: true,
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
            start_nanos: start,
            end_nanos: end,
            step_nanos: step,
            max_exemplars,
            instant: false,
        })
    }

    fn intervals(&self) -> usize {
        if self.instant {
            1
        } else {
            ((self.end_nanos - self.start_nanos) / self.step_nanos) as usize
        }
    }

    /// The interval a span starting at `t` falls in.
    fn interval_of(&self, t: u64) -> Option<usize> {
        if self.instant {
            return (self.start_nanos..=self.end_nanos)
                .contains(&t)
                .then_some(0);
        }
        if t <= self.start_nanos || t > self.end_nanos {
            return None;
        }
        let index = ((t - self.start_nanos - 1) / self.step_nanos) as usize;
        (index < self.intervals()).then_some(index)
    }

    /// The right edge of interval `i`, in milliseconds.
    fn timestamp_ms(&self, i: usize) -> u64 {
        if self.instant {
            return self.end_nanos / 1_000_000;
        }
        (self.start_nanos + (i as u64 + 1) * self.step_nanos) / 1_000_000
    }
}

/// A trace id that made a point, kept to link the series to a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesExemplar {
    pub trace_id: TraceId,
    pub value: f64,
    pub timestamp_ms: u64,
}

/// One output series: typed labels and one value per interval (NaN = no point).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Vec<(String, Json)>,
    pub values: Vec<f64>,
    pub exemplars: Vec<SeriesExemplar>,
}

/// Typed labels of a series, in order.
pub type Labels = Vec<(String, Json)>;

/// Series keyed by their labels' text, so output is sorted and math can match them.
pub type SeriesSet = BTreeMap<String, Series>;

/// The result of a metrics query.
#[derive(Debug, Clone, Default)]
pub struct MetricsResult {
    pub series: SeriesSet,
    pub inspected_traces: usize,
    pub inspected_spans: usize,
}

enum Operand {
    Scalar(f64),
    Series(SeriesSet),
}

fn label_key(labels: &[(String, Json)]) -> String {
    labels
        .iter()
        .filter(|(k, _)| k != "__name__")
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn numeric(value: Option<Static>) -> Option<(f64, bool)> {
    match value? {
        Static::Duration(ns) => Some((ns as f64 / 1e9, true)),
        Static::Int(i) => Some((i as f64, false)),
        Static::Float(f) => Some((f, false)),
        _ => None,
    }
}

/// Appends a value to a group key; `\u{1f}` separates values and marks an absent one.
fn write_key(key: &mut String, value: Option<&Value>) {
    match value {
        None => {}
        Some(Value::Str(s)) => {
            key.push('s');
            key.push_str(s);
        }
        Some(Value::Int(i)) => {
            let _ = write!(key, "i{i}");
        }
        Some(Value::Float(f)) => {
            let _ = write!(key, "f{f}");
        }
        Some(Value::Bool(b)) => {
            let _ = write!(key, "b{b}");
        }
        Some(Value::Array(items)) => items.iter().for_each(|v| write_key(key, Some(v))),
    }
    key.push('\u{1f}');
}

/// Per-group accumulation for one aggregate.
struct Acc {
    labels: Vec<(String, Json)>,
    count: Vec<f64>,
    sum: Vec<f64>,
    min: Vec<f64>,
    max: Vec<f64>,
    samples: Vec<Vec<f64>>,
    exemplars: Vec<SeriesExemplar>,
    exemplar_intervals: Vec<bool>,
}

impl Acc {
    fn new(labels: Vec<(String, Json)>, n: usize) -> Self {
        Acc {
            labels,
            count: vec![0.0; n],
            sum: vec![0.0; n],
            min: vec![f64::NAN; n],
            max: vec![f64::NAN; n],
            samples: vec![Vec::new(); n],
            exemplars: Vec::new(),
            exemplar_intervals: vec![false; n],
        }
    }

    fn add(&mut self, i: usize, value: f64, keep_samples: bool) {
        self.count[i] += 1.0;
        self.sum[i] += value;
        self.min[i] = if self.min[i].is_nan() {
            value
        } else {
            self.min[i].min(value)
        };
        self.max[i] = if self.max[i].is_nan() {
            value
        } else {
            self.max[i].max(value)
        };
        if keep_samples {
            self.samples[i].push(value);
        }
    }
}

/// The q-quantile of values, interpolating linearly between neighbours.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let rank = q.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let lower = rank.floor() as usize;
    let upper = rank.ceil() as usize;
    values[lower] + (values[upper] - values[lower]) * (rank - lower as f64)
}

fn json_of(value: &Value) -> Json {
    any_value_json(&any_value(value))
}

struct Evaluator<'a> {
    request: &'a MetricsRequest,
    traces: &'a [Arc<Trace>],
    budget: EvalBudget,
    inspected_spans: usize,
}

impl Evaluator<'_> {
    fn query(&mut self, query: &MetricsQuery) -> Result<Operand, ApiError> {
        let mut operand = self.expr(&query.expr)?;
        if let Operand::Series(set) = &mut operand {
            for stage in &query.stages {
                apply_stage(set, stage);
            }
        }
        Ok(operand)
    }

    fn expr(&mut self, expr: &MetricsExpr) -> Result<Operand, ApiError> {
        match expr {
            MetricsExpr::Aggregate(a) => Ok(Operand::Series(self.aggregate(a)?)),
            MetricsExpr::Paren(q) => self.query(q),
            MetricsExpr::Scalar(x) => Ok(Operand::Scalar(*x)),
            MetricsExpr::Binary { op, lhs, rhs, .. } => {
                let l = self.expr(lhs)?;
                let r = self.expr(rhs)?;
                Ok(combine(*op, l, r))
            }
        }
    }

    fn aggregate(&mut self, agg: &MetricsAggregate) -> Result<SeriesSet, ApiError> {
        if let MetricsFunction::Compare { .. } = agg.function {
            return Err(ApiError::bad_request(
                "compare() is not supported by the lab's trace store; use it against Grafana Tempo",
            ));
        }
        let n = self.request.intervals();
        // Groups are found by a compact text key written into one reused buffer, so a span of
        // an existing group costs a hash lookup and no allocation.
        let mut groups: Vec<Acc> = Vec::new();
        let mut group_of: HashMap<String, usize> = HashMap::new();
        let mut key = String::new();
        let mut by_values: Vec<Option<Value>> = Vec::with_capacity(agg.by.len());
        let quantiles = matches!(agg.function, MetricsFunction::QuantileOverTime(..));
        let name = agg.function.name();
        for trace in self.traces {
            let sets = evaluate_pipeline(&agg.input, trace, &mut self.budget)
                .map_err(|e| query_error(&self.request.query, &e))?;
            let mut spans: Vec<usize> = sets.into_iter().flat_map(|s| s.spans).collect();
            spans.sort_unstable();
            spans.dedup();
            self.inspected_spans += trace.spans.len();
            for index in spans {
                let span = &trace.spans[index];
                let Some(interval) = self.request.interval_of(span.start_unix_nanos) else {
                    continue;
                };
                let (value, bucket) = match &agg.function {
                    MetricsFunction::Rate | MetricsFunction::CountOverTime => (1.0, None),
                    MetricsFunction::HistogramOverTime(field) => {
                        let Some(v) = field_value(trace, index, field) else {
                            continue;
                        };
                        let (native, is_duration) = match v {
                            Static::Duration(ns) => (ns as f64, true),
                            Static::Int(i) => (i as f64, false),
                            _ => continue,
                        };
                        if native < 2.0 {
                            continue;
                        }
                        (
                            1.0,
                            Some((2f64.powi(native.log2().ceil() as i32), is_duration)),
                        )
                    }
                    other => {
                        let Some(field) = other.field() else { continue };
                        let Some((v, _)) = numeric(field_value(trace, index, field)) else {
                            continue;
                        };
                        (v, None)
                    }
                };
                by_values.clear();
                key.clear();
                for field in &agg.by {
                    let v = field_result_value(trace, index, field);
                    write_key(&mut key, v.as_ref());
                    by_values.push(v);
                }
                if let Some((b, _)) = bucket {
                    let _ = write!(key, "{b}");
                }
                let group = match group_of.get(key.as_str()) {
                    Some(g) => *g,
                    None => {
                        let mut labels: Labels = if agg.by.is_empty() {
                            vec![("__name__".to_string(), json!({"stringValue": name}))]
                        } else {
                            let found: Labels = agg
                                .by
                                .iter()
                                .zip(&by_values)
                                .filter_map(|(f, v)| {
                                    v.as_ref().map(|v| (f.to_string(), json_of(v)))
                                })
                                .collect();
                            if found.is_empty() {
                                vec![(agg.by[0].to_string(), json!({}))]
                            } else {
                                found
                            }
                        };
                        if let Some((b, is_duration)) = bucket {
                            let label = if is_duration {
                                json!({"doubleValue": b / 1e9})
                            } else {
                                json!({"intValue": (b as i64).to_string()})
                            };
                            labels.push(("__bucket".to_string(), label));
                        }
                        groups.push(Acc::new(labels, n));
                        group_of.insert(key.clone(), groups.len() - 1);
                        groups.len() - 1
                    }
                };
                let acc = &mut groups[group];
                acc.add(interval, value, quantiles);
                if !acc.exemplar_intervals[interval]
                    && acc.exemplars.len() < self.request.max_exemplars
                {
                    acc.exemplar_intervals[interval] = true;
                    let exemplar_value = match agg.function {
                        MetricsFunction::Rate
                        | MetricsFunction::CountOverTime
                        | MetricsFunction::HistogramOverTime(_) => {
                            span.duration_nanos() as f64 / 1e9
                        }
                        _ => value,
                    };
                    acc.exemplars.push(SeriesExemplar {
                        trace_id: trace.trace_id,
                        value: exemplar_value,
                        timestamp_ms: span.start_unix_nanos / 1_000_000,
                    });
                }
            }
        }
        let step_seconds = self.request.step_nanos as f64 / 1e9;
        let mut out = SeriesSet::new();
        for mut acc in groups {
            let finished: Vec<(Labels, Vec<f64>)> = match &agg.function {
                MetricsFunction::Rate => vec![(
                    acc.labels.clone(),
                    acc.count.iter().map(|c| c / step_seconds).collect(),
                )],
                MetricsFunction::CountOverTime | MetricsFunction::HistogramOverTime(_) => {
                    vec![(acc.labels.clone(), acc.count.clone())]
                }
                MetricsFunction::MinOverTime(_) => vec![(acc.labels.clone(), acc.min.clone())],
                MetricsFunction::MaxOverTime(_) => vec![(acc.labels.clone(), acc.max.clone())],
                MetricsFunction::SumOverTime(_) => vec![(
                    acc.labels.clone(),
                    acc.sum
                        .iter()
                        .zip(&acc.count)
                        .map(|(s, c)| if *c > 0.0 { *s } else { f64::NAN })
                        .collect(),
                )],
                MetricsFunction::AvgOverTime(_) => vec![(
                    acc.labels.clone(),
                    acc.sum
                        .iter()
                        .zip(&acc.count)
                        .map(|(s, c)| if *c > 0.0 { s / c } else { f64::NAN })
                        .collect(),
                )],
                MetricsFunction::QuantileOverTime(_, qs) => qs
                    .iter()
                    .map(|q| {
                        let mut labels = acc.labels.clone();
                        labels.push(("p".to_string(), json!({"doubleValue": q})));
                        let values = acc.samples.iter_mut().map(|s| quantile(s, *q)).collect();
                        (labels, values)
                    })
                    .collect(),
                MetricsFunction::Compare { .. } => Vec::new(),
            };
            for (labels, values) in finished {
                out.insert(
                    label_key(&labels),
                    Series {
                        labels,
                        values,
                        exemplars: acc.exemplars.clone(),
                    },
                );
            }
        }
        Ok(out)
    }
}

fn arith(op: ArithOp, a: f64, b: f64) -> f64 {
    match op {
        ArithOp::Add => a + b,
        ArithOp::Sub => a - b,
        ArithOp::Mul => a * b,
        ArithOp::Div => a / b,
        _ => f64::NAN,
    }
}

fn combine(op: ArithOp, lhs: Operand, rhs: Operand) -> Operand {
    match (lhs, rhs) {
        (Operand::Scalar(a), Operand::Scalar(b)) => Operand::Scalar(arith(op, a, b)),
        (Operand::Series(mut set), Operand::Scalar(b)) => {
            set.values_mut()
                .for_each(|s| s.values.iter_mut().for_each(|v| *v = arith(op, *v, b)));
            Operand::Series(set)
        }
        (Operand::Scalar(a), Operand::Series(mut set)) => {
            set.values_mut()
                .for_each(|s| s.values.iter_mut().for_each(|v| *v = arith(op, a, *v)));
            Operand::Series(set)
        }
        (Operand::Series(left), Operand::Series(right)) => {
            let mut out = SeriesSet::new();
            for (key, mut series) in left {
                if let Some(other) = right.get(&key) {
                    series.values = series
                        .values
                        .iter()
                        .zip(&other.values)
                        .map(|(a, b)| arith(op, *a, *b))
                        .collect();
                    out.insert(key, series);
                }
            }
            Operand::Series(out)
        }
    }
}

fn passes(op: CmpOp, v: f64, threshold: f64) -> bool {
    match op {
        CmpOp::Eq => v == threshold,
        CmpOp::Neq => v != threshold,
        CmpOp::Lt => v < threshold,
        CmpOp::Lte => v <= threshold,
        CmpOp::Gt => v > threshold,
        CmpOp::Gte => v >= threshold,
    }
}

fn apply_stage(set: &mut SeriesSet, stage: &SecondStage) {
    let points = set.values().map(|s| s.values.len()).max().unwrap_or(0);
    match stage {
        SecondStage::Filter { op, value } => {
            for series in set.values_mut() {
                for v in series.values.iter_mut() {
                    if !v.is_nan() && !passes(*op, *v, *value) {
                        *v = f64::NAN;
                    }
                }
            }
        }
        SecondStage::TopK(k, _) | SecondStage::BottomK(k, _) => {
            let top = matches!(stage, SecondStage::TopK(..));
            for i in 0..points {
                let mut ranked: Vec<(String, f64)> = set
                    .iter()
                    .filter_map(|(key, s)| {
                        s.values
                            .get(i)
                            .filter(|v| !v.is_nan())
                            .map(|v| (key.clone(), *v))
                    })
                    .collect();
                ranked.sort_by(|a, b| {
                    if top {
                        b.1.total_cmp(&a.1)
                    } else {
                        a.1.total_cmp(&b.1)
                    }
                });
                let keep: std::collections::HashSet<String> = ranked
                    .into_iter()
                    .take(*k as usize)
                    .map(|(key, _)| key)
                    .collect();
                for (key, series) in set.iter_mut() {
                    if !keep.contains(key)
                        && let Some(v) = series.values.get_mut(i)
                    {
                        *v = f64::NAN;
                    }
                }
            }
        }
    }
    set.retain(|_, s| s.values.iter().any(|v| !v.is_nan()));
}

impl Store {
    /// Evaluates a TraceQL metrics query over a tenant's spans: the in-process entry point.
    pub fn query_metrics(
        &self,
        tenant: &TenantId,
        request: &MetricsRequest,
    ) -> Result<MetricsResult, ApiError> {
        let query = parse_query(&request.query)?;
        let Some(metrics) = query.metrics() else {
            return Err(ApiError::bad_request(
                "this is a search query, not a metrics query: add a metrics function such as | rate() or | count_over_time(), or run it on /api/search",
            ));
        };
        let traces = in_range(
            self.snapshot(tenant),
            Some(TimeRange {
                start_nanos: request.start_nanos,
                end_nanos: request.end_nanos,
            }),
        );
        let mut evaluator = Evaluator {
            request,
            traces: &traces,
            budget: EvalBudget::default(),
            inspected_spans: 0,
        };
        let series = match evaluator.query(metrics)? {
            Operand::Series(set) => set,
            Operand::Scalar(_) => SeriesSet::new(),
        };
        Ok(MetricsResult {
            series,
            inspected_traces: traces.len(),
            inspected_spans: evaluator.inspected_spans,
        })
    }
}

fn labels_json(labels: &[(String, Json)]) -> Json {
    Json::Array(
        labels
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
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
                    m.insert("timestampMs".into(), json!(request.timestamp_ms(i).to_string()));
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

async fn query_range(
    State(store): State<Store>,
    tenant: Tenant,
    params: Params,
) -> Result<axum::Json<Json>, ApiError> {
    let instant = params.get("instant") == Some("true");
    let request = MetricsRequest::from_params(&params, instant, now_nanos())?;
    blocking(move || {
        let result = store.query_metrics(&tenant.0, &request)?;
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
    blocking(move || {
        Ok(axum::Json(instant_json(
            &store.query_metrics(&tenant.0, &request)?,
        )))
    })
    .await
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

    #[test]
    fn the_default_step_gives_about_240_points() {
        assert_eq!(default_step(3600 * NANOS), 15 * NANOS);
        assert_eq!(default_step(24 * 3600 * NANOS), 300 * NANOS);
        assert_eq!(default_step(NANOS), 50_000_000);
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

    #[test]
    fn a_span_at_the_edge_of_a_range_never_falls_past_its_last_interval() {
        // What the parameters start=0&end=18446744073709551615 used to become: an end that
        // saturated instead of landing on a step boundary.
        let step = default_step(u64::MAX);
        let request = MetricsRequest {
            query: "{ } | rate()".into(),
            start_nanos: 0,
            end_nanos: u64::MAX.div_ceil(step).saturating_mul(step),
            step_nanos: step,
            max_exemplars: 0,
            instant: false,
        };
        let n = request.intervals();
        for t in [u64::MAX, u64::MAX - 1, request.end_nanos, step, 1] {
            if let Some(i) = request.interval_of(t) {
                assert!(i < n, "{t} fell in interval {i} of {n}");
            }
        }
    }

    #[test]
    fn quantiles_interpolate_between_neighbours() {
        assert_eq!(quantile(&mut [1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
        assert_eq!(quantile(&mut [5.0], 0.99), 5.0);
        assert!(quantile(&mut [], 0.5).is_nan());
    }
}
