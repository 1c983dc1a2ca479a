//! The Alerts page over the real progress database (SQLite in memory, as the real grader keeps
//! it) and the embedded store holding the shelf's traces, with the continuous evaluation
//! running as `dojo` runs it (every second here): rules are added, evaluated until they fire
//! or stay normal, drawn against their threshold with their history, refused with a caret or
//! a field error, capped, paused past their budget, exported, and kept per learner.

use std::time::{Duration, Instant};

use crate::support::{Client, Options, Page, TestApp};

const ERRORS: &str = "{ status = error } | rate()";

async fn spawn(interval: Duration, budget: Option<Duration>) -> TestApp {
    TestApp::spawn_with(Options {
        real_grader: true,
        alert_interval: Some(interval),
        alert_budget: budget,
        ..Options::default()
    })
    .await
}

/// Adds a rule through the form; answers the POST's page (a redirect when it was saved).
async fn add(
    client: &mut Client,
    name: &str,
    query: &str,
    condition: &str,
    threshold: &str,
    for_duration: &str,
) -> Page {
    let csrf = client.get("/alerts").await.csrf();
    client
        .post(
            "/alerts/rules",
            &[
                ("csrf", &csrf),
                ("name", name),
                ("query", query),
                ("condition", condition),
                ("threshold", threshold),
                ("for", for_duration),
                ("severity", "critical"),
            ],
        )
        .await
}

/// The rule ids in the order the page shows them.
fn rule_ids(page: &str) -> Vec<String> {
    page.split("id=\"rule-")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

/// The state the page shows for rule `id`.
fn state_of(page: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"state-{id}\">");
    let rest = &page[page.find(&marker)? + marker.len()..];
    rest.split('<').next().map(str::to_string)
}

