//! SIGTERM under `ab`-style load: many concurrent clients on loopback, each opening a new
//! connection per request (`Connection: close`, as `ab` without `-k` does), some of them on
//! `/load`'s longest request. Every connection the server had accepted when the signal was sent
//! must get a complete 200; after it, new connections are refused and the process exits 0 within
//! its drain bound. A raw HTTP/1.1 client, so a refused connect, a reset and a cut response are
//! told apart.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::Server;
use nix::sys::signal::Signal;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Clients sending short requests, and clients on `/load`'s 1 s cap (in flight at the signal).
const FAST_CLIENTS: usize = 24;
const SLOW_CLIENTS: usize = 8;
/// The longest request the web app serves (`/load`'s cap).
const LONGEST_REQUEST: Duration = Duration::from_millis(1000);

#[derive(Debug)]
#[allow(dead_code)] // fields are read through `Debug`, in the failure message
enum Outcome {
    /// A complete `200` with the whole body.
    Ok,
    /// The connect was refused: the server had stopped accepting.
    Refused,
    /// Connected, then anything but a complete 200: `got` is what arrived before the failure.
    Failed { error: String, got: usize },
}

#[derive(Debug)]
#[allow(dead_code)] // `path` is read through `Debug`, in the failure message
struct Attempt {
    path: &'static str,
    /// The connection was established before SIGTERM was sent, so the server owes it an answer.
    before_signal: bool,
    /// The attempt ended after SIGTERM was sent.
    ended_after_signal: bool,
    outcome: Outcome,
}

/// One request on a new connection; `signalled` is read after the connect completes, so
/// `before_signal` is never true for a connection made after the signal.
async fn attempt(addr: &str, path: &'static str, signalled: &AtomicBool) -> Attempt {
    let mut stream = match TcpStream::connect(addr).await {
        Ok(stream) => stream,
        Err(err) => {
            let outcome = if err.kind() == std::io::ErrorKind::ConnectionRefused {
                Outcome::Refused
            } else {
                Outcome::Failed {
                    error: format!("connect: {err}"),
                    got: 0,
                }
            };
            let signalled = signalled.load(Ordering::SeqCst);
            return Attempt {
                path,
                before_signal: !signalled,
                ended_after_signal: signalled,
                outcome,
            };
        }
    };
    let before_signal = !signalled.load(Ordering::SeqCst);
    let outcome = match send(&mut stream, path).await {
        Ok(()) => receive(&mut stream).await,
        Err(outcome) => outcome,
    };
    Attempt {
        path,
        before_signal,
        ended_after_signal: signalled.load(Ordering::SeqCst),
        outcome,
    }
}

async fn send(stream: &mut TcpStream, path: &str) -> Result<(), Outcome> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: loopback\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|err| Outcome::Failed {
            error: format!("write: {err}"),
            got: 0,
        })
}

/// Reads until the server closes, then checks what arrived.
async fn receive(stream: &mut TcpStream) -> Outcome {
    let mut response = Vec::new();
    match stream.read_to_end(&mut response).await {
        Err(err) => Outcome::Failed {
            error: format!("read: {err}"),
            got: response.len(),
        },
        Ok(_) => check_response(&response),
    }
}

/// A complete `HTTP/1.1 200` whose body is exactly its `content-length`.
fn check_response(raw: &[u8]) -> Outcome {
    let failed = |error: &str| Outcome::Failed {
        error: error.to_string(),
        got: raw.len(),
    };
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return failed("no complete header");
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    if !head.starts_with("http/1.1 200 ") {
        return failed(head.lines().next().unwrap_or_default());
    }
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    match length {
        Some(length) if raw.len() - split - 4 == length => Outcome::Ok,
        Some(_) => failed("body shorter or longer than content-length"),
        None => failed("no content-length"),
    }
}

