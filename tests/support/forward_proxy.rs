//! A forward proxy on loopback, as a self-hosted runner's `HTTP(S)_PROXY` would be, counting what
//! each client sent through it per target (`host:port`):
//! - `CONNECT host:port` (what clients send for `https://` targets) opens a tunnel, counted once
//!   per tunnel, then relays bytes both ways untouched;
//! - an absolute-form request (`GET http://host:port/path`, what clients send for `http://`
//!   targets) is counted, forwarded in origin form with `Connection: close` on both the request
//!   and the response, so each client connection carries exactly one request and every request
//!   is counted.
//!
//! Any other request form, or a target off loopback, is refused with 403 and counted as refused:
//! the tests never reach past the machine, even when a client misbehaves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Per-target counts (`host:port` as the client wrote it).
#[derive(Clone, Debug, Default)]
pub struct Counts {
    pub tunnels: HashMap<String, usize>,
    pub requests: HashMap<String, usize>,
    pub refused: Vec<String>,
}

impl Counts {
    /// Tunnels plus absolute-form requests to `target`.
    pub fn through(&self, target: &str) -> usize {
        self.tunnels.get(target).copied().unwrap_or(0)
            + self.requests.get(target).copied().unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.tunnels.values().sum::<usize>() + self.requests.values().sum::<usize>()
    }
}

pub struct ForwardProxy {
    pub addr: SocketAddr,
    counts: Arc<Mutex<Counts>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ForwardProxy {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counts = Arc::new(Mutex::new(Counts::default()));
        let shared = counts.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _ = handle(client, shared).await;
                });
            }
        });
        Ok(Self { addr, counts, task })
    }

    /// The value for `HTTP_PROXY` / `HTTPS_PROXY`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn counts(&self) -> Counts {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

fn is_loopback_authority(authority: &str) -> bool {
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

async fn handle(mut client: TcpStream, counts: Arc<Mutex<Counts>>) -> std::io::Result<()> {
    let Some((head, rest)) = read_head(&mut client).await? else {
        return Ok(());
    };
    let mut first = head.lines().next().unwrap_or_default().split_whitespace();
    let method = first.next().unwrap_or_default().to_string();
    let target = first.next().unwrap_or_default().to_string();
    let version = first.next().unwrap_or("HTTP/1.1").to_string();

    let record = |f: &dyn Fn(&mut Counts)| {
        if let Ok(mut c) = counts.lock() {
            f(&mut c);
        }
    };

    if method.eq_ignore_ascii_case("CONNECT") {
        if !is_loopback_authority(&target) {
            return refuse(&mut client, &counts, format!("CONNECT {target}")).await;
        }
        let mut upstream = TcpStream::connect(&target).await?;
        record(&|c| *c.tunnels.entry(target.clone()).or_default() += 1);
        client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await?;
        upstream.write_all(&rest).await?;
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        return Ok(());
    }

    let Some(after_scheme) = target.strip_prefix("http://") else {
        return refuse(&mut client, &counts, format!("{method} {target}")).await;
    };
    let (authority, path) = match after_scheme.find('/') {
        Some(i) => (&after_scheme[..i], &after_scheme[i..]),
        None => (after_scheme, "/"),
    };
    if !is_loopback_authority(authority) {
        return refuse(&mut client, &counts, format!("{method} {target}")).await;
    }
    let authority = authority.to_string();
    let mut upstream = TcpStream::connect(&authority).await?;
    record(&|c| *c.requests.entry(authority.clone()).or_default() += 1);

    let mut out = format!("{method} {path} {version}\r\n");
    for line in head.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
        if !is_hop_by_hop(line) {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    upstream.write_all(out.as_bytes()).await?;
    upstream.write_all(&rest).await?;

    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = upstream.into_split();
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut cr, &mut uw).await;
        let _ = uw.shutdown().await;
    });
    // The response head gets `Connection: close` too: the client must not reuse a connection
    // this proxy is about to close.
    let mut response = Vec::new();
    let end = loop {
        let mut chunk = [0u8; 8192];
        let n = ur.read(&mut chunk).await?;
        if n == 0 {
            up.abort();
            return Ok(());
        }
        response.extend_from_slice(&chunk[..n]);
        if let Some(i) = find(&response, b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&response[..end - 4]).into_owned();
    let mut out = String::new();
    for line in head.split("\r\n") {
        if !is_hop_by_hop(line) {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    cw.write_all(out.as_bytes()).await?;
    cw.write_all(&response[end..]).await?;
    let _ = tokio::io::copy(&mut ur, &mut cw).await;
    let _ = cw.shutdown().await;
    up.abort();
    Ok(())
}

async fn refuse(
    client: &mut TcpStream,
    counts: &Mutex<Counts>,
    what: String,
) -> std::io::Result<()> {
    if let Ok(mut c) = counts.lock() {
        c.refused.push(what);
    }
    let answer = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    client.write_all(answer.as_bytes()).await
}

fn is_hop_by_hop(line: &str) -> bool {
    let name = line.split(':').next().unwrap_or_default().trim();
    [
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

/// The request head (up to the blank line) and whatever body bytes arrived with it.
async fn read_head(client: &mut TcpStream) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut buf = Vec::with_capacity(8192);
    loop {
        let mut chunk = [0u8; 8192];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).into_owned();
            return Ok(Some((head, buf[i + 4..].to_vec())));
        }
        if buf.len() > 1 << 20 {
            return Ok(None);
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
