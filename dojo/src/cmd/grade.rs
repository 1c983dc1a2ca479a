//! `dojo grade`: grade one submission from the terminal and print the feedback.
//!
//! Exit status: 0 when the submission passes, 1 when it fails (or the lab is not ready to
//! grade it yet), 2 on a usage or input error (unknown lab, unreadable report file, the trace
//! store unreachable).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use dojo_defaults::env;
use dojo_grader::backend::tempo::{TempoBackend, TempoConfig};
use dojo_grader::check::dashboard::{DashboardAnswer, SubmittedPanel};
use dojo_grader::check::quiz;
use dojo_grader::progress::LearnerId;
use dojo_grader::scenario::variant_for;
use dojo_grader::service::{Grader, GraderError, Submission, TenantPolicy};
use dojo_grader::spec::LabSet;
use dojo_grader::spec::types::Check;

use super::answer_files;
use crate::running_lab::RunningLab;

/// Flags of `dojo grade`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("submission").required(true).args(["query", "report", "service", "answers", "number", "panels"])))]
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
    /// A root-cause report, YAML or JSON: service, operation, fault, evidence, explanation (and
    /// deployment, when the exercise asks which deploy brought the fault).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Your instrumented service's name (OTEL_SERVICE_NAME), for an instrumentation check.
    #[arg(long)]
    service: Option<String>,
    /// Quiz answers, YAML or JSON: question id → your choice, as its position in the order
    /// the course shows you the choices (0 for the first), its letter (a, b, …) or its text.
    #[arg(long, value_name = "FILE")]
    answers: Option<PathBuf>,
    /// A numeric answer with its unit, such as "3h 20m" or "200 min" (the feedback names the
    /// change you are asked about).
    #[arg(long)]
    number: Option<String>,
    /// A dashboard panel's TraceQL metrics query, for a dashboard exercise; repeat it for
    /// each panel of your dashboard.
    #[arg(long = "panel", value_name = "QUERY")]
    panels: Vec<String>,
    /// Your name, as given to `dojo up --learner` (the same name gives the same learner id,
    /// which decides your scenario variant and your tenant in a workshop).
    #[arg(long, env = env::LEARNER, default_value = "local")]
    learner: String,
    /// The folder holding the labs.
    #[arg(long, default_value = "labs")]
    labs: PathBuf,
    /// The data directory of the running `dojo up`, whose `lab.json` says where its traces are.
    #[arg(long, default_value = ".dojo")]
    data_dir: PathBuf,
    /// The Tempo HTTP API to read traces from (default: the one the running `dojo up` recorded
    /// in its data directory).
    #[arg(long, env = env::TEMPO_URL)]
    tempo_url: Option<String>,
    /// Print the feedback as JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Grades the submission and prints the feedback.
