//! A query's syntax tree as an indented outline, for `dojo traceql explain` and the course's
//! TraceQL console: it shows how the parser grouped the query (which operator binds first,
//! what each stage receives), which is what a learner needs to see when a query surprises them.

use crate::Query;
use crate::ast::*;
use crate::display::attribute_name;
use std::fmt::Write;

/// The outline of a query, one node per line, children indented by two spaces.
pub fn tree(query: &Query) -> String {
    let mut out = Tree::default();
    match query.root() {
        Root::Spans(p) => out.pipeline(p, 0),
        Root::Metrics(m) => out.metrics(m, 0),
    }
    for h in query.hints() {
        out.line(0, format!("hint {}", h));
    }
    out.text
}

#[derive(Default)]
struct Tree {
    text: String,
}

impl Tree {
    fn line(&mut self, depth: usize, s: impl AsRef<str>) {
        let _ = writeln!(self.text, "{}{}", "  ".repeat(depth), s.as_ref());
    }

    fn pipeline(&mut self, p: &Pipeline, d: usize) {
        if p.stages.len() == 1 {
            self.stage(&p.stages[0], d);
            return;
        }
        self.line(
            d,
            format!(
                "pipeline ({} stages, each receives the spansets of the one before)",
                p.stages.len()
            ),
        );
        for stage in &p.stages {
            self.stage(stage, d + 1);
        }
    }

    fn stage(&mut self, s: &Stage, d: usize) {
        match s {
            Stage::Spans(e) => self.spanset(e, d),
            Stage::Scalar(f) => {
                self.line(d, format!("scalar filter {} (per spanset)", f.op.as_str()));
                self.scalar(&f.lhs, d + 1);
                self.scalar(&f.rhs, d + 1);
            }
            Stage::By(e) => {
                self.line(d, "by (one spanset per distinct value)");
                self.expr(e, d + 1);
            }
            Stage::Coalesce => self.line(d, "coalesce (merge all spansets into one)"),
            Stage::Select(fields) => {
                self.line(d, "select (fetch for the result spans)");
                for f in fields {
                    self.field(f, d + 1);
                }
            }
        }
    }

    fn spanset(&mut self, e: &SpansetExpr, d: usize) {
        match e {
            SpansetExpr::Filter(f) => {
                self.line(d, "spanset filter (keeps the spans for which this is true)");
                self.expr(&f.expr, d + 1);
            }
            SpansetExpr::Group(p) => {
                self.line(d, "( )");
                self.pipeline(p, d + 1);
            }
            SpansetExpr::Op { op, lhs, rhs, .. } => {
                let meaning = match op {
                    SpansetOp::And => "both sides match: spans of both",
                    SpansetOp::Or => "either side matches: spans of either",
                    SpansetOp::Child => "right spans whose parent is a left span",
                    SpansetOp::Parent => "right spans that are the parent of a left span",
                    SpansetOp::Descendant => "right spans below a left span",
                    SpansetOp::Ancestor => "right spans above a left span",
                    SpansetOp::Sibling => "right spans with a sibling among the left spans",
                    SpansetOp::NotChild => "right spans whose parent is not a left span",
                    SpansetOp::NotParent => "right spans that are not the parent of a left span",
                    SpansetOp::NotDescendant => "right spans not below any left span",
                    SpansetOp::NotAncestor => "right spans not above any left span",
                    SpansetOp::NotSibling => "right spans with no sibling among the left spans",
                    SpansetOp::UnionChild => "parent/child pairs: spans from both sides",
                    SpansetOp::UnionParent => "child/parent pairs: spans from both sides",
                    SpansetOp::UnionDescendant => {
                        "ancestor/descendant pairs: spans from both sides"
                    }
                    SpansetOp::UnionAncestor => "descendant/ancestor pairs: spans from both sides",
                    SpansetOp::UnionSibling => "sibling pairs: spans from both sides",
                };
                self.line(d, format!("spanset {} ({meaning})", op.as_str()));
                self.spanset(lhs, d + 1);
                self.spanset(rhs, d + 1);
            }
        }
    }

    fn scalar(&mut self, e: &ScalarExpr, d: usize) {
        match e {
            ScalarExpr::Aggregate(a) => {
                self.line(d, format!("aggregate {}()", a.func.as_str()));
                if let Some(x) = &a.expr {
                    self.expr(x, d + 1);
                }
            }
            ScalarExpr::Static(s, _) => self.line(d, format!("number {s}")),
            ScalarExpr::Binary { op, lhs, rhs } => {
                self.line(d, op.as_str());
                self.scalar(lhs, d + 1);
                self.scalar(rhs, d + 1);
            }
            ScalarExpr::Paren(x) => {
                self.line(d, "( )");
                self.scalar(x, d + 1);
            }
            ScalarExpr::Pipeline(p, a) => {
                self.line(d, format!("pipeline ending in {}()", a.func.as_str()));
                self.pipeline(p, d + 1);
            }
        }
    }

