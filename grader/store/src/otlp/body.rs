//! Receiving an OTLP/HTTP body before any ingest slot is taken.
//!
//! Ingest slots bound the work of decoding and storing; they are taken only once a body is
//! complete, so a client that sends headers and a few bytes and then stalls holds no slot.
//! What slow bodies cost instead is memory, and that is bounded by one budget of bytes being
//! received over all clients: a body that would go beyond it is refused with 503 and
//! Retry-After. A body that stops arriving fails after the port's body-stall timeout
//! (`dojo_listen`), which gives its bytes back to the budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

use super::http_error::OtlpHttpError;

/// Bytes of request bodies being received, over all clients of one receiver.
#[derive(Debug)]
pub struct BodyBudget {
    limit: usize,
    used: AtomicUsize,
}

impl BodyBudget {
    pub fn new(limit: usize) -> Arc<BodyBudget> {
        Arc::new(BodyBudget {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    /// Bytes counted against the budget now (for tests and benchmarks).
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

/// A body's share of the budget, given back when dropped.
struct Share<'a> {
    budget: &'a BodyBudget,
    bytes: usize,
}

impl Share<'_> {
    fn grow(&mut self, more: usize) -> Result<(), OtlpHttpError> {
        let before = self.budget.used.fetch_add(more, Ordering::AcqRel);
        self.bytes += more;
        if before + more > self.budget.limit {
            return Err(OtlpHttpError::ReceivingTooMuch {
                limit: self.budget.limit,
            });
        }
        Ok(())
    }
}

impl Drop for Share<'_> {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// Reads a whole body of at most `limit` bytes, counting it against `budget` while it
/// arrives.
pub async fn receive(
    mut body: Body,
    limit: usize,
    budget: &BodyBudget,
) -> Result<Bytes, OtlpHttpError> {
    let mut share = Share { budget, bytes: 0 };
    let mut received = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| {
            if dojo_listen::is_body_stall(&error) {
                OtlpHttpError::Stalled(error.to_string())
            } else {
                OtlpHttpError::BodyRead(error.to_string())
            }
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if received.len() + data.len() > limit {
            return Err(OtlpHttpError::TooLarge { limit });
        }
        share.grow(data.len())?;
        received.extend_from_slice(&data);
    }
    Ok(received.freeze())
}
