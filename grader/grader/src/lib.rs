//! The grader: lab specs, the three kinds of check against live traces, per-learner
//! scenarios, and learner progress.
//!
//! Where to start reading:
//! - [`spec`]: `labs/<lab>/lab.yaml`, loaded and validated;
//! - [`backend`]: where traces come from (the embedded store, or Tempo over HTTP);
//! - [`check`]: the checks and the feedback they return;
//! - [`scenario`]: which fault variant each learner gets; [`incidents`]: another one after
//!   solving it;
//! - [`progress`]: learners, attempts and scores in SQLite or PostgreSQL;
//! - [`alerting`]: how a trace-based alert rule is evaluated (normal → pending → firing);
//!   [`fault_switch`]: one learner's share of a fault switched on and off, for the `alert` check;
//! - [`service`]: all of it behind one handle, [`service::Grader`];
//! - [`api`]: the JSON HTTP API the course mounts.

pub mod alerting;
pub mod api;
pub mod backend;
pub mod check;
pub mod delivery;
pub mod fault_switch;
pub mod incidents;
pub mod progress;
pub mod query;
pub mod scenario;
pub mod seeded;
pub mod service;
pub mod spec;
