//! `stock-solution`: runs the Lab 1 reference solution. `PORT` (default 8090), `API_URL` (the
//! api tier) and the OpenTelemetry variables configure it; it prints `listening on …` first.

use std::io::Write;

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let telemetry = runtime.block_on(async {
        let port: u16 = std::env::var("PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(8090);
        let api_url = std::env::var(dojo_defaults::env::API_URL)
            .unwrap_or_else(|_| format!("http://127.0.0.1:{}", dojo_defaults::API_PORT));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("cannot listen on port {port}"))?;
        writeln!(
            std::io::stdout(),
            "listening on http://{}",
            listener.local_addr()?
        )?;
        let mut config = dojo_telemetry::TelemetryConfig::from_env("stock")?;
        // A new id for every run, so the grader checks this run's traces, not older ones.
        config
            .resource_attributes
            .push(("service.instance.id".into(), instance_id()));
        let telemetry = dojo_telemetry::init(&config)?;
        axum::serve(
            listener,
            dojo_lab_stock_solution::router(api_url.trim_end_matches('/').to_owned()),
        )
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
        anyhow::Ok(telemetry)
    })?;
    drop(runtime);
    // Flushes the spans still queued; outside the runtime because the exporter blocks.
    telemetry.shutdown();
    Ok(())
}

/// Unique enough for one machine: the process id and the start time.
fn instance_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{nanos:x}", std::process::id())
}
