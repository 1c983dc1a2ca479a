//! A socket that remembers when bytes last moved, a count of requests in flight, and since
//! when an HTTP/1 request's head has been arriving: what the idle and header-read timeouts
//! look at.
//!
//! The header-read timeout is kept here rather than left to hyper, because hyper starts its
//! header timer as soon as it waits for a request, which on a kept-alive HTTP/1 connection is
//! right after the previous answer: such a connection would be closed after the header-read
//! timeout (10 s) instead of the idle timeout (60 s) that HTTP/2 and every other connection
//! get. Here the timer starts with the first byte of a request's head.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Shared between a connection's socket, its service and its watcher.
#[derive(Debug)]
pub struct Activity {
    opened: Instant,
    /// Milliseconds after `opened` when a byte was last read or written.
    last_ms: AtomicU64,
    /// Requests whose response has not been produced yet.
    in_flight: AtomicUsize,
    /// Milliseconds after `opened` when the first byte of an HTTP/1 request's head arrived,
    /// while that request has not begun; [`NOT_WAITING`] otherwise.
    head_since_ms: AtomicU64,
    /// Whether the first bytes read were the HTTP/2 preface: HTTP/2 has no request heads to
    /// time (its frames arrive between requests), so only the idle timeout applies.
    http2: AtomicBool,
    /// Whether any byte has been read yet (the preface check looks at the first read).
    read_any: AtomicBool,
}

/// `head_since_ms` when no request head is arriving.
const NOT_WAITING: u64 = u64::MAX;

/// What an HTTP/2 connection starts with.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            opened: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            head_since_ms: AtomicU64::new(NOT_WAITING),
            http2: AtomicBool::new(false),
            read_any: AtomicBool::new(false),
        })
    }

    fn now_ms(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64
    }

    fn touch(&self) {
        self.last_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Bytes arrived: activity, and, between HTTP/1 requests, the start of a request's head.
    fn bytes_read(&self, bytes: &[u8]) {
        self.touch();
        if !self.read_any.swap(true, Ordering::AcqRel) {
            let n = bytes.len().min(H2_PREFACE.len());
            if n > 0 && bytes[..n] == H2_PREFACE[..n] {
                self.http2.store(true, Ordering::Release);
            }
        }
        if !self.http2.load(Ordering::Acquire) && self.in_flight.load(Ordering::Acquire) == 0 {
            let _ = self.head_since_ms.compare_exchange(
                NOT_WAITING,
                self.now_ms(),
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
    }

    /// How long a request's head has been arriving without being complete; `None` when no
    /// head is arriving (between requests, during one, or on HTTP/2).
    pub fn head_arriving_for(&self) -> Option<Duration> {
        let since = self.head_since_ms.load(Ordering::Acquire);
        (since != NOT_WAITING).then(|| Duration::from_millis(self.now_ms().saturating_sub(since)))
    }

    /// How long since bytes last moved, when no request is in flight; `None` while one is.
    pub fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let now = self.opened.elapsed().as_millis() as u64;
        Some(Duration::from_millis(
            now.saturating_sub(self.last_ms.load(Ordering::Relaxed)),
        ))
    }

    /// Counts a request as in flight until the returned guard is dropped.
    pub fn begin_request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_since_ms.store(NOT_WAITING, Ordering::Release);
        InFlight(self.clone())
    }
}

/// One request in flight.
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.touch();
    }
}

/// A socket that records its activity.
pub struct Tracked<T> {
    pub inner: T,
    pub activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read(&buf.filled()[before..]);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
