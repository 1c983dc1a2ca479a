//! The sampling and scrubbing exercise, the whole path: `dojo up`, a learner joins the course
//! and submits store pipeline settings through the lab's form; the settings become their own
//! tenant's pipeline, traffic goes through it, and the verdict comes back on the lab page.
//! Unusable YAML is refused naming the field, settings that keep a secret are refused naming
//! it, the reference passes, and the traffic lives in the learner's tenant only.

use dojo_store::storage::routing::learner_tenant;

use crate::helpers::{Lab, urlencode};
use crate::incidents::{join, page, post, search};

const SUBMIT: &str = "/labs/sampling/pipeline-settings/submit";

const REFERENCE: &str = "pipeline:
  attributes:
    - action: delete
      pattern: '(?i)^http\\.request\\.header\\.(authorization|x-api-key)$'
  tail_sampling:
    decision_wait: 2s
    policies:
      - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
      - {name: slow, type: latency, latency: {threshold_ms: 1000}}
      - {name: rest, type: probabilistic, probabilistic: {sampling_percentage: 10}}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_settings_submitted_in_the_course_are_graded_by_their_effect_on_the_learners_tenant()
 {
    let lab = Lab::start(&["--load-rate", "0"]).await;
    let session = join(&lab, "Sam Pling", None).await;
    let (status, lab_page) = page(&lab, &session, "/labs/sampling").await;
    assert_eq!(status, 200, "{lab_page}");
    let (_, console) = page(&lab, &session, "/console").await;
    assert!(
        !console.contains("own-traffic"),
        "on a laptop the console reads all the lab's traffic, as before: {console}"
    );
    assert!(
        lab_page.contains("name=\"settings\""),
        "the exercise has a settings form: {lab_page}"
    );

    // A misspelt key: the field is named and nothing is changed.
    let (status, verdict) = post(
        &lab,
        &session,
        SUBMIT,
        &[(
            "settings",
            &REFERENCE.replace("threshold_ms", "treshold_ms"),
        )],
    )
    .await;
    assert_eq!(status, 200, "{verdict}");
    assert!(
        verdict.contains("pipeline.tail_sampling.policies[1]")
            && verdict.contains("Nothing was changed"),
        "the field is named: {verdict}"
    );

    // Only the authorization header deleted: the API key is still stored, and named.
    let (_, verdict) = post(
        &lab,
        &session,
        SUBMIT,
        &[("settings", &REFERENCE.replace("|x-api-key", ""))],
    )
    .await;
    assert!(
        verdict.contains("Not yet.") && verdict.contains("http.request.header.x-api-key"),
        "the kept secret is named: {verdict}"
    );
    // The trace that shows it opens for Sam, though it is in Sam's tenant, not the shared one.
    let shown = verdict
        .split("<a href=\"/traces/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the feedback links a trace that shows the secret")
        .to_string();
    let (status, trace_page) = page(&lab, &session, &format!("/traces/{shown}")).await;
    assert_eq!(status, 200, "the cited trace opens: {trace_page}");
    assert!(
        trace_page.contains(&shown) && trace_page.contains("frontend"),
        "it is the cited trace, drawn: {trace_page}"
    );

    // The reference passes.
    let (_, verdict) = post(&lab, &session, SUBMIT, &[("settings", REFERENCE)]).await;
    assert!(
        verdict.contains("Correct!"),
        "the reference passes: {verdict}"
    );

    // The traffic went to Sam's tenant, through Sam's pipeline; the shared tenant saw none.
    let sam = dojo_grader::progress::LearnerId::for_name("Sam Pling");
    let tenant = learner_tenant(sam.as_str()).expect("a tenant").to_string();
    let query = format!(
        "/api/search?q={}&limit=1000",
        urlencode(r#"{ resource.dojo.exercise = "sampling-and-scrubbing" }"#)
    );
    let count = |body: &str| {
        serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|json| json["traces"].as_array().map(Vec::len))
            .unwrap_or(0)
    };
    let (_, mine) = search(&lab, &query, Some(&tenant)).await.expect("answers");
    let (_, shared) = search(&lab, &query, None).await.expect("answers");
    assert!(
        count(&mine) > 0,
        "Sam's tenant holds the kept traffic: {mine}"
    );
    assert_eq!(count(&shared), 0, "the shared tenant holds none: {shared}");

    assert!(lab.stop().await.success());
}
