"""Sends one known trace tree to the store with the real OpenTelemetry Python SDK.

Usage: send_trace.py <http|grpc> <endpoint> <tenant>

Two services, as in the lab's shop: `frontend` serves GET /checkout and calls `api`;
`api` serves POST /api/orders and runs a failing SQL statement. Each service has its own
TracerProvider (its own resource) and exporter, so the store receives the spans in separate
batches. Prints one JSON object: the trace id and each span's id by name.
"""

import json
import sys

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode


def exporter(protocol, endpoint, tenant):
    if protocol == "http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint + "/v1/traces", headers={"X-Scope-OrgID": tenant})
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint, insecure=True, headers=(("x-scope-orgid", tenant),))


def provider(service, protocol, endpoint, tenant):
    p = TracerProvider(resource=Resource.create({"service.name": service, "deployment.environment": "test"}))
    p.add_span_processor(BatchSpanProcessor(exporter(protocol, endpoint, tenant)))
    return p


def main():
    protocol, endpoint, tenant = sys.argv[1], sys.argv[2], sys.argv[3]
    frontend = provider("frontend", protocol, endpoint, tenant)
    api = provider("api", protocol, endpoint, tenant)
    ids = {}
    ft = frontend.get_tracer("shop.frontend", "1.0.0")
    at = api.get_tracer("shop.api", "1.0.0")
    with ft.start_as_current_span("GET /checkout", kind=SpanKind.SERVER) as root:
        root.set_attribute("http.request.method", "GET")
        root.set_attribute("http.request.header.authorization", ["Bearer s3cret"])
        root.set_attribute("http.response.status_code", 500)
        with ft.start_as_current_span("POST /api/orders", kind=SpanKind.CLIENT) as call:
            call.set_attribute("server.address", "api")
            # The hop to another process: api continues the trace from the client span.
            ctx = trace.set_span_in_context(call)
            with at.start_as_current_span("POST /api/orders", context=ctx, kind=SpanKind.SERVER) as served:
                served.set_attribute("http.route", "/api/orders")
                with at.start_as_current_span("SELECT orders", kind=SpanKind.CLIENT) as query:
                    query.set_attribute("db.system", "sqlite")
                    query.set_attribute("db.statement", "SELECT * FROM orders WHERE id = 42")
                    query.set_status(Status(StatusCode.ERROR, "database is locked"))
                    ids["SELECT orders"] = format(query.get_span_context().span_id, "016x")
                ids["api POST /api/orders"] = format(served.get_span_context().span_id, "016x")
            ids["frontend POST /api/orders"] = format(call.get_span_context().span_id, "016x")
        ids["GET /checkout"] = format(root.get_span_context().span_id, "016x")
        trace_id = format(root.get_span_context().trace_id, "032x")
    frontend.shutdown()
    api.shutdown()
    print(json.dumps({"trace_id": trace_id, "spans": ids}))


if __name__ == "__main__":
    main()
