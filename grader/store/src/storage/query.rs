//! The in-process query API: what the Tempo HTTP API serves, callable directly by the grader.
//!
//! Every function here works on a snapshot (`Vec<Arc<Trace>>`) taken from the store, so no
//! lock is held while it runs; callers on an async runtime run them under `spawn_blocking`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use dojo_traceql::model::{KeyValue, Span, Trace, TraceId, Value};

use super::{Store, TenantId};

/// A time window in unix nanoseconds; a trace is in it when it overlaps it (as in Tempo).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start_nanos: u64,
    pub end_nanos: u64,
}

impl TimeRange {
    /// Whether a trace overlaps the window.
    pub fn overlaps(&self, trace: &Trace) -> bool {
        trace.start_unix_nanos() <= self.end_nanos && trace.end_unix_nanos() >= self.start_nanos
    }
}

/// Keeps the traces inside an optional window.
pub fn in_range(traces: Vec<Arc<Trace>>, range: Option<TimeRange>) -> Vec<Arc<Trace>> {
    match range {
        Some(range) => traces.into_iter().filter(|t| range.overlaps(t)).collect(),
        None => traces,
    }
}

/// Where an attribute lives, as TraceQL scopes name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TagScope {
    Resource,
    Span,
    Event,
    Link,
    Instrumentation,
}

impl TagScope {
    pub const ALL: [TagScope; 5] = [
        TagScope::Resource,
        TagScope::Span,
        TagScope::Event,
        TagScope::Link,
        TagScope::Instrumentation,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TagScope::Resource => "resource",
            TagScope::Span => "span",
            TagScope::Event => "event",
            TagScope::Link => "link",
            TagScope::Instrumentation => "instrumentation",
        }
    }
}

/// The intrinsic names Tempo lists under the `intrinsic` scope.
pub const INTRINSIC_TAGS: [&str; 25] = [
    "duration",
    "event:name",
    "event:timeSinceStart",
    "instrumentation:name",
    "instrumentation:version",
    "kind",
    "link:spanID",
    "link:traceID",
    "name",
    "rootName",
    "rootServiceName",
    "span:duration",
    "span:id",
    "span:kind",
    "span:name",
    "span:parentID",
    "span:status",
    "span:statusMessage",
    "status",
    "statusMessage",
    "trace:duration",
    "trace:id",
    "trace:rootName",
    "trace:rootService",
    "traceDuration",
];

/// Attribute names seen, per scope, sorted.
pub type TagNames = BTreeMap<TagScope, BTreeSet<String>>;

fn add_keys(names: &mut TagNames, scope: TagScope, attributes: &[KeyValue]) {
    let set = names.entry(scope).or_default();
    for kv in attributes {
        if !set.contains(&*kv.key) {
            set.insert(kv.key.to_string());
        }
    }
}

/// Collects attribute names of the given spans per scope (only the scopes asked for).
pub fn tag_names<'a>(spans: impl Iterator<Item = &'a Span>, scopes: &[TagScope]) -> TagNames {
    let mut names = TagNames::new();
    for scope in scopes {
        names.insert(*scope, BTreeSet::new());
    }
    let mut last_resource: *const dojo_traceql::model::Resource = std::ptr::null();
    let mut last_scope: *const dojo_traceql::model::Scope = std::ptr::null();
    for span in spans {
        for scope in scopes {
            match scope {
                TagScope::Span => add_keys(&mut names, *scope, &span.attributes),
                TagScope::Resource => {
                    // Spans of one batch share their resource: look at each one once.
                    if !std::ptr::eq(Arc::as_ptr(&span.resource), last_resource) {
                        add_keys(&mut names, *scope, &span.resource.attributes);
                    }
                }
                TagScope::Instrumentation => {
                    if !std::ptr::eq(Arc::as_ptr(&span.scope), last_scope) {
                        add_keys(&mut names, *scope, &span.scope.attributes);
                    }
                }
                TagScope::Event => {
                    for event in &span.events {
                        add_keys(&mut names, *scope, &event.attributes);
                    }
                }
                TagScope::Link => {
                    for link in &span.links {
                        add_keys(&mut names, *scope, &link.attributes);
                    }
                }
            }
        }
        last_resource = Arc::as_ptr(&span.resource);
        last_scope = Arc::as_ptr(&span.scope);
    }
    names
}

