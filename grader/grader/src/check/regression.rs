//! Root-cause reports of a regression that came with a deploy: the truth names the release
//! that introduced the fault ([`DeploymentTruth`]), and the report must name that deployment
//! (its `deployment.id` or the version it rolled out) and cite traces from both sides of it —
//! one from before, where the service's older release handled the request healthily, and one
//! from after, where the new release shows the fault.
//!
//! A `deployment.id` is looked up in the pipeline's own traces (the `RUN deploy-…` span of the
//! run carries `deployment.id`, `deployment.name` and `deployment.version`), so a report that
//! names the wrong deploy is told which service and release that deploy rolled out.

use std::collections::BTreeSet;
use std::time::Duration;

use dojo_traceql::model::{Trace, Value, attribute};

use super::GradeError;
use super::feedback::Item;
use super::traceql::search_all;
use crate::backend::{TraceBackend, Window};
use crate::spec::types::{DeploymentTruth, GroundTruth};

/// How far back a named deployment is looked for: the lab's recorded history spans six days,
/// and Tempo searches at most 168 hours at once.
const DEPLOYMENTS_LOOKBACK: Duration = Duration::from_secs(7 * 24 * 3600 - 60);

/// The lab's one release-version type (`dojo deploy` and the faults read versions with it too).
pub use dojo_faults::ReleaseVersion;

/// Which side of the deploy a cited trace is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Side {
    /// The service ran an older release here (these versions) and the request was healthy.
    Before(Vec<String>),
    /// The new release shows the fault here.
    After,
    /// Neither: the service is not in the trace, or the new release is healthy here.
    Neither,
}

/// The `service.version`s of `service`'s spans in a trace.
fn versions_of(trace: &Trace, service: &str) -> BTreeSet<String> {
    trace
        .spans
        .iter()
        .filter(|span| span.service_name() == Some(service))
        .filter_map(
            |span| match attribute(&span.resource.attributes, "service.version") {
                Some(Value::Str(version)) => Some(version.to_string()),
                _ => None,
            },
        )
        .collect()
}

/// The side of the deploy `trace` is on, given whether it shows the fault.
pub fn side(trace: &Trace, truth: &GroundTruth, deployment: &DeploymentTruth, shows: bool) -> Side {
    let versions = versions_of(trace, &truth.service);
    let new = ReleaseVersion::parse(&deployment.version).ok();
    let is_new = |v: &String| ReleaseVersion::parse(v).is_ok_and(|v| Some(v) == new);
    if shows && versions.iter().any(is_new) {
        Side::After
    } else if !shows && !versions.is_empty() && !versions.iter().any(is_new) {
        Side::Before(versions.into_iter().collect())
    } else {
        Side::Neither
    }
}