/// Requests `path` on new connections until refused (or `stop`), returning every attempt.
async fn client(
    addr: String,
    path: &'static str,
    signalled: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> Vec<Attempt> {
    let mut attempts = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let attempt = attempt(&addr, path, &signalled).await;
        let refused = matches!(attempt.outcome, Outcome::Refused);
        attempts.push(attempt);
        if refused {
            break;
        }
    }
    attempts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_concurrent_load_loses_no_accepted_request() {
    let drain_bound = Duration::from_secs(5);
    let mut server = Server::start(&[("SHUTDOWN_TIMEOUT_SECS", "5")]);
    let addr = server.base.trim_start_matches("http://").to_string();
    let signalled = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for i in 0..FAST_CLIENTS + SLOW_CLIENTS {
        let path = if i < SLOW_CLIENTS {
            "/load?ms=1000"
        } else if i % 2 == 0 {
            "/health"
        } else {
            "/"
        };
        clients.push(tokio::spawn(client(
            addr.clone(),
            path,
            signalled.clone(),
            stop.clone(),
        )));
    }

    // Mid-way through the slow clients' second requests.
    tokio::time::sleep(LONGEST_REQUEST + LONGEST_REQUEST / 2).await;
    signalled.store(true, Ordering::SeqCst);
    server.signal(Signal::SIGTERM);
    let status = server.wait_exit(drain_bound).await;
    // Clients still connecting to a live server after the bound would run forever.
    stop.store(true, Ordering::SeqCst);
    let mut attempts = Vec::new();
    for client in clients {
        attempts.extend(client.await.expect("client task"));
    }

    let failed: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| match &a.outcome {
            Outcome::Ok => false,
            // Only a connection the server had not accepted yet may be refused.
            Outcome::Refused => a.before_signal,
            // After the signal, the kernel may complete a handshake the closing listener then
            // resets: no byte of a response was sent, nothing was lost mid-way.
            Outcome::Failed { got, .. } => a.before_signal || *got > 0,
        })
        .collect();
    let served_before = attempts
        .iter()
        .filter(|a| a.before_signal && matches!(a.outcome, Outcome::Ok))
        .count();
    // Connected before the signal, answered after it: in flight while the server stopped.
    let in_flight = attempts
        .iter()
        .filter(|a| a.before_signal && a.ended_after_signal && matches!(a.outcome, Outcome::Ok))
        .count();
    let refused = attempts
        .iter()
        .filter(|a| matches!(a.outcome, Outcome::Refused))
        .count();
    eprintln!(
        "{} attempts: {served_before} accepted before SIGTERM and answered 200 ({in_flight} of them in flight at the signal), {refused} refused after it, {} failed",
        attempts.len(),
        failed.len()
    );
    assert!(failed.is_empty(), "requests lost: {failed:#?}");
    assert!(in_flight >= 1, "no request was in flight at the signal");
    assert!(served_before > FAST_CLIENTS, "the load was real");
    let status = status.expect("exited within the drain bound");
    assert_eq!(status.code(), Some(0), "drained cleanly");
    assert_eq!(
        refused,
        FAST_CLIENTS + SLOW_CLIENTS,
        "every client ends on a refused connect: the listener is closed"
    );
}

/// The race the load test can only hit by chance, made certain: the server is frozen (SIGSTOP)
/// while clients connect and send their requests, so the kernel holds the connections in the
/// listen queue, not yet accepted, when SIGTERM arrives. Closing the listener then would reset
/// them; they connected before the signal, so each must be answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_queued_in_the_kernel_at_sigterm_are_answered() {
    const QUEUED: usize = 16;
    let mut server = Server::start(&[("SHUTDOWN_TIMEOUT_SECS", "5")]);
    let addr = server.base.trim_start_matches("http://").to_string();
    server.signal(Signal::SIGSTOP);
    let mut streams = Vec::new();
    for _ in 0..QUEUED {
        let mut stream = TcpStream::connect(&addr)
            .await
            .expect("the kernel completes the handshake of a stopped listener");
        if let Err(outcome) = send(&mut stream, "/health").await {
            panic!("sending to the queued connection: {outcome:?}");
        }
        streams.push(stream);
    }
    server.signal(Signal::SIGTERM);
    server.signal(Signal::SIGCONT);
    let mut outcomes = Vec::new();
    for mut stream in streams {
        outcomes.push(receive(&mut stream).await);
    }
    let lost: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| !matches!(o, Outcome::Ok))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {QUEUED} lost: {lost:#?}",
        lost.len()
    );
    let status = server
        .wait_exit(Duration::from_secs(5))
        .await
        .expect("exited within the drain bound");
    assert_eq!(status.code(), Some(0));
    let draining = server.wait_for_log("draining", Duration::from_secs(1));
    assert_eq!(draining["signal"], "SIGTERM");
}
