//! Retries at one level: a whole operation (a request, or a whole blob upload with a fresh
//! session). Transient failures — 408/429/5xx, connection resets, early EOF, timeouts — are
//! retried with exponential backoff and jitter, honouring `Retry-After`; everything else fails
//! at once. Bounded in attempts and in time.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use crate::backoff::{Backoff, EQUAL_JITTER};
use reqwest::StatusCode;

use super::body::SourceError;
use super::error::RegistryError;

/// How hard to try. The defaults suit a CI push: about half a minute of patience per operation.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// First backoff; doubled each retry, capped at `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// No new attempt starts after this much time since the first one.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(15 * 60),
        }
    }
}

/// The verdict on a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Permanent: retrying cannot help (bad credentials, 4xx, digest mismatch, local read error).
    Fail,
    /// Transient; `Some` when the server said how long to wait (`Retry-After`).
    Retry(Option<Duration>),
}

/// Classifies an error chain. A local source failure anywhere in the chain is permanent even
/// when the HTTP layer reports it as a request error.
pub fn classify(err: &anyhow::Error) -> Verdict {
    if err
        .chain()
        .any(|e| e.downcast_ref::<SourceError>().is_some())
    {
        return Verdict::Fail;
    }
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<RegistryError>() {
            return match e {
                RegistryError::TokenRejected => Verdict::Retry(None),
                RegistryError::Status {
                    status,
                    retry_after,
                    ..
                } if is_transient_status(*status) => Verdict::Retry(*retry_after),
                RegistryError::TokenServer { status, .. } if is_transient_status(*status) => {
                    Verdict::Retry(None)
                }
                _ => Verdict::Fail,
            };
        }
        if let Some(e) = cause.downcast_ref::<reqwest::Error>() {
            // Builder and redirect errors are ours (bad URL, refused plain-HTTP hop): permanent.
            // Connect, timeout, request/body (reset, EOF mid-message) and decode are transient.
            if e.is_builder() || e.is_redirect() {
                return Verdict::Fail;
            }
            if e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() || e.is_decode() {
                return Verdict::Retry(None);
            }
        }
        if let Some(e) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(
                e.kind(),
                ConnectionReset
                    | ConnectionAborted
                    | BrokenPipe
                    | UnexpectedEof
                    | TimedOut
                    | Interrupted
            ) {
                return Verdict::Retry(None);
            }
        }
    }
    Verdict::Fail
}

/// The shared transient rule ([`crate::backoff::is_transient_status`]).
pub fn is_transient_status(status: StatusCode) -> bool {
    crate::backoff::is_transient_status(status.as_u16())
}

/// `Retry-After: 3` or `Retry-After: <HTTP-date>`.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based): the server's `Retry-After` if given
    /// (capped at a minute), else exponential backoff with "equal jitter" (half fixed, half random)
    /// so parallel uploads hitting the same fault do not retry in lockstep.
    pub fn delay(&self, retry: u32, hint: Option<Duration>) -> Duration {
        if let Some(after) = hint {
            return after.min(Duration::from_secs(60));
        }
        Backoff::new(self.base_delay, self.max_delay, 2.0, EQUAL_JITTER)
            .skipping(retry.saturating_sub(1))
            .next_delay()
    }

    /// Runs `op` until it succeeds, fails permanently, or the budget is spent. `on_retry` is told
    /// about each retry (for counters).
    pub async fn run<T, F, Fut>(&self, mut op: F, mut on_retry: impl FnMut()) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = anyhow::Result<T>>,
    {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let err = match op().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let Verdict::Retry(hint) = classify(&err) else {
                return Err(err);
            };
            let delay = self.delay(attempt, hint);
            if attempt >= self.max_attempts || started.elapsed() + delay > self.max_elapsed {
                return Err(err.context(format!(
                    "gave up after {attempt} attempts in {:.1} s",
                    started.elapsed().as_secs_f64()
                )));
            }
            on_retry();
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, retry_after: Option<Duration>) -> anyhow::Error {
        anyhow::Error::new(RegistryError::Status {
            method: "PUT".into(),
            path: "/v2/x".into(),
            status: StatusCode::from_u16(code).unwrap(),
            errors: vec![],
            retry_after,
        })
        .context("pushing layer")
    }

    #[test]
    fn statuses() {
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(classify(&status(code, None)), Verdict::Retry(None)),
                "{code}"
            );
        }
        for code in [400, 401, 403, 404, 405, 409, 413, 416, 501] {
            assert_eq!(classify(&status(code, None)), Verdict::Fail, "{code}");
        }
        let hint = Some(Duration::from_secs(2));
        assert_eq!(classify(&status(429, hint)), Verdict::Retry(hint));
    }

    #[test]
    fn io_and_typed_errors() {
        let reset = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(classify(&reset), Verdict::Retry(None));
        let eof = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        assert_eq!(classify(&eof), Verdict::Retry(None));
        let notfound = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(classify(&notfound), Verdict::Fail);
        let src = anyhow::Error::new(SourceError(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        )));
        assert_eq!(
            classify(&src),
            Verdict::Fail,
            "a local read error is never retried"
        );
        let creds = anyhow::Error::new(RegistryError::BadCredentials {
            registry: "r".into(),
            username: "u".into(),
        });
        assert_eq!(classify(&creds), Verdict::Fail);
        assert_eq!(
            classify(&anyhow::Error::new(RegistryError::TokenRejected)),
            Verdict::Retry(None)
        );
        assert_eq!(classify(&anyhow::anyhow!("plain")), Verdict::Fail);
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        let later = SystemTime::now() + Duration::from_secs(30);
        let d = parse_retry_after(&httpdate::fmt_http_date(later)).unwrap();
        assert!(
            d <= Duration::from_secs(30) && d >= Duration::from_secs(28),
            "{d:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let p = RetryPolicy::default();
        for retry in 1..20 {
            let d = p.delay(retry, None);
            let cap = p
                .base_delay
                .saturating_mul(1 << (retry - 1).min(16))
                .min(p.max_delay);
            assert!(
                d >= cap / 2 && d <= cap,
                "retry {retry}: {d:?} vs cap {cap:?}"
            );
        }
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(60)
        );
    }

    #[tokio::test]
    async fn run_stops_on_permanent_and_bounds_transient() {
        let p = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            ..RetryPolicy::default()
        };
        let mut calls = 0;
        let mut retries = 0;
        let r: anyhow::Result<()> = p
            .run(
                || {
                    calls += 1;
                    async { Err(status(503, None)) }
                },
                || retries += 1,
            )
            .await;
        assert!(format!("{:#}", r.unwrap_err()).contains("gave up after 3 attempts"));
        assert_eq!((calls, retries), (3, 2));

        let mut calls = 0;
        let r: anyhow::Result<()> = p
            .run(
                || {
                    calls += 1;
                    async { Err(status(404, None)) }
                },
                || {},
            )
            .await;
        assert!(r.is_err());
        assert_eq!(calls, 1);

        let mut calls = 0;
        let r = p
            .run(
                || {
                    calls += 1;
                    let n = calls;
                    async move { if n < 2 { Err(status(500, None)) } else { Ok(n) } }
                },
                || {},
            )
            .await;
        assert_eq!(r.unwrap(), 2);
    }
}
