//! One module per `dojo` subcommand.

pub mod up;
