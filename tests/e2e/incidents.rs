//! Another incident: on a laptop (`dojo up --lab intermittent-slowness --learner NAME`) the
//! learner finds their incident's root cause and reports it through the course, asks for
//! another incident, and `dojo` switches the faults over to another variant of the scenario
//! (the services' admin APIs show the old fault off and the new one on). The new incident is
//! graded the same way: the report that solved the first one is now refused, and a report of
//! the new fault with traces that show it passes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dojo_course::adapters::grader::learner_id_for;
use dojo_grader::progress::LearnerId;
use dojo_grader::scenario::variant_in_round;
use dojo_grader::spec::types::GroundTruth;

use crate::helpers::{Lab, repo_root, urlencode};

const LAB: &str = "intermittent-slowness";

/// A browser's session with the course: its cookies and its form token, over a client that
/// does not follow redirects (so it sees the cookie the join sets).
struct Session {
    http: reqwest::Client,
    cookie: String,
    csrf: String,
}

fn csrf_of(html: &str) -> Option<String> {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_owned)
}

async fn post(lab: &Lab, session: &Session, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let mut body = format!("csrf={}", urlencode(&session.csrf));
    for (name, value) in fields {
        body.push_str(&format!("&{}={}", urlencode(name), urlencode(value)));
    }
    let response = session
        .http
        .post(lab.url(lab.ports.dojo, path))
        .header("cookie", &session.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// Joins the course as `name`; returns the session (the cookie the server set after joining).
async fn join(lab: &Lab, name: &str) -> Session {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTP client");
    let page = http
        .get(lab.url(lab.ports.dojo, "/join"))
        .send()
        .await
        .expect("the join page answers");
    let cookies = |response: &reqwest::Response| -> Vec<String> {
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().to_owned())
            .collect()
    };
    let mut jar = cookies(&page);
    let csrf = csrf_of(&page.text().await.expect("a body")).expect("a CSRF token");
    let joined = http
        .post(lab.url(lab.ports.dojo, "/join"))
        .header("cookie", jar.join("; "))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf={}&name={}",
            urlencode(&csrf),
            urlencode(name)
        ))
        .send()
        .await
        .expect("joining answers");
    assert!(
        joined.status().is_redirection(),
        "{name} joins: {}",
        joined.status()
    );
    for set in cookies(&joined) {
        let name = set.split('=').next().unwrap_or_default().to_owned();
        jar.retain(|c| !c.starts_with(&format!("{name}=")));
        jar.push(set);
    }
    let cookie = jar.join("; ");
    let lab_page = http
        .get(lab.url(lab.ports.dojo, &format!("/labs/{LAB}")))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("the lab page answers")
        .text()
        .await
        .expect("a body");
    let csrf = csrf_of(&lab_page).expect("the lab page's forms carry a CSRF token");
    Session { http, cookie, csrf }
}

/// Two trace ids that show `truth`'s fault, among traces that started after `since`.
async fn evidence(lab: &Lab, truth: &GroundTruth, since: u64) -> Vec<String> {
    lab.eventually(
        &format!("two traces that show {}", truth.fault),
        Duration::from_secs(120),
        || async {
            let end = unix_seconds() + 1;
            let path = format!(
                "/api/search?q={}&start={since}&end={end}&limit=20",
                urlencode(&truth.evidence)
            );
            let (status, body) = lab.try_get(&lab.url(lab.ports.tempo, &path)).await?;
            let json: serde_json::Value =
                serde_json::from_str(&body).ok().filter(|_| status == 200)?;
            let since_nanos = u128::from(since) * 1_000_000_000;
            let ids: Vec<String> = json["traces"]
                .as_array()?
                .iter()
                .filter(|t| {
                    t["startTimeUnixNano"]
                        .as_str()
                        .and_then(|n| n.parse::<u128>().ok())
                        .is_some_and(|n| n >= since_nanos)
                })
                .filter_map(|t| t["traceID"].as_str().map(str::to_owned))
                .take(2)
                .collect();
            (ids.len() == 2).then_some(ids)
        },
    )
    .await
}

