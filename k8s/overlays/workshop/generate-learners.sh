#!/bin/sh
# Writes the workshop overlay's per-learner files for N learners (learner-1 … learner-N):
#
#   learners/learner-K/        the learner's namespace and sample app (with their own course and
#                              grader reading tenant learner-K from the shared Tempo)
#   kustomization.yaml         the overlay: the shared stack plus every learner
#   shared/otel-gateway.yaml   the collector gateway, routing namespace learner-K to tenant learner-K
#   shared/datasources.yaml    Grafana: one Tempo datasource per learner, plus one for them all
#   shared/workshop.yaml       Grafana's Ingress and the shared parts' PodDisruptionBudgets
#
#   learners/learner-K/isolation.yaml
#                              the learner's fences: NetworkPolicies (nothing in or out but their
#                              own namespace, DNS, the shared collector and Tempo, and the ingress
#                              controller), a ResourceQuota, a LimitRange, and an Ingress for
#                              learner-K.$WORKSHOP_DOMAIN
#
# Usage: k8s/overlays/workshop/generate-learners.sh N [OUTPUT_DIR]
# WORKSHOP_DOMAIN (default workshop.example) is the domain the learners' hosts live under;
# INGRESS_NAMESPACE (default ingress-nginx) is where the ingress controller runs.
# OUTPUT_DIR defaults to the folder of this script. Running it again with another N replaces the
# learners/ folder and the four files above; nothing else is touched.
set -eu

usage() {
    echo "usage: $0 N [OUTPUT_DIR]   (N: the number of learners, 1 to 500)" >&2
    exit 2
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
count=$1
case $count in
    '' | *[!0-9]*) usage ;;
esac
[ "$count" -ge 1 ] && [ "$count" -le 500 ] || usage
out=${2:-$(dirname -- "$0")}
domain=${WORKSHOP_DOMAIN:-workshop.example}
ingress_namespace=${INGRESS_NAMESPACE:-ingress-nginx}
mkdir -p -- "$out/shared"

# ---- learners/learner-K --------------------------------------------------------------------------
# Learners beyond N go; the others keep their secrets.env (k8s/make-secrets.sh writes it).
for dir in "$out"/learners/learner-*; do
    [ -d "$dir" ] || continue
    k=${dir##*/learner-}
    case $k in
        '' | *[!0-9]*) rm -rf -- "$dir" ;;
        *) [ "$k" -le "$count" ] || rm -rf -- "$dir" ;;
    esac
done
k=1
while [ "$k" -le "$count" ]; do
    dir="$out/learners/learner-$k"
    mkdir -p -- "$dir"
    cat > "$dir/namespace.yaml" <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: learner-$k
  labels:
    app.kubernetes.io/part-of: tracing-dojo
    tracing-dojo/learner: learner-$k
EOF
    cat > "$dir/isolation.yaml" <<EOF
# Written by generate-learners.sh: learner-$k's fences.
#
# Nothing reaches this namespace's pods, and they reach nothing, except what the policies below
# allow: each other, DNS, the shared collector agents and Tempo in observability, and the
# ingress controller in front of the course and the shop. Another learner's namespace is never
# allowed, either way.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-own-namespace
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - podSelector: {}
  egress:
    - to:
        - podSelector: {}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-dns
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: kube-system
          podSelector:
            matchLabels:
              k8s-app: kube-dns
      ports:
        - protocol: UDP
          port: 53
        - protocol: TCP
          port: 53
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-telemetry
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    # Spans to the node's collector agent.
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: observability
          podSelector:
            matchLabels:
              app.kubernetes.io/name: otel-agent
      ports:
        - protocol: TCP
          port: 4317
        - protocol: TCP
          port: 4318
    # The grader reads this learner's tenant from Tempo.
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: observability
          podSelector:
            matchLabels:
              app.kubernetes.io/name: tempo
      ports:
        - protocol: TCP
          port: 3200
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-ingress-controller
spec:
  podSelector:
    matchExpressions:
      - key: app.kubernetes.io/name
        operator: In
        values: [dojo, frontend]
  policyTypes: [Ingress]
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: $ingress_namespace
      ports:
        - protocol: TCP
          port: 8080
        - protocol: TCP
          port: 8081
