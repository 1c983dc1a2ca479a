//! Lab pages: joining, submitting each kind of answer, feedback, hints, own attempts only.

use crate::support::classroom::REFERENCE;
use crate::support::shelf::SLOW;
use crate::support::{Options, TestApp};

#[tokio::test]
async fn a_visitor_sees_the_lab_but_must_join_to_submit() {
    let app = TestApp::spawn().await;
    let page = app.client().get("/labs/traceql-querying").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("payments fails now and then."),
        "the fault scenario is shown"
    );
    assert!(
        page.body.contains("href=\"/learn/labs/traceql-querying\""),
        "links to its instructions"
    );
    assert!(!page.body.contains("/submit\""), "no form before joining");
}

#[tokio::test]
async fn a_wrong_then_a_right_traceql_answer_changes_the_feedback() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    assert_eq!(client.join("Ada").await.status, 303);
    let csrf = client.get("/labs/traceql-querying").await.csrf();

    let wrong = client
        .submit(
            "/labs/traceql-querying/failed-checkouts/submit",
            &[
                ("csrf", &csrf),
                ("query", r#"{ resource.service.name = "payments" }"#),
            ],
        )
        .await;
    assert_eq!(wrong.status, 200);
    assert!(
        wrong.body.contains("class=\"feedback fail\""),
        "{}",
        wrong.body
    );
    assert!(
        wrong.body.contains("It includes"),
        "names what was wrongly included"
    );

    let right = client
        .submit(
            "/labs/traceql-querying/failed-checkouts/submit",
            &[("csrf", &csrf), ("query", REFERENCE)],
        )
        .await;
    assert!(
        right.body.contains("class=\"feedback pass\""),
        "{}",
        right.body
    );
    assert!(right.body.contains("1 of 1 exercise passed."));
    assert!(right.body.contains("Your attempts (2)"));
}

#[tokio::test]
async fn a_syntax_error_in_an_answer_points_at_the_column() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    client.join("Ada").await;
    let csrf = client.get("/labs/traceql-querying").await.csrf();
    let page = client
        .submit(
            "/labs/traceql-querying/failed-checkouts/submit",
            &[("csrf", &csrf), ("query", "{ status = 'error' }")],
        )
        .await;
    assert!(
        page.body.contains("Your query does not parse."),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("<pre>{ status = &#39;error&#39; }\n"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn hints_are_revealed_one_at_a_time() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    client.join("Ada").await;
    let csrf = client.get("/labs/traceql-querying").await.csrf();
    let page = client
        .submit(
            "/labs/traceql-querying/failed-checkouts/hint",
            &[("csrf", &csrf)],
        )
        .await;
    assert!(page.body.contains("Hint 1:"), "{}", page.body);
    assert!(page.body.contains("Show hint 2 of 2"));
    let page = client
        .submit(
            "/labs/traceql-querying/failed-checkouts/hint",
            &[("csrf", &csrf)],
        )
        .await;
    assert!(page.body.contains("Hint 2:"));
    assert!(!page.body.contains("Show hint"), "no more hints to show");
}

#[tokio::test]
async fn a_root_cause_report_is_graded_and_its_markdown_is_sanitized() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    client.join("Grace").await;
    let csrf = client.get("/labs/intermittent-slowness").await.csrf();
    let slow = SLOW.to_string();
    let page = client
        .submit(
            "/labs/intermittent-slowness/report/submit",
            &[
                ("csrf", &csrf),
                ("service", "api"),
                ("operation", "SELECT products"),
                ("fault_kind", "slow query"),
                ("trace_ids", &slow),
                ("explanation", "The **SELECT** takes 1.4 s. <img src=x onerror=alert(1)> <script>alert(2)</script>"),
            ],
        )
        .await;
    assert!(
        page.body.contains("class=\"feedback pass\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("<strong>SELECT</strong>"),
        "markdown is rendered"
    );
    assert!(
        !page.body.contains("<img"),
        "raw HTML is not passed through"
    );
    assert!(
        !page.body.contains("<script>alert(2)"),
        "scripts are stripped"
    );
}

#[tokio::test]
async fn the_quiz_takes_one_choice_per_question() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    client.join("Alan").await;
    let csrf = client.get("/labs/quiz").await.csrf();
    let page = client
        .submit("/labs/quiz/quiz/submit", &[("csrf", &csrf), ("q.q1", "1")])
        .await;
    assert!(
        page.body.contains("class=\"feedback pass\""),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn a_learner_sees_only_their_own_attempts() {
    let app = TestApp::spawn().await;
    let mut ada = app.client();
    ada.join("Ada").await;
    let csrf = ada.get("/labs/traceql-querying").await.csrf();
    ada.submit(
        "/labs/traceql-querying/failed-checkouts/submit",
        &[
            ("csrf", &csrf),
            ("query", "{ name = \"ada-secret-query\" }"),
        ],
    )
    .await;

    let mut bob = app.client();
    bob.join("Bob").await;
    let page = bob.get("/labs/traceql-querying").await;
    assert!(
        !page.body.contains("ada-secret-query"),
        "Bob must not see Ada's answer"
    );
    assert!(!page.body.contains("Your attempts"));
}

#[tokio::test]
async fn with_a_workshop_code_joining_needs_the_code() {
    let app = TestApp::spawn_with(Options {
        workshop_code: Some("TRACE-42".into()),
        ..Options::default()
    })
    .await;
    let mut client = app.client();
    let form = client.get("/join").await;
    assert!(form.body.contains("Workshop code"));
    let csrf = form.csrf();
    let refused = client
        .post(
            "/join",
            &[("csrf", &csrf), ("name", "Eve"), ("code", "guess")],
        )
        .await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("That workshop code is not right."));
    let joined = client
        .post(
            "/join",
            &[("csrf", &csrf), ("name", "Eve"), ("code", "TRACE-42")],
        )
        .await;
    assert_eq!(joined.status, 303);

    // A workshop learner drives their own traffic with their id as `learner.id` baggage, so
    // every page shows it to them (this test's grader numbers learners).
    let page = client.get("/labs").await;
    assert!(
        page.body.contains("dojo loadgen --learner learner-1")
            && page.body.contains("(id <code>learner-1</code>)"),
        "the header shows Eve her learner id: {}",
        page.body
    );
}

#[tokio::test]
async fn a_blank_name_is_refused_kindly() {
    let app = TestApp::spawn().await;
    let page = app.client().join("   ").await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("Please give a name"));
}

