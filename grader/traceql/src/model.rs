//! The in-memory trace model that TraceQL is evaluated over.
//!
//! The trace store fills it from OTLP; tests build it by hand. It is deliberately close to
//! OTLP's own shape (resource → scope → span, with events and links) so that nothing a query
//! can ask about is lost on the way in, and small enough that a million spans fit in memory.
//! Resources and scopes are shared between the spans of one batch through `Arc`, as they are
//! in OTLP, instead of being copied into every span.

use std::fmt;
use std::sync::Arc;

/// A 16-byte W3C trace id. Printed as 32 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id. Printed as 16 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId(pub [u8; 8]);

/// Why a hex id could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("an id must be hexadecimal digits (0-9, a-f), found {0:?}")]
    NotHex(char),
    #[error("an id must be at most {max} hex digits long, found {found}")]
    TooLong { max: usize, found: usize },
    #[error("an id must not be empty")]
    Empty,
}

fn parse_hex_id<const N: usize>(text: &str) -> Result<[u8; N], IdError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(IdError::Empty);
    }
    if text.len() > N * 2 {
        return Err(IdError::TooLong {
            max: N * 2,
            found: text.len(),
        });
    }
    if let Some(bad) = text.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(IdError::NotHex(bad));
    }
    // Tempo accepts ids with their leading zeros trimmed: pad on the left.
    let padded = format!("{text:0>width$}", width = N * 2);
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte =
            u8::from_str_radix(&padded[i * 2..i * 2 + 2], 16).map_err(|_| IdError::NotHex('?'))?;
    }
    Ok(out)
}

impl TraceId {
    /// Reads a trace id as Tempo accepts one: hex in any case, leading zeros optional.
    pub fn from_hex(text: &str) -> Result<Self, IdError> {
        parse_hex_id::<16>(text).map(TraceId)
    }

    /// Hex without leading zeros, as Tempo prints ids in search results.
    pub fn to_trimmed_hex(&self) -> String {
        let full = self.to_string();
        let trimmed = full.trim_start_matches('0');
        if trimmed.is_empty() {
            "0".to_string()
        } else {
            trimmed.to_string()
        }
    }
}

impl SpanId {
    /// Reads a span id: hex in any case, leading zeros optional.
    pub fn from_hex(text: &str) -> Result<Self, IdError> {
        parse_hex_id::<8>(text).map(SpanId)
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// A value as a learner reads it, everywhere it is shown or compared as text: strings bare,
/// numbers and booleans as Rust prints them, arrays bracketed and comma-separated (`[a, b]`).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// An attribute value, as OTLP's `AnyValue` carries it. Maps and byte strings, which TraceQL
/// cannot compare, are kept as their JSON text so they still show in trace views.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(Arc<str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Array(Arc<[Value]>),
}

impl Value {
    pub fn str(s: impl Into<Arc<str>>) -> Self {
        Value::Str(s.into())
    }
}

/// One `key = value` attribute. Keys are `Arc<str>` because the same few keys repeat on
/// every span, and the store interns them.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyValue {
    pub key: Arc<str>,
    pub value: Value,
}

impl KeyValue {
    pub fn new(key: impl Into<Arc<str>>, value: Value) -> Self {
        KeyValue {
            key: key.into(),
            value,
        }
    }
}

/// A list of attributes. A span has a handful, so a vector searched in order beats a map.
pub type Attributes = Vec<KeyValue>;

/// Looks up one attribute by key.
pub fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| &*kv.key == key)
        .map(|kv| &kv.value)
}

/// The OTLP span kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SpanKind {
    #[default]
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    /// Every kind, in OTLP's order.
    pub const ALL: [SpanKind; 6] = [
        SpanKind::Unspecified,
        SpanKind::Internal,
        SpanKind::Server,
        SpanKind::Client,
        SpanKind::Producer,
        SpanKind::Consumer,
    ];

    /// The kind in lower case, as TraceQL writes it (`kind = server`) and pages show it.
    pub fn traceql_name(self) -> &'static str {
        match self {
            SpanKind::Unspecified => "unspecified",
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }

    /// The kind's name in OTLP JSON and Tempo's metric labels (`SPAN_KIND_SERVER`).
    pub fn otlp_name(self) -> &'static str {
        match self {
            SpanKind::Unspecified => "SPAN_KIND_UNSPECIFIED",
            SpanKind::Internal => "SPAN_KIND_INTERNAL",
            SpanKind::Server => "SPAN_KIND_SERVER",
            SpanKind::Client => "SPAN_KIND_CLIENT",
            SpanKind::Producer => "SPAN_KIND_PRODUCER",
            SpanKind::Consumer => "SPAN_KIND_CONSUMER",
        }
    }

    /// OTLP's number for the kind.
    pub fn otlp_number(self) -> i32 {
        match self {
            SpanKind::Unspecified => 0,
            SpanKind::Internal => 1,
            SpanKind::Server => 2,
            SpanKind::Client => 3,
            SpanKind::Producer => 4,
            SpanKind::Consumer => 5,
        }
    }

    /// The kind OTLP's number stands for; unknown numbers read as unspecified.
    pub fn from_otlp_number(number: i64) -> SpanKind {
        SpanKind::ALL
            .into_iter()
            .find(|kind| i64::from(kind.otlp_number()) == number)
            .unwrap_or_default()
    }

    /// The kind an OTLP JSON name stands for; unknown names read as unspecified.
    pub fn from_otlp_name(name: &str) -> SpanKind {
        SpanKind::ALL
            .into_iter()
            .find(|kind| kind.otlp_name() == name)
            .unwrap_or_default()
    }
}

