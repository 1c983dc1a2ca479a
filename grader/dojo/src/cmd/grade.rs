//! `dojo grade`: grade one submission from the terminal and print the feedback.
//!
//! Exit status: 0 when the submission passes, 1 when it fails (or the lab is not ready to
//! grade it yet), 2 on a usage or input error (unknown lab, unreadable report file, the trace
//! store unreachable).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use dojo_defaults::TEMPO_HTTP_PORT;
use dojo_defaults::env;
use dojo_grader::backend::tempo::{TempoBackend, TempoConfig};
use dojo_grader::check::root_cause::Report;
use dojo_grader::progress::LearnerId;
use dojo_grader::service::{Grader, GraderError, Submission};

/// Flags of `dojo grade`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("submission").required(true).args(["query", "report", "service", "answers"])))]
pub struct GradeArgs {
    /// The lab's id (its folder under labs/).
    #[arg(long)]
    lab: String,
    /// The exercise's id within the lab.
    #[arg(long)]
    exercise: String,
    /// A TraceQL answer.
    #[arg(long)]
    query: Option<String>,
    /// A root-cause report, YAML or JSON: service, operation, fault, evidence, explanation.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Your instrumented service's name (OTEL_SERVICE_NAME), for an instrumentation check.
    #[arg(long)]
    service: Option<String>,
    /// Quiz answers, YAML or JSON: question id → index of the chosen answer (from 0).
    #[arg(long, value_name = "FILE")]
    answers: Option<PathBuf>,
    /// Who is grading: decides the scenario variant and the tenant in a workshop.
    #[arg(long, env = env::LEARNER, default_value = "local")]
    learner: String,
    /// The folder holding the labs.
    #[arg(long, default_value = "labs")]
    labs: PathBuf,
    /// The Tempo HTTP API to read traces from: the lab's embedded store by default.
    #[arg(long, env = env::TEMPO_URL, default_value_t = format!("http://127.0.0.1:{TEMPO_HTTP_PORT}"))]
    tempo_url: String,
    /// Print the feedback as JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn read_file<T: serde::de::DeserializeOwned>(path: &PathBuf, what: &str) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} file {}", path.display()))?;
    // YAML is a superset of JSON, so one reader takes both.
    serde_yaml::from_str(&text)
        .with_context(|| format!("the {what} file {} is not valid", path.display()))
}

/// Grades the submission and prints the feedback.
pub fn run(args: GradeArgs) -> anyhow::Result<ExitCode> {
    let learner = LearnerId::parse(&args.learner).map_err(|e| anyhow!("--learner: {e}"))?;
    let submission = if let Some(query) = args.query {
        Submission::Query(query)
    } else if let Some(path) = &args.report {
        Submission::Report(read_file::<Report>(path, "report")?)
    } else if let Some(service) = args.service {
        Submission::Service(service)
    } else if let Some(path) = &args.answers {
        Submission::Answers(read_file::<BTreeMap<String, usize>>(path, "answers")?)
    } else {
        return Err(anyhow!(
            "give one of --query, --report, --service or --answers"
        ));
    };
    let labs = dojo_grader::spec::load_dir(&args.labs)?;
    let mut tempo =
        TempoConfig::from_lookup(|k| std::env::var(k).ok()).unwrap_or_else(|| TempoConfig::new(""));
    tempo.url = args.tempo_url.clone();
    let backend = TempoBackend::new(tempo)?;
    let grader = Grader::new(labs, Arc::new(backend), None);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let feedback =
        match runtime.block_on(grader.grade(&learner, &args.lab, &args.exercise, &submission)) {
            Ok(feedback) => feedback,
            Err(GraderError::Grade(dojo_grader::check::GradeError::Backend(e))) => {
                return Err(anyhow!(
                    "{e}\n(is the lab running? `dojo up` serves traces at {})",
                    args.tempo_url
                ));
            }
            Err(other) => return Err(other.into()),
        };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&feedback)?);
    } else {
        print!("{}", feedback.to_text());
    }
    Ok(if feedback.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
