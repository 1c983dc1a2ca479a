//! Bad input gets a clear refusal and loses nothing: impossible span timestamps, a JSON array
//! posted as an export, gRPC bodies that are not export requests, and metrics queries over
//! times no clock can show.

use bytes::{Buf, BufMut};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use crate::helpers::{SpanSpec, TestStore, checkout_trace, minutes_ago, request, trace_hex};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

/// The partial-success answer of an OTLP/HTTP protobuf export, with its status.
async fn export(app: &TestStore, body: &ExportTraceServiceRequest) -> ExportTraceServiceResponse {
    let response = app.post_protobuf(body, None).await;
    assert_eq!(response.status(), 200);
    ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap()
}

#[tokio::test]
async fn spans_with_impossible_timestamps_are_refused_and_the_reason_is_said() {
    let app = TestStore::start().await;
    let now = minutes_ago(0);
    let cases: [(&str, u64, u64, &str); 4] = [
        ("a start of zero", 0, now, "startTimeUnixNano is 0"),
        (
            "an end before the start",
            now - 1_000,
            now - 2_000_000_000,
            "before its startTimeUnixNano",
        ),
        (
            "the end of time",
            u64::MAX,
            u64::MAX,
            "after the trace store's clock",
        ),
        (
            "a day in the future",
            now + 86_400_000_000_000,
            now + 86_401_000_000_000,
            "check the clock of the machine that sent it",
        ),
    ];
    for (n, (case, start, end, expected)) in cases.into_iter().enumerate() {
        let trace = 100 + n as u8;
        let mut body = request(
            "frontend",
            &[SpanSpec::new(
                trace,
                1,
                None,
                "GET /",
                SpanKind::Server,
                now - 1_000_000,
                1,
            )],
        );
        let mut bad = body.resource_spans[0].scope_spans[0].spans[0].clone();
        bad.span_id = vec![9; 8];
        bad.start_time_unix_nano = start;
        bad.end_time_unix_nano = end;
        body.resource_spans[0].scope_spans[0].spans.push(bad);
        let partial = export(&app, &body)
            .await
            .partial_success
            .unwrap_or_else(|| panic!("{case}: no partial success"));
        assert_eq!(partial.rejected_spans, 1, "{case}");
        assert!(
            partial.error_message.contains(expected),
            "{case}: {}",
            partial.error_message
        );
        let trace = app
            .get_json(&format!("/api/traces/{}", trace_hex(trace)), None)
            .await;
        let spans = trace["resourceSpans"][0]["scopeSpans"][0]["spans"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(spans, 1, "{case}: the good span of the request is stored");
    }
}

#[tokio::test]
async fn a_metrics_query_to_the_end_of_time_is_a_400_not_a_crash() {
    let app = TestStore::start().await;
    let (frontend, _) = checkout_trace(1, minutes_ago(5));
    app.post_protobuf(&frontend, None).await;
    let mut forever = request(
        "frontend",
        &[SpanSpec::new(2, 1, None, "GET /", SpanKind::Server, 1, 1)],
    );
    let span = &mut forever.resource_spans[0].scope_spans[0].spans[0];
    span.start_time_unix_nano = u64::MAX;
    span.end_time_unix_nano = u64::MAX;
    app.post_protobuf(&forever, None).await;

    let (status, body) = app
        .get(
            "/api/metrics/query_range?q=%7B%20%7D%20%7C%20rate()&start=0&end=18446744073709551615",
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("invalid end"), "{body}");
    let (status, body) = app
        .get(
            "/api/metrics/query_range?q=%7B%20%7D%20%7C%20rate()&start=0&end=9223372036854775807",
            None,
        )
        .await;
    assert_eq!(
        status, 200,
        "the widest range Tempo allows still answers: {body}"
    );
}

/// Sends any bytes as the body of a gRPC Export call, to see what the receiver says.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining()).to_vec()))
    }
}

async fn raw_export(app: &TestStore, body: Vec<u8>) -> Result<Vec<u8>, tonic::Status> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", app.addrs.otlp_grpc))
        .unwrap()
        .connect()
        .await
        .expect("the gRPC receiver accepts connections");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    grpc.unary(
        tonic::Request::new(body),
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
            .parse()
            .unwrap(),
        RawCodec,
    )
    .await
    .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_grpc_body_that_is_not_an_export_request_gets_invalid_argument() {
    let app = TestStore::start().await;
    let (frontend, _) = checkout_trace(3, minutes_ago(5));
    let whole = frontend.encode_to_vec();
    let cases: [(&str, Vec<u8>); 3] = [
        ("random bytes", vec![0xff; 64]),
        ("a truncated message", whole[..whole.len() - 7].to_vec()),
        ("a wrong wire type", vec![0x0b, 0x01]),
    ];
    for (case, body) in cases {
        let status = raw_export(&app, body)
            .await
            .expect_err(&format!("{case} is refused"));
        assert_eq!(
            status.code(),
            tonic::Code::InvalidArgument,
            "{case}: {status:?}"
        );
        assert!(
            status
                .message()
                .contains("not a valid OTLP ExportTraceServiceRequest"),
            "{case}: {}",
            status.message()
        );
    }
    let good = raw_export(&app, whole)
        .await
        .expect("a good body is stored");
    assert!(ExportTraceServiceResponse::decode(good.as_slice()).is_ok());
    let (status, _) = app
        .get(&format!("/api/traces/{}", trace_hex(3)), None)
        .await;
    assert_eq!(status, 200, "the receiver still works after the bad bodies");
}
