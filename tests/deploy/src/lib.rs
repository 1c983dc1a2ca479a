//! Checks for the lab's deployment files — `compose/`, `k8s/` and the `Dockerfile` — that need no
//! Docker engine and no cluster.
//!
//! The files are only ever run by tools this repository does not control (docker compose,
//! kubectl, the OpenTelemetry Collector, Tempo, Grafana), so a typo costs a learner a broken
//! workshop. This crate reads every file with the same types those tools use, or with strict
//! models of the parts we rely on, and reports problems as data. The integration tests in
//! `tests/deploy/` turn those reports into assertions.
//!
//! Start reading at [`kube`] (strict Kubernetes manifests) and [`ports`] (the cross-file
//! agreement on ports and environment variables).

pub mod collector;
pub mod compose;
pub mod container;
pub mod dockerfile;
pub mod error;
pub mod grafana;
pub mod keys;
pub mod kube;
pub mod kustomize;
pub mod ports;
pub mod promql;
pub mod repo;
pub mod scratch;
pub mod tempo;

pub use error::DeployError;
