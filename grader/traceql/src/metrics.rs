//! TraceQL metrics: a metrics query evaluated over traces into time series, as Tempo's
//! `query_range` and instant queries compute them. The store's HTTP API, the course's
//! dashboards and the alert rules all call [`evaluate_metrics`]; none of them re-implements it.
//!
//! Tempo 2.10 documents `rate`, `count_over_time`, `sum/min/max/avg_over_time`,
//! `quantile_over_time`, `histogram_over_time` and `compare`, with `by(…)`, the second stages
//! `topk`, `bottomk` and value filters, and arithmetic between parenthesised metrics queries
//! and scalars. All are evaluated here except `compare()`, which answers
//! [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) pointing at the function.
//!
//! Spans are bucketed by their start time into right-closed intervals stamped with their right
//! edge, as Tempo does. Quantiles are computed exactly from the values in each interval (Tempo
//! interpolates across power-of-two buckets, so its figures can differ by up to the width of
//! one bucket). Errors are the engine's [`Error`], with the position in the query.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use crate::ast::{
    ArithOp, CmpOp, MetricsAggregate, MetricsExpr, MetricsFunction, MetricsQuery, SecondStage,
    Static,
};
use crate::budget::EvalBudget;
use crate::error::Error;
use crate::eval::{evaluate_pipeline, field_result_value, field_value};
use crate::model::{Trace, TraceId, Value};

const NANOS: u64 = 1_000_000_000;

/// The time range of a metrics query and how it is cut into intervals.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsWindow {
    /// Start of the range (exclusive: the first interval is right-closed).
    pub start_nanos: u64,
    pub end_nanos: u64,
    /// The interval length; for an instant query, `end - start`.
    pub step_nanos: u64,
    /// Most exemplars (trace ids behind a point) kept over all series.
    pub max_exemplars: usize,
    /// One interval covering `[start, end]`, as Tempo's instant queries.
    pub instant: bool,
}

/// About 240 points over the range, rounded down to a friendly step (Tempo's
/// `DefaultQueryRangeStep`).
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

impl MetricsWindow {
    /// How many intervals (points per series) the window has.
    pub fn intervals(&self) -> usize {
        if self.instant {
            1
        } else {
            ((self.end_nanos - self.start_nanos) / self.step_nanos.max(1)) as usize
        }
    }

    /// The interval a span starting at `t` falls in.
    pub fn interval_of(&self, t: u64) -> Option<usize> {
        if self.instant {
            return (self.start_nanos..=self.end_nanos)
                .contains(&t)
                .then_some(0);
        }
        if t <= self.start_nanos || t > self.end_nanos {
            return None;
        }
        let index = ((t - self.start_nanos - 1) / self.step_nanos.max(1)) as usize;
        (index < self.intervals()).then_some(index)
    }

    /// The right edge of interval `i`, in milliseconds.
    pub fn timestamp_ms(&self, i: usize) -> u64 {
        if self.instant {
            return self.end_nanos / 1_000_000;
        }
        (self.start_nanos + (i as u64 + 1) * self.step_nanos) / 1_000_000
    }
}

/// Evaluates a metrics query over `traces` (those that may have spans in the window) within
/// `budget`. A search query has no series to give: parse it with [`crate::parse`] and call this
/// with [`crate::Query::metrics`].
pub fn evaluate_metrics(
    query: &MetricsQuery,
    window: &MetricsWindow,
    traces: &[Arc<Trace>],
    budget: &mut EvalBudget,
) -> Result<MetricsResult, Error> {
    let mut evaluator = Evaluator {
        window,
        traces,
        budget,
        inspected_spans: 0,
    };
    let series = match evaluator.query(query)? {
        Operand::Series(set) => set,
        Operand::Scalar(_) => SeriesSet::new(),
    };
    Ok(MetricsResult {
        series,
        inspected_traces: traces.len(),
        inspected_spans: evaluator.inspected_spans,
    })
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
    pub labels: Labels,
    pub values: Vec<f64>,
    pub exemplars: Vec<SeriesExemplar>,
}

/// One label of a series: a key and its typed value (`None` when every `by` value of the
/// group was absent, as Tempo labels such a series `nil`).
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub key: String,
    pub value: Option<Value>,
}

impl Label {
    fn new(key: impl Into<String>, value: Option<Value>) -> Self {
        Label {
            key: key.into(),
            value,
        }
    }
}

/// Typed labels of a series, in order.
pub type Labels = Vec<Label>;

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

