//! The syntax tree of a TraceQL query.
//!
//! Parentheses the author wrote are kept as nodes (`Paren`, `SpansetExpr::Group`), so printing a
//! tree ([`crate::display`]) gives back the same tree when parsed again, and the canonical text
//! stays close to what the learner typed. Source positions ride along in [`Loc`], which compares
//! equal to every other `Loc`: two trees are equal when they mean the same query, wherever it
//! was written.

use crate::model::{SpanKind, StatusCode};
use std::ops::Range;
use std::sync::Arc;

/// A byte range of the query. Ignored by `==` so trees compare by meaning.
#[derive(Debug, Clone, Default)]
pub struct Loc(pub Range<usize>);

impl PartialEq for Loc {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

/// Where an attribute is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrScope {
    /// `.name`: span attributes first, then resource attributes.
    None,
    Span,
    Resource,
    /// Any of the span's events.
    Event,
    /// Any of the span's links.
    Link,
    /// The instrumentation scope.
    Instrumentation,
    /// `parent.x` (parses; not supported, as in Tempo).
    Parent,
    ParentSpan,
    ParentResource,
}

impl AttrScope {
    /// The prefix written before the name, dot included.
    pub fn prefix(self) -> &'static str {
        match self {
            AttrScope::None => ".",
            AttrScope::Span => "span.",
            AttrScope::Resource => "resource.",
            AttrScope::Event => "event.",
            AttrScope::Link => "link.",
            AttrScope::Instrumentation => "instrumentation.",
            AttrScope::Parent => "parent.",
            AttrScope::ParentSpan => "parent.span.",
            AttrScope::ParentResource => "parent.resource.",
        }
    }

    pub fn is_parent(self) -> bool {
        matches!(
            self,
            AttrScope::Parent | AttrScope::ParentSpan | AttrScope::ParentResource
        )
    }
}

/// Values every span (or trace) has, as opposed to attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Intrinsic {
    Duration,
    Name,
    Status,
    StatusMessage,
    Kind,
    SpanId,
    ParentId,
    ChildCount,
    TraceDuration,
    RootName,
    RootService,
    TraceId,
    EventName,
    EventTimeSinceStart,
    LinkTraceId,
    LinkSpanId,
    InstrumentationName,
    InstrumentationVersion,
    NestedSetLeft,
    NestedSetRight,
    NestedSetParent,
    /// `parent` on its own: reserved, validates as unsupported.
    Parent,
}

/// The static type an intrinsic has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaticType {
    Nil,
    Bool,
    Int,
    Float,
    Duration,
    String,
    Status,
    Kind,
    /// An attribute: its type is only known per span at run time.
    Attribute,
    /// Arithmetic over attributes: some number, type known at run time.
    Number,
}

impl StaticType {
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            StaticType::Int | StaticType::Float | StaticType::Duration | StaticType::Number
        )
    }
}

impl Intrinsic {
    /// Every intrinsic with its canonical spelling. The canonical form is the legacy unscoped
    /// name where Tempo has one (`duration`, `name`), the scoped one otherwise.
    pub const ALL: [(Intrinsic, &'static str); 22] = [
        (Intrinsic::Duration, "duration"),
        (Intrinsic::Name, "name"),
        (Intrinsic::Status, "status"),
        (Intrinsic::StatusMessage, "statusMessage"),
        (Intrinsic::Kind, "kind"),
        (Intrinsic::SpanId, "span:id"),
        (Intrinsic::ParentId, "span:parentID"),
        (Intrinsic::ChildCount, "span:childCount"),
        (Intrinsic::TraceDuration, "traceDuration"),
        (Intrinsic::RootName, "rootName"),
        (Intrinsic::RootService, "rootServiceName"),
        (Intrinsic::TraceId, "trace:id"),
        (Intrinsic::EventName, "event:name"),
        (Intrinsic::EventTimeSinceStart, "event:timeSinceStart"),
        (Intrinsic::LinkTraceId, "link:traceID"),
        (Intrinsic::LinkSpanId, "link:spanID"),
        (Intrinsic::InstrumentationName, "instrumentation:name"),
        (Intrinsic::InstrumentationVersion, "instrumentation:version"),
        (Intrinsic::NestedSetLeft, "nestedSetLeft"),
        (Intrinsic::NestedSetRight, "nestedSetRight"),
        (Intrinsic::NestedSetParent, "nestedSetParent"),
        (Intrinsic::Parent, "parent"),
    ];

    /// The canonical TraceQL spelling.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(i, _)| *i == self)
            .map(|(_, s)| *s)
            .unwrap_or("?")
    }

