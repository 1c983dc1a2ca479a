//! Lab specs: every lab in the repository loads, and a broken spec is refused with the file,
//! the field and the fix.

use std::path::{Path, PathBuf};

use dojo_grader::spec::{SpecError, load_dir, load_file};

use crate::helpers::TempDir;

fn repository_labs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../labs")
}

#[test]
fn every_lab_in_the_repository_loads_and_validates() {
    let labs = load_dir(&repository_labs()).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = labs.iter().map(|l| l.id.as_str()).collect();
    for expected in [
        "instrument-a-service",
        "traceql-querying",
        "intermittent-slowness",
        "broken-trace",
        "quiz",
    ] {
        assert!(
            ids.contains(&expected),
            "lab {expected} is missing from {ids:?}"
        );
    }
    let quiz = labs
        .exercise("quiz", "brown-belt-quiz")
        .expect("the quiz exercise exists")
        .1;
    match &quiz.check {
        dojo_grader::spec::types::Check::Quiz(q) => assert_eq!(q.questions.len(), 10),
        other => panic!("the quiz is graded as a quiz, not {:?}", other.kind()),
    }
}

#[test]
fn every_traceql_exercise_lists_at_least_two_near_misses() {
    let labs = load_dir(&repository_labs()).unwrap_or_else(|e| panic!("{e}"));
    let mut counted = 0;
    for lab in labs.iter() {
        for exercise in &lab.exercises {
            let dojo_grader::spec::types::Check::Traceql(check) = &exercise.check else {
                continue;
            };
            counted += 1;
            assert!(
                check.must_refuse.len() >= 2,
                "{}/{}: lists {} near miss(es) under must_refuse; at least 2 are needed",
                lab.id,
                exercise.id,
                check.must_refuse.len()
            );
        }
    }
    assert!(
        counted >= 6,
        "only {counted} TraceQL exercises were checked"
    );
}

/// Writes `labs/<folder>/lab.yaml` in a temp dir and loads it.
fn load(folder: &str, yaml: &str) -> (TempDir, Result<dojo_grader::spec::types::Lab, SpecError>) {
    let dir = TempDir::new("spec");
    let lab_dir = dir.0.join(folder);
    std::fs::create_dir_all(&lab_dir).expect("temp dir is writable");
    std::fs::write(lab_dir.join("lab.yaml"), yaml).expect("temp dir is writable");
    let result = load_file(&lab_dir.join("lab.yaml"));
    (dir, result)
}

const GOOD: &str = r#"
id: demo
title: Demo
summary: A demo lab.
estimated_minutes: 5
exercises:
  - id: errors
    title: Errors
    prompt: Find the errors.
    check:
      kind: traceql
      reference: '{ status = error }'
"#;

#[test]
fn a_minimal_valid_lab_loads() {
    let (_dir, result) = load("demo", GOOD);
    let lab = result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(lab.exercises[0].check.kind().as_str(), "traceql");
}

#[test]
fn a_misspelt_field_is_refused_naming_the_file_and_the_field() {
    let (_dir, result) = load("demo", &GOOD.replace("reference:", "refrence:"));
    let message = result
        .expect_err("a misspelt field is an error")
        .to_string();
    assert!(message.contains("lab.yaml"), "{message}");
    assert!(message.contains("refrence"), "{message}");
    assert!(message.contains("fix:"), "{message}");
}

