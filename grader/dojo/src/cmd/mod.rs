//! One module per `dojo` subcommand.

pub mod store;
pub mod up;
