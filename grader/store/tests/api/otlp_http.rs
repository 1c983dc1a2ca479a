//! OTLP/HTTP: what is accepted, what is refused, and that nothing refused does harm.

use std::io::Write;

use dojo_store::{Limits, StoreConfig, TenantId};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;

use crate::helpers::{SpanSpec, TestStore, checkout_trace, minutes_ago, request, trace_hex};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).expect("writing to memory");
    encoder.finish().expect("finishing in memory")
}

async fn stored_spans(app: &TestStore) -> usize {
    app.store.status().iter().map(|s| s.spans).sum()
}

#[tokio::test]
async fn a_protobuf_export_is_stored_and_answered_with_an_empty_success() {
    let app = TestStore::start().await;
    let (frontend, _) = checkout_trace(1, minutes_ago(5));
    let response = app.post_protobuf(&frontend, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    let body = ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    assert_eq!(body.partial_success, None);
    assert_eq!(stored_spans(&app).await, 2);
}

#[tokio::test]
async fn a_json_export_with_hex_ids_is_stored() {
    let app = TestStore::start().await;
    let start = minutes_ago(5);
    let body = serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "frontend"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": trace_hex(7), "spanId": "00000000005e0001", "name": "GET /json",
            "kind": 2, "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 1_000_000).to_string()
        }]}]
    }]});
    let response = app
        .client
        .post(app.otlp_url())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "{}");
    let trace = app
        .get_json(&format!("/api/traces/{}", trace_hex(7)), None)
        .await;
    assert_eq!(
        trace["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"],
        "GET /json"
    );
}

#[tokio::test]
async fn a_gzipped_export_is_inflated_and_stored() {
    let app = TestStore::start().await;
    let (frontend, _) = checkout_trace(2, minutes_ago(5));
    let response = app
        .client
        .post(app.otlp_url())
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(gzip(&frontend.encode_to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(stored_spans(&app).await, 2);
}

#[tokio::test]
async fn spans_with_bad_ids_are_a_partial_success_that_says_how_many_and_why() {
    let app = TestStore::start().await;
    let mut export = request(
        "frontend",
        &[SpanSpec::new(
            3,
            1,
            None,
            "ok",
            SpanKind::Server,
            minutes_ago(5),
            1,
        )],
    );
    let mut broken = export.resource_spans[0].scope_spans[0].spans[0].clone();
    broken.trace_id = vec![1, 2, 3];
    export.resource_spans[0].scope_spans[0].spans.push(broken);
    let response = app.post_protobuf(&export, None).await;
    assert_eq!(response.status(), 200);
    let body = ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    let partial = body.partial_success.expect("a partial success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(
        partial
            .error_message
            .contains("traceId must be 16 bytes, found 3"),
        "{}",
        partial.error_message
    );
    let status = &app.store.status()[0];
    assert_eq!((status.spans, status.refused_spans), (1, 1));
}

#[tokio::test]
async fn bodies_that_are_not_otlp_are_refused_with_400_and_a_clear_message() {
    let app = TestStore::start().await;
    let (frontend, _) = checkout_trace(4, minutes_ago(5));
    let whole = frontend.encode_to_vec();
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "random bytes as protobuf",
            "application/x-protobuf",
            vec![0xff; 64],
            "not a valid OTLP ExportTraceServiceRequest in protobuf",
        ),
        (
            "truncated protobuf",
            "application/x-protobuf",
            whole[..whole.len() - 7].to_vec(),
            "in protobuf",
        ),
        (
            "broken JSON",
            "application/json",
            b"{\"resourceSpans\": [".to_vec(),
            "in JSON",
        ),
        (
            "JSON of the wrong shape",
            "application/json",
            b"{\"resourceSpans\": 5}".to_vec(),
            "in JSON",
        ),
        (
            "a JSON array instead of an export object",
            "application/json",
            b" []".to_vec(),
            "an export request is a JSON object",
        ),
        (
            "an array holding an export",
            "application/json",
            b"[[]]".to_vec(),
            "an export request is a JSON object",
        ),
    ];
    for (what, content_type, body, expected) in cases {
        let response = app
            .client
            .post(app.otlp_url())
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{what}");
        let text = String::from_utf8_lossy(&response.bytes().await.unwrap()).to_string();
        assert!(text.contains(expected), "{what}: {text}");
    }
    assert_eq!(stored_spans(&app).await, 0, "nothing refused was stored");
    let (status, _) = app.get("/ready", None).await;
    assert_eq!(status, 200, "the store is still up");
}

