//! Ready-made implementations of the [`crate::backend`] traits over the lab's own parts, so
//! `dojo up` only has to wire them: [`store`] reads the embedded trace store in-process;
//! [`grader`] grades and keeps progress through `dojo-grader`; [`faults`] switches the
//! sample services' faults through their admin APIs; [`remote`] reads a Grafana Tempo (or any
//! of the grader's trace backends) for the compose and Kubernetes layouts.

pub mod alerts;
pub mod answer_key;
pub mod faults;
pub mod grader;
pub mod panels;
pub mod remote;
pub mod store;
