//! Ready-made implementations of the [`crate::backend`] traits over the lab's own parts, so
//! `dojo up` only has to wire them: [`grader`] grades and keeps progress through
//! `dojo-grader`; [`faults`] switches the sample services' faults through their admin APIs.
//! (Traces need no adapter: the course reads the grader's trace backend, see
//! [`crate::traces`].)

pub mod alerts;
pub mod answer_key;
pub mod faults;
pub mod grader;
pub mod panels;
