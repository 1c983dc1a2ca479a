//! Validation: the checks Tempo runs after parsing (`ast_validate.go`), with the same split
//! between "invalid" ([`ErrorKind::Validate`]) and "not supported yet"
//! ([`ErrorKind::Unsupported`]), plus lint warnings for valid queries that probably do not mean
//! what the learner thinks.
//!
//! Types are static where Tempo's are: literals and intrinsics have a type, attributes are only
//! known per span ([`StaticType::Attribute`]) and pass any check that could succeed at run time.

use crate::ast::*;
use crate::error::{Error, ErrorKind};
use std::ops::Range;

/// A valid query that probably does not ask what its author meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub span: Range<usize>,
    pub message: String,
    pub hint: Option<String>,
}

/// How many attributes a metrics `by (…)` may name (as in Tempo).
pub const MAX_METRICS_GROUP_BY: usize = 5;

fn type_name(t: StaticType) -> &'static str {
    match t {
        StaticType::Nil => "nil",
        StaticType::Bool => "a boolean",
        StaticType::Int => "an integer",
        StaticType::Float => "a float",
        StaticType::Duration => "a duration",
        StaticType::String => "a string",
        StaticType::Status => "a status",
        StaticType::Kind => "a span kind",
        StaticType::Attribute => "an attribute",
        StaticType::Number => "a number",
    }
}

pub(crate) struct Validator {
    pub warnings: Vec<Warning>,
}

impl Validator {
    pub fn new() -> Self {
        Validator {
            warnings: Vec::new(),
        }
    }

    pub fn root(&mut self, root: &Root) -> Result<(), Error> {
        match root {
            Root::Spans(p) => self.pipeline(p, true),
            Root::Metrics(m) => self.metrics(m, true),
        }
    }