/// The lab page's fault scenario block, from its opening tag to its end.
fn scenario_block(body: &str) -> &str {
    let start = body
        .find("id=\"scenario\"")
        .expect("the page has a scenario block");
    let end = body[start..]
        .find("</div>")
        .map_or(body.len(), |e| start + e);
    &body[start..end]
}

#[tokio::test]
async fn a_lab_page_says_whether_its_fault_scenario_is_on_now() {
    use dojo_course::backend::FaultControl;
    let app = TestApp::spawn().await;
    let mut client = app.client();

    let off = client.get("/labs/traceql-querying").await;
    let block = scenario_block(&off.body);
    assert!(block.contains("data-state=\"off\""), "{block}");
    assert!(
        block.contains("is not switched on")
            && block.contains(
                "<code>dojo up --lab traceql-querying --learner &lt;your name&gt;</code>"
            ),
        "says how to switch it on: {block}"
    );
    assert!(
        !block.contains("while you work on it"),
        "no fixed claim: {block}"
    );

    app.faults
        .set("payments-errors", true)
        .await
        .expect("the switchboard knows the fault");
    let on = client.get("/labs/traceql-querying").await;
    let block = scenario_block(&on.body);
    assert!(
        block.contains("data-state=\"on\"") && block.contains("fault scenario is on."),
        "{block}"
    );
    assert!(
        block.contains("<code>payments-errors</code>"),
        "a lab whose fault is not the exercise names it: {block}"
    );
}

#[tokio::test]
async fn a_root_cause_lab_says_its_scenario_is_on_without_naming_the_fault() {
    use dojo_course::backend::FaultControl;
    let app = TestApp::spawn().await;
    app.faults
        .set("slow-query", true)
        .await
        .expect("the switchboard knows the fault");
    let page = app.client().get("/labs/intermittent-slowness").await;
    let block = scenario_block(&page.body);
    assert!(block.contains("data-state=\"on\""), "{block}");
    assert!(
        !block.contains("slow-query"),
        "the fault is the secret: {block}"
    );
}

#[tokio::test]
async fn a_lab_without_faults_says_so() {
    let app = TestApp::spawn().await;
    let page = app.client().get("/labs/quiz").await;
    let block = scenario_block(&page.body);
    assert!(
        block.contains("data-state=\"none\"") && block.contains("no fault scenario"),
        "{block}"
    );
    assert!(!page.body.contains("id=\"loadgen\""));
}

#[tokio::test]
async fn a_workshop_learner_is_shown_the_loadgen_command_with_their_id() {
    let app = TestApp::spawn_with(Options {
        workshop_code: Some("TRACE-42".into()),
        ..Options::default()
    })
    .await;
    let mut visitor = app.client();
    let page = visitor.get("/labs/traceql-querying").await;
    assert!(
        !page.body.contains("id=\"loadgen\""),
        "a visitor has no id to send"
    );

    let mut eve = app.client();
    let csrf = eve.get("/join").await.csrf();
    eve.post(
        "/join",
        &[("csrf", &csrf), ("name", "Eve"), ("code", "TRACE-42")],
    )
    .await;
    let page = eve.get("/labs/traceql-querying").await;
    assert!(
        page.body
            .contains("dojo loadgen --target &#60;shop URL&#62; --learner learner-1"),
        "{}",
        page.body
    );
    let block = scenario_block(&page.body);
    assert!(
        block.contains("not switched on for you") && block.contains("--lab traceql-querying"),
        "in a workshop the instructor switches it on: {block}"
    );

    // On for another learner's traffic only: still not on for Eve; on for hers: on.
    app.faults.set_for("payments-errors", &["learner-9"]);
    let block_of = |page: &str| scenario_block(page).to_string();
    let page = eve.get("/labs/traceql-querying").await;
    assert!(block_of(&page.body).contains("not switched on for you"));
    app.faults.set_for("payments-errors", &["learner-1"]);
    let page = eve.get("/labs/traceql-querying").await;
    assert!(
        block_of(&page.body).contains("fault scenario is on."),
        "{}",
        block_of(&page.body)
    );

    let quiz = eve.get("/labs/quiz").await;
    assert!(
        !quiz.body.contains("id=\"loadgen\""),
        "a lab without faults needs no traffic of one's own"
    );
}

