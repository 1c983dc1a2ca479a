//! The three kinds of check against real traces in the embedded store, run through both
//! backends: in process, and over the store's own Tempo HTTP API on port 0.

use std::path::Path;
use std::sync::Arc;

use dojo_grader::check::feedback::{ItemStatus, Verdict};
use dojo_grader::check::root_cause::Report;
use dojo_grader::progress::LearnerId;
use dojo_grader::scenario::variant_for;
use dojo_grader::service::{Grader, Submission};
use dojo_grader::spec::{LabSet, load_dir};
use dojo_store::Store;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use crate::helpers::{Attr, TestSpan, backends, ingest, store, trace_hex};

fn repository_labs() -> LabSet {
    load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../labs"))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn learner(id: &str) -> LearnerId {
    LearnerId::parse(id).expect("test ids are valid")
}

/// A product page request: frontend → api → database. `db_ms` is the query's duration;
/// `api_status` the api's response code (a 5xx marks the api span as an error).
fn product_page(trace: u32, db_ms: u64, api_status: i64) -> Vec<TestSpan> {
    let total = db_ms + 20;
    let mut api = TestSpan::new(trace, 3, Some(2), "api", "GET /products/{id}")
        .kind(SpanKind::Server)
        .timing(5, total - 10)
        .attr("http.route", Attr::S("/products/{id}"))
        .attr("http.response.status_code", Attr::I(api_status));
    if api_status >= 500 {
        api = api.error();
    }
    vec![
        TestSpan::new(trace, 1, None, "frontend", "GET /products/{id}")
            .kind(SpanKind::Server)
            .timing(0, total)
            .attr("http.route", Attr::S("/products/{id}")),
        TestSpan::new(trace, 2, Some(1), "frontend", "GET /products/{id}")
            .kind(SpanKind::Client)
            .timing(2, total - 5),
        api,
        TestSpan::new(trace, 4, Some(3), "api", "SELECT products")
            .kind(SpanKind::Client)
            .timing(8, db_ms)
            .attr("db.system", Attr::S("sqlite"))
            .attr("db.operation.name", Attr::S("SELECT"))
            .attr("db.collection.name", Attr::S("products")),
    ]
}

/// Ten requests: 1–3 with a slow query, 4 failing with 500, 5 with 503, 6 failing in the
/// frontend only, the rest healthy; 11 waits for a database connection.
fn shop() -> Store {
    let store = store();
    let mut spans = Vec::new();
    for t in 1..=10 {
        let db_ms = if t <= 3 { 800 } else { 15 };
        let status = match t {
            4 => 500,
            5 => 503,
            _ => 200,
        };
        let mut trace = product_page(t, db_ms, status);
        if t == 6 {
            trace[0] = trace[0].clone().error();
        }
        spans.extend(trace);
    }
    // 11: a request that waited 700 ms for a database connection: a slow span with
    // `db.system` that is not a query, so answers without `kind = client` can be told apart.
    spans.extend(pool_wait(11, 700));
    // 12: a query slower than most but under 500 ms, as the lab's slow query spreads its
    // hits, so an answer with another threshold is told apart too.
    spans.extend(product_page(12, 300, 200));
    ingest(&store, &spans, 60_000);
    store
}

/// A product page whose api waited `wait_ms` in `db.pool.acquire` before a fast query.
fn pool_wait(trace: u32, wait_ms: u64) -> Vec<TestSpan> {
    let mut spans = product_page(trace, wait_ms + 15, 200);
    if let Some(query) = spans.last_mut() {
        *query = TestSpan::new(trace, 4, Some(3), "api", "SELECT products")
            .kind(SpanKind::Client)
            .timing(wait_ms + 10, 15)
            .attr("db.system", Attr::S("sqlite"))
            .attr("db.operation.name", Attr::S("SELECT"))
            .attr("db.collection.name", Attr::S("products"));
    }
    spans.push(
        TestSpan::new(trace, 5, Some(3), "api", "db.pool.acquire")
            .kind(SpanKind::Internal)
            .timing(8, wait_ms)
            .attr("db.system", Attr::S("sqlite")),
    );
    spans
}

async fn grade(
    backend: Arc<dyn dojo_grader::backend::TraceBackend>,
    lab: &str,
    exercise: &str,
    submission: Submission,
) -> dojo_grader::check::feedback::Feedback {
    let grader = Grader::new(repository_labs(), backend, None);
    grader
        .grade(&learner("ada"), lab, exercise, &submission)
        .await
        .unwrap_or_else(|e| panic!("{lab}/{exercise} could not be graded: {e}"))
}