    /// A bare word (`duration`, `rootServiceName`) as an intrinsic.
    pub fn from_unscoped(word: &str) -> Option<Intrinsic> {
        Some(match word {
            "duration" => Intrinsic::Duration,
            "name" => Intrinsic::Name,
            "status" => Intrinsic::Status,
            "statusMessage" => Intrinsic::StatusMessage,
            "kind" => Intrinsic::Kind,
            "traceDuration" => Intrinsic::TraceDuration,
            "rootName" => Intrinsic::RootName,
            "rootServiceName" => Intrinsic::RootService,
            "nestedSetLeft" => Intrinsic::NestedSetLeft,
            "nestedSetRight" => Intrinsic::NestedSetRight,
            "nestedSetParent" => Intrinsic::NestedSetParent,
            "parent" => Intrinsic::Parent,
            _ => return None,
        })
    }

    /// `scope:name` as an intrinsic; mismatched pairs such as `trace:status` are `None`.
    pub fn from_scoped(scope: &str, name: &str) -> Option<Intrinsic> {
        Some(match (scope, name) {
            ("span", "duration") => Intrinsic::Duration,
            ("span", "name") => Intrinsic::Name,
            ("span", "status") => Intrinsic::Status,
            ("span", "statusMessage") => Intrinsic::StatusMessage,
            ("span", "kind") => Intrinsic::Kind,
            ("span", "id") => Intrinsic::SpanId,
            ("span", "parentID") => Intrinsic::ParentId,
            ("span", "childCount") => Intrinsic::ChildCount,
            ("trace", "duration") => Intrinsic::TraceDuration,
            ("trace", "rootName") => Intrinsic::RootName,
            ("trace", "rootService") => Intrinsic::RootService,
            ("trace", "id") => Intrinsic::TraceId,
            ("event", "name") => Intrinsic::EventName,
            ("event", "timeSinceStart") => Intrinsic::EventTimeSinceStart,
            ("link", "traceID") => Intrinsic::LinkTraceId,
            ("link", "spanID") => Intrinsic::LinkSpanId,
            ("instrumentation", "name") => Intrinsic::InstrumentationName,
            ("instrumentation", "version") => Intrinsic::InstrumentationVersion,
            _ => return None,
        })
    }

    /// The type of the intrinsic's value.
    pub fn static_type(self) -> StaticType {
        match self {
            Intrinsic::Duration | Intrinsic::TraceDuration | Intrinsic::EventTimeSinceStart => {
                StaticType::Duration
            }
            Intrinsic::Status => StaticType::Status,
            Intrinsic::Kind => StaticType::Kind,
            Intrinsic::ChildCount
            | Intrinsic::NestedSetLeft
            | Intrinsic::NestedSetRight
            | Intrinsic::NestedSetParent => StaticType::Int,
            Intrinsic::Parent => StaticType::Attribute,
            _ => StaticType::String,
        }
    }

    /// True for intrinsics read from an event or a link (evaluated once per event / link).
    pub fn is_event(self) -> bool {
        matches!(self, Intrinsic::EventName | Intrinsic::EventTimeSinceStart)
    }

    pub fn is_link(self) -> bool {
        matches!(self, Intrinsic::LinkTraceId | Intrinsic::LinkSpanId)
    }

    /// True when evaluating the intrinsic needs the trace's parent/child structure.
    pub fn needs_structure(self) -> bool {
        matches!(
            self,
            Intrinsic::ChildCount
                | Intrinsic::NestedSetLeft
                | Intrinsic::NestedSetRight
                | Intrinsic::NestedSetParent
        )
    }
}

/// Something a query reads from a span: an attribute in a scope, or an intrinsic.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldRef {
    Attribute { scope: AttrScope, name: String },
    Intrinsic(Intrinsic),
}

impl FieldRef {
    /// The key Tempo uses for this field on result spans: the bare attribute name without its
    /// scope (`resource.service.name` → `service.name`), or the intrinsic's name.
    pub fn result_key(&self) -> String {
        match self {
            FieldRef::Attribute { name, .. } => name.clone(),
            FieldRef::Intrinsic(i) => {
                let s = i.as_str();
                s.split_once(':').map(|(_, n)| n).unwrap_or(s).to_string()
            }
        }
    }
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Static {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Nanoseconds.
    Duration(i64),
    Str(String),
    Status(StatusCode),
    Kind(SpanKind),
}

impl Static {
    pub fn static_type(&self) -> StaticType {
        match self {
            Static::Nil => StaticType::Nil,
            Static::Bool(_) => StaticType::Bool,
            Static::Int(_) => StaticType::Int,
            Static::Float(_) => StaticType::Float,
            Static::Duration(_) => StaticType::Duration,
            Static::Str(_) => StaticType::String,
            Static::Status(_) => StaticType::Status,
            Static::Kind(_) => StaticType::Kind,
        }
    }

