//! Runs journeys at the configured pace until the duration ends or the stop signal fires,
//! with a progress line once a second.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::app::{self, APP_SHARE};
use crate::config::LoadConfig;
use crate::journey::{baggage_headers, walk};
use crate::stats::Summary;

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the rate must be a positive number of journeys per second, got {0}")]
    BadRate(f64),
    #[error("the concurrency must be at least 1")]
    BadConcurrency,
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// Runs the load until `config.duration` passes or `stop` resolves; returns the summary.
pub async fn run(config: LoadConfig, stop: impl Future<Output = ()>) -> Result<Summary, LoadError> {
    if let Some(rate) = config.rate
        && !(rate.is_finite() && rate > 0.0)
    {
        return Err(LoadError::BadRate(rate));
    }
    if config.concurrency == 0 {
        return Err(LoadError::BadConcurrency);
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(config.concurrency)
        .build()
        .map_err(LoadError::Client)?;
    // The mobile app's calls get client spans and carry their trace context.
    let app_client = dojo_telemetry::client::traced_client(client.clone());
    let totals = Arc::new(Mutex::new(Summary::default()));
    let permits = Arc::new(Semaphore::new(config.concurrency));
    let started = Instant::now();
    let deadline = async {
        match config.duration {
            Some(duration) => tokio::time::sleep(duration).await,
            None => std::future::pending().await,
        }
    };
    let mut tasks = JoinSet::new();
    let mut pace = config
        .rate
        .map(|rate| tokio::time::interval(Duration::from_secs_f64(1.0 / rate)));
    let mut progress = tokio::time::interval(Duration::from_secs(1));
    progress.tick().await;
    let mut journey: u64 = 0;
    tokio::pin!(deadline);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut deadline => break,
            _ = &mut stop => break,
            _ = progress.tick(), if config.progress => print_progress(&totals, started),
            permit = next_slot(&permits, pace.as_mut()) => {
                let Some(permit) = permit else { break };
                journey += 1;
                let client = client.clone();
                let app_client = app_client.clone();
                let target = config.target.clone();
                let app_api = config
                    .api_target
                    .clone()
                    .filter(|_| journey.is_multiple_of(APP_SHARE));
                let headers = baggage_headers(config.learner.as_deref(), &format!("u-{}", journey % 1000));
                let totals = totals.clone();
                let mut rng = StdRng::seed_from_u64(config.seed.wrapping_mul(1_000_003).wrapping_add(journey));
                tasks.spawn(async move {
                    let mut summary = Summary::default();
                    let ok = match &app_api {
                        Some(api) => app::visit(&app_client, &target, api, headers, &mut rng, &mut summary).await,
                        None => walk(&client, &target, headers, &mut rng, &mut summary).await,
                    };
                    if ok { summary.journeys_ok = 1 } else { summary.journeys_failed = 1 }
                    lock(&totals).merge(summary);
                    drop(permit);
                });
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    // Journeys in flight finish (they are short) so the summary counts whole journeys.
    while tasks.join_next().await.is_some() {}
    let mut summary = std::mem::take(&mut *lock(&totals));
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Waits for the next tick of the pace (if any), then for a free slot.
async fn next_slot(
    permits: &Arc<Semaphore>,
    pace: Option<&mut tokio::time::Interval>,
) -> Option<tokio::sync::OwnedSemaphorePermit> {
    if let Some(pace) = pace {
        pace.tick().await;
    }
    permits.clone().acquire_owned().await.ok()
}

fn lock(totals: &Mutex<Summary>) -> std::sync::MutexGuard<'_, Summary> {
    // Merges are whole-summary updates; a poisoned lock still holds consistent counts.
    totals
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn print_progress(totals: &Mutex<Summary>, started: Instant) {
    let summary = lock(totals);
    let checkout = summary
        .steps
        .get("checkout")
        .map(|s| s.quantile(0.5))
        .unwrap_or_default();
    eprintln!(
        "loadgen: {:>5.0} s · {} journeys ({} failed) · {} requests · {} errors · checkout p50 {:.1} ms",
        started.elapsed().as_secs_f64(),
        summary.journeys_ok + summary.journeys_failed,
        summary.journeys_failed,
        summary.requests(),
        summary.errors(),
        checkout.as_secs_f64() * 1000.0
    );
}
