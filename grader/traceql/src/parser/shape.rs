//! Step 2: shaping turns the loose tree into the typed [`crate::ast`], deciding from the
//! operands what each operator means, and rejecting what Tempo's grammar rejects
//! (`{ } | count()`, `{} | rate() + 5`, …) as parse errors.

use super::loose::Q;
use crate::ast::*;
use crate::error::Error;
use crate::lexer::Tok;
use std::ops::Range;

fn shape_err(span: Range<usize>, message: impl Into<String>) -> Error {
    Error::parse(span, message)
}

fn contains_metrics(q: &Q) -> bool {
    match q {
        Q::Metrics { .. } | Q::TopK(..) | Q::BottomK(..) => true,
        Q::Paren(x, _) => contains_metrics(x),
        Q::Bin { lhs, rhs, .. } | Q::Pipe { lhs, rhs } => {
            contains_metrics(lhs) || contains_metrics(rhs)
        }
        _ => false,
    }
}

pub(super) fn shape_root(q: Q) -> Result<Root, Error> {
    if contains_metrics(&q) {
        Ok(Root::Metrics(shape_metrics(q)?))
    } else {
        Ok(Root::Spans(shape_pipeline(q)?))
    }
}

fn cmp_op(tok: &Tok) -> Option<CmpOp> {
    Some(match tok {
        Tok::Eq => CmpOp::Eq,
        Tok::Neq => CmpOp::Neq,
        Tok::Lt => CmpOp::Lt,
        Tok::Lte => CmpOp::Lte,
        Tok::Gt => CmpOp::Gt,
        Tok::Gte => CmpOp::Gte,
        _ => return None,
    })
}

fn arith_op(tok: &Tok) -> Option<ArithOp> {
    Some(match tok {
        Tok::Plus => ArithOp::Add,
        Tok::Minus => ArithOp::Sub,
        Tok::Star => ArithOp::Mul,
        Tok::Slash => ArithOp::Div,
        Tok::Percent => ArithOp::Mod,
        Tok::Caret => ArithOp::Pow,
        _ => return None,
    })
}

fn spanset_op(tok: &Tok) -> Option<SpansetOp> {
    Some(match tok {
        Tok::And => SpansetOp::And,
        Tok::Or => SpansetOp::Or,
        Tok::Gt => SpansetOp::Child,
        Tok::Lt => SpansetOp::Parent,
        Tok::Desc => SpansetOp::Descendant,
        Tok::Anc => SpansetOp::Ancestor,
        Tok::Tilde => SpansetOp::Sibling,
        Tok::NotChild => SpansetOp::NotChild,
        Tok::NotParent => SpansetOp::NotParent,
        Tok::NotDesc => SpansetOp::NotDescendant,
        Tok::NotAnc => SpansetOp::NotAncestor,
        Tok::NotRe => SpansetOp::NotSibling,
        Tok::UnionChild => SpansetOp::UnionChild,
        Tok::UnionParent => SpansetOp::UnionParent,
        Tok::UnionDesc => SpansetOp::UnionDescendant,
        Tok::UnionAnc => SpansetOp::UnionAncestor,
        Tok::UnionSibling => SpansetOp::UnionSibling,
        _ => return None,
    })
}

// ----- metrics shaping

