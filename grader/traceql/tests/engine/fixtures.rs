//! One hand-built trace that has every shape the operators care about.
//!
//! ```text
//! 0 frontend  GET /checkout  server 1200ms   (root)
//! ├─ 1 frontend  HTTP POST   client 1000ms
//! │  └─ 2 api     POST /orders server 900ms  error "boom"
//! │     ├─ 3 api  SELECT     client   50ms   (event "exception" at +10ms)
//! │     └─ 4 api  payments   client  800ms   (link, flag=true)
//! │        └─ 5 payments charge server 700ms error
//! └─ 6 frontend render       internal 100ms  ok
//! 7 worker    orphan         internal  10ms  (parent never arrived)
//! ```

use dojo_traceql::model::*;
use std::sync::Arc;

pub const MS: u64 = 1_000_000;
pub const T0: u64 = 1_700_000_000_000_000_000;

pub fn span_id(i: u8) -> SpanId {
    SpanId([0, 0, 0, 0, 0, 0, 0, i + 1])
}

pub fn trace_id(n: u16) -> TraceId {
    let mut id = [0u8; 16];
    id[14..].copy_from_slice(&n.to_be_bytes());
    TraceId(id)
}

fn resource(service: &str) -> Arc<Resource> {
    Arc::new(Resource {
        attributes: vec![KeyValue::new("service.name", Value::str(service))],
    })
}

fn scope(name: &str) -> Arc<Scope> {
    Arc::new(Scope {
        name: name.into(),
        version: "1.2".into(),
        attributes: vec![KeyValue::new("lib.language", Value::str("rust"))],
    })
}

#[allow(clippy::too_many_arguments)]
fn span(
    i: u8,
    parent: Option<u8>,
    service: &Arc<Resource>,
    scope: &Arc<Scope>,
    name: &str,
    kind: SpanKind,
    start_ms: u64,
    duration_ms: u64,
) -> Span {
    Span {
        span_id: span_id(i),
        parent_span_id: parent.map(span_id),
        name: name.into(),
        kind,
        start_unix_nanos: T0 + start_ms * MS,
        end_unix_nanos: T0 + (start_ms + duration_ms) * MS,
        resource: service.clone(),
        scope: scope.clone(),
        ..Span::default()
    }
}

/// The trace drawn above, with trace id `…0abc`.
pub fn checkout_trace() -> Trace {
    let (frontend, api, payments, worker) = (
        resource("frontend"),
        resource("api"),
        resource("payments"),
        resource("worker"),
    );
    let (web, db) = (scope("web-instr"), scope("api-instr"));
    let mut spans = vec![
        span(
            0,
            None,
            &frontend,
            &web,
            "GET /checkout",
            SpanKind::Server,
            0,
            1200,
        ),
        span(
            1,
            Some(0),
            &frontend,
            &web,
            "HTTP POST",
            SpanKind::Client,
            10,
            1000,
        ),
        span(
            2,
            Some(1),
            &api,
            &db,
            "POST /orders",
            SpanKind::Server,
            20,
            900,
        ),
        span(3, Some(2), &api, &db, "SELECT", SpanKind::Client, 30, 50),
        span(4, Some(2), &api, &db, "payments", SpanKind::Client, 90, 800),
        span(
            5,
            Some(4),
            &payments,
            &db,
            "charge",
            SpanKind::Server,
            100,
            700,
        ),
        span(
            6,
            Some(0),
            &frontend,
            &web,
            "render",
            SpanKind::Internal,
            1050,
            100,
        ),
        span(
            7,
            Some(42),
            &worker,
            &web,
            "orphan",
            SpanKind::Internal,
            5,
            10,
        ),
    ];
    spans[0].attributes = vec![
        KeyValue::new("http.method", Value::str("GET")),
        KeyValue::new("http.status_code", Value::Int(200)),
    ];
    spans[2].status = StatusCode::Error;
    spans[2].status_message = "boom".into();
    spans[2].attributes = vec![
        KeyValue::new("http.status_code", Value::Int(500)),
        KeyValue::new("region", Value::str("eu")),
        KeyValue::new(
            "tags",
            Value::Array(vec![Value::str("a"), Value::str("b")].into()),
        ),
        KeyValue::new("ratio", Value::Float(0.5)),
    ];
    spans[3].attributes = vec![
        KeyValue::new("db.system", Value::str("postgresql")),
        KeyValue::new("flag", Value::Bool(false)),
    ];
    spans[3].events = vec![Event {
        name: "exception".into(),
        time_unix_nanos: T0 + 40 * MS,
        attributes: vec![KeyValue::new("exception.type", Value::str("TimeoutError"))],
    }];
    spans[4].attributes = vec![KeyValue::new("flag", Value::Bool(true))];
    spans[4].links = vec![Link {
        trace_id: trace_id(0x0def),
        span_id: span_id(9),
        attributes: vec![KeyValue::new("kind", Value::str("retry"))],
    }];
    spans[5].status = StatusCode::Error;
    spans[5].attributes = vec![KeyValue::new("flag", Value::str("yes"))];
    spans[6].status = StatusCode::Ok;
    spans[6].attributes = vec![KeyValue::new("service.name", Value::str("shadow"))];
    Trace {
        trace_id: trace_id(0x0abc),
        spans,
    }
}
