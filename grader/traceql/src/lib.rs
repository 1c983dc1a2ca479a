//! TraceQL as Grafana Tempo implements it: a trace model, a parser whose errors teach, and an
//! evaluator. No HTTP and no storage here: the trace store fills [`model`] and asks this crate
//! to run queries over it.
//!
//! Start reading at [`model`].

pub mod model;
