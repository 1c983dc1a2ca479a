//! TraceQL as Grafana Tempo implements it: a trace model, a parser whose errors teach, and an
//! evaluator. No HTTP and no storage here: the trace store fills [`model`] and asks this crate
//! to run queries over it; the grader runs learners' queries through [`parse`] and [`search`].
//!
//! Start reading at [`parse`] (text → [`Query`]) and [`evaluate_trace`] (query × trace →
//! matching spansets). The pipeline inside: [`lexer`] → [`parser`] (Pratt, then shaping) →
//! [`ast`] → [`validate`] → [`eval`]. Errors are data ([`Error`]) rendered at the edge.
//! The facts this follows are in `../shared/reference/traceql.md`; where Tempo's storage and
//! evaluator disagree, [`eval`] documents which one this engine grades on.

pub mod ast;
pub mod budget;
pub mod display;
pub mod error;
pub mod eval;
pub mod explain;
pub mod lexer;
pub mod metrics;
pub mod model;
pub mod parser;
pub mod search;
pub mod spelling;
pub mod validate;

pub use ast::{FieldRef, MetricsQuery, Pipeline, Root};
pub use budget::EvalBudget;
pub use error::{Error, ErrorKind};
pub use eval::{SpansetMatch, evaluate_pipeline, evaluate_trace, field_result_value, field_value};
pub use metrics::{MetricsWindow, evaluate_metrics};
pub use search::{SearchOptions, TraceMatch, search};
pub use validate::Warning;

use ast::{QueryHint, ScalarExpr, SpansetExpr, Stage, Static};
use std::fmt;

/// A parsed and validated TraceQL query. `Display` prints it as canonical TraceQL.
#[derive(Debug, Clone)]
pub struct Query {
    root: Root,
    hints: Vec<QueryHint>,
    warnings: Vec<Warning>,
}

impl PartialEq for Query {
    /// Queries are equal when they mean the same (positions and warnings aside).
    fn eq(&self, other: &Self) -> bool {
        self.root == other.root && self.hints == other.hints
    }
}

/// Parses and validates a query. The error says where and why, with a hint for common mistakes.
pub fn parse(query: &str) -> Result<Query, Error> {
    let parsed = parser::parse_query(query)?;
    let mut validator = validate::Validator::new();
    validator.root(&parsed.root)?;
    if let Some(first) = parsed.deferred.into_iter().next() {
        return Err(first);
    }
    Ok(Query {
        root: parsed.root,
        hints: parsed.hints,
        warnings: validator.warnings,
    })
}

/// Parses without validating: for tools that show the tree of any syntactically valid query
/// (validation errors such as unsupported features are then not reported). Search with
/// [`parse`] instead.
pub fn parse_syntax(query: &str) -> Result<Query, Error> {
    let parsed = parser::parse_query(query)?;
    Ok(Query {
        root: parsed.root,
        hints: parsed.hints,
        warnings: Vec::new(),
    })
}

impl Query {
    /// The syntax tree.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// The spanset pipeline of a search query.
    pub fn pipeline(&self) -> Option<&Pipeline> {
        match &self.root {
            Root::Spans(p) => Some(p),
            Root::Metrics(_) => None,
        }
    }

    pub fn is_metrics(&self) -> bool {
        matches!(self.root, Root::Metrics(_))
    }

    /// The metrics query (functions, `by()`, second stages, arithmetic) for `query_range`.
    pub fn metrics(&self) -> Option<&MetricsQuery> {
        match &self.root {
            Root::Metrics(m) => Some(m),
            Root::Spans(_) => None,
        }
    }

    /// The `with(…)` hints, in order.
    pub fn hints(&self) -> &[QueryHint] {
        &self.hints
    }

    /// The value of one hint, if given.
    pub fn hint(&self, name: &str) -> Option<&Static> {
        self.hints.iter().find(|h| h.name == name).map(|h| &h.value)
    }

    /// Valid but probably unintended parts of the query (e.g. `duration > 100` without a unit).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Every attribute and intrinsic the query reads (filters, aggregates, `by`, `select`,
    /// metrics arguments), first mention first. Tempo returns exactly these on result spans.
    pub fn fetched_attributes(&self) -> Vec<FieldRef> {
        let mut out: Vec<FieldRef> = Vec::new();
        let mut add = |f: &FieldRef| {
            if !out.contains(f) {
                out.push(f.clone());
            }
        };
        match &self.root {
            Root::Spans(p) => pipeline_fields(p, &mut add),
            Root::Metrics(m) => {
                for agg in m.aggregates() {
                    pipeline_fields(&agg.input, &mut add);
                    if let Some(f) = agg.function.field() {
                        add(f);
                    }
                    agg.by.iter().for_each(&mut add);
                }
            }
        }
        out
    }
}

fn pipeline_fields(p: &Pipeline, add: &mut dyn FnMut(&FieldRef)) {
    for stage in &p.stages {
        match stage {
            Stage::Spans(e) => spanset_fields(e, add),
            Stage::Scalar(s) => {
                scalar_fields(&s.lhs, add);
                scalar_fields(&s.rhs, add);
            }
            Stage::By(e) => e.for_each_field(add),
            Stage::Coalesce => {}
            Stage::Select(fields) => fields.iter().for_each(&mut *add),
        }
    }
}

fn spanset_fields(e: &SpansetExpr, add: &mut dyn FnMut(&FieldRef)) {
    match e {
        SpansetExpr::Filter(f) => f.expr.for_each_field(add),
        SpansetExpr::Group(p) => pipeline_fields(p, add),
        SpansetExpr::Op { lhs, rhs, .. } => {
            spanset_fields(lhs, add);
            spanset_fields(rhs, add);
        }
    }
}

fn scalar_fields(e: &ScalarExpr, add: &mut dyn FnMut(&FieldRef)) {
    match e {
        ScalarExpr::Aggregate(a) => {
            if let Some(x) = &a.expr {
                x.for_each_field(add);
            }
        }
        ScalarExpr::Static(..) => {}
        ScalarExpr::Binary { lhs, rhs, .. } => {
            scalar_fields(lhs, add);
            scalar_fields(rhs, add);
        }
        ScalarExpr::Paren(x) => scalar_fields(x, add),
        ScalarExpr::Pipeline(p, a) => {
            pipeline_fields(p, add);
            scalar_fields(&ScalarExpr::Aggregate(a.clone()), add);
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.root)?;
        if !self.hints.is_empty() {
            f.write_str(" with(")?;
            for (i, h) in self.hints.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{h}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}
