//! One module per `dojo` subcommand.

pub mod grade;
pub mod store;
pub mod loadgen;
pub mod service;
pub mod up;
pub mod traceql;
