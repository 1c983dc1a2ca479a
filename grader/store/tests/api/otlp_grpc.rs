//! OTLP/gRPC: Export stores spans under the tenant from `x-scope-orgid`, reports partial
//! success, and refuses oversized messages.

use dojo_store::{Limits, StoreConfig};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;

use crate::helpers::{TestStore, checkout_trace, minutes_ago, trace_hex};

async fn client(app: &TestStore) -> TraceServiceClient<tonic::transport::Channel> {
    TraceServiceClient::connect(format!("http://{}", app.addrs.otlp_grpc))
        .await
        .expect("the gRPC receiver accepts connections")
}

fn with_tenant(
    request: ExportTraceServiceRequest,
    tenant: &str,
) -> tonic::Request<ExportTraceServiceRequest> {
    let mut request = tonic::Request::new(request);
    request
        .metadata_mut()
        .insert("x-scope-orgid", tenant.parse().expect("an ASCII tenant"));
    request
}

#[tokio::test]
async fn a_grpc_export_is_stored_under_its_tenant() {
    let app = TestStore::start().await;
    let (frontend, api) = checkout_trace(20, minutes_ago(5));
    let mut grpc = client(&app).await;
    let reply = grpc
        .export(with_tenant(frontend, "team-grpc"))
        .await
        .expect("export succeeds");
    assert_eq!(reply.into_inner().partial_success, None);
    grpc.export(with_tenant(api, "team-grpc"))
        .await
        .expect("export succeeds");
    let trace = app
        .get_json(&format!("/api/traces/{}", trace_hex(20)), Some("team-grpc"))
        .await;
    let spans: usize = trace["resourceSpans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rs| rs["scopeSpans"][0]["spans"].as_array().unwrap().len())
        .sum();
    assert_eq!(spans, 4);
    let (status, _) = app
        .get(&format!("/api/traces/{}", trace_hex(20)), None)
        .await;
    assert_eq!(
        status, 404,
        "the default tenant does not see team-grpc's trace"
    );
}

#[tokio::test]
async fn a_grpc_export_with_bad_spans_is_a_partial_success() {
    let app = TestStore::start().await;
    let (mut frontend, _) = checkout_trace(21, minutes_ago(5));
    frontend.resource_spans[0].scope_spans[0].spans[1].span_id = vec![];
    let reply = client(&app)
        .await
        .export(frontend)
        .await
        .expect("export succeeds")
        .into_inner();
    let partial = reply.partial_success.expect("partial success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(
        partial.error_message.contains("spanId must be 8 bytes"),
        "{}",
        partial.error_message
    );
}

#[tokio::test]
async fn an_oversized_grpc_message_is_refused_out_of_range() {
    let config = StoreConfig {
        limits: Limits {
            max_body_bytes: 1024,
            max_decompressed_bytes: 1024,
            ..Limits::default()
        },
        ..StoreConfig::default()
    };
    let app = TestStore::with_config(config).await;
    let (mut frontend, _) = checkout_trace(22, minutes_ago(5));
    frontend.resource_spans[0].scope_spans[0].spans[0].name = "x".repeat(4096);
    let error = client(&app)
        .await
        .export(frontend)
        .await
        .expect_err("too large");
    // tonic's own answer to a message over the decoding limit.
    assert_eq!(error.code(), tonic::Code::OutOfRange, "{error}");
    assert!(error.message().contains("too large"), "{error}");
    assert!(app.store.status().iter().all(|s| s.spans == 0));
}