    fn pipeline(&mut self, p: &Pipeline, top: bool) -> Result<(), Error> {
        for (i, stage) in p.stages.iter().enumerate() {
            match stage {
                Stage::Spans(e) => {
                    self.spanset(e)?;
                    if top && i == 0 {
                        self.lint_and_of_filters(e);
                    }
                }
                Stage::Scalar(s) => self.scalar_filter(s)?,
                Stage::By(e) => {
                    self.expr_type(e)?;
                    if !e.references_span() {
                        return Err(Error::validate(
                            e.loc.0.clone(),
                            format!("by({e}) does not read anything from the spans"),
                        )
                        .with_hint(
                            "group by an attribute or intrinsic, e.g. `by(resource.service.name)`",
                        ));
                    }
                }
                Stage::Coalesce => {}
                Stage::Select(fields) => {
                    for field in fields {
                        field_supported(field, 0..0)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn spanset(&mut self, e: &SpansetExpr) -> Result<(), Error> {
        match e {
            SpansetExpr::Filter(f) => self.filter(f),
            SpansetExpr::Group(p) => self.pipeline(p, false),
            SpansetExpr::Op { lhs, rhs, .. } => {
                self.spanset(lhs)?;
                self.spanset(rhs)
            }
        }
    }

    pub fn filter(&mut self, f: &SpansetFilter) -> Result<(), Error> {
        let t = self.expr_type(&f.expr)?;
        if !matches!(t, StaticType::Bool | StaticType::Attribute) {
            return Err(Error::validate(
                f.expr.loc.0.clone(),
                format!(
                    "a spanset filter needs a condition, but `{}` is {}",
                    f.expr,
                    type_name(t)
                ),
            )
            .with_hint(
                "compare it with something, e.g. `{ status = error }` or `{ duration > 1s }`",
            ));
        }
        Ok(())
    }

    /// The static type of a field expression, checking operand types on the way.
    pub fn expr_type(&mut self, e: &Expr) -> Result<StaticType, Error> {
        let loc = e.loc.0.clone();
        match &e.kind {
            ExprKind::Static(s) => Ok(s.static_type()),
            ExprKind::Pattern(_) => Ok(StaticType::String),
            ExprKind::Field(field) => {
                field_supported(field, loc)?;
                Ok(match field {
                    FieldRef::Attribute { .. } => StaticType::Attribute,
                    FieldRef::Intrinsic(i) => i.static_type(),
                })
            }
            ExprKind::Paren(inner) => self.expr_type(inner),
            ExprKind::Unary { op, expr } => {
                let t = self.expr_type(expr)?;
                match op {
                    UnaryOp::Not if matches!(t, StaticType::Bool | StaticType::Attribute) => {
                        self.lint_negated_comparison(expr, loc);
                        Ok(StaticType::Bool)
                    }
                    UnaryOp::Not => Err(Error::validate(
                        loc,
                        format!("`!` negates a condition, but `{expr}` is {}", type_name(t)),
                    )),
                    UnaryOp::Neg if t == StaticType::Attribute => Ok(StaticType::Number),
                    UnaryOp::Neg if t.is_numeric() => Ok(t),
                    UnaryOp::Neg => Err(Error::validate(
                        loc,
                        format!("`-` negates a number, but `{expr}` is {}", type_name(t)),
                    )),
                }
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let lt = self.expr_type(lhs)?;
                let rt = self.expr_type(rhs)?;
                self.binary_type(*op, lhs, rhs, lt, rt, loc)
            }
        }
    }

    fn binary_type(
        &mut self,
        op: BinOp,
        lhs: &Expr,
        rhs: &Expr,
        lt: StaticType,
        rt: StaticType,
        loc: Range<usize>,
    ) -> Result<StaticType, Error> {
        use StaticType as T;
        let attr = |t: T| matches!(t, T::Attribute);
        let mismatch = || {
            Error::validate(
                loc.clone(),
                format!(
                    "`{}` cannot be applied to {} (`{lhs}`) and {} (`{rhs}`)",
                    op.as_str(),
                    type_name(lt),
                    type_name(rt)
                ),
            )
        };
        match op {
            BinOp::And | BinOp::Or => {
                if matches!(lt, T::Bool | T::Attribute) && matches!(rt, T::Bool | T::Attribute) {
                    Ok(T::Bool)
                } else {
                    Err(mismatch().with_hint(
                        "&& and || join conditions, e.g. `{ status = error && duration > 1s }`",
                    ))
                }
            }
            BinOp::Arith(_) => {
                let ok = |t: T| t.is_numeric() || attr(t);
                if !(ok(lt) && ok(rt)) {
                    return Err(mismatch().with_hint("arithmetic works on numbers and durations"));
                }
                Ok(match (lt, rt) {
                    (T::Int, T::Int) => T::Int,
                    (T::Duration, _) | (_, T::Duration) if !attr(lt) && !attr(rt) => T::Duration,
                    (T::Float, _) | (_, T::Float) if !attr(lt) && !attr(rt) => T::Float,
                    _ => T::Number,
                })
            }
            BinOp::Match | BinOp::NotMatch => {
                if !matches!(rhs.kind, ExprKind::Pattern(_)) {
                    return Err(Error::validate(
                        rhs.loc.0.clone(),
                        format!(
                            "the right side of `{}` must be a string holding a regular expression",
                            op.as_str()
                        ),
                    )
                    .with_hint("e.g. `{ name =~ \"GET /api/.*\" }`"));
                }
                if !matches!(lt, T::String | T::Attribute) {
                    return Err(mismatch().with_hint("regular expressions match strings"));
                }
                Ok(T::Bool)
            }
            BinOp::Cmp(cmp) => {
                self.lint_duration_without_unit(lhs, rhs);
                let nil_side = match (&lhs.kind, &rhs.kind) {
                    (ExprKind::Static(Static::Nil), _) => Some(rhs),
                    (_, ExprKind::Static(Static::Nil)) => Some(lhs),
                    _ => None,
                };
                if let Some(other) = nil_side {
                    return self
                        .nil_comparison(cmp, other, lt, rt, loc.clone())
                        .map(|_| T::Bool);
                }
                let compatible = match cmp {
                    CmpOp::Eq | CmpOp::Neq => {
                        lt == rt || attr(lt) || attr(rt) || (lt.is_numeric() && rt.is_numeric())
                    }
                    _ => {
                        let orderable =
                            |t: T| t.is_numeric() || matches!(t, T::String | T::Attribute);
                        orderable(lt)
                            && orderable(rt)
                            && (attr(lt)
                                || attr(rt)
                                || (lt.is_numeric() && rt.is_numeric())
                                || (lt == T::String && rt == T::String))
                    }
                };
                if compatible {
                    Ok(T::Bool)
                } else {
                    let hint = match (lt, rt) {
                        (T::Status, _) | (_, T::Status)
                            if matches!(cmp, CmpOp::Eq | CmpOp::Neq) =>
                        {
                            "status is compared with ok, error or unset (no quotes): `{ status = error }`"
                        }
                        (T::Kind, _) | (_, T::Kind) if matches!(cmp, CmpOp::Eq | CmpOp::Neq) => {
                            "kind is compared with server, client, internal, producer, consumer or unspecified (no quotes)"
                        }
                        (T::Status | T::Kind | T::Bool, _) | (_, T::Status | T::Kind | T::Bool) => {
                            "statuses, kinds and booleans only support = and !="
                        }
                        _ => {
                            "compare values of the same type: numbers with numbers, strings with strings"
                        }
                    };
                    Err(mismatch().with_hint(hint))
                }
            }
        }
    }

    fn nil_comparison(
        &mut self,
        cmp: CmpOp,
        other: &Expr,
        lt: StaticType,
        rt: StaticType,
        loc: Range<usize>,
    ) -> Result<(), Error> {
        if !matches!(cmp, CmpOp::Eq | CmpOp::Neq) {
            return Err(Error::validate(
                loc,
                format!(
                    "nil can only be compared with = or !=, not `{}`",
                    cmp.as_str()
                ),
            ));
        }
        let other_type = if lt == StaticType::Nil { rt } else { lt };
        match &other.kind {
            ExprKind::Static(Static::Nil) => Ok(()),
            ExprKind::Field(FieldRef::Intrinsic(i)) if cmp == CmpOp::Eq => Err(Error::validate(
                loc,
                format!(
                    "{} is an intrinsic, and TraceQL never compares an intrinsic with nil (Tempo \
                     refuses it too){}",
                    i.as_str(),
                    if i.as_str() == "span:parentID" {
                        "; to ask about a trace's root span, use trace:rootService or trace:rootName"
                    } else {
                        ""
                    }
                ),
            )),
            ExprKind::Field(FieldRef::Attribute { scope: AttrScope::Resource, name }) if cmp == CmpOp::Eq && name == "service.name" => {
                Err(Error::validate(loc, "every span has resource.service.name, so it is never nil"))
            }
            _ if other_type == StaticType::Attribute || matches!(other.kind, ExprKind::Field(_)) => Ok(()),
            _ => Err(Error::validate(loc, format!("only attributes can be compared with nil, not `{other}`"))
                .with_hint("`.attr = nil` asks for spans without the attribute, `.attr != nil` for spans with it")),
        }
    }

    fn scalar_filter(&mut self, s: &ScalarFilter) -> Result<(), Error> {
        self.scalar_expr(&s.lhs)?;
        self.scalar_expr(&s.rhs)?;
        let simple =
            matches!(s.lhs, ScalarExpr::Aggregate(_)) && matches!(s.rhs, ScalarExpr::Static(..));
        if !simple {
            return Err(Error::unsupported(
                s.loc.0.clone(),
                "only scalar filters of the form `aggregate OP number` are supported yet",
            )
            .with_hint("e.g. `count() > 2` or `avg(duration) > 1s`"));
        }
        Ok(())
    }

    fn scalar_expr(&mut self, e: &ScalarExpr) -> Result<(), Error> {
        match e {
            ScalarExpr::Aggregate(a) => self.aggregate(a),
            ScalarExpr::Static(..) => Ok(()),
            ScalarExpr::Binary { lhs, rhs, .. } => {
                self.scalar_expr(lhs)?;
                self.scalar_expr(rhs)
            }
            ScalarExpr::Paren(inner) => self.scalar_expr(inner),
            ScalarExpr::Pipeline(p, a) => {
                self.pipeline(p, false)?;
                self.aggregate(a)
            }
        }
    }

    fn aggregate(&mut self, a: &Aggregate) -> Result<(), Error> {
        let Some(expr) = &a.expr else { return Ok(()) };
        let t = self.expr_type(expr)?;
        if !(t.is_numeric() || t == StaticType::Attribute) {
            return Err(Error::validate(
                expr.loc.0.clone(),
                format!(
                    "{}() needs a number, but `{expr}` is {}",
                    a.func.as_str(),
                    type_name(t)
                ),
            )
            .with_hint("aggregate a numeric attribute or duration, e.g. `avg(duration)`"));
        }
        if !expr.references_span() {
            return Err(Error::validate(
                expr.loc.0.clone(),
                format!(
                    "{}({expr}) does not read anything from the spans",
                    a.func.as_str()
                ),
            )
            .with_hint("aggregate an attribute or intrinsic, e.g. `max(duration)`"));
        }
        Ok(())
    }

    fn metrics(&mut self, m: &MetricsQuery, top: bool) -> Result<(), Error> {
        self.metrics_expr(&m.expr)?;
        for stage in &m.stages {
            if let SecondStage::TopK(0, loc) | SecondStage::BottomK(0, loc) = stage {
                return Err(Error::validate(
                    loc.0.clone(),
                    "topk() and bottomk() need a count above 0",
                ));
            }
        }
        let has_compare = m
            .aggregates()
            .iter()
            .any(|a| matches!(a.function, MetricsFunction::Compare { .. }));
        if has_compare
            && (!m.stages.is_empty() || !matches!(m.expr, MetricsExpr::Aggregate(_)) || !top)
        {
            let loc = m
                .aggregates()
                .first()
                .map(|a| a.loc.0.clone())
                .unwrap_or(0..0);
            return Err(Error::validate(
                loc,
                "compare() cannot be combined with second stages or arithmetic",
            ));
        }
        Ok(())
    }

    fn metrics_expr(&mut self, e: &MetricsExpr) -> Result<(), Error> {
        match e {
            MetricsExpr::Aggregate(a) => {
                self.pipeline(&a.input, false)?;
                let loc = a.loc.0.clone();
                if let Some(field) = a.function.field() {
                    field_supported(field, loc.clone())?;
                }
                for field in &a.by {
                    field_supported(field, loc.clone())?;
                }
                if a.by.len() > MAX_METRICS_GROUP_BY {
                    return Err(Error::validate(
                        loc,
                        format!("by() may name at most {MAX_METRICS_GROUP_BY} attributes"),
                    ));
                }
                match &a.function {
                    MetricsFunction::QuantileOverTime(_, qs)
                        if qs.iter().any(|q| !(0.0..=1.0).contains(q)) =>
                    {
                        Err(Error::validate(
                            loc,
                            "quantiles must be between 0 and 1, e.g. 0.99",
                        ))
                    }
                    MetricsFunction::Compare { filter, top_n, .. } => {
                        self.filter(filter)?;
                        if top_n.is_some_and(|n| n <= 0) {
                            return Err(Error::validate(
                                loc,
                                "compare()'s top count must be above 0",
                            ));
                        }
                        Ok(())
                    }
                    _ => Ok(()),
                }
            }
            MetricsExpr::Paren(q) => self.metrics(q, false),
            MetricsExpr::Scalar(_) => Ok(()),
            MetricsExpr::Binary { lhs, rhs, .. } => {
                self.metrics_expr(lhs)?;
                self.metrics_expr(rhs)
            }
        }
    }

    /// `!( … )` around a comparison: the pure evaluator keeps the spans where the comparison
    /// is false (spans without the attribute among them), but real Tempo pushes the inner
    /// comparison down to storage and so returns nothing (`reference/traceql.md` §7, §14.1).
    /// The lab's engine follows the evaluator; the warning keeps a query from working here
    /// and silently failing in Grafana.
    fn lint_negated_comparison(&mut self, inner: &Expr, loc: Range<usize>) {
        let mut e = inner;
        while let ExprKind::Paren(p) = &e.kind {
            e = p;
        }
        let ExprKind::Binary { op, lhs, rhs } = &e.kind else {
            return;
        };
        let opposite = match op {
            BinOp::Cmp(CmpOp::Eq) => "!=",
            BinOp::Cmp(CmpOp::Neq) => "=",
            BinOp::Cmp(CmpOp::Lt) => ">=",
            BinOp::Cmp(CmpOp::Lte) => ">",
            BinOp::Cmp(CmpOp::Gt) => "<=",
            BinOp::Cmp(CmpOp::Gte) => "<",
            BinOp::Match => "!~",
            BinOp::NotMatch => "=~",
            _ => return,
        };
        let attribute = [lhs, rhs]
            .into_iter()
            .find(|side| matches!(side.kind, ExprKind::Field(FieldRef::Attribute { .. })));
        let hint = match attribute {
            Some(field) => format!(
                "write the opposite comparison instead: `{lhs} {opposite} {rhs}`, and add `|| {field} = nil` if spans without `{field}` should match too"
            ),
            None => format!("write the opposite comparison instead: `{lhs} {opposite} {rhs}`"),
        };
        self.warnings.push(Warning {
            span: loc,
            message: "in Grafana Tempo a negated comparison `!( … )` returns nothing (its storage looks up the inner condition first); this lab's engine would return the spans where it is false".into(),
            hint: Some(hint),
        });
    }

    /// `duration > 100` means 100 nanoseconds: almost never what was meant.
    fn lint_duration_without_unit(&mut self, lhs: &Expr, rhs: &Expr) {
        for (a, b) in [(lhs, rhs), (rhs, lhs)] {
            if let (ExprKind::Field(FieldRef::Intrinsic(i)), ExprKind::Static(Static::Int(n))) =
                (&a.kind, &b.kind)
                && i.static_type() == StaticType::Duration
                && *n != 0
            {
                self.warnings.push(Warning {
                    span: b.loc.0.clone(),
                    message: format!("`{n}` has no unit, so it means {n} nanoseconds"),
                    hint: Some(format!("durations take a unit: `{n}ms` or `{n}s`")),
                });
            }
        }
    }

    /// `{ a } && { b }` asks for two (possibly different) spans; `{ a && b }` for one span.
    fn lint_and_of_filters(&mut self, e: &SpansetExpr) {
        if let SpansetExpr::Op {
            op: SpansetOp::And,
            lhs,
            rhs,
            loc,
        } = e
            && let (SpansetExpr::Filter(a), SpansetExpr::Filter(b)) = (&**lhs, &**rhs)
        {
            self.warnings.push(Warning {
                span: loc.0.clone(),
                message: "`{ … } && { … }` matches traces that have a span of each kind; they may be different spans".into(),
                hint: Some(format!(
                    "to ask for one span that meets both conditions, write `{{ ({}) && ({}) }}`",
                    a.expr, b.expr
                )),
            });
        }
    }
}

/// `parent.x` and `parent` parse but are not supported (as in Tempo).
fn field_supported(field: &FieldRef, loc: Range<usize>) -> Result<(), Error> {
    match field {
        FieldRef::Attribute { scope, .. } if scope.is_parent() => Err(Error::unsupported(
            loc,
            format!("`{field}`: the parent scope is not supported yet"),
        )
        .with_hint(
            "use a structural operator instead: `{ <parent condition> } > { <child condition> }`",
        )),
        FieldRef::Intrinsic(Intrinsic::Parent) => Err(Error::unsupported(
            loc,
            "`parent` is not supported yet",
        )
        .with_hint(
            "use a structural operator instead: `{ <parent condition> } > { <child condition> }`",
        )),
        _ => Ok(()),
    }
}

impl Warning {
    /// Like [`Error::render`]: the warning, the query line with a caret, and the hint.
    pub fn render(&self, query: &str) -> String {
        let as_error = Error {
            kind: ErrorKind::Validate,
            span: self.span.clone(),
            message: self.message.clone(),
            hint: self.hint.clone(),
        };
        let rendered = as_error.render(query);
        match rendered.split_once(": ") {
            Some((head, rest)) => {
                let position = head.trim_start_matches("invalid query ");
                format!("warning {position}: {rest}")
            }
            None => rendered,
        }
    }
}
