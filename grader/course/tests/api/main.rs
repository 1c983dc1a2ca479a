//! The course's integration tests: each starts the real course server on port 0 with
//! in-memory lab parts (see `support`) and talks to it over HTTP like a browser would, or
//! through a real headless Chromium (`browser`).

mod alerts;
mod browser;
mod console;
mod content;
mod dashboards;
mod faults;
mod grader;
mod instructor;
mod labs;
mod lessons;
mod remote;
mod security;
mod support;
mod throttles;
mod traces;
