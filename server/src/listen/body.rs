//! The bodies [`super`] wraps around each exchange: a request body with a whole-body deadline
//! ([`DeadlineBody`]), and a response body that tells the connection's [`Watch`] when it has been sent
//! ([`IdleOnEnd`]).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use hyper::body::{Frame, Incoming};
use tokio::time::{Instant, Sleep};

use super::{Phase, Watch};

/// Why a request body was cut short.
#[derive(Debug, thiserror::Error)]
pub(super) enum BodyError {
    #[error("the request body did not arrive within {0:?}")]
    TooSlow(Duration),
    #[error(transparent)]
    Read(#[from] hyper::Error),
}

/// A request body that fails once its deadline (set when the request head arrived) has passed.
pub(super) struct DeadlineBody {
    inner: Incoming,
    limit: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl DeadlineBody {
    pub(super) fn new(inner: Incoming, limit: Duration) -> DeadlineBody {
        DeadlineBody {
            inner,
            limit,
            deadline: Box::pin(tokio::time::sleep(limit)),
        }
    }
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(BodyError::from)));
        }
        match this.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyError::TooSlow(this.limit)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that starts the connection's idle wait once it has been sent (or dropped).
pub(super) struct IdleOnEnd {
    pub(super) inner: Body,
    pub(super) watch: Option<Arc<Watch>>,
}

impl IdleOnEnd {
    fn end(&mut self) {
        if let Some(watch) = self.watch.take() {
            watch.set(Phase::Idle(Instant::now()));
        }
    }
}

impl Drop for IdleOnEnd {
    fn drop(&mut self) {
        self.end();
    }
}

impl HttpBody for IdleOnEnd {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(poll, Poll::Ready(None)) {
            this.end();
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}
