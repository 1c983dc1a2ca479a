//! The lessons keep their promises: every ```traceql block marked `returns` finds traces (or,
//! for a metrics query, a series) in the running lab, with the faults its `with=` words name
//! switched on and every other fault off; and every block marked `nothing` (a claim about how
//! TraceQL behaves: `!` around a comparison, an integer compared with a float) finds none of
//! the traffic in which the `returns` blocks of the same faults found theirs. A learner who
//! copies an example into the console sees what the lesson says they will see.
//!
//! One `dojo up` serves all examples. They are grouped by the faults they need; for each group
//! the test switches exactly those faults on through the services' admin API, notes the time,
//! and polls the trace store's Tempo API with the group's queries over traffic from after that
//! moment only, so a result can never come from an earlier group's faults.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dojo_course::content::examples::{Claim, LabState};
use dojo_course::content::{Course, QueryExample, query_examples};
use dojo_faults::{FaultId, Service};

use crate::helpers::{Lab, repo_root, urlencode};

/// How long one group's queries may take to find something once its faults are on.
const GROUP_DEADLINE: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lesson_query_finds_what_its_lesson_says_in_the_running_lab() {
    let course = Course::load(&repo_root().join("content")).expect("content/ loads");
    let examples = query_examples(&course).unwrap_or_else(|errors| {
        panic!("wrong ```traceql markers (see tests in grader/course): {errors:?}")
    });
    let mut groups: BTreeMap<LabState, Vec<QueryExample>> = BTreeMap::new();
    for example in examples {
        if let Some(state) = example.returns.clone() {
            groups.entry(state).or_default().push(example);
        }
    }
    assert!(
        groups.len() > 1,
        "the lessons claim results only without faults"
    );

    // A brisk load generator so that rarer shapes (a 20 % fault, a checkout) show up quickly.
    let lab = Lab::start(&["--load-rate", "6"]).await;
    let mut failures = Vec::new();
    for (state, examples) in &groups {
        let (finds, nothings): (Vec<&QueryExample>, Vec<&QueryExample>) = examples
            .iter()
            .partition(|example| example.claim == Claim::Finds);
        if finds.is_empty() {
            for example in &nothings {
                failures.push(format!(
                    "{}: {}\n    says it finds nothing ({state}), but no `returns` example with the same \
                     faults shows that the lab had traffic to find",
                    example.location(),
                    example.query
                ));
            }
            continue;
        }
        switch_faults(&lab, state).await;
        let since = unix_seconds();
        let mut pending: Vec<&QueryExample> = finds;
        let deadline = Instant::now() + GROUP_DEADLINE;
        while !pending.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let mut still_empty = Vec::new();
            for example in pending {
                if !finds_something(&lab, &example.query, since).await {
                    still_empty.push(example);
                }
            }
            pending = still_empty;
        }
        let traffic_seen = pending.is_empty();
        if !traffic_seen {
            for example in &nothings {
                failures.push(format!(
                    "{}: {}\n    ({state}) not checked: the group's `returns` examples found no traffic",
                    example.location(),
                    example.query
                ));
            }
        }
        for example in pending {
            failures.push(format!(
                "{}: {}\n    ({state}) found nothing within {GROUP_DEADLINE:?}",
                example.location(),
                example.query
            ));
        }
        // The traffic since `since` held what every `returns` example looked for: a query the
        // lesson says finds nothing must find none of it.
        for example in nothings.into_iter().filter(|_| traffic_seen) {
            if finds_something(&lab, &example.query, since).await {
                failures.push(format!(
                    "{}: {}\n    ({state}) the lesson says it finds nothing, but it found traces",
                    example.location(),
                    example.query
                ));
            }
        }
    }
    lab.stop().await;
    assert!(
        failures.is_empty(),
        "{} lesson queries did not find what their lessons say:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Switches every fault off on all three services, then on exactly the ones `state` names.
async fn switch_faults(lab: &Lab, state: &LabState) {
    for port in [lab.ports.frontend, lab.ports.api, lab.ports.payments] {
        let url = lab.url(port, "/admin/faults/reset");
        let response = lab.http.post(&url).send().await.expect("resetting faults");
        assert!(response.status().is_success(), "POST {url}: {response:?}");
    }
    for setting in &state.faults {
        let id = FaultId::parse(&setting.id).expect("checked by grader/course's content test");
        let port = match id.spec().service {
            Service::Frontend => lab.ports.frontend,
            Service::Api => lab.ports.api,
            Service::Payments => lab.ports.payments,
        };
        let url = lab.url(port, &format!("/admin/faults/{id}"));
        let response = lab
            .http
            .post(&url)
            .json(&setting.activation_body())
            .send()
            .await
            .expect("switching a fault on");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "POST {url} ({setting}): {status} {body}"
        );
    }
}

/// True when the query finds at least one trace (search) or one series with a sample (metrics)
/// among traces that started at or after `since` (unix seconds).
async fn finds_something(lab: &Lab, query: &str, since: u64) -> bool {
    let metrics = dojo_traceql::parse(query)
        .expect("checked by grader/course's content test")
        .is_metrics();
    let end = unix_seconds() + 1;
    let path = if metrics {
        format!(
            "/api/metrics/query_range?q={}&start={since}&end={end}&step=5s",
            urlencode(query)
        )
    } else {
        format!(
            "/api/search?q={}&start={since}&end={end}&limit=20",
            urlencode(query)
        )
    };
    let Some((200, body)) = lab.try_get(&lab.url(lab.ports.tempo, &path)).await else {
        return false;
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&body) else {
        return false;
    };
    if metrics {
        json["series"].as_array().is_some_and(|series| {
            series.iter().any(|s| {
                s["samples"]
                    .as_array()
                    .is_some_and(|samples| !samples.is_empty())
            })
        })
    } else {
        // The store returns traces that overlap the window; only count the ones that started
        // inside it, so a slow trace left over from the previous group's faults does not count.
        let since_nanos = u128::from(since) * 1_000_000_000;
        json["traces"].as_array().is_some_and(|traces| {
            traces.iter().any(|trace| {
                trace["startTimeUnixNano"]
                    .as_str()
                    .and_then(|nanos| nanos.parse::<u128>().ok())
                    .is_some_and(|nanos| nanos >= since_nanos)
            })
        })
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}
