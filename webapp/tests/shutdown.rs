//! SIGTERM/SIGINT: stop accepting, finish in-flight requests within SHUTDOWN_TIMEOUT_SECS, exit.

mod common;

use std::time::{Duration, Instant};

use common::{Server, client};
use nix::sys::signal::Signal;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_in_flight_request_finish_then_exits_0() {
    let mut server = Server::start(&[("SHUTDOWN_TIMEOUT_SECS", "5")]);
    let client = client();
    let in_flight = tokio::spawn(client.get(server.url("/load?ms=800")).send());
    tokio::time::sleep(Duration::from_millis(200)).await;

    let signalled = Instant::now();
    server.signal(Signal::SIGTERM);
    let draining = server.wait_for_log("draining", Duration::from_secs(5));
    assert_eq!(draining["signal"], "SIGTERM");
    assert_eq!(draining["timeout_secs"], 5);

    // The listener is closed while the request is still running.
    assert!(!in_flight.is_finished());
    assert!(
        client.get(server.url("/health")).send().await.is_err(),
        "new connection accepted while draining"
    );

    let response = in_flight
        .await
        .unwrap()
        .expect("in-flight request completed");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "busy-looped for 800 ms\n");

    let status = server
        .wait_exit(Duration::from_secs(6))
        .await
        .expect("exited within the drain bound");
    assert_eq!(status.code(), Some(0));
    assert!(signalled.elapsed() < Duration::from_secs(5));
    server.wait_for_log("drained", Duration::from_secs(1));
}

#[tokio::test]
async fn sigint_on_an_idle_server_exits_0_at_once() {
    let mut server = Server::start(&[]);
    client().get(server.url("/health")).send().await.unwrap();
    server.signal(Signal::SIGINT);
    let status = server
        .wait_exit(Duration::from_secs(5))
        .await
        .expect("exited");
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        server.wait_for_log("draining", Duration::from_secs(1))["signal"],
        "SIGINT"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_past_the_timeout_exits_1_with_one_error_line() {
    let mut server = Server::start(&[("SHUTDOWN_TIMEOUT_SECS", "0")]);
    let in_flight = tokio::spawn(client().get(server.url("/load?ms=1000")).send());
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.signal(Signal::SIGTERM);
    let status = server
        .wait_exit(Duration::from_secs(5))
        .await
        .expect("exited");
    assert_eq!(status.code(), Some(1));
    assert!(
        in_flight.await.unwrap().is_err(),
        "the abandoned request cannot complete"
    );
    let error = server.wait_for_log(
        "requests still in flight 0s after SIGTERM; abandoning them",
        Duration::from_secs(1),
    );
    assert_eq!(error["level"], "error");
}