fn shape_metrics(q: Q) -> Result<MetricsQuery, Error> {
    let span = q.span();
    match q {
        Q::Pipe { lhs, rhs } => {
            let (rhs, filter) = split_threshold(*rhs)?;
            let is_top = matches!(rhs, Q::TopK(..));
            let mut mq = match rhs {
                Q::Metrics { function, by, span } => MetricsQuery {
                    expr: MetricsExpr::Aggregate(MetricsAggregate {
                        input: shape_pipeline(*lhs)?,
                        function,
                        by,
                        loc: Loc(span),
                    }),
                    stages: Vec::new(),
                },
                Q::TopK(n, s) | Q::BottomK(n, s) => {
                    if !contains_metrics(&lhs) {
                        let name = if is_top { "topk" } else { "bottomk" };
                        return Err(shape_err(s, format!("syntax error: {name}() needs a metrics query before it"))
                            .with_hint(format!("{name}() ranks metrics series: `{{ }} | rate() by (resource.service.name) | {name}(5)`")));
                    }
                    let mut mq = shape_metrics(*lhs)?;
                    mq.stages.push(if is_top {
                        SecondStage::TopK(n, Loc(s))
                    } else {
                        SecondStage::BottomK(n, Loc(s))
                    });
                    mq
                }
                other => {
                    return Err(shape_err(
                        other.span(),
                        "syntax error: after a metrics function only topk(), bottomk() or a comparison such as `> 10` may follow",
                    ));
                }
            };
            if let Some(stage) = filter {
                mq.stages.push(stage);
            }
            Ok(mq)
        }
        Q::Bin {
            op,
            op_span,
            lhs,
            rhs,
        } if cmp_op(&op).is_some() => {
            if !contains_metrics(&lhs) {
                return Err(shape_err(
                    op_span,
                    format!("syntax error: unexpected {}", op.symbol()),
                )
                .with_hint(
                    "comparisons with a number apply to metrics, e.g. `({ } | rate()) > 10`",
                ));
            }
            let mut mq = shape_metrics(*lhs)?;
            let value = threshold(&rhs)?;
            mq.stages.push(SecondStage::Filter {
                op: cmp_op(&op).unwrap_or(CmpOp::Eq),
                value,
            });
            Ok(mq)
        }
        Q::Bin { .. } | Q::Paren(..) | Q::Num(..) => Ok(MetricsQuery {
            expr: shape_metrics_expr(q)?,
            stages: Vec::new(),
        }),
        Q::Metrics { function, .. } => Err(shape_err(
            span,
            format!("syntax error: {}() needs spans to work on", function.name()),
        )
        .with_hint(format!("write `{{ }} | {}()`", function.name()))),
        _ => Err(shape_err(
            span,
            "syntax error: expecting a metrics query such as `{ } | rate()`",
        )),
    }
}

/// `rate() > 10` or `topk(5) > 10` as the right side of `|`: the function and its filter.
fn split_threshold(q: Q) -> Result<(Q, Option<SecondStage>), Error> {
    match q {
        Q::Bin { op, lhs, rhs, .. }
            if cmp_op(&op).is_some()
                && matches!(*lhs, Q::Metrics { .. } | Q::TopK(..) | Q::BottomK(..)) =>
        {
            let value = threshold(&rhs)?;
            Ok((
                *lhs,
                Some(SecondStage::Filter {
                    op: cmp_op(&op).unwrap_or(CmpOp::Eq),
                    value,
                }),
            ))
        }
        Q::Bin { ref lhs, .. } if matches!(**lhs, Q::Metrics { .. }) => Err(shape_err(
            q.span(),
            "syntax error: arithmetic on a metrics query needs parentheses around it",
        )
        .with_hint("write `({ } | rate()) * 100`")),
        other => Ok((other, None)),
    }
}

/// The number a metrics filter compares with: a number, a duration (in seconds), or
/// arithmetic on plain numbers.
fn threshold(q: &Q) -> Result<f64, Error> {
    match q {
        Q::Num(Static::Duration(ns), _) => Ok(*ns as f64 / 1e9),
        _ => scalar_constant(q).ok_or_else(|| {
            shape_err(q.span(), "syntax error: expecting a number").with_hint(
                "a metrics filter compares with a number, e.g. `> 10`; durations such as `> 2s` cannot be combined with arithmetic",
            )
        }),
    }
}

/// A constant built from plain numbers (no durations), folded.
fn scalar_constant(q: &Q) -> Option<f64> {
    match q {
        Q::Num(Static::Int(v), _) => Some(*v as f64),
        Q::Num(Static::Float(v), _) => Some(*v),
        Q::Paren(x, _) => scalar_constant(x),
        Q::Bin { op, lhs, rhs, .. } => {
            let (l, r) = (scalar_constant(lhs)?, scalar_constant(rhs)?);
            let v = match op {
                Tok::Plus => l + r,
                Tok::Minus => l - r,
                Tok::Star => l * r,
                Tok::Slash => l / r,
                _ => return None,
            };
            v.is_finite().then_some(v)
        }
        _ => None,
    }
}

