//! The HTTP/1.1 listener of `kiln serve`: the [`crate::app`] router served connection by connection through
//! hyper, with the bounds a server facing slow or hostile clients needs ([`Limits`]): a request head must arrive
//! within the header timeout of a connection's first byte (or of its opening), a request body within the body
//! timeout of the request, and an idle keep-alive connection closes after the idle timeout. At most
//! `max_connections` are served at once; one more is answered `503 Service Unavailable` with `Retry-After` and
//! closed (up to [`REFUSING`] of those at a time, beyond which a connection is closed unanswered).
//!
//! hyper's own `header_read_timeout` also counts the idle time between requests, so the phases are watched here
//! ([`Watch`]): the socket's reads start a head, the router's call ends it, and the end of the response body
//! starts the idle wait. A response that streams (a followed log) is never timed out.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tower::ServiceExt;

mod body;

use body::{DeadlineBody, IdleOnEnd};

/// How many connections past the cap are answered 503 at once; beyond that they are closed unanswered.
pub const REFUSING: usize = 64;

/// The bounds on each connection; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From a connection's opening, or from the first byte of a later request, until its head is complete.
    pub header_timeout: Duration,
    /// From the request head until its whole body has arrived.
    pub body_timeout: Duration,
    /// How long a connection may wait, between requests, for the next one.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// The `Retry-After` of a 503 at capacity, in seconds.
    pub retry_after_secs: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
            retry_after_secs: 1,
        }
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves; then stops accepting and gives the
/// connections in flight up to five seconds.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let refusing = Arc::new(Semaphore::new(REFUSING));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of descriptors or a connection reset before accept: wait a little, do not spin.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        if let Ok(permit) = open.clone().try_acquire_owned() {
            let router = router.clone();
            tokio::spawn(async move {
                connection(stream, router, limits).await;
                drop(permit);
            });
        } else if let Ok(permit) = refusing.clone().try_acquire_owned() {
            tokio::spawn(async move {
                refuse(stream, limits).await;
                drop(permit);
            });
        } else {
            drop(stream);
        }
    }
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(Duration::from_secs(5), open.acquire_many(all)).await;
}

/// One connection, served until the client closes it or a timeout does.
async fn connection(stream: TcpStream, router: Router, limits: Limits) {
    let watch = Arc::new(Watch::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        watch: watch.clone(),
    });
    let service_watch = watch.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        service_watch.set(Phase::Busy);
        let done = service_watch.clone();
        let request = request.map(|body| Body::new(DeadlineBody::new(body, limits.body_timeout)));
        let router = router.clone();
        async move {
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            Ok::<_, std::convert::Infallible>(response.map(|body| {
                Body::new(IdleOnEnd {
                    inner: body,
                    watch: Some(done),
                })
            }))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    tokio::select! {
        result = conn => {
            if let Err(err) = result {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        }
        () = watch.expired(limits) => tracing::debug!("connection closed: a header or idle timeout passed"),
    }
}

/// Answers a connection over the cap: `503` with `Retry-After`, then closes it.
async fn refuse(stream: TcpStream, limits: Limits) {
    let service = hyper::service::service_fn(move |_: Request<Incoming>| async move {
        let mut response = Response::new(Body::from(
            "{\"__type\":\"ServiceUnavailableException\",\"message\":\"the server is at its connection limit; retry later\"}",
        ));
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        let headers = response.headers_mut();
        headers.insert(header::RETRY_AFTER, HeaderValue::from(limits.retry_after_secs));
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::error::AMZ_JSON),
        );
        Ok::<_, std::convert::Infallible>(response)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service);
    let _ = tokio::time::timeout(limits.header_timeout, conn).await;
}

/// Where a connection is between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the first byte of a request, since the instant.
    Idle(Instant),
    /// Reading a request head whose first byte (or the connection) came at the instant.
    Head(Instant),
    /// A request is being answered: the router has it, or its response is still being sent.
    Busy,
}

/// A connection's phase, shared by its socket, its service and its watchdog.
#[derive(Debug)]
struct Watch(Mutex<Phase>);

impl Watch {
    fn new() -> Watch {
        Watch(Mutex::new(Phase::Head(Instant::now())))
    }

    fn get(&self) -> Phase {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, phase: Phase) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = phase;
    }

    /// Bytes arrived: an idle connection starts a request head.
    fn read(&self) {
        let mut phase = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(*phase, Phase::Idle(_)) {
            *phase = Phase::Head(Instant::now());
        }
    }

    /// Resolves once the connection has stayed idle, or in one request head, past its timeout.
    async fn expired(&self, limits: Limits) {
        loop {
            let seen = self.get();
            let deadline = match seen {
                Phase::Idle(since) => since + limits.idle_timeout,
                Phase::Head(since) => since + limits.header_timeout,
                Phase::Busy => Instant::now() + limits.header_timeout.min(limits.idle_timeout),
            };
            tokio::time::sleep_until(deadline).await;
            if seen != Phase::Busy && self.get() == seen {
                return;
            }
        }
    }
}

/// The socket, telling its [`Watch`] when bytes arrive.
struct Watched {
    inner: TcpStream,
    watch: Arc<Watch>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.watch.read();
        }
        poll
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
