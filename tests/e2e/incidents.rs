//! Another incident: on a laptop (`dojo up --lab intermittent-slowness --learner NAME`) the
//! learner finds their incident's root cause and reports it through the course, asks for
//! another incident, and `dojo` switches the faults over to another variant of the scenario
//! (the services' admin APIs show the old fault off and the new one on). The new incident is
//! graded the same way: the report that solved the first one is now refused, and a report of
//! the new fault with traces that show it passes. In a workshop each learner reads (console,
//! trace pages) and is graded on only their own traffic, routed to their own tenant.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dojo_grader::progress::LearnerId;
use dojo_grader::scenario::variant_in_round;
use dojo_grader::spec::types::GroundTruth;
use dojo_store::storage::routing::learner_tenant;

use crate::helpers::{Lab, repo_root, search_trace_ids, urlencode};

const LAB: &str = "intermittent-slowness";

/// A browser's session with the course: its cookies and its form token, over a client that
/// does not follow redirects (so it sees the cookie the join sets).
pub(crate) struct Session {
    http: reqwest::Client,
    cookie: String,
    csrf: String,
}

/// The services' admin token in these labs.
const ADMIN_TOKEN: &str = "e2e-incidents-admin-token";

fn csrf_of(html: &str) -> Option<String> {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_owned)
}

pub(crate) async fn post(
    lab: &Lab,
    session: &Session,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
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
    // An answer is posted, redirected and got (post/redirect/get): follow it as a browser
    // does, to the page that shows the verdict.
    match response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
    {
        Some(location) if response.status().as_u16() == 303 => {
            let target = location.split('#').next().unwrap_or_default().to_string();
            get(lab, session, &target).await
        }
        _ => {
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        }
    }
}

