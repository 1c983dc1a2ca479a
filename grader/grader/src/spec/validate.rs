//! Checks on a lab spec that serde cannot express, each reported as a [`Problem`] that names
//! the field and the fix.

use std::collections::HashSet;
use std::path::PathBuf;

use super::types::{Check, Expect, Lab, TraceqlCheck};
use crate::check::regression::ReleaseVersion;
use crate::query;

/// One thing wrong with a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where, as a path into the YAML: `exercises[1].check.reference`.
    pub field: String,
    /// What is wrong.
    pub problem: String,
    /// What to do about it.
    pub fix: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} (fix: {})", self.field, self.problem, self.fix)
    }
}

/// Why a lab could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{file}: cannot be read: {source}")]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{file}: {message} (fix: check the spelling and indentation of that field against labs/README.md)"
    )]
    Yaml { file: PathBuf, message: String },
    #[error("{file}: {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        file: PathBuf,
        problems: Vec<Problem>,
    },
    #[error("{file}: the lab id `{id}` is also used by {other}")]
    DuplicateLab {
        file: PathBuf,
        id: String,
        other: PathBuf,
    },
}

/// Collects problems while walking a spec.
struct Problems(Vec<Problem>);

impl Problems {
    fn add(
        &mut self,
        field: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.0.push(Problem {
            field: field.into(),
            problem: problem.into(),
            fix: fix.into(),
        });
    }

    fn query(&mut self, field: &str, text: &str) {
        if let Err(error) = query::check_template(text) {
            self.add(
                field,
                error.to_string(),
                "use only the placeholders the grader fills in",
            );
        } else if let Err(error) = query::parse(&query::render(text, &query::Vars::SAMPLE)) {
            self.add(
                field,
                format!("the TraceQL does not parse: {}", error.one_line()),
                "write a query the TraceQL console accepts",
            );
        }
    }
}

/// True for ids made of lower-case letters, digits and dashes, as used in URLs.
pub(crate) fn is_slug(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}

fn slug(problems: &mut Problems, field: &str, id: &str) {
    if !is_slug(id) {
        problems.add(
            field,
            format!("`{id}` is not a valid id"),
            "use lower-case letters, digits and dashes, at most 64 characters (like `slow-queries`)",
        );
    }
}

fn unique<'a>(problems: &mut Problems, list: &str, ids: impl Iterator<Item = &'a str>) {
    let mut seen = HashSet::new();
    for (i, id) in ids.enumerate() {
        if !seen.insert(id) {
            problems.add(
                format!("{list}[{i}].id"),
                format!("the id `{id}` is used twice"),
                "give each one its own id",
            );
        }
    }
}

/// The `must_refuse` near misses of a TraceQL check: each parses, is a search like the
/// reference, is not the reference itself and is listed once.
fn near_misses(p: &mut Problems, check: &str, c: &TraceqlCheck) {
    let canonical = |text: &str| {
        query::parse(&query::render(text, &query::Vars::SAMPLE))
            .ok()
            .map(|q| q.canonical())
    };
    let reference = canonical(&c.reference);
    let mut seen = HashSet::new();
    for (i, text) in c.must_refuse.iter().enumerate() {
        let field = format!("{check}.must_refuse[{i}]");
        p.query(&field, text);
        let Ok(parsed) = query::parse(&query::render(text, &query::Vars::SAMPLE)) else {
            continue;
        };
        if !parsed.is_search() {
            p.add(
                field.clone(),
                "is a metrics query, which a TraceQL exercise refuses before comparing results",
                "list only spanset queries a learner might mistake for the answer",
            );
        }
        let this = parsed.canonical();
        if reference.as_deref() == Some(this.as_str()) {
            p.add(
                field.clone(),
                "is the reference itself (written the same way)",
                "list a query that is nearly, but not, the answer",
            );
        }
        if !seen.insert(this) {
            p.add(
                field,
                "repeats an earlier near miss",
                "remove one of the two",
            );
        }
    }
}

