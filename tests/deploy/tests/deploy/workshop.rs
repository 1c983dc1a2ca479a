//! The workshop overlay is what `generate-learners.sh` writes, and the script works for any
//! class size.

use std::path::Path;
use std::process::Command;

use dojo_deploy_tests::scratch::TempDir;
use dojo_deploy_tests::{collector, repo};

const SCRIPT: &str = "k8s/overlays/workshop/generate-learners.sh";

/// A scratch folder for the generator's output.
fn scratch(label: &str) -> TempDir {
    TempDir::new(label).expect("the temp dir is writable")
}

fn generate(args: &[&str]) -> std::process::Output {
    Command::new("sh")
        .arg(repo::path(SCRIPT))
        .args(args)
        .output()
        .expect("sh runs")
}

fn relative_files(dir: &Path) -> Vec<String> {
    repo::files_under(dir, &[".yaml"])
        .expect("readable")
        .iter()
        .filter_map(|path| path.strip_prefix(dir).ok().map(|p| p.display().to_string()))
        .collect()
}

#[test]
fn the_committed_overlay_is_exactly_what_the_generator_writes_for_three_learners() {
    let out = scratch("workshop3");
    let output = generate(&["3", out.path().to_str().expect("utf-8 temp path")]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let committed = repo::path("k8s/overlays/workshop");
    for file in relative_files(out.path()) {
        let generated = std::fs::read_to_string(out.path().join(&file)).expect("generated file");
        let in_repo = std::fs::read_to_string(committed.join(&file))
            .unwrap_or_else(|_| panic!("{file} is generated but not committed"));
        assert_eq!(in_repo, generated, "{file} differs: run {SCRIPT} 3");
    }
}

#[test]
fn a_larger_class_gets_a_learner_folder_route_and_datasource_each() {
    let out = scratch("workshop7");
    let output = generate(&["7", out.path().to_str().expect("utf-8 temp path")]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for k in 1..=7 {
        assert!(
            out.path()
                .join(format!("learners/learner-{k}/kustomization.yaml"))
                .is_file()
        );
    }
    assert!(!out.path().join("learners/learner-8").exists());
    let gateway =
        std::fs::read_to_string(out.path().join("shared/otel-gateway.yaml")).expect("written");
    let config = collector::parse(&gateway, "generated gateway").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.problems(), Vec::<String>::new());
    assert_eq!(
        config.service.pipelines.len(),
        1 + 1 + 1 + 1 + 7,
        "in, sampled, metrics, unassigned and one per learner"
    );
    let datasources =
        std::fs::read_to_string(out.path().join("shared/datasources.yaml")).expect("written");
    let parsed = dojo_deploy_tests::grafana::parse_datasources(&datasources, "generated")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed.problems(), Vec::<String>::new());
    assert_eq!(
        parsed.datasources.len(),
        1 + 1 + 1 + 7,
        "Prometheus, Loki, all learners, one per learner"
    );
}

#[test]
fn the_generator_refuses_a_class_size_that_is_not_a_positive_number() {
    for bad in ["0", "three", "-1", ""] {
        let out = scratch("workshop-bad");
        let output = generate(&[bad, out.path().to_str().expect("utf-8 temp path")]);
        assert_eq!(output.status.code(), Some(2), "{bad:?} must be refused");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("usage"),
            "{bad:?}"
        );
        assert!(
            !out.path().join("learners").exists(),
            "{bad:?} must write nothing"
        );
    }
}