---
# The learner's share of the cluster: the app's requests and limits with room for one rolling
# update, and a small disk.
apiVersion: v1
kind: ResourceQuota
metadata:
  name: learner-quota
spec:
  hard:
    requests.cpu: "1"
    requests.memory: 1Gi
    limits.cpu: "6"
    limits.memory: 3Gi
    requests.storage: 5Gi
    persistentvolumeclaims: "2"
    pods: "12"
    services: "8"
---
# Defaults for a container that names no resources (the quota refuses such a pod otherwise),
# and a ceiling for one that names too much.
apiVersion: v1
kind: LimitRange
metadata:
  name: learner-limits
spec:
  limits:
    - type: Container
      defaultRequest:
        cpu: 50m
        memory: 64Mi
      default:
        cpu: 500m
        memory: 256Mi
      max:
        cpu: "2"
        memory: 1Gi
---
# The course at learner-$k.$domain, the shop at shop.learner-$k.$domain.
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: learner
spec:
  ingressClassName: nginx
  rules:
    - host: learner-$k.$domain
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: dojo
                port:
                  number: 8080
    - host: shop.learner-$k.$domain
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: frontend
                port:
                  number: 8081
EOF
    cat > "$dir/kustomization.yaml" <<EOF
# Written by generate-learners.sh: learner-$k's own sample app, course and grader.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: learner-$k
resources:
  - namespace.yaml
  - isolation.yaml
  - ../../../../base/app
configMapGenerator:
  - name: sample-app-env
    behavior: merge
    literals:
      - OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-agent.observability.svc.cluster.local:4318
      - TRACE_ENVIRONMENT=workshop
      - TEMPO_URL=http://tempo.observability.svc.cluster.local:3200
      - TEMPO_TENANT=learner-$k
secretGenerator:
  # This learner's own instructor token, admin token and database password, from the
  # git-ignored secrets.env that k8s/make-secrets.sh writes.
  - name: dojo-secrets
    behavior: replace
    envs:
      - secrets.env
EOF
    k=$((k + 1))
done

# ---- kustomization.yaml ----------------------------------------------------------------------------
{
    cat <<EOF
# Written by generate-learners.sh: the workshop for $count learners.
#
#   kubectl apply -k k8s/overlays/workshop
#
# Regenerate for another class size with: k8s/overlays/workshop/generate-learners.sh N
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - shared
EOF
    k=1
    while [ "$k" -le "$count" ]; do
        echo "  - learners/learner-$k"
        k=$((k + 1))
    done
} > "$out/kustomization.yaml"