/// The item for a cited trace from before the deploy.
pub fn before_item(title: String, service: &str, versions: &[String]) -> Item {
    Item::pass(
        title,
        format!(
            "From before the deploy: `{service}` ran {} here and the request was healthy.",
            versions
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
}

/// Whether the evidence covers both sides of the deploy, saying which side is missing.
pub fn sides_item(truth: &GroundTruth, before: usize, after: usize) -> Item {
    const TITLE: &str = "Both sides of the deploy";
    let service = &truth.service;
    match (before > 0, after > 0) {
        (true, true) => Item::pass(
            TITLE,
            format!(
                "You cite {before} trace{} from before the deploy and {after} from after it: the \
                 change of release is what changed the behaviour.",
                if before == 1 { "" } else { "s" }
            ),
        ),
        (false, true) => Item::fail(
            TITLE,
            format!(
                "Every trace you cite is from after the deploy. Also cite one from before it: a \
                 healthy request of the same kind, served by `{service}`'s previous release (its \
                 spans carry another `resource.service.version`). Without it, the traces do not \
                 show that the deploy brought the fault."
            ),
        ),
        (true, false) => Item::fail(
            TITLE,
            "No trace you cite is from after the deploy showing the fault: cite one where the \
             new release's spans show the problem, beside the healthy one from before.",
        ),
        (false, false) => Item::fail(
            TITLE,
            format!(
                "Cite two kinds of traces: one from before the deploy (`{service}`'s previous \
                 release, a healthy request) and one from after it (the new release, showing the \
                 fault). Compare `resource.service.version` on the spans."
            ),
        ),
    }
}

/// What a named deploy rolled out, read from its pipeline run.
struct Deployed {
    service: String,
    version: String,
    succeeded: bool,
}

/// Checks the deployment the report names: the truth's version, or the `deployment.id` of the
/// run that rolled it out.
pub async fn naming_item(
    backend: &dyn TraceBackend,
    tenant: Option<&str>,
    truth: &GroundTruth,
    deployment: &DeploymentTruth,
    named: &str,
) -> Result<(bool, Item), GradeError> {
    const TITLE: &str = "Deployment";
    let named = named.trim();
    let service = &truth.service;
    let right = ReleaseVersion::parse(&deployment.version).ok();
    if named.is_empty() {
        return Ok((
            false,
            Item::fail(
                TITLE,
                "Name the deployment that introduced the regression: its `deployment.id` (on the \
                 pipeline run's spans and on every span of the release it started) or the \
                 version it rolled out.",
            ),
        ));
    }
    let (deployed, shown) = if let Ok(version) = ReleaseVersion::parse(named) {
        (
            Deployed {
                service: service.clone(),
                version: version.to_string(),
                succeeded: true,
            },
            format!("`{named}`"),
        )
    } else if !is_plain_id(named) {
        return Ok((
            false,
            Item::fail(
                TITLE,
                format!(
                    "`{named}` is neither a `deployment.id` nor a release version. Copy the id \
                     from the pipeline run (`span.deployment.id`), or write the version like \
                     `1.4.0`."
                ),
            ),
        ));
    } else {
        match lookup(backend, tenant, named).await? {
            Some(deployed) => (deployed, format!("`{named}`")),
            None => {
                return Ok((
                    false,
                    Item::fail(
                        TITLE,
                        format!(
                            "No pipeline run in the traces has `deployment.id = \"{named}\"`. \
                             Copy the id from the run that rolled the change out (or name the \
                             version it rolled out)."
                        ),
                    ),
                ));
            }
        }
    };
    let version = ReleaseVersion::parse(&deployed.version).ok();
    let what = if shown.contains(&deployed.version) {
        shown.clone()
    } else {
        format!("{shown} ({} {})", deployed.service, deployed.version)
    };
    let verdict = if deployed.service != *service {
        Err(format!(
            "{what} rolled out `{}`, not the service whose release brought the fault. Which \
             service's spans change behaviour, and from which version on?",
            deployed.service
        ))
    } else if !deployed.succeeded {
        Err(format!(
            "{what} never served traffic: its pipeline run failed, so that release never \
             replaced the one running."
        ))
    } else if version.is_some() && version == right {
        Ok(format!(
            "{what} is the deploy after which the fault appears."
        ))
    } else if version < right {
        Err(format!(
            "{what} is an earlier release of `{service}` than the one that introduced the \
             regression: requests it served are healthy. Look at the version on the spans that \
             show the fault, and find the deploy that rolled it out."
        ))
    } else {
        Err(format!(
            "{what} came after the regression: the fault was already there before it. Look at \
             the version on the first spans that show the fault."
        ))
    };
    Ok(match verdict {
        Ok(message) => (true, Item::pass(TITLE, message)),
        Err(message) => (false, Item::fail(TITLE, message)),
    })
}

/// Letters, digits, dashes, dots and underscores: safe inside a TraceQL string.
fn is_plain_id(text: &str) -> bool {
    text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The pipeline run whose `deployment.id` is `id`, if the traces have it.
async fn lookup(
    backend: &dyn TraceBackend,
    tenant: Option<&str>,
    id: &str,
) -> Result<Option<Deployed>, GradeError> {
    let query = format!(r#"{{ span.deployment.id = "{id}" && span.deployment.name != nil }}"#);
    let window = Window::ending_now(DEPLOYMENTS_LOOKBACK, Duration::ZERO);
    let Some(hit) = search_all(backend, tenant, &query, window, 1)
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let Some(trace) = backend
        .trace_by_id(tenant, hit.trace_id)
        .await
        .map_err(GradeError::Backend)?
    else {
        return Ok(None);
    };
    let text = |span: &dojo_traceql::model::Span, key: &str| match attribute(&span.attributes, key)
    {
        Some(Value::Str(value)) => Some(value.to_string()),
        _ => None,
    };
    Ok(trace
        .spans
        .iter()
        .find(|span| {
            text(span, "deployment.id").as_deref() == Some(id) && span.parent_span_id.is_none()
        })
        .or_else(|| {
            trace
                .spans
                .iter()
                .find(|span| text(span, "deployment.id").as_deref() == Some(id))
        })
        .and_then(|span| {
            Some(Deployed {
                service: text(span, "deployment.name")?,
                version: text(span, "deployment.version")?,
                succeeded: text(span, "cicd.pipeline.result").is_none_or(|r| r == "success"),
            })
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_versions_parse_and_compare_numerically() {
        let v = |t| ReleaseVersion::parse(t).ok();
        assert_eq!(
            v("v1.10.0").map(|v| v.to_string()).as_deref(),
            Some("1.10.0")
        );
        assert!(v("1.10.0") > v("1.9.3"));
        for bad in ["1.4", "1.4.0.1", "latest", "1.x.0", "", "1..0"] {
            assert_eq!(v(bad), None, "{bad:?}");
        }
    }
}
