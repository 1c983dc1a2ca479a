//! One module per `dojo` subcommand.

mod answer_files;
pub mod deploy;
pub mod grade;
pub mod loadgen;
pub mod run;
pub mod serve;
pub mod service;
pub mod store;
pub mod traceql;
pub mod up;