# ---- shared/otel-gateway.yaml ----------------------------------------------------------------------
{
    cat <<'EOF'
# Written by generate-learners.sh. The collector gateway for the workshop: the base's pipeline
# (mask literals, span metrics and service graph from every span, tail-sample whole traces), then
# a routing connector that sends each learner
# namespace's traces to Tempo under that learner's tenant (the X-Scope-OrgID header).

extensions:
  health_check:
    endpoint: 0.0.0.0:13133

receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:4317

processors:
  memory_limiter:
    check_interval: 1s
    limit_percentage: 80
    spike_limit_percentage: 20

  transform/mask-literals:
    error_mode: ignore
    trace_statements:
      - context: span
        statements:
          - replace_pattern(attributes["db.query.text"], "'[^']*'", "'?'")
          - replace_pattern(attributes["db.query.text"], "[0-9]{6,}", "?")

  tail_sampling:
    decision_wait: 10s
    num_traces: 100000
    expected_new_traces_per_sec: 100
    policies:
      - name: keep-errors
        type: status_code
        status_code:
          status_codes: [ERROR]
      - name: keep-slow
        type: latency
        latency:
          threshold_ms: 500
      - name: keep-a-share-of-the-rest
        type: probabilistic
        probabilistic:
          sampling_percentage: 50

  batch:
    send_batch_size: 1024
    timeout: 2s

connectors:
  # Metrics before sampling: span metrics (requests, errors, durations per service and span
  # name) and the service graph are computed here from EVERY span, before tail sampling drops
  # any, so the dashboard's request rate and error ratio are the real ones. (Tempo's own
  # metrics-generator only sees what sampling kept: with errors and slow traces all kept and
  # half of the rest, it would read about twice the true error ratio.)
  spanmetrics:
    # traces.spanmetrics.calls → traces_spanmetrics_calls_total in Prometheus, and so on.
    namespace: traces.spanmetrics
    histogram:
      unit: s
      explicit:
        buckets: [5ms, 10ms, 25ms, 50ms, 100ms, 250ms, 500ms, 1s, 2500ms, 5s, 10s]
    exemplars:
      enabled: true
    metrics_flush_interval: 15s
    # Prometheus does not separate tenants: label every series with the learner's namespace.
    dimensions:
      - name: k8s.namespace.name
  servicegraph:
    latency_histogram_buckets: [5ms, 10ms, 25ms, 50ms, 100ms, 250ms, 500ms, 1s, 2500ms, 5s, 10s]
    metrics_flush_interval: 15s
    store:
      ttl: 10s
      max_items: 10000
    dimensions: [k8s.namespace.name]
  # Hands every span on to the sampling pipeline.
  forward/sampling: {}
  routing:
    # k8s.namespace.name was set by the agents' k8sattributes processor.
    error_mode: ignore
    default_pipelines: [traces/unassigned]
    table:
EOF
    k=1
    while [ "$k" -le "$count" ]; do
        cat <<EOF
      - context: resource
        condition: attributes["k8s.namespace.name"] == "learner-$k"
        pipelines: [traces/learner-$k]
EOF
        k=$((k + 1))
    done
    cat <<'EOF'

exporters:
  # Span metrics and the service graph into Prometheus (its remote-write receiver is on).
  prometheusremotewrite:
    endpoint: http://prometheus:9090/api/v1/write
  # Traces from outside every learner namespace are kept apart, not mixed into a learner's.
  otlp_grpc/unassigned:
    endpoint: tempo:4317
    tls:
      insecure: true
    headers:
      X-Scope-OrgID: unassigned
EOF
    k=1
    while [ "$k" -le "$count" ]; do
        cat <<EOF
  otlp_grpc/learner-$k:
    endpoint: tempo:4317
    tls:
      insecure: true
    headers:
      X-Scope-OrgID: learner-$k
EOF
        k=$((k + 1))
    done
    cat <<'EOF'

service:
  extensions: [health_check]
  pipelines:
    # Span metrics and the service graph from every span, before sampling (see connectors).
    traces/in:
      receivers: [otlp]
      processors: [memory_limiter, transform/mask-literals, batch]
      exporters: [spanmetrics, servicegraph, forward/sampling]
    traces/sampled:
      receivers: [forward/sampling]
      processors: [memory_limiter, tail_sampling, batch]
      exporters: [routing]
    metrics:
      receivers: [spanmetrics, servicegraph]
      processors: [memory_limiter, batch]
      exporters: [prometheusremotewrite]
    traces/unassigned:
      receivers: [routing]
      exporters: [otlp_grpc/unassigned]
EOF
    k=1
    while [ "$k" -le "$count" ]; do
        cat <<EOF
    traces/learner-$k:
      receivers: [routing]
      exporters: [otlp_grpc/learner-$k]
EOF
        k=$((k + 1))
    done
} > "$out/shared/otel-gateway.yaml"

