//! Grafana provisioning: datasources and dashboards, and whether they point at each other.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::Value as Json;
use serde_yaml::Value;

use crate::DeployError;

/// A datasource provisioning file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Datasources {
    pub api_version: u32,
    pub datasources: Vec<Datasource>,
}

/// One provisioned datasource.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Datasource {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub uid: String,
    pub access: String,
    pub url: String,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub editable: bool,
    #[serde(default)]
    pub json_data: Option<Value>,
    #[serde(default)]
    pub secure_json_data: Option<Value>,
}

/// Parses a datasource provisioning file.
pub fn parse_datasources(text: &str, place: &str) -> Result<Datasources, DeployError> {
    serde_yaml::from_str(text).map_err(|source| DeployError::Yaml {
        place: place.to_owned(),
        what: "a Grafana datasource provisioning file",
        source,
    })
}

impl Datasources {
    /// The uids defined here.
    pub fn uids(&self) -> BTreeSet<&str> {
        self.datasources.iter().map(|d| d.uid.as_str()).collect()
    }

    /// Datasource links (traces-to-metrics, traces-to-logs, service map, exemplars, a log line's
    /// derived trace link) that point at a uid not defined here, Tempo datasources with
    /// streaming on or without a service map or logs link, and uids used twice.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let uids = self.uids();
        if uids.len() != self.datasources.len() {
            problems.push("two datasources share a uid".to_owned());
        }
        for datasource in &self.datasources {
            let json = datasource.json_data.as_ref();
            let links = [
                json.and_then(|j| j.get("tracesToMetrics")?.get("datasourceUid")),
                json.and_then(|j| j.get("tracesToLogsV2")?.get("datasourceUid")),
                json.and_then(|j| j.get("serviceMap")?.get("datasourceUid")),
            ];
            let listed = |key: &'static str| {
                json.and_then(move |j| j.get(key)?.as_sequence())
                    .into_iter()
                    .flatten()
                    .map(|destination| destination.get("datasourceUid"))
            };
            let exemplars = listed("exemplarTraceIdDestinations");
            let derived = listed("derivedFields");
            for link in links.into_iter().chain(exemplars).chain(derived).flatten() {
                match link.as_str() {
                    Some(uid) if uids.contains(uid) => {}
                    other => problems.push(format!(
                        "datasource `{}` links to uid {other:?}, which is not provisioned",
                        datasource.name
                    )),
                }
            }
            if datasource.kind == "tempo" {
                if json.and_then(|j| j.get("serviceMap")).is_none() {
                    problems.push(format!(
                        "Tempo datasource `{}` has no service map",
                        datasource.name
                    ));
                }
                if json.and_then(|j| j.get("tracesToLogsV2")).is_none() {
                    problems.push(format!(
                        "Tempo datasource `{}` has no traces-to-logs",
                        datasource.name
                    ));
                }
                if json.and_then(|j| j.get("tracesToMetrics")).is_none() {
                    problems.push(format!(
                        "Tempo datasource `{}` has no traces-to-metrics",
                        datasource.name
                    ));
                }
                let streaming = json.and_then(|j| j.get("streamingEnabled"));
                for what in ["search", "metrics"] {
                    if streaming.and_then(|s| s.get(what)).and_then(Value::as_bool) != Some(false) {
                        problems.push(format!(
                            "Tempo datasource `{}` must set streamingEnabled.{what}: false",
                            datasource.name
                        ));
                    }
                }
            }
        }
        problems
    }
}

/// Parses a dashboard JSON file.
pub fn parse_dashboard(text: &str, place: &str) -> Result<Json, DeployError> {
    serde_json::from_str(text).map_err(|source| DeployError::Json {
        place: place.to_owned(),
        what: "a Grafana dashboard",
        source,
    })
}

/// Every datasource uid a dashboard refers to (panels and their targets).
pub fn dashboard_datasource_uids(dashboard: &Json) -> BTreeSet<String> {
    fn walk(value: &Json, found: &mut BTreeSet<String>) {
        match value {
            Json::Object(map) => {
                if let Some(uid) = map
                    .get("datasource")
                    .and_then(|d| d.get("uid"))
                    .and_then(Json::as_str)
                {
                    found.insert(uid.to_owned());
                }
                map.values().for_each(|v| walk(v, found));
            }
            Json::Array(items) => items.iter().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let mut found = BTreeSet::new();
    walk(dashboard, &mut found);
    found
}

/// Every PromQL expression in a dashboard (the `expr` of each target).
pub fn dashboard_exprs(dashboard: &Json) -> Vec<String> {
    fn walk(value: &Json, found: &mut Vec<String>) {
        match value {
            Json::Object(map) => {
                if let Some(expr) = map.get("expr").and_then(Json::as_str) {
                    found.push(expr.to_owned());
                }
                map.values().for_each(|v| walk(v, found));
            }
            Json::Array(items) => items.iter().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(dashboard, &mut found);
    found
}

impl Datasources {
    /// The traces-to-metrics queries of every Tempo datasource, and the metric labels its span
    /// tags map to.
    pub fn traces_to_metrics(&self) -> (Vec<String>, Vec<String>) {
        let mut queries = Vec::new();
        let mut labels = Vec::new();
        for datasource in &self.datasources {
            let Some(links) = datasource
                .json_data
                .as_ref()
                .and_then(|j| j.get("tracesToMetrics"))
            else {
                continue;
            };
            for query in links
                .get("queries")
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
            {
                if let Some(text) = query.get("query").and_then(Value::as_str) {
                    queries.push(text.to_owned());
                }
            }
            for tag in links
                .get("tags")
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
            {
                if let Some(label) = tag.get("value").and_then(Value::as_str) {
                    labels.push(label.to_owned());
                }
            }
        }
        (queries, labels)
    }

    /// The label names Prometheus datasources read an exemplar's trace id from.
    pub fn exemplar_trace_id_labels(&self) -> Vec<String> {
        self.datasources
            .iter()
            .filter(|d| d.kind == "prometheus")
            .filter_map(|d| {
                d.json_data
                    .as_ref()?
                    .get("exemplarTraceIdDestinations")?
                    .as_sequence()
            })
            .flatten()
            .filter_map(|destination| destination.get("name")?.as_str().map(str::to_owned))
            .collect()
    }
}
