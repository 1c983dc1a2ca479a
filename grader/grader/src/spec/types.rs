//! The shape of `labs/<lab>/lab.yaml`, as serde reads it.
//!
//! Every struct refuses unknown fields, so a misspelt key (`refrence:`) is an error at load,
//! not a check that silently never runs. What serde cannot express (a query that must parse,
//! ids that must be unique, a ground truth that names a real fault) is checked afterwards in
//! [`super::validate`].

use serde::{Deserialize, Serialize};

use super::duration::SpecDuration;

/// One lab: a fault scenario to switch on, and the exercises a learner solves in it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Lab {
    /// Stable id, also the folder name under `labs/`; used in URLs and progress records.
    pub id: String,
    pub title: String,
    /// One or two sentences for the lab list.
    pub summary: String,
    /// How long a learner should plan for, in minutes.
    pub estimated_minutes: u32,
    /// The course page that introduces the lab (a path under `content/`), if there is one.
    #[serde(default)]
    pub lesson: Option<String>,
    /// Starter code the learner edits, relative to the lab's folder (instrumentation labs).
    #[serde(default)]
    pub starter: Option<String>,
    /// The languages a learner may do the lab in (instrumentation labs): how `dojo run`
    /// starts the learner's service and the reference solution in each.
    #[serde(default)]
    pub languages: Vec<Language>,
    /// The faults switched on while this lab runs; absent for labs on the healthy app.
    #[serde(default)]
    pub scenario: Option<Scenario>,
    pub exercises: Vec<Exercise>,
}

/// One language an instrumentation lab can be done in, and the commands that run it. `dojo
/// run` starts the command in `dir` with the lab's `OTEL_*` variables (endpoint, protocol,
/// service name) and `PORT` and `API_URL` set.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Language {
    /// What `dojo run --language` takes: `rust`, `python`, `node`.
    pub id: String,
    /// The language's name as the learner reads it (`Node.js`).
    pub name: String,
    /// The working directory of both commands, relative to the lab's folder.
    #[serde(default = "default_language_dir")]
    pub dir: String,
    /// Runs the learner's service (the starter they edit): the program, then its arguments.
    pub run: Vec<String>,
    /// Runs the reference solution, the same way.
    pub solution: Vec<String>,
    /// What to install first, told to the learner when the program cannot be started.
    #[serde(default)]
    pub setup: Option<String>,
}

fn default_language_dir() -> String {
    ".".to_string()
}

/// The faults a lab switches on. With several variants, each learner gets one, picked from
/// the lab seed and their id, so neighbours have different root causes.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Changing the seed reshuffles which learner gets which variant.
    #[serde(default)]
    pub seed: u64,
    pub variants: Vec<Variant>,
}

/// One possible fault set and what a learner should find when it is on.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub id: String,
    pub faults: Vec<FaultToggle>,
    /// What a correct root-cause report says for this variant.
    #[serde(default)]
    pub truth: Option<GroundTruth>,
    /// A release `dojo up` rolls out with `dojo deploy` while the lab runs (a bad deploy:
    /// faults with the same `version` hit only that release).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<ScriptedDeploy>,
}

/// A deploy the lab makes by itself, through the real pipeline, some time after it started
/// (so the traces hold requests from before it and after it).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScriptedDeploy {
    /// The deployable service (`api` or `frontend`).
    pub service: String,
    /// The release rolled out, `MAJOR.MINOR.PATCH`.
    pub version: String,
    /// The change's title (`vcs.change.title`).
    pub change: String,
    /// How long after the lab is up the deploy starts.
    pub after: SpecDuration,
}

/// One fault from the catalogue, switched on with parameters.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultToggle {
    /// A fault id from the catalogue (`dojo_faults::catalogue()`), such as `slow_query`.
    pub fault: String,
    /// Parameters as the fault's admin API takes them.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// The fraction of requests hit, 0 < fraction ≤ 1; the catalogue's default when absent.
    #[serde(default)]
    pub fraction: Option<f64>,
    /// Only this release of the fault's service is hit (a fault that comes with a deploy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// The answer to a root-cause exercise, for one variant.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GroundTruth {
    /// The faulty service's `service.name`.
    pub service: String,
    /// The faulty operation: a span name or route, as it appears in traces.
    pub operation: String,
    /// The fault kind: a fault id from the catalogue.
    pub fault: String,
    /// A TraceQL query that a trace matches exactly when it shows the fault; every trace the
    /// learner cites as evidence is fetched and must match it.
    pub evidence: String,
    /// Other names a learner may reasonably give the operation (a route for a span name).
    #[serde(default)]
    pub operation_aliases: Vec<String>,
    /// Other names a learner may reasonably give the faulty place (for a fault between two
    /// services: "network", "api → payments").
    #[serde(default)]
    pub service_aliases: Vec<String>,
    /// For a fault that came with a deploy: the release that introduced it. The report must
    /// then name that deployment, and cite traces from both sides of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentTruth>,
}

