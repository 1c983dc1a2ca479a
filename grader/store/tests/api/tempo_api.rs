//! The Tempo HTTP API: shapes as Grafana expects them, ids as Tempo reads them, errors with
//! Tempo's status codes, and tenants kept apart.

use base64::Engine as _;
use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message;

use crate::helpers::{TestStore, checkout_trace, minutes_ago, trace_hex};

async fn shop() -> TestStore {
    let app = TestStore::start().await;
    for n in 1..=3 {
        let (frontend, api) = checkout_trace(n, minutes_ago(10 - u64::from(n)));
        // The api's batch arrives first: traces are assembled in any order.
        assert_eq!(app.post_protobuf(&api, None).await.status(), 200);
        assert_eq!(app.post_protobuf(&frontend, None).await.status(), 200);
    }
    app
}

#[tokio::test]
async fn health_and_info_endpoints_answer_like_tempo() {
    let app = TestStore::start().await;
    assert_eq!(app.get("/ready", None).await, (200, "ready".to_string()));
    assert_eq!(app.get("/api/echo", None).await, (200, "echo".to_string()));
    let info = app.get_json("/api/status/buildinfo", None).await;
    assert!(info["version"].is_string());
}

#[tokio::test]
async fn a_trace_is_read_back_with_tempos_json_conventions() {
    let app = shop().await;
    let trace = app
        .get_json(&format!("/api/traces/{}", trace_hex(1)), None)
        .await;
    let batches = trace["resourceSpans"].as_array().expect("resourceSpans");
    assert_eq!(batches.len(), 2, "one batch per service");
    let spans: Vec<&serde_json::Value> = batches
        .iter()
        .flat_map(|b| b["scopeSpans"][0]["spans"].as_array().unwrap())
        .collect();
    assert_eq!(spans.len(), 4);
    let root = spans
        .iter()
        .find(|s| s["name"] == "GET /checkout")
        .expect("the root span");
    assert_eq!(root["kind"], "SPAN_KIND_SERVER");
    assert!(
        root["startTimeUnixNano"].is_string(),
        "64-bit integers are strings"
    );
    assert!(
        root.get("parentSpanId").is_none(),
        "a root has no parent field"
    );
    let id = base64::engine::general_purpose::STANDARD
        .decode(root["traceId"].as_str().unwrap())
        .unwrap();
    assert_eq!(hex::encode(id), trace_hex(1), "ids are base64");
    let status_code = root["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == "http.response.status_code")
        .unwrap();
    assert_eq!(status_code["value"]["intValue"], "500");
    let query = spans.iter().find(|s| s["name"] == "SELECT orders").unwrap();
    assert_eq!(query["status"]["code"], "STATUS_CODE_ERROR");
}

#[tokio::test]
async fn trace_ids_are_accepted_short_and_in_upper_case() {
    let app = shop().await;
    let full = trace_hex(2);
    let short = full.trim_start_matches('0').to_uppercase();
    assert_ne!(short.len(), 32);
    for id in [full.clone(), full.to_uppercase(), short] {
        let (status, _) = app.get(&format!("/api/traces/{id}"), None).await;
        assert_eq!(status, 200, "id {id}");
    }
}

#[tokio::test]
async fn unknown_traces_get_404_with_an_empty_body_and_bad_ids_get_400() {
    let app = shop().await;
    assert_eq!(
        app.get("/api/traces/abcdef", None).await,
        (404, String::new())
    );
    assert_eq!(app.get("/api/v2/traces/abcdef", None).await.0, 404);
    let (status, body) = app.get("/api/traces/not-hex", None).await;
    assert_eq!(status, 400);
    assert!(body.contains("hexadecimal"), "{body}");
    assert_eq!(
        app.get(&format!("/api/traces/{}", "f".repeat(33)), None)
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn grafanas_protobuf_request_gets_otlp_traces_data() {
    let app = shop().await;
    let response = app
        .client
        .get(app.api(&format!("/api/traces/{}", trace_hex(3))))
        .header("accept", "application/protobuf")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/protobuf");
    let data = TracesData::decode(response.bytes().await.unwrap()).expect("TracesData");
    let spans: usize = data
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    assert_eq!(spans, 4);
}

#[tokio::test]
async fn v2_wraps_the_trace_and_its_q_trims_it_to_matching_spans() {
    let app = shop().await;
    let whole = app
        .get_json(&format!("/api/v2/traces/{}", trace_hex(1)), None)
        .await;
    assert!(whole["trace"]["resourceSpans"].is_array());
    assert!(whole["metrics"]["inspectedBytes"].is_string());
    assert!(whole.get("status").is_none());
    let q = urlencode("{ status = error }");
    let trimmed = app
        .get_json(&format!("/api/v2/traces/{}?q={q}", trace_hex(1)), None)
        .await;
    assert_eq!(trimmed["status"], "PARTIAL");
    let batches = trimmed["trace"]["resourceSpans"].as_array().unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(
        batches[0]["scopeSpans"][0]["spans"][0]["name"],
        "SELECT orders"
    );
}

pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn search_returns_tempos_metadata_for_matching_traces() {
    let app = shop().await;
    let q = urlencode("{ name = \"SELECT orders\" && status = error }");
    let body = app
        .get_json(&format!("/api/search?q={q}&limit=2"), None)
        .await;
    let traces = body["traces"].as_array().expect("traces");
    assert_eq!(traces.len(), 2, "limit is honoured");
    assert_eq!(
        traces[0]["traceID"],
        trace_hex(3).trim_start_matches('0'),
        "newest first, leading zeros trimmed"
    );
    let t = &traces[0];
    assert_eq!(t["rootServiceName"], "frontend");
    assert_eq!(t["rootTraceName"], "GET /checkout");
    assert_eq!(t["durationMs"], 120);
    assert!(t["startTimeUnixNano"].is_string());
    assert_eq!(t["serviceStats"]["api"]["spanCount"], 2);
    assert_eq!(t["serviceStats"]["api"]["errorCount"], 1);
    assert!(
        t["serviceStats"]["frontend"].get("errorCount").is_none(),
        "zero fields are left out"
    );
    let span = &t["spanSets"][0]["spans"][0];
    assert_eq!(span["spanID"], "0000000000005e04");
    assert_eq!(
        span["name"], "SELECT orders",
        "name was fetched by the query"
    );
    assert_eq!(span["durationNanos"], "40000000");
    assert_eq!(
        span["attributes"][0],
        serde_json::json!({"key": "status", "value": {"stringValue": "error"}})
    );
    assert_eq!(t["spanSets"][0]["matched"], 1);
    assert_eq!(
        t["spanSet"], t["spanSets"][0],
        "the deprecated spanSet mirrors the first spanset"
    );
}

#[tokio::test]
async fn a_search_with_no_match_has_no_traces_key() {
    let app = shop().await;
    let q = urlencode("{ resource.service.name = \"nobody\" }");
    let body = app.get_json(&format!("/api/search?q={q}"), None).await;
    assert!(body.get("traces").is_none(), "{body}");
    assert!(body["metrics"].is_object());
}

#[tokio::test]
async fn the_legacy_tag_search_filters_by_attributes_and_duration() {
    let app = shop().await;
    let tags = urlencode("service.name=api");
    let body = app
        .get_json(&format!("/api/search?tags={tags}&minDuration=100ms"), None)
        .await;
    assert_eq!(body["traces"].as_array().unwrap().len(), 3);
    let body = app
        .get_json(&format!("/api/search?tags={tags}&minDuration=1s"), None)
        .await;
    assert!(body.get("traces").is_none());
}

#[tokio::test]
async fn bad_search_requests_get_400_with_tempos_messages() {
    let app = shop().await;
    let cases = [
        (
            "/api/search?q=%7B%20.a%20%3D%20%7D",
            "invalid TraceQL query: parse error at line 1, col",
        ),
        ("/api/search?limit=0", "must be a positive number"),
        ("/api/search?spss=101", "invalid spss"),
        ("/api/search?start=100", "give both start and end"),
        (
            "/api/search?start=100&end=50",
            "end (50) must be greater than start (100)",
        ),
        (
            "/api/search?q=%7B%7D&tags=a%3Db",
            "either q (TraceQL) or tags",
        ),
        ("/api/search?minDuration=fast", "invalid minDuration"),
        (
            "/api/search?q=%7B%7D%20%7C%20rate()",
            "/api/metrics/query_range",
        ),
    ];
    for (path, expected) in cases {
        let (status, body) = app.get(path, None).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains(expected), "{path}: {body}");
    }
}

#[tokio::test]
async fn tag_names_are_listed_per_scope_with_intrinsics_in_v2() {
    let app = shop().await;
    let v1 = app.get_json("/api/search/tags", None).await;
    let names: Vec<&str> = v1["tagNames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"http.route") && names.contains(&"service.name"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"duration"),
        "v1 lists intrinsics only for scope=intrinsic"
    );
    let intrinsic = app.get_json("/api/search/tags?scope=intrinsic", None).await;
    assert!(
        intrinsic["tagNames"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("duration"))
    );
    let v2 = app.get_json("/api/v2/search/tags", None).await;
    let scopes: Vec<&str> = v2["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(scopes, ["resource", "span", "intrinsic"]);
    let span_scope = app.get_json("/api/v2/search/tags?scope=span", None).await;
    assert_eq!(span_scope["scopes"][0]["name"], "span");
    let (status, body) = app.get("/api/search/tags?scope=galaxy", None).await;
    assert_eq!((status, body.as_str()), (400, "invalid scope: galaxy"));
}

#[tokio::test]
async fn tag_values_are_plain_in_v1_and_typed_in_v2() {
    let app = shop().await;
    let v1 = app
        .get_json("/api/search/tag/service.name/values", None)
        .await;
    let mut services: Vec<&str> = v1["tagValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    services.sort();
    assert_eq!(services, ["api", "frontend"]);
    let v2 = app
        .get_json("/api/v2/search/tag/resource.service.name/values", None)
        .await;
    assert!(
        v2["tagValues"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"type": "string", "value": "api"}))
    );
    let codes = app
        .get_json(
            "/api/v2/search/tag/span.http.response.status_code/values",
            None,
        )
        .await;
    assert_eq!(
        codes["tagValues"],
        serde_json::json!([{"type": "int", "value": "500"}])
    );
    let status = app.get_json("/api/v2/search/tag/status/values", None).await;
    assert_eq!(
        status["tagValues"][0],
        serde_json::json!({"type": "keyword", "value": "error"})
    );
    let names = app
        .get_json(
            "/api/v2/search/tag/name/values?q=%7Bresource.service.name%3D%22api%22%7D",
            None,
        )
        .await;
    let mut names: Vec<&str> = names["tagValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["POST /api/orders", "SELECT orders"],
        "q narrows the spans looked at"
    );
    let unfinished = app
        .get_json(
            "/api/v2/search/tag/name/values?q=%7Bresource.service.name%3D%7D",
            None,
        )
        .await;
    assert_eq!(
        unfinished["tagValues"].as_array().unwrap().len(),
        3,
        "an unfinished q is ignored"
    );
    let (status, body) = app
        .get("/api/v2/search/tag/service.name/values", None)
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("please provide a valid tagName"), "{body}");
}

#[tokio::test]
async fn query_range_counts_spans_per_interval_and_group() {
    let app = shop().await;
    let end = minutes_ago(0) / 1_000_000_000 + 60;
    let start = end - 3600;
    let q = urlencode("{ kind = server } | count_over_time() by (resource.service.name)");
    let body = app
        .get_json(
            &format!("/api/metrics/query_range?q={q}&start={start}&end={end}&step=60s"),
            None,
        )
        .await;
    let series = body["series"].as_array().expect("series");
    assert_eq!(series.len(), 2, "{body}");
    let api = series
        .iter()
        .find(|s| s["labels"][0]["value"]["stringValue"] == "api")
        .expect("the api series");
    assert_eq!(api["labels"][0]["key"], "resource.service.name");
    let total: f64 = api["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["value"].as_f64().unwrap_or(0.0))
        .sum();
    assert_eq!(total, 3.0, "three server spans of api");
    let first = &api["samples"][0];
    assert!(first["timestampMs"].is_string());
    assert_eq!(
        first["timestampMs"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            % 60_000,
        0,
        "stamped on step edges"
    );
    assert!(api["exemplars"][0]["labels"][0]["key"] == "trace:id");
}

#[tokio::test]
async fn query_range_computes_rate_and_quantiles() {
    let app = shop().await;
    let q = urlencode("{ name = \"SELECT orders\" } | rate()");
    let body = app
        .get_json(
            &format!("/api/metrics/query_range?query={q}&since=1h&step=1m"),
            None,
        )
        .await;
    let series = &body["series"][0];
    assert_eq!(
        series["labels"][0],
        serde_json::json!({"key": "__name__", "value": {"stringValue": "rate"}})
    );
    let total: f64 = series["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["value"].as_f64().unwrap_or(0.0))
        .sum();
    assert!((total - 3.0 / 60.0).abs() < 1e-9, "{total}");
    let q = urlencode("{ } | quantile_over_time(duration, .5, .9)");
    let body = app
        .get_json(&format!("/api/metrics/query?q={q}&since=1h"), None)
        .await;
    let series = body["series"].as_array().unwrap();
    assert_eq!(series.len(), 2, "one series per quantile");
    let p50 = series
        .iter()
        .find(|s| s["labels"][1]["value"]["doubleValue"] == 0.5)
        .unwrap();
    assert!(
        p50["value"].as_f64().unwrap() > 0.04 && p50["value"].as_f64().unwrap() < 0.12,
        "{p50}"
    );
}

#[tokio::test]
async fn bad_metrics_requests_get_400() {
    let app = shop().await;
    let cases = [
        ("/api/metrics/query_range?q=%7B%7D", "not a metrics query"),
        ("/api/metrics/query_range", "missing q"),
        (
            "/api/metrics/query_range?q=%7B%7D%20%7C%20rate()&start=200&end=100",
            "end must be greater than start",
        ),
        (
            "/api/metrics/query_range?q=%7B%7D%20%7C%20rate()&since=24h&step=1s",
            "too small",
        ),
        (
            "/api/metrics/query_range?q=%7B%7D%20%7C%20rat()",
            "invalid TraceQL query",
        ),
    ];
    for (path, expected) in cases {
        let (status, body) = app.get(path, None).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains(expected), "{path}: {body}");
    }
}

#[tokio::test]
async fn two_tenants_never_see_each_others_traces() {
    let app = TestStore::start().await;
    let (a, _) = checkout_trace(30, minutes_ago(5));
    let (b, _) = checkout_trace(31, minutes_ago(5));
    app.post_protobuf(&a, Some("team-a")).await;
    app.post_protobuf(&b, Some("team-b")).await;
    assert_eq!(
        app.get(&format!("/api/traces/{}", trace_hex(30)), Some("team-a"))
            .await
            .0,
        200
    );
    assert_eq!(
        app.get(&format!("/api/traces/{}", trace_hex(30)), Some("team-b"))
            .await
            .0,
        404
    );
    let found = app.get_json("/api/search?q=%7B%7D", Some("team-b")).await;
    let ids: Vec<&str> = found["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["traceID"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [trace_hex(31).trim_start_matches('0')]);
    assert!(
        app.get_json("/api/search?q=%7B%7D", None)
            .await
            .get("traces")
            .is_none(),
        "the default tenant is empty"
    );
}