async fn report(lab: &Lab, session: &Session, truth: &GroundTruth, traces: &[String]) -> String {
    let (status, page) = post(
        lab,
        session,
        &format!("/labs/{LAB}/root-cause/submit"),
        &[
            ("service", &truth.service),
            ("operation", &truth.operation),
            ("fault_kind", &truth.fault),
            ("trace_ids", &traces.join(" ")),
            (
                "explanation",
                "In the slow traces one span takes far longer than in the fast ones, and only a \
                 fraction of the requests is hit, so the slowness comes and goes with the fault.",
            ),
        ],
    )
    .await;
    assert_eq!(status, 200, "the report is graded: {page}");
    page
}

/// Whether the fault `id` is on at any service, read from their admin APIs.
async fn fault_is_on(lab: &Lab, id: &str) -> Option<bool> {
    let mut on = false;
    for port in [lab.ports.frontend, lab.ports.api, lab.ports.payments] {
        let (_, body) = lab.try_get(&lab.url(port, "/admin/faults")).await?;
        let json: serde_json::Value = serde_json::from_str(&body).ok()?;
        on |= json["faults"]
            .as_array()?
            .iter()
            .any(|f| f["id"] == id && !f["active"].is_null());
    }
    Some(on)
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_solving_an_incident_a_learner_practises_on_another_graded_the_same_way() {
    let labs = dojo_grader::spec::load_dir(&repo_root().join("labs")).expect("labs load");
    let spec = labs.get(LAB).expect("the lab");
    // A name whose first incident is the slow query (its traffic shows it quickly); the next
    // incident is then another variant.
    let (name, learner) = (0..500)
        .map(|i| {
            let name = format!("Ada {i}");
            let id = LearnerId::parse(&learner_id_for(&name)).expect("a valid id");
            (name, id)
        })
        .find(|(_, id)| variant_in_round(spec, id, 0).is_some_and(|v| v.id == "slow-query"))
        .expect("some name starts with the slow query");
    let first = variant_in_round(spec, &learner, 0).expect("a variant");
    let second = variant_in_round(spec, &learner, 1).expect("a variant");
    assert_ne!(first.id, second.id);
    let first_truth = first.truth.clone().expect("a ground truth");
    let second_truth = second.truth.clone().expect("a ground truth");

    let lab = Lab::start(&["--load-rate", "6", "--lab", LAB, "--learner", &name]).await;
    let session = join(&lab, &name).await;

    // The first incident, solved.
    let traces = evidence(&lab, &first_truth, unix_seconds().saturating_sub(60)).await;
    let page = report(&lab, &session, &first_truth, &traces).await;
    assert!(
        page.contains("Correct!"),
        "the first incident is solved: {page}"
    );
    assert!(
        page.contains("id=\"another-incident-button\""),
        "the lab page offers another incident once it is solved"
    );

    // Another incident: the faults move to the next variant.
    let (status, page) = post(
        &lab,
        &session,
        &format!("/labs/{LAB}/another-incident"),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Incident 2 has started"), "{page}");
    let old_fault = first.faults[0].fault.clone();
    let new_fault = second.faults[0].fault.clone();
    lab.eventually(
        &format!("{old_fault} off and {new_fault} on"),
        Duration::from_secs(30),
        || async {
            let off = !fault_is_on(&lab, &old_fault).await?;
            let on = fault_is_on(&lab, &new_fault).await?;
            (off && on).then_some(())
        },
    )
    .await;
    let switched = unix_seconds();

    // Asking again before solving the new one is refused, and says why.
    let (status, page) = post(
        &lab,
        &session,
        &format!("/labs/{LAB}/another-incident"),
        &[],
    )
    .await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("Solve this incident first"), "{page}");

    // Graded the same way, against the new incident: the old answer is refused, the new one
    // with traces from after the switch passes.
    let page = report(&lab, &session, &first_truth, &traces).await;
    assert!(
        page.contains("Not yet."),
        "the first incident's report no longer passes: {page}"
    );
    let traces = evidence(&lab, &second_truth, switched).await;
    let page = report(&lab, &session, &second_truth, &traces).await;
    assert!(
        page.contains("Correct!"),
        "the second incident is solved: {page}"
    );

    assert!(lab.stop().await.success());
}