#[tokio::test]
async fn an_equivalent_query_written_differently_passes_on_both_backends() {
    let store = shop();
    for (name, backend) in backends(&store).await {
        let feedback = grade(
            backend,
            "traceql-querying",
            "slow-db-queries",
            Submission::Query(
                r#"{ duration > 500ms && span.db.system =~ ".+" && kind != server && kind != internal }"#
                    .into(),
            ),
        )
        .await;
        assert_eq!(
            feedback.verdict,
            Verdict::Pass,
            "{name}: {}",
            feedback.to_text()
        );
        assert_eq!(feedback.score, 1.0, "{name}");
        assert!(
            feedback.headline.contains("exactly the 3 traces"),
            "{name}: {}",
            feedback.headline
        );
    }
}

#[tokio::test]
async fn a_right_answer_is_not_judged_while_a_near_miss_returns_the_same_result() {
    // Without the request that waited for a connection, `{ span.db.system != nil && duration
    // > 500ms }` (a near miss the lab lists) returns exactly the reference's spans: the window
    // cannot tell it from the answer, so neither is accepted yet.
    let store = store();
    let spans: Vec<TestSpan> = (1..=6)
        .flat_map(|t| product_page(t, if t <= 3 { 800 } else { 15 }, 200))
        .collect();
    ingest(&store, &spans, 60_000);
    for (name, backend) in backends(&store).await {
        for answer in [
            "{ kind = client && span.db.system != nil && duration > 500ms }",
            "{ span.db.system != nil && duration > 500ms }",
        ] {
            let feedback = grade(
                backend.clone(),
                "traceql-querying",
                "slow-db-queries",
                Submission::Query(answer.into()),
            )
            .await;
            assert_eq!(
                feedback.verdict,
                Verdict::NotReady,
                "{name}: {answer}: {}",
                feedback.to_text()
            );
            assert!(
                feedback
                    .headline
                    .contains("not enough traffic yet to tell answers apart")
                    || feedback
                        .headline
                        .contains("Not enough traffic yet to tell answers apart"),
                "{name}: {}",
                feedback.headline
            );
            assert!(feedback.headline.contains("wait about"), "{name}");
        }
        // A wrong answer that the window does tell apart is still judged.
        let feedback = grade(
            backend,
            "traceql-querying",
            "slow-db-queries",
            Submission::Query("{ duration > 500ms }".into()),
        )
        .await;
        assert_eq!(feedback.verdict, Verdict::Fail, "{name}");
    }
}

#[tokio::test]
async fn the_right_traces_with_the_wrong_spans_fail_when_spans_matter() {
    let store = shop();
    for (name, backend) in backends(&store).await {
        let feedback = grade(
            backend,
            "traceql-querying",
            "slow-db-queries",
            Submission::Query("{ duration > 500ms }".into()),
        )
        .await;
        assert_eq!(feedback.verdict, Verdict::Fail, "{name}");
        let item = feedback
            .items
            .iter()
            .find(|i| i.title.starts_with("Right trace, different spans"))
            .unwrap_or_else(|| panic!("{name}: {}", feedback.to_text()));
        assert_eq!(item.evidence.len(), 3, "{name}");
        assert!(
            item.evidence[0].why.contains("you returned")
                && item.evidence[0]
                    .why
                    .contains("frontend › GET /products/{id}"),
            "{name}: the evidence names the server span that should not be there: {}",
            item.evidence[0].why
        );
    }
}

#[tokio::test]
async fn a_too_broad_query_is_refused_naming_the_trace_it_should_not_include() {
    let store = shop();
    for (name, backend) in backends(&store).await {
        let feedback = grade(
            backend,
            "traceql-querying",
            "failed-api-requests",
            Submission::Query("{ status = error }".into()),
        )
        .await;
        assert_eq!(feedback.verdict, Verdict::Fail, "{name}");
        assert!(
            feedback.headline.starts_with("Too broad"),
            "{name}: {}",
            feedback.headline
        );
        let extra = feedback
            .items
            .iter()
            .find(|i| i.title.starts_with("Included 1 trace"))
            .unwrap_or_else(|| panic!("{name}: {}", feedback.to_text()));
        assert_eq!(extra.evidence[0].trace_id, trace_hex(6), "{name}");
        assert!(
            extra.evidence[0]
                .why
                .contains("`frontend › GET /products/{id}` (server"),
            "{name}: {}",
            extra.evidence[0].why
        );
        assert!(
            (feedback.score - 2.0 / 3.0).abs() < 1e-9,
            "{name}: score {}",
            feedback.score
        );
    }
}

