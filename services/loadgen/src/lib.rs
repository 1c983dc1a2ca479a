//! Realistic user journeys against the frontend, with progress and a latency summary.
//!
//! A journey is what a shopper does: browse the catalogue, open a product, put it in a new
//! cart, check out ([`journey`]). [`run::run`] starts journeys at a steady rate (or back to
//! back), at most `concurrency` at once, for a duration or until stopped, printing progress
//! once a second; [`stats::Summary`] gives requests, errors and p50/p95/p99 per step. Every
//! request carries W3C baggage with the shopper's `user.id` and, when given, the learner's
//! `learner.id`, which the services use to scope faults and tag spans. Given the api's address,
//! one journey in [`app::APP_SHARE`] is a visit of the shop's mobile app instead ([`app`]).

pub mod app;
pub mod config;
pub mod journey;
pub mod run;
pub mod stats;

pub use config::{LoadConfig, parse_duration};
pub use run::run;
pub use stats::Summary;
