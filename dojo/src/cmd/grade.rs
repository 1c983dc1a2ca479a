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
use dojo_grader::alerting::Phase;
use dojo_grader::backend::tempo::{TempoBackend, TempoConfig};
use dojo_grader::check::dashboard::{DashboardAnswer, SubmittedPanel};
use dojo_grader::check::{Settings, alert, quiz};
use dojo_grader::fault_switch::{FaultSwitch, ServiceFaultSwitch};
use dojo_grader::progress::LearnerId;
use dojo_grader::scenario::variant_for;
use dojo_grader::service::{Grader, GraderError, Submission, TenantPolicy};
use dojo_grader::spec::LabSet;
use dojo_grader::spec::types::Check;

use super::answer_files;
use crate::running_lab::RunningLab;

/// Flags of `dojo grade`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("submission").required(true).args(["query", "report", "service", "answers", "number", "panels", "rule"])))]
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
    /// An alert rule, YAML or JSON: query, condition (above or below), threshold, for (such
    /// as 10s) and severity, for an alert exercise. Grading switches the exercise's fault
    /// off and on for your traffic and takes a couple of minutes; the phases are printed as
    /// they pass.
    #[arg(long, value_name = "FILE")]
    rule: Option<PathBuf>,
    /// The shop's fault admin token (what `dojo up` was given), needed to grade an alert.
    #[arg(long, env = env::ADMIN_TOKEN, hide_env_values = true)]
    admin_token: Option<String>,
    /// Multiplies the phases of an alert grading (tests shorten them).
    #[arg(long, env = env::ALERT_TIME_SCALE, default_value_t = 1.0, hide = true)]
    alert_time_scale: f64,
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
    } else if let Some(path) = &args.rule {
        Submission::Rule(answer_files::read_rule(path)?)
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
            "give one of --query, --report, --service, --answers, --number, --panel or --rule"
        ));
    };
    let (tempo_url, workshop, services) = tempo_url(&args, &labs, &learner)?;
    let mut tempo =
        TempoConfig::from_lookup(|k| std::env::var(k).ok()).unwrap_or_else(|| TempoConfig::new(""));
    tempo.url = tempo_url.clone();
    let backend = TempoBackend::new(tempo)?;
    let mut grader = Grader::new(labs, Arc::new(backend), None).with_settings(Settings {
        alert_time_scale: args.alert_time_scale,
        ..Settings::default()
    });
    if workshop {
        // A workshop's store keeps each learner's traffic in their own tenant: grade there.
        grader = grader.with_tenants(TenantPolicy::Routed);
    }
    if matches!(submission, Submission::Rule(_)) {
        grader = grader.with_fault_switch(fault_switch(&args, services)?);
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let progress = |step: alert::Progress| eprintln!("{}", progress_line(&step));
    let grading =
        grader.grade_reporting(&learner, &args.lab, &args.exercise, &submission, &progress);
    let feedback = match runtime.block_on(grading) {
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

/// `(name, base URL)` of each of the shop's services.
type Services = Vec<(String, String)>;

/// Switches the shop's faults for an alert exercise, at the services the running lab recorded,
/// with the admin token.
fn fault_switch(args: &GradeArgs, services: Services) -> anyhow::Result<Arc<dyn FaultSwitch>> {
    if services.is_empty() {
        return Err(anyhow!(
            "grading an alert switches the shop's faults, and no running lab recorded where its \
             services are: start the lab with `dojo up` in this folder (or point --data-dir at \
             its data directory)"
        ));
    }
    let Some(token) = args.admin_token.clone() else {
        return Err(anyhow!(
            "grading an alert switches the shop's faults through their admin API, which needs \
             the admin token: start the lab with `dojo up --admin-token <token>` (or \
             DOJO_ADMIN_TOKEN) and give the same token here with --admin-token"
        ));
    };
    Ok(Arc::new(ServiceFaultSwitch::new(services, Some(token))))
}

/// One line of an alert grading's progress, for the terminal.
fn progress_line(step: &alert::Progress) -> String {
    let left = |until_ms: i64| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        ((until_ms - now).max(0) + 999) / 1000
    };
    let phase = |phase: Phase| match phase {
        Phase::FaultOff => "phase 1 (fault off)",
        Phase::FaultOn => "phase 2 (fault on)",
    };
    match step {
        alert::Progress::Clearing { until_ms } => format!(
            "grading… your variant had the fault on: it is off now, and the rule's window clears in {} s",
            left(*until_ms)
        ),
        alert::Progress::Watching {
            phase: p,
            until_ms,
            sample: None,
        } => format!("grading… {} starts, {} s", phase(*p), left(*until_ms)),
        alert::Progress::Watching {
            phase: p,
            until_ms,
            sample: Some(sample),
        } => format!(
            "grading… {}, {} s left: {} ({})",
            phase(*p),
            left(*until_ms),
            sample.state,
            sample
                .decision
                .value
                .map_or("no data".to_string(), |v| format!("{v:.3}"))
        ),
        alert::Progress::Restoring => "grading… putting the fault back".to_string(),
    }
}

/// The Tempo API to grade against: `--tempo-url` when given, else the one the running `dojo
/// up` recorded in its data directory; whether that lab is a workshop (whose store keeps each
/// learner's traffic in their own tenant); and the shop's services it recorded. Grading
/// against that lab, a learner whose scenario variant is not the one switched on is refused:
/// their root cause is not in these traces.
fn tempo_url(
    args: &GradeArgs,
    labs: &LabSet,
    learner: &LearnerId,
) -> anyhow::Result<(String, bool, Services)> {
    let record = RunningLab::read(&args.data_dir)?.filter(RunningLab::is_alive);
    let record = match (&args.tempo_url, record) {
        (Some(url), Some(record)) if *url == record.tempo_url => record,
        (Some(url), _) => return Ok((url.clone(), false, Vec::new())),
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
    Ok((record.tempo_url, workshop, record.services))
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