#[tokio::test]
async fn a_root_cause_form_keeps_what_was_typed_after_not_yet() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    client.join("Grace").await;
    let csrf = client.get("/labs/intermittent-slowness").await.csrf();
    let page = client
        .submit(
            "/labs/intermittent-slowness/report/submit",
            &[
                ("csrf", &csrf),
                ("service", "payments"),
                ("operation", "POST \"/charge\" <b>"),
                ("fault_kind", "slow dependency"),
                ("trace_ids", "0123\n4567"),
                ("explanation", "It is <i>slow</i> & late."),
            ],
        )
        .await;
    assert!(page.body.contains("Not yet."), "{}", page.body);
    for (what, expected) in [
        ("service", "<option selected>payments</option>"),
        ("fault kind", "<option selected>slow dependency</option>"),
        (
            "operation, escaped",
            "value=\"POST &#34;/charge&#34; &#60;b&#62;\"",
        ),
        ("trace ids", ">0123\n4567</textarea>"),
        (
            "explanation, escaped",
            ">It is &#60;i&#62;slow&#60;/i&#62; &#38; late.</textarea>",
        ),
    ] {
        assert!(
            page.body.contains(expected),
            "the {what} is kept: {}",
            page.body
        );
    }
}

#[tokio::test]
async fn a_quiz_keeps_the_chosen_answers() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    client.join("Alan").await;
    let csrf = client.get("/labs/quiz").await.csrf();
    let page = client
        .submit("/labs/quiz/quiz/submit", &[("csrf", &csrf), ("q.q1", "0")])
        .await;
    assert!(
        page.body
            .contains("name=\"q.q1\" value=\"0\" checked required"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("value=\"1\" checked"));
}

#[tokio::test]
async fn hints_render_their_markdown() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    client.join("Ada").await;
    let csrf = client.get("/labs/traceql-querying").await.csrf();
    for _ in 0..2 {
        client
            .submit(
                "/labs/traceql-querying/failed-checkouts/hint",
                &[("csrf", &csrf)],
            )
            .await;
    }
    let page = client.get("/labs/traceql-querying").await;
    assert!(
        page.body.contains("<code>status = error</code>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("`status = error`"), "{}", page.body);
}

#[tokio::test]
async fn a_submission_redirects_to_its_feedback_once_and_a_reload_never_resubmits() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    client.join("Ada").await;
    let csrf = client.get("/labs/traceql-querying").await.csrf();

    // Post/redirect/get: the POST answers 303 to the lab page at the exercise's feedback.
    let page = client
        .submit(
            "/labs/traceql-querying/failed-checkouts/submit",
            &[("csrf", &csrf), ("query", REFERENCE)],
        )
        .await;
    assert_eq!(
        page.redirect,
        Some((
            303,
            "/labs/traceql-querying#feedback-failed-checkouts".to_string()
        ))
    );
    assert!(
        page.body
            .contains("id=\"feedback-failed-checkouts\" role=\"status\" tabindex=\"-1\""),
        "{}",
        page.body
    );

    // Reloading the page shows the attempt but not the verdict again, and grades nothing.
    let again = client.get("/labs/traceql-querying").await;
    assert!(!again.body.contains("id=\"feedback-failed-checkouts\""));
    assert!(again.body.contains("Your attempts (1)"), "{}", again.body);

    // Opening the form's address leads back to the exercise, not to an error.
    let opened = client
        .get("/labs/traceql-querying/failed-checkouts/submit")
        .await;
    assert_eq!(opened.status, 303);
    assert_eq!(
        opened.location.as_deref(),
        Some("/labs/traceql-querying#exercise-failed-checkouts")
    );

    // A hint lands on the hint.
    let hinted = client
        .submit(
            "/labs/traceql-querying/failed-checkouts/hint",
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        hinted.redirect.map(|(_, to)| to),
        Some("/labs/traceql-querying#hint-failed-checkouts-1".to_string())
    );
    assert!(hinted.body.contains("id=\"hint-failed-checkouts-1\""));
}

#[tokio::test]
async fn opening_a_forms_address_as_a_page_gets_a_friendly_page() {
    let app = TestApp::spawn().await;
    for path in [
        "/instructor/login",
        "/instructor/reset",
        "/instructor/faults",
    ] {
        let page = app.client().get(path).await;
        assert_eq!(page.status, 405, "{path}");
        assert!(
            page.body
                .contains("is where a form on the course sends its answer")
                && page.body.contains("href=\"/static/course.css\""),
            "{path}: {}",
            page.body
        );
    }
}
