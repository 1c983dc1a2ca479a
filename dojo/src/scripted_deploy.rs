//! The deploy a lab's scenario makes by itself (a variant's `deploy:`, such as Lab 5's bad
//! release): some time after `dojo up` is ready, it runs `dojo deploy` against this same lab as
//! its own process, exactly as a learner would, so the release goes through the traced
//! pipeline and the real rollout. Its output goes to `<data-dir>/logs/scripted-deploy.log`,
//! not to the terminal: which deploy brought the fault is the exercise.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::Context;
use dojo_grader::spec::types::ScriptedDeploy;

/// The log file of the scripted deploy.
pub fn log_path(data_dir: &Path) -> PathBuf {
    data_dir.join("logs").join("scripted-deploy.log")
}

/// Waits the deploy's delay, then runs it; a failure is reported, never fatal to the lab.
pub async fn run_later(deploy: ScriptedDeploy, data_dir: PathBuf) {
    tokio::time::sleep(deploy.after.0).await;
    match run(&deploy, &data_dir).await {
        Ok(true) => {}
        Ok(false) => eprintln!(
            "dojo: the lab's scripted deploy did not succeed; see {}",
            log_path(&data_dir).display()
        ),
        Err(error) => eprintln!("dojo: the lab's scripted deploy did not run: {error:#}"),
    }
}

/// Runs `dojo deploy` for `deploy` against the lab in `data_dir`; true when it succeeded.
async fn run(deploy: &ScriptedDeploy, data_dir: &Path) -> anyhow::Result<bool> {
    let exe = std::env::current_exe().context("finding the dojo binary")?;
    let log = log_path(data_dir);
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let errors = file
        .try_clone()
        .with_context(|| format!("opening {}", log.display()))?;
    let status = tokio::process::Command::new(exe)
        .arg("deploy")
        .args(["--service", &deploy.service])
        .args(["--version", &deploy.version])
        .args(["--change", &deploy.change])
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--environment", dojo_defaults::LAB_ENVIRONMENT])
        .stdin(Stdio::null())
        .stdout(Stdio::from(file))
        .stderr(Stdio::from(errors))
        .kill_on_drop(true)
        .status()
        .await
        .context("running dojo deploy")?;
    Ok(status.success())
}
