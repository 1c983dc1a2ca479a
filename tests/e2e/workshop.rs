//! Workshop mode: one shared sample app, each learner with their own variant of the lab's
//! faults, scoped to their traffic; the grader's id-addressed JSON API is not served.

use std::time::Duration;

use crate::helpers::{Lab, urlencode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_who_joins_a_workshop_gets_their_own_fault_scoped_to_their_traffic() {
    // The services' fault list is the instructor's: it names each learner's fault.
    let admin_token = "e2e-admin-token";
    let mut lab = Lab::start_with_env(
        &[
            "--load-rate",
            "0",
            "--workshop-code",
            "owl",
            "--lab",
            "intermittent-slowness",
            "--instructor-token",
            INSTRUCTOR_TOKEN,
        ],
        &[("DOJO_ADMIN_TOKEN", admin_token)],
    )
    .await;
    lab.wait_for_output(
        "/instructor (sign in with the instructor token)",
        Duration::from_secs(5),
    )
    .await;
    lab.wait_for_output(
        "each learner who joins gets their own variant",
        Duration::from_secs(5),
    )
    .await;
    let ports = lab.ports;

    // Join through the course, as a browser would: the form's CSRF token and session cookie.
    lab.join("Ada", "owl").await;

    // Within a few seconds one of the services has a fault switched on for Ada only.
    let ada = dojo_grader::progress::LearnerId::for_name("Ada").to_string();
    let scoped = lab
        .eventually(
            "a fault scoped to Ada in one of the services",
            Duration::from_secs(30),
            || async {
                lab.shop_faults(admin_token)
                    .await?
                    .iter()
                    .find(|fault| {
                        fault["active"]["learners"]
                            .as_array()
                            .is_some_and(|l| l.iter().any(|id| id == ada.as_str()))
                    })
                    .map(|fault| fault["id"].as_str().unwrap_or_default().to_owned())
            },
        )
        .await;
    assert!(!scoped.is_empty(), "the scoped fault has an id");

    // Learners cannot read each other's progress through the grader's id-addressed API.
    let (status, _) = lab
        .get(&lab.url(ports.dojo, &format!("/api/grader/progress/{ada}")))
        .await;
    assert_eq!(
        status, 404,
        "the grader's JSON API is not served in a workshop"
    );

    // The instructor resets Ada: she leaves the class list and her fault goes off.
    let (teacher, csrf) = sign_in_as_instructor(&lab).await;
    let reset = lab
        .http
        .post(lab.url(ports.dojo, "/instructor/reset"))
        .header("cookie", &teacher)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf={}&learner={}&confirm=true",
            urlencode(&csrf),
            urlencode(ada.as_str())
        ))
        .send()
        .await
        .expect("the reset answers");
    assert!(reset.status().is_success(), "{}", reset.status());
    lab.eventually(
        "Ada's fault switched off after her reset",
        Duration::from_secs(30),
        || async {
            let faults = lab.shop_faults(admin_token).await?;
            let listed = serde_json::Value::Array(faults).to_string();
            (!listed.contains(ada.as_str())).then_some(())
        },
    )
    .await;

    assert!(lab.stop().await.success());
}

const INSTRUCTOR_TOKEN: &str = "e2e-instructor-token-7f3a9c";

/// Signs in on the instructor page as a browser would; answers the cookies and a CSRF token.
async fn sign_in_as_instructor(lab: &Lab) -> (String, String) {
    let cookies = |response: &reqwest::Response| {
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    let csrf_of = |html: &str| {
        html.split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a CSRF token")
            .to_owned()
    };
    let page = lab
        .http
        .get(lab.url(lab.ports.dojo, "/instructor"))
        .send()
        .await
        .expect("the instructor page answers");
    let session = cookies(&page).join("; ");
    let csrf = csrf_of(&page.text().await.expect("a body"));
    // The login answers 303 with the new session's cookie: read it there, not after following.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let login = no_redirects
        .post(lab.url(lab.ports.dojo, "/instructor/login"))
        .header("cookie", &session)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf={}&token={}",
            urlencode(&csrf),
            urlencode(INSTRUCTOR_TOKEN)
        ))
        .send()
        .await
        .expect("the login answers");
    let signed_in = cookies(&login).join("; ");
    let dashboard = lab
        .http
        .get(lab.url(lab.ports.dojo, "/instructor"))
        .header("cookie", &signed_in)
        .send()
        .await
        .expect("the dashboard answers");
    assert!(dashboard.status().is_success(), "{}", dashboard.status());
    let csrf = csrf_of(&dashboard.text().await.expect("a body"));
    (signed_in, csrf)
}
