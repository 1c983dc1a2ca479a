//! The store itself: a cheap cloneable [`Store`] handle around shared, per-tenant state.
//!
//! Shaped like mini-redis's `db.rs`: the handle holds an `Arc<Shared>`; `Shared` holds the
//! tenants behind a lock that is only ever taken for short, synchronous work and never held
//! across an `.await`. Queries copy a snapshot of `Arc<Trace>`s and evaluate without any lock,
//! so ingest never waits long for a query and a query never waits long for ingest.

pub mod query;
pub mod routing;
pub mod size;
pub mod tail;
pub mod tenant;
pub mod wal;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{
    Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard,
};
use std::time::Duration;

use dojo_traceql::model::Trace;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde::Serialize;
use tokio::time::Instant;

use crate::config::StoreConfig;
use crate::metrics::TenantMetrics;
use crate::otlp::convert::{ConvertedBatch, IncomingSpan, convert_request_with, now_unix_nanos};
use crate::pipeline::{Pipeline, PipelineConfig, PipelineError};
use tail::TailBuffer;
use tenant::{Counters, Evicted, TenantState, TooBig};
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
    /// Tenants appear on their first span, at most `budget.max_tenants` of them; one with no
    /// traces left and no request for the retention period is dropped.
    tenants: RwLock<HashMap<TenantId, Arc<Tenant>>>,
    /// Estimated bytes stored over all tenants, checked against `budget.max_bytes_total`.
    bytes_total: AtomicU64,
    /// Held by whoever is evicting for the store-wide budget, so two ingests do not both
    /// evict for the same excess.
    budget_eviction: Mutex<()>,
    /// The token that shows every tenant on `/metrics` and the status page; without it a
    /// caller sees its own tenant and store-wide totals only.
    operator_token: Option<Arc<str>>,
    /// Spans waiting for tail sampling over all tenants, checked against `max_pending_spans`.
    pending_spans: AtomicUsize,
    /// Ingest requests in progress, checked against `max_concurrent_ingests`.
    ingests_in_flight: AtomicUsize,
    /// Request bytes being decoded now, checked against `budget.max_decoding_bytes`.
    decoding_bytes: AtomicU64,
    /// The write-ahead log every stored batch is appended to, once one is attached
    /// ([`Store::attach_wal`]); unset, the store keeps traces in memory only.
    wal: OnceLock<wal::Wal>,
    /// Set in a workshop: spans sent to the default tenant go to their learner's tenant.
    routing: std::sync::OnceLock<routing::Router>,
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
    /// The last time this tenant sent spans, to drop it once idle past retention.
    pub(crate) last_ingest: Mutex<Instant>,
}

/// What happened to an export request (the OTLP partial-success fields).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Spans taken in (stored, waiting for tail sampling, or deliberately sampled out).
    pub accepted: usize,
    /// Spans refused: invalid, or their trace already as big as a trace may be.
    pub rejected: usize,
    /// Spans kept but cut down to the span limits.
    pub truncated: usize,
    /// Why spans were refused or cut, for the client's log.
    pub message: Option<String>,
}

/// Why a whole export request was turned away. Retryable by the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error("the trace store is busy with other requests; retry in {}s", retry_after.as_secs())]
    TooManyRequests { retry_after: Duration },
    #[error("the trace store's tail-sampling buffer is full; retry in {}s", retry_after.as_secs())]
    Unavailable { retry_after: Duration },
    #[error(
        "the trace store already keeps data for {max} tenants, the most it may (budget.max_tenants); a tenant is dropped once it has had no traces and no spans for the retention period. Send as an existing tenant, or ask the operator to raise the limit"
    )]
    TooManyTenants { max: usize, retry_after: Duration },
    #[error(
        "the trace store could not write its write-ahead log ({reason}), so nothing of this request was stored; retry in {}s",
        retry_after.as_secs()
    )]
    NotDurable {
        reason: String,
        retry_after: Duration,
    },
}

