//! A learner's dashboard as Grafana dashboard JSON: one time-series panel per saved panel, each
//! a TraceQL metrics query against the Tempo datasource that compose and k8s provision (same
//! uid), in the learner's order, two panels a row. Dropped into
//! `compose/grafana/learner-dashboards/`, Grafana shows it in its "My dashboards" folder.

use serde_json::{Value as Json, json};

use crate::dashboards::{Panel, Unit};

/// The dashboard JSON model version this is written for (Grafana 11 and 12 read it and
/// migrate older ones forward).
pub const SCHEMA_VERSION: u64 = 39;
/// Grafana's longest dashboard uid.
const MAX_UID_CHARS: usize = 40;

/// Grafana's unit id for a panel's unit.
fn grafana_unit(unit: Unit) -> &'static str {
    match unit {
        Unit::Count => "short",
        Unit::PerSecond => "reqps",
        Unit::Seconds => "s",
        Unit::Percent => "percentunit",
    }
}

/// A dashboard uid from the learner's id: `dojo-<id>`, cut to Grafana's limit, only the
/// characters Grafana allows in a uid.
pub fn dashboard_uid(learner_id: &str) -> String {
    let cleaned: String = learner_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("dojo-{cleaned}")
        .chars()
        .take(MAX_UID_CHARS)
        .collect()
}

/// The dashboard JSON of `panels`, titled after the learner.
pub fn dashboard(learner_name: &str, learner_id: &str, panels: &[Panel]) -> Json {
    let datasource = json!({
        "type": "tempo",
        "uid": dojo_defaults::GRAFANA_TEMPO_DATASOURCE_UID,
    });
    let panels: Vec<Json> = panels
        .iter()
        .enumerate()
        .map(|(i, panel)| {
            json!({
                "id": i + 1,
                "type": "timeseries",
                "title": panel.title,
                "datasource": datasource,
                "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i / 2) * 8},
                "fieldConfig": {
                    "defaults": {"unit": grafana_unit(panel.unit)},
                    "overrides": [],
                },
                "options": {
                    "legend": {"displayMode": "list", "placement": "bottom", "showLegend": true},
                    "tooltip": {"mode": "multi", "sort": "desc"},
                },
                "targets": [{
                    "refId": "A",
                    "datasource": datasource,
                    "queryType": "traceql",
                    "query": panel.query,
                    "metricsQueryType": "range",
                    "limit": 20,
                    "tableType": "traces",
                }],
            })
        })
        .collect();
    json!({
        "uid": dashboard_uid(learner_id),
        "title": format!("Tracing Dojo — {learner_name}'s dashboard"),
        "description": "Exported from the Tracing Dojo course: TraceQL metrics panels against the Tempo datasource.",
        "tags": ["tracing-dojo", "learner"],
        "timezone": "browser",
        "editable": true,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-15m", "to": "now"},
        "panels": panels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uid_keeps_to_grafanas_characters_and_length() {
        assert_eq!(dashboard_uid("ada-1f2e"), "dojo-ada-1f2e");
        assert_eq!(dashboard_uid("a b/c"), "dojo-a-b-c");
        assert_eq!(dashboard_uid(&"x".repeat(60)).chars().count(), 40);
    }

    #[test]
    fn panels_are_laid_out_two_a_row_in_order() {
        let panels: Vec<Panel> = (0..3)
            .map(|n| Panel {
                id: n,
                title: format!("p{n}"),
                query: "{ } | rate()".into(),
                unit: Unit::Seconds,
            })
            .collect();
        let json = dashboard("Ada", "ada", &panels);
        let grid: Vec<(u64, u64)> = json["panels"]
            .as_array()
            .expect("panels")
            .iter()
            .map(|p| {
                (
                    p["gridPos"]["x"].as_u64().expect("x"),
                    p["gridPos"]["y"].as_u64().expect("y"),
                )
            })
            .collect();
        assert_eq!(grid, vec![(0, 0), (12, 0), (0, 8)]);
        assert_eq!(json["panels"][2]["fieldConfig"]["defaults"]["unit"], "s");
    }
}
