"""The stock service, Lab 1's reference solution in Python: the starter with its tracing
fixed. Server spans named after the route template with the HTTP semantic-convention
attributes, the caller's context extracted, a CLIENT span around the call to the api with the
context injected, failures recorded as errors with an exception event, and no credential in
any attribute.

Run it with `python3 stock.py`. `PORT` (default 8090), `API_URL` and the standard `OTEL_*`
variables configure it; it prints `listening on …` first.
"""

import json
import os
import re
import signal
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

API_URL = os.environ.get("API_URL", "http://127.0.0.1:8082").rstrip("/")
ROUTE = re.compile(r"^/stock/(\d+)$")

resource = Resource.create()
if resource.attributes.get("service.name", "").startswith("unknown_service"):
    resource = resource.merge(Resource({"service.name": "stock"}))
if "service.instance.id" not in resource.attributes:
    resource = resource.merge(Resource({"service.instance.id": str(uuid.uuid4())}))
provider = TracerProvider(resource=resource)
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("stock")


class WarehouseError(Exception):
    """The warehouse has no record of a product the catalogue has."""


def units(product_id):
    """Units in stock: the warehouse has records for products 1 to 10 only."""
    if 1 <= product_id <= 10:
        return (product_id * 7) % 23 + 1
    raise WarehouseError(f"the warehouse has no record of product {product_id}")


def get_product(product_id):
    """Asks the api for the product, in a CLIENT span whose context travels in the headers."""
    url = f"{API_URL}/products/{product_id}"
    with tracer.start_as_current_span(
        "GET /products/{id}",
        kind=SpanKind.CLIENT,
        attributes={"http.request.method": "GET", "url.full": url, "server.address": "api"},
    ) as span:
        headers = {}
        propagate.inject(headers)  # traceparent (and baggage) of this CLIENT span
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                span.set_attribute("http.response.status_code", response.status)
                return json.load(response)
        except urllib.error.HTTPError as error:
            span.set_attribute("http.response.status_code", error.code)
            if error.code >= 500:
                span.set_status(Status(StatusCode.ERROR, f"the api answered {error.code}"))
            raise


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        match = ROUTE.match(self.path)
        route = "/stock/{id}" if match else None
        # The caller's traceparent makes this span a child of the caller's CLIENT span.
        parent = propagate.extract({name.lower(): value for name, value in self.headers.items()})
        name = f"GET {route}" if route else "GET"
        with tracer.start_as_current_span(
            name, context=parent, kind=SpanKind.SERVER, record_exception=False, set_status_on_exception=False
        ) as span:
            span.set_attribute("http.request.method", "GET")
            if route:
                span.set_attribute("http.route", route)
            status, body = self.serve_stock(match, span)
            span.set_attribute("http.response.status_code", status)
            self.answer(status, body)

    def serve_stock(self, match, span):
        if not match:
            return 404, {"error": "not found"}
        product_id = int(match.group(1))
        try:
            product = get_product(product_id)
            return 200, {"product": product.get("name"), "units": units(product_id)}
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return 404, {"error": "no such product"}
            return self.failure(span, error, f"the api answered {error.code}")
        except (OSError, WarehouseError) as error:
            return self.failure(span, error, str(error))

    @staticmethod
    def failure(span, error, message):
        span.record_exception(error)  # the `exception` event: exception.type, .message
        span.set_status(Status(StatusCode.ERROR, message))
        return 500, {"error": message}

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass


def stop(signum, frame):
    raise KeyboardInterrupt


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8090"))), Handler)
    # A clean stop on SIGTERM too, so the last batch of spans is exported.
    signal.signal(signal.SIGTERM, stop)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        provider.shutdown()


if __name__ == "__main__":
    main()
