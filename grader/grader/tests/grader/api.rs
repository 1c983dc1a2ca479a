//! The JSON HTTP API, exercised through the router with no socket: what it shows, what it
//! hides, how it records attempts and how it refuses bad requests.

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use dojo_grader::api::router;
use dojo_grader::backend::embedded::EmbeddedBackend;
use dojo_grader::progress::Progress;
use dojo_grader::service::Grader;
use dojo_grader::spec::load_dir;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::{TempDir, store};

async fn grader() -> (TempDir, Grader) {
    let dir = TempDir::new("api");
    let progress = Progress::connect(&format!("sqlite:{}", dir.0.join("p.db").display()))
        .await
        .expect("a fresh SQLite database opens");
    let labs =
        load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../labs")).expect("the labs load");
    (
        dir,
        Grader::new(
            labs,
            Arc::new(EmbeddedBackend::new(store())),
            Some(progress),
        ),
    )
}

async fn call(
    grader: &Grader,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(
            body.map(|b| Body::from(b.to_string()))
                .unwrap_or_else(Body::empty),
        )
        .expect("a valid request");
    let response = router(grader.clone())
        .oneshot(request)
        .await
        .expect("the router answers");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, json)
}

fn all_answers(value: &Value) -> Vec<u64> {
    value["exercises"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e["questions"].as_array().cloned().unwrap_or_default())
        .filter_map(|q| q.get("answer").and_then(Value::as_u64))
        .collect()
}

#[tokio::test]
async fn the_lab_list_and_details_show_exercises_but_never_answers_or_ground_truth() {
    let (_dir, grader) = grader().await;
    let (status, labs) = call(&grader, "GET", "/api/grader/labs", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(labs.as_array().is_some_and(|l| l.len() >= 5), "{labs}");
    for id in ["quiz", "intermittent-slowness", "traceql-querying"] {
        let (status, lab) = call(&grader, "GET", &format!("/api/grader/labs/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "{id}");
        let text = lab.to_string();
        for secret in [
            "\"reference\"",
            "\"truth\"",
            "\"evidence\"",
            "\"explanation\"",
            "\"answer\"",
            "SELECT products",
        ] {
            assert!(!text.contains(secret), "{id} leaks {secret}: {text}");
        }
        assert!(all_answers(&lab).is_empty(), "{id} leaks quiz answers");
    }
    let (_, quiz) = call(&grader, "GET", "/api/grader/labs/quiz", None).await;
    assert_eq!(
        quiz["exercises"][0]["questions"].as_array().map(Vec::len),
        Some(10)
    );
}

#[tokio::test]
async fn a_submission_is_graded_recorded_and_readable_by_its_learner_only() {
    let (_dir, grader) = grader().await;
    let (status, _) = call(
        &grader,
        "POST",
        "/api/grader/learners",
        Some(json!({"id": "ada", "display_name": "Ada"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    call(
        &grader,
        "POST",
        "/api/grader/learners",
        Some(json!({"id": "bob", "display_name": "Bob"})),
    )
    .await;
    let submit = json!({
        "learner": "ada", "lab": "quiz", "exercise": "brown-belt-quiz",
        "submission": {"answers": {"trace-vs-span": 1, "traceparent": 2}}
    });
    let (status, graded) = call(&grader, "POST", "/api/grader/submit", Some(submit)).await;
    assert_eq!(status, StatusCode::OK, "{graded}");
    assert_eq!(
        graded["feedback"]["verdict"], "fail",
        "two of ten is not a pass"
    );
    let attempt = graded["attempt_id"]
        .as_i64()
        .expect("the attempt was recorded");

    let (status, mine) = call(
        &grader,
        "GET",
        &format!("/api/grader/feedback/{attempt}?learner=ada"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine["feedback"]["verdict"], "fail");
    let (status, _) = call(
        &grader,
        "GET",
        &format!("/api/grader/feedback/{attempt}?learner=bob"),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another learner cannot read it"
    );

    let (status, progress) = call(&grader, "GET", "/api/grader/progress/ada", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(progress["scores"][0]["attempts"], 1);
    assert_eq!(progress["passed"], 0);
    assert!(
        progress["total"].as_u64().is_some_and(|t| t >= 9),
        "{progress}"
    );
}

#[tokio::test]
async fn hints_come_one_at_a_time_and_are_remembered() {
    let (_dir, grader) = grader().await;
    call(
        &grader,
        "POST",
        "/api/grader/learners",
        Some(json!({"id": "ada", "display_name": "Ada"})),
    )
    .await;
    let ask = |count: usize| json!({"learner": "ada", "lab": "traceql-querying", "exercise": "slow-db-queries", "count": count});
    let (status, first) = call(&grader, "POST", "/api/grader/hints", Some(ask(1))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["hints"].as_array().map(Vec::len), Some(1));
    assert_eq!(first["total"], 3);
    call(&grader, "POST", "/api/grader/hints", Some(ask(2))).await;
    let (_, again) = call(&grader, "POST", "/api/grader/hints", Some(ask(1))).await;
    assert_eq!(
        again["hints"].as_array().map(Vec::len),
        Some(2),
        "hints already seen stay visible"
    );
}

#[tokio::test]
async fn bad_requests_get_a_stable_json_error_with_the_right_status() {
    let (_dir, grader) = grader().await;
    call(
        &grader,
        "POST",
        "/api/grader/learners",
        Some(json!({"id": "ada", "display_name": "Ada"})),
    )
    .await;
    let cases = [
        (
            "an unknown lab",
            json!({"learner": "ada", "lab": "nope", "exercise": "x", "submission": {"query": "{}"}}),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "a query for a quiz",
            json!({"learner": "ada", "lab": "quiz", "exercise": "brown-belt-quiz", "submission": {"query": "{}"}}),
            StatusCode::BAD_REQUEST,
            "wrong_submission",
        ),
        (
            "a learner who never joined",
            json!({"learner": "ghost", "lab": "quiz", "exercise": "brown-belt-quiz", "submission": {"answers": {}}}),
            StatusCode::FORBIDDEN,
            "unknown_learner",
        ),
        (
            "a learner id with a space",
            json!({"learner": "a b", "lab": "quiz", "exercise": "brown-belt-quiz", "submission": {"answers": {}}}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "a misspelt field",
            json!({"learner": "ada", "lab": "quiz", "exercise": "brown-belt-quiz", "submision": {}}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ];
    for (what, body, status, code) in cases {
        let (got, json) = call(&grader, "POST", "/api/grader/submit", Some(body)).await;
        assert_eq!(got, status, "{what}: {json}");
        assert_eq!(json["error"]["code"], code, "{what}: {json}");
        assert!(
            json["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}"
        );
    }
}

#[tokio::test]
async fn a_query_answer_with_no_traffic_yet_is_not_recorded_as_an_attempt() {
    let (_dir, grader) = grader().await;
    call(
        &grader,
        "POST",
        "/api/grader/learners",
        Some(json!({"id": "ada", "display_name": "Ada"})),
    )
    .await;
    let submit = json!({"learner": "ada", "lab": "traceql-querying", "exercise": "failed-api-requests", "submission": {"query": "{ status = error }"}});
    let (status, graded) = call(&grader, "POST", "/api/grader/submit", Some(submit)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(graded["feedback"]["verdict"], "not_ready");
    assert!(graded["attempt_id"].is_null());
    let (_, progress) = call(&grader, "GET", "/api/grader/progress/ada", None).await;
    assert_eq!(progress["scores"].as_array().map(Vec::len), Some(0));
}
