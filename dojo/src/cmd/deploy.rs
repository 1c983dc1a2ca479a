//! `dojo deploy`: a delivery pipeline that really deploys to the running lab, traced.
//!
//! `dojo deploy --service api --version 1.4.0 [--change "…"] [--fail-at test|rollout]` runs
//! commit → build → test → publish → sync → rollout as its own process. Each stage does its
//! work (the build takes a digest of the artifact, the sync writes the desired state into the
//! lab's data directory, the rollout asks `dojo up` to start the new version beside the old
//! one and switch traffic once it is healthy) and the run becomes one trace, sent as OTLP to
//! the lab's trace store ([`crate::delivery`]). Bad input — an unknown service, a malformed
//! version, a deploy of a service that is already being deployed — is one line on stderr and
//! exit status 2, before anything runs; a run whose test or rollout fails exits with 1.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use dojo_defaults::env;
use sha2::Digest as _;

use crate::control::{self, RolloutAnswer, RolloutBody};
use crate::delivery::otlp;
use crate::delivery::run::{Outcome, PipelineRun, Rollback, Stage, StageRun, Value};
use crate::running_lab::RunningLab;
use dojo_faults::ReleaseVersion;

/// The services the pipeline deploys. payments stands for an external provider: not ours.
pub const DEPLOYABLE: [&str; 2] = ["api", "frontend"];
/// How much of the artifact the build stage digests.
const DIGEST_BYTES: u64 = 16 * 1024 * 1024;
/// The longest `--change` accepted.
const MAX_CHANGE_LEN: usize = 200;
/// The longest environment name `dojo deploy` takes.
const MAX_ENVIRONMENT_LEN: usize = 64;

/// Where a run fails on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailAt {
    /// Some tests fail: the pipeline stops before publishing.
    Test,
    /// The new release crashes at start: the rollout fails and traffic stays on the old one.
    Rollout,
}

/// Flags of `dojo deploy`.
#[derive(Debug, Clone, clap::Args)]
pub struct DeployArgs {
    /// The service to deploy: api or frontend.
    #[arg(long)]
    pub service: String,
    /// The release version, MAJOR.MINOR.PATCH (for example 1.4.0).
    #[arg(long)]
    pub version: String,
    /// What the change is about (its commit title).
    #[arg(long)]
    pub change: Option<String>,
    /// Make the run fail at this stage, to see what a failed run looks like.
    #[arg(long, value_enum)]
    pub fail_at: Option<FailAt>,
    /// The data directory of the running lab (`dojo up --data-dir`).
    #[arg(long, env = env::DATA_DIR, default_value = ".dojo")]
    pub data_dir: PathBuf,
    /// The control API that rolls the service out: a running `dojo up`'s (its address is in
    /// `<data-dir>/lab.json`; this flag is then optional) or a container's (`dojo service …
    /// --control-port`). Without it, the service's entry in DOJO_CONTROL_URLS
    /// (`api=http://api:8090,frontend=…`) is used, else the lab in --data-dir.
    #[arg(long)]
    pub control_url: Option<String>,
    /// A file holding the control API's operator token (`<data-dir>/control.token` for
    /// `dojo up`). Without it, DOJO_CONTROL_TOKEN, else the lab's own token file.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// In a workshop: the learner the deploy is made for (the name they joined with); its
    /// pipeline trace then goes to their own traces, their Delivery page and their grading.
    #[arg(long)]
    pub learner: Option<String>,
    /// The environment deployed to (`deployment.environment.name` on the pipeline's trace):
    /// the shop's own, from the TRACE_ENVIRONMENT its services read (`compose`,
    /// `kubernetes`), else `lab` as under `dojo up`.
    #[arg(long, env = env::TRACE_ENVIRONMENT, default_value = dojo_defaults::LAB_ENVIRONMENT)]
    pub environment: String,
}

/// Input that was checked before anything ran.
struct Request {
    service: String,
    version: ReleaseVersion,
    change: String,
    fail_at: Option<FailAt>,
    /// Whose deploy it is, in a workshop.
    learner: Option<dojo_grader::progress::LearnerId>,
    /// `deployment.environment.name`.
    environment: String,
}

/// Where the rollout is asked for and the trace is sent.
struct Target {
    control_url: String,
    token: String,
    /// The OTLP/HTTP traces URL.
    endpoint: String,
}

