//! OTLP/gRPC: the `opentelemetry.proto.collector.trace.v1.TraceService/Export` method.
//!
//! tonic enforces the message size cap (RESOURCE_EXHAUSTED beyond it) and inflates gzip; the
//! tenant comes from the `x-scope-orgid` metadata. Conversion runs under `spawn_blocking`.

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::storage::{IngestError, Store, TenantId};

/// The gRPC trace service over a store.
#[derive(Clone)]
pub struct OtlpGrpc {
    store: Store,
}

/// The tonic service, with the store's size limit and gzip accepted.
pub fn service(store: Store) -> TraceServiceServer<OtlpGrpc> {
    let limit = store.config().limits.max_decompressed_bytes;
    TraceServiceServer::new(OtlpGrpc { store })
        .max_decoding_message_size(limit)
        .accept_compressed(CompressionEncoding::Gzip)
}

fn overloaded(error: IngestError) -> Status {
    let (IngestError::TooManyRequests { retry_after } | IngestError::Unavailable { retry_after }) =
        &error;
    let mut status = Status::unavailable(error.to_string());
    if let Ok(value) = retry_after.as_secs().max(1).to_string().parse() {
        status.metadata_mut().insert("retry-after", value);
    }
    status
}

#[tonic::async_trait]
impl TraceService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let header = request
            .metadata()
            .get("x-scope-orgid")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let tenant = TenantId::from_header(header.as_deref())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let permit = self.store.try_begin_ingest(&tenant).map_err(overloaded)?;
        let store = self.store.clone();
        let body = request.into_inner();
        let outcome = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            store.ingest(&tenant, body)
        })
        .await
        .map_err(|e| Status::internal(format!("the trace store failed while ingesting: {e}")))?
        .map_err(overloaded)?;
        let partial_success = (outcome.rejected > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: outcome.rejected as i64,
            error_message: outcome.message.unwrap_or_default(),
        });
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success,
        }))
    }
}