/// Checks a parsed lab. `folder` is the name of its folder, which must equal its id.
/// `known_faults` is the fault catalogue's ids.
pub(crate) fn validate(
    lab: &Lab,
    folder: Option<&str>,
    known_faults: &[&str],
    starter_exists: Option<bool>,
) -> Vec<Problem> {
    let mut p = Problems(Vec::new());
    slug(&mut p, "id", &lab.id);
    if let Some(folder) = folder
        && folder != lab.id
    {
        p.add(
            "id",
            format!(
                "the id `{}` differs from the lab's folder name `{folder}`",
                lab.id
            ),
            format!("set `id: {folder}` or rename the folder"),
        );
    }
    for (field, value) in [("title", &lab.title), ("summary", &lab.summary)] {
        if value.trim().is_empty() {
            p.add(field, "is empty", "write one for the lab list");
        }
    }
    if lab.estimated_minutes == 0 {
        p.add(
            "estimated_minutes",
            "is 0",
            "give the time a learner should plan for, in minutes",
        );
    }
    for (i, language) in lab.languages.iter().enumerate() {
        slug(&mut p, &format!("languages[{i}].id"), &language.id);
        for (field, command) in [("run", &language.run), ("solution", &language.solution)] {
            if command
                .first()
                .is_none_or(|program| program.trim().is_empty())
            {
                p.add(
                    format!("languages[{i}].{field}"),
                    "names no program",
                    "write the command as a list, program first: [python3, starter/stock.py]",
                );
            }
        }
    }
    unique(
        &mut p,
        "languages",
        lab.languages.iter().map(|l| l.id.as_str()),
    );
    if starter_exists == Some(false) {
        p.add(
            "starter",
            format!(
                "the folder `{}` does not exist",
                lab.starter.as_deref().unwrap_or("")
            ),
            "give a path relative to the lab's folder",
        );
    }

    if let Some(scenario) = &lab.scenario {
        if scenario.variants.is_empty() {
            p.add(
                "scenario.variants",
                "is empty",
                "list at least one variant, or remove `scenario`",
            );
        }
        unique(
            &mut p,
            "scenario.variants",
            scenario.variants.iter().map(|v| v.id.as_str()),
        );
        for (vi, variant) in scenario.variants.iter().enumerate() {
            let base = format!("scenario.variants[{vi}]");
            slug(&mut p, &format!("{base}.id"), &variant.id);
            for (fi, toggle) in variant.faults.iter().enumerate() {
                let field = format!("{base}.faults[{fi}]");
                if !known_faults.contains(&toggle.fault.as_str()) {
                    p.add(
                        format!("{field}.fault"),
                        format!("`{}` is not a fault in the catalogue", toggle.fault),
                        format!("use one of: {}", known_faults.join(", ")),
                    );
                }
                if let Some(fraction) = toggle.fraction
                    && !(fraction > 0.0 && fraction <= 1.0)
                {
                    p.add(
                        format!("{field}.fraction"),
                        format!("{fraction} is not a fraction of requests"),
                        "give a number above 0 and at most 1 (0.2 hits one request in five)",
                    );
                }
                // A running service holds one activation per fault, shared by the learners it
                // is scoped to, so two variants cannot switch the same fault on differently.
                for (oi, other) in scenario.variants.iter().enumerate().take(vi) {
                    if let Some(clash) = other
                        .faults
                        .iter()
                        .find(|f| f.fault == toggle.fault && *f != toggle)
                    {
                        p.add(
                            field.clone(),
                            format!(
                                "switches `{}` on with other parameters than scenario.variants[{oi}] ({})",
                                toggle.fault,
                                serde_json::to_string(&clash.params).unwrap_or_default()
                            ),
                            "give the fault the same params and fraction in every variant that uses it",
                        );
                    }
                }
            }
            if let Some(truth) = &variant.truth {
                let field = format!("{base}.truth");
                if !known_faults.contains(&truth.fault.as_str()) {
                    p.add(
                        format!("{field}.fault"),
                        format!("`{}` is not a fault in the catalogue", truth.fault),
                        format!("use one of: {}", known_faults.join(", ")),
                    );
                } else if !variant.faults.iter().any(|f| f.fault == truth.fault) {
                    p.add(
                        format!("{field}.fault"),
                        format!("the variant does not switch on `{}`", truth.fault),
                        "name a fault the variant lists under `faults`",
                    );
                }
                for (name, value) in [("service", &truth.service), ("operation", &truth.operation)]
                {
                    if value.trim().is_empty() {
                        p.add(
                            format!("{field}.{name}"),
                            "is empty",
                            "name it as it appears in traces",
                        );
                    }
                }
                p.query(&format!("{field}.evidence"), &truth.evidence);
                if let Some(deployment) = &truth.deployment {
                    if ReleaseVersion::parse(&deployment.version).is_err() {
                        p.add(
                            format!("{field}.deployment.version"),
                            format!("`{}` is not a release version", deployment.version),
                            "write it as MAJOR.MINOR.PATCH, like 2.0.0",
                        );
                    } else if !variant.deploy.as_ref().is_some_and(|d| {
                        same_release(&d.version, &deployment.version) && d.service == truth.service
                    }) {
                        p.add(
                            format!("{field}.deployment"),
                            format!(
                                "names release {} of {}, which the variant's `deploy` does not roll out",
                                deployment.version, truth.service
                            ),
                            "add `deploy:` with that service and version to the variant",
                        );
                    }
                }
            }
            scripted_deploy(&mut p, &base, variant);
        }
    }

    if lab.exercises.is_empty() {
        p.add("exercises", "is empty", "a lab needs at least one exercise");
    }
    unique(
        &mut p,
        "exercises",
        lab.exercises.iter().map(|e| e.id.as_str()),
    );
    for (ei, exercise) in lab.exercises.iter().enumerate() {
        let base = format!("exercises[{ei}]");
        slug(&mut p, &format!("{base}.id"), &exercise.id);
        if exercise.prompt.trim().is_empty() {
            p.add(
                format!("{base}.prompt"),
                "is empty",
                "say what the learner should do",
            );
        }
        let check = format!("{base}.check");
        match &exercise.check {
            Check::Traceql(c) => {
                p.query(&format!("{check}.reference"), &c.reference);
                near_misses(&mut p, &check, c);
                if c.min_reference_matches == 0 {
                    p.add(
                        format!("{check}.min_reference_matches"),
                        "is 0, so an empty answer could pass when the lab has no traffic",
                        "use 1 or more",
                    );
                }
            }
            Check::Instrumentation(c) => {
                if c.assertions.is_empty() {
                    p.add(
                        format!("{check}.assertions"),
                        "is empty",
                        "list at least one assertion",
                    );
                }
                unique(
                    &mut p,
                    &format!("{check}.assertions"),
                    c.assertions.iter().map(|a| a.id.as_str()),
                );
                for (ai, a) in c.assertions.iter().enumerate() {
                    let field = format!("{check}.assertions[{ai}]");
                    slug(&mut p, &format!("{field}.id"), &a.id);
                    p.query(&format!("{field}.query"), &a.query);
                    // The grader narrows this condition to the learner's own run; without
                    // it an assertion would also read other runs (the shop's services).
                    let service = crate::check::instrumentation::SERVICE_CONDITION;
                    for (name, text) in [("query", Some(&a.query)), ("of", a.of.as_ref())] {
                        if let Some(text) = text
                            && !text.contains(service)
                        {
                            p.add(
                                format!("{field}.{name}"),
                                "does not select the service under test",
                                format!("include `{service}` in it"),
                            );
                        }
                    }
                    match (a.expect, &a.of) {
                        (Expect::Every, None) => p.add(
                            format!("{field}.of"),
                            "is missing; `expect: every` needs the traces that must all match",
                            "add `of: '<TraceQL selecting those traces>'`",
                        ),
                        (Expect::Every, Some(of)) => p.query(&format!("{field}.of"), of),
                        (_, Some(_)) => p.add(
                            format!("{field}.of"),
                            "is only read with `expect: every`",
                            "remove it or set `expect: every`",
                        ),
                        _ => {}
                    }
                    if a.fail.trim().is_empty() {
                        p.add(
                            format!("{field}.fail"),
                            "is empty",
                            "tell the learner what to fix when it fails",
                        );
                    }
                }
            }
            Check::RootCause(c) => {
                match &lab.scenario {
                    None => p.add(
                        check.clone(),
                        "a root-cause exercise needs a fault scenario, and the lab has none",
                        "add `scenario:` with variants that each have a `truth`",
                    ),
                    Some(s) => {
                        for (vi, v) in s.variants.iter().enumerate() {
                            if v.truth.is_none() {
                                p.add(
                                    format!("scenario.variants[{vi}].truth"),
                                    "is missing, so a learner given this variant could not be graded",
                                    "add the service, operation, fault and evidence query",
                                );
                            }
                        }
                    }
                }
                if c.min_evidence == 0 {
                    p.add(
                        format!("{check}.min_evidence"),
                        "is 0",
                        "ask for at least one evidence trace",
                    );
                }
            }
            Check::Pipeline(c) => {
                if !(c.keep_rest_percent > 0.0 && c.keep_rest_percent < 100.0) {
                    p.add(
                        format!("{check}.keep_rest_percent"),
                        format!("{} is not strictly between 0 and 100", c.keep_rest_percent),
                        "ask for a share such as 10",
                    );
                }
                if c.keep_slower_than.0.is_zero() {
                    p.add(
                        format!("{check}.keep_slower_than"),
                        "is 0, so every trace would be slow",
                        "give a duration such as 1s",
                    );
                }
                if let Err(e) = dojo_store::pipeline::settings::parse_settings(
                    &c.reference,
                    crate::check::pipeline::MAX_DECISION_WAIT,
                ) {
                    p.add(
                        format!("{check}.reference"),
                        format!("is not usable: {e}"),
                        "give settings that parse and meet the brief",
                    );
                }
                if c.never_store.is_empty() {
                    p.add(
                        format!("{check}.never_store"),
                        "is empty",
                        "list the attribute keys that must never be stored",
                    );
                }
            }
            Check::Dashboard(c) => {
                if c.panels.is_empty() {
                    p.add(
                        format!("{check}.panels"),
                        "is empty",
                        "ask for at least one panel",
                    );
                }
                if c.step.0.is_zero() || c.step.0 * 2 > c.window.0 {
                    p.add(
                        format!("{check}.step"),
                        format!("{} does not fit twice in the window {}", c.step, c.window),
                        "use a step such as 30s and a window of several minutes",
                    );
                }
                let mut ids = std::collections::HashSet::new();
                for (i, panel) in c.panels.iter().enumerate() {
                    let field = format!("{check}.panels[{i}]");
                    if !is_slug(&panel.id) || !ids.insert(panel.id.as_str()) {
                        p.add(
                            format!("{field}.id"),
                            format!("`{}` is not a unique slug", panel.id),
                            "use lower-case letters, digits and dashes, once each",
                        );
                    }
                    for (name, text) in std::iter::once(("reference".to_string(), &panel.reference))
                        .chain(
                            panel
                                .must_refuse
                                .iter()
                                .enumerate()
                                .map(|(j, q)| (format!("must_refuse[{j}]"), q)),
                        )
                    {
                        match query::parse(&query::render(text, &query::Vars::SAMPLE)) {
                            Ok(parsed) if parsed.is_metrics() => {}
                            Ok(_) => p.add(
                                format!("{field}.{name}"),
                                "is a search query, not a metrics query",
                                "end it with a metrics function such as | rate()",
                            ),
                            Err(error) => p.add(
                                format!("{field}.{name}"),
                                format!("the TraceQL does not parse: {}", error.one_line()),
                                "write a query the TraceQL console accepts",
                            ),
                        }
                    }
                    if !(panel.tolerance_percent >= 0.0 && panel.tolerance_percent < 50.0) {
                        p.add(
                            format!("{field}.tolerance_percent"),
                            format!("{} is not between 0 and 50", panel.tolerance_percent),
                            "state a tolerance such as 5",
                        );
                    }
                }
            }
            Check::Alert(c) => {
                if !known_faults.contains(&c.fault.fault.as_str()) {
                    p.add(
                        format!("{check}.fault.fault"),
                        format!("`{}` is not a fault in the catalogue", c.fault.fault),
                        format!("use one of: {}", known_faults.join(", ")),
                    );
                }
                for (field, problem) in crate::check::alert::timing_problems(c) {
                    p.add(
                        format!("{check}.{field}"),
                        problem,
                        "phases of tens of seconds, a deadline within the phase \"on\"",
                    );
                }
                for (name, rule) in std::iter::once(("reference".to_string(), &c.reference)).chain(
                    c.must_refuse
                        .iter()
                        .enumerate()
                        .map(|(j, r)| (format!("must_refuse[{j}]"), r)),
                ) {
                    if let Some(problem) = crate::check::alert::rule_problem(rule) {
                        p.add(
                            format!("{check}.{name}"),
                            problem,
                            "write a rule the Alerts page accepts",
                        );
                    }
                }
            }
            Check::Numeric(c) => {
                if !(c.tolerance_percent > 0.0 && c.tolerance_percent < 50.0) {
                    p.add(
                        format!("{check}.tolerance_percent"),
                        format!("{} is not strictly between 0 and 50", c.tolerance_percent),
                        "state a tolerance such as 2",
                    );
                }
            }
            Check::Quiz(c) => {
                if c.questions.is_empty() {
                    p.add(
                        format!("{check}.questions"),
                        "is empty",
                        "write at least one question",
                    );
                }
                if c.pass_mark == 0 || c.pass_mark > c.questions.len() {
                    p.add(
                        format!("{check}.pass_mark"),
                        format!(
                            "{} is not between 1 and the number of questions ({})",
                            c.pass_mark,
                            c.questions.len()
                        ),
                        "set how many correct answers pass",
                    );
                }
                // Each learner's right answers are spread over the letters (see
                // `check::quiz::layout`): one letter holds at most this many of them.
                let fewest = c
                    .questions
                    .iter()
                    .map(|q| q.choices.len())
                    .min()
                    .unwrap_or(0);
                if fewest >= 2 && c.pass_mark <= c.questions.len().div_ceil(fewest) {
                    p.add(
                        format!("{check}.pass_mark"),
                        format!(
                            "{} can be reached by giving the same letter to every question",
                            c.pass_mark
                        ),
                        format!(
                            "ask for more than {} right answers, or add questions",
                            c.questions.len().div_ceil(fewest)
                        ),
                    );
                }
                if c.reveal_after == 0 {
                    p.add(
                        format!("{check}.reveal_after"),
                        "is 0",
                        "show the answers after at least one failed attempt",
                    );
                }
                unique(
                    &mut p,
                    &format!("{check}.questions"),
                    c.questions.iter().map(|q| q.id.as_str()),
                );
                for (qi, q) in c.questions.iter().enumerate() {
                    let field = format!("{check}.questions[{qi}]");
                    slug(&mut p, &format!("{field}.id"), &q.id);
                    if q.choices.len() < 2 {
                        p.add(
                            format!("{field}.choices"),
                            "has fewer than two choices",
                            "give at least two",
                        );
                    }
                    if q.answer >= q.choices.len() {
                        p.add(
                            format!("{field}.answer"),
                            format!("{} is not the index of a choice", q.answer),
                            format!(
                                "choices are numbered from 0 to {}",
                                q.choices.len().saturating_sub(1)
                            ),
                        );
                    }
                    if q.explanation.trim().is_empty() {
                        p.add(
                            format!("{field}.explanation"),
                            "is empty",
                            "explain why the answer is right",
                        );
                    }
                }
            }
        }
    }
    p.0
}

