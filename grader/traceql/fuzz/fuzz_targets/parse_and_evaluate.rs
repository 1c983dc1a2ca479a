//! Any text that parses is evaluated over a small trace with every shape (nesting, orphans,
//! events, links, arrays) under a step budget and a deadline: no panic, and no evaluation
//! beyond its budget.
#![no_main]

use dojo_traceql::model::*;
use dojo_traceql::{EvalBudget, SearchOptions};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

fn traces() -> &'static [Trace] {
    static TRACES: OnceLock<Vec<Trace>> = OnceLock::new();
    TRACES.get_or_init(|| {
        let res = |s: &str| Arc::new(Resource { attributes: vec![KeyValue::new("service.name", Value::str(s))] });
        let scope = Arc::new(Scope { name: "lib".into(), version: "1".into(), attributes: vec![] });
        let id = |i: u8| SpanId([0, 0, 0, 0, 0, 0, 0, i]);
        let mut spans = Vec::new();
        for i in 1..=12u8 {
            spans.push(Span {
                span_id: id(i),
                parent_span_id: match i { 1 => None, 12 => Some(id(99)), 11 => Some(id(11)), _ => Some(id(i / 2)) },
                name: format!("op{}", i % 4).into(),
                kind: [SpanKind::Server, SpanKind::Client, SpanKind::Internal][i as usize % 3],
                status: if i % 5 == 0 { StatusCode::Error } else { StatusCode::Ok },
                start_unix_nanos: 1_000 * i as u64,
                end_unix_nanos: 1_000 * i as u64 + 10_000_000 * (i as u64 % 7),
                attributes: vec![
                    KeyValue::new("a", Value::Int(i as i64)),
                    KeyValue::new("f", Value::Float(i as f64 / 3.0)),
                    KeyValue::new("s", Value::str(format!("v{i}"))),
                    KeyValue::new("b", Value::Bool(i % 2 == 0)),
                    KeyValue::new("arr", Value::Array(vec![Value::Int(1), Value::str("x")].into())),
                ],
                resource: res(if i < 6 { "front" } else { "back" }),
                scope: scope.clone(),
                events: if i % 3 == 0 {
                    vec![Event { name: "e".into(), time_unix_nanos: 5_000, attributes: vec![KeyValue::new("k", Value::Int(1))] }]
                } else {
                    vec![]
                },
                links: if i % 4 == 0 {
                    vec![Link { trace_id: TraceId([1; 16]), span_id: id(3), attributes: vec![] }]
                } else {
                    vec![]
                },
                ..Span::default()
            });
        }
        vec![Trace { trace_id: TraceId([7; 16]), spans }, Trace::default()]
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(query) = dojo_traceql::parse(text) else { return };
    let opts = SearchOptions {
        budget: EvalBudget::new(200_000, Some(Duration::from_millis(200))),
        ..SearchOptions::default()
    };
    let _ = dojo_traceql::search(&query, traces(), &opts);
    let _ = query.fetched_attributes();
    for field in query.fetched_attributes() {
        let _ = dojo_traceql::field_value(&traces()[0], 3, &field);
        let _ = dojo_traceql::field_result_value(&traces()[0], 11, &field);
    }
});
