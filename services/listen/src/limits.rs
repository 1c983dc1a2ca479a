//! The limits one guarded port applies: how many connections it holds and how long it waits
//! for headers, for a silent connection and for a stalled body.

use std::time::Duration;

/// How much one port accepts, and how long it waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Open connections on this port; more are refused with 503.
    pub max_connections: usize,
    /// Time for a request's headers to arrive once they have begun (HTTP/1).
    pub header_read_timeout: Duration,
    /// A connection with no request in flight and no bytes read or written for this long is
    /// closed.
    pub idle_timeout: Duration,
    /// A request body that delivers no bytes for this long fails.
    pub body_stall_timeout: Duration,
}

impl Default for Limits {
    /// Sized for a class on one machine: a few dozen browsers and a few services per port,
    /// with room to spare; eight ports at the cap stay far below a raised descriptor limit.
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_stall_timeout: Duration::from_secs(10),
        }
    }
}
