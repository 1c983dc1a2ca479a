//! Reading a trace as the Tempo API returns it (`GET /api/traces/<id>`, OTLP/JSON): its spans
//! with the service that sent each, and a span's attribute, for tests that look at a whole
//! trace (a deploy's pipeline and the release it started).

use serde_json::Value;

/// Every span of a trace body, as `(service.name, span)` pairs; `None` when the body is not
/// a trace.
pub fn spans_by_service(trace: &Value) -> Option<Vec<(String, Value)>> {
    let mut spans = Vec::new();
    for batch in trace["resourceSpans"].as_array()? {
        let service = batch["resource"]["attributes"]
            .as_array()?
            .iter()
            .find(|a| a["key"] == "service.name")?["value"]["stringValue"]
            .as_str()?
            .to_owned();
        for scope in batch["scopeSpans"].as_array()? {
            for span in scope["spans"].as_array()? {
                spans.push((service.clone(), span.clone()));
            }
        }
    }
    Some(spans)
}

/// A span's string or integer attribute, as text.
pub fn attribute(span: &Value, key: &str) -> Option<String> {
    let value = &span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?["value"];
    value["stringValue"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| value["intValue"].as_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_trace_body_reads_as_spans_with_their_service() {
        let body = json!({"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]},
            "scopeSpans": [{"spans": [{"name": "start api", "attributes": [
                {"key": "deployment.name", "value": {"stringValue": "api"}},
                {"key": "dojo.tests.total", "value": {"intValue": "42"}}
            ]}]}]
        }]});
        let spans = spans_by_service(&body).expect("a trace");
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].0, "api");
        assert_eq!(
            attribute(&spans[0].1, "deployment.name").as_deref(),
            Some("api")
        );
        assert_eq!(
            attribute(&spans[0].1, "dojo.tests.total").as_deref(),
            Some("42")
        );
        assert_eq!(attribute(&spans[0].1, "missing"), None);
        assert!(spans_by_service(&json!({"error": "not found"})).is_none());
    }
}
