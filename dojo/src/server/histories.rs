//! In a workshop, each learner's own change history: when a learner joins, the seeded
//! pipeline history of their id is sent to the trace store as OTLP, marked with their
//! `learner.id`, so the store routes it to their tenant. Their Delivery page and their Lab 5
//! answers then come from their own history, not from a neighbour's or the class's.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use dojo_grader::progress::Progress;

use crate::delivery;

/// How often the joined learners are read.
const INTERVAL: Duration = Duration::from_secs(2);

/// Runs until the task is dropped: sends each newly joined learner's history once.
pub async fn send_to_each_learner(progress: Progress, otlp_http: String) {
    let client = reqwest::Client::new();
    let url = delivery::otlp::traces_url(&otlp_http);
    let mut sent: HashSet<String> = HashSet::new();
    let mut ticker = tokio::time::interval(INTERVAL);
    loop {
        ticker.tick().await;
        let learners = match progress.learners().await {
            Ok(learners) => learners,
            Err(error) => {
                eprintln!("dojo: could not read the learners for their change histories: {error}");
                continue;
            }
        };
        for learner in learners {
            let id = learner.id.to_string();
            if sent.contains(&id) {
                continue;
            }
            let runs = delivery::history::history(&id, SystemTime::now());
            match delivery::otlp::export(&client, &url, &runs, Some(&id)).await {
                Ok(()) => {
                    sent.insert(id);
                }
                Err(error) => eprintln!(
                    "dojo: the change history of learner {id} was not recorded (trying again): {error:#}"
                ),
            }
        }
    }
}