impl IngestError {
    /// How long the client should wait before retrying.
    pub fn retry_after(&self) -> Duration {
        match self {
            IngestError::TooManyRequests { retry_after }
            | IngestError::Unavailable { retry_after }
            | IngestError::TooManyTenants { retry_after, .. }
            | IngestError::NotDurable { retry_after, .. } => *retry_after,
        }
    }
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
    /// Spans stored cut down to the span limits.
    pub truncated_spans: u64,
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

/// A share of the decoding budget for one request body; dropping it gives the share back.
pub struct DecodingPermit {
    shared: Arc<Shared>,
    bytes: u64,
}

impl Drop for DecodingPermit {
    fn drop(&mut self) {
        self.shared
            .decoding_bytes
            .fetch_sub(self.bytes, Ordering::AcqRel);
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
        Self::with_operator_token(config, None)
    }

    /// Builds an empty store whose `/metrics` and status page show every tenant to callers
    /// presenting `token` (`Authorization: Bearer <token>`).
    pub fn with_operator_token(
        config: StoreConfig,
        token: Option<String>,
    ) -> Result<Self, PipelineError> {
        let pipeline = Pipeline::new(&config.pipeline)?;
        Ok(Store {
            shared: Arc::new(Shared {
                config,
                pipeline: Arc::new(pipeline),
                tenants: RwLock::new(HashMap::new()),
                bytes_total: AtomicU64::new(0),
                budget_eviction: Mutex::new(()),
                operator_token: token.filter(|t| !t.is_empty()).map(Arc::from),
                pending_spans: AtomicUsize::new(0),
                ingests_in_flight: AtomicUsize::new(0),
                decoding_bytes: AtomicU64::new(0),
                wal: OnceLock::new(),
                routing: std::sync::OnceLock::new(),
            }),
        })
    }

    /// Whether `presented` is the operator token (compared in constant time).
    pub fn is_operator(&self, presented: Option<&str>) -> bool {
        match (&self.shared.operator_token, presented) {
            (Some(token), Some(presented)) => {
                let (a, b) = (token.as_bytes(), presented.as_bytes());
                a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
            }
            _ => false,
        }
    }

    /// Estimated bytes stored over all tenants.
    pub fn bytes_total(&self) -> u64 {
        self.shared.bytes_total.load(Ordering::Acquire)
    }

    /// How many tenants the store keeps now.
    pub fn tenant_count(&self) -> usize {
        read(&self.shared.tenants).len()
    }

    /// The configuration in force.
    pub fn config(&self) -> &StoreConfig {
        &self.shared.config
    }

    /// The tenant, created on its first spans unless the store already keeps the most
    /// tenants it may.
    fn tenant(&self, id: &TenantId) -> Result<Arc<Tenant>, IngestError> {
        // `last_ingest` is set under the map's lock, so a tenant being dropped as idle
        // (under the write lock) either sees this request or is gone before it looks.
        if let Some(tenant) = read(&self.shared.tenants).get(id) {
            *lock(&tenant.last_ingest) = Instant::now();
            return Ok(tenant.clone());
        }
        let mut tenants = write(&self.shared.tenants);
        if let Some(tenant) = tenants.get(id) {
            return Ok(tenant.clone());
        }
        let max = self.shared.config.budget.max_tenants;
        if tenants.len() >= max {
            return Err(IngestError::TooManyTenants {
                max,
                retry_after: Duration::from_secs(60),
            });
        }
        let tenant = Arc::new(Tenant {
            pipeline: RwLock::new(None),
            state: RwLock::new(TenantState::default()),
            tail: Mutex::new(TailBuffer::default()),
            counters: Counters::default(),
            metrics: Mutex::new(TenantMetrics::new(&self.shared.config.metrics)),
            last_ingest: Mutex::new(Instant::now()),
        });
        tenants.insert(id.clone(), tenant.clone());
        Ok(tenant)
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
        let tenant = self
            .tenant(tenant)
            .map_err(|error| PipelineError::Tenant(error.to_string()))?;
        *write(&tenant.pipeline) = compiled;
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
            if let Ok(tenant) = self.tenant(tenant) {
                Counters::add(&tenant.counters.refused_requests, 1);
            }
            return Err(IngestError::TooManyRequests {
                retry_after: Duration::from_secs(1),
            });
        }
        Ok(permit)
    }