/// The deploy that introduced a regression, in a root-cause exercise's truth.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeploymentTruth {
    /// The `service.version` the deploy rolled out (`MAJOR.MINOR.PATCH`); the service is the
    /// truth's. A report may name it, or the `deployment.id` of the run that rolled it out.
    pub version: String,
}

/// One exercise of a lab.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Exercise {
    pub id: String,
    pub title: String,
    /// The task, in markdown.
    pub prompt: String,
    /// Revealed one at a time on request, from gentle to explicit.
    #[serde(default)]
    pub hints: Vec<String>,
    pub check: Check,
}

/// How an exercise is graded.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    Traceql(TraceqlCheck),
    Instrumentation(InstrumentationCheck),
    RootCause(RootCauseCheck),
    Quiz(QuizCheck),
    Pipeline(PipelineCheck),
    Numeric(NumericCheck),
    Dashboard(DashboardCheck),
    /// Boxed: an alert check carries a fault and rules, far larger than the others.
    Alert(Box<AlertCheck>),
}

impl Check {
    /// The check's kind as written in the spec.
    pub fn kind(&self) -> CheckKind {
        match self {
            Check::Traceql(_) => CheckKind::Traceql,
            Check::Instrumentation(_) => CheckKind::Instrumentation,
            Check::RootCause(_) => CheckKind::RootCause,
            Check::Quiz(_) => CheckKind::Quiz,
            Check::Pipeline(_) => CheckKind::Pipeline,
            Check::Numeric(_) => CheckKind::Numeric,
            Check::Dashboard(_) => CheckKind::Dashboard,
            Check::Alert(_) => CheckKind::Alert,
        }
    }
}

/// The four kinds of check, for listings and for the progress store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    Traceql,
    Instrumentation,
    RootCause,
    Quiz,
    Pipeline,
    Numeric,
    Dashboard,
    Alert,
}

impl CheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Traceql => "traceql",
            CheckKind::Instrumentation => "instrumentation",
            CheckKind::RootCause => "root_cause",
            CheckKind::Quiz => "quiz",
            CheckKind::Pipeline => "pipeline",
            CheckKind::Numeric => "numeric",
            CheckKind::Dashboard => "dashboard",
            CheckKind::Alert => "alert",
        }
    }
}

/// A TraceQL answer, graded by comparing its result set with the reference's.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TraceqlCheck {
    /// The reference solution. `$learner` is replaced by the learner's id.
    pub reference: String,
    /// How far back from now the pinned window reaches.
    #[serde(default = "default_window")]
    pub window: SpecDuration,
    /// Compare matched traces only, or also the matched spans inside each trace.
    #[serde(default)]
    pub compare: Compare,
    /// The reference must match at least this many traces for the exercise to be gradable;
    /// fewer means the lab has not produced the traffic yet, and the learner is told so.
    #[serde(default = "default_min_matches")]
    pub min_reference_matches: usize,
    /// Near misses a learner typically writes (the wrong service, a missing condition, `>`
    /// for `>>`…), each of which must be refused. Before grading, each runs over the pinned
    /// window: while one returns the same result as the reference, the window cannot tell
    /// answers apart and the grader asks the learner to wait instead of judging.
    #[serde(default)]
    pub must_refuse: Vec<String>,
}

/// What "the same result" means for a TraceQL answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    /// The same traces.
    #[default]
    Traces,
    /// The same traces and, in each, the same matched spans.
    Spans,
}

/// Pipeline settings (sampling and scrubbing), checked by their effect on traces sent
/// through them: the brief "keep every error and every trace slower than `keep_slower_than`,
/// `keep_rest_percent` % of the rest, and never store `never_store` or a card number".
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineCheck {
    /// Every trace at least this long must be kept.
    pub keep_slower_than: SpecDuration,
    /// The share of the other traces (neither failed nor slow) to keep, in percent.
    pub keep_rest_percent: f64,
    /// Attribute keys whose values must never be stored (authentication headers).
    pub never_store: Vec<String>,
    /// Settings that meet the brief (the answer key; the labs test grades them).
    pub reference: String,
}