fn shape_metrics_expr(q: Q) -> Result<MetricsExpr, Error> {
    let span = q.span();
    if let Some(v) = scalar_constant(&q) {
        return Ok(MetricsExpr::Scalar(v));
    }
    match q {
        Q::Num(Static::Duration(_), s) => Err(shape_err(s, "syntax error: unexpected duration")
            .with_hint(
                "metrics arithmetic works on plain numbers; durations are not allowed here",
            )),
        Q::Paren(inner, _) => Ok(MetricsExpr::Paren(Box::new(shape_metrics(*inner)?))),
        Q::Bin {
            op,
            op_span,
            lhs,
            rhs,
        } => {
            let Some(arith) = arith_op(&op).filter(|a| !matches!(a, ArithOp::Mod | ArithOp::Pow))
            else {
                return Err(shape_err(
                    op_span,
                    format!("syntax error: unexpected {}", op.symbol()),
                )
                .with_hint("metrics queries combine with + - * / only"));
            };
            let lhs = shape_metrics_expr(*lhs)?;
            let rhs = shape_metrics_expr(*rhs)?;
            Ok(MetricsExpr::Binary {
                op: arith,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                loc: Loc(span),
            })
        }
        Q::Pipe { .. } | Q::Metrics { .. } => Err(shape_err(
            span,
            "syntax error: a metrics query in arithmetic needs parentheses",
        )
        .with_hint("write `({ } | rate()) * 100`")),
        _ => Err(shape_err(
            span,
            "syntax error: expecting a number or a parenthesised metrics query",
        )),
    }
}

// ----- spanset pipeline shaping

fn shape_pipeline(q: Q) -> Result<Pipeline, Error> {
    let mut parts = Vec::new();
    flatten_pipe(q, &mut parts);
    let mut stages = Vec::with_capacity(parts.len());
    for (i, part) in parts.into_iter().enumerate() {
        stages.push(shape_stage(part, i == 0)?);
    }
    Ok(Pipeline { stages })
}

fn flatten_pipe(q: Q, out: &mut Vec<Q>) {
    match q {
        Q::Pipe { lhs, rhs } => {
            flatten_pipe(*lhs, out);
            out.push(*rhs);
        }
        other => out.push(other),
    }
}

fn is_scalarish(q: &Q) -> bool {
    match q {
        Q::Agg(_) | Q::Num(..) => true,
        Q::Paren(x, _) => is_scalarish(x) || is_scalar_pipeline(x),
        Q::Bin { op, lhs, rhs, .. } => {
            arith_op(op).is_some() && (is_scalarish(lhs) || is_scalarish(rhs))
        }
        _ => false,
    }
}

/// `{ a } | count()` (the inside of a wrapped scalar pipeline).
fn is_scalar_pipeline(q: &Q) -> bool {
    matches!(q, Q::Pipe { rhs, .. } if matches!(**rhs, Q::Agg(_)))
}