/// What a tag-values request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagRef {
    /// An attribute in one scope, or in span then resource when `scope` is `None`.
    Attribute {
        scope: Option<TagScope>,
        key: String,
    },
    /// A string-valued intrinsic.
    Intrinsic(StringIntrinsic),
    /// An intrinsic with a fixed list of keyword values.
    Keywords(&'static [&'static str]),
    /// An intrinsic Tempo answers with no values (durations, ids).
    NoValues,
}

/// Intrinsics whose values are strings collected from the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringIntrinsic {
    Name,
    StatusMessage,
    RootName,
    RootService,
    EventName,
    InstrumentationName,
    InstrumentationVersion,
}

/// The status keywords, in Tempo's order.
pub const STATUS_KEYWORDS: &[&str] = &["error", "ok", "unset"];
/// The kind keywords, in Tempo's order.
pub const KIND_KEYWORDS: &[&str] = &[
    "unspecified",
    "internal",
    "client",
    "server",
    "producer",
    "consumer",
];

fn unquote(text: &str) -> Option<String> {
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        return Some(inner.replace("\\\"", "\""));
    }
    if text.is_empty() || text.contains(|c: char| c.is_whitespace() || "{}()=!<>~&|\"".contains(c))
    {
        return None;
    }
    Some(text.to_string())
}

impl TagRef {
    /// Reads a v2 tag name: a TraceQL identifier. `None` when it is not one.
    pub fn parse_traceql(tag: &str) -> Option<TagRef> {
        use StringIntrinsic as S;
        let intrinsic = match tag {
            "name" | "span:name" => Some(TagRef::Intrinsic(S::Name)),
            "statusMessage" | "span:statusMessage" => Some(TagRef::Intrinsic(S::StatusMessage)),
            "rootName" | "trace:rootName" => Some(TagRef::Intrinsic(S::RootName)),
            "rootServiceName" | "trace:rootService" => Some(TagRef::Intrinsic(S::RootService)),
            "event:name" => Some(TagRef::Intrinsic(S::EventName)),
            "instrumentation:name" => Some(TagRef::Intrinsic(S::InstrumentationName)),
            "instrumentation:version" => Some(TagRef::Intrinsic(S::InstrumentationVersion)),
            "status" | "span:status" => Some(TagRef::Keywords(STATUS_KEYWORDS)),
            "kind" | "span:kind" => Some(TagRef::Keywords(KIND_KEYWORDS)),
            "duration"
            | "span:duration"
            | "traceDuration"
            | "trace:duration"
            | "trace:id"
            | "span:id"
            | "span:parentID"
            | "event:timeSinceStart"
            | "link:spanID"
            | "link:traceID" => Some(TagRef::NoValues),
            _ => None,
        };
        if intrinsic.is_some() {
            return intrinsic;
        }
        let scoped = |prefix: &str, scope: Option<TagScope>| {
            tag.strip_prefix(prefix)
                .and_then(unquote)
                .map(|key| TagRef::Attribute { scope, key })
        };
        scoped("resource.", Some(TagScope::Resource))
            .or_else(|| scoped("span.", Some(TagScope::Span)))
            .or_else(|| scoped("event.", Some(TagScope::Event)))
            .or_else(|| scoped("link.", Some(TagScope::Link)))
            .or_else(|| scoped("instrumentation.", Some(TagScope::Instrumentation)))
            .or_else(|| scoped(".", None))
    }