/// Reloads the page until rule `id` shows `state`, for up to 30 s; answers the page.
async fn wait_for_state(client: &mut Client, id: &str, state: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = client.get("/alerts").await.body;
        if state_of(&page, id).as_deref() == Some(state) {
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "rule {id} never showed {state:?}; it shows {:?}",
            state_of(&page, id)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_rule_over_the_learners_errors_fires_and_shows_its_history_series_and_threshold() {
    let app = spawn(Duration::from_secs(1), None).await;
    let mut ada = app.client();
    ada.join("Ada").await;

    let saved = add(&mut ada, "Any errors", ERRORS, "above", "0.001", "2s").await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let quiet = add(&mut ada, "Error storm", ERRORS, "above", "1000", "2s").await;
    assert_eq!(quiet.status, 303, "{}", quiet.body);
    let ids = rule_ids(&ada.get("/alerts").await.body);
    assert_eq!(ids.len(), 2);

    let page = wait_for_state(&mut ada, &ids[0], "firing").await;
    for expected in [
        "<svg class=\"timeseries\"",
        "<g class=\"threshold\">",
        "threshold 0.001",
        "History (newest first)",
        "<td>pending</td><td>firing</td>",
        "<td>normal</td><td>pending</td>",
        "(breaching)",
        "Download for Grafana",
    ] {
        assert!(page.contains(expected), "missing {expected:?} in {page}");
    }
    // The second rule reads the same series, far below its threshold: evaluated, and normal.
    let page = wait_for_state(&mut ada, &ids[1], "normal").await;
    let section = &page[page
        .find(&format!("id=\"rule-{}\"", ids[1]))
        .expect("the rule")..];
    assert!(!section.contains("(breaching)"), "{section}");
    assert!(section.contains("threshold 1000"), "{section}");

    // A p95 is of every span in the window: the slow product page (1.5 s) is the tail.
    let tail = "{ kind = server } | quantile_over_time(duration, .95)";
    let saved = add(&mut ada, "Slow tail", tail, "above", "1", "2s").await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let ids = rule_ids(&ada.get("/alerts").await.body);
    let page = wait_for_state(&mut ada, &ids[2], "firing").await;
    let section = &page[page
        .find(&format!("id=\"rule-{}\"", ids[2]))
        .expect("the rule")..];
    assert!(
        section.contains("quantile_over_time(duration, 0.95) = 1.4"),
        "the p95 of every span in the window: {section}"
    );

    // Another learner sees none of it, and cannot delete it.
    let mut bob = app.client();
    bob.join("Bob").await;
    let bobs = bob.get("/alerts").await.body;
    assert!(bobs.contains("id=\"no-rules\""), "{bobs}");
    assert!(!bobs.contains("Any errors"), "{bobs}");
    let csrf = bob.get("/alerts").await.csrf();
    let refused = bob
        .post(
            &format!("/alerts/rules/{}/delete", ids[0]),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(refused.status, 404, "{}", refused.body);
    let theirs = bob
        .get(&format!("/alerts/rules/{}/prometheus.yaml", ids[0]))
        .await;
    assert_eq!(theirs.status, 404, "{}", theirs.body);

    let csrf = ada.get("/alerts").await.csrf();
    let deleted = ada
        .post(
            &format!("/alerts/rules/{}/delete", ids[0]),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    assert_eq!(
        rule_ids(&ada.get("/alerts").await.body),
        vec![ids[1].clone(), ids[2].clone()]
    );
}

/// The learner id the page header shows.
fn learner_id(page: &str) -> String {
    let marker = "(id <code>";
    let rest = &page[page.find(marker).expect("the header shows the learner id") + marker.len()..];
    rest.split('<').next().expect("an id").to_string()
}

#[tokio::test]
async fn in_a_workshop_each_learners_rules_read_only_their_own_traffic() {
    let app = TestApp::spawn_with(Options {
        real_grader: true,
        routed_store: true,
        alert_interval: Some(Duration::from_secs(1)),
        ..Options::default()
    })
    .await;
    let (mut ada, mut bob) = (app.client(), app.client());
    ada.join("Ada").await;
    bob.join("Bob").await;
    // Only Ada's own traffic holds the failed checkout; the shared traffic holds it too, and
    // neither learner reads that.
    let ada_id = learner_id(&ada.get("/alerts").await.body);
    let tenant = dojo_store::storage::routing::learner_tenant(&ada_id).expect("a tenant");
    crate::support::ingest(
        &app.store,
        &tenant,
        &crate::support::shelf::Shelf::sample().traces,
    );

    for client in [&mut ada, &mut bob] {
        let saved = add(client, "Any errors", ERRORS, "above", "0.001", "2s").await;
        assert_eq!(saved.status, 303, "{}", saved.body);
    }
    let adas = rule_ids(&ada.get("/alerts").await.body);
    let bobs = rule_ids(&bob.get("/alerts").await.body);
    wait_for_state(&mut ada, &adas[0], "firing").await;
    // Bob's rule was added with Ada's and has been evaluated as often: it never breached.
    let page = bob.get("/alerts").await.body;
    assert_eq!(
        state_of(&page, &bobs[0]).as_deref(),
        Some("normal"),
        "{page}"
    );
    assert!(
        page.contains("no series had a value"),
        "Bob's rule reads his own (empty) traffic: {page}"
    );
    assert!(!page.contains("<td>pending</td>"), "{page}");
}

#[tokio::test]
async fn bad_rules_get_a_caret_or_a_field_error_and_the_cap_is_told() {
    let app = spawn(Duration::from_secs(15), None).await;
    let mut ada = app.client();
    ada.join("Ada").await;

    let query = "{ status = error } | rate(";
    let page = add(&mut ada, "Broken", query, "above", "1", "30s").await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(page.body.contains("id=\"query-error\""), "{}", page.body);
    assert!(page.body.contains("<pre class=\"caret\">"), "{}", page.body);

    let page = add(&mut ada, "Latency", ERRORS, "above", "500ms", "10s").await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.body.contains("id=\"threshold-error\"") && page.body.contains("is not one"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("id=\"for-error\"") && page.body.contains("every 15s"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("value=\"500ms\""),
        "the form keeps what was typed"
    );
    assert!(rule_ids(&ada.get("/alerts").await.body).is_empty());

    for n in 0..10 {
        let page = add(&mut ada, &format!("rule {n}"), ERRORS, "above", "1", "15s").await;
        assert_eq!(page.status, 303, "rule {n}: {}", page.body);
    }
    let page = add(&mut ada, "eleventh", ERRORS, "above", "1", "15s").await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.body.contains("id=\"refused\"") && page.body.contains("already have 10 alert rules"),
        "{}",
        page.body
    );
    assert_eq!(rule_ids(&ada.get("/alerts").await.body).len(), 10);
}

#[tokio::test]
async fn a_rule_past_its_budget_is_paused_with_the_reason_and_can_be_resumed() {
    // No evaluation can finish in no time: every rule runs past this budget.
    let app = spawn(Duration::from_secs(1), Some(Duration::ZERO)).await;
    let mut ada = app.client();
    ada.join("Ada").await;
    let saved = add(&mut ada, "Any errors", ERRORS, "above", "0.001", "2s").await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let id = rule_ids(&ada.get("/alerts").await.body).remove(0);

    let page = wait_for_state(&mut ada, &id, "paused").await;
    assert!(page.contains(&format!("id=\"paused-{id}\"")), "{page}");
    assert!(page.contains("took longer than"), "{page}");
    assert!(page.contains("class=\"resume\""), "{page}");

    let csrf = ada.get("/alerts").await.csrf();
    let resumed = ada
        .post(&format!("/alerts/rules/{id}/resume"), &[("csrf", &csrf)])
        .await;
    assert_eq!(resumed.status, 303, "{}", resumed.body);
    assert_eq!(
        resumed.location.as_deref(),
        Some(format!("/alerts#rule-{id}").as_str())
    );
}

#[tokio::test]
async fn rules_download_as_grafana_provisioning_and_as_a_prometheus_rule() {
    let app = spawn(Duration::from_secs(15), None).await;
    let mut ada = app.client();
    ada.join("Ada").await;
    let mapped = r#"{ resource.service.name = "payments" && status = error } | rate()"#;
    assert_eq!(
        add(&mut ada, "Payment errors", mapped, "above", "0.2", "1m")
            .await
            .status,
        303
    );
    let unmapped = r#"{ span.http.route = "/checkout" } | rate()"#;
    assert_eq!(
        add(&mut ada, "Checkout", unmapped, "below", "0.1", "30s")
            .await
            .status,
        303
    );
    let ids = rule_ids(&ada.get("/alerts").await.body);

    let grafana = ada.get("/alerts/grafana.yaml").await;
    assert_eq!(grafana.status, 200);
    let yaml: serde_yaml::Value = serde_yaml::from_str(&grafana.body).expect("YAML");
    let rules = yaml["groups"][0]["rules"].as_sequence().expect("rules");
    let titles: Vec<&str> = rules.iter().filter_map(|r| r["title"].as_str()).collect();
    assert_eq!(titles, vec!["Payment errors", "Checkout"]);
    assert_eq!(rules[1]["for"].as_str(), Some("30s"));
    assert_eq!(
        rules[0]["data"][0]["model"]["query"].as_str(),
        Some(mapped),
        "the query goes to Grafana as written"
    );

    let prometheus = ada
        .get(&format!("/alerts/rules/{}/prometheus.yaml", ids[0]))
        .await;
    assert_eq!(prometheus.status, 200, "{}", prometheus.body);
    let yaml: serde_yaml::Value = serde_yaml::from_str(&prometheus.body).expect("YAML");
    let expr = yaml["groups"][0]["rules"][0]["expr"]
        .as_str()
        .expect("expr");
    assert!(
        expr.contains(r#"service_name="payments""#) && expr.ends_with("> 0.2"),
        "{expr}"
    );
    let page = ada.get("/alerts").await.body;
    assert!(
        page.contains(&format!("/alerts/rules/{}/prometheus.yaml", ids[0]))
            && !page.contains(&format!("/alerts/rules/{}/prometheus.yaml", ids[1])),
        "only a rule that maps offers the Prometheus download"
    );
    let refused = ada
        .get(&format!("/alerts/rules/{}/prometheus.yaml", ids[1]))
        .await;
    assert_eq!(refused.status, 404);
    assert!(
        refused.body.contains("does not map onto the span metrics"),
        "{}",
        refused.body
    );
}

/// A restart of the course (a second one on the first one's progress database, evaluating
/// only once an hour) shows each rule where it stood, with its transitions, before it has
/// evaluated anything itself.
#[tokio::test]
async fn a_rule_is_where_it_stood_after_the_course_restarts() {
    let dir = std::env::temp_dir().join(format!(
        "dojo-alert-restart-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.join("progress.db").display());
    let spawn_on = |interval: Duration| {
        TestApp::spawn_with(Options {
            real_grader: true,
            alert_interval: Some(interval),
            progress_url: Some(url.clone()),
            ..Options::default()
        })
    };
    let first = spawn_on(Duration::from_secs(1)).await;
    let mut ada = first.client();
    ada.join("Ada").await;
    let saved = add(&mut ada, "Any errors", ERRORS, "above", "0.001", "2s").await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let ids = rule_ids(&ada.get("/alerts").await.body);
    wait_for_state(&mut ada, &ids[0], "firing").await;

    let second = spawn_on(Duration::from_secs(3600)).await;
    let mut ada = ada.moved_to(&second);
    let page = ada.get("/alerts").await.body;
    assert_eq!(
        state_of(&page, &ids[0]).as_deref(),
        Some("firing"),
        "the restarted course shows the rule firing: {page}"
    );
    for expected in [
        "<td>pending</td><td>firing</td>",
        "<td>normal</td><td>pending</td>",
    ] {
        assert!(page.contains(expected), "the transitions are kept: {page}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
