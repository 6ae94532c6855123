//! The `Registry` handle: one pooled HTTP client per registry host, the auth layer, counters,
//! and `send`, through which every registry request goes (auth header, one re-authentication
//! on 401).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use oci_spec::image::Digest;
use reqwest::header::HeaderMap;
use reqwest::{Method, Response, StatusCode};
use url::Url;

use super::address::{RegistryAddress, check_transport};
use super::auth::{Auth, AuthEvents, AuthHeader, Credentials, Scopes};
use super::error::RegistryError;
use super::retry::RetryPolicy;

/// Counters of what a `Registry` did, for tests and the push report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub head: u64,
    pub get: u64,
    pub post: u64,
    pub put: u64,
    pub patch: u64,
    pub delete: u64,
    /// Tokens fetched from the token server (not counted in `requests()`).
    pub token_fetches: u64,
    /// Blob bytes handed to the network, retried attempts included.
    pub blob_bytes_uploaded: u64,
    /// Operations retried after a transient failure.
    pub retries: u64,
    /// Requests repeated with a new token after a 401.
    pub reauths: u64,
}

impl Stats {
    /// Registry requests of any method (token fetches excluded).
    pub fn requests(&self) -> u64 {
        self.head + self.get + self.post + self.put + self.patch + self.delete
    }

    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &Stats) -> Stats {
        Stats {
            head: self.head.saturating_sub(earlier.head),
            get: self.get.saturating_sub(earlier.get),
            post: self.post.saturating_sub(earlier.post),
            put: self.put.saturating_sub(earlier.put),
            patch: self.patch.saturating_sub(earlier.patch),
            delete: self.delete.saturating_sub(earlier.delete),
            token_fetches: self.token_fetches.saturating_sub(earlier.token_fetches),
            blob_bytes_uploaded: self
                .blob_bytes_uploaded
                .saturating_sub(earlier.blob_bytes_uploaded),
            retries: self.retries.saturating_sub(earlier.retries),
            reauths: self.reauths.saturating_sub(earlier.reauths),
        }
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    head: AtomicU64,
    get: AtomicU64,
    post: AtomicU64,
    put: AtomicU64,
    patch: AtomicU64,
    delete: AtomicU64,
    token_fetches: AtomicU64,
    pub(crate) uploaded: Arc<AtomicU64>,
    pub(crate) retries: AtomicU64,
    reauths: AtomicU64,
}

impl AuthEvents for Counters {
    fn request(&self, method: &Method) {
        let c = match *method {
            Method::HEAD => &self.head,
            Method::GET => &self.get,
            Method::POST => &self.post,
            Method::PUT => &self.put,
            Method::PATCH => &self.patch,
            Method::DELETE => &self.delete,
            _ => return,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
    fn token_fetched(&self) {
        self.token_fetches.fetch_add(1, Ordering::Relaxed);
    }
}

impl Counters {
    fn snapshot(&self) -> Stats {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            head: l(&self.head),
            get: l(&self.get),
            post: l(&self.post),
            put: l(&self.put),
            patch: l(&self.patch),
            delete: l(&self.delete),
            token_fetches: l(&self.token_fetches),
            blob_bytes_uploaded: l(&self.uploaded),
            retries: l(&self.retries),
            reauths: l(&self.reauths),
        }
    }
}

/// A registry client. Cheap to clone (one `Arc`); make one per registry host and share it, so
/// connections and tokens are reused across all blobs and manifests.
#[derive(Clone)]
pub struct Registry {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) addr: RegistryAddress,
    pub(crate) http: reqwest::Client,
    pub(crate) auth: Auth,
    pub(crate) counters: Counters,
    pub(crate) retry: RetryPolicy,
    pub(crate) sessions: Sessions,
}

/// Upload sessions a registry opened in answer to a mount it could not do, by (repository,
/// digest): the next upload of that blob uses it instead of opening another.
#[derive(Default)]
pub(crate) struct Sessions(std::sync::Mutex<std::collections::HashMap<(String, Digest), Url>>);

impl Sessions {
    pub(crate) fn put(&self, repo: String, digest: Digest, session: Url) {
        self.lock().insert((repo, digest), session);
    }