    /// Reads a v1 tag name: a bare attribute key (span or resource), plus Tempo's two virtual tags.
    pub fn parse_v1(tag: &str) -> TagRef {
        match tag {
            "status.code" => TagRef::Keywords(&["unset", "ok", "error"]),
            "error" => TagRef::Keywords(&["true"]),
            _ => TagRef::Attribute {
                scope: None,
                key: tag.to_string(),
            },
        }
    }
}

/// A distinct value, ordered for stable output.
#[derive(Debug, Clone, PartialEq)]
pub enum TagValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Keyword(&'static str),
}

impl TagValue {
    /// Tempo's type name in v2 responses.
    pub fn type_name(&self) -> &'static str {
        match self {
            TagValue::Str(_) => "string",
            TagValue::Int(_) => "int",
            TagValue::Float(_) => "float",
            TagValue::Bool(_) => "bool",
            TagValue::Keyword(_) => "keyword",
        }
    }

    /// The value as text.
    pub fn text(&self) -> String {
        match self {
            TagValue::Str(s) => s.clone(),
            TagValue::Int(i) => i.to_string(),
            TagValue::Float(f) => f.to_string(),
            TagValue::Bool(b) => b.to_string(),
            TagValue::Keyword(k) => k.to_string(),
        }
    }
}

/// Collects distinct values in first-seen order. Already-seen values cost a hash lookup and
/// no allocation, which matters when a million spans carry the same dozen values.
#[derive(Default)]
struct Distinct {
    strings: HashSet<Arc<str>>,
    ints: HashSet<i64>,
    floats: HashSet<u64>,
    bools: HashSet<bool>,
    values: Vec<TagValue>,
}

impl Distinct {
    fn push_model(&mut self, value: &Value) {
        match value {
            Value::Str(s) => {
                if !s.is_empty() && !self.strings.contains(&**s) {
                    self.strings.insert(s.clone());
                    self.values.push(TagValue::Str(s.to_string()));
                }
            }
            Value::Int(i) => {
                if self.ints.insert(*i) {
                    self.values.push(TagValue::Int(*i));
                }
            }
            Value::Float(f) => {
                if self.floats.insert(f.to_bits()) {
                    self.values.push(TagValue::Float(*f));
                }
            }
            Value::Bool(b) => {
                if self.bools.insert(*b) {
                    self.values.push(TagValue::Bool(*b));
                }
            }
            Value::Array(items) => items.iter().for_each(|v| self.push_model(v)),
        }
    }

    fn push_str(&mut self, text: &Arc<str>) {
        self.push_model(&Value::Str(text.clone()));
    }
}

fn find<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| &*kv.key == key)
        .map(|kv| &kv.value)
}

