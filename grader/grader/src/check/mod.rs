//! The checks: each takes a submission and returns [`feedback::Feedback`] that teaches.
//!
//! - [`quiz`]: multiple-choice answers, each explained.

pub mod feedback;
pub mod quiz;
