//! End-to-end tests: the real `dojo` binary starts the real lab — separate processes talking
//! over real sockets on free ports — and the tests check what a learner would see.
//!
//! These are the `dojo` package's integration tests (see dojo/Cargo.toml), so that
//! `CARGO_BIN_EXE_dojo` names the binary under test.

mod alert_check;
mod bad_deploy;
mod canary;
mod dashboard_check;
mod delivery;
mod delivery_lab;
mod deploy;
mod grade;
mod guards;
mod helpers;
mod incidents;
mod lead_time;
mod lessons;
mod rollout_faults;
mod sampling;
mod up;
mod wal;
mod workshop;
mod workshop_delivery;
