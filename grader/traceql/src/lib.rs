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
mod query;
pub mod search;
pub mod spelling;
pub mod validate;

pub use ast::{FieldRef, MetricsQuery, Pipeline, Root};
pub use budget::EvalBudget;
pub use error::{Error, ErrorKind};
pub use eval::{SpansetMatch, evaluate_pipeline, evaluate_trace, field_result_value, field_value};
pub use metrics::{MetricsWindow, evaluate_metrics};
pub use query::{Query, parse, parse_syntax};
pub use search::{SearchOptions, TraceMatch, search};
pub use validate::Warning;
