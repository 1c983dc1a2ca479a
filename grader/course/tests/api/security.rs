//! Every form refuses a request without the session's CSRF token; the session cookie is
//! HttpOnly; learner and lab text is escaped.

use crate::support::TestApp;

#[tokio::test]
async fn every_form_refuses_a_missing_or_wrong_csrf_token() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    client.join("Ada").await;
    client.instructor().await;
    let forms = [
        "/join",
        "/leave",
        "/labs/traceql-querying/failed-checkouts/submit",
        "/labs/traceql-querying/failed-checkouts/hint",
        "/instructor/login",
        "/instructor/faults",
        "/instructor/reset",
    ];
    for path in forms {
        for token in ["", "0123456789abcdef0123456789abcdef"] {
            let page = client
                .post(
                    path,
                    &[
                        ("csrf", token),
                        ("name", "x"),
                        ("query", "{ }"),
                        ("fault", "slow-query"),
                        ("enabled", "true"),
                        ("learner", "learner-1"),
                        ("token", "t"),
                    ],
                )
                .await;
            assert_eq!(page.status, 403, "{path} accepted the token {token:?}");
        }
    }
    assert!(!app.faults.is_on("slow-query"));
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site() {
    let app = TestApp::spawn().await;
    let response = reqwest::get(app.url("/learn/index"))
        .await
        .expect("answers");
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(cookie.starts_with("dojo_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );

    // The learner cookie, handed out on joining, is just as closed to scripts.
    let mut client = app.client();
    let csrf = client.get("/join").await.csrf();
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
        .post(app.url("/join"))
        .header("cookie", client.cookie().expect("a session"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&name=Ada"))
        .send()
        .await
        .expect("answers");
    let learner: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| v.starts_with("dojo_learner="))
        .map(str::to_string)
        .collect();
    assert_eq!(learner.len(), 1, "{learner:?}");
    assert!(
        learner[0].contains("HttpOnly") && learner[0].contains("SameSite=Lax"),
        "{learner:?}"
    );
}

#[tokio::test]
async fn names_and_prompts_are_escaped() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    client.join("<b>Mallory</b>").await;
    let page = client.get("/labs/traceql-querying").await;
    assert!(page.body.contains("Mallory"), "{}", page.body);
    assert!(!page.body.contains("<b>Mallory"), "the name is escaped");
    assert!(
        !page.body.contains("<script>alert('x')"),
        "the lab prompt's script is removed"
    );
}

#[tokio::test]
async fn joining_or_signing_in_moves_the_session_to_a_new_id() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    client.get("/labs").await;
    let before = client.cookie();
    client.instructor().await;
    assert_ne!(
        client.cookie(),
        before,
        "the instructor got a fresh session id"
    );
    assert_eq!(client.get("/instructor").await.status, 200);

    // Someone holding the id from before the sign-in is not the instructor.
    let mut other = app.client();
    other.set_cookie(before);
    assert_eq!(other.get("/instructor").await.status, 403);
}

#[tokio::test]
async fn every_page_forbids_framing_sniffing_and_foreign_scripts() {
    let app = TestApp::spawn().await;
    for path in [
        "/learn/index",
        "/console",
        "/labs",
        "/no-such-page",
        "/static/course.css",
    ] {
        let response = reqwest::get(app.url(path)).await.expect("answers");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        let policy = header("content-security-policy");
        assert!(
            policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
    }
}

#[tokio::test]
async fn an_oversized_form_gets_the_course_error_page_with_413() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let csrf = client.get("/join").await.csrf();
    let name = "a".repeat(400 * 1024);
    let page = client
        .post("/join", &[("csrf", &csrf), ("name", &name)])
        .await;
    assert_eq!(page.status, 413, "{}", page.body);
    assert!(
        page.body
            .contains("this form is larger than the course accepts (256 KiB)"),
        "{}",
        page.body
    );
}
