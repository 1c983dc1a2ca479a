//! Why a query matched nothing: variants of the learner's own query are run on the same
//! window, one change at a time, and the first that finds traces names the mistake —
//! `>` written for `>>`, the two sides of a structural operator swapped, an aggregate stage
//! (`| count() > 1`) where a condition on each span was meant, or the one condition that
//! no span meets (with the values that do occur for its field).
//!
//! Only the learner's query is varied, never the reference: the feedback says what in *their*
//! query empties the result, not what the answer is.

use dojo_traceql::ast::{
    BinOp, Expr, ExprKind, FieldRef, Loc, Pipeline, SpansetExpr, SpansetFilter, SpansetOp, Stage,
    Static,
};

use super::GradeError;
use super::feedback::Item;
use crate::backend::{BackendError, SearchHit, SearchRequest, TraceBackend};

/// How many traces each variant asks for: enough to list the values that occur.
const VARIANT_LIMIT: usize = 20;
/// How many distinct values of a field are listed.
const VALUES_SHOWN: usize = 6;

/// What one variant of the query changes.
#[derive(Debug, Clone, PartialEq)]
enum Change {
    /// `>` became `>>` (or `<` became `<<`).
    DirectForAny {
        wrote: &'static str,
        meant: &'static str,
    },
    /// `A op B` became `B op A`.
    Swapped { op: &'static str },
    /// The aggregate stage(s) were dropped.
    WithoutAggregate { stage: String },
    /// One condition of the `filter`th filter was dropped.
    WithoutCondition {
        filter: usize,
        condition: String,
        field: Option<FieldRef>,
    },
}

/// A variant of the learner's query and what it changes.
#[derive(Debug, Clone)]
struct Variant {
    query: String,
    change: Change,
}

/// The diagnosis of an empty result: a headline and an item with the details, or `None`
/// when no single change makes the query find anything.
pub async fn empty_result(
    backend: &dyn TraceBackend,
    template: &SearchRequest<'_>,
    pipeline: &Pipeline,
) -> Result<Option<(String, Item)>, GradeError> {
    // Structural and aggregate changes first, in order; then, filter by filter, the
    // conditions whose removal alone finds traces. Two or more in one filter mean no span
    // meets them together, which is said as such rather than blaming one of them.
    let mut found: Vec<(Variant, Vec<SearchHit>)> = Vec::new();
    for variant in variants(pipeline) {
        if let (Some((last, _)), Change::WithoutCondition { filter, .. }) =
            (found.last(), &variant.change)
        {
            let same_filter =
                matches!(&last.change, Change::WithoutCondition { filter: f, .. } if f == filter);
            if !same_filter {
                break;
            }
        }
        if let Some(hits) = search(backend, template, &variant.query).await?
            && !hits.is_empty()
        {
            let structural = !matches!(variant.change, Change::WithoutCondition { .. });
            found.push((variant, hits));
            if structural {
                break;
            }
        }
    }
    if found.len() > 1 {
        let listed: Vec<String> = found
            .iter()
            .filter_map(|(v, _)| match &v.change {
                Change::WithoutCondition { condition, .. } => Some(format!("`{condition}`")),
                _ => None,
            })
            .collect();
        return Ok(Some((
            format!(
                "Your query matched nothing because no span meets {} together: drop any one of \
                 them and it finds traces.",
                listed.join(" and ")
            ),
            Item::info(
                "What empties the result",
                "Each of those conditions is met by some spans, never all at once by one span. \
                 Look at a trace the question is about and check which of them its span really \
                 has.",
            ),
        )));
    }
    if let Some((variant, hits)) = found.pop() {
        let n = hits.len();
        let found = if n >= VARIANT_LIMIT {
            format!("at least {n} traces")
        } else {
            format!("{n} trace{}", if n == 1 { "" } else { "s" })
        };
        let (headline, detail) = match &variant.change {
            Change::DirectForAny { wrote, meant } => (
                format!(
                    "Your query matched nothing because `{wrote}` only reaches a direct child; \
                     with `{meant}` (any depth) it finds {found}."
                ),
                format!(
                    "`A {wrote} B` keeps the spans of B whose parent is a span of A. The spans you \
                     describe are further apart in the tree than one hop: `A {meant} B` allows \
                     any number of spans in between."
                ),
            ),
            Change::Swapped { op } => (
                format!(
                    "Your query matched nothing because the two sides of `{op}` are the wrong way \
                     round; swapped, it finds {found}."
                ),
                format!(
                    "In `A {op} B` the left side, A, is the one higher up the tree (the caller), \
                     and the spans returned are those of B. Put the span that is above on the left."
                ),
            ),
            Change::WithoutAggregate { stage } => (
                format!(
                    "Your query matched nothing because of `{stage}`: without that stage it finds \
                     {found}."
                ),
                format!(
                    "`{stage}` filters whole spansets by a number computed over their spans (a count, \
                     an average…), not each span. If you meant a condition on each span — its \
                     duration, its status — write it inside the braces, as in `{{ duration > 1s }}`."
                ),
            ),
            Change::WithoutCondition {
                condition, field, ..
            } => {
                let seen = match field {
                    Some(field) => values_seen(backend, template, &variant.query, field).await?,
                    None => Vec::new(),
                };
                let values = match (field, seen.is_empty()) {
                    (Some(field), false) => format!(
                        " Values of `{field}` that do occur there: {}.",
                        seen.join(", ")
                    ),
                    (Some(field), true) => format!(
                        " None of those spans has `{field}` at all: check the attribute's name and \
                         its scope (`span.` or `resource.`)."
                    ),
                    (None, _) => String::new(),
                };
                (
                    format!(
                        "Your query matched nothing because no span meets `{condition}` together with \
                         your other conditions; without it, your query finds {found}."
                    ),
                    format!(
                        "`{condition}` is the condition that empties the result.{values} Check its \
                         value's spelling and type (status codes are numbers, durations need a unit)."
                    ),
                )
            }
        };
        return Ok(Some((
            headline,
            Item::info("What empties the result", detail),
        )));
    }
    Ok(None)
}

/// Runs one variant; `None` when the store refuses it (a variant is only a guess).
async fn search(
    backend: &dyn TraceBackend,
    template: &SearchRequest<'_>,
    query: &str,
) -> Result<Option<Vec<SearchHit>>, GradeError> {
    let request = SearchRequest {
        query,
        limit: VARIANT_LIMIT,
        spans_per_spanset: 3,
        ..*template
    };
    match backend.search(request).await {
        Ok(hits) => Ok(Some(hits)),
        Err(BackendError::InvalidQuery { .. }) => Ok(None),
        Err(other) => Err(GradeError::Backend(other)),
    }
}

/// The distinct values of `field` on the spans `query` returns, most frequent first.
async fn values_seen(
    backend: &dyn TraceBackend,
    template: &SearchRequest<'_>,
    query: &str,
    field: &FieldRef,
) -> Result<Vec<String>, GradeError> {
    let with_field = format!("{query} | select({field})");
    let Some(hits) = search(backend, template, &with_field).await? else {
        return Ok(Vec::new());
    };
    let key = field.result_key();
    let mut counts: Vec<(String, usize)> = Vec::new();
    for span in hits.iter().flat_map(|h| &h.spansets).flat_map(|s| &s.spans) {
        for (k, v) in &span.attributes {
            if *k == key {
                match counts.iter_mut().find(|(seen, _)| seen == v) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((v.clone(), 1)),
                }
            }
        }
    }
    counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    Ok(counts
        .into_iter()
        .take(VALUES_SHOWN)
        .map(|(v, _)| v)
        .collect())
}

