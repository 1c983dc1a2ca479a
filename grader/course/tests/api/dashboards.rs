//! The Dashboards page over the real progress database (SQLite in memory, as the real grader
//! keeps it) and the embedded store holding the shelf's traces: panels are added, drawn,
//! refused with a caret or a field error, moved, deleted, capped, and kept per learner.

use crate::support::{Client, Options, TestApp};

async fn spawn() -> TestApp {
    TestApp::spawn_with(Options {
        real_grader: true,
        ..Options::default()
    })
    .await
}

const RATE: &str = "{ kind = server } | rate() by (resource.service.name)";

/// Adds a panel through the form; answers the POST's page (a redirect when it was saved).
async fn add(client: &mut Client, title: &str, query: &str, unit: &str) -> crate::support::Page {
    let csrf = client.get("/dashboards").await.csrf();
    client
        .post(
            "/dashboards/panels",
            &[
                ("csrf", &csrf),
                ("title", title),
                ("query", query),
                ("unit", unit),
            ],
        )
        .await
}

/// The panel ids in the order the page shows them.
fn panel_ids(page: &str) -> Vec<String> {
    page.split("<section class=\"panel\" id=\"panel-")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn a_saved_panel_is_drawn_as_a_chart_with_axes_legend_and_table() {
    let app = spawn().await;
    let mut ada = app.client();
    ada.join("Ada").await;

    let saved = add(&mut ada, "Requests per service", RATE, "per_second").await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let location = saved.location.expect("a redirect to the panel");
    assert!(location.starts_with("/dashboards#panel-"), "{location}");

    let page = ada.get("/dashboards").await;
    assert_eq!(page.status, 200);
    for expected in [
        "<h2>Requests per service</h2>",
        "<svg class=\"timeseries\"",
        "class=\"time-label\"",
        "time (UTC)",
        "class=\"value-label\"",
        "/s</text>",
        "<ul class=\"legend\">",
        "Values as a table",
    ] {
        assert!(page.body.contains(expected), "{expected}: {}", page.body);
    }
    // One line of the chart and one legend entry per service with server spans.
    for service in ["api", "frontend", "payments"] {
        assert!(
            page.body.contains(&format!(
                "data-series=\"resource.service.name=&quot;{service}&quot;\""
            )),
            "a series for {service}: {}",
            page.body
        );
        assert!(
            page.body.contains(&format!(
                "<code>resource.service.name=&#34;{service}&#34;</code>"
            )),
            "a legend entry for {service}"
        );
    }
}

#[tokio::test]
async fn a_panel_query_that_does_not_parse_gets_a_caret_and_is_not_saved() {
    let app = spawn().await;
    let mut ada = app.client();
    ada.join("Ada").await;
    let query = "{ } | rate() by (resource.service.name";

    let refused = add(&mut ada, "Rate", query, "per_second").await;

    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains(&format!(
            "<pre class=\"caret\">{}\n{}^</pre>",
            query.replace('"', "&#34;"),
            " ".repeat(query.len())
        )),
        "{}",
        refused.body
    );
    // The form keeps what was typed.
    assert!(refused.body.contains("value=\"Rate\""), "{}", refused.body);
    let page = ada.get("/dashboards").await;
    assert!(page.body.contains("id=\"no-panels\""), "{}", page.body);
}

#[tokio::test]
async fn each_wrong_field_is_named() {
    let app = spawn().await;
    let mut ada = app.client();
    ada.join("Ada").await;

    let refused = add(&mut ada, "  ", "{ status = error }", "furlongs").await;

    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("id=\"title-error\""),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("This is a search query"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("id=\"unit-error\""),
        "{}",
        refused.body
    );
}

