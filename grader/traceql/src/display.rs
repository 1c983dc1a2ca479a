//! Canonical TraceQL text for a syntax tree.
//!
//! The printer writes back exactly the structure it was given (parentheses are nodes in the
//! tree), with normalised spacing, literals and names, so `parse(print(tree)) == tree`: the
//! round-trip the conformance test checks over Tempo's corpus.

use crate::ast::*;
use std::fmt::{self, Display, Formatter, Write};

/// A double-quoted string literal with Go escapes.
pub fn quote_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An attribute name as it must be written after its scope: bare when the lexer would read it
/// back as one name, quoted otherwise.
pub fn attribute_name(scope: AttrScope, name: &str) -> String {
    let needs_quotes = name.is_empty()
        || name.contains("//")
        || name.contains("/*")
        || name.chars().any(|c| {
            c.is_whitespace()
                || matches!(
                    c,
                    '{' | '}'
                        | '('
                        | ')'
                        | '='
                        | '~'
                        | '!'
                        | '<'
                        | '>'
                        | '&'
                        | '|'
                        | '^'
                        | ','
                        | '"'
                )
        })
        || (scope == AttrScope::None && name.starts_with(|c: char| c.is_ascii_digit()))
        || (scope == AttrScope::Parent
            && (name.starts_with("span.") || name.starts_with("resource.")));
    if !needs_quotes {
        return name.to_string();
    }
    let mut out = String::from("\"");
    for c in name.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A duration as exact compound units (`1h30m`, `1s500ms`, `250ms`).
pub fn format_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let mut rest = (nanos as i128).abs();
    let mut out = String::new();
    if nanos < 0 {
        out.push('-');
    }
    for (unit, size) in [
        ("h", 3_600_000_000_000i128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ] {
        if rest >= size {
            let _ = write!(out, "{}{unit}", rest / size);
            rest %= size;
        }
    }
    out
}

/// A float literal that reads back as a float (`1.0`, `0.5`, `1e21`).
pub fn format_float(v: f64) -> String {
    format!("{v:?}")
}

/// A plain number for metrics scalars and thresholds: integral values without a fraction.
pub fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        format!("{}", v as i64)
    } else if v.abs() >= 9.0e15 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

impl Display for Static {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Static::Nil => f.write_str("nil"),
            Static::Bool(b) => write!(f, "{b}"),
            Static::Int(i64::MIN) => f.write_str("minInt"),
            Static::Int(v) => write!(f, "{v}"),
            Static::Float(v) => f.write_str(&format_float(*v)),
            Static::Duration(v) => f.write_str(&format_duration(*v)),
            Static::Str(s) => f.write_str(&quote_string(s)),
            Static::Status(s) => f.write_str(s.traceql_name()),
            Static::Kind(k) => f.write_str(k.traceql_name()),
        }
    }
}

impl Display for FieldRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            FieldRef::Attribute { scope, name } => {
                write!(f, "{}{}", scope.prefix(), attribute_name(*scope, name))
            }
            FieldRef::Intrinsic(i) => f.write_str(i.as_str()),
        }
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Static(s) => write!(f, "{s}"),
            ExprKind::Field(field) => write!(f, "{field}"),
            ExprKind::Pattern(p) => f.write_str(&quote_string(&p.source)),
            ExprKind::Binary { op, lhs, rhs } => write!(f, "{lhs} {} {rhs}", op.as_str()),
            ExprKind::Unary {
                op: UnaryOp::Not,
                expr,
            } => write!(f, "!{expr}"),
            ExprKind::Unary {
                op: UnaryOp::Neg,
                expr,
            } => write!(f, "-{expr}"),
            ExprKind::Paren(inner) => write!(f, "({inner})"),
        }
    }
}

impl Display for SpansetFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.expr.kind == ExprKind::Static(Static::Bool(true)) {
            f.write_str("{ }")
        } else {
            write!(f, "{{ {} }}", self.expr)
        }
    }
}

impl Display for SpansetExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SpansetExpr::Filter(filter) => write!(f, "{filter}"),
            SpansetExpr::Group(p) => write!(f, "({p})"),
            SpansetExpr::Op { op, lhs, rhs, .. } => write!(f, "{lhs} {} {rhs}", op.as_str()),
        }
    }
}

impl Display for Aggregate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.expr {
            Some(e) => write!(f, "{}({e})", self.func.as_str()),
            None => write!(f, "{}()", self.func.as_str()),
        }
    }
}

