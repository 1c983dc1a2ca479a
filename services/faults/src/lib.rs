//! The fault catalogue and its toggles: what each fault breaks, its parameters, the admin API
//! and scenario files.
//!
//! Start at [`catalogue::catalogue`]: eleven faults with stable ids, each owned by one service,
//! each with a signature (a TraceQL query) saying how a learner finds it in traces. A service
//! holds a [`registry::Faults`] handle; handlers ask it whether a fault [`fires`] for the
//! current request (fraction, seed and learner scope decide), and [`admin::router`] lets an
//! instructor or the grader switch faults at runtime. [`scenario`] switches them on at start,
//! and [`state`] hands the faults on to the next instance of a service (a rollout, a restart).
//!
//! [`fires`]: registry::Faults::fires

pub mod activation;
pub mod active;
pub mod admin;
pub mod catalogue;
pub mod config;
pub mod effects;
pub mod error;
pub mod names;
pub mod registry;
pub mod release;
pub mod scenario;
pub mod state;
pub mod state_file;

pub use active::ActiveFault;
pub use catalogue::{FaultId, FaultSpec, Service, catalogue};
pub use config::FaultConfig;
pub use error::FaultError;
pub use names::FaultClass;
pub use registry::Faults;
pub use release::ReleaseVersion;
