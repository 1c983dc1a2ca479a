//! The Dockerfile builds the one `dojo` binary in a Rust builder and runs it on a small Debian as
//! an unprivileged user, exposing the lab's ports.

use dojo_deploy_tests::dockerfile::{self, Instruction};
use dojo_deploy_tests::repo;

fn instructions() -> Vec<Instruction> {
    dockerfile::parse(&crate::support::read("Dockerfile"))
}

#[test]
fn builds_in_rust_1_95_and_runs_on_debian_bookworm_slim() {
    let instructions = instructions();
    let stages: Vec<&str> = dockerfile::all(&instructions, "FROM").collect();
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert!(stages[0].starts_with("rust:1.95-bookworm "), "{stages:?}");
    assert!(stages[1].starts_with("debian:bookworm-slim"), "{stages:?}");
    assert!(
        dockerfile::all(&instructions, "RUN")
            .any(|run| run.contains("cargo build --release --locked --bin dojo")),
        "the builder compiles only the dojo binary, from Cargo.lock"
    );
}

#[test]
fn the_runtime_image_runs_as_an_unprivileged_numeric_user() {
    let instructions = instructions();
    let user = dockerfile::all(&instructions, "USER")
        .last()
        .expect("a USER instruction");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap_or("")
        .parse()
        .expect("a numeric uid");
    assert_ne!(uid, 0, "the image must not run as root");
    let last_from = instructions.iter().rposition(|i| i.keyword == "FROM");
    let last_user = instructions.iter().rposition(|i| i.keyword == "USER");
    assert!(last_user > last_from, "USER is set in the runtime stage");
}

#[test]
fn the_image_exposes_the_ports_of_dojo_defaults() {
    let instructions = instructions();
    let exposed: Vec<u16> = dockerfile::all(&instructions, "EXPOSE")
        .flat_map(|ports| ports.split_whitespace())
        .filter_map(|port| port.parse().ok())
        .collect();
    for port in [
        dojo_defaults::DOJO_PORT,
        dojo_defaults::FRONTEND_PORT,
        dojo_defaults::API_PORT,
        dojo_defaults::PAYMENTS_PORT,
    ] {
        assert!(
            exposed.contains(&port),
            "{port} is not exposed: {exposed:?}"
        );
    }
}

#[test]
fn everything_copied_from_the_repository_exists() {
    for copy in dockerfile::all(&instructions(), "COPY") {
        if copy.starts_with("--from") {
            continue;
        }
        let parts: Vec<&str> = copy.split_whitespace().collect();
        for source in &parts[..parts.len().saturating_sub(1)] {
            assert!(
                repo::path(source).exists(),
                "COPY {source}: not in the repository"
            );
        }
    }
}

#[test]
fn the_build_context_leaves_out_the_target_directory_and_git() {
    let ignore = crate::support::read(".dockerignore");
    for entry in ["target/", ".git/"] {
        assert!(
            ignore.lines().any(|line| line.trim() == entry),
            ".dockerignore lacks {entry}"
        );
    }
}
