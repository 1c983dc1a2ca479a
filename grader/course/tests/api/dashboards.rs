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