/// The variants to try, the most specific change first.
fn variants(pipeline: &Pipeline) -> Vec<Variant> {
    let mut out = Vec::new();
    let Some(Stage::Spans(first)) = pipeline.stages.first() else {
        return out;
    };
    let rest = &pipeline.stages[1..];
    let with_first = |expr: SpansetExpr, rest: &[Stage]| -> String {
        let mut stages = vec![Stage::Spans(expr)];
        stages.extend(rest.iter().cloned());
        Pipeline { stages }.to_string()
    };

    // Structural operators at the top: `>` for `>>`, and reversed operands.
    if let SpansetExpr::Op { op, lhs, rhs, loc } = first {
        let any_depth = match op {
            SpansetOp::Child => Some(SpansetOp::Descendant),
            SpansetOp::Parent => Some(SpansetOp::Ancestor),
            _ => None,
        };
        if let Some(meant) = any_depth {
            out.push(Variant {
                query: with_first(
                    SpansetExpr::Op {
                        op: meant,
                        lhs: lhs.clone(),
                        rhs: rhs.clone(),
                        loc: loc.clone(),
                    },
                    rest,
                ),
                change: Change::DirectForAny {
                    wrote: op.as_str(),
                    meant: meant.as_str(),
                },
            });
        }
        if matches!(
            op,
            SpansetOp::Child | SpansetOp::Descendant | SpansetOp::Parent | SpansetOp::Ancestor
        ) {
            out.push(Variant {
                query: with_first(
                    SpansetExpr::Op {
                        op: *op,
                        lhs: Box::new(grouped(rhs)),
                        rhs: Box::new(grouped(lhs)),
                        loc: loc.clone(),
                    },
                    rest,
                ),
                change: Change::Swapped { op: op.as_str() },
            });
        }
    }

    // Aggregate stages (`| count() > 1`, `| avg(duration) > 1s`).
    let scalar: Vec<String> = rest
        .iter()
        .filter(|s| matches!(s, Stage::Scalar(_)))
        .map(|s| format!("| {s}"))
        .collect();
    if !scalar.is_empty() {
        let kept: Vec<Stage> = rest
            .iter()
            .filter(|s| !matches!(s, Stage::Scalar(_)))
            .cloned()
            .collect();
        out.push(Variant {
            query: with_first(first.clone(), &kept),
            change: Change::WithoutAggregate {
                stage: scalar.join(" "),
            },
        });
    }

    // One condition at a time, in every filter of the first stage.
    let filters = count_filters(first);
    for index in 0..filters {
        let Some(filter) = nth_filter(first, index) else {
            continue;
        };
        let conditions = conjuncts(&filter.expr);
        for (i, condition) in conditions.iter().enumerate() {
            let remaining: Vec<Expr> = conditions
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, c)| (*c).clone())
                .collect();
            let mut field = None;
            condition.for_each_field(&mut |f| {
                if field.is_none() {
                    field = Some(f.clone());
                }
            });
            let replaced = replace_filter(first, index, &mut |loc| SpansetFilter {
                expr: and_all(remaining.clone(), loc),
                loc: loc.clone(),
            });
            out.push(Variant {
                query: with_first(replaced, rest),
                change: Change::WithoutCondition {
                    filter: index,
                    condition: condition.to_string(),
                    field,
                },
            });
        }
    }
    out
}

