//! The HTTP/1.1 accept loop and the bounded drain. Hand-rolled on hyper rather than `axum::serve`
//! for two settings axum does not expose: the request-header size cap and the idle keep-alive
//! timeout.

use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::TcpListener;

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

/// Serves `app` until `stop` resolves, then stops accepting, lets open connections finish their
/// in-flight request (hyper closes idle ones at once), and fails if that takes over `drain_timeout`.
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
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);

    let signal = loop {
        tokio::select! {
            signal = &mut stop => break signal,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let service = TowerToHyperService::new(app.clone());
                    let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                    // Connection errors (client resets, header timeouts, 431s) are the client's
                    // business; completed requests are logged by the router.
                    tokio::spawn(async move { let _ = connection.await; });
                }
                Err(err) => {
                    logging::warn("accept failed", json!({ "error": err.to_string() }));
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    };

    drop(listener);
    logging::info(
        "draining",
        json!({
            "signal": signal.to_string(),
            "open_connections": graceful.count(),
            "timeout_secs": drain_timeout.as_secs(),
        }),
    );
    match tokio::time::timeout(drain_timeout, graceful.shutdown()).await {
        Ok(()) => {
            logging::info("drained", json!({}));
            Ok(())
        }
        Err(_) => anyhow::bail!(
            "requests still in flight {}s after {signal}; abandoning them",
            drain_timeout.as_secs()
        ),
    }
}
