//! The store itself: a cheap cloneable [`Store`] handle around shared, per-tenant state.
//!
//! Shaped like mini-redis's `db.rs`: the handle holds an `Arc<Shared>`; `Shared` holds the
//! tenants behind a lock that is only ever taken for short, synchronous work and never held
//! across an `.await`. Queries copy a snapshot of `Arc<Trace>`s and evaluate without any lock,
//! so ingest never waits long for a query and a query never waits long for ingest.

pub mod query;
pub mod size;
pub mod tail;
pub mod tenant;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use dojo_traceql::model::Trace;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde::Serialize;
use tokio::time::Instant;

use crate::config::StoreConfig;
use crate::metrics::TenantMetrics;
use crate::otlp::convert::{ConvertedBatch, IncomingSpan, convert_request};
use crate::pipeline::{Pipeline, PipelineConfig, PipelineError};
use tail::TailBuffer;
use tenant::{Counters, TenantState};
pub use tenant::{TenantError, TenantId};

/// A handle to the store. Clones share the same data.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    /// The configuration the store was built with.
    config: StoreConfig,
    /// The compiled ingest pipeline, for every tenant without one of its own.
    pipeline: Arc<Pipeline>,
    /// Tenants appear on their first span or query and are never removed (their data is).
    tenants: RwLock<HashMap<TenantId, Arc<Tenant>>>,
    /// Spans waiting for tail sampling over all tenants, checked against `max_pending_spans`.
    pending_spans: AtomicUsize,
    /// Ingest requests in progress, checked against `max_concurrent_ingests`.
    ingests_in_flight: AtomicUsize,
}

/// One tenant: its traces, its tail-sampling buffer, its counters and its generated metrics.
pub(crate) struct Tenant {
    /// The tenant's own ingest pipeline, replacing the store's for the spans that arrive
    /// after it was set (a learner's sampling exercise); `None` uses the store's.
    pub(crate) pipeline: RwLock<Option<Arc<Pipeline>>>,
    pub(crate) state: RwLock<TenantState>,
    pub(crate) tail: Mutex<TailBuffer>,
    pub(crate) counters: Counters,
    pub(crate) metrics: Mutex<TenantMetrics>,
}

/// What happened to an export request (the OTLP partial-success fields).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Spans taken in (stored, waiting for tail sampling, or deliberately sampled out).
    pub accepted: usize,
    /// Spans refused as invalid.
    pub rejected: usize,
    /// Why spans were refused, for the client's log.
    pub message: Option<String>,
}

/// Why a whole export request was turned away. Retryable by the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error("the trace store is busy with other requests; retry in {}s", retry_after.as_secs())]
    TooManyRequests { retry_after: Duration },
    #[error("the trace store's tail-sampling buffer is full; retry in {}s", retry_after.as_secs())]
    Unavailable { retry_after: Duration },
}

/// Per-tenant figures for the status page and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    pub tenant: String,
    pub traces: usize,
    pub spans: usize,
    pub bytes: u64,
    pub pending_spans: usize,
    pub received_spans: u64,
    pub stored_spans_total: u64,
    /// Refused plus sampled out.
    pub dropped_spans: u64,
    pub refused_spans: u64,
    pub sampled_out_spans: u64,
    pub evicted_spans: u64,
    pub evicted_traces: u64,
    pub refused_requests: u64,
}

/// A permit for one ingest request; dropping it frees the slot.
pub struct IngestPermit {
    shared: Arc<Shared>,
}