/// Runs one deploy.
pub fn run(args: DeployArgs) -> anyhow::Result<ExitCode> {
    let request = check(&args)?;
    let target = match control_url_for(&args, &request.service)? {
        Some(control_url) => remote_target(&args, control_url)?,
        None => lab_target(&args)?,
    };
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let _lock = lock_service(&args.data_dir, &request.service)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(deploy(
        request,
        &args.data_dir,
        &target.control_url,
        &target.token,
        &target.endpoint,
    ))
}

/// The control API named by `--control-url` or by the service's entry in DOJO_CONTROL_URLS.
fn control_url_for(args: &DeployArgs, service: &str) -> anyhow::Result<Option<String>> {
    if let Some(url) = &args.control_url {
        return Ok(Some(url.trim().trim_end_matches('/').to_owned()));
    }
    match std::env::var(env::CONTROL_URLS) {
        Ok(list) => control_url_in(&list, service),
        Err(_) => Ok(None),
    }
}

/// The service's URL in a DOJO_CONTROL_URLS list (`api=http://api:8090,frontend=…`); `None`
/// for an empty list, an error naming the list's services when it lacks this one.
fn control_url_in(list: &str, service: &str) -> anyhow::Result<Option<String>> {
    if list.trim().is_empty() {
        return Ok(None);
    }
    let pairs: Vec<(&str, &str)> = list
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(s, url)| (s.trim(), url.trim()))
        .collect();
    match pairs.iter().find(|(s, _)| *s == service) {
        Some((_, url)) if url.starts_with("http://") || url.starts_with("https://") => {
            Ok(Some(url.trim_end_matches('/').to_owned()))
        }
        Some((_, url)) => anyhow::bail!(
            "{} gives {service} the address {url:?}; write it as http://HOST:PORT",
            env::CONTROL_URLS
        ),
        None => anyhow::bail!(
            "{} names no control API for {service} (it names {}); add {service}=http://HOST:PORT",
            env::CONTROL_URLS,
            pairs.iter().map(|(s, _)| *s).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// A control API named explicitly (a container's, or a lab's given by hand): the token from
/// `--token-file`, DOJO_CONTROL_TOKEN or the lab's token file, the OTLP receiver from
/// OTEL_EXPORTER_OTLP_ENDPOINT or the lab's record.
fn remote_target(args: &DeployArgs, control_url: String) -> anyhow::Result<Target> {
    let token = match &args.token_file {
        Some(path) => std::fs::read_to_string(path)
            .map(|t| t.trim().to_owned())
            .with_context(|| format!("reading the operator token {}", path.display()))?,
        None => match std::env::var(env::CONTROL_TOKEN)
            .ok()
            .filter(|t| !t.trim().is_empty())
        {
            Some(token) => token.trim().to_owned(),
            None => control::read_token(&args.data_dir).with_context(|| {
                format!(
                    "no operator token: give --token-file or set {}",
                    env::CONTROL_TOKEN
                )
            })?,
        },
    };
    if token.is_empty() {
        anyhow::bail!("the operator token is empty");
    }
    let lab_otlp = RunningLab::read(&args.data_dir)
        .ok()
        .flatten()
        .and_then(|lab| lab.otlp_http_url);
    let endpoint = otlp_endpoint()
        .or(lab_otlp)
        .map(|e| otlp::traces_url(&e))
        .with_context(|| {
            format!(
                "where should the pipeline's trace go? Set {}",
                env::OTEL_EXPORTER_OTLP_ENDPOINT
            )
        })?;
    Ok(Target {
        control_url,
        token,
        endpoint,
    })
}

fn otlp_endpoint() -> Option<String> {
    std::env::var(env::OTEL_EXPORTER_OTLP_ENDPOINT)
        .ok()
        .filter(|e| !e.trim().is_empty())
}

/// The `dojo up` running with `--data-dir`.
fn lab_target(args: &DeployArgs) -> anyhow::Result<Target> {
    let lab = match RunningLab::read(&args.data_dir)? {
        Some(lab) if lab.is_alive() => lab,
        _ => anyhow::bail!(
            "no lab is running with the data directory {}; start it with `dojo up` (or point --data-dir at its data directory)",
            args.data_dir.display()
        ),
    };
    let Some(control_url) = lab.control_url.clone() else {
        anyhow::bail!(
            "the running lab was started by an older dojo that takes no deploys; restart `dojo up`"
        );
    };
    let token = match &args.token_file {
        Some(path) => std::fs::read_to_string(path)
            .map(|t| t.trim().to_owned())
            .with_context(|| format!("reading the operator token {}", path.display()))?,
        None => control::read_token(&args.data_dir)?,
    };
    let endpoint = otlp_endpoint()
        .or(lab.otlp_http_url.clone())
        .map(|e| otlp::traces_url(&e))
        .context("the lab record names no OTLP receiver; set OTEL_EXPORTER_OTLP_ENDPOINT")?;
    Ok(Target {
        control_url,
        token,
        endpoint,
    })
}

/// Checks the flags; every refusal is one line.
fn check(args: &DeployArgs) -> anyhow::Result<Request> {
    let service = args.service.trim();
    if service == "payments" {
        anyhow::bail!(
            "payments stands for the shop's external payment provider: this pipeline does not deploy it (it deploys {})",
            DEPLOYABLE.join(" and ")
        );
    }
    if !DEPLOYABLE.contains(&service) {
        anyhow::bail!(
            "there is no service called {service:?} to deploy; the pipeline deploys {}",
            DEPLOYABLE.join(" and ")
        );
    }
    let version = ReleaseVersion::parse(&args.version)?;
    let change = match &args.change {
        Some(change) => change.trim().to_owned(),
        None => format!("Release {service} {version}"),
    };
    if change.is_empty() || change.chars().count() > MAX_CHANGE_LEN {
        anyhow::bail!("--change takes a commit title of 1 to {MAX_CHANGE_LEN} characters");
    }
    if change.chars().any(char::is_control) {
        anyhow::bail!("--change takes a commit title on one line");
    }
    let environment = args.environment.trim();
    if environment.is_empty()
        || environment.len() > MAX_ENVIRONMENT_LEN
        || !environment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        anyhow::bail!(
            "--environment (or TRACE_ENVIRONMENT) takes a name of 1 to {MAX_ENVIRONMENT_LEN} letters, digits, dots, dashes or underscores, such as lab, compose or kubernetes"
        );
    }
    Ok(Request {
        service: service.to_owned(),
        version,
        change,
        fail_at: args.fail_at,
        learner: args
            .learner
            .as_deref()
            .map(dojo_grader::progress::LearnerId::for_name),
        environment: environment.to_owned(),
    })
}

/// Holds `<data-dir>/deploy-<service>.lock` for the whole run; the OS lets go of it when this
/// process ends, however it ends.
fn lock_service(data_dir: &Path, service: &str) -> anyhow::Result<File> {
    let path = data_dir.join(format!("deploy-{service}.lock"));
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another deploy of {service} is running; wait until it has finished, then deploy again"
        ),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// What a stage did: its outcome and what it adds to its span.
struct Done {
    outcome: Outcome,
    attributes: Vec<(String, Value)>,
    rollback: Option<Rollback>,
}

impl Done {
    fn ok(attributes: Vec<(&str, Value)>) -> Done {
        Done {
            outcome: Outcome::Success,
            attributes: attributes
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            rollback: None,
        }
    }
}

async fn deploy(
    request: Request,
    data_dir: &Path,
    control_url: &str,
    token: &str,
    endpoint: &str,
) -> anyhow::Result<ExitCode> {
    let client = reqwest::Client::builder()
        .build()
        .context("building the HTTP client")?;
    let ids = uuid::Uuid::new_v4();
    let short = hex::encode(&ids.as_bytes()[..5]);
    let commit_time = SystemTime::now();
    let revision = {
        let mut digest = sha2::Sha256::new();
        digest.update(request.service.as_bytes());
        digest.update(request.version.to_string().as_bytes());
        digest.update(request.change.as_bytes());
        digest.update(format!("{commit_time:?}").as_bytes());
        hex::encode(&digest.finalize()[..20])
    };
    let mut run = PipelineRun {
        trace_id: *ids.as_bytes(),
        root_span_id: random_span_id(),
        run_id: format!("run-{short}"),
        service: request.service.clone(),
        version: request.version.to_string(),
        change: request.change.clone(),
        revision: revision.clone(),
        deployment_id: format!("dep-{short}"),
        environment: request.environment.clone(),
        stages: Vec::new(),
    };
    println!(
        "Deploying {} {} ({}), trace {}",
        run.service,
        run.version,
        run.deployment_id,
        hex::encode(run.trace_id)
    );
    let started = Instant::now();
    for stage in Stage::ALL {
        let span_id = random_span_id();
        let start = SystemTime::now();
        let clock = Instant::now();
        print!("  {:<8} ", stage.name());
        let _ = std::io::stdout().flush();
        let done = match stage {
            Stage::Commit => commit(&revision).await,
            Stage::Build => build().await,
            Stage::Test => test(request.fail_at == Some(FailAt::Test)).await,
            Stage::Publish => publish(&run).await,
            Stage::Sync => sync(data_dir, &run),
            Stage::Rollout => {
                let body = RolloutBody {
                    service: run.service.clone(),
                    version: run.version.clone(),
                    deployment_id: run.deployment_id.clone(),
                    traceparent: Some(run.traceparent(span_id)),
                    broken: request.fail_at == Some(FailAt::Rollout),
                };
                rollout(&client, control_url, token, &body).await
            }
        };
        let end = start + clock.elapsed();
        match &done.outcome {
            Outcome::Success => println!("ok ({:.1} s)", clock.elapsed().as_secs_f64()),
            Outcome::Failure { message, .. } => println!("FAILED: {message}"),
        }
        let failed = done.outcome != Outcome::Success;
        let rollback = done.rollback.map(|r| Rollback {
            start: end
                .checked_sub(r.end.duration_since(r.start).unwrap_or_default())
                .unwrap_or(end),
            end,
            ..r
        });
        if let Some(rollback) = &rollback {
            println!(
                "  rollback {} keeps serving {} ({} was stopped)",
                run.service, rollback.to_version, run.version
            );
        }
        run.stages.push(StageRun {
            stage,
            span_id,
            start,
            end,
            outcome: done.outcome,
            attributes: done.attributes,
            rollback,
        });
        if failed {
            break;
        }
    }
    if let Err(error) = otlp::export(
        &client,
        endpoint,
        std::slice::from_ref(&run),
        request.learner.as_ref().map(|l| l.as_str()),
    )
    .await
    {
        eprintln!("dojo: {error:#} (the deploy itself is done)");
    }
    let trace = hex::encode(run.trace_id);
    match run.failed_stage() {
        None => {
            println!(
                "Deployed {} {}: commit to serving in {:.1} s. Its trace: {trace}",
                run.service,
                run.version,
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(stage) => {
            println!(
                "The run failed at {}; nothing new is serving. Its trace: {trace}",
                stage.stage.name()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

fn random_span_id() -> [u8; 8] {
    let bytes = *uuid::Uuid::new_v4().as_bytes();
    let mut id = [0u8; 8];
    id.copy_from_slice(&bytes[..8]);
    id
}

async fn commit(revision: &str) -> Done {
    tokio::time::sleep(Duration::from_millis(50)).await;
    Done::ok(vec![("vcs.ref.head.revision", revision.to_owned().into())])
}

/// Digests the artifact every release runs: the dojo binary (its first 16 MiB).
async fn build() -> Done {
    let digest = tokio::task::spawn_blocking(|| -> anyhow::Result<String> {
        let exe = std::env::current_exe().context("finding the artifact")?;
        let mut file = File::open(&exe).with_context(|| format!("opening {}", exe.display()))?;
        let mut bytes = Vec::new();
        (&mut file)
            .take(DIGEST_BYTES)
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading {}", exe.display()))?;
        Ok(hex::encode(sha2::Sha256::digest(&bytes)))
    })
    .await;
    match digest {
        Ok(Ok(digest)) => Done::ok(vec![(
            "dojo.artifact.digest",
            format!("sha256:{digest}").into(),
        )]),
        Ok(Err(error)) => failure("build_error", format!("{error:#}")),
        Err(error) => failure("build_error", error.to_string()),
    }
}

/// The test suite: it takes its time, and fails three tests when asked to.
async fn test(fail: bool) -> Done {
    const TESTS: i64 = 42;
    tokio::time::sleep(Duration::from_millis(400)).await;
    if fail {
        let mut done = failure(
            "test_failure",
            "3 of 42 tests failed: checkout_applies_the_discount, cart_keeps_its_items, order_total_rounds_to_cents".to_owned(),
        );
        done.attributes = vec![
            ("dojo.tests.total".to_owned(), TESTS.into()),
            ("dojo.tests.failed".to_owned(), 3i64.into()),
        ];
        return done;
    }
    Done::ok(vec![
        ("dojo.tests.total", TESTS.into()),
        ("dojo.tests.failed", 0i64.into()),
    ])
}

async fn publish(run: &PipelineRun) -> Done {
    tokio::time::sleep(Duration::from_millis(150)).await;
    Done::ok(vec![
        (
            "container.image.name",
            format!("registry.dojo.lab/shop/{}", run.service).into(),
        ),
        ("container.image.tags", run.version.clone().into()),
    ])
}

/// GitOps: writes the desired state of the service into the lab's data directory.
fn sync(data_dir: &Path, run: &PipelineRun) -> Done {
    let folder = data_dir.join("deployments");
    let path = folder.join(format!("{}.json", run.service));
    let desired = serde_json::json!({
        "service": run.service,
        "version": run.version,
        "revision": run.revision,
        "deployment_id": run.deployment_id,
        "image": format!("registry.dojo.lab/shop/{}:{}", run.service, run.version),
    });
    let written = std::fs::create_dir_all(&folder)
        .and_then(|()| std::fs::write(&path, format!("{desired:#}\n")));
    match written {
        Ok(()) => Done::ok(vec![(
            "deployment.environment.name",
            run.environment.clone().into(),
        )]),
        Err(error) => failure("sync_error", format!("writing {}: {error}", path.display())),
    }
}

/// Asks `dojo up` to roll the new version out, and waits for it to be serving.
async fn rollout(
    client: &reqwest::Client,
    control_url: &str,
    token: &str,
    body: &RolloutBody,
) -> Done {
    let mut attributes = vec![
        (
            "deployment.id".to_owned(),
            body.deployment_id.clone().into(),
        ),
        ("deployment.name".to_owned(), body.service.clone().into()),
        ("deployment.version".to_owned(), body.version.clone().into()),
    ];
    let sent = client
        .post(format!("{control_url}/rollouts"))
        .bearer_auth(token)
        .json(body)
        .timeout(Duration::from_secs(180))
        .send()
        .await;
    let (status, answer) = match sent {
        Ok(response) => {
            let status = response.status();
            (status, response.json::<RolloutAnswer>().await.ok())
        }
        Err(error) => {
            let mut done = failure(
                "rollout_failed",
                format!("the control API did not answer: {error}"),
            );
            done.attributes.splice(0..0, attributes);
            return done;
        }
    };
    let answer = answer.unwrap_or(RolloutAnswer {
        error: Some(format!("the lab answered {status}")),
        address: None,
        kept_version: None,
        rollback_ms: None,
    });
    if status.is_success() {
        attributes.push(("deployment.status".to_owned(), "succeeded".into()));
        return Done {
            outcome: Outcome::Success,
            attributes,
            rollback: None,
        };
    }
    attributes.push(("deployment.status".to_owned(), "failed".into()));
    let message = answer
        .error
        .unwrap_or_else(|| format!("the lab answered {status}"));
    let rollback = answer.kept_version.map(|kept| {
        let took = Duration::from_millis(answer.rollback_ms.unwrap_or(1));
        let now = SystemTime::now();
        Rollback {
            span_id: random_span_id(),
            start: now.checked_sub(took).unwrap_or(now),
            end: now,
            to_version: kept,
        }
    });
    Done {
        outcome: Outcome::Failure {
            error_type: "rollout_failed".to_owned(),
            message,
        },
        attributes,
        rollback,
    }
}

fn failure(error_type: &str, message: String) -> Done {
    Done {
        outcome: Outcome::Failure {
            error_type: error_type.to_owned(),
            message,
        },
        attributes: Vec::new(),
        rollback: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_control_urls_list_names_each_services_control_api() {
        let list = " api = http://api:8090/ ,frontend=http://frontend:8090";
        assert_eq!(
            control_url_in(list, "api").expect("listed").as_deref(),
            Some("http://api:8090")
        );
        assert_eq!(
            control_url_in(list, "frontend").expect("listed").as_deref(),
            Some("http://frontend:8090")
        );
        assert_eq!(control_url_in("  ", "api").expect("no list"), None);
        let error = control_url_in("api=http://api:8090", "frontend").expect_err("not listed");
        assert!(
            error
                .to_string()
                .contains("no control API for frontend (it names api)"),
            "{error}"
        );
        let error = control_url_in("api=api:8090", "api").expect_err("no scheme");
        assert!(error.to_string().contains("http://HOST:PORT"), "{error}");
    }
}
