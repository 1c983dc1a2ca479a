//! One router per part of the site, merged by [`crate::router`]. Each module holds its
//! handlers and the typed askama pages they return.

pub mod alerts;
pub mod answers;
pub mod console;
pub mod dashboards;
pub mod delivery;
pub mod instructor;
pub mod labs;
pub mod layout;
pub mod learners;
pub mod lessons;
pub mod services;
pub mod traces;
