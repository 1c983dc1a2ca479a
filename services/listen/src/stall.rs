//! A request body that fails when the client stops sending: the body-stall timeout.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The error a stalled body ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the request body stalled: no bytes arrived for {} s, so the request was abandoned; send the whole body without pausing",
    .0.as_secs_f64()
)]
pub struct BodyStalled(pub Duration);

/// True when `error`, or anything in its chain of sources, is a [`BodyStalled`]: how a
/// handler that read a body tells a stalled client from a malformed body.
pub fn is_body_stall(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<BodyStalled>() {
            return true;
        }
        current = e.source();
    }
    false
}

/// Wraps a body; every frame must arrive within `timeout` of the previous one.
pub struct StallGuard {
    inner: Body,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl StallGuard {
    pub fn wrap(inner: Body, timeout: Duration) -> Body {
        if inner.is_end_stream() {
            return inner;
        }
        Body::new(StallGuard {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        })
    }
}

impl http_body::Body for StallGuard {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                let next = Instant::now() + self.timeout;
                self.deadline.as_mut().reset(next);
                Poll::Ready(frame)
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    Poll::Ready(Some(Err(axum::Error::new(BodyStalled(self.timeout)))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