/// A structural operand, parenthesised when it is itself an operation (so printing keeps
/// its grouping).
fn grouped(expr: &SpansetExpr) -> SpansetExpr {
    match expr {
        SpansetExpr::Op { .. } => SpansetExpr::Group(Box::new(Pipeline {
            stages: vec![Stage::Spans(expr.clone())],
        })),
        other => other.clone(),
    }
}

/// The conditions of an `a && b && c` chain (parentheses kept as one condition).
fn conjuncts(expr: &Expr) -> Vec<&Expr> {
    match &expr.kind {
        ExprKind::Binary {
            op: BinOp::And,
            lhs,
            rhs,
        } => {
            let mut out = conjuncts(lhs);
            out.extend(conjuncts(rhs));
            out
        }
        _ => vec![expr],
    }
}

/// `a && b && …`, or `true` for no condition.
fn and_all(conditions: Vec<Expr>, loc: &Loc) -> Expr {
    let mut iter = conditions.into_iter().map(|c| match &c.kind {
        ExprKind::Binary { op: BinOp::Or, .. } => Expr {
            loc: c.loc.clone(),
            kind: ExprKind::Paren(Box::new(c)),
        },
        _ => c,
    });
    let Some(first) = iter.next() else {
        return Expr {
            kind: ExprKind::Static(Static::Bool(true)),
            loc: loc.clone(),
        };
    };
    iter.fold(first, |acc, next| Expr {
        loc: loc.clone(),
        kind: ExprKind::Binary {
            op: BinOp::And,
            lhs: Box::new(acc),
            rhs: Box::new(next),
        },
    })
}

