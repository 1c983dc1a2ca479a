// The stock service, Lab 1's reference solution in Node.js: the starter with its tracing
// fixed. Server spans named after the route template with the HTTP semantic-convention
// attributes, the caller's context extracted, a CLIENT span around the call to the api with
// the context injected, failures recorded as errors with an exception event, and no
// credential in any attribute.
//
// Run it with `node solution/stock.js`. PORT (default 8090), API_URL and the standard OTEL_*
// variables configure it; it prints `listening on …` first.
'use strict';

const http = require('node:http');
const { context, propagation, trace, SpanKind, SpanStatusCode } = require('@opentelemetry/api');
const { startTelemetry } = require('../telemetry');
const { units } = require('../stock-data');

startTelemetry();
const tracer = trace.getTracer('stock');
const API_URL = (process.env.API_URL || 'http://127.0.0.1:8082').replace(/\/+$/, '');

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
  }
}

// Asks the api for the product, in a CLIENT span whose context travels in the headers.
function getProduct(id) {
  const url = `${API_URL}/products/${id}`;
  return tracer.startActiveSpan(
    'GET /products/{id}',
    { kind: SpanKind.CLIENT, attributes: { 'http.request.method': 'GET', 'url.full': url } },
    async (span) => {
      try {
        const headers = {};
        propagation.inject(context.active(), headers); // traceparent of this CLIENT span
        const reply = await fetch(url, { headers });
        span.setAttribute('http.response.status_code', reply.status);
        if (reply.status === 404) throw new HttpError(404, 'no such product');
        if (!reply.ok) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: `the api answered ${reply.status}` });
          throw new HttpError(500, `the api answered ${reply.status}`);
        }
        return await reply.json();
      } finally {
        span.end();
      }
    },
  );
}

async function handle(request, span) {
  const match = /^\/stock\/(\d+)$/.exec(request.url);
  if (!match) return [404, { error: 'not found' }];
  const id = Number(match[1]);
  try {
    const product = await getProduct(id);
    const stock = units(id);
    if (stock === null) throw new HttpError(500, `the warehouse has no record of product ${id}`);
    return [200, { product: product.name, units: stock }];
  } catch (error) {
    if (error.status === 404) return [404, { error: error.message }];
    span.recordException(error); // the `exception` event: exception.type, exception.message
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    return [500, { error: error.message }];
  }
}

const server = http.createServer((request, response) => {
  // The caller's traceparent makes this span a child of the caller's CLIENT span.
  const parent = propagation.extract(context.active(), request.headers);
  const route = /^\/stock\/\d+$/.test(request.url) ? '/stock/{id}' : undefined;
  tracer.startActiveSpan(
    route ? `GET ${route}` : 'GET',
    { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method } },
    parent,
    async (span) => {
      try {
        if (route) span.setAttribute('http.route', route);
        const [status, body] = await handle(request, span);
        span.setAttribute('http.response.status_code', status);
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      } finally {
        span.end();
      }
    },
  );
});

server.listen(Number(process.env.PORT || 8090), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