# ---- shared/datasources.yaml -----------------------------------------------------------------------
tempo_datasource() {
    # $1 uid, $2 name, $3 tenant (a single tenant, or several joined by |)
    cat <<EOF
  - name: $2
    type: tempo
    uid: $1
    access: proxy
    url: http://tempo:3200
    editable: false
    jsonData:
      httpHeaderName1: X-Scope-OrgID
      tracesToMetrics:
        datasourceUid: prometheus
        spanStartTimeShift: -10m
        spanEndTimeShift: 10m
        tags:
          - key: service.name
            value: service_name
          - key: k8s.namespace.name
            value: k8s_namespace_name
        queries:
          - name: Request rate
            query: sum by (span_name) (rate(traces_spanmetrics_calls_total{\$\$__tags}[5m]))
          - name: Error rate
            query: sum by (span_name) (rate(traces_spanmetrics_calls_total{\$\$__tags, status_code="STATUS_CODE_ERROR"}[5m]))
      # From a span to the log lines its service wrote, in the learner's namespace.
      tracesToLogsV2:
        datasourceUid: loki
        spanStartTimeShift: -5m
        spanEndTimeShift: 5m
        filterByTraceID: true
        tags:
          - key: service.name
            value: service_name
          - key: k8s.namespace.name
            value: k8s_namespace_name
      serviceMap:
        datasourceUid: prometheus
      nodeGraph:
        enabled: true
      streamingEnabled:
        search: false
        metrics: false
    secureJsonData:
      httpHeaderValue1: "$3"
EOF
}
{
    cat <<'EOF'
# Written by generate-learners.sh. Grafana's datasources for the workshop: one Tempo datasource
# per learner tenant, and "Tempo (all learners)" for the instructor (Tempo reads several tenants
# at once when X-Scope-OrgID joins them with |). In this file `$$` stands for a literal dollar.
apiVersion: 1

datasources:
  - name: Prometheus
    type: prometheus
    uid: prometheus
    access: proxy
    url: http://prometheus:9090
    editable: false
    jsonData:
      httpMethod: POST
      exemplarTraceIdDestinations:
        - name: trace_id
          datasourceUid: tempo
  - name: Loki
    type: loki
    uid: loki
    access: proxy
    url: http://loki:3100
    editable: false
    jsonData:
      # From a log line to its trace: the collector set each line's trace context from its
      # trace_id, which Loki keeps as structured metadata.
      derivedFields:
        - name: TraceID
          matcherType: label
          matcherRegex: trace_id
          url: "$${__value.raw}"
          datasourceUid: tempo
          urlDisplayLabel: Open the trace
EOF
    all=""
    k=1
    while [ "$k" -le "$count" ]; do
        all="${all:+$all|}learner-$k"
        k=$((k + 1))
    done
    tempo_datasource tempo "Tempo (all learners)" "$all"
    k=1
    while [ "$k" -le "$count" ]; do
        tempo_datasource "tempo-learner-$k" "Tempo (learner-$k)" "learner-$k"
        k=$((k + 1))
    done
} > "$out/shared/datasources.yaml"

# ---- shared/workshop.yaml ----------------------------------------------------------------------------
{
    cat <<EOF
# Written by generate-learners.sh. The shared stack's part of the workshop: Grafana at
# grafana.$domain (anonymous visitors may look, the admin signs in), and disruption budgets so
# that a node drain during class does not take the collector, Tempo, Loki, Prometheus or
# Grafana away (each runs one replica: drain such a node between classes, or scale it up first).
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: grafana
spec:
  ingressClassName: nginx
  rules:
    - host: grafana.$domain
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: grafana
                port:
                  number: 3000
EOF
    for part in otel-gateway tempo loki prometheus grafana; do
        cat <<EOF
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: $part
spec:
  minAvailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: $part
EOF
    done
} > "$out/shared/workshop.yaml"

echo "wrote the workshop overlay for $count learners in $out"
