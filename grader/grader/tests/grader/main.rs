//! Integration tests of the grader, one binary with a module per part.

mod api;
mod backend;
mod checks;
mod helpers;
mod labs;
mod pipeline;
mod progress;
mod regression;
