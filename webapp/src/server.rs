//! The HTTP/1.1 accept loop and the bounded drain. Hand-rolled on hyper rather than `axum::serve`
//! for two settings axum does not expose: the request-header size cap and the idle keep-alive
//! timeout.

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, watch};

use crate::logging;
use crate::shutdown::Signal;

/// Request line plus headers; larger requests get `431 Request Header Fields Too Large`.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// hyper's header-read timer also runs while a kept-alive connection sits idle, so it is the
/// keep-alive timeout too. It must exceed the ALB idle timeout (60 s by default): if the target
/// closed idle connections first, the ALB could send a request down a closing one and answer 502.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(75);
/// Pause after a failed accept (e.g. out of file descriptors) instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// After the stop, how long a connection that has not sent its first request yet may take to
/// send it: a client that connected before the stop has it on the wire within a round trip.
const FIRST_REQUEST_GRACE: Duration = Duration::from_millis(500);

/// Serves `app` until `stop` resolves, then stops accepting (serving the connections the kernel
/// had already queued), lets every connection finish the request it has sent, closes idle ones,
/// and fails if that takes over `drain_timeout`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    stop: impl Future<Output = Signal>,
    drain_timeout: Duration,
) -> anyhow::Result<()> {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_header_size(MAX_HEADER_BYTES);
    let (stopping, stopped) = watch::channel(false);
    // Every connection task holds a sender; the drain is over when the last one is dropped.
    let (open, mut all_closed) = mpsc::channel::<()>(1);
    let serve_connection = |stream: TcpStream| {
        let first_request = Arc::new(FirstRequest::default());
        let service = Marked {
            inner: TowerToHyperService::new(app.clone()),
            first_request: first_request.clone(),
        };
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let (stopped, open) = (stopped.clone(), open.clone());
        tokio::spawn(async move {
            drain_on_stop(connection, stopped, &first_request).await;
            drop(open);
        });
    };
    let mut stop = pin!(stop);

    let signal = loop {
        tokio::select! {
            signal = &mut stop => break signal,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => serve_connection(stream),
                Err(err) => {
                    logging::warn("accept failed", json!({ "error": err.to_string() }));
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    };

    let queued = take_queued(listener);
    let queued_count = queued.len();
    queued.into_iter().for_each(serve_connection);
    logging::info(
        "draining",
        json!({
            "signal": signal.to_string(),
            "open_connections": open.strong_count() - 1,
            "queued_connections": queued_count,
            "timeout_secs": drain_timeout.as_secs(),
        }),
    );
    let _ = stopping.send(true);
    drop(open);
    match tokio::time::timeout(drain_timeout, all_closed.recv()).await {
        Ok(_) => {
            logging::info("drained", json!({}));
            Ok(())
        }
        Err(_) => anyhow::bail!(
            "requests still in flight {}s after {signal}; abandoning them",
            drain_timeout.as_secs()
        ),
    }
}

/// Whether a connection's first request has reached the router.
#[derive(Default)]
struct FirstRequest {
    seen: AtomicBool,
    arrived: Notify,
}

/// The router's service, noting the first request of its connection.
struct Marked<S> {
    inner: S,
    first_request: Arc<FirstRequest>,
}

impl<S, R> hyper::service::Service<R> for Marked<S>
where
    S: hyper::service::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, request: R) -> Self::Future {
        if !self.first_request.seen.swap(true, Ordering::SeqCst) {
            self.first_request.arrived.notify_one();
        }
        self.inner.call(request)
    }
}

/// Runs one connection; on stop, shuts it down gracefully: hyper then finishes the request in
/// flight (answering `Connection: close`) and closes an idle connection at once. hyper also
/// closes at once a connection whose first request it has not read yet, although the client may
/// have sent it already, so such a connection first gets `FIRST_REQUEST_GRACE` to be read.
async fn drain_on_stop(
    connection: Connection,
    mut stopped: watch::Receiver<bool>,
    first: &FirstRequest,
) {
    let mut connection = pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = stopped.wait_for(|stopped| *stopped) => {}
    }
    if !first.seen.load(Ordering::SeqCst) {
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = first.arrived.notified() => {}
            _ = tokio::time::sleep(FIRST_REQUEST_GRACE) => {}
        }
    }
    connection.as_mut().graceful_shutdown();
    // Errors (client resets, header timeouts, 431s) are the client's business; completed
    // requests are logged by the router.
    let _ = connection.await;
}

type Connection = http1::Connection<TokioIo<TcpStream>, Marked<TowerToHyperService<Router>>>;

/// Closes the listener, first taking every connection the kernel has already completed: closing
/// a listener resets those, yet their clients connected and sent a request before we stopped.
/// `accept` straight on the socket until it would block, so a stale readiness flag cannot hide one.
fn take_queued(listener: TcpListener) -> Vec<TcpStream> {
    let listener = match listener.into_std() {
        Ok(listener) => listener, // still non-blocking
        Err(err) => {
            logging::warn("closing the listener", json!({ "error": err.to_string() }));
            return Vec::new();
        }
    };
    let mut queued = Vec::new();
    loop {
        match listener.accept() {
            Ok((stream, _peer)) => {
                let stream = stream
                    .set_nonblocking(true)
                    .and_then(|()| TcpStream::from_std(stream));
                match stream {
                    Ok(stream) => queued.push(stream),
                    Err(err) => logging::warn(
                        "queued connection dropped",
                        json!({ "error": err.to_string() }),
                    ),
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(err) => {
                logging::warn("accept failed", json!({ "error": err.to_string() }));
                break;
            }
        }
    }
    queued
}