pub fn run(args: GradeArgs) -> anyhow::Result<ExitCode> {
    let learner = LearnerId::for_name(&args.learner);
    let labs = dojo_grader::spec::load_dir(&args.labs)?;
    let submission = if let Some(query) = args.query.clone() {
        Submission::Query(query)
    } else if let Some(path) = &args.report {
        Submission::Report(answer_files::read_report(path)?)
    } else if let Some(service) = args.service.clone() {
        Submission::Service(service)
    } else if !args.panels.is_empty() {
        // A dashboard of your own service is about the exercise's default one (`stock`).
        Submission::Panels(DashboardAnswer {
            service: String::new(),
            panels: args
                .panels
                .iter()
                .enumerate()
                .map(|(i, query)| SubmittedPanel {
                    title: format!("panel {}", i + 1),
                    query: query.clone(),
                })
                .collect(),
        })
    } else if let Some(number) = args.number.clone() {
        Submission::Number(number)
    } else if let Some(path) = &args.answers {
        // Not a quiz: the grader says what this exercise takes instead.
        let quiz = match labs.exercise(&args.lab, &args.exercise) {
            Some((_, exercise)) => match &exercise.check {
                Check::Quiz(check) => Some((
                    check,
                    quiz::layout(check, &args.lab, &args.exercise, &learner),
                )),
                _ => None,
            },
            None => None,
        };
        Submission::Answers(answer_files::read_answers(path, quiz)?)
    } else {
        return Err(anyhow!(
            "give one of --query, --report, --service, --answers, --number or --panel"
        ));
    };
    let (tempo_url, workshop) = tempo_url(&args, &labs, &learner)?;
    let mut tempo =
        TempoConfig::from_lookup(|k| std::env::var(k).ok()).unwrap_or_else(|| TempoConfig::new(""));
    tempo.url = tempo_url.clone();
    let backend = TempoBackend::new(tempo)?;
    let mut grader = Grader::new(labs, Arc::new(backend), None);
    if workshop {
        // A workshop's store keeps each learner's traffic in their own tenant: grade there.
        grader = grader.with_tenants(TenantPolicy::Routed);
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let feedback =
        match runtime.block_on(grader.grade(&learner, &args.lab, &args.exercise, &submission)) {
            Ok(feedback) => feedback,
            Err(GraderError::Grade(dojo_grader::check::GradeError::Backend(e))) => {
                return Err(anyhow!(
                    "{e}\n(is the lab running? traces were read from {tempo_url})"
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

/// The Tempo API to grade against: `--tempo-url` when given, else the one the running `dojo
/// up` recorded in its data directory, and whether that lab is a workshop (whose store keeps
/// each learner's traffic in their own tenant). Grading against that lab, a learner whose
/// scenario variant is not the one switched on is refused: their root cause is not in these
/// traces.
fn tempo_url(
    args: &GradeArgs,
    labs: &LabSet,
    learner: &LearnerId,
) -> anyhow::Result<(String, bool)> {
    let record = RunningLab::read(&args.data_dir)?.filter(RunningLab::is_alive);
    let record = match (&args.tempo_url, record) {
        (Some(url), Some(record)) if *url == record.tempo_url => record,
        (Some(url), _) => return Ok((url.clone(), false)),
        (None, Some(record)) => record,
        (None, None) => {
            return Err(anyhow!(
                "no running lab found: {} does not exist (or its `dojo up` has stopped). Start the \
                 lab with `dojo up` in this folder, point at its data directory with --data-dir, \
                 or give the trace store's address with --tempo-url",
                RunningLab::path(&args.data_dir).display()
            ));
        }
    };
    check_variant(&record, labs, &args.lab, &args.learner, learner)?;
    let workshop = record.learner.is_none();
    Ok((record.tempo_url, workshop))
}

/// Refuses to grade `learner` on `lab_id` when the running lab does not have their variant of
/// that lab's fault scenario switched on, saying what is on and how to switch theirs on.
fn check_variant(
    record: &RunningLab,
    labs: &LabSet,
    lab_id: &str,
    name: &str,
    learner: &LearnerId,
) -> anyhow::Result<()> {
    let Some(lab) = labs.get(lab_id) else {
        return Ok(()); // The grader names the unknown lab.
    };
    let Some(mine) = variant_for(lab, learner) else {
        return Ok(()); // This lab runs on the healthy shop: any run will do.
    };
    let Some(running) = &record.learner else {
        return Ok(()); // A workshop: every learner who joined has their own variant on.
    };
    let restart = format!("`dojo up --lab {lab_id} --learner \"{name}\"`");
    if record.lab.as_deref() != Some(lab_id) {
        return Err(anyhow!(
            "the running lab has {} switched on, not the faults of `{lab_id}`: your answers \
             would be graded against traffic without your scenario. Restart it with {restart}",
            match &record.lab {
                Some(other) => format!("the faults of `{other}`"),
                None => "no lab's faults".to_string(),
            }
        ));
    }
    let running_id = LearnerId::parse(&running.id)
        .map_err(|e| anyhow!("the lab record names an invalid learner id: {e}"))?;
    let theirs = variant_for(lab, &running_id);
    if theirs.map(|v| &v.id) != Some(&mine.id) {
        return Err(anyhow!(
            "the running lab has the variant of the learner \"{}\" switched on, not yours \
             (--learner \"{}\" gets another one). Grade with --learner \"{}\", or restart the \
             lab with {restart}",
            running.name,
            name,
            running.name,
        ));
    }
    Ok(())
}
