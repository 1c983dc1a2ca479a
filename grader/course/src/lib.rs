//! The web course: lessons, lab pages, the TraceQL console and trace pictures.
//!
//! Everything is server-rendered HTML that works without JavaScript. Start reading at
//! [`router`] and [`CourseState`]; the lessons come from [`content`], rendered by the
//! [`markdown`] pipeline; live data comes through the traits in [`backend`], which the `dojo`
//! command fills with the trace store, the grader and the services' logs.

pub mod backend;
pub mod content;
pub mod markdown;
pub mod pictures;
pub mod search;
