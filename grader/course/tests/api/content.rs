//! The lessons' TraceQL is real TraceQL: every ```traceql block in content/ parses with the
//! same engine the grader and the store use, so a learner never copies a broken example, and
//! every `returns with=…` marker names a real fault with valid parameters. (That the marked
//! blocks really return traces is checked against the running lab by tests/e2e/lessons.rs.)

use dojo_course::content::{Course, QueryExample, query_examples};

use crate::support::content_dir;

fn examples() -> Vec<QueryExample> {
    let course = Course::load(&content_dir()).expect("content/ loads");
    query_examples(&course).unwrap_or_else(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        panic!("wrong ```traceql markers:\n{}", lines.join("\n"))
    })
}

#[test]
fn every_traceql_block_in_the_lessons_parses() {
    let examples = examples();
    assert!(
        examples.len() >= 40,
        "expected the lessons to carry many examples, found {}",
        examples.len()
    );
    let failures: Vec<String> = examples
        .iter()
        .filter_map(|example| {
            dojo_traceql::parse(&example.query).err().map(|error| {
                format!(
                    "{}: {}\n{}",
                    example.location(),
                    example.query,
                    error.render(&example.query)
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} lesson queries do not parse:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn the_lessons_claim_results_for_most_examples_and_name_real_faults() {
    let examples = examples();
    let claimed = examples.iter().filter(|e| e.returns.is_some()).count();
    assert!(
        claimed * 2 >= examples.len(),
        "only {claimed} of {} examples say they return traces",
        examples.len()
    );
    let mut failures = Vec::new();
    for example in &examples {
        for setting in example.returns.iter().flat_map(|state| &state.faults) {
            let Some(id) = dojo_faults::FaultId::parse(&setting.id) else {
                failures.push(format!(
                    "{}: no fault is called {:?}",
                    example.location(),
                    setting.id
                ));
                continue;
            };
            let request: dojo_faults::activation::ActivationRequest =
                serde_json::from_value(setting.activation_body()).expect("a request body");
            if let Err(error) = request.validate(id) {
                failures.push(format!("{}: {setting}: {error}", example.location()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_claim_that_a_query_finds_nothing_has_traffic_to_be_checked_against() {
    use dojo_course::content::examples::Claim;
    let examples = examples();
    let nothing: Vec<&QueryExample> = examples
        .iter()
        .filter(|e| e.claim == Claim::FindsNothing)
        .collect();
    assert!(
        nothing.len() >= 3,
        "the lessons' claims that a query finds nothing are marked `nothing` ({} are)",
        nothing.len()
    );
    for claim in nothing {
        assert!(
            examples
                .iter()
                .any(|e| e.claim == Claim::Finds && e.returns == claim.returns),
            "{}: a `nothing` claim is checked over the traffic in which a `returns` example \
             with the same faults found traces; there is none",
            claim.location()
        );
    }
}

#[test]
fn every_search_example_in_the_lessons_runs_in_the_console() {
    // Metrics queries run as metrics (the console draws their series instead).
    let shelf = crate::support::Shelf::sample();
    let options = dojo_traceql::SearchOptions::default();
    for example in examples() {
        let parsed = dojo_traceql::parse(&example.query).expect("checked by the test above");
        if parsed.is_metrics() {
            continue;
        }
        let result = dojo_traceql::search(&parsed, shelf.traces.iter(), &options);
        assert!(
            result.is_ok(),
            "{}: {}: {result:?}",
            example.location(),
            example.query
        );
    }
}
