//! The Brown Belt labs solved end to end: the sample shop runs as real processes (`dojo
//! service …`) with each learner's fault variant switched on for that learner only, the load
//! generator sends each learner's traffic, the embedded trace store receives the OTLP, and
//! the grader grades a reference solution of every exercise (which must pass) and typical
//! wrong answers (which must be refused with feedback naming the mistake).

mod alerts;
mod cli;
mod corpus;
mod dashboards;
mod instrument;
mod languages;
mod near_misses;
mod run;
mod shop;
mod solve;