fn label_key(labels: &[Label]) -> String {
    let mut key = String::new();
    for label in labels.iter().filter(|l| l.key != "__name__") {
        if !key.is_empty() {
            key.push(',');
        }
        key.push_str(&label.key);
        key.push('=');
        write_key(&mut key, label.value.as_ref());
    }
    key
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
    labels: Labels,
    count: Vec<f64>,
    sum: Vec<f64>,
    min: Vec<f64>,
    max: Vec<f64>,
    samples: Vec<Vec<f64>>,
    exemplars: Vec<SeriesExemplar>,
    exemplar_intervals: Vec<bool>,
}

impl Acc {
    fn new(labels: Labels, n: usize) -> Self {
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

struct Evaluator<'a> {
    window: &'a MetricsWindow,
    traces: &'a [Arc<Trace>],
    budget: &'a mut EvalBudget,
    inspected_spans: usize,
}

impl Evaluator<'_> {
    fn query(&mut self, query: &MetricsQuery) -> Result<Operand, Error> {
        let mut operand = self.expr(&query.expr)?;
        if let Operand::Series(set) = &mut operand {
            for stage in &query.stages {
                apply_stage(set, stage);
            }
        }
        Ok(operand)
    }

    fn expr(&mut self, expr: &MetricsExpr) -> Result<Operand, Error> {
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

    fn aggregate(&mut self, agg: &MetricsAggregate) -> Result<SeriesSet, Error> {
        if let MetricsFunction::Compare { .. } = agg.function {
            return Err(Error::unsupported(
                agg.loc.0.clone(),
                "compare() is not supported by the lab's trace store; use it against Grafana Tempo",
            ));
        }
        let n = self.window.intervals();
        // Groups are found by a compact text key written into one reused buffer, so a span of
        // an existing group costs a hash lookup and no allocation.
        let mut groups: Vec<Acc> = Vec::new();
        let mut group_of: HashMap<String, usize> = HashMap::new();
        let mut key = String::new();
        let mut by_values: Vec<Option<Value>> = Vec::with_capacity(agg.by.len());
        let quantiles = matches!(agg.function, MetricsFunction::QuantileOverTime(..));
        let name = agg.function.name();
        for trace in self.traces {
            let sets = evaluate_pipeline(&agg.input, trace, self.budget)?;
            let mut spans: Vec<usize> = sets.into_iter().flat_map(|s| s.spans).collect();
            spans.sort_unstable();
            spans.dedup();
            self.inspected_spans += trace.spans.len();
            for index in spans {
                let span = &trace.spans[index];
                let Some(interval) = self.window.interval_of(span.start_unix_nanos) else {
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
                            vec![Label::new("__name__", Some(Value::str(name)))]
                        } else {
                            let found: Labels = agg
                                .by
                                .iter()
                                .zip(&by_values)
                                .filter_map(|(f, v)| {
                                    v.as_ref()
                                        .map(|v| Label::new(f.to_string(), Some(v.clone())))
                                })
                                .collect();
                            if found.is_empty() {
                                vec![Label::new(agg.by[0].to_string(), None)]
                            } else {
                                found
                            }
                        };
                        if let Some((b, is_duration)) = bucket {
                            let label = if is_duration {
                                Value::Float(b / 1e9)
                            } else {
                                Value::Int(b as i64)
                            };
                            labels.push(Label::new("__bucket", Some(label)));
                        }
                        groups.push(Acc::new(labels, n));
                        group_of.insert(key.clone(), groups.len() - 1);
                        groups.len() - 1
                    }
                };
                let acc = &mut groups[group];
                acc.add(interval, value, quantiles);
                if !acc.exemplar_intervals[interval]
                    && acc.exemplars.len() < self.window.max_exemplars
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
        let step_seconds = self.window.step_nanos as f64 / 1e9;
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
                        labels.push(Label::new("p", Some(Value::Float(*q))));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_step_gives_about_240_points() {
        assert_eq!(default_step(3600 * NANOS), 15 * NANOS);
        assert_eq!(default_step(24 * 3600 * NANOS), 300 * NANOS);
        assert_eq!(default_step(NANOS), 50_000_000);
    }

    #[test]
    fn a_span_at_the_edge_of_a_range_never_falls_past_its_last_interval() {
        // What the parameters start=0&end=18446744073709551615 used to become: an end that
        // saturated instead of landing on a step boundary.
        let step = default_step(u64::MAX);
        let window = MetricsWindow {
            start_nanos: 0,
            end_nanos: u64::MAX.div_ceil(step).saturating_mul(step),
            step_nanos: step,
            max_exemplars: 0,
            instant: false,
        };
        let n = window.intervals();
        for t in [u64::MAX, u64::MAX - 1, window.end_nanos, step, 1] {
            if let Some(i) = window.interval_of(t) {
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
