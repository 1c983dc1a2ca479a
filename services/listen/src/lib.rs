//! Every port of the lab served the same guarded way.
//!
//! A learner's laptop, or a workshop server, is reachable by anything on the network; one
//! script that opens sockets and never speaks, or that sends headers and two bytes of a body,
//! must not freeze the course, the trace store or the shop. [`serve`] takes a bound listener
//! and an axum router and adds, on every connection:
//!
//! - a **connection cap** per port: beyond [`Limits::max_connections`] a new connection gets
//!   `503 Service Unavailable` with `Retry-After` and a sentence saying why, and is closed;
//! - a **header-read timeout** (HTTP/1): a request whose headers do not arrive in time is
//!   dropped (timed from the head's first byte: a kept-alive connection waiting for its next
//!   request is idle, not late);
//! - an **idle timeout**: a connection with no request in flight and no bytes moving is
//!   closed, whatever protocol it speaks (or none);
//! - a **body-stall timeout**: a request body that sends nothing for that long fails with
//!   [`BodyStalled`], so the handler stops waiting (and frees whatever it held).
//!
//! [`raise_fd_limit`] raises the process's open-file soft limit to its hard limit at start, so
//! the caps, not the operating system, decide when to refuse.
//!
//! Start reading at [`serve`].

mod activity;
mod fd;
mod serve;
mod stall;

use std::time::Duration;

pub use fd::{raise_fd_limit, raise_fd_limit_and_describe};
pub use serve::{refuse, serve};
pub use stall::{BodyStalled, is_body_stall};

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
