//! Helpers shared by the integration tests of every crate: a fresh PostgreSQL database per
//! test ([`postgres`]), and an OTLP receiver on port 0 that captures what a service exports.
//!
//! Used as a dev-dependency only; nothing here ships in the `dojo` binary.

pub mod otlp;
pub mod postgres;
