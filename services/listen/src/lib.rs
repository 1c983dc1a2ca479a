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
mod limits;
mod serve;
mod stall;

pub use fd::{raise_fd_limit, raise_fd_limit_and_describe};
pub use limits::Limits;
pub use serve::{refuse, serve};
pub use stall::{BodyStalled, is_body_stall};
