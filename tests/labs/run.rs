//! `dojo run`: the learner's Lab 1 service started in their language with the command the
//! lab's spec gives, pointed at the lab by the standard `OTEL_*` variables. The Python and
//! Node.js services it starts are real processes whose spans must reach the shop's trace
//! store under the service name `dojo run` handed them, joined to the api's spans (so
//! `API_URL` reached them too). The Rust command is checked by what a learner without a Rust
//! toolchain is told (building the Rust service inside a test would take minutes).

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::languages::{missing_is_fatal, stock_command};
use crate::shop::{Shop, TempDir, labs_dir};

/// Sends SIGTERM to `dojo run` when dropped (a failing test too), so that it stops the
/// service it started instead of leaving it running (SIGKILL would orphan it).
struct StopOnDrop(Option<u32>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
}

fn dojo_run(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dojo"));
    command
        .arg("run")
        .arg("--labs")
        .arg(labs_dir())
        .args(args)
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("API_URL")
        .stdin(Stdio::null());
    command
}

/// Starts `dojo run` and waits for the service's `listening on …`; returns the child, the
/// guard that stops it, the service's URL and what `dojo run` printed before it.
async fn start(mut command: Command, what: &str) -> (Child, StopOnDrop, String, Vec<String>) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("dojo run {what}: {e}"));
    let guard = StopOnDrop(child.id());
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut printed = Vec::new();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("{what} prints `listening on …` within 30 s: {printed:?}"))
            .expect("readable output")
            .unwrap_or_else(|| panic!("{what} exited before listening: {printed:?}"));
        if let Some(url) = line.strip_prefix("listening on ") {
            break url.trim().to_string();
        }
        printed.push(line);
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, guard, url, printed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dojo_run_starts_the_python_and_node_services_pointed_at_the_lab() {
    let missing: Vec<String> = ["python", "node"]
        .into_iter()
        .filter_map(|language| stock_command(language, "solution").err())
        .collect();
    if !missing.is_empty() {
        let message = format!("dojo run needs {}", missing.join(" and "));
        assert!(!missing_is_fatal(), "{message}");
        eprintln!("skipped: {message}");
        return;
    }
    let shop = Shop::start("faults: []\n").await;
    let mut running = Vec::new();
    for language in ["python", "node"] {
        let service = format!("run-{language}");
        let command = dojo_run(&[
            "--language",
            language,
            "--solution",
            "--port",
            "0",
            "--service-name",
            &service,
            "--otlp-endpoint",
            shop.otlp_endpoint(),
            "--api-url",
            &shop.api_url,
        ]);
        let (child, guard, url, printed) = start(command, language).await;
        let said = printed.join("\n");
        assert!(
            said.contains(&format!("OTEL_SERVICE_NAME={service}"))
                && said.contains(&format!(
                    "OTEL_EXPORTER_OTLP_ENDPOINT={}",
                    shop.otlp_endpoint()
                ))
                && said.contains("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"),
            "dojo run says which variables it hands the {language} service:\n{said}"
        );
        running.push((service, url, child, guard));
    }
    let http = reqwest::Client::new();
    for (service, url, _, _) in &running {
        for product in [1, 2, 3] {
            let response = http
                .get(format!("{url}/stock/{product}"))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{service} answers: {e}"));
            assert_eq!(
                response.status().as_u16(),
                200,
                "{service} /stock/{product}"
            );
        }
    }
    for (service, _, _, _) in &running {
        // The service's own spans, under the name dojo run gave it, with the api's server span
        // as a child: the OTLP endpoint, the service name and API_URL all reached it.
        shop.wait_for(
            &format!(
                r#"{{ resource.service.name = "{service}" && kind = client }} > {{ resource.service.name = "api" && kind = server }}"#
            ),
            1,
            Duration::from_secs(30),
        )
        .await;
    }
    // Ctrl-C or SIGTERM stops dojo run and, through it, the service, which frees its port.
    for (service, url, mut child, guard) in running {
        drop(guard);
        let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
            .await
            .unwrap_or_else(|_| panic!("dojo run for {service} stops within 20 s of SIGTERM"))
            .expect("waited");
        assert!(
            status.success(),
            "dojo run for {service} ends cleanly: {status}"
        );
        assert!(
            http.get(format!("{url}/stock/1")).send().await.is_err(),
            "{service} stopped with dojo run"
        );
    }
}

#[tokio::test]
async fn dojo_run_names_what_a_language_needs_and_the_languages_it_offers() {
    // No program on PATH: the Rust service's `cargo` cannot be found.
    let empty = TempDir::new();
    let output = dojo_run(&["--language", "rust"])
        .env("PATH", &empty.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .expect("dojo run runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("`cargo` was not found on your PATH")
            && text.contains("The Rust service needs a Rust toolchain"),
        "{text}"
    );
    assert!(
        text.contains("cargo run --quiet -p dojo-lab-stock-starter"),
        "dojo run shows the Rust command: {text}"
    );

    let output = dojo_run(&["--language", "cobol"])
        .output()
        .await
        .expect("dojo run runs");
    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("rust (Rust), python (Python), node (Node.js)"),
        "the languages offered are listed: {text}"
    );
}
