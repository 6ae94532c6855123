//! A programmable fault-injecting HTTP/1.1 proxy on loopback, placed in front of the test
//! registry. Each client connection carries one request (the proxy forces `Connection: close`),
//! so requests can be told apart without parsing bodies. Rules match on method and a path
//! substring and fire a fixed number of times; every request seen is logged, so a test can
//! prove its fault really happened.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status (and an OCI error envelope) instead of forwarding.
    Status(u16),
    /// Answer 429 with `Retry-After: <secs>`.
    TooManyRequests { retry_after_secs: u64 },
    /// Answer 401 with the given `WWW-Authenticate` value, as a registry does for a dead token.
    Unauthorized { challenge: String },
    /// Forward the request head and this many body bytes, then drop both connections.
    DropAfter(usize),
    /// Forward, but remove this header from the response.
    StripResponseHeader(String),
    /// Forward, but turn an absolute `Location` in the response into a path-only one.
    RelativeLocation,
}

#[derive(Clone, Debug)]
struct Rule {
    method: String,
    path_contains: String,
    fault: Fault,
    remaining: usize,
    fired: usize,
}

/// One request the proxy saw, and what it did with it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub fault: Option<String>,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    seen: Vec<Seen>,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Listens on 127.0.0.1:0 and forwards to `upstream` (which must be loopback).
    pub async fn start(upstream: SocketAddr) -> Self {
        assert!(upstream.ip().is_loopback(), "tests only talk to loopback");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let st = st.clone();
                tokio::spawn(async move {
                    let _ = handle(client, upstream, st).await;
                });
            }
        });
        Self { addr, state, task }
    }

    /// `host:port` to give the client under test.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Injects `fault` into the next `times` requests whose method is `method` and whose path
    /// contains `path_contains`.
    pub fn inject(&self, method: &str, path_contains: &str, fault: Fault, times: usize) {
        self.state.lock().unwrap().rules.push(Rule {
            method: method.to_owned(),
            path_contains: path_contains.to_owned(),
            fault,
            remaining: times,
            fired: 0,
        });
    }

    /// How many times rules fired in total.
    pub fn fired(&self) -> usize {
        self.state
            .lock()
            .unwrap()
            .rules
            .iter()
            .map(|r| r.fired)
            .sum()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }
}

async fn handle(
    mut client: TcpStream,
    upstream: SocketAddr,
    state: Arc<Mutex<State>>,
) -> std::io::Result<()> {
    // Read the request head.
    let mut buf = Vec::with_capacity(8192);
    let head_end = loop {
        let mut chunk = [0u8; 8192];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 1 << 20 {
            return Ok(());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut first = head.lines().next().unwrap_or_default().split_whitespace();
    let method = first.next().unwrap_or_default().to_owned();
    let target = first.next().unwrap_or_default().to_owned();
    let path = target.split('?').next().unwrap_or_default().to_owned();

    let fault = {
        let mut st = state.lock().unwrap();
        let fault = st
            .rules
            .iter_mut()
            .find(|r| r.remaining > 0 && r.method == method && path.contains(&r.path_contains))
            .map(|r| {
                r.remaining -= 1;
                r.fired += 1;
                r.fault.clone()
            });
        st.seen.push(Seen {
            method: method.clone(),
            path: path.clone(),
            fault: fault.as_ref().map(|f| format!("{f:?}")),
        });
        fault
    };

    let canned = |status: u16, reason: &str, extra: &str| {
        let body = format!(
            r#"{{"errors":[{{"code":"INJECTED","message":"fault injected by the test proxy","detail":{status}}}]}}"#
        );
        format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
            body.len()
        )
    };
    if matches!(
        fault,
        Some(Fault::Status(_) | Fault::TooManyRequests { .. } | Fault::Unauthorized { .. })
    ) {
        // Read the whole request body first (when its length is declared), so the client
        // reliably sees the canned answer instead of a reset racing it.
        let declared = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        let mut have = buf.len() - head_end;
        let mut chunk = vec![0u8; 64 * 1024];
        while have < declared {
            let n = client.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            have += n;
        }
    }
    match fault {
        Some(Fault::Status(code)) => {
            client
                .write_all(canned(code, "Injected", "").as_bytes())
                .await?;
            return client.shutdown().await;
        }
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let extra = format!("Retry-After: {retry_after_secs}\r\n");
            client
                .write_all(canned(429, "Too Many Requests", &extra).as_bytes())
                .await?;
            return client.shutdown().await;
        }
        Some(Fault::Unauthorized { challenge }) => {
            let extra = format!("WWW-Authenticate: {challenge}\r\n");
            client
                .write_all(canned(401, "Unauthorized", &extra).as_bytes())
                .await?;
            return client.shutdown().await;
        }
        _ => {}
    }

    // Forward: same head with `Connection: close`, then relay both ways.
    let mut upstream_conn = TcpStream::connect(upstream).await?;
    let mut new_head = String::new();
    for line in head[..head_end - 4].split("\r\n") {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("connection:") || lower.starts_with("keep-alive:") {
            continue;
        }
        new_head.push_str(line);
        new_head.push_str("\r\n");
    }
    new_head.push_str("Connection: close\r\n\r\n");
    upstream_conn.write_all(new_head.as_bytes()).await?;
    let body_start = buf[head_end..].to_vec();

    if let Some(Fault::DropAfter(limit)) = fault {
        // Relay `limit` body bytes, then cut both sides.
        let mut sent = 0usize;
        let first = &body_start[..body_start.len().min(limit)];
        upstream_conn.write_all(first).await?;
        sent += first.len();
        let mut chunk = vec![0u8; 64 * 1024];
        while sent < limit {
            let n = client.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            let take = n.min(limit - sent);
            upstream_conn.write_all(&chunk[..take]).await?;
            sent += take;
        }
        drop(upstream_conn);
        // Reset rather than a clean FIN, like a dying load balancer.
        let _ = client.set_zero_linger();
        drop(client);
        return Ok(());
    }

    upstream_conn.write_all(&body_start).await?;
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = upstream_conn.into_split();
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut cr, &mut uw).await;
        let _ = uw.shutdown().await;
    });
    if let Some(rewrite @ (Fault::StripResponseHeader(_) | Fault::RelativeLocation)) = &fault {
        // Read the response head, rewrite it, pass the rest through untouched.
        let mut resp = Vec::new();
        let end = loop {
            let mut chunk = [0u8; 8192];
            let n = ur.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            resp.extend_from_slice(&chunk[..n]);
            if let Some(i) = find(&resp, b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&resp[..end - 4]).into_owned();
        let mut out = String::new();
        for line in head.split("\r\n") {
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            match rewrite {
                Fault::StripResponseHeader(h) if name.trim().eq_ignore_ascii_case(h) => continue,
                Fault::RelativeLocation if name.trim().eq_ignore_ascii_case("location") => {
                    let v = value.trim();
                    let path = match v.find("://") {
                        Some(i) => v[i + 3..].find('/').map_or("/", |j| &v[i + 3 + j..]),
                        None => v,
                    };
                    out.push_str(&format!("Location: {path}\r\n"));
                    continue;
                }
                _ => {}
            }
            out.push_str(line);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        cw.write_all(out.as_bytes()).await?;
        cw.write_all(&resp[end..]).await?;
    }
    // The upstream closes after its response (`Connection: close`): that ends the exchange.
    let _ = tokio::io::copy(&mut ur, &mut cw).await;
    let _ = cw.shutdown().await;
    up.abort();
    Ok(())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
