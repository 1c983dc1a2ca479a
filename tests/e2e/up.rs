//! `dojo up` starts the whole lab, restarts a crashed part, and stops everything on SIGTERM.

use std::time::Duration;

use crate::helpers::{Lab, is_listening, is_running, lab_children};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dojo_up_starts_the_lab_restarts_a_crashed_service_and_stops_cleanly() {
    let mut lab = Lab::start(&["--load-rate", "4"]).await;
    let ports = lab.ports;

    // The shop answers, through all three tiers.
    let (status, body) = lab.get(&lab.url(ports.frontend, "/")).await;
    assert_eq!(status, 200, "the shop's home page answers: {body}");

    // The load generator's journeys reach the trace store as whole traces: one trace holds
    // spans of the frontend, the api and payments. The services export in their own batches,
    // so ask for a trace in which all three have arrived, then check it as a whole.
    let query = r#"{ resource.service.name = "frontend" } >> { resource.service.name = "api" } >> { resource.service.name = "payments" }"#;
    let trace_id = lab
        .find_trace(
            "a checkout trace with frontend, api and payments spans in the store",
            query,
            Duration::from_secs(90),
        )
        .await;
    let (status, body) = lab
        .get(&lab.url(ports.tempo, &format!("/api/traces/{trace_id}")))
        .await;
    assert_eq!(status, 200, "trace {trace_id} can be fetched: {body}");
    for service in ["frontend", "api", "payments"] {
        assert!(
            body.contains(&format!("\"{service}\"")),
            "trace {trace_id} has spans of {service}: {body}"
        );
    }

    // The course is up.
    let (status, _) = lab.get(&lab.url(ports.dojo, "/")).await;
    assert_eq!(status, 200, "the course answers");

    // A crashed service is restarted with a message.
    let api = lab_children(&lab)
        .into_iter()
        .find(|(_, cmdline)| cmdline.contains("service api "))
        .expect("dojo up runs the api");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(api.0),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("the api process was found and killed");
    lab.wait_for_output("api stopped unexpectedly", Duration::from_secs(20))
        .await;
    lab.eventually(
        "the api answers again after its restart",
        Duration::from_secs(60),
        || async {
            let (status, _) = lab.try_get(&lab.url(ports.api, "/health")).await?;
            (status == 200).then_some(())
        },
    )
    .await;

    // SIGTERM stops everything: dojo up exits cleanly and no port is left open.
    let status = lab.stop().await;
    assert!(
        status.success(),
        "dojo up exits with success on SIGTERM: {status}"
    );
    for (name, port) in [
        ("frontend", ports.frontend),
        ("api", ports.api),
        ("payments", ports.payments),
        ("course", ports.dojo),
        ("Tempo API", ports.tempo),
    ] {
        assert!(
            !is_listening(port),
            "{name} on port {port} was stopped with the lab"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_stop_when_dojo_up_is_killed_outright() {
    let mut lab = Lab::start(&["--load-rate", "2"]).await;
    let ports = lab.ports;
    for port in [ports.frontend, ports.api, ports.payments] {
        assert!(is_listening(port), "port {port} is served before the kill");
    }
    let children = lab_children(&lab);
    assert!(
        children.iter().any(|(_, c)| c.contains("service api ")),
        "dojo up runs the services: {children:?}"
    );
    // SIGKILL gives `dojo up` no chance to stop its children; they notice on their own.
    lab.child.start_kill().expect("killing dojo up");
    let _ = lab.child.wait().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let still = |ports: &[u16]| -> Vec<u16> {
        ports.iter().copied().filter(|p| is_listening(*p)).collect()
    };
    let services = [ports.frontend, ports.api, ports.payments];
    let running = || -> Vec<&(i32, String)> {
        children
            .iter()
            .filter(|(pid, _)| is_running(*pid))
            .collect()
    };
    while (!still(&services).is_empty() || !running().is_empty())
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        still(&services).is_empty(),
        "services still listening 30 s after dojo up was killed: {:?}",
        still(&services)
    );
    assert!(
        running().is_empty(),
        "processes of the lab still running 30 s after dojo up was killed: {:?}",
        running()
    );
    let _ = std::fs::remove_dir_all(&lab.data_dir);
}