    /// The value as a float, for numbers and durations (in nanoseconds).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Static::Int(v) | Static::Duration(v) => Some(*v as f64),
            Static::Float(v) => Some(*v),
            _ => None,
        }
    }
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Neq => "!=",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
        }
    }

    /// The operator with its operands swapped (`3 < .a` ≡ `.a > 3`).
    pub fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Lte => CmpOp::Gte,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Gte => CmpOp::Lte,
            other => other,
        }
    }
}

/// Arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

impl ArithOp {
    pub fn as_str(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Mod => "%",
            ArithOp::Pow => "^",
        }
    }
}

/// Binary operators inside `{ }` (and in aggregate / `by()` arguments).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    And,
    Or,
    Cmp(CmpOp),
    /// `=~`
    Match,
    /// `!~`
    NotMatch,
    Arith(ArithOp),
}

impl BinOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::And => "&&",
            BinOp::Or => "||",
            BinOp::Cmp(op) => op.as_str(),
            BinOp::Match => "=~",
            BinOp::NotMatch => "!~",
            BinOp::Arith(op) => op.as_str(),
        }
    }
}

/// Prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Not,
    Neg,
}

/// A compiled, size-limited regular expression, anchored at both ends as Tempo anchors them.
/// Compares by its source text.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub source: String,
    /// `None` when the source does not compile (validation reports it).
    pub regex: Option<Arc<regex::Regex>>,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// An expression over one span's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Static(Static),
    Field(FieldRef),
    /// The string on the right of `=~` / `!~`, compiled once.
    Pattern(Pattern),
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    Paren(Box<Expr>),
}

impl Expr {
    /// Calls `f` on every field the expression reads.
    pub fn for_each_field(&self, f: &mut dyn FnMut(&FieldRef)) {
        match &self.kind {
            ExprKind::Field(field) => f(field),
            ExprKind::Binary { lhs, rhs, .. } => {
                lhs.for_each_field(f);
                rhs.for_each_field(f);
            }
            ExprKind::Unary { expr, .. } | ExprKind::Paren(expr) => expr.for_each_field(f),
            ExprKind::Static(_) | ExprKind::Pattern(_) => {}
        }
    }

    /// True when the expression reads at least one field of the span.
    pub fn references_span(&self) -> bool {
        let mut any = false;
        self.for_each_field(&mut |_| any = true);
        any
    }
}

/// `{ expr }`: keeps the spans for which `expr` is true.
#[derive(Debug, Clone, PartialEq)]
pub struct SpansetFilter {
    pub expr: Expr,
    pub loc: Loc,
}

/// Operators between spansets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpansetOp {
    And,
    Or,
    Child,
    Parent,
    Descendant,
    Ancestor,
    Sibling,
    NotChild,
    NotParent,
    NotDescendant,
    NotAncestor,
    NotSibling,
    UnionChild,
    UnionParent,
    UnionDescendant,
    UnionAncestor,
    UnionSibling,
}

impl SpansetOp {
    pub fn as_str(self) -> &'static str {
        match self {
            SpansetOp::And => "&&",
            SpansetOp::Or => "||",
            SpansetOp::Child => ">",
            SpansetOp::Parent => "<",
            SpansetOp::Descendant => ">>",
            SpansetOp::Ancestor => "<<",
            SpansetOp::Sibling => "~",
            SpansetOp::NotChild => "!>",
            SpansetOp::NotParent => "!<",
            SpansetOp::NotDescendant => "!>>",
            SpansetOp::NotAncestor => "!<<",
            SpansetOp::NotSibling => "!~",
            SpansetOp::UnionChild => "&>",
            SpansetOp::UnionParent => "&<",
            SpansetOp::UnionDescendant => "&>>",
            SpansetOp::UnionAncestor => "&<<",
            SpansetOp::UnionSibling => "&~",
        }
    }
}

/// An expression over spansets: filters combined with `&&`, `||` and structural operators.
#[derive(Debug, Clone, PartialEq)]
pub enum SpansetExpr {
    Filter(SpansetFilter),
    /// A parenthesised pipeline: `({ a } | count() > 1)`.
    Group(Box<Pipeline>),
    Op {
        op: SpansetOp,
        lhs: Box<SpansetExpr>,
        rhs: Box<SpansetExpr>,
        loc: Loc,
    },
}

/// Aggregate functions of a scalar filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateFn {
    Count,
    Avg,
    Min,
    Max,
    Sum,
}

impl AggregateFn {
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateFn::Count => "count",
            AggregateFn::Avg => "avg",
            AggregateFn::Min => "min",
            AggregateFn::Max => "max",
            AggregateFn::Sum => "sum",
        }
    }
}

/// `count()`, `avg(duration)`, …: one number per spanset.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub func: AggregateFn,
    /// `None` for `count()`.
    pub expr: Option<Expr>,
    pub loc: Loc,
}

