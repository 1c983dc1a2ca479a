//! The deployment files, checked without Docker or a cluster: each module is one file family.
//! Run with `cargo nextest run -p dojo-deploy-tests`.

mod agreement;
mod collector;
mod compose;
mod containers;
mod dockerfile;
mod isolation;
mod kubernetes;
mod kustomize;
mod logs;
mod metrics;
mod support;
mod tempo;
mod workshop;
