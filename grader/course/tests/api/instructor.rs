//! The instructor's pages: closed without the token; progress table, faults, reset.

use crate::support::TestApp;
use crate::support::classroom::REFERENCE;

#[tokio::test]
async fn the_instructor_pages_refuse_without_the_token() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let page = client.get("/instructor").await;
    assert_eq!(page.status, 403);
    assert!(!page.body.contains("progress-table"));
    let csrf = page.csrf();
    let wrong = client
        .post("/instructor/login", &[("csrf", &csrf), ("token", "guess")])
        .await;
    assert_eq!(wrong.status, 403);
    assert!(wrong.body.contains("That token is not right."));
    let toggle = client
        .post(
            "/instructor/faults",
            &[
                ("csrf", &csrf),
                ("fault", "slow-query"),
                ("enabled", "true"),
            ],
        )
        .await;
    assert_eq!(toggle.status, 403);
    assert!(
        !app.faults.is_on("slow-query"),
        "the fault was not switched"
    );
}

#[tokio::test]
async fn the_progress_table_follows_the_learners() {
    let app = TestApp::spawn().await;
    let mut teacher = app.client();
    assert_eq!(teacher.instructor().await.status, 303);
    let page = teacher.get("/instructor").await;
    assert!(page.body.contains("No learner has joined yet."));

    let mut ada = app.client();
    ada.join("Ada").await;
    let csrf = ada.get("/labs/traceql-querying").await.csrf();
    ada.submit(
        "/labs/traceql-querying/failed-checkouts/submit",
        &[("csrf", &csrf), ("query", REFERENCE)],
    )
    .await;

    let page = teacher.get("/instructor").await;
    assert!(
        page.body.contains("<th scope=\"row\">Ada</th>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("class=\"pass\""), "Ada's pass shows");
}

#[tokio::test]
async fn the_instructor_toggles_faults_and_resets_a_learner() {
    let app = TestApp::spawn().await;
    let mut ada = app.client();
    ada.join("Ada").await;
    let csrf = ada.get("/labs/traceql-querying").await.csrf();
    ada.submit(
        "/labs/traceql-querying/failed-checkouts/submit",
        &[("csrf", &csrf), ("query", REFERENCE)],
    )
    .await;

    let mut teacher = app.client();
    teacher.instructor().await;
    let csrf = teacher.get("/instructor").await.csrf();
    let page = teacher
        .post(
            "/instructor/faults",
            &[
                ("csrf", &csrf),
                ("fault", "slow-query"),
                ("enabled", "true"),
            ],
        )
        .await;
    assert!(
        page.body.contains("Fault slow-query is now on."),
        "{}",
        page.body
    );
    assert!(app.faults.is_on("slow-query"));
    app.faults
        .set_for("payments-errors", &["learner-1", "learner-2"]);
    let page = teacher.get("/instructor").await;
    assert!(
        page.body.contains("for learner-1, learner-2"),
        "a fault scoped to learners says whose: {}",
        page.body
    );

    // Reset asks first and changes nothing until confirmed.
    let page = teacher
        .post(
            "/instructor/reset",
            &[("csrf", &csrf), ("learner", "learner-1")],
        )
        .await;
    assert!(
        page.body.contains("<h1>Reset Ada?</h1>") && page.body.contains("id=\"confirm-reset\""),
        "{}",
        page.body
    );
    assert!(ada.get("/labs").await.body.contains("Signed in as"));
    let page = teacher
        .post(
            "/instructor/reset",
            &[
                ("csrf", &csrf),
                ("learner", "learner-1"),
                ("confirm", "true"),
            ],
        )
        .await;
    assert!(
        page.body
            .contains("Ada (learner-1) was reset: their attempts and hints are gone"),
        "{}",
        page.body
    );
    let table = page
        .body
        .split("id=\"progress-table\"")
        .nth(1)
        .unwrap_or_default();
    assert!(
        !table.contains(">Ada<"),
        "a reset learner is no longer listed: {}",
        page.body
    );
    let lab = ada.get("/labs/traceql-querying").await;
    assert!(
        !lab.body.contains("Signed in as"),
        "a reset learner is signed out"
    );
    // Her name was freed: she joins again, from a browser that never held it, and starts over.
    let mut ada_elsewhere = app.client();
    ada_elsewhere.join("Ada").await;
    let lab = ada_elsewhere.get("/labs/traceql-querying").await;
    assert!(lab.body.contains("0 of 1 exercise passed."), "{}", lab.body);
}

