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
        let _ = axum::serve(listener, dojo_store::tempo_router(store)).await;
    });
    url
}

#[tokio::test]
async fn quiz_answers_that_pass_exit_0_and_answers_that_fail_exit_1_without_the_answers() {
    let dir = TempDir::new();
    let labs = dojo_grader::spec::load_dir(&labs_dir()).expect("labs load");
    let (_, quiz) = labs
        .exercise("quiz", "brown-belt-quiz")
        .expect("the quiz exists");
    let dojo_grader::spec::types::Check::Quiz(check) = &quiz.check else {
        panic!("a quiz")
    };
    // `dojo grade` without --learner grades "local", in the order "local" sees the choices.
    let layout = dojo_grader::check::quiz::layout(
        check,
        "quiz",
        "brown-belt-quiz",
        &dojo_grader::progress::LearnerId::for_name("local"),
    );
    // The right answers written as the choices' text (quoted: some hold a colon).
    let right: String = check
        .questions
        .iter()
        .map(|q| format!("{}: {:?}\n", q.id, q.choices[q.answer]))
        .collect();
    std::fs::write(dir.0.join("right.yaml"), right).expect("writable");
    // Wrong ones as positions in the learner's order.
    std::fs::write(
        dir.0.join("wrong.json"),
        format!(
            "{{{}}}",
            check
                .questions
                .iter()
                .zip(&layout)
                .map(|(q, order)| {
                    let wrong = (q.answer + 1) % q.choices.len();
                    let at = order.iter().position(|&c| c == wrong).expect("shown");
                    format!("\"{}\": {at}", q.id)
                })
                .collect::<Vec<_>>()
                .join(",")
        ),
    )
    .expect("writable");
    let url = empty_store().await;
    let answers = |file: &str| {
        vec![
            "--lab".to_string(),
            "quiz".into(),
            "--exercise".into(),
            "brown-belt-quiz".into(),
            "--answers".into(),
            dir.0.join(file).display().to_string(),
        ]
    };
    let run = |args: Vec<String>| {
        let url = url.clone();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            dojo_grade(&args, &url).await
        }
    };

    let passed = run(answers("right.yaml")).await;
    assert_eq!(passed.status.code(), Some(0), "{}", text(&passed));
    assert!(text(&passed).starts_with("PASS"), "{}", text(&passed));

    let failed = run(answers("wrong.json")).await;
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    assert!(
        text(&failed).contains("which is not right"),
        "{}",
        text(&failed)
    );
    for q in &check.questions {
        assert!(
            !text(&failed).contains(&q.explanation[..40.min(q.explanation.len())]),
            "a failed attempt shows an explanation (and so the answer): {}",
            text(&failed)
        );
    }

    // The same letter for every question never passes.
    for letter in ["a", "b", "c", "d"] {
        let file = format!("all-{letter}.yaml");
        let all: String = check
            .questions
            .iter()
            .map(|q| format!("{}: {letter}\n", q.id))
            .collect();
        std::fs::write(dir.0.join(&file), all).expect("writable");
        let output = run(answers(&file)).await;
        assert_eq!(
            output.status.code(),
            Some(1),
            "all {letter}: {}",
            text(&output)
        );
    }

    // A malformed file: the file, the question and what was expected.
    std::fs::write(dir.0.join("bad.yaml"), "trace-vs-span: [1, 2]\n").expect("writable");
    let bad = run(answers("bad.yaml")).await;
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    for says in [
        "bad.yaml",
        "question `trace-vs-span`",
        "its letter",
        "a list",
    ] {
        assert!(text(&bad).contains(says), "{says}: {}", text(&bad));
    }
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