/// A number with a unit, checked against the value the grader computes from the learner's own
/// live traces, within a stated tolerance.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NumericCheck {
    /// What the number is.
    pub measure: Measure,
    /// How far an answer may be from the computed value, in percent of it.
    pub tolerance_percent: f64,
    /// The tolerance is never smaller than this, so an answer to the minute passes.
    #[serde(default = "default_tolerance_at_least")]
    pub tolerance_at_least: SpecDuration,
    /// How far back the traces the value is computed from reach.
    #[serde(default = "default_window")]
    pub window: SpecDuration,
}

/// What a numeric answer measures, computed by [`crate::check::numeric`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// The lead time (commit → rollout finished) of one change of the learner's delivery
    /// history, picked per learner; answered as a duration.
    LeadTime,
}

fn default_tolerance_at_least() -> SpecDuration {
    SpecDuration(std::time::Duration::from_secs(60))
}

/// A dashboard: the learner's saved panels, each asked panel matched against them by comparing
/// series over the same pinned window at the same step.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardCheck {
    /// The panels the exercise asks for.
    pub panels: Vec<AskedPanel>,
    /// How far back the compared window reaches.
    #[serde(default = "default_dashboard_window")]
    pub window: SpecDuration,
    /// The interval of every series compared (the same for reference and answer).
    #[serde(default = "default_dashboard_step")]
    pub step: SpecDuration,
    /// For a dashboard of the learner's own service (Lab 1): the service when the learner
    /// names none. Then `$service` is the learner's service, and in every query (reference,
    /// near miss and the learner's panels) the condition `resource.service.name = "<it>"` is
    /// narrowed to the learner's own run (`resource.learner.id`), as instrumentation
    /// assertions are.
    #[serde(default)]
    pub default_service: Option<String>,
}

/// One panel a dashboard exercise asks for.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AskedPanel {
    pub id: String,
    /// What the panel shows, as the learner reads it ("p95 latency of checkout per service").
    pub describe: String,
    /// A TraceQL metrics query that draws it (never shown to the learner).
    pub reference: String,
    /// How far a value may be from the reference's at the same point, in percent.
    #[serde(default = "default_panel_tolerance")]
    pub tolerance_percent: f64,
    /// Panels a learner typically builds instead (avg for p95, no `by`, another service),
    /// each of which must be refused. While one draws the same series as the reference over
    /// the window, the grader asks the learner to wait instead of judging.
    #[serde(default)]
    pub must_refuse: Vec<String>,
}

fn default_dashboard_window() -> SpecDuration {
    SpecDuration(std::time::Duration::from_secs(10 * 60))
}

fn default_dashboard_step() -> SpecDuration {
    SpecDuration(std::time::Duration::from_secs(30))
}

fn default_panel_tolerance() -> f64 {
    5.0
}

/// An alert rule, checked by switching a fault of the catalogue on for the learner and
/// watching the rule: it must stay quiet while the fault is off and fire, in time, while it
/// is on ([`crate::check::alert`] says how the phases are ordered, and why).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertCheck {
    /// The fault switched on for the learner during the phase "on" (its `version` is not
    /// used: the fault hits every release).
    pub fault: FaultToggle,
    /// A rule that passes (the answer key; never shown to the learner).
    pub reference: RuleSpec,
    /// Rules a learner typically writes instead (a threshold the fault never reaches, the
    /// condition the wrong way round, another service), each of which must be refused; the
    /// labs test grades them on the live shop.
    #[serde(default)]
    pub must_refuse: Vec<RuleSpec>,
    /// How much traffic each evaluation reads (the Alerts page's window: 60 s).
    #[serde(default = "default_alert_lookback")]
    pub lookback: SpecDuration,
    /// How long before now that window ends, so spans still arriving are left out (10 s).
    #[serde(default = "default_alert_settle")]
    pub settle: SpecDuration,
    /// How often the rule is evaluated while graded.
    #[serde(default = "default_alert_interval")]
    pub interval: SpecDuration,
    /// How long the rule is watched with the fault off, first.
    #[serde(default = "default_alert_off_phase")]
    pub off_phase: SpecDuration,
    /// How long the rule is watched with the fault on, after.
    #[serde(default = "default_alert_on_phase")]
    pub on_phase: SpecDuration,
    /// How soon after the fault goes on the rule must fire (at most `on_phase`).
    #[serde(default = "default_alert_deadline")]
    pub deadline: SpecDuration,
}