#[tokio::test]
async fn the_instructor_stays_signed_in_after_a_browser_restart_until_the_token_changes() {
    let app = TestApp::spawn().await;
    let mut teacher = app.client();
    teacher.instructor().await;
    assert!(teacher.has_cookie("dojo_instructor"));

    // A browser restart forgets the session cookie but keeps the long-lived one.
    teacher.set_cookie(None);
    let page = teacher.get("/instructor").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("<h2>Class progress</h2>"),
        "{}",
        page.body
    );

    // A cookie that was not earned with the token does nothing.
    let mut forger = app.client();
    forger.set_cookie(Some(format!("dojo_instructor={}", "0".repeat(64))));
    let page = forger.get("/instructor").await;
    assert_eq!(page.status, 403);
}

/// Text as askama escapes it into a page.
fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// Text as the markdown renderer escapes it into a page.
fn escaped_by_markdown(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[tokio::test]
async fn the_answer_key_is_served_to_the_instructor_and_to_no_learner() {
    use dojo_grader::spec::types::Check;

    let app = crate::support::TestApp::spawn_with(crate::support::Options {
        real_grader: true,
        ..Default::default()
    })
    .await;
    let labs = dojo_grader::spec::load_dir(&crate::support::labs_dir()).expect("labs load");
    // What must be on the key, and never on a learner's page: every reference query, every
    // instrumentation assertion, every variant's evidence query.
    let mut secrets: Vec<(String, String)> = Vec::new();
    for lab in labs.iter() {
        for exercise in &lab.exercises {
            match &exercise.check {
                Check::Traceql(check) => secrets.push((
                    format!("{}/{} reference", lab.id, exercise.id),
                    check.reference.trim().to_string(),
                )),
                Check::Instrumentation(check) => secrets.extend(check.assertions.iter().map(|a| {
                    (
                        format!("{}/{} assertion {}", lab.id, exercise.id, a.id),
                        a.query.trim().to_string(),
                    )
                })),
                Check::Pipeline(check) => secrets.push((
                    format!("{}/{} reference settings", lab.id, exercise.id),
                    check.reference.trim().to_string(),
                )),
                Check::Dashboard(check) => secrets.extend(check.panels.iter().map(|p| {
                    (
                        format!("{}/{} panel {}", lab.id, exercise.id, p.id),
                        p.reference.trim().to_string(),
                    )
                })),
                Check::Alert(check) => secrets.push((
                    format!("{}/{} reference rule", lab.id, exercise.id),
                    check.reference.query.trim().to_string(),
                )),
                Check::RootCause(_) | Check::Quiz(_) | Check::Numeric(_) => {}
            }
        }
        for variant in lab.scenario.iter().flat_map(|s| &s.variants) {
            if let Some(truth) = &variant.truth {
                secrets.push((
                    format!("{} variant {} evidence", lab.id, variant.id),
                    truth.evidence.trim().to_string(),
                ));
            }
        }
    }
    assert!(secrets.len() > 10, "the labs have answers to hide");

    let mut ada = app.client();
    ada.join("Ada").await;
    let refused = ada.get("/instructor/answers").await;
    assert_eq!(refused.status, 403, "a learner is refused the answer key");
    assert!(
        refused.body.contains("Instructor token"),
        "{}",
        refused.body
    );
    let mut pages = vec![refused];
    for lab in labs.iter() {
        pages.push(ada.get(&format!("/labs/{}", lab.id)).await);
    }
    for (what, secret) in &secrets {
        for page in &pages {
            for shown in [escaped(secret), escaped_by_markdown(secret)] {
                assert!(
                    !page.body.contains(&shown),
                    "a learner's page shows {what}: {secret}"
                );
            }
        }
    }

    let mut teacher = app.client();
    assert_eq!(teacher.instructor().await.status, 303);
    let dashboard = teacher.get("/instructor").await;
    assert!(dashboard.body.contains("href=\"/instructor/answers\""));
    let key = teacher.get("/instructor/answers").await;
    assert_eq!(key.status, 200);
    for (what, secret) in &secrets {
        assert!(
            key.body.contains(&escaped(secret)),
            "the answer key shows {what}: {secret}\n{}",
            key.body
        );
    }
    let quiz = labs.get("quiz").expect("the quiz lab");
    let Check::Quiz(check) = &quiz.exercises[0].check else {
        panic!("the quiz lab's exercise is a quiz");
    };
    for question in &check.questions {
        let answer = &question.choices[question.answer];
        assert!(
            key.body.contains(&escaped(answer)),
            "the answer key gives the quiz answer {answer:?}"
        );
    }
}
