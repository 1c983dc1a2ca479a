//! `dojo grade` from the terminal: the feedback printed, and the exit status a script can use
//! (0 pass, 1 fail, 2 usage or input error).

use std::process::Output;

use tokio::process::Command;

use crate::shop::{TempDir, labs_dir};

async fn dojo_grade(args: &[&str], tempo_url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dojo"))
        .arg("grade")
        .arg("--labs")
        .arg(labs_dir())
        .args(["--tempo-url", tempo_url])
        .args(args)
        .env_remove("DOJO_LEARNER")
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

/// The embedded store's Tempo API on port 0, empty.
async fn empty_store() -> String {
    let store = dojo_store::Store::new(dojo_store::StoreConfig::default()).expect("default config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port 0");
    let url = format!("http://{}", listener.local_addr().expect("bound"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, dojo_store::tempo_api::router(store)).await;
    });
    url
}

#[tokio::test]
async fn quiz_answers_that_pass_exit_0_and_answers_that_fail_exit_1_with_explanations() {
    let dir = TempDir::new();
    let labs = dojo_grader::spec::load_dir(&labs_dir()).expect("labs load");
    let (_, quiz) = labs
        .exercise("quiz", "brown-belt-quiz")
        .expect("the quiz exists");
    let dojo_grader::spec::types::Check::Quiz(check) = &quiz.check else {
        panic!("a quiz")
    };
    let right: String = check
        .questions
        .iter()
        .map(|q| format!("{}: {}\n", q.id, q.answer))
        .collect();
    std::fs::write(dir.0.join("right.yaml"), right).expect("writable");
    std::fs::write(
        dir.0.join("wrong.json"),
        format!(
            "{{{}}}",
            check
                .questions
                .iter()
                .map(|q| format!("\"{}\": {}", q.id, (q.answer + 1) % q.choices.len()))
                .collect::<Vec<_>>()
                .join(",")
        ),
    )
    .expect("writable");
    let url = empty_store().await;

    let passed = dojo_grade(
        &[
            "--lab",
            "quiz",
            "--exercise",
            "brown-belt-quiz",
            "--answers",
            &dir.0.join("right.yaml").display().to_string(),
        ],
        &url,
    )
    .await;
    assert_eq!(passed.status.code(), Some(0), "{}", text(&passed));
    assert!(text(&passed).starts_with("PASS"), "{}", text(&passed));

    let failed = dojo_grade(
        &[
            "--lab",
            "quiz",
            "--exercise",
            "brown-belt-quiz",
            "--answers",
            &dir.0.join("wrong.json").display().to_string(),
        ],
        &url,
    )
    .await;
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    assert!(text(&failed).contains("the answer is"), "{}", text(&failed));
}

#[tokio::test]
async fn a_query_that_does_not_parse_fails_with_a_caret_and_an_empty_lab_is_not_ready() {
    let url = empty_store().await;
    let bad = dojo_grade(
        &[
            "--lab",
            "traceql-querying",
            "--exercise",
            "failed-api-requests",
            "--query",
            "{ status = error",
        ],
        &url,
    )
    .await;
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(text(&bad).contains('^'), "{}", text(&bad));

    let early = dojo_grade(
        &[
            "--lab",
            "traceql-querying",
            "--exercise",
            "failed-api-requests",
            "--query",
            "{ status = error }",
        ],
        &url,
    )
    .await;
    assert_eq!(early.status.code(), Some(1), "{}", text(&early));
    assert!(text(&early).starts_with("NOT READY"), "{}", text(&early));
}

#[tokio::test]
async fn usage_and_input_errors_exit_2_with_a_message() {
    let url = empty_store().await;
    let cases: [(&str, Vec<&str>, &str); 4] = [
        (
            "an unknown lab",
            vec!["--lab", "nope", "--exercise", "x", "--query", "{}"],
            "no lab `nope`",
        ),
        (
            "no submission",
            vec!["--lab", "quiz", "--exercise", "brown-belt-quiz"],
            "--query",
        ),
        (
            "a missing report file",
            vec![
                "--lab",
                "intermittent-slowness",
                "--exercise",
                "root-cause",
                "--report",
                "/nonexistent/report.yaml",
            ],
            "cannot read the report file",
        ),
        (
            "the wrong kind of submission",
            vec![
                "--lab",
                "quiz",
                "--exercise",
                "brown-belt-quiz",
                "--query",
                "{}",
            ],
            "graded as quiz",
        ),
    ];
    for (what, args, says) in cases {
        let output = dojo_grade(&args, &url).await;
        assert_eq!(output.status.code(), Some(2), "{what}: {}", text(&output));
        assert!(text(&output).contains(says), "{what}: {}", text(&output));
    }
    let unreachable = dojo_grade(
        &[
            "--lab",
            "traceql-querying",
            "--exercise",
            "failed-api-requests",
            "--query",
            "{ status = error }",
        ],
        "http://127.0.0.1:9",
    )
    .await;
    assert_eq!(unreachable.status.code(), Some(2), "{}", text(&unreachable));
    assert!(
        text(&unreachable).contains("is the lab running?"),
        "{}",
        text(&unreachable)
    );
}