fn count_filters(expr: &SpansetExpr) -> usize {
    match expr {
        SpansetExpr::Filter(_) => 1,
        SpansetExpr::Group(_) => 0,
        SpansetExpr::Op { lhs, rhs, .. } => count_filters(lhs) + count_filters(rhs),
    }
}

fn nth_filter(expr: &SpansetExpr, n: usize) -> Option<&SpansetFilter> {
    fn walk<'a>(expr: &'a SpansetExpr, n: &mut usize) -> Option<&'a SpansetFilter> {
        match expr {
            SpansetExpr::Filter(f) => {
                if *n == 0 {
                    return Some(f);
                }
                *n -= 1;
                None
            }
            SpansetExpr::Group(_) => None,
            SpansetExpr::Op { lhs, rhs, .. } => walk(lhs, n).or_else(|| walk(rhs, n)),
        }
    }
    let mut n = n;
    walk(expr, &mut n)
}

/// A copy of `expr` with its `n`th filter replaced.
fn replace_filter(
    expr: &SpansetExpr,
    n: usize,
    with: &mut dyn FnMut(&Loc) -> SpansetFilter,
) -> SpansetExpr {
    fn walk(
        expr: &SpansetExpr,
        n: &mut usize,
        with: &mut dyn FnMut(&Loc) -> SpansetFilter,
    ) -> SpansetExpr {
        match expr {
            SpansetExpr::Filter(f) => {
                let out = if *n == 0 {
                    SpansetExpr::Filter(with(&f.loc))
                } else {
                    expr.clone()
                };
                *n = n.wrapping_sub(1);
                out
            }
            SpansetExpr::Group(_) => expr.clone(),
            SpansetExpr::Op { op, lhs, rhs, loc } => {
                let lhs = walk(lhs, n, with);
                let rhs = walk(rhs, n, with);
                SpansetExpr::Op {
                    op: *op,
                    lhs: Box::new(grouped(&lhs)),
                    rhs: Box::new(grouped(&rhs)),
                    loc: loc.clone(),
                }
            }
        }
    }
    let mut n = n;
    walk(expr, &mut n, with)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variants_of(query: &str) -> Vec<(String, Change)> {
        let parsed = dojo_traceql::parse(query).expect("parses");
        variants(parsed.pipeline().expect("a search"))
            .into_iter()
            .map(|v| (v.query, v.change))
            .collect()
    }

    #[test]
    fn a_structural_query_is_tried_at_any_depth_and_swapped() {
        let v = variants_of(r#"{ resource.service.name = "frontend" } > { status = error }"#);
        assert_eq!(
            v[0].0,
            r#"{ resource.service.name = "frontend" } >> { status = error }"#
        );
        assert_eq!(
            v[0].1,
            Change::DirectForAny {
                wrote: ">",
                meant: ">>"
            }
        );
        assert_eq!(
            v[1].0,
            r#"{ status = error } > { resource.service.name = "frontend" }"#
        );
        // Then each filter's single condition.
        assert_eq!(v[2].0, "{ } > { status = error }");
        assert_eq!(v[3].0, r#"{ resource.service.name = "frontend" } > { }"#);
        for (query, _) in &v {
            dojo_traceql::parse(query).unwrap_or_else(|e| panic!("{query}: {e:?}"));
        }
    }

    #[test]
    fn each_condition_is_dropped_once_and_an_aggregate_stage_is_dropped_whole() {
        let v = variants_of(
            r#"{ span.http.route = "/order" && kind = server && (status = error || duration > 1s) } | count() > 1"#,
        );
        let queries: Vec<&str> = v.iter().map(|(q, _)| q.as_str()).collect();
        assert_eq!(
            queries,
            vec![
                r#"{ span.http.route = "/order" && kind = server && (status = error || duration > 1s) }"#,
                r#"{ kind = server && (status = error || duration > 1s) } | count() > 1"#,
                r#"{ span.http.route = "/order" && (status = error || duration > 1s) } | count() > 1"#,
                r#"{ span.http.route = "/order" && kind = server } | count() > 1"#,
            ]
        );
        assert!(matches!(
            &v[1].1,
            Change::WithoutCondition { condition, field: Some(_), .. } if condition == r#"span.http.route = "/order""#
        ));
        for query in queries {
            dojo_traceql::parse(query).unwrap_or_else(|e| panic!("{query}: {e:?}"));
        }
    }
}