/// An alert rule as a lab spec or an answer file writes it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// A TraceQL metrics query. `$learner` is replaced by the learner's id.
    pub query: String,
    /// `above` or `below`.
    pub condition: String,
    pub threshold: f64,
    /// How long the condition must hold before the rule fires (`0s`: at once).
    #[serde(rename = "for", default = "zero_duration")]
    pub for_duration: SpecDuration,
    /// `info`, `warning` or `critical`.
    #[serde(default = "default_severity")]
    pub severity: String,
}

fn zero_duration() -> SpecDuration {
    SpecDuration(std::time::Duration::ZERO)
}

fn default_severity() -> String {
    "warning".to_string()
}

fn default_alert_lookback() -> SpecDuration {
    SpecDuration(std::time::Duration::from_secs(60))
}

fn default_alert_settle() -> SpecDuration {
    SpecDuration(std::time::Duration::from_secs(10))
}

fn default_alert_interval() -> SpecDuration {
    SpecDuration(std::time::Duration::from_secs(5))
}

fn default_alert_off_phase() -> SpecDuration {
    SpecDuration(std::time::Duration::from_secs(30))
}

fn default_alert_on_phase() -> SpecDuration {
    SpecDuration(std::time::Duration::from_secs(100))
}

fn default_alert_deadline() -> SpecDuration {
    SpecDuration(std::time::Duration::from_secs(80))
}

/// An instrumentation change, checked by TraceQL assertions on the learner's live traces.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentationCheck {
    #[serde(default = "default_window")]
    pub window: SpecDuration,
    /// The service name used when the learner does not give one.
    #[serde(default)]
    pub default_service: Option<String>,
    pub assertions: Vec<Assertion>,
}

/// One TraceQL assertion. `$service` and `$learner` are replaced before it runs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Assertion {
    pub id: String,
    /// What is being checked, in a sentence the learner sees next to pass or fail.
    pub describe: String,
    pub query: String,
    pub expect: Expect,
    /// For `expect: every`: the traces that must all match `query`.
    #[serde(default)]
    pub of: Option<String>,
    /// Shown when the assertion fails: what is wrong and how to fix it.
    pub fail: String,
}

/// What an assertion requires of its query's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// At least one trace in the window matches.
    Present,
    /// No trace in the window matches.
    Absent,
    /// Every trace matched by `of` also matches `query` (and there is at least one).
    Every,
}

/// A root-cause report, checked against the learner's scenario variant.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RootCauseCheck {
    /// How many cited traces must really show the fault.
    #[serde(default = "default_min_evidence")]
    pub min_evidence: usize,
    /// How far back cited traces may be.
    #[serde(default = "default_evidence_window")]
    pub window: SpecDuration,
    /// The explanation must have at least this many words.
    #[serde(default = "default_min_words")]
    pub min_explanation_words: usize,
}

/// A multiple-choice quiz with an explanation per question.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuizCheck {
    /// Correct answers needed to pass.
    pub pass_mark: usize,
    pub questions: Vec<Question>,
    /// After this many failed attempts the right answers and explanations are shown even
    /// without a pass (before that, only which questions were wrong).
    #[serde(default = "default_reveal_after")]
    pub reveal_after: usize,
    /// How long a learner waits after a failed attempt before the next one is graded.
    #[serde(default = "default_retake_wait")]
    pub retake_wait: SpecDuration,
}

/// One quiz question.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    pub question: String,
    pub choices: Vec<String>,
    /// Index of the correct choice, from 0.
    pub answer: usize,
    /// Why the answer is right (and the others wrong), shown after grading.
    pub explanation: String,
}

fn default_reveal_after() -> usize {
    3
}

fn default_retake_wait() -> SpecDuration {
    SpecDuration(std::time::Duration::from_secs(30))
}

fn default_window() -> SpecDuration {
    SpecDuration(std::time::Duration::from_secs(15 * 60))
}

fn default_evidence_window() -> SpecDuration {
    SpecDuration(std::time::Duration::from_secs(60 * 60))
}

fn default_min_matches() -> usize {
    1
}

fn default_min_evidence() -> usize {
    2
}

fn default_min_words() -> usize {
    15
}
