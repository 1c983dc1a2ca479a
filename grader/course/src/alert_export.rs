//! A learner's alert rules for the real stack: [`grafana_provisioning`] writes Grafana's alerting
//! file provisioning (`apiVersion: 1`, one group of rules in a folder, each rule the TraceQL
//! metrics query against compose's Tempo datasource as an instant query over the same window
//! as the course's, with a threshold expression as its condition), to drop into
//! `compose/grafana/provisioning/alerting/`. [`prometheus_rule`] writes the same rule over
//! the span metrics the compose collector sends Prometheus, where the query maps onto them: a
//! single `{ … } | rate()` or `| quantile_over_time(duration, q)` whose filter only names the
//! service, span name, kind and status (the spanmetrics connector's dimensions), grouped by
//! those only.

use serde_json::{Value as Json, json};

use dojo_traceql::ast::{
    AttrScope, BinOp, CmpOp, Expr, ExprKind, FieldRef, Intrinsic, MetricsExpr, MetricsFunction,
    SpansetExpr, Stage, Static,
};

use crate::alert_evaluation::{LOOKBACK, SETTLE};
use crate::alerts::{SavedRule, format_for};
use dojo_grader::alerting::Condition;

/// The folder exported rules appear in, in Grafana.
pub const FOLDER: &str = "Tracing Dojo alerts";
/// Grafana's longest rule uid.
const MAX_UID_CHARS: usize = 40;

fn uid_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// A rule's uid: `dojo-<learner>-<rule id>`, within Grafana's length and characters.
pub fn rule_uid(learner_id: &str, rule_id: i64) -> String {
    let suffix = format!("-{rule_id}");
    let head: String = format!("dojo-{}", uid_part(learner_id))
        .chars()
        .take(MAX_UID_CHARS - suffix.len())
        .collect();
    format!("{head}{suffix}")
}

/// Grafana's name for a threshold evaluator.
fn evaluator(condition: Condition) -> &'static str {
    match condition {
        Condition::Above => "gt",
        Condition::Below => "lt",
    }
}

/// Grafana alerting provisioning (YAML) for `rules`, evaluated every `interval`.
pub fn grafana_provisioning(
    learner_name: &str,
    learner_id: &str,
    rules: &[SavedRule],
    interval: std::time::Duration,
) -> String {
    let rules: Vec<Json> = rules
        .iter()
        .map(|saved| {
            let rule = &saved.rule;
            json!({
                "uid": rule_uid(learner_id, saved.id),
                "title": saved.name,
                "condition": "C",
                "data": [
                    {
                        "refId": "A",
                        "relativeTimeRange": {"from": (LOOKBACK + SETTLE).as_secs(), "to": SETTLE.as_secs()},
                        "datasourceUid": dojo_defaults::GRAFANA_TEMPO_DATASOURCE_UID,
                        "model": {
                            "refId": "A",
                            "datasource": {"type": "tempo", "uid": dojo_defaults::GRAFANA_TEMPO_DATASOURCE_UID},
                            "queryType": "traceql",
                            "query": rule.query,
                            "metricsQueryType": "instant",
                        },
                    },
                    {
                        "refId": "B",
                        "datasourceUid": "__expr__",
                        "model": {
                            "refId": "B",
                            "type": "reduce",
                            "expression": "A",
                            "reducer": "last",
                            "settings": {"mode": "dropNN"},
                        },
                    },
                    {
                        "refId": "C",
                        "datasourceUid": "__expr__",
                        "model": {
                            "refId": "C",
                            "type": "threshold",
                            "expression": "B",
                            "conditions": [{
                                "evaluator": {"type": evaluator(rule.condition), "params": [rule.threshold]},
                            }],
                        },
                    },
                ],
                "noDataState": "OK",
                "execErrState": "Error",
                "for": format_for(rule.for_duration),
                "labels": {"severity": rule.severity.name(), "learner": learner_id},
                "annotations": {
                    "summary": format!(
                        "{}: {} {} {}",
                        saved.name,
                        rule.query,
                        rule.condition.name(),
                        rule.threshold
                    ),
                },
            })
        })
        .collect();
    let document = json!({
        "apiVersion": 1,
        "groups": [{
            "orgId": 1,
            "name": format!("{learner_name}'s alerts"),
            "folder": FOLDER,
            "interval": format_for(interval),
            "rules": rules,
        }],
    });
    let yaml = serde_yaml::to_string(&document).unwrap_or_default();
    format!(
        "# Alert rules exported from the Tracing Dojo course for {learner_name}.\n\
         # Save this file into compose/grafana/provisioning/alerting/ and restart Grafana\n\
         # (docker compose restart grafana): the rules appear under Alerting → Alert rules,\n\
         # in the folder \"{FOLDER}\", against the Tempo datasource.\n{yaml}"
    )
}

