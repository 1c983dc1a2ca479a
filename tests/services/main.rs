//! The sample shop's tests: the three tiers run as real `dojo service` processes on port 0,
//! exporting OTLP to a capture receiver, and each test checks what a learner would see in
//! the traces (and logs) for a journey, a fault, or a failure.
//!
//! Start with `helpers.rs` (`Shop::start`); each other module is one area of behaviour.

mod helpers;

mod admin;
mod collector_down;
mod export;
mod faults;
mod loadgen;
mod logs;
mod postgres;
mod secrets;
mod trace_tree;
