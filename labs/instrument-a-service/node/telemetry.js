// OpenTelemetry set up once for the stock service, starter and solution alike: the resource
// from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (plus a new service.instance.id for
// every run, unless one is given), batches exported over OTLP/HTTP to
// OTEL_EXPORTER_OTLP_ENDPOINT, W3C trace context and baggage as the propagators.
'use strict';

const { randomUUID } = require('node:crypto');
const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { detectResources, envDetector, resourceFromAttributes } = require('@opentelemetry/resources');

function startTelemetry() {
  let resource = detectResources({ detectors: [envDetector] });
  const defaults = {};
  if (!resource.attributes['service.name']) defaults['service.name'] = 'stock';
  if (!resource.attributes['service.instance.id']) defaults['service.instance.id'] = randomUUID();
  resource = resourceFromAttributes(defaults).merge(resource);
  const provider = new NodeTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  // Registers the provider globally, with the W3C trace-context and baggage propagators and
  // an AsyncLocalStorage context manager (so the active span follows async calls).
  provider.register();
  const stop = () => provider.shutdown().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return provider;
}

module.exports = { startTelemetry };