/// Distinct values of a tag over the given traces; `span_filter` limits which spans count.
pub fn tag_values(
    traces: &[Arc<Trace>],
    tag: &TagRef,
    limit: Option<usize>,
    span_filter: &dyn Fn(&Trace, usize) -> bool,
) -> Vec<TagValue> {
    let mut distinct = Distinct::default();
    if let TagRef::Keywords(words) = tag {
        return words.iter().map(|w| TagValue::Keyword(w)).collect();
    }
    if matches!(tag, TagRef::NoValues) {
        return Vec::new();
    }
    let full = |d: &Distinct| limit.is_some_and(|l| d.values.len() >= l);
    'traces: for trace in traces {
        let root = trace.root();
        for (index, span) in trace.spans.iter().enumerate() {
            if !span_filter(trace, index) {
                continue;
            }
            match tag {
                TagRef::Attribute { scope, key } => match scope {
                    Some(TagScope::Span) => find(&span.attributes, key)
                        .into_iter()
                        .for_each(|v| distinct.push_model(v)),
                    Some(TagScope::Resource) => find(&span.resource.attributes, key)
                        .into_iter()
                        .for_each(|v| distinct.push_model(v)),
                    Some(TagScope::Instrumentation) => find(&span.scope.attributes, key)
                        .into_iter()
                        .for_each(|v| distinct.push_model(v)),
                    Some(TagScope::Event) => span
                        .events
                        .iter()
                        .filter_map(|e| find(&e.attributes, key))
                        .for_each(|v| distinct.push_model(v)),
                    Some(TagScope::Link) => span
                        .links
                        .iter()
                        .filter_map(|l| find(&l.attributes, key))
                        .for_each(|v| distinct.push_model(v)),
                    None => find(&span.attributes, key)
                        .or_else(|| find(&span.resource.attributes, key))
                        .into_iter()
                        .for_each(|v| distinct.push_model(v)),
                },
                TagRef::Intrinsic(which) => match which {
                    StringIntrinsic::Name => distinct.push_str(&span.name),
                    StringIntrinsic::StatusMessage => distinct.push_str(&span.status_message),
                    StringIntrinsic::EventName => {
                        span.events.iter().for_each(|e| distinct.push_str(&e.name))
                    }
                    StringIntrinsic::InstrumentationName => distinct.push_str(&span.scope.name),
                    StringIntrinsic::InstrumentationVersion => {
                        distinct.push_str(&span.scope.version)
                    }
                    StringIntrinsic::RootName => {
                        if let Some(root) = root {
                            distinct.push_str(&root.name);
                        }
                    }
                    StringIntrinsic::RootService => {
                        if let Some(Value::Str(name)) = root.and_then(|r| {
                            dojo_traceql::model::attribute(&r.resource.attributes, "service.name")
                        }) {
                            distinct.push_str(name);
                        }
                    }
                },
                TagRef::Keywords(_) | TagRef::NoValues => {}
            }
            if full(&distinct) {
                break 'traces;
            }
        }
    }
    distinct.values
}

impl Store {
    /// One trace by id, as stored now.
    pub fn trace_by_id(&self, tenant: &TenantId, trace_id: &TraceId) -> Option<Arc<Trace>> {
        let tenant = self.existing_tenant(tenant)?;
        let state = super::read(&tenant.state);
        state.traces.get(trace_id).map(|t| t.trace.clone())
    }

    /// Attribute names per scope over a tenant's traces in an optional window.
    pub fn tag_names(
        &self,
        tenant: &TenantId,
        scopes: &[TagScope],
        range: Option<TimeRange>,
    ) -> TagNames {
        let traces = in_range(self.snapshot(tenant), range);
        tag_names(traces.iter().flat_map(|t| t.spans.iter()), scopes)
    }

    /// Distinct values of a tag over a tenant's traces in an optional window.
    pub fn tag_values(
        &self,
        tenant: &TenantId,
        tag: &TagRef,
        range: Option<TimeRange>,
        limit: Option<usize>,
    ) -> Vec<TagValue> {
        let traces = in_range(self.snapshot(tenant), range);
        tag_values(&traces, tag, limit, &|_, _| true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_tag_names_must_be_traceql_identifiers() {
        assert_eq!(
            TagRef::parse_traceql("resource.service.name"),
            Some(TagRef::Attribute {
                scope: Some(TagScope::Resource),
                key: "service.name".into()
            })
        );
        assert_eq!(
            TagRef::parse_traceql(".http.method"),
            Some(TagRef::Attribute {
                scope: None,
                key: "http.method".into()
            })
        );
        assert_eq!(
            TagRef::parse_traceql("span.\"my key\""),
            Some(TagRef::Attribute {
                scope: Some(TagScope::Span),
                key: "my key".into()
            })
        );
        assert_eq!(
            TagRef::parse_traceql("status"),
            Some(TagRef::Keywords(STATUS_KEYWORDS))
        );
        assert_eq!(TagRef::parse_traceql("duration"), Some(TagRef::NoValues));
        assert_eq!(TagRef::parse_traceql("service.name"), None);
        assert_eq!(TagRef::parse_traceql("span.a b"), None);
    }
}
