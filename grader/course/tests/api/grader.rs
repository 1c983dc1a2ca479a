//! The course over the lab's real grader: the repository's `labs/` specs, checks run against
//! a real embedded store, progress in SQLite. These pin the adapter between the two crates.

use crate::support::{Options, TestApp};

async fn spawn() -> TestApp {
    TestApp::spawn_with(Options {
        real_grader: true,
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn every_lab_of_the_repository_is_listed_and_opens() {
    let app = spawn().await;
    let mut client = app.client();
    let list = client.get("/labs").await;
    assert_eq!(list.status, 200);
    for lab in [
        "instrument-a-service",
        "traceql-querying",
        "intermittent-slowness",
        "broken-trace",
        "quiz",
    ] {
        assert!(
            list.body.contains(&format!("href=\"/labs/{lab}\"")),
            "{lab} is not listed"
        );
        let page = client.get(&format!("/labs/{lab}")).await;
        assert_eq!(page.status, 200, "{lab} does not open: {}", page.body);
        assert!(
            page.body.contains("Read the lab&#39;s instructions")
                || page.body.contains("instructions"),
            "{lab} links its lesson"
        );
    }
}

#[tokio::test]
async fn the_real_grader_refuses_a_wrong_query_and_accepts_the_reference() {
    let app = spawn().await;
    let mut client = app.client();
    client.join("Ada Lovelace").await;
    let csrf = client.get("/labs/traceql-querying").await.csrf();
    let path = "/labs/traceql-querying/slow-db-queries/submit";

    let wrong = client
        .submit(
            path,
            &[("csrf", &csrf), ("query", "{ span.db.system != nil }")],
        )
        .await;
    assert_eq!(wrong.status, 200, "{}", wrong.body);
    assert!(
        wrong.body.contains("id=\"feedback-slow-db-queries\""),
        "{}",
        wrong.body
    );
    assert!(wrong.body.contains("Not yet."), "{}", wrong.body);

    let syntax = client
        .submit(path, &[("csrf", &csrf), ("query", "{ duration > 500ms")])
        .await;
    assert!(syntax.body.contains("Not yet."), "{}", syntax.body);
    assert!(
        syntax.body.contains("<pre>"),
        "the syntax error comes with its caret: {}",
        syntax.body
    );

    let right = client
        .submit(
            path,
            &[
                ("csrf", &csrf),
                (
                    "query",
                    "{ kind = client && span.db.system != nil && duration > 500ms }",
                ),
            ],
        )
        .await;
    assert!(right.body.contains("Correct!"), "{}", right.body);
    assert!(right.body.contains("Your attempts (3)"), "{}", right.body);
}

#[tokio::test]
async fn hints_and_the_instructor_table_come_from_the_progress_store() {
    let app = spawn().await;
    let mut ada = app.client();
    ada.join("Ada Lovelace").await;
    let csrf = ada.get("/labs/traceql-querying").await.csrf();
    let page = ada
        .submit(
            "/labs/traceql-querying/slow-db-queries/hint",
            &[("csrf", &csrf)],
        )
        .await;
    assert!(page.body.contains("Hint 1:"), "{}", page.body);

    let quiz = ada.get("/labs/quiz").await;
    assert!(
        quiz.body.contains("type=\"radio\""),
        "the quiz shows its questions"
    );
    let page = ada
        .submit(
            "/labs/quiz/brown-belt-quiz/submit",
            &[("csrf", &csrf), ("q.trace-vs-span", "0")],
        )
        .await;
    assert!(page.body.contains("Not yet."), "{}", page.body);

    let mut teacher = app.client();
    teacher.instructor().await;
    let table = teacher.get("/instructor").await;
    assert!(
        table.body.contains("<th scope=\"row\">Ada Lovelace</th>"),
        "{}",
        table.body
    );
}

#[tokio::test]
async fn a_name_belongs_to_the_browser_that_joined_with_it_first() {
    let app = spawn().await;
    let mut ada = app.client();
    ada.join("Ada").await;
    assert!(ada.has_cookie("dojo_learner"), "joining hands out the key");
    let csrf = ada.get("/labs/traceql-querying").await.csrf();
    ada.submit(
        "/labs/traceql-querying/slow-db-queries/submit",
        &[("csrf", &csrf), ("query", "{ span.db.system != nil }")],
    )
    .await;

    // Someone else typing her name does not get in, and sees why.
    let mut eve = app.client();
    let page = eve.join("Ada").await;
    assert_eq!(page.status, 409, "{}", page.body);
    assert!(
        page.body
            .contains("Someone has already joined as “Ada” from another browser"),
        "{}",
        page.body
    );
    assert!(!eve.get("/labs").await.body.contains("Signed in as"));
    let csrf = eve.get("/join").await.csrf();
    let page = eve
        .post(
            "/join",
            &[
                ("csrf", &csrf),
                ("name", "Ada"),
                ("rejoin_code", "ABCD-EFGH-JKMN"),
            ],
        )
        .await;
    assert_eq!(page.status, 409);
    assert!(
        page.body.contains("does not belong to “Ada”"),
        "{}",
        page.body
    );

    // Ada's labs page shows her rejoin code.
    let labs = ada.get("/labs").await;
    let code: String = labs
        .body
        .split("Your rejoin code is <code>")
        .nth(1)
        .and_then(|rest| rest.split("</code>").next())
        .expect("the labs page shows the rejoin code")
        .to_string();

    // The course forgets her session (a restart does that): the learner cookie signs her in.
    ada.set_cookie(None);
    let labs = ada.get("/labs").await;
    assert!(
        labs.body
            .contains("<span class=\"signed-in-as\">Signed in as </span><strong id=\"learner-name\">Ada</strong>"),
        "{}",
        labs.body
    );

    // In another browser, her name and code bring back her own attempts.
    let mut laptop = app.client();
    let csrf = laptop.get("/join").await.csrf();
    let page = laptop
        .post(
            "/join",
            &[
                ("csrf", &csrf),
                ("name", "Ada"),
                ("rejoin_code", &code.to_lowercase()),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let lab = laptop.get("/labs/traceql-querying").await;
    assert!(lab.body.contains("Your attempts (1)"), "{}", lab.body);

    // Leaving asks first, and says how to come back.
    let confirm = ada.get("/leave").await;
    assert!(
        confirm.body.contains("<h1>Leave the class?</h1>")
            && confirm.body.contains("id=\"leave-rejoin-code\""),
        "{}",
        confirm.body
    );
    // Leaving keeps this browser's key: joining again here with the name just works.
    ada.post("/leave", &[("csrf", &confirm.csrf()), ("forget", "false")])
        .await;
    assert!(ada.has_cookie("dojo_learner"));
    assert!(!ada.get("/labs").await.body.contains("Signed in as"));
    assert_eq!(
        ada.join("Ada").await.status,
        303,
        "the same browser rejoins"
    );
    assert!(ada.get("/labs").await.body.contains("Signed in as"));

    // Leaving and forgetting (a shared computer) drops the key in that browser.
    let csrf = ada.get("/leave").await.csrf();
    ada.post("/leave", &[("csrf", &csrf), ("forget", "true")])
        .await;
    assert!(!ada.has_cookie("dojo_learner"));
    assert!(!ada.get("/labs").await.body.contains("Signed in as"));
    assert_eq!(
        ada.join("Ada").await.status,
        409,
        "without the key, the name needs its rejoin code"
    );
}

/// Where each of `needles` first appears in `body`, failing when one is missing.
fn positions(body: &str, needles: &[String]) -> Vec<usize> {
    needles
        .iter()
        .map(|n| {
            body.find(n.as_str())
                .unwrap_or_else(|| panic!("{n} is missing: {body}"))
        })
        .collect()
}

/// The repository's labs in the order of the lessons that introduce them in
/// `content/SUMMARY.md`; the quiz has no lesson and comes last.
const COURSE_ORDER: [&str; 5] = [
    "instrument-a-service",
    "traceql-querying",
    "intermittent-slowness",
    "broken-trace",
    "quiz",
];

#[tokio::test]
async fn labs_are_listed_in_course_order() {
    let app = spawn().await;
    let list = app.client().get("/labs").await;
    let links: Vec<String> = COURSE_ORDER
        .iter()
        .map(|lab| format!("href=\"/labs/{lab}\""))
        .collect();
    let at = positions(&list.body, &links);
    assert!(at.is_sorted(), "labs out of course order: {at:?}");
}

#[tokio::test]
async fn the_instructor_table_has_its_columns_in_course_order() {
    let app = spawn().await;
    app.client().join("Ada Lovelace").await;
    let mut teacher = app.client();
    teacher.instructor().await;
    let table = teacher.get("/instructor").await;
    let columns: Vec<String> = COURSE_ORDER
        .iter()
        .map(|lab| format!("<th>{lab} / "))
        .collect();
    let at = positions(&table.body, &columns);
    assert!(at.is_sorted(), "columns out of course order: {at:?}");
}

#[tokio::test]
async fn feedback_and_quiz_questions_render_their_markdown_and_say_the_verdict_once() {
    let app = spawn().await;
    let mut client = app.client();
    client.join("Ada Lovelace").await;
    let quiz = client.get("/labs/quiz").await;
    assert!(
        quiz.body.contains("<code>parentbased_traceidratio</code>"),
        "a question's backticks become code: {}",
        quiz.body
    );
    let csrf = quiz.csrf();
    let path = "/labs/traceql-querying/slow-db-queries/submit";

    let nothing = client
        .submit(
            path,
            &[("csrf", &csrf), ("query", "{ name = \"no-such-span\" }")],
        )
        .await;
    assert!(
        nothing.body.contains("<code>resource.</code>"),
        "feedback's backticks become code: {}",
        nothing.body
    );
    assert!(!nothing.body.contains("`resource.`"), "{}", nothing.body);

    let right = client
        .submit(
            path,
            &[
                ("csrf", &csrf),
                (
                    "query",
                    "{ kind = client && span.db.system != nil && duration > 500ms }",
                ),
            ],
        )
        .await;
    assert!(
        right
            .body
            .contains("Correct!</strong> Your query finds exactly"),
        "{}",
        right.body
    );
    assert!(
        !right.body.contains("Correct: your query"),
        "the verdict is said once: {}",
        right.body
    );
}

#[tokio::test]
async fn resetting_a_learner_who_does_not_exist_is_an_error() {
    let app = spawn().await;
    let mut teacher = app.client();
    teacher.instructor().await;
    let csrf = teacher.get("/instructor").await.csrf();
    let page = teacher
        .post(
            "/instructor/reset",
            &[("csrf", &csrf), ("learner", "nobody-123")],
        )
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        page.body.contains("no learner") && page.body.contains("nobody-123"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("was reset"), "{}", page.body);
}

#[tokio::test]
async fn a_real_lab_with_a_secret_fault_does_not_name_it() {
    let app = spawn().await;
    let mut client = app.client();
    client.join("Ada Lovelace").await;
    let page = client.get("/labs/intermittent-slowness").await;
    let start = page.body.find("id=\"scenario\"").expect("a scenario block");
    let block = &page.body[start..start + page.body[start..].find("</div>").unwrap_or(0)];
    assert!(
        block.contains("data-state=\"off\"") && block.contains("not switched on"),
        "{block}"
    );
    assert!(!block.contains("slow_query"), "{block}");
}

#[tokio::test]
async fn the_instrumentation_form_offers_no_shop_service_and_shows_how_to_mark_the_run() {
    let app = spawn().await;
    let mut ada = app.client();
    let anonymous = ada.get("/labs/instrument-a-service").await;
    assert!(
        !anonymous.body.contains("class=\"run-marker\""),
        "no marker before joining"
    );
    ada.join("Ada Lovelace").await;
    let page = ada.get("/labs/instrument-a-service").await;
    let id = dojo_grader::progress::LearnerId::for_name("Ada Lovelace");
    assert!(
        page.body
            .contains(&format!("OTEL_RESOURCE_ATTRIBUTES=learner.id={id}")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("name=\"service\" value=\"stock\""),
        "{}",
        page.body
    );
    for shop in ["frontend", "payments"] {
        assert!(
            !page.body.contains(&format!("<option>{shop}</option>")),
            "{shop} is offered: {}",
            page.body
        );
    }
}

#[tokio::test]
async fn each_learner_sees_the_quiz_choices_in_their_own_order() {
    let app = spawn().await;
    let mut pages = Vec::new();
    for name in ["Ada", "Grace", "Edsger", "Barbara"] {
        let mut client = app.client();
        client.join(name).await;
        let page = client.get("/labs/quiz").await;
        // The first question's choices, in the order they are shown.
        let first = page
            .body
            .split("type=\"radio\"")
            .skip(1)
            .take(4)
            .map(|part| {
                part.split("</label>")
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect::<Vec<_>>();
        assert_eq!(first.len(), 4, "{}", page.body);
        pages.push(first);
    }
    assert!(
        pages.iter().any(|p| p != &pages[0]),
        "four learners see the same order: {pages:?}"
    );
}

#[tokio::test]
async fn the_report_form_asks_for_the_deployment_only_where_a_deploy_brought_the_fault() {
    let app = spawn().await;
    let mut ada = app.client();
    ada.join("Ada Lovelace").await;
    let lab5 = ada.get("/labs/delivery-pipeline").await;
    assert_eq!(
        lab5.body.matches("name=\"deployment\"").count(),
        1,
        "one deployment field, in the bad-deploy report: {}",
        lab5.body
    );
    assert!(
        lab5.body.contains("id=\"deployment-bad-deploy\""),
        "{}",
        lab5.body
    );
    let lab3 = ada.get("/labs/intermittent-slowness").await;
    assert!(
        lab3.body.contains("name=\"fault_kind\"") && !lab3.body.contains("name=\"deployment\""),
        "{}",
        lab3.body
    );
}