/// The OTLP status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StatusCode {
    #[default]
    Unset,
    Ok,
    Error,
}

impl StatusCode {
    /// The status in lower case, as TraceQL writes it (`status = error`) and pages show it.
    pub fn traceql_name(self) -> &'static str {
        match self {
            StatusCode::Unset => "unset",
            StatusCode::Ok => "ok",
            StatusCode::Error => "error",
        }
    }

    /// OTLP's number for the status code.
    pub fn otlp_number(self) -> i32 {
        match self {
            StatusCode::Unset => 0,
            StatusCode::Ok => 1,
            StatusCode::Error => 2,
        }
    }
}

/// The process that emitted spans: `service.name`, `service.version` and the rest.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resource {
    pub attributes: Attributes,
}

/// The instrumentation library that created spans.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scope {
    pub name: Arc<str>,
    pub version: Arc<str>,
    pub attributes: Attributes,
}

/// Something that happened during a span (an exception, a retry).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Event {
    pub name: Arc<str>,
    pub time_unix_nanos: u64,
    pub attributes: Attributes,
}

/// A link from a span to a span of another (or the same) trace.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Link {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub attributes: Attributes,
}

/// One span with everything TraceQL can ask about it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Span {
    pub span_id: SpanId,
    /// `None` for a root span.
    pub parent_span_id: Option<SpanId>,
    pub name: Arc<str>,
    pub kind: SpanKind,
    pub status: StatusCode,
    pub status_message: Arc<str>,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    pub attributes: Attributes,
    pub resource: Arc<Resource>,
    pub scope: Arc<Scope>,
    pub events: Vec<Event>,
    pub links: Vec<Link>,
}

impl Span {
    /// End minus start, never negative.
    pub fn duration_nanos(&self) -> u64 {
        self.end_unix_nanos.saturating_sub(self.start_unix_nanos)
    }

    /// The `service.name` resource attribute, if the span has one.
    pub fn service_name(&self) -> Option<&str> {
        match attribute(&self.resource.attributes, "service.name") {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }
}

/// All spans received so far for one trace id, in arrival order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trace {
    pub trace_id: TraceId,
    pub spans: Vec<Span>,
}

impl Trace {
    /// The span with no parent, if it has arrived. With several, the earliest.
    pub fn root(&self) -> Option<&Span> {
        self.spans
            .iter()
            .filter(|s| s.parent_span_id.is_none())
            .min_by_key(|s| s.start_unix_nanos)
    }

    /// The earliest start of any span.
    pub fn start_unix_nanos(&self) -> u64 {
        self.spans
            .iter()
            .map(|s| s.start_unix_nanos)
            .min()
            .unwrap_or(0)
    }

    /// The latest end of any span.
    pub fn end_unix_nanos(&self) -> u64 {
        self.spans
            .iter()
            .map(|s| s.end_unix_nanos)
            .max()
            .unwrap_or(0)
    }
}

/// The system clock in unix nanoseconds, the model's unit of time (0 before 1970, which no
/// machine running this is; saturating far in the future).
pub fn now_unix_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_are_read_as_tempo_reads_them() {
        let full = TraceId::from_hex("00000000000000000000000000abcdef").unwrap();
        assert_eq!(TraceId::from_hex("ABCDEF").unwrap(), full);
        assert_eq!(full.to_trimmed_hex(), "abcdef");
        assert_eq!(full.to_string(), "00000000000000000000000000abcdef");
        assert_eq!(TraceId::from_hex("xyz"), Err(IdError::NotHex('x')));
        assert!(matches!(
            TraceId::from_hex(&"1".repeat(33)),
            Err(IdError::TooLong { .. })
        ));
        assert_eq!(TraceId::from_hex(""), Err(IdError::Empty));
    }
}
