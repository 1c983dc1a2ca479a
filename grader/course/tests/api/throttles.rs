//! Scripts cannot crowd out the class: joins and wrong instructor tokens are limited per
//! address with a refusal that says how long to wait, and cookies are `Secure` behind HTTPS.

use std::net::Ipv4Addr;
use std::time::Instant;

use crate::support::{INSTRUCTOR_TOKEN, Options, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_from_one_address_are_limited_and_the_refusal_says_how_long_to_wait() {
    let app = TestApp::spawn().await;
    // A class of 60 behind one address can join at once; a script that keeps going is
    // refused soon after (the budget also refills by one a second while it runs).
    let started = Instant::now();
    let mut joined = 0;
    let refusal = loop {
        let page = app.client().join(&format!("Learner {joined}")).await;
        match page.status.as_u16() {
            303 => joined += 1,
            429 => break page,
            other => panic!("join {joined}: unexpected {other}: {}", page.body),
        }
        assert!(joined <= 200, "joins are never refused");
    };
    let allowed = 60 + started.elapsed().as_secs() as usize + 1;
    assert!(
        (60..=allowed).contains(&joined),
        "{joined} joins before the first refusal (expected 60 to {allowed})"
    );
    let retry_after: u64 = refusal
        .retry_after
        .as_deref()
        .expect("Retry-After on the refusal")
        .parse()
        .expect("whole seconds");
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert!(
        refusal.body.contains("Too many joins from your network")
            && refusal.body.contains("Please wait 1 second"),
        "{}",
        refusal.body
    );
    // Someone at another address joins as usual.
    let elsewhere = app
        .client_from(Ipv4Addr::new(127, 0, 0, 2).into())
        .join("Grace")
        .await;
    assert_eq!(elsewhere.status, 303, "{}", elsewhere.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_instructor_tokens_are_limited_per_address_and_the_instructor_elsewhere_signs_in() {
    let app = TestApp::spawn().await;
    let mut guesser = app.client();
    for attempt in 0..5 {
        let csrf = guesser.get("/instructor").await.csrf();
        let page = guesser
            .post(
                "/instructor/login",
                &[("csrf", &csrf), ("token", &format!("guess-{attempt}"))],
            )
            .await;
        assert_eq!(page.status, 403, "attempt {attempt}: {}", page.body);
    }
    // The sixth try from that address is refused before the token is looked at, even the
    // right one.
    let csrf = guesser.get("/instructor").await.csrf();
    let page = guesser
        .post(
            "/instructor/login",
            &[("csrf", &csrf), ("token", INSTRUCTOR_TOKEN)],
        )
        .await;
    assert_eq!(page.status, 429, "{}", page.body);
    assert_eq!(page.retry_after.as_deref(), Some("60"));
    assert!(
        page.body
            .contains("Too many wrong tokens from your network. Please wait 1 minute"),
        "{}",
        page.body
    );
    // The instructor at another address signs in at once.
    let mut instructor = app.client_from(Ipv4Addr::new(127, 0, 0, 3).into());
    let page = instructor.instructor().await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some("/instructor"));
}

#[tokio::test]
async fn cookies_are_secure_when_a_proxy_says_the_browser_came_over_https() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::new();
    let cookie = |response: &reqwest::Response| {
        response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    for (header, value) in [
        ("x-forwarded-proto", "https"),
        ("forwarded", "for=192.0.2.60;proto=https;by=203.0.113.43"),
    ] {
        let response = http
            .get(app.url("/learn/index"))
            .header(header, value)
            .send()
            .await
            .expect("answers");
        let set = cookie(&response);
        assert!(
            set.starts_with("dojo_session=") && set.ends_with("; Secure"),
            "{header}: {value} gives a Secure cookie: {set}"
        );
    }
    let plain = http
        .get(app.url("/learn/index"))
        .send()
        .await
        .expect("answers");
    assert!(
        !cookie(&plain).contains("Secure"),
        "plain HTTP keeps a cookie the browser will send back: {}",
        cookie(&plain)
    );
}

#[tokio::test]
async fn cookies_are_secure_when_the_public_url_is_https() {
    let app = TestApp::spawn_with(Options {
        https: true,
        ..Options::default()
    })
    .await;
    let response = reqwest::get(app.url("/learn/index"))
        .await
        .expect("answers");
    let set = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(set.ends_with("; Secure"), "{set}");
}