fn shape_stage(q: Q, first: bool) -> Result<Stage, Error> {
    let span = q.span();
    match q {
        Q::By(expr, _) => Ok(Stage::By(expr)),
        Q::Coalesce(s) => {
            if first {
                Err(shape_err(s, "syntax error: unexpected coalesce")
                    .with_hint("coalesce() merges the spansets of earlier stages, so it cannot start a pipeline"))
            } else {
                Ok(Stage::Coalesce)
            }
        }
        Q::Select(fields, _) => Ok(Stage::Select(fields)),
        Q::Agg(a) => Err(shape_err(
            a.loc.0.clone(),
            format!(
                "syntax error: {}() must be compared with a value",
                a.func.as_str()
            ),
        )
        .with_hint(format!(
            "an aggregate filters spansets by comparing, e.g. `{}(…) > 2`",
            a.func.as_str()
        ))),
        Q::Bin {
            op,
            op_span,
            lhs,
            rhs,
        } if is_scalarish(&lhs) || is_scalarish(&rhs) => {
            shape_scalar_filter(op, op_span, *lhs, *rhs).map(Stage::Scalar)
        }
        Q::Metrics { .. } | Q::TopK(..) | Q::BottomK(..) => Err(shape_err(
            span,
            "syntax error: a metrics function must end the spanset pipeline",
        )),
        Q::Num(..) => Err(
            shape_err(span, "syntax error: a number on its own is not a query")
                .with_hint("start with a spanset such as `{ duration > 1s }`"),
        ),
        Q::Paren(inner, _) if is_scalar_pipeline(&inner) => Err(shape_err(
            span,
            "syntax error: a pipeline ending in an aggregate must be compared with a value",
        )),
        other => shape_spanset(other).map(Stage::Spans),
    }
}

fn shape_spanset(q: Q) -> Result<SpansetExpr, Error> {
    let span = q.span();
    match q {
        Q::Filter(f) => Ok(SpansetExpr::Filter(f)),
        Q::Paren(inner, _) => Ok(SpansetExpr::Group(Box::new(shape_pipeline(*inner)?))),
        Q::Bin {
            op,
            op_span,
            lhs,
            rhs,
        } => {
            let Some(sop) = spanset_op(&op) else {
                return Err(shape_err(op_span, format!("syntax error: unexpected {}", op.symbol())).with_hint(
                    "between spansets use && or ||, or a structural operator: > < >> << ~ (with !… and &… forms)",
                ));
            };
            let lhs = shape_spanset(*lhs)?;
            let rhs = shape_spanset(*rhs)?;
            Ok(SpansetExpr::Op {
                op: sop,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                loc: Loc(span),
            })
        }
        Q::Agg(_) | Q::Num(..) => Err(shape_err(span, "syntax error: expecting a spanset { … }")
            .with_hint("a scalar filter is a pipeline stage of its own: `{ } | count() > 3`")),
        Q::Pipe { .. } => Err(shape_err(
            span,
            "syntax error: a pipeline inside an expression needs parentheses",
        )),
        _ => Err(shape_err(span, "syntax error: expecting a spanset { … }")),
    }
}

fn contains_agg(q: &Q) -> bool {
    match q {
        Q::Agg(_) => true,
        Q::Paren(x, _) => contains_agg(x) || is_scalar_pipeline(x),
        Q::Bin { lhs, rhs, .. } => contains_agg(lhs) || contains_agg(rhs),
        _ => false,
    }
}

fn contains_wrapped(q: &Q) -> bool {
    match q {
        Q::Paren(x, _) => is_scalar_pipeline(x) || contains_wrapped(x),
        Q::Bin { lhs, rhs, .. } => contains_wrapped(lhs) || contains_wrapped(rhs),
        _ => false,
    }
}

/// Only wrapped scalar pipelines combined with arithmetic (no numbers).
fn wrapped_only(q: &Q) -> bool {
    match q {
        Q::Paren(x, _) => is_scalar_pipeline(x) || wrapped_only(x),
        Q::Bin { lhs, rhs, .. } => wrapped_only(lhs) && wrapped_only(rhs),
        _ => false,
    }
}

