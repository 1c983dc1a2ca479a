//! `dojo grade` finds the lab `dojo up` runs (its data directory's record of addresses) and
//! grades a learner only against their own scenario variant: one learner id everywhere.

use std::process::Output;

use dojo_grader::progress::LearnerId;
use dojo_grader::scenario::variant_for;
use tokio::process::Command;

use crate::helpers::{Lab, repo_root};

const LAB: &str = "intermittent-slowness";

async fn dojo_grade(data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dojo"))
        .arg("grade")
        .arg("--labs")
        .arg(repo_root().join("labs"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("DOJO_LEARNER")
        .env_remove("TEMPO_URL")
        .output()
        .await
        .expect("dojo grade runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dojo_grade_finds_the_running_lab_and_refuses_a_learner_whose_variant_is_not_on() {
    let lab = Lab::start(&[
        "--load-rate",
        "0",
        "--lab",
        LAB,
        "--learner",
        "Ada Lovelace",
    ])
    .await;
    let labs = dojo_grader::spec::load_dir(&repo_root().join("labs")).expect("labs load");
    let spec = labs.get(LAB).expect("the lab exists");
    let ada = variant_for(spec, &LearnerId::for_name("Ada Lovelace")).expect("a variant");
    let other = (0..100)
        .map(|i| format!("Bob {i}"))
        .find(|name| variant_for(spec, &LearnerId::for_name(name)).is_some_and(|v| v.id != ada.id))
        .expect("some name gets another variant");

    let report = lab.data_dir.join("report.yaml");
    std::fs::write(
        &report,
        "service: api\noperation: GET /products\nfault: slow query\nevidence: ['0123456789abcdef0123456789abcdef']\nexplanation: a guess\n",
    )
    .expect("writable");
    let report = report.display().to_string();
    let args = |who: &str| -> Vec<String> {
        [
            "--lab",
            LAB,
            "--exercise",
            "root-cause",
            "--report",
            &report,
            "--learner",
            who,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };

    // Ada, by the name she gave `dojo up`: graded against this lab's store, with no
    // --tempo-url; no traffic has run yet (load rate 0), and she is told so.
    let ada_args = args("Ada Lovelace");
    let graded = dojo_grade(
        &lab.data_dir,
        &ada_args.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(graded.status.code(), Some(1), "{}", text(&graded));
    assert!(
        text(&graded).contains("No trace in the window comes from your scenario"),
        "{}",
        text(&graded)
    );

    // Another learner, whose variant is not the one switched on: refused, saying whose is.
    let bob_args = args(&other);
    let refused = dojo_grade(
        &lab.data_dir,
        &bob_args.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    for says in [
        "the variant of the learner \"Ada Lovelace\"",
        "--learner \"Ada Lovelace\"",
        &format!("--learner \"{other}\""),
    ] {
        assert!(text(&refused).contains(says), "{says}: {}", text(&refused));
    }

    // A folder without a running lab: no silent default address.
    let empty = lab.data_dir.join("elsewhere");
    std::fs::create_dir_all(&empty).expect("a folder");
    let lost = dojo_grade(
        &empty,
        &ada_args.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(lost.status.code(), Some(2), "{}", text(&lost));
    assert!(
        text(&lost).contains("no running lab found"),
        "{}",
        text(&lost)
    );

    assert!(lab.stop().await.success());
}