/// GETs a page of the course as the session's learner.
pub(crate) async fn get(lab: &Lab, session: &Session, path: &str) -> (u16, String) {
    let response = session
        .http
        .get(lab.url(lab.ports.dojo, path))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// Joins the course as `name` (with a workshop `code`, if any); returns the session (the
/// cookie the server set after joining).
pub(crate) async fn join(lab: &Lab, name: &str, code: Option<&str>) -> Session {
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
            "csrf={}&name={}&code={}",
            urlencode(&csrf),
            urlencode(name),
            urlencode(code.unwrap_or_default())
        ))
        .send()
        .await
        .expect("joining answers");
    let status = joined.status();
    let set = cookies(&joined);
    let body = joined.text().await.unwrap_or_default();
    assert!(status.is_redirection(), "{name} joins: {status}\n{body}");
    for set in set {
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

/// Two trace ids that show `truth`'s fault, among traces that started after `since`, in
/// `tenant` (a workshop learner's; `None` on a laptop).
async fn evidence(lab: &Lab, truth: &GroundTruth, since: u64, tenant: Option<&str>) -> Vec<String> {
    lab.eventually(
        &format!("two traces that show {}", truth.fault),
        Duration::from_secs(120),
        || async {
            let end = unix_seconds() + 1;
            let path = format!(
                "/api/search?q={}&start={since}&end={end}&limit=20",
                urlencode(&truth.evidence)
            );
            let (status, body) = search(lab, &path, tenant).await?;
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

/// GETs a path of the store's Tempo API as `tenant`; `None` when nothing answers (yet).
pub(crate) async fn search(lab: &Lab, path: &str, tenant: Option<&str>) -> Option<(u16, String)> {
    let mut request = lab.http.get(lab.url(lab.ports.tempo, path));
    if let Some(tenant) = tenant {
        request = request.header("X-Scope-OrgID", tenant);
    }
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.unwrap_or_default()))
}

/// Every trace id `tenant` holds from the last few minutes.
async fn traces_in(lab: &Lab, tenant: &str) -> Vec<String> {
    let path = "/api/search?q=%7B%7D&limit=1000";
    let Some((200, body)) = search(lab, path, Some(tenant)).await else {
        return Vec::new();
    };
    search_trace_ids(&body)
}

/// GETs a course page as `session`.
pub(crate) async fn page(lab: &Lab, session: &Session, path: &str) -> (u16, String) {
    let response = session
        .http
        .get(lab.url(lab.ports.dojo, path))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// The trace ids a console page links to.
fn linked_traces(html: &str) -> Vec<String> {
    html.split("class=\"trace-link\" href=\"/traces/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// Whether two hex trace ids name the same trace (Tempo's search drops leading zeros).
fn same_trace(a: &str, b: &str) -> bool {
    a.trim_start_matches('0') == b.trim_start_matches('0')
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

/// A real `dojo loadgen` sending `learner`'s traffic to the shop for 90 s.
fn loadgen(lab: &Lab, learner: &LearnerId, concurrency: u32) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_dojo"))
        .args(["loadgen", "--target"])
        .arg(lab.url(lab.ports.frontend, ""))
        .args(["--rate", "0", "--duration", "90s", "--quiet"])
        .args(["--concurrency", &concurrency.to_string()])
        .args(["--learner", learner.as_str()])
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            lab.url(lab.ports.otlp_http, ""),
        )
        .env("OTEL_BSP_SCHEDULE_DELAY", "500")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("dojo loadgen starts")
}

/// Whether the fault `id` is on at any service, read from their admin APIs.
async fn fault_is_on(lab: &Lab, id: &str) -> Option<bool> {
    Some(fault_scope(lab, id).await?.is_some())
}

/// The fault `id` as the services' admin APIs show it: `None` when off, `Some(learners)`
/// when on (empty for every learner's traffic).
async fn fault_scope(lab: &Lab, id: &str) -> Option<Option<Vec<String>>> {
    let faults = lab.shop_faults(ADMIN_TOKEN).await?;
    Some(
        faults
            .iter()
            .find(|fault| fault["id"] == id && !fault["active"].is_null())
            .map(|fault| {
                fault["active"]["learners"]
                    .as_array()
                    .map(|l| {
                        l.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            }),
    )
}

/// A name (and its learner id) whose incident number `round` of the lab is `variant`.
fn name_with(
    spec: &dojo_grader::spec::types::Lab,
    prefix: &str,
    variant: &str,
) -> (String, LearnerId) {
    (0..500)
        .map(|i| {
            let name = format!("{prefix} {i}");
            let id = LearnerId::for_name(&name);
            (name, id)
        })
        .find(|(_, id)| variant_in_round(spec, id, 0).is_some_and(|v| v.id == variant))
        .unwrap_or_else(|| panic!("some {prefix} starts with {variant}"))
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
    let (name, learner) = name_with(spec, "Ada", "slow-query");
    let first = variant_in_round(spec, &learner, 0).expect("a variant");
    let second = variant_in_round(spec, &learner, 1).expect("a variant");
    assert_ne!(first.id, second.id);
    let first_truth = first.truth.clone().expect("a ground truth");
    let second_truth = second.truth.clone().expect("a ground truth");

    let lab = Lab::start_with_env(
        &["--load-rate", "6", "--lab", LAB, "--learner", &name],
        &[("DOJO_ADMIN_TOKEN", ADMIN_TOKEN)],
    )
    .await;
    let session = join(&lab, &name, None).await;

    // The first incident, solved.
    let traces = evidence(&lab, &first_truth, unix_seconds().saturating_sub(60), None).await;
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
    let traces = evidence(&lab, &second_truth, switched, None).await;
    let page = report(&lab, &session, &second_truth, &traces).await;
    assert!(
        page.contains("Correct!"),
        "the second incident is solved: {page}"
    );

    assert!(lab.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_workshop_each_learner_reads_and_is_graded_on_their_own_traffic_and_moves_only_their_faults()
 {
    let labs = dojo_grader::spec::load_dir(&repo_root().join("labs")).expect("labs load");
    let spec = labs.get(LAB).expect("the lab");
    let (ada_name, ada) = name_with(spec, "Ada", "slow-query");
    let (bob_name, bob) = name_with(spec, "Bob", "cpu-heavy");
    let first = variant_in_round(spec, &ada, 0).expect("a variant");
    let second = variant_in_round(spec, &ada, 1).expect("a variant");
    let (old_fault, new_fault) = (
        first.faults[0].fault.clone(),
        second.faults[0].fault.clone(),
    );
    let bob_fault = variant_in_round(spec, &bob, 0).expect("a variant").faults[0]
        .fault
        .clone();
    assert!(old_fault != bob_fault && new_fault != bob_fault);

    let lab = Lab::start_with_env(
        &["--load-rate", "0", "--workshop-code", "owl", "--lab", LAB],
        &[("DOJO_ADMIN_TOKEN", ADMIN_TOKEN)],
    )
    .await;
    let session = join(&lab, &ada_name, Some("owl")).await;
    let bob_session = join(&lab, &bob_name, Some("owl")).await;
    let scoped_to = |fault: String, who: LearnerId| {
        let lab = &lab;
        async move {
            fault_scope(lab, &fault)
                .await?
                .map(|learners| learners.contains(&who.to_string()))
        }
    };
    lab.eventually(
        "Ada's first incident on for her",
        Duration::from_secs(30),
        || scoped_to(old_fault.clone(), ada.clone()),
    )
    .await;

    // Ada's own traffic shows her incident; she solves it.
    let mut load = loadgen(&lab, &ada, 3);
    let mut bob_load = loadgen(&lab, &bob, 1);

    // Each learner's traffic lands in their own tenant, and the course reads only it.
    let tenant = |who: &LearnerId| learner_tenant(who.as_str()).expect("a tenant").to_string();
    let (ada_tenant, bob_tenant) = (tenant(&ada), tenant(&bob));
    let truth = first.truth.clone().expect("a ground truth");
    let traces = evidence(
        &lab,
        &truth,
        unix_seconds().saturating_sub(60),
        Some(&ada_tenant),
    )
    .await;
    let bob_trace = lab
        .eventually(
            "a trace of Bob's traffic",
            Duration::from_secs(60),
            || async { traces_in(&lab, &bob_tenant).await.into_iter().next() },
        )
        .await;
    let (_, ada_console) = page(&lab, &session, "/console?q=%7B%7D").await;
    let (_, bob_console) = page(&lab, &bob_session, "/console?q=%7B%7D").await;
    for (who, console, own, other) in [
        ("Ada", &ada_console, &ada_tenant, &bob_tenant),
        ("Bob", &bob_console, &bob_tenant, &ada_tenant),
    ] {
        let shown = linked_traces(console);
        assert!(!shown.is_empty(), "{who}'s console shows her traces");
        // Listed after the console answered, so every trace it showed is in one of these.
        let (own, other) = (traces_in(&lab, own).await, traces_in(&lab, other).await);
        for id in &shown {
            assert!(
                own.iter().any(|o| same_trace(o, id)) && !other.iter().any(|o| same_trace(o, id)),
                "{who}'s console shows {id}, which is not from {who}'s traffic"
            );
        }
    }
    let (status, _) = page(&lab, &session, &format!("/traces/{bob_trace}")).await;
    assert_eq!(status, 404, "Ada cannot open Bob's trace");
    let (status, bob_page) = page(&lab, &bob_session, &format!("/traces/{bob_trace}")).await;
    assert_eq!(status, 200, "Bob opens his own trace: {bob_page}");
    let (status, services) = page(&lab, &session, "/services").await;
    assert_eq!(status, 200, "{services}");
    for (what, html) in [("console", &ada_console), ("services page", &services)] {
        assert!(
            html.contains("id=\"own-traffic\"") && html.contains(ada.as_str()),
            "Ada's {what} says it shows only her traffic, and how to send some: {html}"
        );
    }

    // Graded on her own traffic: Bob's trace is named as his, and her own solve it.
    let mut cited = vec![bob_trace.clone()];
    cited.extend(traces.iter().cloned());
    let page = report(&lab, &session, &truth, &cited).await;
    assert!(
        page.contains("another learner"),
        "Bob's trace, cited by Ada, is named as another learner's: {page}"
    );
    let page = report(&lab, &session, &truth, &traces).await;
    assert!(
        page.contains("Correct!"),
        "Ada solves her first incident: {page}"
    );

    // `dojo grade` on the command line grades her on her own tenant too (with the shared
    // tenant, her traces are not there and the same report fails).
    let report_file = lab.data_dir.join("ada-report.yaml");
    let evidence: Vec<String> = traces.iter().map(|t| format!("'{t}'")).collect();
    std::fs::write(
        &report_file,
        format!(
            "service: {}\noperation: {}\nfault: {}\nevidence: [{}]\nexplanation: In the slow \
             traces one span takes far longer than in the fast ones, and only a fraction of the \
             requests is hit, so the slowness comes and goes with the fault.\n",
            truth.service,
            truth.operation,
            truth.fault,
            evidence.join(", ")
        ),
    )
    .expect("the lab's data directory is writable");
    let graded = tokio::process::Command::new(env!("CARGO_BIN_EXE_dojo"))
        .arg("grade")
        .arg("--labs")
        .arg(repo_root().join("labs"))
        .arg("--data-dir")
        .arg(&lab.data_dir)
        .args(["--lab", LAB, "--exercise", "root-cause", "--report"])
        .arg(&report_file)
        .args(["--learner", &ada_name])
        .env_remove("DOJO_LEARNER")
        .env_remove("TEMPO_URL")
        .output()
        .await
        .expect("dojo grade runs");
    assert!(
        graded.status.success(),
        "dojo grade passes Ada's report on her own traffic: {}{}",
        String::from_utf8_lossy(&graded.stdout),
        String::from_utf8_lossy(&graded.stderr)
    );
    let (status, page) = post(
        &lab,
        &session,
        &format!("/labs/{LAB}/another-incident"),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{page}");

    // Only Ada's faults move: hers to the next variant, Bob keeps his.
    lab.eventually(
        &format!("Ada's {old_fault} gone and {new_fault} on for her"),
        Duration::from_secs(30),
        || async {
            let old = scoped_to(old_fault.clone(), ada.clone())
                .await
                .unwrap_or(false);
            let new = scoped_to(new_fault.clone(), ada.clone()).await?;
            (!old && new).then_some(())
        },
    )
    .await;
    assert_eq!(
        scoped_to(bob_fault.clone(), bob.clone()).await,
        Some(true),
        "Bob keeps his incident, scoped to him"
    );
    assert_eq!(
        scoped_to(new_fault.clone(), bob.clone()).await,
        Some(false),
        "Ada's new incident is not Bob's"
    );
    let _ = load.kill().await;
    let _ = bob_load.kill().await;
    assert!(lab.stop().await.success());
}
