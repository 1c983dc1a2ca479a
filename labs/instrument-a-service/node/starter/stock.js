// The stock service, Lab 1's starter code in Node.js: `GET /stock/{id}` asks the api for the
// product, then looks up how many the warehouse holds.
//
// It works, but its traces do not tell the truth. Read the `LAB:` comments, then fix: span
// names, HTTP attributes, propagation to the api, error recording, and a secret that ends up
// in a span attribute. labs/instrument-a-service/lab.yaml lists what the grader checks.
//
// Run it with `node starter/stock.js` (after `npm ci` in this folder) while the lab is up.
// PORT (default 8090), API_URL and the standard OTEL_* variables configure it; it prints
// `listening on …` first.
'use strict';

const http = require('node:http');
const { trace, SpanKind } = require('@opentelemetry/api');
const { startTelemetry } = require('../telemetry');
const { units } = require('../stock-data');

startTelemetry();
const tracer = trace.getTracer('stock');
const API_URL = (process.env.API_URL || 'http://127.0.0.1:8082').replace(/\/+$/, '');

function answer(response, status, body) {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

const server = http.createServer((request, response) => {
  // LAB: the name uses the concrete path (/stock/42), so every product gets its own name;
  // there is no http.route and no http.response.status_code; the incoming traceparent is
  // ignored; and the caller's API key is recorded as an attribute.
  tracer.startActiveSpan(
    `GET ${request.url}`,
    {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.header.x-api-key': request.headers['x-api-key'] || '' },
    },
    async (span) => {
      try {
        const match = /^\/stock\/(\d+)$/.exec(request.url);
        if (!match) return answer(response, 404, { error: 'not found' });
        const id = Number(match[1]);
        // LAB: a plain call: no CLIENT span, and no traceparent is sent.
        let product;
        try {
          const reply = await fetch(`${API_URL}/products/${id}`);
          if (reply.status === 404) return answer(response, 404, { error: 'no such product' });
          if (!reply.ok) return answer(response, 500, { error: `the api answered ${reply.status}` });
          product = await reply.json();
        } catch (error) {
          return answer(response, 500, { error: `the api is unreachable: ${error.message}` });
        }
        const stock = units(id);
        if (stock === null) {
          // LAB: a failed request, but the span does not say so.
          return answer(response, 500, { error: `the warehouse has no record of product ${id}` });
        }
        return answer(response, 200, { product: product.name, units: stock });
      } finally {
        span.end();
      }
    },
  );
});

server.listen(Number(process.env.PORT || 8090), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
