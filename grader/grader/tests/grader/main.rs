//! Integration tests of the grader, one binary with a module per part.

mod helpers;
mod progress;