fn shape_scalar_filter(
    op: Tok,
    op_span: Range<usize>,
    lhs: Q,
    rhs: Q,
) -> Result<ScalarFilter, Error> {
    let span = lhs.span().start..rhs.span().end;
    let Some(cmp) = cmp_op(&op) else {
        return Err(
            shape_err(op_span, format!("syntax error: unexpected {}", op.symbol()))
                .with_hint("an aggregate is compared with = != < <= > >=, e.g. `count() > 2`"),
        );
    };
    if !contains_agg(&lhs) && !contains_agg(&rhs) {
        return Err(shape_err(
            span,
            "syntax error: a scalar filter must compare an aggregate",
        )
        .with_hint(
            "compare an aggregate such as count() or avg(duration) with a number: `count() > 2`",
        ));
    }
    if (contains_wrapped(&lhs) || contains_wrapped(&rhs))
        && !(wrapped_only(&lhs) && (wrapped_only(&rhs) || matches!(rhs, Q::Num(..))))
    {
        return Err(shape_err(span, "syntax error: parenthesised pipelines can only be compared with a single number on the right")
            .with_hint("write `({ … } | count()) > 2`"));
    }
    Ok(ScalarFilter {
        op: cmp,
        lhs: shape_scalar(lhs)?,
        rhs: shape_scalar(rhs)?,
        loc: Loc(span),
    })
}

fn shape_scalar(q: Q) -> Result<ScalarExpr, Error> {
    let span = q.span();
    match q {
        Q::Agg(a) => Ok(ScalarExpr::Aggregate(a)),
        Q::Num(s, span) => Ok(ScalarExpr::Static(s, Loc(span))),
        Q::Paren(inner, pspan) => {
            if is_scalar_pipeline(&inner) {
                if let Q::Pipe { lhs, rhs } = *inner
                    && let Q::Agg(agg) = *rhs
                {
                    return Ok(ScalarExpr::Pipeline(Box::new(shape_pipeline(*lhs)?), agg));
                }
                return Err(shape_err(pspan, "syntax error: expecting an aggregate"));
            }
            match shape_scalar(*inner)? {
                ScalarExpr::Static(s, _) => Ok(ScalarExpr::Static(s, Loc(pspan))),
                other => Ok(ScalarExpr::Paren(Box::new(other))),
            }
        }
        Q::Bin {
            op,
            op_span,
            lhs,
            rhs,
        } => {
            let Some(arith) = arith_op(&op) else {
                return Err(shape_err(
                    op_span,
                    format!("syntax error: unexpected {}", op.symbol()),
                ));
            };
            let lhs = shape_scalar(*lhs)?;
            let rhs = shape_scalar(*rhs)?;
            if let (ScalarExpr::Static(a, _), ScalarExpr::Static(b, _)) = (&lhs, &rhs)
                && let Some(folded) = fold_static(arith, a, b)
            {
                return Ok(ScalarExpr::Static(folded, Loc(span)));
            }
            Ok(ScalarExpr::Binary {
                op: arith,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            })
        }
        _ => Err(shape_err(
            span,
            "syntax error: expecting an aggregate such as count() or a number",
        )),
    }
}

/// Folds arithmetic on two numeric literals; `None` when it cannot (types, overflow, `/0`).
pub(crate) fn fold_static(op: ArithOp, a: &Static, b: &Static) -> Option<Static> {
    if let (Static::Int(x), Static::Int(y)) = (a, b) {
        return match op {
            ArithOp::Add => x.checked_add(*y),
            ArithOp::Sub => x.checked_sub(*y),
            ArithOp::Mul => x.checked_mul(*y),
            ArithOp::Div => x.checked_div(*y),
            ArithOp::Mod => x.checked_rem(*y),
            ArithOp::Pow => u32::try_from(*y).ok().and_then(|e| x.checked_pow(e)),
        }
        .map(Static::Int);
    }
    let (x, y) = (a.as_f64()?, b.as_f64()?);
    let v = match op {
        ArithOp::Add => x + y,
        ArithOp::Sub => x - y,
        ArithOp::Mul => x * y,
        ArithOp::Div => x / y,
        ArithOp::Mod => x % y,
        ArithOp::Pow => x.powf(y),
    };
    if !v.is_finite() {
        return None;
    }
    let any_duration = matches!(a, Static::Duration(_)) || matches!(b, Static::Duration(_));
    if any_duration {
        (v.abs() < 9.2e18 && v.fract() == 0.0).then_some(Static::Duration(v as i64))
    } else {
        Some(Static::Float(v))
    }
}