#[tokio::test]
async fn a_too_narrow_query_is_refused_naming_the_trace_it_missed_and_what_the_reference_saw_there()
{
    let store = shop();
    for (name, backend) in backends(&store).await {
        let feedback = grade(
            backend,
            "traceql-querying",
            "failed-api-requests",
            Submission::Query(r#"{ resource.service.name = "api" && status = error && span.http.response.status_code = 500 }"#.into()),
        )
        .await;
        assert_eq!(feedback.verdict, Verdict::Fail, "{name}");
        assert!(
            feedback.headline.starts_with("Too narrow"),
            "{name}: {}",
            feedback.headline
        );
        let missed = feedback
            .items
            .iter()
            .find(|i| i.title == "Missed 1 trace")
            .unwrap_or_else(|| panic!("{name}: {}", feedback.to_text()));
        assert_eq!(missed.evidence[0].trace_id, trace_hex(5), "{name}");
        assert!(
            missed.evidence[0]
                .why
                .contains("`api › GET /products/{id}` (server"),
            "{name}: {}",
            missed.evidence[0].why
        );
    }
}

#[tokio::test]
async fn a_query_that_matches_nothing_is_told_which_part_empties_it() {
    let store = shop();
    let cases = [
        (
            "a condition no span meets",
            "failed-api-requests",
            r#"{ resource.service.name = "api" && kind = server && span.http.route = "/product/{id}" && status = error }"#,
            vec![
                "no span meets `span.http.route = \"/product/{id}\"`",
                "/products/{id}",
            ],
        ),
        (
            "`>` written for `>>`",
            "errors-under-checkout",
            r#"{ resource.service.name = "frontend" && kind = server } > { resource.service.name = "api" && status = error }"#,
            vec!["`>` only reaches a direct child", "with `>>`"],
        ),
        (
            "the operands reversed",
            "errors-under-checkout",
            r#"{ resource.service.name = "api" && status = error } >> { resource.service.name = "frontend" && kind = server }"#,
            vec!["the wrong way round", "left side"],
        ),
        (
            "an aggregate where a span condition was meant",
            "failed-api-requests",
            r#"{ resource.service.name = "api" && kind = server && status = error } | count() > 1"#,
            vec!["because of `| count() > 1`", "inside the braces"],
        ),
    ];
    for (what, exercise, query, says) in cases {
        for (name, backend) in backends(&store).await {
            let feedback = grade(
                backend,
                "traceql-querying",
                exercise,
                Submission::Query(query.into()),
            )
            .await;
            let text = feedback.to_text();
            assert_eq!(feedback.verdict, Verdict::Fail, "{what}, {name}: {text}");
            for needle in &says {
                assert!(
                    text.contains(needle),
                    "{what}, {name}: {needle:?} not in\n{text}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_query_that_does_not_parse_is_refused_with_the_column_and_a_caret() {
    let store = shop();
    for (name, backend) in backends(&store).await {
        let feedback = grade(
            backend,
            "traceql-querying",
            "failed-api-requests",
            Submission::Query(r#"{ resource.service.name == "api" }"#.into()),
        )
        .await;
        assert_eq!(feedback.verdict, Verdict::Fail, "{name}");
        let syntax = feedback
            .syntax_error
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: {}", feedback.to_text()));
        assert_eq!(syntax.line, 1, "{name}");
        assert_eq!(syntax.column, 25, "{name}: the caret points at `==`");
        assert!(syntax.rendered.contains('^'), "{name}: {}", syntax.rendered);
        assert!(
            feedback.headline.contains("column 25"),
            "{name}: {}",
            feedback.headline
        );
    }
}

#[tokio::test]
async fn a_metrics_query_is_refused_as_the_wrong_kind_of_answer() {
    let store = shop();
    let feedback = grade(
        backends(&store).await.remove(0).1,
        "traceql-querying",
        "failed-api-requests",
        Submission::Query("{ status = error } | rate()".into()),
    )
    .await;
    assert_eq!(feedback.verdict, Verdict::Fail);
    assert!(
        feedback.headline.contains("metrics query"),
        "{}",
        feedback.headline
    );
}

#[tokio::test]
async fn with_no_matching_traffic_in_the_window_the_answer_is_not_graded() {
    let store = store();
    ingest(&store, &product_page(1, 15, 200), 60_000);
    for (name, backend) in backends(&store).await {
        let feedback = grade(
            backend,
            "traceql-querying",
            "failed-api-requests",
            Submission::Query("{ status = error }".into()),
        )
        .await;
        assert_eq!(
            feedback.verdict,
            Verdict::NotReady,
            "{name}: {}",
            feedback.to_text()
        );
        assert!(
            feedback.headline.contains("not produced the traces"),
            "{name}"
        );
    }
}

// ----------------------------------------------------------------- instrumentation

/// A stock service request as the reference solution traces it: route-named server span with
/// attributes, a client span whose child is the api's server span, errors recorded.
fn stock_request(trace: u32, service: &'static str, fails: bool) -> Vec<TestSpan> {
    let status = if fails { 500 } else { 200 };
    let mut server = TestSpan::new(trace, 1, None, service, "GET /stock/{id}")
        .learner("ada")
        .kind(SpanKind::Server)
        .timing(0, 30)
        .attr("http.route", Attr::S("/stock/{id}"))
        .attr("http.response.status_code", Attr::I(status));
    if fails {
        server = server.error().exception();
    }
    vec![
        server,
        TestSpan::new(trace, 2, Some(1), service, "GET /products/{id}")
            .learner("ada")
            .kind(SpanKind::Client)
            .timing(2, 20),
        TestSpan::new(trace, 3, Some(2), "api", "GET /products/{id}")
            .kind(SpanKind::Server)
            .timing(4, 15),
    ]
}

/// The starter's traces: concrete paths in names, no route, no propagation (the api's span
/// starts its own trace), a 500 not marked as an error, and the API key header recorded.
fn starter_request(trace: u32, fails: bool) -> Vec<TestSpan> {
    let status = if fails { 500 } else { 200 };
    vec![
        TestSpan::new(trace, 1, None, "stock-starter", "GET /stock/42")
            .learner("ada")
            .kind(SpanKind::Server)
            .timing(0, 30)
            .attr("http.response.status_code", Attr::I(status))
            .attr("http.request.header.x-api-key", Attr::S("sk-live-hunter2")),
        TestSpan::new(trace, 2, Some(1), "stock-starter", "GET")
            .learner("ada")
            .kind(SpanKind::Client)
            .timing(2, 20),
        TestSpan::new(trace + 1000, 1, None, "api", "GET /products/{id}")
            .kind(SpanKind::Server)
            .timing(4, 15),
    ]
}

#[tokio::test]
async fn a_well_instrumented_service_passes_every_assertion() {
    let store = store();
    let mut spans = stock_request(1, "stock", false);
    spans.extend(stock_request(2, "stock", true));
    ingest(&store, &spans, 20_000);
    for (name, backend) in backends(&store).await {
        let feedback = grade(
            backend,
            "instrument-a-service",
            "instrument-stock",
            Submission::Service("stock".into()),
        )
        .await;
        assert_eq!(
            feedback.verdict,
            Verdict::Pass,
            "{name}: {}",
            feedback.to_text()
        );
        assert_eq!(feedback.items.len(), 6, "{name}: one item per assertion");
        assert!(
            feedback.items.iter().all(|i| i.status == ItemStatus::Pass),
            "{name}"
        );
    }
}

#[tokio::test]
async fn the_starter_code_fails_each_assertion_it_breaks_with_the_labs_message() {
    let store = store();
    let mut spans = starter_request(1, false);
    spans.extend(starter_request(2, true));
    ingest(&store, &spans, 20_000);
    for (name, backend) in backends(&store).await {
        let feedback = grade(
            backend,
            "instrument-a-service",
            "instrument-stock",
            Submission::Service("stock-starter".into()),
        )
        .await;
        assert_eq!(feedback.verdict, Verdict::Fail, "{name}");
        let status = |title_start: &str| {
            feedback
                .items
                .iter()
                .find(|i| i.title.starts_with(title_start))
                .unwrap_or_else(|| panic!("{name}: no item {title_start}: {}", feedback.to_text()))
        };
        assert_eq!(
            status("The service records a SERVER span").status,
            ItemStatus::Pass,
            "{name}"
        );
        for (title, says) in [
            (
                "Server spans are named after the route template",
                "concrete id",
            ),
            ("Every server span has http.route", "http.route"),
            (
                "The call to the api carries the trace context",
                "inject traceparent",
            ),
            ("A failed request is marked as an error", "status to error"),
            ("No credential", "secret"),
        ] {
            let item = status(title);
            assert_eq!(item.status, ItemStatus::Fail, "{name}: {title}");
            assert!(
                item.message.contains(says),
                "{name}: {title}: {}",
                item.message
            );
        }
        let secret = status("No credential");
        assert_eq!(
            secret.evidence.len(),
            2,
            "{name}: both offending traces are shown"
        );
        assert!((feedback.score - 1.0 / 6.0).abs() < 1e-9, "{name}");
    }
}

#[tokio::test]
async fn only_the_running_instance_is_checked_so_traces_from_before_a_fix_do_not_count() {
    let store = store();
    // The starter ran a minute ago as instance "old"; the fixed code now runs as "new".
    let old: Vec<TestSpan> = starter_request(1, true)
        .into_iter()
        .map(|s| {
            TestSpan {
                service: if s.service == "api" { "api" } else { "stock" },
                ..s
            }
            .instance("old")
        })
        .collect();
    ingest(&store, &old, 90_000);
    let mut new = stock_request(2, "stock", false);
    new.extend(stock_request(3, "stock", true));
    let new: Vec<TestSpan> = new.into_iter().map(|s| s.instance("new")).collect();
    ingest(&store, &new, 20_000);
    for (name, backend) in backends(&store).await {
        let feedback = grade(
            backend,
            "instrument-a-service",
            "instrument-stock",
            Submission::Service("stock".into()),
        )
        .await;
        assert_eq!(
            feedback.verdict,
            Verdict::Pass,
            "{name}: {}",
            feedback.to_text()
        );
        let info = feedback
            .items
            .iter()
            .find(|i| i.title == "Which traces were checked")
            .expect("says which traces");
        assert!(
            info.message.contains("service.instance.id new"),
            "{name}: {}",
            info.message
        );
    }
}

#[tokio::test]
async fn only_spans_of_the_learners_own_run_count_not_other_runs_of_a_same_named_service() {
    let store = store();
    // Ada's run never served a failing request.
    let mut spans = stock_request(1, "stock", false);
    // An unmarked run named `stock` (someone's solution) did, with an exception recorded …
    spans.extend(
        stock_request(2, "stock", true)
            .into_iter()
            .map(|s| TestSpan { learner: None, ..s }),
    );
    // … and Bo's run of the starter, renamed `stock`, records the API key.
    spans.extend(starter_request(3, true).into_iter().map(|s| TestSpan {
        service: if s.service == "api" { "api" } else { "stock" },
        learner: s.learner.map(|_| "bo"),
        ..s
    }));
    ingest(&store, &spans, 20_000);
    for (name, backend) in backends(&store).await {
        let feedback = grade(
            backend,
            "instrument-a-service",
            "instrument-stock",
            Submission::Service("stock".into()),
        )
        .await;
        let status = |title_start: &str| {
            feedback
                .items
                .iter()
                .find(|i| i.title.starts_with(title_start))
                .unwrap_or_else(|| panic!("{name}: no item {title_start}: {}", feedback.to_text()))
                .status
        };
        assert_eq!(
            status("A failed request is marked as an error"),
            ItemStatus::Fail,
            "{name}: another run's recorded exception is not Ada's work: {}",
            feedback.to_text()
        );
        assert_eq!(
            status("No credential"),
            ItemStatus::Pass,
            "{name}: Bo's leaked key is not Ada's: {}",
            feedback.to_text()
        );
        assert_eq!(feedback.verdict, Verdict::Fail, "{name}");
    }
}

#[tokio::test]
async fn a_service_that_sent_nothing_is_not_graded_and_the_learner_is_told_what_to_check() {
    let store = store();
    ingest(&store, &stock_request(1, "stock", false), 20_000);
    let backend = backends(&store).await.remove(0).1;
    let feedback = grade(
        backend,
        "instrument-a-service",
        "instrument-stock",
        Submission::Service("stok".into()),
    )
    .await;
    assert_eq!(feedback.verdict, Verdict::NotReady);
    assert!(
        feedback.headline.contains("OTEL_SERVICE_NAME"),
        "{}",
        feedback.headline
    );
}

// ----------------------------------------------------------------- root cause

/// A learner whose intermittent-slowness variant is the slow query.
fn slow_query_learner(labs: &LabSet) -> LearnerId {
    let lab = labs.get("intermittent-slowness").expect("the lab exists");
    (0..200)
        .map(|i| learner(&format!("learner-{i}")))
        .find(|l| variant_for(lab, l).is_some_and(|v| v.id == "slow-query"))
        .expect("some learner gets the slow-query variant")
}

fn report(service: &str, operation: &str, fault: &str, evidence: &[u32]) -> Submission {
    Submission::Report(Report {
        service: service.into(),
        operation: operation.into(),
        fault: fault.into(),
        evidence: evidence.iter().map(|&t| trace_hex(t)).collect(),
        explanation: "In the slow traces the SELECT on products under GET /products/{id} takes \
                      800 ms while every other span is fast, and only some requests are hit."
            .into(),
        deployment: String::new(),
    })
}

async fn grade_report(
    store: &Store,
    submission: Submission,
) -> Vec<(&'static str, dojo_grader::check::feedback::Feedback)> {
    let labs = repository_labs();
    let who = slow_query_learner(&labs);
    let mut out = Vec::new();
    for (name, backend) in backends(store).await {
        let grader = Grader::new(labs.clone(), backend, None);
        let feedback = grader
            .grade(&who, "intermittent-slowness", "root-cause", &submission)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        out.push((name, feedback));
    }
    out
}

#[tokio::test]
async fn a_correct_report_with_traces_that_show_the_fault_passes() {
    let store = shop();
    for (name, feedback) in grade_report(
        &store,
        report("api", "SELECT products", "slow query", &[1, 2]),
    )
    .await
    {
        assert_eq!(
            feedback.verdict,
            Verdict::Pass,
            "{name}: {}",
            feedback.to_text()
        );
        assert_eq!(feedback.score, 1.0, "{name}");
    }
}

#[tokio::test]
async fn blaming_the_caller_is_refused_and_the_feedback_says_to_follow_the_time_down() {
    let store = shop();
    for (name, feedback) in grade_report(
        &store,
        report("frontend", "GET /products/{id}", "cpu_heavy", &[1, 2]),
    )
    .await
    {
        assert_eq!(feedback.verdict, Verdict::Fail, "{name}");
        let service = feedback
            .items
            .iter()
            .find(|i| i.title == "Faulty service")
            .expect("a service item");
        assert_eq!(service.status, ItemStatus::Fail, "{name}");
        assert!(
            service
                .message
                .contains("`frontend` is not where the fault is"),
            "{name}: {}",
            service.message
        );
        assert!(
            service.message.contains("deepest span"),
            "{name}: {}",
            service.message
        );
        let kind = feedback
            .items
            .iter()
            .find(|i| i.title == "Kind of fault")
            .expect("a kind item");
        assert_eq!(kind.status, ItemStatus::Fail, "{name}");
        // Only the route (the api's operation is named after it) and the evidence are right.
        assert!(feedback.score <= 0.5, "{name}: {}", feedback.score);
    }
}

#[tokio::test]
async fn a_wrong_report_is_never_told_which_span_shows_the_fault_and_a_right_one_is() {
    let store = shop();
    for (name, feedback) in grade_report(
        &store,
        report("frontend", "GET /products/{id}", "cpu_heavy", &[1, 2]),
    )
    .await
    {
        let text = feedback.to_text();
        assert_eq!(feedback.verdict, Verdict::Fail, "{name}");
        assert!(text.contains("Shows the fault."), "{name}: {text}");
        assert!(
            !text.contains("SELECT products"),
            "{name} names the culprit: {text}"
        );
    }
    for (name, feedback) in grade_report(
        &store,
        report("api", "SELECT products", "slow query", &[1, 2]),
    )
    .await
    {
        let text = feedback.to_text();
        assert!(text.contains("Shows the fault: "), "{name}: {text}");
        assert!(text.contains("SELECT products"), "{name}: {text}");
    }
}

#[tokio::test]
async fn fault_kinds_in_plain_words_pass_and_an_unknown_kind_lists_the_closest_first() {
    let store = shop();
    for words in [
        "Slow database query",
        "slow-query",
        "SLOW_QUERY",
        "missing index",
    ] {
        for (name, feedback) in
            grade_report(&store, report("api", "SELECT products", words, &[1, 2])).await
        {
            assert_eq!(
                feedback.verdict,
                Verdict::Pass,
                "{name}, {words:?}: {}",
                feedback.to_text()
            );
        }
    }
    for (name, feedback) in grade_report(
        &store,
        report("api", "SELECT products", "slow querry", &[1, 2]),
    )
    .await
    {
        let kind = feedback
            .items
            .iter()
            .find(|i| i.title == "Kind of fault")
            .expect("a kind item");
        assert_eq!(kind.status, ItemStatus::Fail, "{name}");
        assert!(
            kind.message.contains("not a kind of fault this lab knows"),
            "{name}: {}",
            kind.message
        );
        let listed = kind.message.split("first: ").nth(1).unwrap_or_default();
        assert!(
            listed.starts_with("`slow_query` (slow database query)"),
            "{name}: {}",
            kind.message
        );
        assert!(
            listed.contains("`pool_exhaustion`"),
            "{name}: every kind is listed"
        );
    }
    // A real kind, but the wrong one: no list, a hint about what to ask.
    for (name, feedback) in grade_report(
        &store,
        report(
            "api",
            "SELECT products",
            "connection-pool exhaustion",
            &[1, 2],
        ),
    )
    .await
    {
        let kind = feedback
            .items
            .iter()
            .find(|i| i.title == "Kind of fault")
            .expect("a kind item");
        assert_eq!(kind.status, ItemStatus::Fail, "{name}");
        assert!(
            kind.message.contains("does not describe what happens"),
            "{name}: {}",
            kind.message
        );
    }
}

#[tokio::test]
async fn a_learner_whose_fault_is_not_in_the_traffic_is_told_so_not_graded() {
    let store = shop();
    let labs = repository_labs();
    let lab = labs.get("intermittent-slowness").expect("the lab exists");
    // The fixture's traffic has the slow query; this learner's variant is the slow payments.
    let other = (0..200)
        .map(|i| learner(&format!("learner-{i}")))
        .find(|l| variant_for(lab, l).is_some_and(|v| v.id == "payments-slow"))
        .expect("some learner gets the payments-slow variant");
    for (name, backend) in backends(&store).await {
        let grader = Grader::new(labs.clone(), backend, None);
        let feedback = grader
            .grade(
                &other,
                "intermittent-slowness",
                "root-cause",
                &report("api", "SELECT products", "slow query", &[1, 2]),
            )
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            feedback.verdict,
            Verdict::NotReady,
            "{name}: {}",
            feedback.to_text()
        );
        assert!(
            feedback
                .headline
                .contains("No trace in the window comes from your scenario"),
            "{name}: {}",
            feedback.headline
        );
        assert!(!feedback.to_text().contains("healthy"), "{name}");
    }
}

#[tokio::test]
async fn evidence_from_another_learners_traffic_is_named_as_such_and_does_not_count() {
    let store = shop();
    // Trace 20: a slow query too, but a request of another learner (its spans carry their id).
    let theirs: Vec<TestSpan> = product_page(20, 900, 200)
        .into_iter()
        .map(|s| s.attr("learner.id", Attr::S("someone-else-1234abcd")))
        .collect();
    ingest(&store, &theirs, 30_000);
    for (name, feedback) in grade_report(
        &store,
        report("api", "SELECT products", "slow query", &[1, 20]),
    )
    .await
    {
        assert_eq!(
            feedback.verdict,
            Verdict::Fail,
            "{name}: one own trace is not enough"
        );
        let item = feedback
            .items
            .iter()
            .find(|i| i.title == format!("Evidence trace `{}`", trace_hex(20)))
            .unwrap_or_else(|| panic!("{name}: {}", feedback.to_text()));
        assert_eq!(item.status, ItemStatus::Fail, "{name}");
        assert!(
            item.message.contains("another learner's traffic"),
            "{name}: {}",
            item.message
        );
        assert!(
            !item.message.contains("someone-else"),
            "{name}: no other learner's id"
        );
        assert_eq!(item.evidence[0].why, "another learner's request", "{name}");
    }
}

#[tokio::test]
async fn evidence_that_does_not_show_the_fault_or_does_not_exist_is_refused_trace_by_trace() {
    let store = shop();
    let mut submission = report("api", "SELECT products", "slow_query", &[1, 8]);
    if let Submission::Report(r) = &mut submission {
        r.evidence.push("not-an-id".into());
        r.evidence.push(trace_hex(999));
    }
    for (name, feedback) in grade_report(&store, submission.clone()).await {
        assert_eq!(
            feedback.verdict,
            Verdict::Fail,
            "{name}: one verified trace is not enough"
        );
        let by_title = |t: String| {
            feedback
                .items
                .iter()
                .find(|i| i.title == t)
                .unwrap_or_else(|| panic!("{name}: no {t}"))
        };
        assert_eq!(
            by_title(format!("Evidence trace `{}`", trace_hex(1))).status,
            ItemStatus::Pass,
            "{name}"
        );
        let healthy = by_title(format!("Evidence trace `{}`", trace_hex(8)));
        assert_eq!(healthy.status, ItemStatus::Fail, "{name}");
        assert!(
            healthy.message.contains("does not show the fault"),
            "{name}"
        );
        assert!(
            by_title("Evidence trace `not-an-id`".into())
                .message
                .contains("not a trace id"),
            "{name}"
        );
        assert!(
            by_title(format!("Evidence trace `{}`", trace_hex(999)))
                .message
                .contains("No trace with this id"),
            "{name}"
        );
        let summary = by_title("Evidence".into());
        assert!(
            summary.message.contains("at least 2 are needed"),
            "{name}: {}",
            summary.message
        );
    }
}

#[tokio::test]
async fn with_a_tenant_per_learner_each_learner_is_graded_on_their_own_traces_only() {
    use dojo_grader::service::TenantPolicy;
    use dojo_store::storage::TenantId;
    let store = store();
    let mut spans = Vec::new();
    for t in 1..=3 {
        spans.extend(product_page(t, 15, 500));
    }
    // Errors that are not api server errors (a failed query the api recovered from, a
    // frontend-only failure), so the exercise's near misses can be told apart.
    let mut recovered = product_page(4, 15, 200);
    if let Some(query) = recovered.pop() {
        recovered.push(query.error());
    }
    let mut frontend_only = product_page(5, 15, 200);
    frontend_only[0] = frontend_only[0].clone().error();
    spans.extend(recovered.into_iter().chain(frontend_only));
    crate::helpers::ingest_for(
        &store,
        &TenantId::parse("ada").expect("valid"),
        &spans,
        60_000,
    );
    for (name, backend) in backends(&store).await {
        let per_learner = Grader::new(repository_labs(), backend.clone(), None)
            .with_tenants(TenantPolicy::PerLearner);
        let query = Submission::Query(
            r#"{ resource.service.name = "api" && kind = server && status = error }"#.into(),
        );
        let ada = per_learner
            .grade(
                &learner("ada"),
                "traceql-querying",
                "failed-api-requests",
                &query,
            )
            .await
            .expect("gradable");
        assert_eq!(ada.verdict, Verdict::Pass, "{name}: {}", ada.to_text());
        let bob = per_learner
            .grade(
                &learner("bob"),
                "traceql-querying",
                "failed-api-requests",
                &query,
            )
            .await
            .expect("gradable");
        assert_eq!(
            bob.verdict,
            Verdict::NotReady,
            "{name}: bob's tenant has no traffic"
        );
    }
}

#[tokio::test]
async fn a_type_error_is_headlined_as_one_and_each_hint_is_printed_once() {
    let store = shop();
    let (_, backend) = backends(&store).await.remove(0);
    let typed = grade(
        backend.clone(),
        "traceql-querying",
        "failed-api-requests",
        Submission::Query("{ status = 500 }".into()),
    )
    .await;
    assert_eq!(typed.verdict, Verdict::Fail);
    assert!(
        typed.headline.starts_with("Type error"),
        "{}",
        typed.to_text()
    );
    assert!(
        !typed.headline.contains("does not parse"),
        "{}",
        typed.headline
    );
    let syntax = grade(
        backend,
        "traceql-querying",
        "failed-api-requests",
        Submission::Query(r#"{ resource.service.name == "api" }"#.into()),
    )
    .await;
    assert!(
        syntax.headline.contains("does not parse"),
        "{}",
        syntax.headline
    );
    for feedback in [&typed, &syntax] {
        let text = feedback.to_text();
        let hint = feedback.syntax_error.as_ref().and_then(|s| s.hint.clone());
        if let Some(hint) = hint {
            assert_eq!(text.matches(hint.as_str()).count(), 1, "{text}");
        }
    }
}

#[tokio::test]
async fn in_a_workshop_a_cited_trace_of_another_learner_or_of_the_shared_traffic_is_named_so() {
    use dojo_grader::backend::embedded::EmbeddedBackend;
    use dojo_grader::service::TenantPolicy;
    use dojo_store::storage::routing::learner_tenant;

    let store = store();
    let labs = repository_labs();
    let learner = slow_query_learner(&labs);
    let own = learner_tenant(learner.as_str()).expect("a tenant");
    let neighbour = learner_tenant("someone-else").expect("a tenant");
    // The learner's own slow request (so the scenario shows in their traffic), a
    // neighbour's, and one of the shared unmarked traffic.
    crate::helpers::ingest_for(&store, &own, &product_page(3, 900, 200), 20_000);
    crate::helpers::ingest_for(&store, &neighbour, &product_page(1, 900, 200), 20_000);
    ingest(&store, &product_page(2, 900, 200), 20_000);
    let grader = Grader::new(labs, Arc::new(EmbeddedBackend::new(store.clone())), None)
        .with_tenants(TenantPolicy::Routed);
    let feedback = grader
        .grade(
            &learner,
            "intermittent-slowness",
            "root-cause",
            &report("api", "SELECT products", "slow query", &[1, 2]),
        )
        .await
        .expect("graded");
    let text = feedback.to_text();
    assert!(
        text.contains("another learner's traffic"),
        "the neighbour's trace is named as theirs: {text}"
    );
    assert!(
        text.contains("the class's shared"),
        "the shared trace is named as shared: {text}"
    );
    assert!(!text.contains("No trace with this id"), "{text}");
    assert_ne!(feedback.verdict, Verdict::Pass, "{text}");
}
