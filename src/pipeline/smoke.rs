//! Post-deploy smoke check: GET the service's health URL until it answers 200, bounded.

use crate::backoff::{Backoff, EQUAL_JITTER};
use anyhow::{Result, bail};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct SmokePolicy {
    /// How long the check may take in all (a fresh ALB target needs tens of seconds).
    pub deadline: Duration,
    pub first_delay: Duration,
    pub max_delay: Duration,
    pub request_timeout: Duration,
}

impl Default for SmokePolicy {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(180),
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15),
            request_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmokeResult {
    pub url: String,
    pub attempts: u32,
    pub elapsed: Duration,
}

/// `base` + `path`, without doubling or dropping the `/` between them.
pub fn health_url(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

pub async fn check(url: &str, policy: &SmokePolicy) -> Result<SmokeResult> {
    let client = crate::net::http_client_builder()
        .timeout(policy.request_timeout)
        .build()?;
    let started = Instant::now();
    let mut backoff = Backoff::new(policy.first_delay, policy.max_delay, 2.0, EQUAL_JITTER);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let last = match client.get(url).send().await {
            Ok(resp) if resp.status().is_success() => {
                return Ok(SmokeResult {
                    url: url.to_string(),
                    attempts,
                    elapsed: started.elapsed(),
                });
            }
            Ok(resp) => format!("HTTP {}", resp.status()),
            Err(e) => failure(&e, policy.request_timeout),
        };
        let delay = backoff.next_delay();
        if started.elapsed() + delay > policy.deadline {
            bail!(
                "smoke check failed: GET {url} did not answer 200 within {} s ({attempts} attempts; last: {last})",
                policy.deadline.as_secs()
            );
        }
        // The URL is a stack output and `last` may quote it: text from outside, kept on one line.
        crate::runner::info(&format!(
            "smoke check: GET {} → {}; retrying in {:.1} s",
            crate::runner::text::inline(url),
            crate::runner::text::inline(&last),
            delay.as_secs_f64()
        ));
        tokio::time::sleep(delay).await;
    }
}

/// Why a request got no answer, in the words a user acts on.
fn failure(err: &reqwest::Error, timeout: Duration) -> String {
    // reqwest files a failed TLS handshake under "connect": named, a certificate for the wrong
    // name does not read as an unreachable host.
    if let Some(tls) = tls_cause(err) {
        format!("TLS handshake failed: {tls}")
    } else if err.is_connect() {
        "connection refused or unreachable".to_string()
    } else if err.is_timeout() {
        format!("no answer within {} s", timeout.as_secs())
    } else {
        format!("request failed ({err})")
    }
}

/// The rustls error under a request error: the certificate's problem (wrong name, unknown issuer,
/// expired) as rustls words it. It sits inside an `io::Error`, whose `source()` skips it.
fn tls_cause(err: &reqwest::Error) -> Option<&rustls::Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        let inner = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        next = inner.or_else(|| e.source());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_paths() {
        assert_eq!(health_url("http://a/", "/health"), "http://a/health");
        assert_eq!(health_url("http://a", "health"), "http://a/health");
    }
}