    /// Reserves `bytes` of the decoding budget for one request body (decompressed), or says
    /// to come back later (429). A body larger than the whole budget passes alone.
    pub fn try_reserve_decoding(&self, bytes: usize) -> Result<DecodingPermit, IngestError> {
        let bytes = bytes as u64;
        let max = self.shared.config.budget.max_decoding_bytes;
        let previous = self
            .shared
            .decoding_bytes
            .fetch_add(bytes, Ordering::AcqRel);
        let permit = DecodingPermit {
            shared: self.shared.clone(),
            bytes,
        };
        if previous > 0 && previous + bytes > max {
            drop(permit);
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
        let batch =
            convert_request_with(request, &self.shared.config.span_limits, now_unix_nanos());
        self.ingest_converted(tenant, batch)
    }

    /// From now on, spans sent to the default tenant that belong to a learner's request go to
    /// that learner's tenant ([`routing`]), as a collector's routing connector would in a
    /// workshop. Spans sent with a tenant header are never rerouted.
    pub fn route_by_learner(&self) {
        let _ = self.shared.routing.set(routing::Router::default());
    }

    /// Whether [`Store::route_by_learner`] is on.
    pub fn routes_by_learner(&self) -> bool {
        self.shared.routing.get().is_some()
    }

    /// The tenants that hold a trace: to tell a learner that a trace
    /// they cite is another learner's, without showing it.
    pub fn tenants_holding(&self, trace_id: &dojo_traceql::model::TraceId) -> Vec<TenantId> {
        self.all_tenants()
            .into_iter()
            .filter(|(_, t)| read(&t.state).traces.contains_key(trace_id))
            .map(|(id, _)| id)
            .collect()
    }

    /// Ingests spans already converted to the model (the receivers' second half).
    pub fn ingest_converted(
        &self,
        tenant_id: &TenantId,
        batch: ConvertedBatch,
    ) -> Result<IngestOutcome, IngestError> {
        match self.shared.routing.get() {
            Some(router) if *tenant_id == TenantId::default_tenant() => {
                self.ingest_routed(router, tenant_id, batch)
            }
            _ => self.ingest_into(tenant_id, batch),
        }
    }

    /// Ingests a batch split by learner: the unmarked spans where they were sent, each
    /// learner's in their tenant, with any spans of a newly recognised trace that were
    /// stored where the batch was sent moved along. A learner tenant that cannot take its
    /// spans (the tenant cap) leaves them where they were sent.
    fn ingest_routed(
        &self,
        router: &routing::Router,
        tenant_id: &TenantId,
        batch: ConvertedBatch,
    ) -> Result<IngestOutcome, IngestError> {
        let ConvertedBatch {
            spans,
            rejected,
            first_rejection,
            truncated,
            first_truncation,
        } = batch;
        let routed = router.split(spans);
        let mut outcome = IngestOutcome::default();
        let mut stay = routed.stay;
        for (learner, spans) in routed.moved {
            let Ok(tenant) = self.tenant(&learner) else {
                stay.extend(spans);
                continue;
            };
            // Spans of a newly recognised trace already stored where the batch was sent
            // passed the pipeline there: they are moved as they are, not processed again.
            if let Some(shared) = self.existing_tenant(tenant_id) {
                let now = Instant::now();
                for (trace_id, _) in routed.learned.iter().filter(|(_, t)| *t == learner) {
                    let taken = write(&shared.state).take(trace_id);
                    if let Some((spans, bytes)) = taken {
                        self.shared.bytes_total.fetch_sub(bytes, Ordering::AcqRel);
                        // Logged under the learner's tenant too, so a restart finds them there.
                        if let Err(error) = self.commit(&learner, &tenant, spans, now) {
                            tracing::warn!(%error, "spans moved to a learner's tenant were not stored");
                        }
                    }
                }
            }
            let part = ConvertedBatch {
                spans,
                ..ConvertedBatch::default()
            };
            merge(&mut outcome, self.ingest_into(&learner, part)?);
        }
        let rest = ConvertedBatch {
            spans: stay,
            rejected,
            first_rejection,
            truncated,
            first_truncation,
        };
        merge(&mut outcome, self.ingest_into(tenant_id, rest)?);
        Ok(outcome)
    }

    /// Ingests a batch into one tenant.
    fn ingest_into(
        &self,
        tenant_id: &TenantId,
        batch: ConvertedBatch,
    ) -> Result<IngestOutcome, IngestError> {
        let tenant = self.tenant(tenant_id)?;
        let ConvertedBatch {
            mut spans,
            rejected,
            first_rejection,
            truncated,
            first_truncation,
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
        let now = Instant::now();
        Counters::add(&tenant.counters.received_spans, valid + rejected);
        Counters::add(&tenant.counters.refused_spans, rejected);
        Counters::add(&tenant.counters.truncated_spans, truncated);
        let sampled_out = pipeline.process(&mut spans);
        Counters::add(&tenant.counters.sampled_out_spans, sampled_out);
        let too_big = match pipeline.tail() {
            Some(tail) => {
                let added = lock(&tenant.tail).add(spans, now, tail.decision_wait());
                self.shared
                    .pending_spans
                    .fetch_add(added.waiting, Ordering::AcqRel);
                Counters::add(&tenant.counters.sampled_out_spans, added.dropped);
                self.commit(tenant_id, &tenant, added.keep_now, now)?
            }
            None => self.commit(tenant_id, &tenant, spans, now)?,
        };
        let mut problems = Vec::new();
        if let Some(reason) = first_rejection {
            problems.push(format!(
                "{rejected} span(s) were rejected because they are not valid OTLP; the first problem: {reason}"
            ));
        }
        if let Some(reason) = too_big.first_reason {
            problems.push(format!(
                "{} span(s) were rejected because their trace is too big; the first: {reason}",
                too_big.spans
            ));
        }
        if let Some(reason) = first_truncation {
            problems.push(format!(
                "{truncated} span(s) were stored cut down to the store's span limits; the first cut: {reason}"
            ));
        }
        Ok(IngestOutcome {
            accepted: valid - too_big.spans,
            rejected: rejected + too_big.spans,
            truncated,
            message: (!problems.is_empty()).then(|| problems.join(". ")),
        })
    }

    /// Stores spans that passed the pipeline: spans that would make their trace too big are
    /// refused (and returned as such), the rest are appended to the write-ahead log (if there
    /// is one; when that fails nothing is stored), counted in metrics and stored, then the
    /// tenant's limits and the store-wide budget are enforced.
    fn commit(
        &self,
        tenant_id: &TenantId,
        tenant: &Tenant,
        mut spans: Vec<IncomingSpan>,
        now: Instant,
    ) -> Result<TooBig, IngestError> {
        if spans.is_empty() {
            return Ok(TooBig::default());
        }
        let too_big = read(&tenant.state).admit(&mut spans, &self.shared.config.span_limits);
        Counters::add(&tenant.counters.refused_spans, too_big.spans);
        if spans.is_empty() {
            return Ok(too_big);
        }
        if let Some(wal) = self.shared.wal.get()
            && let Err(error) = wal.append(tenant_id, now_unix_nanos(), &spans)
        {
            tracing::error!(dir = %wal.dir().display(), %error, "could not append to the write-ahead log");
            Counters::add(&tenant.counters.refused_requests, 1);
            return Err(IngestError::NotDurable {
                reason: error.to_string(),
                retry_after: Duration::from_secs(5),
            });
        }
        {
            lock(&tenant.metrics).observe_batch(spans.iter().map(|s| (&s.trace_id, &s.span)), now);
        }
        Counters::add(&tenant.counters.stored_spans, spans.len());
        let (added, evicted) = {
            let mut state = write(&tenant.state);
            let added = state.insert(spans, now);
            (added, state.evict(&self.shared.config.limits, now))
        };
        self.shared.bytes_total.fetch_add(added, Ordering::AcqRel);
        self.count_evicted(tenant, evicted);
        self.enforce_budget();
        Ok(too_big)
    }

    fn count_evicted(&self, tenant: &Tenant, evicted: Evicted) {
        self.shared
            .bytes_total
            .fetch_sub(evicted.bytes, Ordering::AcqRel);
        Counters::add(&tenant.counters.evicted_spans, evicted.spans);
        Counters::add(&tenant.counters.evicted_traces, evicted.traces);
    }

    /// While the store holds more than `budget.max_bytes_total`, evicts the oldest trace of
    /// whichever tenant has the oldest one: the budget is shared, so the oldest data goes
    /// first wherever it is.
    fn enforce_budget(&self) {
        let max = self.shared.config.budget.max_bytes_total;
        if self.bytes_total() <= max {
            return;
        }
        // Someone else is already evicting for the same excess.
        let Ok(_evicting) = self.shared.budget_eviction.try_lock() else {
            return;
        };
        let tenants = self.all_tenants();
        while self.bytes_total() > max {
            let mut fronts: Vec<(Instant, usize)> = tenants
                .iter()
                .enumerate()
                .filter_map(|(i, (_, t))| read(&t.state).oldest().map(|at| (at, i)))
                .collect();
            fronts.sort_unstable();
            let Some(&(_, oldest)) = fronts.first() else {
                break;
            };
            // Evict from the oldest tenant until its oldest trace is younger than the next
            // tenant's, so one scan of the tenants serves many evictions.
            let next = fronts.get(1).map(|(at, _)| *at);
            let tenant = &tenants[oldest].1;
            loop {
                let evicted = write(&tenant.state).evict_oldest();
                if evicted.traces == 0 {
                    break;
                }
                self.count_evicted(tenant, evicted);
                let still_oldest = match (read(&tenant.state).oldest(), next) {
                    (Some(at), Some(next)) => at <= next,
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                if self.bytes_total() <= max || !still_oldest {
                    break;
                }
            }
        }
    }

    /// Periodic work: tail-sampling decisions that are due, retention, service-graph expiry.
    /// `serve` runs it twice a second; an embedding without `serve` should call it too.
    pub fn run_maintenance(&self) {
        let now = Instant::now();
        for (tenant_id, tenant) in self.all_tenants() {
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
                if let Err(error) = self.commit(&tenant_id, &tenant, keep, now) {
                    // No client is waiting for these: the decided spans are lost, and said so.
                    tracing::error!(tenant = %tenant_id, %error, "tail-sampled spans could not be stored");
                }
            }
            let evicted = write(&tenant.state).evict(&self.shared.config.limits, now);
            self.count_evicted(&tenant, evicted);
            lock(&tenant.metrics).expire(now);
        }
        self.drop_idle_tenants(now);
        if let Some(wal) = self.shared.wal.get()
            && let Err(error) = wal.maintain(now_unix_nanos(), self.shared.config.limits.retention)
        {
            tracing::error!(dir = %wal.dir().display(), %error, "write-ahead log maintenance failed");
        }
    }

    /// Forgets tenants that have kept no traces, waited on no tail-sampling decision and sent
    /// nothing for the retention period, so their places (and their metrics) are freed.
    fn drop_idle_tenants(&self, now: Instant) {
        let retention = self.shared.config.limits.retention;
        let idle = |tenant: &Tenant| {
            read(&tenant.state).traces.is_empty()
                && lock(&tenant.tail).waiting_spans() == 0
                && now.saturating_duration_since(*lock(&tenant.last_ingest)) > retention
        };
        let candidates: Vec<TenantId> = self
            .all_tenants()
            .into_iter()
            .filter(|(_, t)| idle(t))
            .map(|(id, _)| id)
            .collect();
        if candidates.is_empty() {
            return;
        }
        let mut tenants = write(&self.shared.tenants);
        for id in candidates {
            // Checked again under the write lock: spans may have arrived meanwhile.
            if tenants.get(&id).is_some_and(|t| idle(t)) {
                tenants.remove(&id);
            }
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
                    truncated_spans: Counters::get(&c.truncated_spans),
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

/// Adds one part's outcome to a routed batch's.
fn merge(total: &mut IngestOutcome, part: IngestOutcome) {
    total.accepted += part.accepted;
    total.rejected += part.rejected;
    total.truncated += part.truncated;
    total.message = match (total.message.take(), part.message) {
        (Some(a), Some(b)) => Some(format!("{a}. {b}")),
        (a, b) => a.or(b),
    };
}
