//! The engine's specification as tests: Tempo's corpus (`conformance`), teaching errors
//! (`errors`), evaluation semantics over hand-built traces (`evaluation`), metrics series
//! (`metrics`), search shaping (`searching`).

mod conformance;
mod errors;
mod evaluation;
mod fixtures;
mod metrics;
mod searching;