/// One side of a scalar filter.
#[derive(Debug, Clone, PartialEq)]
pub enum ScalarExpr {
    Aggregate(Aggregate),
    Static(Static, Loc),
    Binary {
        op: ArithOp,
        lhs: Box<ScalarExpr>,
        rhs: Box<ScalarExpr>,
    },
    Paren(Box<ScalarExpr>),
    /// `({ a } | count())`: a pipeline ending in an aggregate (parses; unsupported, as in Tempo).
    Pipeline(Box<Pipeline>, Aggregate),
}

/// `aggregate OP static`, e.g. `count() > 2`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarFilter {
    pub op: CmpOp,
    pub lhs: ScalarExpr,
    pub rhs: ScalarExpr,
    pub loc: Loc,
}

/// One element of a spanset pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Spans(SpansetExpr),
    Scalar(ScalarFilter),
    /// `by(expr)`: one spanset per distinct value.
    By(Expr),
    /// `coalesce()`: all spansets of the trace merged into one.
    Coalesce,
    /// `select(a, b)`: fetch more fields for the result spans.
    Select(Vec<FieldRef>),
}

/// Stages separated by `|`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub stages: Vec<Stage>,
}

/// Metrics functions (evaluated by the store's `query_range`).
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsFunction {
    Rate,
    CountOverTime,
    MinOverTime(FieldRef),
    MaxOverTime(FieldRef),
    AvgOverTime(FieldRef),
    SumOverTime(FieldRef),
    QuantileOverTime(FieldRef, Vec<f64>),
    HistogramOverTime(FieldRef),
    Compare {
        filter: SpansetFilter,
        top_n: Option<i64>,
        start: Option<i64>,
        end: Option<i64>,
    },
}

impl MetricsFunction {
    pub fn name(&self) -> &'static str {
        match self {
            MetricsFunction::Rate => "rate",
            MetricsFunction::CountOverTime => "count_over_time",
            MetricsFunction::MinOverTime(_) => "min_over_time",
            MetricsFunction::MaxOverTime(_) => "max_over_time",
            MetricsFunction::AvgOverTime(_) => "avg_over_time",
            MetricsFunction::SumOverTime(_) => "sum_over_time",
            MetricsFunction::QuantileOverTime(..) => "quantile_over_time",
            MetricsFunction::HistogramOverTime(_) => "histogram_over_time",
            MetricsFunction::Compare { .. } => "compare",
        }
    }

    /// The attribute or intrinsic the function aggregates, if it takes one.
    pub fn field(&self) -> Option<&FieldRef> {
        match self {
            MetricsFunction::MinOverTime(f)
            | MetricsFunction::MaxOverTime(f)
            | MetricsFunction::AvgOverTime(f)
            | MetricsFunction::SumOverTime(f)
            | MetricsFunction::QuantileOverTime(f, _)
            | MetricsFunction::HistogramOverTime(f) => Some(f),
            _ => None,
        }
    }
}

/// `<spanset pipeline> | fn(args) by (a, b)`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsAggregate {
    pub input: Pipeline,
    pub function: MetricsFunction,
    pub by: Vec<FieldRef>,
    pub loc: Loc,
}

/// Stages applied to metrics series.
#[derive(Debug, Clone, PartialEq)]
pub enum SecondStage {
    TopK(u64, Loc),
    BottomK(u64, Loc),
    /// Drop points that fail `value OP threshold` (durations are given in seconds).
    Filter {
        op: CmpOp,
        value: f64,
    },
}

/// Arithmetic between metrics series and scalars.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsExpr {
    Aggregate(MetricsAggregate),
    Paren(Box<MetricsQuery>),
    Scalar(f64),
    Binary {
        op: ArithOp,
        lhs: Box<MetricsExpr>,
        rhs: Box<MetricsExpr>,
        loc: Loc,
    },
}

/// A metrics query: an expression and its second stages.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsQuery {
    pub expr: MetricsExpr,
    pub stages: Vec<SecondStage>,
}

impl MetricsQuery {
    /// Every metrics aggregate in the query, left to right.
    pub fn aggregates(&self) -> Vec<&MetricsAggregate> {
        fn walk<'a>(e: &'a MetricsExpr, out: &mut Vec<&'a MetricsAggregate>) {
            match e {
                MetricsExpr::Aggregate(a) => out.push(a),
                MetricsExpr::Paren(q) => walk(&q.expr, out),
                MetricsExpr::Scalar(_) => {}
                MetricsExpr::Binary { lhs, rhs, .. } => {
                    walk(lhs, out);
                    walk(rhs, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.expr, &mut out);
        out
    }
}

/// `with(name = value)` at the end of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryHint {
    pub name: String,
    pub value: Static,
}

/// What a query is: a spanset pipeline (search) or a metrics query (query_range).
#[derive(Debug, Clone, PartialEq)]
pub enum Root {
    Spans(Pipeline),
    Metrics(MetricsQuery),
}
