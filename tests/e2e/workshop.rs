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
        ],
        &[("DOJO_ADMIN_TOKEN", admin_token)],
    )
    .await;
    lab.wait_for_output(
        "each learner who joins gets their own variant",
        Duration::from_secs(5),
    )
    .await;
    let ports = lab.ports;

    // Join through the course, as a browser would: the form's CSRF token and session cookie.
    let join_page = lab
        .http
        .get(lab.url(ports.dojo, "/join"))
        .send()
        .await
        .expect("the join page answers");
    let cookie = join_page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    let html = join_page.text().await.expect("the join page has a body");
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the join form carries a CSRF token")
        .to_owned();
    let joined = lab
        .http
        .post(lab.url(ports.dojo, "/join"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={}&name=Ada&code=owl", urlencode(&csrf)))
        .send()
        .await
        .expect("joining answers");
    assert!(
        joined.status().is_success() || joined.status().is_redirection(),
        "Ada joins with the workshop code: {}",
        joined.status()
    );

    // Within a few seconds one of the services has a fault switched on for Ada only.
    let ada = dojo_grader::progress::LearnerId::for_name("Ada").to_string();
    let scoped = lab
        .eventually(
            "a fault scoped to Ada in one of the services",
            Duration::from_secs(30),
            || async {
                for port in [ports.frontend, ports.api, ports.payments] {
                    let response = lab
                        .http
                        .get(lab.url(port, "/admin/faults"))
                        .bearer_auth(admin_token)
                        .send()
                        .await
                        .ok()?;
                    let json: serde_json::Value = response.json().await.ok()?;
                    for fault in json["faults"].as_array()? {
                        let learners = &fault["active"]["learners"];
                        if learners
                            .as_array()
                            .is_some_and(|l| l.iter().any(|id| id == ada.as_str()))
                        {
                            return Some(fault["id"].as_str().unwrap_or_default().to_owned());
                        }
                    }
                }
                None
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

    assert!(lab.stop().await.success());
}