/// A variant's scripted deploy, and the faults bound to a release: each such fault must come
/// with the variant's deploy of that release of its own service.
fn scripted_deploy(p: &mut Problems, base: &str, variant: &crate::spec::types::Variant) {
    if let Some(deploy) = &variant.deploy {
        if !DEPLOYABLE.contains(&deploy.service.as_str()) {
            p.add(
                format!("{base}.deploy.service"),
                format!("`{}` cannot be deployed", deploy.service),
                format!("deploy one of: {}", DEPLOYABLE.join(", ")),
            );
        }
        if ReleaseVersion::parse(&deploy.version).is_err() {
            p.add(
                format!("{base}.deploy.version"),
                format!("`{}` is not a release version", deploy.version),
                "write it as MAJOR.MINOR.PATCH, like 2.0.0",
            );
        }
    }
    for (fi, toggle) in variant.faults.iter().enumerate() {
        let Some(version) = &toggle.version else {
            continue;
        };
        let home = dojo_faults::FaultId::parse(&toggle.fault).map(|id| id.spec().service.as_str());
        let deployed = variant
            .deploy
            .as_ref()
            .is_some_and(|d| same_release(&d.version, version) && Some(d.service.as_str()) == home);
        if !deployed {
            p.add(
                format!("{base}.faults[{fi}].version"),
                format!(
                    "binds `{}` to release {version}, which the variant's `deploy` does not roll out",
                    toggle.fault
                ),
                "add `deploy:` rolling that release of the fault's service out, or remove `version`",
            );
        }
    }
}

/// The services `dojo deploy` can roll out.
const DEPLOYABLE: [&str; 2] = ["api", "frontend"];

/// Whether two versions name the same release (`v2.0.0` is `2.0.0`); text that is no release
/// version names none.
fn same_release(a: &str, b: &str) -> bool {
    matches!(
        (ReleaseVersion::parse(a), ReleaseVersion::parse(b)),
        (Ok(a), Ok(b)) if a == b
    )
}
