//! The api's client for the payments provider: a real per-attempt timeout and a bounded
//! number of retries with a short backoff. Each attempt is its own CLIENT span (from the
//! traced client) under one `payments.charge` INTERNAL span, so a learner sees failed
//! attempts followed by their retries.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dojo_telemetry::client::{UrlTemplate, traced_client};
use reqwest_middleware::ClientWithMiddleware;
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// What the api sends. `Debug` is written by hand so the card number never prints.
#[derive(Serialize)]
pub struct ChargeRequest {
    pub amount_cents: i64,
    pub currency: &'static str,
    pub card_number: String,
    pub reference: String,
}

impl std::fmt::Debug for ChargeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChargeRequest")
            .field("amount_cents", &self.amount_cents)
            .field("reference", &self.reference)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct ChargeResponse {
    charge_id: String,
}

/// How a charge ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    Captured {
        charge_id: String,
    },
    Declined,
    /// No attempt succeeded; the last failure in words.
    Unavailable {
        attempts: u32,
        last_error: String,
    },
}

/// The payments client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PaymentsClient {
    http: ClientWithMiddleware,
    base: String,
    timeout: Duration,
    attempts: u32,
    /// A canary release of payments and the percent of charges sent to it.
    canary: Option<(String, u32)>,
    /// Charges so far: the canary takes an even share of them, not a random one, so its
    /// traffic is steady from the first charges on.
    charges: Arc<AtomicU64>,
}

/// Pause before retry `n` (1-based): 100 ms, 200 ms, …
fn backoff(retry: u32) -> Duration {
    Duration::from_millis(100 * u64::from(retry))
}

impl PaymentsClient {
    /// A client for the provider at `base`.
    pub fn new(base: String, timeout: Duration, attempts: u32) -> PaymentsClient {
        PaymentsClient {
            http: traced_client(reqwest::Client::new()),
            base,
            timeout,
            attempts: attempts.max(1),
            canary: None,
            charges: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Sends `percent` of the charges to a canary release at `base` instead.
    pub fn with_canary(self, base: String, percent: u32) -> PaymentsClient {
        PaymentsClient {
            canary: Some((base, percent.min(100))),
            ..self
        }
    }

    /// Where the next charge goes: the canary for an even `percent` share, else the stable one.
    fn next_base(&self) -> &str {
        let n = self.charges.fetch_add(1, Ordering::Relaxed);
        match &self.canary {
            Some((canary, percent))
                if (n + 1) * u64::from(*percent) / 100 != n * u64::from(*percent) / 100 =>
            {
                canary
            }
            _ => &self.base,
        }
    }

    /// Charges the card, retrying timeouts, refused connections and 5xx answers.
    pub async fn charge(&self, request: &ChargeRequest) -> ChargeOutcome {
        let span = tracing::info_span!(
            "payments.charge",
            otel.kind = "internal",
            payment.attempts = tracing::field::Empty,
            payment.outcome = tracing::field::Empty,
        );
        let outcome = self
            .charge_with_retries(request, &span)
            .instrument(span.clone())
            .await;
        let label = match &outcome {
            ChargeOutcome::Captured { .. } => "captured",
            ChargeOutcome::Declined => "declined",
            ChargeOutcome::Unavailable { last_error, .. } => {
                dojo_telemetry::server::record_exception(&span, "PaymentsUnavailable", last_error);
                "unavailable"
            }
        };
        span.record("payment.outcome", label);
        outcome
    }

    async fn charge_with_retries(
        &self,
        request: &ChargeRequest,
        span: &tracing::Span,
    ) -> ChargeOutcome {
        let mut last_error = String::new();
        let base = self.next_base();
        for attempt in 1..=self.attempts {
            span.record("payment.attempts", i64::from(attempt));
            if attempt > 1 {
                tokio::time::sleep(backoff(attempt - 1)).await;
                tracing::warn!(attempt, previous_error = %last_error, "retrying the charge");
            }
            let sent = self
                .http
                .post(format!("{base}/charge"))
                .with_extension(UrlTemplate("/charge"))
                .timeout(self.timeout)
                .json(request)
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => {
                    match response.json::<ChargeResponse>().await {
                        Ok(body) => {
                            return ChargeOutcome::Captured {
                                charge_id: body.charge_id,
                            };
                        }
                        Err(error) => last_error = format!("unreadable answer: {error}"),
                    }
                }
                Ok(response) if response.status() == reqwest::StatusCode::PAYMENT_REQUIRED => {
                    return ChargeOutcome::Declined;
                }
                Ok(response) if response.status().is_server_error() => {
                    last_error = format!("payments answered {}", response.status());
                }
                Ok(response) => {
                    // A 4xx other than 402 is our bug, not the provider's: retrying cannot help.
                    return ChargeOutcome::Unavailable {
                        attempts: attempt,
                        last_error: format!(
                            "payments rejected the request with {}",
                            response.status()
                        ),
                    };
                }
                Err(error) => {
                    last_error = match &error {
                        reqwest_middleware::Error::Reqwest(e) if e.is_timeout() => {
                            format!("no answer within {} ms", self.timeout.as_millis())
                        }
                        reqwest_middleware::Error::Reqwest(e) if e.is_connect() => {
                            "connection refused".to_owned()
                        }
                        other => other.to_string(),
                    };
                }
            }
            span.add_event(
                "charge attempt failed",
                vec![opentelemetry::KeyValue::new("attempt", i64::from(attempt))],
            );
        }
        ChargeOutcome::Unavailable {
            attempts: self.attempts,
            last_error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_canary_takes_an_even_share_of_the_charges() {
        let client = PaymentsClient::new("http://stable".into(), Duration::from_secs(1), 1)
            .with_canary("http://canary".into(), 20);
        let sent: Vec<bool> = (0..100)
            .map(|_| client.next_base() == "http://canary")
            .collect();
        assert_eq!(sent.iter().filter(|c| **c).count(), 20);
        assert!(
            sent.chunks(5)
                .all(|five| five.iter().filter(|c| **c).count() == 1),
            "one in every five, not twenty in a row: {sent:?}"
        );
        let stable = PaymentsClient::new("http://stable".into(), Duration::from_secs(1), 1);
        assert!((0..10).all(|_| stable.next_base() == "http://stable"));
    }
}
