//! Per-address budgets for the two forms a script would hammer: joining (each join claims a
//! name and a session) and the instructor sign-in (each attempt is a guess at the token).
//!
//! A token bucket per client address: a burst, then one more attempt every so often. Joins
//! spend from the bucket on every attempt; instructor sign-ins spend only when the token is
//! wrong, so an instructor who types it right is never slowed, and a guesser gets five tries
//! and then one a minute. Addresses are what the socket says (IPv6 by its /64, which one
//! machine usually owns whole); behind a reverse proxy every learner shares the proxy's, which
//! the join budget is sized to tolerate for a class joining at once.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

/// How many addresses a bucket table remembers; beyond it, full buckets are forgotten first.
const MAX_ADDRESSES: usize = 50_000;

/// One budget: `burst` attempts at once, then one more every `every`.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub burst: u32,
    pub every: Duration,
}

/// Joins: a class of 60 behind one address can join at once; a script gets one a second.
pub const JOIN: Budget = Budget {
    burst: 60,
    every: Duration::from_secs(1),
};

/// Wrong instructor tokens: five, then one a minute.
pub const INSTRUCTOR_FAILURES: Budget = Budget {
    burst: 5,
    every: Duration::from_secs(60),
};

/// A table of buckets, one per address: a cheap handle.
#[derive(Clone)]
pub struct Throttle {
    budget: Budget,
    buckets: Arc<Mutex<HashMap<IpAddr, Bucket>>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Throttle {
    pub fn new(budget: Budget) -> Throttle {
        Throttle {
            budget,
            buckets: Arc::default(),
        }
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> Bucket {
        let gained = now.duration_since(bucket.at).as_secs_f64() / self.budget.every.as_secs_f64();
        Bucket {
            tokens: (bucket.tokens + gained).min(f64::from(self.budget.burst)),
            at: now,
        }
    }

    /// How long `address` must wait before its next attempt; zero when it may go now.
    pub fn wait(&self, address: Client) -> Duration {
        let now = Instant::now();
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        match buckets.get(&address.0) {
            Some(bucket) => {
                let bucket = self.refilled(*bucket, now);
                if bucket.tokens >= 1.0 {
                    Duration::ZERO
                } else {
                    self.budget.every.mul_f64(1.0 - bucket.tokens)
                }
            }
            None => Duration::ZERO,
        }
    }

    /// Spends one attempt of `address`; `Err(wait)` when its budget is spent.
    pub fn spend(&self, address: Client) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_ADDRESSES && !buckets.contains_key(&address.0) {
            let burst = f64::from(self.budget.burst);
            buckets.retain(|_, b| self.refilled(*b, now).tokens < burst);
        }
        let bucket = buckets.entry(address.0).or_insert(Bucket {
            tokens: f64::from(self.budget.burst),
            at: now,
        });
        let mut current = self.refilled(*bucket, now);
        if current.tokens < 1.0 {
            return Err(self.budget.every.mul_f64(1.0 - current.tokens));
        }
        current.tokens -= 1.0;
        *bucket = current;
        Ok(())
    }
}

/// The client's address as the throttles count it (see the module doc), from the connection
/// the course was served on; the unspecified address when the server did not record one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client(IpAddr);

impl Client {
    pub fn of(address: IpAddr) -> Client {
        match address {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client(IpAddr::V4(v4)),
                None => {
                    let mut bytes = v6.octets();
                    bytes[8..].fill(0);
                    Client(IpAddr::from(bytes))
                }
            },
            v4 => Client(v4),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| Client::of(address.ip()))
            .unwrap_or(Client(IpAddr::from([0u8, 0, 0, 0]))))
    }
}

/// "1 minute", "45 seconds": a wait as a learner reads it.
pub fn say_wait(wait: Duration) -> String {
    let seconds = (wait.as_secs_f64().ceil() as u64).max(1);
    match seconds {
        1 => "1 second".into(),
        s if s < 60 => format!("{s} seconds"),
        s if s <= 90 => "1 minute".into(),
        s => format!("{} minutes", s.div_ceil(60)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_refusals_with_the_wait_then_one_more_per_interval() {
        let throttle = Throttle::new(Budget {
            burst: 3,
            every: Duration::from_millis(200),
        });
        let a = Client::of([10, 0, 0, 1].into());
        let b = Client::of([10, 0, 0, 2].into());
        for _ in 0..3 {
            assert!(throttle.spend(a).is_ok());
        }
        let wait = throttle.spend(a).expect_err("the burst is spent");
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(200));
        assert!(
            throttle.wait(a) > Duration::ZERO,
            "and says so before spending"
        );
        assert!(
            throttle.spend(b).is_ok(),
            "another address has its own budget"
        );
        std::thread::sleep(Duration::from_millis(250));
        assert!(throttle.spend(a).is_ok(), "one more after the interval");
        assert!(throttle.spend(a).is_err());
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let two: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(Client::of(one), Client::of(two));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(Client::of(mapped), Client::of([10, 0, 0, 1].into()));
    }

    #[test]
    fn waits_read_naturally() {
        assert_eq!(say_wait(Duration::from_millis(300)), "1 second");
        assert_eq!(say_wait(Duration::from_secs(45)), "45 seconds");
        assert_eq!(say_wait(Duration::from_millis(59_990)), "1 minute");
        assert_eq!(say_wait(Duration::from_secs(100)), "2 minutes");
    }
}
