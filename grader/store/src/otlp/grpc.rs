//! OTLP/gRPC: the `opentelemetry.proto.collector.trace.v1.TraceService/Export` method.
//!
//! tonic enforces the message size cap (RESOURCE_EXHAUSTED beyond it) and inflates gzip; the
//! tenant comes from the `x-scope-orgid` metadata, read by the same parser as the HTTP side.
//! Conversion runs under `spawn_blocking`.
//!
//! The service is served by hand rather than by the generated `TraceServiceServer`, for one
//! reason: a body that is not a valid export request (bad protobuf, bad gzip, a cut-off
//! frame) is the client's mistake, and OTLP answers it with INVALID_ARGUMENT, while tonic's
//! generated code says INTERNAL.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tonic::codec::{
    Codec, CompressionEncoding, DecodeBuf, Decoder, EnabledCompressionEncodings, EncodeBuf, Encoder,
};
use tonic::codegen::{BoxFuture, Service, StdError, http};
use tonic::server::{NamedService, UnaryService};
use tonic::{Request, Response, Status};

use bytes::Buf;

use crate::storage::{DecodingPermit, IngestError, Store, TenantId};

/// The gRPC path of the one method served.
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// The trace service over a store, ready for `tonic::transport::Server::add_service`.
#[derive(Clone)]
pub struct OtlpGrpc {
    store: Store,
    accept: EnabledCompressionEncodings,
}

/// The service, with the store's size limit and gzip accepted.
pub fn service(store: Store) -> OtlpGrpc {
    let mut accept = EnabledCompressionEncodings::default();
    accept.enable(CompressionEncoding::Gzip);
    OtlpGrpc { store, accept }
}

fn refused(error: IngestError) -> Status {
    let mut status = match &error {
        IngestError::TooManyTenants { .. } => Status::resource_exhausted(error.to_string()),
        _ => Status::unavailable(error.to_string()),
    };
    if let Ok(value) = error.retry_after().as_secs().max(1).to_string().parse() {
        status.metadata_mut().insert("retry-after", value);
    }
    status
}

impl OtlpGrpc {
    async fn export(
        &self,
        request: Request<Decoded>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let header = request
            .metadata()
            .get("x-scope-orgid")
            .map(|v| v.as_encoded_bytes().to_vec());
        let tenant = TenantId::from_header_bytes(header.as_deref())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let permit = self.store.try_begin_ingest(&tenant).map_err(refused)?;
        let store = self.store.clone();
        let Decoded { request, decoding } = request.into_inner();
        let outcome = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _decoding = decoding;
            store.ingest(&tenant, request)
        })
        .await
        .map_err(|e| Status::internal(format!("the trace store failed while ingesting: {e}")))?
        .map_err(refused)?;
        // A message with no rejected spans is OTLP's way to warn (here: spans that were cut).
        let partial_success = outcome
            .message
            .map(|error_message| ExportTracePartialSuccess {
                rejected_spans: outcome.rejected as i64,
                error_message,
            });
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success,
        }))
    }
}

/// A decoded request with its share of the store's decoding budget, held until it is stored.
pub struct Decoded {
    request: ExportTraceServiceRequest,
    decoding: DecodingPermit,
}

/// Protobuf both ways; a body that does not decode is INVALID_ARGUMENT, and a body that does
/// not fit in the decoding budget now is UNAVAILABLE with Retry-After.
struct ExportCodec {
    store: Store,
}

#[derive(Debug, Clone, Copy, Default)]
struct ExportEncoder;

struct ExportDecoder {
    store: Store,
}

impl Codec for ExportCodec {
    type Encode = ExportTraceServiceResponse;
    type Decode = Decoded;
    type Encoder = ExportEncoder;
    type Decoder = ExportDecoder;

    fn encoder(&mut self) -> ExportEncoder {
        ExportEncoder
    }

    fn decoder(&mut self) -> ExportDecoder {
        ExportDecoder {
            store: self.store.clone(),
        }
    }
}

impl Encoder for ExportEncoder {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(buf)
            .map_err(|e| Status::internal(format!("could not encode the response: {e}")))
    }
}

impl Decoder for ExportDecoder {
    type Item = Decoded;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        let decoding = self
            .store
            .try_reserve_decoding(buf.remaining())
            .map_err(refused)?;
        let request = ExportTraceServiceRequest::decode(buf).map_err(|e| {
            Status::invalid_argument(format!(
                "the request is not a valid OTLP ExportTraceServiceRequest in protobuf: {e}"
            ))
        })?;
        Ok(Some(Decoded { request, decoding }))
    }
}

/// The unary handler tonic calls once the body decoded; `reached` tells the caller it ran.
struct ExportMethod {
    service: OtlpGrpc,
    reached: Arc<AtomicBool>,
}

impl UnaryService<Decoded> for ExportMethod {
    type Response = ExportTraceServiceResponse;
    type Future = BoxFuture<Response<ExportTraceServiceResponse>, Status>;

    fn call(&mut self, request: Request<Decoded>) -> Self::Future {
        self.reached.store(true, Ordering::Release);
        let service = self.service.clone();
        Box::pin(async move { service.export(request).await })
    }
}

impl<B> Service<http::Request<B>> for OtlpGrpc
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != EXPORT_PATH {
            return Box::pin(async {
                Ok(
                    Status::unimplemented("this receiver serves only TraceService/Export")
                        .into_http(),
                )
            });
        }
        let limit = self.store.config().limits.max_decompressed_bytes;
        let reached = Arc::new(AtomicBool::new(false));
        let method = ExportMethod {
            service: self.clone(),
            reached: reached.clone(),
        };
        let accept = self.accept;
        let store = self.store.clone();
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(ExportCodec { store })
                .apply_compression_config(accept, EnabledCompressionEncodings::default())
                .apply_max_message_size_config(Some(limit), None);
            let mut response = grpc.unary(method, request).await;
            // Failing before the handler ran means the body could not be read as an export
            // request (bad gzip, a cut-off frame): the client's input, not our fault.
            let internal = http::HeaderValue::from(Status::internal("").code() as i32);
            if !reached.load(Ordering::Acquire)
                && response.headers().get(Status::GRPC_STATUS) == Some(&internal)
            {
                response.headers_mut().insert(
                    Status::GRPC_STATUS,
                    http::HeaderValue::from(tonic::Code::InvalidArgument as i32),
                );
            }
            Ok(response)
        })
    }
}

impl NamedService for OtlpGrpc {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}
