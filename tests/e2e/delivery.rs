//! The Delivery page's DORA figures equal the ones computed here, independently, from the
//! whole pipeline traces of the same seeded history (plus a live deploy), and the live deploy
//! is marked on the api's RED chart.

use std::time::Duration;

use crate::helpers::{Lab, search_trace_ids, urlencode};

/// One pipeline run, read from its whole trace.
struct Run {
    commit: u64,
    rollout: Option<(u64, u64, bool)>,
    rollback_end: Option<u64>,
}

fn nanos(span: &serde_json::Value, key: &str) -> u64 {
    span[key]
        .as_str()
        .and_then(|n| n.parse().ok())
        .or_else(|| span[key].as_u64())
        .unwrap_or_else(|| panic!("{key} in {span}"))
}

fn attribute<'a>(span: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?["value"]["stringValue"]
        .as_str()
}

async fn read_run(lab: &Lab, trace_id: &str) -> Run {
    let url = lab.url(lab.ports.tempo, &format!("/api/traces/{trace_id}"));
    let (status, body) = lab.get(&url).await;
    assert_eq!(status, 200, "{url}: {body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("a trace");
    let spans: Vec<&serde_json::Value> = json["resourceSpans"]
        .as_array()
        .expect("resourceSpans")
        .iter()
        .flat_map(|batch| batch["scopeSpans"].as_array().into_iter().flatten())
        .flat_map(|scope| scope["spans"].as_array().into_iter().flatten())
        .collect();
    let commit = spans
        .iter()
        .map(|s| nanos(s, "startTimeUnixNano"))
        .min()
        .expect("spans");
    let named = |name: &str| spans.iter().find(|s| s["name"] == name).copied();
    Run {
        commit,
        rollout: named("rollout").map(|s| {
            (
                nanos(s, "startTimeUnixNano"),
                nanos(s, "endTimeUnixNano"),
                attribute(s, "cicd.pipeline.task.run.result") == Some("success"),
            )
        }),
        rollback_end: named("rollback").map(|s| nanos(s, "endTimeUnixNano")),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    assert!(n > 0, "no values");
    if n.is_multiple_of(2) {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    } else {
        values[n / 2]
    }
}

/// The `data-value` of a figure on the page.
fn shown(page: &str, figure: &str) -> f64 {
    let marker = format!("data-figure=\"{figure}\" data-value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {figure} on the page"))
        + marker.len();
    let end = start + page[start..].find('"').expect("a closing quote");
    page[start..end]
        .parse()
        .unwrap_or_else(|_| panic!("{figure} = {:?}", &page[start..end]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_page_shows_the_dora_figures_the_pipeline_traces_give() {
    let lab = Lab::start(&["--learner", "Ada", "--load-rate", "3"]).await;
    let output = lab
        .deploy(&["--service", "api", "--version", "7.0.0"])
        .await;
    assert!(output.status.success(), "{output:?}");

    // Every pipeline trace, the live one included.
    let query = r#"{ resource.service.name = "delivery-pipeline" && name =~ "RUN .*" }"#;
    let search = lab.url(
        lab.ports.tempo,
        &format!("/api/search?q={}&limit=1000", urlencode(query)),
    );
    let ids: Vec<String> = lab
        .eventually(
            "the live run beside the history",
            Duration::from_secs(30),
            || async {
                let (status, body) = lab.try_get(&search).await?;
                let ids = search_trace_ids(&body);
                // The history has 30-36 runs (and a fix); the live run makes one more.
                (status == 200 && ids.len() >= 32).then_some(ids)
            },
        )
        .await;
    let mut runs = Vec::new();
    for id in &ids {
        runs.push(read_run(&lab, id).await);
    }

    // The figures, computed here from the whole traces.
    let rollouts: Vec<(u64, u64, u64, bool, Option<u64>)> = runs
        .iter()
        .filter_map(|r| {
            let (start, end, ok) = r.rollout?;
            Some((r.commit, start, end, ok, r.rollback_end))
        })
        .collect();
    let deployed: Vec<_> = rollouts.iter().filter(|r| r.3).collect();
    let failed: Vec<_> = rollouts.iter().filter(|r| !r.3).collect();
    assert!(!failed.is_empty(), "the history has a failed rollout");
    assert!(
        runs.iter().filter(|r| r.rollout.is_none()).count() >= 4,
        "the history has runs that stopped at their tests"
    );
    let expected = [
        ("deployment_frequency", deployed.len() as f64 / 7.0),
        (
            "lead_time",
            median(deployed.iter().map(|r| (r.2 - r.0) as f64 / 1e9).collect()),
        ),
        (
            "change_failure_rate",
            failed.len() as f64 * 100.0 / rollouts.len() as f64,
        ),
        (
            "time_to_restore",
            median(
                failed
                    .iter()
                    .map(|r| (r.4.expect("a rollback") - r.1) as f64 / 1e9)
                    .collect(),
            ),
        ),
    ];
    let (status, page) = lab.get(&lab.url(lab.ports.dojo, "/delivery")).await;
    assert_eq!(status, 200, "{page}");
    for (figure, value) in expected {
        let on_page = shown(&page, figure);
        assert!(
            (on_page - value).abs() < 0.01,
            "{figure}: the page says {on_page}, the traces give {value}"
        );
    }
    assert!(
        page.contains("data-version=\"7.0.0\""),
        "the live deployment is listed"
    );
    // The api's RED chart marks the live deploy (once the chart has the api's traffic).
    lab.eventually(
        "a deploy marker on the api's chart",
        Duration::from_secs(30),
        || async {
            let (_, page) = lab.try_get(&lab.url(lab.ports.dojo, "/delivery")).await?;
            page.contains("class=\"marker\"").then_some(())
        },
    )
    .await;
    lab.stop().await;
}
