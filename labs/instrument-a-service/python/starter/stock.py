"""The stock service, Lab 1's starter code in Python: `GET /stock/{id}` asks the api for the
product, then looks up how many the warehouse holds.

It works, but its traces do not tell the truth. Read the `LAB:` comments, then fix: span
names, HTTP attributes, propagation to the api, error recording, and a secret that ends up in
a span attribute. `labs/instrument-a-service/lab.yaml` lists what the grader checks.

Run it with `python3 stock.py` while the lab is up. `PORT` (default 8090), `API_URL` (the api
tier) and the standard `OTEL_*` variables configure it; it prints `listening on …` first.
"""

import json
import os
import re
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

API_URL = os.environ.get("API_URL", "http://127.0.0.1:8082").rstrip("/")
ROUTE = re.compile(r"^/stock/(\d+)$")

# Resource.create() reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES. A new instance id
# for every run (unless one is given), so the grader checks this run's traces, not older ones.
resource = Resource.create()
if resource.attributes.get("service.name", "").startswith("unknown_service"):
    resource = resource.merge(Resource({"service.name": "stock"}))
if "service.instance.id" not in resource.attributes:
    resource = resource.merge(Resource({"service.instance.id": str(uuid.uuid4())}))
provider = TracerProvider(resource=resource)
# OTLPSpanExporter() reads OTEL_EXPORTER_OTLP_ENDPOINT.
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("stock")


def units(product_id):
    """Units in stock, or None: the warehouse has records for products 1 to 10 only."""
    return (product_id * 7) % 23 + 1 if 1 <= product_id <= 10 else None


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        # LAB: the name uses the concrete path (/stock/42), so every product gets its own name;
        # there is no http.route and no http.response.status_code; the incoming traceparent is
        # ignored; and the caller's API key is recorded as an attribute.
        with tracer.start_as_current_span(
            f"GET {self.path}",
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.header.x-api-key": self.headers.get("x-api-key", "")},
        ):
            match = ROUTE.match(self.path)
            if not match:
                return self.answer(404, {"error": "not found"})
            product_id = int(match.group(1))
            # LAB: a plain call: no CLIENT span, and no traceparent is sent.
            try:
                with urllib.request.urlopen(f"{API_URL}/products/{product_id}", timeout=5) as response:
                    product = json.load(response)
            except urllib.error.HTTPError as error:
                if error.code == 404:
                    return self.answer(404, {"error": "no such product"})
                return self.answer(500, {"error": f"the api answered {error.code}"})
            except OSError as error:
                return self.answer(500, {"error": f"the api is unreachable: {error}"})
            stock = units(product_id)
            if stock is None:
                # LAB: a failed request, but the span does not say so.
                return self.answer(500, {"error": f"the warehouse has no record of product {product_id}"})
            return self.answer(200, {"product": product.get("name"), "units": stock})

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8090"))), Handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        provider.shutdown()


if __name__ == "__main__":
    main()