#[test]
fn each_semantic_problem_names_its_field_and_a_fix() {
    let cases: &[(&str, String, &str)] = &[
        ("the folder name differs from the id", GOOD.to_string(), "id"),
        (
            "an unknown placeholder in a query",
            GOOD.replace("{ status = error }", r#"{ span.learner.id = \"$lerner\" }"#),
            "exercises[0].check.reference",
        ),
        (
            "an id with capitals",
            GOOD.replace("id: errors", "id: Errors"),
            "exercises[0].id",
        ),
        (
            "a quiz answer that is not a choice",
            GOOD.replace(
                "check:\n      kind: traceql\n      reference: '{ status = error }'",
                "check:\n      kind: quiz\n      pass_mark: 1\n      questions:\n        - { id: q, question: Q?, choices: [a, b], answer: 2, explanation: because }",
            ),
            "exercises[0].check.questions[0].answer",
        ),
        (
            "a root-cause exercise without a scenario",
            GOOD.replace("kind: traceql\n      reference: '{ status = error }'", "kind: root_cause"),
            "exercises[0].check",
        ),
        (
            "a scenario naming a fault that does not exist",
            GOOD.replace(
                "exercises:",
                "scenario:\n  variants:\n    - id: v\n      faults: [{ fault: slow_querry }]\nexercises:",
            ),
            "scenario.variants[0].faults[0].fault",
        ),
        (
            "a near miss that does not parse",
            GOOD.replace(
                "reference: '{ status = error }'",
                "reference: '{ status = error }'\n      must_refuse: ['{ kind = server }', '{ status == error }']",
            ),
            "exercises[0].check.must_refuse[1]",
        ),
        (
            "a near miss that is the reference",
            GOOD.replace(
                "reference: '{ status = error }'",
                "reference: '{ status = error }'\n      must_refuse: ['{status=error}']",
            ),
            "exercises[0].check.must_refuse[0]",
        ),
        (
            "a reference that does not parse",
            GOOD.replace("{ status = error }", "{ status = }"),
            "exercises[0].check.reference",
        ),
        (
            "an instrumentation assertion that does not select the service under test",
            GOOD.replace(
                "kind: traceql\n      reference: '{ status = error }'",
                "kind: instrumentation\n      assertions:\n        - { id: a, describe: D, query: '{ kind = server }', expect: present, fail: F }",
            ),
            "exercises[0].check.assertions[0].query",
        ),
        (
            "a fault bound to a release no deploy rolls out",
            GOOD.replace(
                "exercises:",
                "scenario:\n  variants:\n    - id: v\n      faults: [{ fault: slow_query, version: 2.0.0 }]\nexercises:",
            ),
            "scenario.variants[0].faults[0].version",
        ),
        (
            "a deploy of a service that cannot be deployed",
            GOOD.replace(
                "exercises:",
                "scenario:\n  variants:\n    - id: v\n      faults: [{ fault: payments_slow }]\n      deploy: { service: payments, version: 2.0.0, change: c, after: 30s }\nexercises:",
            ),
            "scenario.variants[0].deploy.service",
        ),
        (
            "a truth naming a release the variant does not deploy",
            GOOD.replace(
                "exercises:",
                "scenario:\n  variants:\n    - id: v\n      faults: [{ fault: slow_query, version: 2.0.0 }]\n      deploy: { service: api, version: 2.0.0, change: c, after: 30s }\n      truth: { service: api, operation: o, fault: slow_query, evidence: '{ duration > 1s }', deployment: { version: 2.1.0 } }\nexercises:",
            ),
            "scenario.variants[0].truth.deployment",
        ),
    ];
    for (what, yaml, field) in cases {
        let folder = if *what == "the folder name differs from the id" {
            "other"
        } else {
            "demo"
        };
        let (_dir, result) = load(folder, yaml);
        match result {
            Err(SpecError::Invalid { problems, file }) => {
                assert!(file.ends_with("lab.yaml"), "{what}");
                let problem = problems
                    .iter()
                    .find(|p| p.field == *field)
                    .unwrap_or_else(|| panic!("{what}: no problem at {field}: {problems:?}"));
                assert!(!problem.fix.is_empty(), "{what}: a fix is suggested");
            }
            other => panic!("{what}: expected a validation error, got {other:?}"),
        }
    }
}

#[test]
fn two_variants_switching_one_fault_on_differently_are_refused() {
    let yaml = GOOD.replace(
        "exercises:",
        "scenario:\n  variants:\n    - id: a\n      faults: [{ fault: slow_query, params: { delay_ms: 500 } }]\n    - id: b\n      faults: [{ fault: slow_query, params: { delay_ms: 900 } }]\nexercises:",
    );
    let (_dir, result) = load("demo", &yaml);
    let message = result
        .expect_err("conflicting variants are refused")
        .to_string();
    assert!(
        message.contains("scenario.variants[1].faults[0]"),
        "{message}"
    );
}

#[test]
fn languages_need_a_program_a_unique_id_and_an_existing_folder() {
    let with =
        |languages: &str| GOOD.replace("exercises:", &format!("languages:\n{languages}exercises:"));
    let good = "  - {id: python, name: Python, run: [python3, s.py], solution: [python3, t.py]}\n";
    let (_dir, result) = load("demo", &with(good));
    let lab = result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(lab.languages[0].dir, ".", "the lab's folder by default");
    for (what, languages, field) in [
        (
            "an empty command",
            "  - {id: python, name: Python, run: [], solution: [python3, t.py]}\n".to_string(),
            "languages[0].run",
        ),
        (
            "the same id twice",
            format!("{good}{good}"),
            "languages[1].id",
        ),
        (
            "a folder that does not exist",
            "  - {id: node, name: Node.js, dir: node, run: [node, s.js], solution: [node, t.js]}\n"
                .to_string(),
            "languages[0].dir",
        ),
    ] {
        let (_dir, result) = load("demo", &with(&languages));
        let message = result.expect_err(what).to_string();
        assert!(message.contains(field), "{what}: {message}");
        assert!(message.contains("fix:"), "{what}: {message}");
    }
}