    pub(crate) fn take(&self, repo: &str, digest: &Digest) -> Option<Url> {
        self.lock().remove(&(repo.to_owned(), digest.clone()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<(String, Digest), Url>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A request body: replayable ones are re-sent after a 401 with a fresh token; a stream is
/// not (its upload attempt is retried whole instead).
pub(crate) enum Body {
    Empty,
    Bytes(Bytes),
    Stream(reqwest::Body),
}

/// Small requests (no blob body) must answer within this; blob transfers have no overall
/// timeout (a large layer on a slow link is legitimate) but TCP keepalive catches dead peers.
pub(crate) const SMALL_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

impl Registry {
    /// A client for `addr`, anonymous when `creds` is `None`. Makes no request yet.
    pub fn new(addr: RegistryAddress, creds: Option<Credentials>) -> Result<Self> {
        Self::with_retry_policy(addr, creds, RetryPolicy::default())
    }

    /// Same, with a custom retry budget.
    pub fn with_retry_policy(
        addr: RegistryAddress,
        creds: Option<Credentials>,
        retry: RetryPolicy,
    ) -> Result<Self> {
        let http = crate::net::http_client_builder()
            .user_agent(concat!("ecs-poc-action/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                if attempt.previous().len() >= 10 {
                    attempt.error("more than 10 redirects")
                } else if let Err(e) = check_transport(attempt.url()) {
                    attempt.error(e.to_string())
                } else {
                    attempt.follow()
                }
            }))
            .connect_timeout(Duration::from_secs(30))
            .tcp_keepalive(Duration::from_secs(30))
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60))
            .http2_adaptive_window(true)
            .build()
            .context("building the registry HTTP client")?;
        Ok(Self {
            inner: Arc::new(Inner {
                auth: Auth::new(addr.clone(), creds),
                addr,
                http,
                counters: Counters::default(),
                retry,
                sessions: Sessions::default(),
            }),
        })
    }

    pub fn address(&self) -> &RegistryAddress {
        &self.inner.addr
    }

    pub fn stats(&self) -> Stats {
        self.inner.counters.snapshot()
    }

    /// `https://host/v2/<repo>/<rest>` with Docker Hub's `library/` applied.
    pub(crate) fn url(&self, repo: &str, rest: &str) -> Result<Url> {
        let path = format!("v2/{}/{rest}", self.inner.addr.repository_path(repo));
        self.inner
            .addr
            .base_url()
            .join(&path)
            .with_context(|| format!("building URL for {path}"))
    }

    pub(crate) fn repo_path(&self, repo: &str) -> String {
        self.inner.addr.repository_path(repo)
    }

    /// Runs `op` under the retry policy, counting retries.
    pub(crate) async fn retrying<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        self.inner
            .retry
            .run(op, || {
                self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
            })
            .await
    }

    /// Sends one request with the token `scopes` need. On 401 a replayable request is sent once
    /// more with a new token; a streamed one fails with `TokenRejected` (its caller's attempt is
    /// retried whole). The response is returned whatever its status: callers check it.
    pub(crate) async fn send(
        &self,
        scopes: &Scopes,
        method: Method,
        url: Url,
        headers: HeaderMap,
        body: Body,
    ) -> Result<Response> {
        let inner = &*self.inner;
        check_transport(&url)?;
        // Credentials go to the registry's own origin only (as go-containerregistry and oras-go
        // do): an upload `Location` on another host — blob storage, or a hostile registry's
        // choice — gets no Authorization, which for Basic auth would be the password itself.
        if url.origin() != inner.addr.base_url().origin() {
            return self
                .send_once(&method, &url, &headers, body, &AuthHeader::None)
                .await;
        }
        let auth = inner
            .auth
            .header(&inner.http, &inner.counters, scopes, None)
            .await?;
        let replay = match &body {
            Body::Empty => Some(Body::Empty),
            Body::Bytes(b) => Some(Body::Bytes(b.clone())),
            Body::Stream(_) => None,
        };
        let resp = self.send_once(&method, &url, &headers, body, &auth).await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let Some(body) = replay else {
            // Make the retry fetch a new token (unless a parallel request already did).
            drop(resp);
            inner
                .auth
                .header(&inner.http, &inner.counters, scopes, Some(&auth))
                .await?;
            return Err(RegistryError::TokenRejected.into());
        };
        drop(resp);
        inner.counters.reauths.fetch_add(1, Ordering::Relaxed);
        let auth = inner
            .auth
            .header(&inner.http, &inner.counters, scopes, Some(&auth))
            .await?;
        self.send_once(&method, &url, &headers, body, &auth).await
    }

    async fn send_once(
        &self,
        method: &Method,
        url: &Url,
        headers: &HeaderMap,
        body: Body,
        auth: &AuthHeader,
    ) -> Result<Response> {
        let inner = &*self.inner;
        inner.counters.request(method);
        let mut req = inner
            .http
            .request(method.clone(), url.clone())
            .headers(headers.clone());
        req = auth.apply(req);
        req = match body {
            Body::Empty => req.timeout(SMALL_REQUEST_TIMEOUT),
            Body::Bytes(b) => req.timeout(SMALL_REQUEST_TIMEOUT).body(b),
            Body::Stream(s) => req.body(s),
        };
        req.send()
            .await
            .with_context(|| format!("{method} {} on registry {}", url.path(), inner.addr))
    }
}
