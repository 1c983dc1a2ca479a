//! A shelf of hand-built traces (the tests load them into a real embedded store) shaped like the sample shop's: a healthy checkout, a checkout
//! that failed in payments, a slow product page, and the second half of a trace whose context
//! was lost. They start a few seconds before the test, so they fall in every time window.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use dojo_course::backend::LogEntry;
use dojo_traceql::model::{
    Event, KeyValue, Resource, Span, SpanId, SpanKind, StatusCode, Trace, TraceId, Value,
};

pub const OK: TraceId = TraceId([0xaa; 16]);
pub const FAILED: TraceId = TraceId([0xbb; 16]);
pub const SLOW: TraceId = TraceId([0xcc; 16]);
pub const SPLIT: TraceId = TraceId([0xdd; 16]);

/// The span id of the failing payments span in `FAILED`.
pub const FAILED_PAYMENT_SPAN: SpanId = SpanId([0xbb, 0, 0, 0, 0, 0, 0, 6]);

/// Traces in memory.
pub struct Shelf {
    pub traces: Vec<Trace>,
}

fn resource(service: &str) -> Arc<Resource> {
    Arc::new(Resource {
        attributes: vec![
            KeyValue::new("service.name", Value::str(service)),
            KeyValue::new("service.version", Value::str("1.4.2")),
        ],
    })
}

struct Builder {
    trace: u8,
    start: u64,
    spans: Vec<Span>,
}

impl Builder {
    fn new(trace: u8, seconds_ago: u64) -> Builder {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos() as u64;
        Builder {
            trace,
            start: now - seconds_ago * 1_000_000_000,
            spans: Vec::new(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn span(
        &mut self,
        id: u8,
        parent: Option<u8>,
        service: &str,
        name: &str,
        kind: SpanKind,
        start_ms: u64,
        end_ms: u64,
        attributes: &[(&str, Value)],
    ) -> &mut Span {
        let sid = |n: u8| SpanId([self.trace, 0, 0, 0, 0, 0, 0, n]);
        self.spans.push(Span {
            span_id: sid(id),
            parent_span_id: parent.map(sid),
            name: name.into(),
            kind,
            start_unix_nanos: self.start + start_ms * 1_000_000,
            end_unix_nanos: self.start + end_ms * 1_000_000,
            attributes: attributes
                .iter()
                .map(|(k, v)| KeyValue::new(*k, v.clone()))
                .collect(),
            resource: resource(service),
            ..Span::default()
        });
        self.spans.last_mut().expect("just pushed")
    }

    fn checkout(&mut self, fail: bool) {
        let route = |r: &str| ("http.route", Value::str(r));
        self.span(
            1,
            None,
            "frontend",
            "POST /checkout",
            SpanKind::Server,
            0,
            420,
            &[route("/checkout")],
        );
        self.span(
            2,
            Some(1),
            "frontend",
            "POST",
            SpanKind::Client,
            5,
            410,
            &[],
        );
        self.span(
            3,
            Some(2),
            "api",
            "POST /orders",
            SpanKind::Server,
            8,
            405,
            &[route("/orders"), ("user.id", Value::str("u-1042"))],
        );
        self.span(
            4,
            Some(3),
            "api",
            "INSERT orders",
            SpanKind::Client,
            10,
            22,
            &[("db.system", Value::str("sqlite"))],
        );
        self.span(5, Some(3), "api", "POST", SpanKind::Client, 30, 400, &[]);
        let status = if fail { 503 } else { 200 };
        let charge = self.span(
            6,
            Some(5),
            "payments",
            "POST /charge",
            SpanKind::Server,
            33,
            398,
            &[
                route("/charge"),
                ("http.response.status_code", Value::Int(status)),
            ],
        );
        if fail {
            charge.status = StatusCode::Error;
            charge.status_message = "provider unavailable".into();
            charge.events.push(Event {
                name: "exception".into(),
                time_unix_nanos: charge.end_unix_nanos - 1_000_000,
                attributes: vec![KeyValue::new(
                    "exception.message",
                    Value::str("provider unavailable"),
                )],
            });
            for id in [1, 2, 3, 5] {
                self.spans[id - 1].status = StatusCode::Error;
            }
        }
    }

    fn build(self) -> Trace {
        Trace {
            trace_id: TraceId([self.trace; 16]),
            spans: self.spans,
        }
    }
}

impl Shelf {
    pub fn sample() -> Shelf {
        let mut ok = Builder::new(0xaa, 40);
        ok.checkout(false);
        let mut failed = Builder::new(0xbb, 30);
        failed.checkout(true);
        let mut slow = Builder::new(0xcc, 20);
        slow.span(
            1,
            None,
            "frontend",
            "GET /products/{id}",
            SpanKind::Server,
            0,
            1500,
            &[("http.route", Value::str("/products/{id}"))],
        );
        slow.span(
            2,
            Some(1),
            "frontend",
            "GET",
            SpanKind::Client,
            5,
            1495,
            &[],
        );
        slow.span(
            3,
            Some(2),
            "api",
            "GET /products/{id}",
            SpanKind::Server,
            10,
            1490,
            &[],
        );
        // The request first waits for a connection (a slow span with `db.system` that is
        // not a query), then the query itself is slow.
        slow.span(
            4,
            Some(3),
            "api",
            "db.pool.acquire",
            SpanKind::Internal,
            15,
            615,
            &[("db.system", Value::str("sqlite"))],
        );
        slow.span(
            5,
            Some(3),
            "api",
            "SELECT products",
            SpanKind::Client,
            620,
            1450,
            &[("db.system", Value::str("sqlite"))],
        );
        let mut split = Builder::new(0xdd, 10);
        split.span(
            1,
            None,
            "api",
            "GET /cart",
            SpanKind::Server,
            0,
            300,
            &[("http.route", Value::str("/cart"))],
        );
        // A query slower than most but under the 500 ms Lab 2 asks about, as the lab's slow
        // query spreads its hits: an answer with another threshold finds it too.
        split.span(
            2,
            Some(1),
            "api",
            "SELECT carts",
            SpanKind::Client,
            20,
            290,
            &[("db.system", Value::str("sqlite"))],
        );
        Shelf {
            traces: vec![ok.build(), failed.build(), slow.build(), split.build()],
        }
    }
}

/// The log lines the services "wrote" inside the shelf's traces.
pub fn log_lines() -> Vec<(TraceId, LogEntry)> {
    let line = |service: &str, span: Option<SpanId>, level: &str, message: &str| LogEntry {
        service: service.into(),
        span_id: span,
        level: level.into(),
        message: message.into(),
        timestamp: "2026-11-22T10:04:31.120Z".into(),
    };
    vec![
        (
            FAILED,
            line(
                "payments",
                Some(FAILED_PAYMENT_SPAN),
                "ERROR",
                "charge refused: provider unavailable",
            ),
        ),
        (
            FAILED,
            line(
                "api",
                Some(SpanId([0xbb, 0, 0, 0, 0, 0, 0, 3])),
                "WARN",
                "payment failed, answering 502",
            ),
        ),
        (
            OK,
            line(
                "api",
                Some(SpanId([0xaa, 0, 0, 0, 0, 0, 0, 3])),
                "INFO",
                "order placed",
            ),
        ),
    ]
}