#[tokio::test]
async fn a_json_error_body_is_a_google_rpc_status_in_json() {
    let app = TestStore::start().await;
    let response = app
        .client
        .post(app.otlp_url())
        .header("content-type", "application/json")
        .body("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], 3, "INVALID_ARGUMENT");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("not a valid OTLP")
    );
}

#[tokio::test]
async fn an_unknown_content_type_or_encoding_gets_415() {
    let app = TestStore::start().await;
    let text = app
        .client
        .post(app.otlp_url())
        .header("content-type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 415);
    let brotli = app
        .client
        .post(app.otlp_url())
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "br")
        .body(vec![1, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(brotli.status(), 415);
}

fn small_limits() -> StoreConfig {
    StoreConfig {
        limits: Limits {
            max_body_bytes: 4096,
            max_decompressed_bytes: 64 * 1024,
            ..Limits::default()
        },
        ..StoreConfig::default()
    }
}

#[tokio::test]
async fn an_oversized_body_gets_413_whether_declared_or_streamed() {
    let app = TestStore::with_config(small_limits()).await;
    let declared = app
        .client
        .post(app.otlp_url())
        .header("content-type", "application/x-protobuf")
        .body(vec![0u8; 10_000])
        .send()
        .await
        .unwrap();
    assert_eq!(declared.status(), 413);
    // Without a Content-Length, the cap applies while the body streams in.
    let status_line = raw_chunked_post(app.addrs.otlp_http, 10, 1000).await;
    assert!(status_line.starts_with("HTTP/1.1 413"), "{status_line}");
}

/// Sends `chunks` chunks of `size` zero bytes with chunked transfer encoding; returns the status line.
async fn raw_chunked_post(addr: std::net::SocketAddr, chunks: usize, size: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-protobuf\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..chunks {
        let mut chunk = format!("{size:x}\r\n").into_bytes();
        chunk.extend(std::iter::repeat_n(0u8, size));
        chunk.extend_from_slice(b"\r\n");
        // The server may answer and close before the whole body is sent.
        if stream.write_all(&chunk).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn a_gzip_bomb_is_refused_with_413_without_inflating_it_all() {
    let app = TestStore::with_config(small_limits()).await;
    // Small on the wire, under the 4 KiB body limit; inflates to over three times the 64 KiB cap.
    let small_bomb = gzip(&vec![0u8; 200 * 1024]);
    assert!(
        small_bomb.len() < 4096,
        "{} bytes on the wire",
        small_bomb.len()
    );
    let response = app
        .client
        .post(app.otlp_url())
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(small_bomb)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(
        String::from_utf8_lossy(&response.bytes().await.unwrap())
            .contains("inflates to more than the limit")
    );
    assert_eq!(stored_spans(&app).await, 0);
}

#[tokio::test]
async fn a_truncated_gzip_body_gets_400() {
    let app = TestStore::start().await;
    let (frontend, _) = checkout_trace(5, minutes_ago(5));
    let whole = gzip(&frontend.encode_to_vec());
    let response = app
        .client
        .post(app.otlp_url())
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(whole[..whole.len() / 2].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn when_every_ingest_slot_is_busy_the_client_gets_429_with_retry_after() {
    let config = StoreConfig {
        limits: Limits {
            max_concurrent_ingests: 2,
            ..Limits::default()
        },
        ..StoreConfig::default()
    };
    let app = TestStore::with_config(config).await;
    let tenant = TenantId::default_tenant();
    let held: Vec<_> = (0..2)
        .map(|_| app.store.try_begin_ingest(&tenant).expect("a free slot"))
        .collect();
    let (frontend, _) = checkout_trace(6, minutes_ago(5));
    let response = app.post_protobuf(&frontend, None).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    drop(held);
    assert_eq!(
        app.post_protobuf(&frontend, None).await.status(),
        200,
        "slots come back"
    );
    assert_eq!(app.store.status()[0].refused_requests, 1);
}

#[tokio::test]
async fn a_bad_tenant_header_gets_400() {
    let app = TestStore::start().await;
    let (frontend, _) = checkout_trace(8, minutes_ago(5));
    let response = app.post_protobuf(&frontend, Some("a|b")).await;
    assert_eq!(response.status(), 400);
}