    fn field(&mut self, f: &FieldRef, d: usize) {
        let text = match f {
            FieldRef::Attribute { scope, name } => {
                let quoted = attribute_name(*scope, name);
                let where_ = match scope {
                    AttrScope::None => "span attributes, then resource attributes",
                    AttrScope::Span => "span attributes",
                    AttrScope::Resource => "resource attributes",
                    AttrScope::Event => "attributes of each event",
                    AttrScope::Link => "attributes of each link",
                    AttrScope::Instrumentation => "instrumentation scope attributes",
                    _ => "the parent span (not supported yet)",
                };
                format!("attribute {quoted:?} from {where_}")
            }
            FieldRef::Intrinsic(i) => format!("intrinsic {}", i.as_str()),
        };
        self.line(d, text);
    }

    fn expr(&mut self, e: &Expr, d: usize) {
        match &e.kind {
            ExprKind::Static(s) => {
                let kind = match s {
                    Static::Nil => "nil",
                    Static::Bool(_) => "boolean",
                    Static::Int(_) => "integer",
                    Static::Float(_) => "float",
                    Static::Duration(_) => "duration",
                    Static::Str(_) => "string",
                    Static::Status(_) => "status",
                    Static::Kind(_) => "kind",
                };
                self.line(d, format!("{kind} {s}"));
            }
            ExprKind::Field(f) => self.field(f, d),
            ExprKind::Pattern(p) => self.line(
                d,
                format!("regex ^(?s:{})$ (must match the whole value)", p.source),
            ),
            ExprKind::Binary { op, lhs, rhs } => {
                self.line(d, op.as_str());
                self.expr(lhs, d + 1);
                self.expr(rhs, d + 1);
            }
            ExprKind::Unary { op, expr } => {
                self.line(
                    d,
                    if *op == UnaryOp::Not {
                        "!"
                    } else {
                        "- (negate)"
                    },
                );
                self.expr(expr, d + 1);
            }
            ExprKind::Paren(x) => {
                self.line(d, "( )");
                self.expr(x, d + 1);
            }
        }
    }

    fn metrics(&mut self, m: &MetricsQuery, d: usize) {
        let inner = if m.stages.is_empty() {
            d
        } else {
            self.line(d, "metrics with second stages");
            for s in &m.stages {
                self.line(d + 1, s.to_string().trim_start_matches([' ', '|']).trim());
            }
            d + 1
        };
        match &m.expr {
            MetricsExpr::Aggregate(a) => {
                let by = if a.by.is_empty() {
                    String::new()
                } else {
                    format!(
                        " by ({})",
                        a.by.iter()
                            .map(|f| f.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                self.line(
                    inner,
                    format!("metrics {}{by} over the spans of", a.function),
                );
                self.pipeline(&a.input, inner + 1);
            }
            MetricsExpr::Paren(q) => {
                self.line(inner, "( )");
                self.metrics(q, inner + 1);
            }
            MetricsExpr::Scalar(v) => self.line(
                inner,
                format!("number {}", crate::display::format_number(*v)),
            ),
            MetricsExpr::Binary { op, lhs, rhs, .. } => {
                self.line(inner, op.as_str());
                for side in [lhs, rhs] {
                    self.metrics(
                        &MetricsQuery {
                            expr: (**side).clone(),
                            stages: Vec::new(),
                        },
                        inner + 1,
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::parse;

    #[test]
    fn the_tree_shows_how_operators_grouped() {
        let q = parse("{ .a = 1 || .b = 2 && .c = 3 } >> { } | count() > 1").unwrap();
        let text = super::tree(&q);
        assert_eq!(
            text,
            "pipeline (2 stages, each receives the spansets of the one before)
  spanset >> (right spans below a left span)
    spanset filter (keeps the spans for which this is true)
      &&
        ||
          =
            attribute \"a\" from span attributes, then resource attributes
            integer 1
          =
            attribute \"b\" from span attributes, then resource attributes
            integer 2
        =
          attribute \"c\" from span attributes, then resource attributes
          integer 3
    spanset filter (keeps the spans for which this is true)
      boolean true
  scalar filter > (per spanset)
    aggregate count()
    number 1
"
        );
    }

    #[test]
    fn metrics_queries_show_their_function_and_stages() {
        let q = parse("{ status = error } | rate() by (resource.service.name) | topk(3)").unwrap();
        let text = super::tree(&q);
        assert!(text.starts_with("metrics with second stages\n  topk(3)\n  metrics rate() by (resource.service.name) over the spans of\n"), "{text}");
    }
}
