//! The `dojo` command: one binary for the whole lab.
//!
//! `dojo up` starts the lab. Every part also runs as its own subcommand (`dojo service api`,
//! `dojo loadgen`, …), which is how `dojo up` starts each service as a separate process from
//! this one binary: it re-executes itself in each role. Each subcommand lives in its own file
//! under `cmd/`; `main` only parses arguments and dispatches.
//!
//! This crate is the lab's composition root: the one place that knows every other part and
//! wires them together (the shop's services, the trace store, the grader and the course, with
//! their addresses, tokens and data directory). That is why it sits at the top of the
//! repository, beside `services/` and `grader/` rather than inside either, and why the tests
//! that run the lab as a whole (`tests/e2e`, `tests/services`, `tests/stack`, `tests/labs`) and
//! the shop's instrumentation bench are its targets: they start the `dojo` binary. Nothing
//! depends on it; it depends on everything.

mod cmd;
mod control;
mod delivery;
mod logbook;
mod placeholder;
mod relay;
mod running_lab;
mod scripted_deploy;
mod server;
mod shutdown;
mod supervisor;

use clap::{Parser, Subcommand};

/// mimalloc hands memory freed after a large query or upload back to the system, where glibc's
/// malloc keeps most of it in its arenas; the resident set of the lab then falls again
/// (figures in BENCHMARKS.md, "Trace store under hostile load").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tracing Dojo: a hands-on lab for distributed tracing.
#[derive(Debug, Parser)]
#[command(name = "dojo", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the whole lab: the sample services, the trace store, the course and the load generator.
    Up(cmd::up::UpArgs),
    /// Serve the course, the grader and the embedded trace store (or a remote Tempo) without the sample app.
    Serve(cmd::serve::ServeArgs),
    /// Run one tier of the sample shop: frontend, api or payments.
    Service(cmd::service::ServiceArgs),
    /// Run your own service for an instrumentation lab (Lab 1) in your language, pointed at the lab.
    Run(cmd::run::RunArgs),
    /// Send shoppers' journeys to the frontend, with progress and a latency summary.
    Loadgen(cmd::loadgen::LoadgenArgs),
    /// Check or explain TraceQL queries (`check` reads one query per line from stdin).
    Traceql(cmd::traceql::TraceqlArgs),
    /// Run only the trace store: OTLP in (4317, 4318), Grafana Tempo's HTTP API out (3200).
    Store(cmd::store::StoreArgs),
    /// Grade one submission (a query, a report, a service, quiz answers) and print the feedback.
    Grade(cmd::grade::GradeArgs),
    /// Run the delivery pipeline (commit → build → test → publish → sync → rollout) that deploys a new version of a service to the running lab, traced.
    Deploy(cmd::deploy::DeployArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(args) => cmd::up::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Service(args) => cmd::service::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Loadgen(args) => cmd::loadgen::run(args),
        Command::Traceql(args) => cmd::traceql::run(args),
        Command::Store(args) => cmd::store::run(args),
        Command::Grade(args) => cmd::grade::run(args),
        Command::Deploy(args) => cmd::deploy::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("dojo: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}