impl Display for ScalarExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ScalarExpr::Aggregate(a) => write!(f, "{a}"),
            ScalarExpr::Static(s, _) => write!(f, "{s}"),
            ScalarExpr::Binary { op, lhs, rhs } => write!(f, "{lhs} {} {rhs}", op.as_str()),
            ScalarExpr::Paren(inner) => write!(f, "({inner})"),
            ScalarExpr::Pipeline(p, a) => write!(f, "({p} | {a})"),
        }
    }
}

fn write_list(f: &mut Formatter<'_>, fields: &[FieldRef]) -> fmt::Result {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{field}")?;
    }
    Ok(())
}

impl Display for Stage {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Spans(e) => write!(f, "{e}"),
            Stage::Scalar(s) => write!(f, "{} {} {}", s.lhs, s.op.as_str(), s.rhs),
            Stage::By(e) => write!(f, "by({e})"),
            Stage::Coalesce => f.write_str("coalesce()"),
            Stage::Select(fields) => {
                f.write_str("select(")?;
                write_list(f, fields)?;
                f.write_str(")")
            }
        }
    }
}

impl Display for Pipeline {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, stage) in self.stages.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{stage}")?;
        }
        Ok(())
    }
}

impl Display for MetricsFunction {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        f.write_str("(")?;
        match self {
            MetricsFunction::Rate | MetricsFunction::CountOverTime => {}
            MetricsFunction::QuantileOverTime(field, qs) => {
                write!(f, "{field}")?;
                for q in qs {
                    write!(f, ", {}", format_number(*q))?;
                }
            }
            MetricsFunction::Compare {
                filter,
                top_n,
                start,
                end,
            } => {
                write!(f, "{filter}")?;
                for v in [top_n, start, end].into_iter().flatten() {
                    write!(f, ", {v}")?;
                }
            }
            other => {
                if let Some(field) = other.field() {
                    write!(f, "{field}")?;
                }
            }
        }
        f.write_str(")")
    }
}

impl Display for MetricsAggregate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} | {}", self.input, self.function)?;
        if !self.by.is_empty() {
            f.write_str(" by (")?;
            write_list(f, &self.by)?;
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl Display for MetricsExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            MetricsExpr::Aggregate(a) => write!(f, "{a}"),
            MetricsExpr::Paren(q) => write!(f, "({q})"),
            MetricsExpr::Scalar(v) => f.write_str(&format_number(*v)),
            MetricsExpr::Binary { op, lhs, rhs, .. } => write!(f, "{lhs} {} {rhs}", op.as_str()),
        }
    }
}

impl Display for SecondStage {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SecondStage::TopK(n, _) => write!(f, " | topk({n})"),
            SecondStage::BottomK(n, _) => write!(f, " | bottomk({n})"),
            SecondStage::Filter { op, value } => {
                write!(f, " {} {}", op.as_str(), format_number(*value))
            }
        }
    }
}

impl Display for MetricsQuery {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)?;
        for stage in &self.stages {
            write!(f, "{stage}")?;
        }
        Ok(())
    }
}

impl Display for Root {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Root::Spans(p) => write!(f, "{p}"),
            Root::Metrics(m) => write!(f, "{m}"),
        }
    }
}

impl Display for QueryHint {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_exact_compound_units() {
        assert_eq!(format_duration(1_500_000_000), "1s500ms");
        assert_eq!(format_duration(5_400_000_000_000), "1h30m");
        assert_eq!(format_duration(-250_000_000), "-250ms");
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(i64::MIN), "-2562047h47m16s854ms775us808ns");
    }

    #[test]
    fn attribute_names_are_quoted_only_when_needed() {
        assert_eq!(
            attribute_name(AttrScope::Resource, "service.name"),
            "service.name"
        );
        assert_eq!(attribute_name(AttrScope::Span, "foo bar"), "\"foo bar\"");
        assert_eq!(attribute_name(AttrScope::None, "a\"b"), "\"a\\\"b\"");
        assert_eq!(attribute_name(AttrScope::None, "3x"), "\"3x\"");
    }

    #[test]
    fn numbers_print_so_they_read_back_the_same() {
        assert_eq!(format_float(1.0), "1.0");
        assert_eq!(format_number(10.0), "10");
        assert_eq!(format_number(0.5), "0.5");
        assert_eq!(format_number(1e21), "1e21");
    }
}