impl Drop for IngestPermit {
    fn drop(&mut self) {
        self.shared.ingests_in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store {
    /// Builds an empty store. Fails only on a pipeline configuration that does not compile.
    pub fn new(config: StoreConfig) -> Result<Self, PipelineError> {
        let pipeline = Pipeline::new(&config.pipeline)?;
        Ok(Store {
            shared: Arc::new(Shared {
                config,
                pipeline: Arc::new(pipeline),
                tenants: RwLock::new(HashMap::new()),
                pending_spans: AtomicUsize::new(0),
                ingests_in_flight: AtomicUsize::new(0),
            }),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &StoreConfig {
        &self.shared.config
    }

    fn tenant(&self, id: &TenantId) -> Arc<Tenant> {
        if let Some(tenant) = read(&self.shared.tenants).get(id) {
            return tenant.clone();
        }
        write(&self.shared.tenants)
            .entry(id.clone())
            .or_insert_with(|| {
                Arc::new(Tenant {
                    pipeline: RwLock::new(None),
                    state: RwLock::new(TenantState::default()),
                    tail: Mutex::new(TailBuffer::default()),
                    counters: Counters::default(),
                    metrics: Mutex::new(TenantMetrics::new(&self.shared.config.metrics)),
                })
            })
            .clone()
    }

    /// Gives one tenant its own ingest pipeline (`None`: the store's again), compiled first so
    /// a configuration that does not compile changes nothing. Spans that arrive from now on go
    /// through it; stored traces are not touched, and traces already waiting for a tail
    /// decision are decided as they were buffered (by this tenant's sampler, or kept when it
    /// has none).
    pub fn set_tenant_pipeline(
        &self,
        tenant: &TenantId,
        config: Option<&PipelineConfig>,
    ) -> Result<(), PipelineError> {
        let compiled = config.map(Pipeline::new).transpose()?.map(Arc::new);
        *write(&self.tenant(tenant).pipeline) = compiled;
        Ok(())
    }

    /// The pipeline a tenant's spans go through now.
    fn pipeline_of(&self, tenant: &Tenant) -> Arc<Pipeline> {
        read(&tenant.pipeline)
            .clone()
            .unwrap_or_else(|| self.shared.pipeline.clone())
    }

    fn existing_tenant(&self, id: &TenantId) -> Option<Arc<Tenant>> {
        read(&self.shared.tenants).get(id).cloned()
    }

    fn all_tenants(&self) -> Vec<(TenantId, Arc<Tenant>)> {
        let mut all: Vec<_> = read(&self.shared.tenants)
            .iter()
            .map(|(id, t)| (id.clone(), t.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Claims a slot for one ingest request, or says to come back later (429).
    pub fn try_begin_ingest(&self, tenant: &TenantId) -> Result<IngestPermit, IngestError> {
        let limit = self.shared.config.limits.max_concurrent_ingests;
        let previous = self.shared.ingests_in_flight.fetch_add(1, Ordering::AcqRel);
        let permit = IngestPermit {
            shared: self.shared.clone(),
        };
        if previous >= limit {
            drop(permit);
            Counters::add(&self.tenant(tenant).counters.refused_requests, 1);
            return Err(IngestError::TooManyRequests {
                retry_after: Duration::from_secs(1),
            });
        }
        Ok(permit)
    }

    /// Ingests one decoded OTLP export request for a tenant.
    pub fn ingest(
        &self,
        tenant: &TenantId,
        request: ExportTraceServiceRequest,
    ) -> Result<IngestOutcome, IngestError> {
        self.ingest_converted(tenant, convert_request(request))
    }

    /// Ingests spans already converted to the model (the receivers' second half).
    pub fn ingest_converted(
        &self,
        tenant_id: &TenantId,
        batch: ConvertedBatch,
    ) -> Result<IngestOutcome, IngestError> {
        let tenant = self.tenant(tenant_id);
        let ConvertedBatch {
            mut spans,
            rejected,
            first_rejection,
        } = batch;
        let pipeline = self.pipeline_of(&tenant);
        if pipeline.tail().is_some() {
            let pending = self.shared.pending_spans.load(Ordering::Acquire);
            if pending + spans.len() > self.shared.config.limits.max_pending_spans {
                Counters::add(&tenant.counters.refused_requests, 1);
                return Err(IngestError::Unavailable {
                    retry_after: Duration::from_secs(2),
                });
            }
        }
        let valid = spans.len();
        Counters::add(&tenant.counters.received_spans, valid + rejected);
        Counters::add(&tenant.counters.refused_spans, rejected);
        let sampled_out = pipeline.process(&mut spans);
        Counters::add(&tenant.counters.sampled_out_spans, sampled_out);
        let now = Instant::now();
        match pipeline.tail() {
            Some(tail) => {
                let added = lock(&tenant.tail).add(spans, now, tail.decision_wait());
                self.shared
                    .pending_spans
                    .fetch_add(added.waiting, Ordering::AcqRel);
                Counters::add(&tenant.counters.sampled_out_spans, added.dropped);
                self.commit(&tenant, added.keep_now, now);
            }
            None => self.commit(&tenant, spans, now),
        }
        let message = first_rejection.map(|reason| {
            format!("{rejected} span(s) were rejected because they are not valid OTLP; the first problem: {reason}")
        });
        Ok(IngestOutcome {
            accepted: valid,
            rejected,
            message,
        })
    }

    fn commit(&self, tenant: &Tenant, spans: Vec<IncomingSpan>, now: Instant) {
        if spans.is_empty() {
            return;
        }
        {
            lock(&tenant.metrics).observe_batch(spans.iter().map(|s| (&s.trace_id, &s.span)), now);
        }
        Counters::add(&tenant.counters.stored_spans, spans.len());
        let evicted = {
            let mut state = write(&tenant.state);
            state.insert(spans, now);
            state.evict(&self.shared.config.limits, now)
        };
        Counters::add(&tenant.counters.evicted_spans, evicted.spans);
        Counters::add(&tenant.counters.evicted_traces, evicted.traces);
    }

    /// Periodic work: tail-sampling decisions that are due, retention, service-graph expiry.
    /// `serve` runs it twice a second; an embedding without `serve` should call it too.
    pub fn run_maintenance(&self) {
        let now = Instant::now();
        for (_, tenant) in self.all_tenants() {
            let pipeline = self.pipeline_of(&tenant);
            let sampler = pipeline.tail();
            // A tenant whose pipeline lost its tail sampler still has its waiting traces
            // decided: kept, as a pipeline without a tail sampler keeps everything.
            if sampler.is_some() || lock(&tenant.tail).waiting_spans() > 0 {
                let due = lock(&tenant.tail).take_due(now);
                let mut keep = Vec::new();
                let mut decided = Vec::new();
                for (trace_id, spans) in due {
                    self.shared
                        .pending_spans
                        .fetch_sub(spans.len(), Ordering::AcqRel);
                    let kept = match sampler {
                        Some(sampler) => {
                            let model: Vec<_> = spans.iter().map(|s| s.span.clone()).collect();
                            sampler.keeps(&trace_id, &model).is_some()
                        }
                        None => true,
                    };
                    decided.push((trace_id, kept));
                    if kept {
                        keep.extend(spans);
                    } else {
                        Counters::add(&tenant.counters.sampled_out_spans, spans.len());
                    }
                }
                {
                    let mut buffer = lock(&tenant.tail);
                    for (trace_id, kept) in decided {
                        buffer.remember(trace_id, kept);
                    }
                }
                self.commit(&tenant, keep, now);
            }
            let evicted = write(&tenant.state).evict(&self.shared.config.limits, now);
            Counters::add(&tenant.counters.evicted_spans, evicted.spans);
            Counters::add(&tenant.counters.evicted_traces, evicted.traces);
            lock(&tenant.metrics).expire(now);
        }
    }

    /// Runs [`Store::run_maintenance`] every `period` until `shutdown` resolves.
    pub async fn maintenance_loop(
        self,
        period: Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = ticker.tick() => self.run_maintenance(),
            }
        }
    }

    /// Every stored trace of a tenant at this moment, to query without holding any lock.
    pub fn snapshot(&self, tenant: &TenantId) -> Vec<Arc<Trace>> {
        match self.existing_tenant(tenant) {
            Some(t) => read(&t.state).snapshot(),
            None => Vec::new(),
        }
    }

    /// Figures for every tenant seen so far.
    pub fn status(&self) -> Vec<TenantStatus> {
        self.all_tenants()
            .into_iter()
            .map(|(id, t)| {
                let (traces, spans, bytes) = {
                    let state = read(&t.state);
                    (state.traces.len(), state.spans, state.bytes)
                };
                let c = &t.counters;
                let refused = Counters::get(&c.refused_spans);
                let sampled_out = Counters::get(&c.sampled_out_spans);
                TenantStatus {
                    tenant: id.to_string(),
                    traces,
                    spans,
                    bytes,
                    pending_spans: lock(&t.tail).waiting_spans(),
                    received_spans: Counters::get(&c.received_spans),
                    stored_spans_total: Counters::get(&c.stored_spans),
                    dropped_spans: refused + sampled_out,
                    refused_spans: refused,
                    sampled_out_spans: sampled_out,
                    evicted_spans: Counters::get(&c.evicted_spans),
                    evicted_traces: Counters::get(&c.evicted_traces),
                    refused_requests: Counters::get(&c.refused_requests),
                }
            })
            .collect()
    }

    /// Runs `f` over a tenant's generated metrics (nothing if the tenant has sent nothing).
    pub fn with_metrics<R>(
        &self,
        tenant: &TenantId,
        f: impl FnOnce(&TenantMetrics) -> R,
    ) -> Option<R> {
        self.existing_tenant(tenant).map(|t| f(&lock(&t.metrics)))
    }

    /// Runs `f` over every tenant's generated metrics, in tenant order.
    pub fn for_each_metrics(&self, mut f: impl FnMut(&TenantId, &TenantMetrics)) {
        for (id, t) in self.all_tenants() {
            f(&id, &lock(&t.metrics));
        }
    }
}
