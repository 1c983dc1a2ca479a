//! Learner progress: learners, every graded attempt with its feedback, best scores and hints
//! revealed, dashboard panels and alert rules, kept in SQLite (the default, a file) or PostgreSQL (`DATABASE_URL=postgres://…`).
//!
//! Every write is one transaction that is committed before the call returns, and SQLite runs
//! in WAL mode with `synchronous=FULL`, so a submission the grader has acknowledged survives
//! the process being killed the next instant. Times are unix milliseconds in `BIGINT`
//! columns and placeholders are `$n`, so one set of queries serves both databases; only the
//! migrations differ (`migrations/sqlite`, `migrations/postgres`).

mod alert_rules;
mod learner;
mod panels;
mod store;
mod write_transaction;

pub use alert_rules::{NewAlertRule, StoredAlertRule, StoredAlertState};
pub use learner::{LearnerId, LearnerIdError};
pub use panels::{NewPanel, Panel, PanelMove};
pub use store::{Attempt, Incident, Learner, NewAttempt, Progress, ProgressError, Score};