/// The spanmetrics label a TraceQL field maps to, when it is one of the connector's
/// dimensions.
fn label_of(field: &FieldRef) -> Option<&'static str> {
    match field {
        FieldRef::Attribute { scope, name }
            if name == "service.name" && matches!(scope, AttrScope::Resource | AttrScope::None) =>
        {
            Some("service_name")
        }
        FieldRef::Intrinsic(Intrinsic::Name) => Some("span_name"),
        FieldRef::Intrinsic(Intrinsic::Kind) => Some("span_kind"),
        FieldRef::Intrinsic(Intrinsic::Status) => Some("status_code"),
        _ => None,
    }
}

/// The label value as the collector writes it.
fn label_value(label: &str, value: &Static) -> Option<String> {
    match (label, value) {
        ("service_name" | "span_name", Static::Str(text)) => Some(text.clone()),
        ("span_kind", Static::Kind(kind)) => Some(format!(
            "SPAN_KIND_{}",
            format!("{kind:?}").to_ascii_uppercase()
        )),
        ("status_code", Static::Status(status)) => Some(format!(
            "STATUS_CODE_{}",
            format!("{status:?}").to_ascii_uppercase()
        )),
        _ => None,
    }
}

/// The matchers of a filter made of `field = value` joined by `&&`; `None` when it has
/// anything else.
fn matchers(expr: &Expr, out: &mut Vec<(String, &'static str, String)>) -> Option<()> {
    match &expr.kind {
        ExprKind::Paren(inner) => matchers(inner, out),
        ExprKind::Static(Static::Bool(true)) => Some(()),
        ExprKind::Binary {
            op: BinOp::And,
            lhs,
            rhs,
        } => {
            matchers(lhs, out)?;
            matchers(rhs, out)
        }
        ExprKind::Binary {
            op: BinOp::Cmp(cmp @ (CmpOp::Eq | CmpOp::Neq)),
            lhs,
            rhs,
        } => {
            let (ExprKind::Field(field), ExprKind::Static(value)) = (&lhs.kind, &rhs.kind) else {
                return None;
            };
            let label = label_of(field)?;
            let op = if *cmp == CmpOp::Eq { "=" } else { "!=" };
            out.push((label.to_string(), op, label_value(label, value)?));
            Some(())
        }
        _ => None,
    }
}

/// The PromQL over compose's span metrics equal to `query`, when there is one.
pub fn promql(query: &str) -> Option<String> {
    let parsed = dojo_traceql::parse(query).ok()?;
    let metrics = parsed.metrics()?;
    if !metrics.stages.is_empty() {
        return None;
    }
    let MetricsExpr::Aggregate(aggregate) = &metrics.expr else {
        return None;
    };
    let [Stage::Spans(SpansetExpr::Filter(filter))] = aggregate.input.stages.as_slice() else {
        return None;
    };
    let mut found = Vec::new();
    matchers(&filter.expr, &mut found)?;
    let selector = found
        .iter()
        .map(|(label, op, value)| format!("{label}{op}{}", serde_json::Value::from(value.as_str())))
        .collect::<Vec<_>>()
        .join(", ");
    let by = aggregate
        .by
        .iter()
        .map(label_of)
        .collect::<Option<Vec<_>>>()?;
    let window = format!("{}s", LOOKBACK.as_secs());
    match &aggregate.function {
        MetricsFunction::Rate if by.is_empty() => Some(format!(
            "sum(rate(traces_spanmetrics_calls_total{{{selector}}}[{window}]))"
        )),
        MetricsFunction::Rate => Some(format!(
            "sum by ({}) (rate(traces_spanmetrics_calls_total{{{selector}}}[{window}]))",
            by.join(", ")
        )),
        MetricsFunction::QuantileOverTime(FieldRef::Intrinsic(Intrinsic::Duration), qs)
            if qs.len() == 1 =>
        {
            let mut grouping = vec!["le"];
            grouping.extend(by);
            Some(format!(
                "histogram_quantile({}, sum by ({}) (rate(traces_spanmetrics_duration_seconds_bucket{{{selector}}}[{window}])))",
                qs[0],
                grouping.join(", ")
            ))
        }
        _ => None,
    }
}

/// A Prometheus rule file (YAML) for `saved`, when its query maps onto the span metrics.
pub fn prometheus_rule(learner_id: &str, saved: &SavedRule) -> Option<String> {
    let expr = promql(&saved.rule.query)?;
    let op = match saved.rule.condition {
        Condition::Above => ">",
        Condition::Below => "<",
    };
    let document = json!({
        "groups": [{
            "name": format!("tracing-dojo-{}", uid_part(learner_id)),
            "rules": [{
                "alert": alert_name(&saved.name),
                "expr": format!("{expr} {op} {}", saved.rule.threshold),
                "for": format_for(saved.rule.for_duration),
                "labels": {"severity": saved.rule.severity.name(), "learner": learner_id},
                "annotations": {"summary": saved.name, "traceql": saved.rule.query},
            }],
        }],
    });
    Some(serde_yaml::to_string(&document).unwrap_or_default())
}

/// A Prometheus alert name (`[a-zA-Z_][a-zA-Z0-9_]*`) from the rule's name: `CheckoutErrors`.
fn alert_name(name: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(if upper { c.to_ascii_uppercase() } else { c });
            upper = false;
        } else {
            upper = true;
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "Dojo");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use dojo_grader::alerting::{AlertRule, Severity};

    use super::*;

    fn saved(id: i64, name: &str, query: &str, condition: Condition) -> SavedRule {
        SavedRule {
            id,
            name: name.into(),
            rule: AlertRule {
                query: query.into(),
                condition,
                threshold: 0.5,
                for_duration: Duration::from_secs(90),
                severity: Severity::Critical,
            },
        }
    }

    #[test]
    fn the_grafana_provisioning_has_every_required_field_and_a_threshold_condition() {
        let rules = vec![
            saved(
                7,
                "Checkout errors",
                "{ status = error } | rate()",
                Condition::Above,
            ),
            saved(
                8,
                "Slow payments",
                "{ kind = client } | quantile_over_time(duration, .95)",
                Condition::Below,
            ),
        ];
        let text = grafana_provisioning("Ada", "ada-1", &rules, Duration::from_secs(15));
        let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("the export is YAML");
        assert_eq!(yaml["apiVersion"], serde_yaml::Value::from(1));
        let group = &yaml["groups"][0];
        assert_eq!(group["folder"].as_str(), Some(FOLDER));
        assert_eq!(group["interval"].as_str(), Some("15s"));
        assert_eq!(group["orgId"].as_u64(), Some(1));
        let rules = group["rules"].as_sequence().expect("rules");
        assert_eq!(rules.len(), 2);
        for (rule, (uid, evaluator)) in rules
            .iter()
            .zip([("dojo-ada-1-7", "gt"), ("dojo-ada-1-8", "lt")])
        {
            for field in [
                "uid",
                "title",
                "condition",
                "data",
                "for",
                "noDataState",
                "execErrState",
            ] {
                assert!(!rule[field].is_null(), "{field} is missing from {rule:?}");
            }
            assert_eq!(rule["uid"].as_str(), Some(uid));
            assert_eq!(rule["for"].as_str(), Some("1m30s"));
            assert_eq!(rule["labels"]["severity"].as_str(), Some("critical"));
            let data = rule["data"].as_sequence().expect("data");
            let query = &data[0];
            assert_eq!(
                query["datasourceUid"].as_str(),
                Some(dojo_defaults::GRAFANA_TEMPO_DATASOURCE_UID)
            );
            let traceql = query["model"]["query"].as_str().expect("the query");
            assert!(
                dojo_traceql::parse(traceql)
                    .expect("the exported query parses")
                    .is_metrics()
            );
            let condition = rule["condition"].as_str().expect("a condition");
            let threshold = data
                .iter()
                .find(|d| d["refId"].as_str() == Some(condition))
                .expect("the condition names one of the rule's expressions");
            assert_eq!(threshold["model"]["type"].as_str(), Some("threshold"));
            let evaluated = &threshold["model"]["conditions"][0]["evaluator"];
            assert_eq!(evaluated["type"].as_str(), Some(evaluator));
            assert_eq!(evaluated["params"][0].as_f64(), Some(0.5));
            let reduced = threshold["model"]["expression"]
                .as_str()
                .expect("reads another");
            let reduce = data
                .iter()
                .find(|d| d["refId"].as_str() == Some(reduced))
                .expect("the reduce");
            assert_eq!(reduce["model"]["expression"].as_str(), Some("A"));
            assert_eq!(query["model"]["metricsQueryType"].as_str(), Some("instant"));
        }
    }

    #[test]
    fn queries_on_the_span_metrics_dimensions_map_to_promql_and_others_do_not() {
        let cases = [
            (
                r#"{ resource.service.name = "frontend" && status = error } | rate()"#,
                Some(
                    r#"sum(rate(traces_spanmetrics_calls_total{service_name="frontend", status_code="STATUS_CODE_ERROR"}[60s]))"#,
                ),
            ),
            (
                r#"{ kind = client && name = "POST /pay" } | quantile_over_time(duration, .95) by (resource.service.name)"#,
                Some(
                    r#"histogram_quantile(0.95, sum by (le, service_name) (rate(traces_spanmetrics_duration_seconds_bucket{span_kind="SPAN_KIND_CLIENT", span_name="POST /pay"}[60s])))"#,
                ),
            ),
            (r#"{ span.http.route = "/checkout" } | rate()"#, None),
            (r#"{ duration > 1s } | rate()"#, None),
            (r#"{ } | rate() by (span.http.route)"#, None),
            (r#"{ } | count_over_time()"#, None),
            (r#"{ } | quantile_over_time(duration, .5, .95)"#, None),
            (r#"{ status = error } | rate() | topk(1)"#, None),
        ];
        for (query, expected) in cases {
            assert_eq!(promql(query).as_deref(), expected, "{query}");
        }
    }

    #[test]
    fn a_prometheus_rule_file_names_the_alert_and_compares_with_the_threshold() {
        let rule = saved(
            3,
            "checkout error-rate",
            "{ status = error } | rate()",
            Condition::Above,
        );
        let text = prometheus_rule("ada", &rule).expect("maps");
        let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("YAML");
        let alert = &yaml["groups"][0]["rules"][0];
        assert_eq!(alert["alert"].as_str(), Some("CheckoutErrorRate"));
        assert!(
            alert["expr"].as_str().expect("expr").ends_with(") > 0.5"),
            "{alert:?}"
        );
        assert_eq!(alert["for"].as_str(), Some("1m30s"));
        assert!(
            prometheus_rule(
                "ada",
                &saved(4, "x", "{ span.a = 1 } | rate()", Condition::Above)
            )
            .is_none()
        );
    }
}