#[tokio::test]
async fn panels_move_up_and_down_and_are_deleted() {
    let app = spawn().await;
    let mut ada = app.client();
    ada.join("Ada").await;
    for title in ["first", "second", "third"] {
        assert_eq!(add(&mut ada, title, RATE, "per_second").await.status, 303);
    }
    let ids = panel_ids(&ada.get("/dashboards").await.body);
    assert_eq!(ids.len(), 3);

    let csrf = ada.get("/dashboards").await.csrf();
    let moved = ada
        .post(
            &format!("/dashboards/panels/{}/move", ids[2]),
            &[("csrf", &csrf), ("direction", "up")],
        )
        .await;
    assert_eq!(moved.status, 303);
    assert_eq!(
        panel_ids(&ada.get("/dashboards").await.body),
        vec![ids[0].clone(), ids[2].clone(), ids[1].clone()]
    );

    let deleted = ada
        .post(
            &format!("/dashboards/panels/{}/delete", ids[0]),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(deleted.status, 303);
    assert_eq!(
        panel_ids(&ada.get("/dashboards").await.body),
        vec![ids[2].clone(), ids[1].clone()]
    );
}

#[tokio::test]
async fn a_learner_sees_and_changes_only_their_own_panels() {
    let app = spawn().await;
    let mut ada = app.client();
    ada.join("Ada").await;
    assert_eq!(add(&mut ada, "ada's", RATE, "per_second").await.status, 303);
    let ada_ids = panel_ids(&ada.get("/dashboards").await.body);

    let mut bob = app.client_from("127.0.0.2".parse().expect("an address"));
    bob.join("Bob").await;
    let page = bob.get("/dashboards").await;
    assert!(page.body.contains("id=\"no-panels\""), "{}", page.body);
    assert!(!page.body.contains("ada&#39;s"), "{}", page.body);
    let csrf = page.csrf();
    let refused = bob
        .post(
            &format!("/dashboards/panels/{}/delete", ada_ids[0]),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(refused.status, 404, "{}", refused.body);

    assert_eq!(panel_ids(&ada.get("/dashboards").await.body), ada_ids);
}

#[tokio::test]
async fn a_learner_at_the_cap_is_told_it() {
    let app = spawn().await;
    let mut ada = app.client();
    ada.join("Ada").await;
    for n in 0..20 {
        let saved = add(&mut ada, &format!("panel {n}"), RATE, "per_second").await;
        assert_eq!(saved.status, 303, "panel {n}: {}", saved.body);
    }

    let refused = add(&mut ada, "one too many", RATE, "per_second").await;

    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains("Your dashboard already has 20 panels, the most it keeps"),
        "{}",
        refused.body
    );
    assert_eq!(panel_ids(&ada.get("/dashboards").await.body).len(), 20);
}

#[tokio::test]
async fn a_visitor_who_has_not_joined_is_asked_to_join() {
    let app = spawn().await;
    let mut visitor = app.client();

    let page = visitor.get("/dashboards").await;
    assert!(page.body.contains("id=\"join-first\""), "{}", page.body);

    // The session's token, from a page that has a form.
    let csrf = visitor.get("/join").await.csrf();
    let refused = visitor
        .post(
            "/dashboards/panels",
            &[
                ("csrf", &csrf),
                ("title", "x"),
                ("query", RATE),
                ("unit", "per_second"),
            ],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
}

/// What Grafana's dashboard JSON model requires of a dashboard and its panels, checked field
/// by field; answers every problem found.
fn grafana_model_problems(dashboard: &serde_json::Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut need = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    need(
        dashboard["title"].as_str().is_some_and(|t| !t.is_empty()),
        "a title".into(),
    );
    need(
        dashboard["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty() && u.chars().count() <= 40),
        "a uid of at most 40 characters".into(),
    );
    need(
        dashboard["schemaVersion"].is_u64(),
        "a schemaVersion".into(),
    );
    need(dashboard["version"].is_u64(), "a version".into());
    need(dashboard["editable"].is_boolean(), "editable".into());
    need(dashboard["tags"].is_array(), "tags".into());
    need(
        dashboard["time"]["from"].is_string() && dashboard["time"]["to"].is_string(),
        "a time range".into(),
    );
    let panels = dashboard["panels"].as_array().cloned().unwrap_or_default();
    need(dashboard["panels"].is_array(), "a panels list".into());
    let mut ids = std::collections::BTreeSet::new();
    for (i, panel) in panels.iter().enumerate() {
        let at = format!("panel {i}");
        need(
            panel["id"].as_u64().is_some_and(|id| ids.insert(id)),
            format!("{at}: a unique id"),
        );
        need(
            matches!(
                panel["type"].as_str(),
                Some("timeseries" | "stat" | "table" | "barchart" | "gauge" | "traces")
            ),
            format!("{at}: a known panel type"),
        );
        need(panel["title"].is_string(), format!("{at}: a title"));
        let grid = &panel["gridPos"];
        let (x, w) = (grid["x"].as_u64(), grid["w"].as_u64());
        need(
            grid["h"].as_u64().is_some_and(|h| h > 0)
                && grid["y"].is_u64()
                && x.zip(w).is_some_and(|(x, w)| w > 0 && x + w <= 24),
            format!("{at}: a gridPos inside the 24 columns"),
        );
        need(
            panel["datasource"]["uid"] == dojo_defaults::GRAFANA_TEMPO_DATASOURCE_UID
                && panel["datasource"]["type"] == "tempo",
            format!("{at}: the provisioned Tempo datasource"),
        );
        let targets = panel["targets"].as_array().cloned().unwrap_or_default();
        need(!targets.is_empty(), format!("{at}: targets"));
        for target in &targets {
            need(target["refId"].is_string(), format!("{at}: a refId"));
            need(
                target["queryType"] == "traceql" && target["metricsQueryType"] == "range",
                format!("{at}: a TraceQL range query"),
            );
            let query = target["query"].as_str().unwrap_or_default();
            match dojo_traceql::parse(query) {
                Ok(parsed) => need(
                    parsed.is_metrics(),
                    format!("{at}: {query} is a metrics query"),
                ),
                Err(error) => need(false, format!("{at}: {}", error.render(query))),
            }
        }
    }
    problems
}

#[tokio::test]
async fn the_dashboard_exports_as_grafana_json_against_the_provisioned_tempo() {
    let app = spawn().await;
    let mut ada = app.client();
    ada.join("Ada").await;
    for (title, query, unit) in [
        ("Requests", RATE, "per_second"),
        (
            "p95 latency",
            "{ kind = server } | quantile_over_time(duration, .95) by (resource.service.name)",
            "seconds",
        ),
        (
            "Error ratio",
            "({ status = error } | rate()) / ({ } | rate())",
            "percent",
        ),
    ] {
        assert_eq!(
            add(&mut ada, title, query, unit).await.status,
            303,
            "{title}"
        );
    }
    let page = ada.get("/dashboards").await;
    assert!(page.body.contains("id=\"export-grafana\""), "{}", page.body);

    let export = ada.get("/dashboards/grafana.json").await;

    assert_eq!(export.status, 200, "{}", export.body);
    let dashboard: serde_json::Value =
        serde_json::from_str(&export.body).expect("the export is JSON");
    assert_eq!(grafana_model_problems(&dashboard), Vec::<String>::new());
    let titles: Vec<&str> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .filter_map(|p| p["title"].as_str())
        .collect();
    assert_eq!(titles, vec!["Requests", "p95 latency", "Error ratio"]);
    assert_eq!(
        dashboard["panels"][1]["fieldConfig"]["defaults"]["unit"],
        "s"
    );
}

#[tokio::test]
async fn the_grafana_model_check_refuses_a_broken_export() {
    // The check itself must catch what an export could get wrong.
    let broken = serde_json::json!({
        "title": "x", "uid": "dojo-x", "schemaVersion": 39, "version": 1, "editable": true,
        "tags": [], "time": {"from": "now-15m", "to": "now"},
        "panels": [{
            "id": 1, "type": "timeseries", "title": "p",
            "gridPos": {"h": 8, "w": 12, "x": 18, "y": 0},
            "datasource": {"type": "tempo", "uid": "not-provisioned"},
            "targets": [{"refId": "A", "queryType": "traceql", "metricsQueryType": "range",
                         "query": "{ } | rate() by (resource.service.name"}],
        }],
    });
    let problems = grafana_model_problems(&broken);
    assert_eq!(problems.len(), 3, "{problems:#?}");
}

#[tokio::test]
async fn only_a_learner_who_joined_can_export() {
    let app = spawn().await;
    let page = app.client().get("/dashboards/grafana.json").await;
    assert_eq!(page.status, 403, "{}", page.body);
}
