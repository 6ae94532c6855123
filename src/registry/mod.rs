//! A client for the OCI distribution API (v1.1), written for pushing: token auth the Docker Hub
//! way, streamed uploads that never hold a blob in memory, and retries at one level.
//!
//! ```text
//! let reg = Registry::new(RegistryAddress::parse("docker.io")?, Some(creds))?;
//! reg.check_login("user/app").await?;                    // bad credentials fail here, before any upload
//! if reg.blob_exists(repo, &d).await?.is_none()          // HEAD
//!     && !reg.mount_blob(repo, &d, "user/other").await?  // POST ?mount=&from=
//! {
//!     reg.upload_blob(repo, &desc, &FileBlob::new(p)).await?;      // POST, PUT ?digest= (streamed)
//! }
//! let info = reg.upload_blob_streamed(repo, &body).await?;        // POST, PATCH (streamed, hashed), PUT ?digest=
//! let digest = reg.put_manifest(repo, "latest", &media_type, bytes).await?;
//! let m = reg.get_manifest(repo, "latest").await?;        // Option<Manifest { media_type, bytes, digest }>
//! let d = reg.resolve(repo, "latest").await?;             // HEAD with Accept (GET fallback)
//! let cfg = reg.get_blob(repo, &config_digest, 1 << 20).await?;
//! let s = reg.stats();                                    // requests per method, tokens, bytes, retries
//! ```
//!
//! Layout, one job per file: `address` (host, Docker Hub aliases, the loopback-only plain-HTTP
//! rule), `challenge` (`WWW-Authenticate`), `auth` (ping once, tokens per scope, renewed before
//! expiry), `client` (`Registry`, `send`, counters), `blobs` and `manifests` (one method per
//! protocol step), `body` (re-openable blob streams), `error` (`RegistryError`, `check_status`),
//! `retry` (classification, backoff).
//!
//! Round trips are kept to the protocol's minimum: `GET /v2/` once per `Registry` (the
//! challenge), one token per scope set until shortly before it expires (concurrent requests wait
//! for a single fetch), known-digest uploads in two requests (POST, streamed PUT), and a mount the
//! registry refuses leaves its upload session to the `upload_blob` of that blob (no extra POST,
//! no DELETE — cancelling needs the `delete` action, which push tokens lack).
//!
//! Retries happen at one level only: each public method retries its whole operation (for an
//! upload: a new session and the body reopened from its first byte) on 408/429/5xx, resets and
//! early EOF, honouring `Retry-After`. A 401 inside an operation is answered once by fetching a
//! new token (expired token, `insufficient_scope`).

mod address;
mod auth;
mod blobs;
mod body;
mod challenge;
mod client;
pub mod digest;
mod error;
mod manifests;
mod reference;
mod retry;

pub use address::{DOCKER_HUB, RegistryAddress, check_transport, is_loopback_host};
pub use auth::Credentials;
pub use blobs::{BlobInfo, resolve_location};
pub use body::{BlobBody, ByteStream, FILE_CHUNK, FileBlob, SourceError};
pub use challenge::Challenge;
pub use client::{Registry, Stats};
pub use error::{ApiError, RegistryError};
pub use manifests::{MANIFEST_ACCEPT, MANIFEST_LIMIT, Manifest};
pub use reference::{Reference, Repository, Tag, Target};
pub use retry::{RetryPolicy, Verdict, classify};

use anyhow::{Context, Result};

use auth::{Scope, Scopes};

impl Registry {
    /// Proves the credentials can push to `repo` before anything is uploaded: pings the registry
    /// and obtains a `pull,push` token for `repo`. Wrong credentials give
    /// [`RegistryError::BadCredentials`]; a token without push gives
    /// [`RegistryError::InsufficientScope`].
    pub async fn check_login(&self, repo: &str) -> Result<()> {
        let scopes = Scopes::one(Scope::push(&self.repo_path(repo)));
        let inner = &*self.inner;
        self.retrying(|| async {
            inner
                .auth
                .header(&inner.http, &inner.counters, &scopes, None)
                .await
                .map(drop)
        })
        .await
        .with_context(|| format!("logging in to {} for {repo}", inner.addr))
    }
}
