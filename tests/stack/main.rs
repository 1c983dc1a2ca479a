//! The lab's own containers, started exactly as compose and Kubernetes configure them — same
//! arguments, same environment, same user, a read-only root where they set one — as real
//! processes on this machine (see `harness` for the one mapping that cannot be avoided). Then
//! what a class needs must work: the course serves, a TraceQL answer is graded against the
//! traces the shop sent, an instructor's fault toggle reaches the shop, and the delivery
//! pipeline's container (`deploy`) rolls a new api release out with the fault still on.
//!
//! Run with `cargo nextest run -p dojo --test stack`. Needs PostgreSQL (`DOJO_TEST_POSTGRES_URL`)
//! and, for the Kubernetes case, `kubectl` or `kustomize` (a failure under `CI=true`).

mod deploy;
mod harness;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use dojo_defaults::env;
use dojo_deploy_tests::container::{self, Container, Image};
use dojo_deploy_tests::kustomize::{self, Tool};
use dojo_deploy_tests::{compose, kube, repo};
use serde_json::Value;

use harness::Machine;

/// The repository root.
pub fn repo_root() -> PathBuf {
    repo::root()
}

pub fn image() -> Image {
    container::image(&repo::read("Dockerfile").expect("the Dockerfile")).expect("its runtime stage")
}

fn compose_containers() -> Vec<Container> {
    let text = repo::read("compose/docker-compose.yaml").expect("the compose file");
    let dotenv = repo::read("compose/.env").expect("compose/.env");
    let file = compose::load(&text, &dotenv, "compose").expect("the compose file parses");
    container::from_compose(&file, &image())
}

fn kube_containers(root: &str) -> Option<Vec<Container>> {
    let Some(tool) = Tool::find() else {
        let why = format!("neither kustomize nor kubectl is on PATH: {root} not rendered");
        assert!(!is_ci(), "{why} (CI=true needs one)");
        eprintln!("skipped: {why}");
        return None;
    };
    let text = kustomize::render_with_secrets(&tool, root).expect("kustomize renders");
    let manifests = kube::parse_documents(&text, root).expect("the rendered manifests parse");
    Some(container::from_kube(&manifests, &image(), root).expect("our containers resolve"))
}

fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

pub fn named<'a>(containers: &'a [Container], name: &str) -> &'a Container {
    containers
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

/// The port a container listens on, as its command line says.
pub fn port_of(container: &Container) -> u16 {
    harness::flag(&container.argv, "--port")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{}: no --port", container.origin))
}

/// Starts the shop, the course and the load generator in dependency order and waits for each.
async fn start(containers: &[Container]) -> Machine {
    let image = image();
    let mut machine = Machine::start(containers).await;
    for name in ["payments", "payments-canary", "api", "frontend", "dojo"] {
        let container = named(containers, name);
        machine.run(container, &image).await;
        let url = format!("{}/health", machine.url(name, port_of(container)));
        machine.wait_for_http(&container.origin, &url).await;
    }
    machine.run(named(containers, "loadgen"), &image).await;
    machine
}

/// The session cookie and CSRF token of a course page.
async fn session(http: &reqwest::Client, url: &str, cookie: Option<&str>) -> (String, String) {
    let mut request = http.get(url);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.expect("the page answers");
    let cookie = new_cookie(&response)
        .or_else(|| cookie.map(str::to_owned))
        .unwrap_or_default();
    let html = response.text().await.expect("a page body");
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("{url} has no CSRF token"))
        .to_owned();
    (cookie, csrf)
}

/// Posts a course form as a browser would: its session cookie and url-encoded fields.
async fn post_form(
    http: &reqwest::Client,
    url: String,
    cookie: &str,
    pairs: &[(&str, &str)],
    what: &str,
) -> reqwest::Response {
    http.post(url)
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The checks a class depends on, against a started stack.
async fn check_the_class_works(machine: &Machine, containers: &[Container]) {
    let dojo = named(containers, "dojo");
    let course = machine.url("dojo", port_of(dojo));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");

    // 1. The course serves its labs, read from the image's read-only working directory.
    let labs = http
        .get(format!("{course}/labs"))
        .send()
        .await
        .expect("the course answers");
    assert_eq!(labs.status(), 200, "{}\n{}", dojo.origin, machine.report());
    let page = labs.text().await.unwrap_or_default();
    assert!(
        page.contains("traceql-querying"),
        "the labs page lists no labs"
    );

    // 2. An instructor signs in with the token the orchestrator gave the course, switches a
    //    fault on, and the api — a separate process — has it on.
    let token = dojo
        .env(env::INSTRUCTOR_TOKEN)
        .expect("an instructor token");
    let (cookie, csrf) = session(&http, &format!("{course}/instructor"), None).await;
    let login = post_form(
        &http,
        format!("{course}/instructor/login"),
        &cookie,
        &[("csrf", &csrf), ("token", token)],
        "login answers",
    )
    .await;
    assert!(login.status().is_redirection(), "login: {}", login.status());
    let cookie = new_cookie(&login).unwrap_or(cookie);
    let (cookie, csrf) = session(&http, &format!("{course}/instructor"), Some(&cookie)).await;
    // broken_propagation is what the TraceQL lab's scenario switches on: some api requests
    // lose their frontend parent, so a structural answer differs from a flat near miss.
    for fault in ["slow_query", "broken_propagation"] {
        let toggled = post_form(
            &http,
            format!("{course}/instructor/faults"),
            &cookie,
            &[("csrf", &csrf), ("fault", fault), ("enabled", "true")],
            "the toggle answers",
        )
        .await;
        let page = toggled.text().await.unwrap_or_default();
        assert!(
            page.contains(&format!("Fault {fault} is now on.")),
            "the instructor page did not switch {fault} on:\n{}\n{}",
            page.lines()
                .filter(|l| l.contains(fault) || l.contains("not answering"))
                .collect::<Vec<_>>()
                .join("\n"),
            machine.report()
        );
    }
    let slow_query = api_fault(machine, containers, "slow_query").await;
    assert!(
        !slow_query["active"].is_null(),
        "slow_query is not on in the api: {slow_query}"
    );
    // The course switches faults on the stable payments; the canary, a container of its own,
    // follows them on and off.
    for enabled in ["true", "false"] {
        let toggled = post_form(
            &http,
            format!("{course}/instructor/faults"),
            &cookie,
            &[
                ("csrf", &csrf),
                ("fault", "payments_slow"),
                ("enabled", enabled),
            ],
            "the toggle answers",
        )
        .await;
        assert!(toggled.status().is_success(), "{}", toggled.status());
        let on = enabled == "true";
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let canary = fault_of(machine, containers, "payments-canary", "payments_slow").await;
            if canary["active"].is_null() != on {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the payments canary did not follow payments_slow {}: {canary}\n{}",
                if on { "on" } else { "off" },
                machine.report()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    // 3. A learner joins through the course and their TraceQL answer is graded against the
    //    traces the shop sent through the stand-in collector (the load generator's checkouts),
    //    read back through the Tempo API the course was pointed at.
    let (cookie, csrf) = session(&http, &format!("{course}/join"), None).await;
    let joined = post_form(
        &http,
        format!("{course}/join"),
        &cookie,
        &[("csrf", &csrf), ("name", "Stack check")],
        "joining answers",
    )
    .await;
    assert!(
        joined.status().is_success() || joined.status().is_redirection(),
        "join: {}",
        joined.status()
    );
    let cookie = new_cookie(&joined).unwrap_or(cookie);
    let lab = format!("{course}/labs/traceql-querying");
    let (cookie, csrf) = session(&http, &lab, Some(&cookie)).await;
    let answers = [
        (
            "checkout-route",
            r#"{ resource.service.name = "api" && kind = server && span.http.route = "/orders" && span.http.request.method = "POST" }"#,
        ),
        // Passes only when the payments canary serves beside the stable release: the answer
        // without the version must return a different set.
        (
            "deployment-version",
            r#"{ resource.service.name = "payments" && resource.service.version = "0.1.0" }"#,
        ),
    ];
    for (exercise, answer) in answers {
        graded_correct(machine, &http, &lab, &cookie, &csrf, exercise, answer).await;
    }
}

/// One fault of the api's listing, as its admin API (behind the api's port) reports it.
async fn api_fault(machine: &Machine, containers: &[Container], id: &str) -> Value {
    fault_of(machine, containers, "api", id).await
}

/// One fault of a service's listing, as its admin API reports it.
async fn fault_of(machine: &Machine, containers: &[Container], service: &str, id: &str) -> Value {
    let container = named(containers, service);
    let admin = container
        .env(env::ADMIN_TOKEN)
        .unwrap_or_else(|| panic!("{service} has no admin token"));
    let listing: Value = reqwest::Client::new()
        .get(format!(
            "{}/admin/faults",
            machine.url(service, port_of(container))
        ))
        .bearer_auth(admin)
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .expect("the api's admin API answers")
        .json()
        .await
        .expect("a fault listing");
    listing["faults"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{service} lists no {id}: {listing}"))
}

/// The deploy container rolls out a new api release (see `deploy`), and the fault the
/// instructor switched on before is still on in it.
async fn check_a_deploy_rolls_out(machine: &mut Machine, containers: &[Container]) {
    deploy::a_deploy_rolls_out_a_new_release(machine, containers).await;
    let slow_query = api_fault(machine, containers, "slow_query").await;
    assert!(
        !slow_query["active"].is_null(),
        "slow_query did not survive the rollout: {slow_query}"
    );
}

/// Submits `answer` to `exercise` until the lab page says it is correct (150 s at most).
async fn graded_correct(
    machine: &Machine,
    http: &reqwest::Client,
    lab: &str,
    cookie: &str,
    csrf: &str,
    exercise: &str,
    answer: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(150);
    let mut last = String::new();
    while Instant::now() < deadline {
        let graded = post_form(
            http,
            format!("{lab}/{exercise}/submit"),
            cookie,
            &[("csrf", csrf), ("query", answer)],
            "the grader answers",
        )
        .await;
        // Post/redirect/get: the answer redirects to the lab page that shows the verdict.
        assert_eq!(graded.status(), 303, "submit: {}", graded.status());
        let shown = http
            .get(lab)
            .header("cookie", cookie)
            .send()
            .await
            .expect("the lab page answers");
        assert_eq!(shown.status(), 200, "lab page: {}", shown.status());
        last = shown.text().await.unwrap_or_default();
        if last.contains("<strong>Correct!</strong>") {
            return;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let verdict: Vec<&str> = last.lines().filter(|l| l.contains("verdict")).collect();
    panic!(
        "the reference answer of {exercise} was not graded a pass within 150 s: {verdict:?}\n{}",
        machine.report()
    );
}

/// The session cookie a response sets, if it sets one.
fn new_cookie(response: &reqwest::Response) -> Option<String> {
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .collect();
    (!cookies.is_empty()).then(|| cookies.join("; "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compose_containers_start_as_configured_the_class_works_and_a_deploy_rolls_out() {
    let containers = compose_containers();
    let mut machine = start(&containers).await;
    check_the_class_works(&machine, &containers).await;
    check_a_deploy_rolls_out(&mut machine, &containers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubernetes_containers_start_as_configured_the_class_works_and_a_deploy_rolls_out() {
    // The deploy overlay is the base as shipped plus the pipeline's Job.
    let Some(containers) = kube_containers("k8s/overlays/deploy") else {
        return;
    };
    let mut machine = start(&containers).await;
    check_the_class_works(&machine, &containers).await;
    check_a_deploy_rolls_out(&mut machine, &containers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_course_refuses_to_start_with_a_placeholder_token() {
    let mut containers = compose_containers();
    let dojo = containers
        .iter_mut()
        .find(|c| c.name == "dojo")
        .expect("compose runs dojo");
    dojo.env.insert(
        env::ADMIN_TOKEN.to_owned(),
        "change-me-admin-token".to_owned(),
    );
    let dojo = dojo.clone();
    let mut machine = Machine::start(&containers).await;
    let process = machine.run(&dojo, &image()).await;
    let status = process
        .wait(Duration::from_secs(30))
        .await
        .expect("dojo serve exits");
    assert_eq!(status.code(), Some(2), "{}", process.tail());
    let said = process.tail();
    assert!(
        said.contains("DOJO_ADMIN_TOKEN still has the example's placeholder value")
            && !said.contains("change-me-admin-token"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployable_service_refuses_a_placeholder_or_missing_control_token() {
    let containers = compose_containers();
    for (token, said) in [
        (
            Some("change-me-control-token"),
            "DOJO_CONTROL_TOKEN still has the example's placeholder value",
        ),
        (
            None,
            "--control-port needs the operator token in DOJO_CONTROL_TOKEN",
        ),
    ] {
        let mut api = named(&containers, "api").clone();
        match token {
            Some(token) => api
                .env
                .insert(env::CONTROL_TOKEN.to_owned(), token.to_owned()),
            None => api.env.remove(env::CONTROL_TOKEN),
        };
        // A machine each: a container's stand-in root is made once.
        let mut machine = Machine::start(&containers).await;
        let process = machine.run(&api, &image()).await;
        let status = process
            .wait(Duration::from_secs(30))
            .await
            .expect("the api exits");
        assert_eq!(status.code(), Some(2), "{}", process.tail());
        let output = process.tail();
        assert!(output.contains(said), "{token:?}: {output}");
        assert!(
            !output.contains("change-me-control-token"),
            "the token is not printed: {output}"
        );
    }
}
