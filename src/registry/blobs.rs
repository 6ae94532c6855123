//! Blob operations, one small method per protocol step (distribution spec v1.1):
//! `blob_exists` (HEAD) → `mount_blob` (POST ?mount) → `start_upload` (POST) →
//! `put_whole` (PUT ?digest= with the body) or `patch_stream` (PATCH) + `commit` (PUT ?digest=).

use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use bytes::{Bytes, BytesMut};
use oci_spec::image::{Descriptor, Digest};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, Response, StatusCode};
use url::Url;

use super::address::check_transport;
use super::auth::{Scope, Scopes};
use super::body::{BlobBody, Hashing, meter};
use super::client::{Body, Registry};
use super::digest::sha256_of;
use super::error::{RegistryError, check_status};

/// A blob the registry now holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    pub digest: Digest,
    pub size: u64,
}

impl Registry {
    /// `HEAD /v2/<repo>/blobs/<digest>`: 200 → `Some(size)`, 404 → `None`.
    pub async fn blob_exists(&self, repo: &str, digest: &Digest) -> Result<Option<u64>> {
        let scopes = Scopes::one(Scope::push(&self.repo_path(repo)));
        self.retrying(|| async {
            let url = self.url(repo, &format!("blobs/{digest}"))?;
            let resp = self
                .send(&scopes, Method::HEAD, url, HeaderMap::new(), Body::Empty)
                .await?;
            if resp.status() == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let resp = self.check(resp, &Method::HEAD, &[StatusCode::OK]).await?;
            // The header, not `content_length()`: a HEAD response has an empty body, and the
            // client reports the body's length.
            let size = resp
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            Ok(Some(size))
        })
        .await
        .with_context(|| format!("checking whether {repo} has blob {digest}"))
    }

    /// `POST /v2/<repo>/blobs/uploads/?mount=<digest>&from=<from>`: 201 → mounted (`true`);
    /// 202 → the registry could not mount and opened an upload session instead (`false`). That
    /// session is kept for the `upload_blob` of the same blob that follows, so a failed mount
    /// costs no extra round trip (cancelling it would need the `delete` action, which Docker Hub
    /// tokens do not carry).
    pub async fn mount_blob(&self, repo: &str, digest: &Digest, from: &str) -> Result<bool> {
        let from_path = self.repo_path(from);
        let scopes = Scopes::one(Scope::push(&self.repo_path(repo))).with(Scope::pull(&from_path));
        self.retrying(|| async {
            let mut url = self.url(repo, "blobs/uploads/")?;
            url.query_pairs_mut()
                .append_pair("mount", digest.as_ref())
                .append_pair("from", &from_path);
            let resp = self
                .send(
                    &scopes,
                    Method::POST,
                    url.clone(),
                    HeaderMap::new(),
                    Body::Empty,
                )
                .await?;
            let resp = self
                .check(
                    resp,
                    &Method::POST,
                    &[StatusCode::CREATED, StatusCode::ACCEPTED],
                )
                .await?;
            if resp.status() == StatusCode::CREATED {
                verify_digest_header(&resp, digest, "mounted blob")?;
                return Ok(true);
            }
            if let Ok(session) = location(&resp, &url) {
                self.inner
                    .sessions
                    .put(self.repo_path(repo), digest.clone(), session);
            }
            Ok(false)
        })
        .await
        .with_context(|| format!("mounting blob {digest} from {from} into {repo}"))
    }

    /// Uploads a blob whose digest and size are known: POST a session, then one monolithic
    /// streamed `PUT ?digest=`. A broken attempt restarts from a new session and reopens the body.
    pub async fn upload_blob(
        &self,
        repo: &str,
        desc: &Descriptor,
        body: &dyn BlobBody,
    ) -> Result<()> {
        let scopes = Scopes::one(Scope::push(&self.repo_path(repo)));
        let digest = desc.digest();
        // A session left open by a failed mount goes first; if it has gone stale, the normal
        // attempts below start fresh ones.
        if let Some(session) = self.inner.sessions.take(&self.repo_path(repo), digest)
            && self
                .put_whole(&scopes, session, digest, desc.size(), body)
                .await
                .is_ok()
        {
            return Ok(());
        }
        self.retrying(|| async {
            let session = self.start_upload(repo, &scopes).await?;
            self.put_whole(&scopes, session, digest, desc.size(), body)
                .await
        })
        .await
        .with_context(|| format!("uploading blob {digest} ({} bytes) to {repo}", desc.size()))
    }

    /// Uploads a blob whose digest is only known once streamed (e.g. compressed on the fly):
    /// POST a session, one streamed PATCH hashing as it sends, then `PUT ?digest=` to commit.
    pub async fn upload_blob_streamed(&self, repo: &str, body: &dyn BlobBody) -> Result<BlobInfo> {
        let scopes = Scopes::one(Scope::push(&self.repo_path(repo)));
        self.retrying(|| async {
            let session = self.start_upload(repo, &scopes).await?;
            let (session, info) = self.patch_stream(&scopes, session, body).await?;
            self.commit(&scopes, session, &info.digest).await?;
            Ok(info)
        })
        .await
        .with_context(|| format!("uploading a streamed blob to {repo}"))
    }

    /// `GET /v2/<repo>/blobs/<digest>` of a small blob (a config), at most `max` bytes, digest
    /// verified. Redirects to blob storage are followed (HTTPS only, except loopback).
    pub async fn get_blob(&self, repo: &str, digest: &Digest, max: u64) -> Result<Bytes> {
        let scopes = Scopes::one(Scope::pull(&self.repo_path(repo)));
        self.retrying(|| async {
            let url = self.url(repo, &format!("blobs/{digest}"))?;
            let resp = self
                .send(&scopes, Method::GET, url, HeaderMap::new(), Body::Empty)
                .await?;
            let resp = self.check(resp, &Method::GET, &[StatusCode::OK]).await?;
            let bytes = read_body(resp, max, &format!("blob {digest}")).await?;
            let actual = sha256_of(&bytes);
            if &actual != digest {
                return Err(RegistryError::DigestMismatch {
                    what: format!("blob served by {repo}"),
                    expected: digest.to_string(),
                    actual: actual.to_string(),
                }
                .into());
            }
            Ok(bytes)
        })
        .await
        .with_context(|| format!("downloading blob {digest} from {repo}"))
    }

    /// `POST /v2/<repo>/blobs/uploads/` → 202 and the session's `Location`.
    async fn start_upload(&self, repo: &str, scopes: &Scopes) -> Result<Url> {
        let url = self.url(repo, "blobs/uploads/")?;
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        let resp = self
            .send(scopes, Method::POST, url.clone(), headers, Body::Empty)
            .await?;
        let resp = self
            .check(resp, &Method::POST, &[StatusCode::ACCEPTED])
            .await?;
        location(&resp, &url)
    }

    /// `PUT <session>?digest=<digest>` with the whole blob streamed → 201.
    async fn put_whole(
        &self,
        scopes: &Scopes,
        session: Url,
        digest: &Digest,
        size: u64,
        body: &dyn BlobBody,
    ) -> Result<()> {
        let mut url = session;
        url.query_pairs_mut().append_pair("digest", digest.as_ref());
        let stream = meter(
            body.open().await?,
            self.inner.counters.uploaded.clone(),
            None,
            Some(size),
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
        let body = Body::Stream(reqwest::Body::wrap_stream(stream));
        let resp = self.send(scopes, Method::PUT, url, headers, body).await?;
        let resp = self
            .check(resp, &Method::PUT, &[StatusCode::CREATED])
            .await?;
        verify_digest_header(&resp, digest, "uploaded blob")
    }

    /// `PATCH <session>` with the blob streamed (chunked) → 202 and the next `Location`; returns
    /// the digest and size computed while sending.
    async fn patch_stream(
        &self,
        scopes: &Scopes,
        session: Url,
        body: &dyn BlobBody,
    ) -> Result<(Url, BlobInfo)> {
        let hashing = Arc::new(Mutex::new(Hashing::default()));
        let stream = meter(
            body.open().await?,
            self.inner.counters.uploaded.clone(),
            Some(hashing.clone()),
            None,
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        let body = Body::Stream(reqwest::Body::wrap_stream(stream));
        let resp = self
            .send(scopes, Method::PATCH, session.clone(), headers, body)
            .await?;
        let resp = self
            .check(
                resp,
                &Method::PATCH,
                &[StatusCode::ACCEPTED, StatusCode::NO_CONTENT],
            )
            .await?;
        let next = location(&resp, &session)?;
        let (digest, size) =
            std::mem::take(&mut *hashing.lock().unwrap_or_else(|p| p.into_inner())).finish();
        // `Range: 0-<last byte>` is what the registry stored: a short count means bytes were
        // lost, and committing would fail with a confusing digest error.
        if let Some(range) = resp
            .headers()
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            && let Some(end) = range
                .rsplit('-')
                .next()
                .and_then(|e| e.trim().parse::<u64>().ok())
            && end.checked_add(1) != Some(size)
        {
            anyhow::bail!(
                "the registry stored {} of {size} bytes streamed (Range: {range})",
                end.saturating_add(1)
            );
        }
        Ok((next, BlobInfo { digest, size }))
    }

    /// `PUT <session>?digest=<digest>` with an empty body → 201: commits a streamed upload.
    async fn commit(&self, scopes: &Scopes, session: Url, digest: &Digest) -> Result<()> {
        let mut url = session;
        url.query_pairs_mut().append_pair("digest", digest.as_ref());
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        let resp = self
            .send(scopes, Method::PUT, url, headers, Body::Empty)
            .await?;
        let resp = self
            .check(resp, &Method::PUT, &[StatusCode::CREATED])
            .await?;
        verify_digest_header(&resp, digest, "committed blob")
    }

    /// The one status check, with this registry's name for error messages.
    pub(crate) async fn check(
        &self,
        resp: Response,
        method: &Method,
        expected: &[StatusCode],
    ) -> Result<Response> {
        Ok(check_status(resp, method, expected, self.inner.addr.name()).await?)
    }
}

/// The `Location` of a response, resolved against the request URL (registries send both
/// relative paths and absolute URLs), and held to the transport rule.
pub(crate) fn location(resp: &Response, request: &Url) -> Result<Url> {
    let raw = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| RegistryError::MissingHeader {
            method: "POST/PATCH".into(),
            path: request.path().to_owned(),
            status: resp.status(),
            header: "Location",
        })?;
    resolve_location(request, raw)
}

/// Resolves a `Location` value against the URL it answered.
pub fn resolve_location(request: &Url, location: &str) -> Result<Url> {
    let url = request
        .join(location)
        .with_context(|| format!("invalid Location {location:?}"))?;
    check_transport(&url).with_context(|| format!("following Location {location:?}"))?;
    Ok(url)
}

/// Checks `Docker-Content-Digest` when the registry sends one (the spec says it should).
pub(crate) fn verify_digest_header(resp: &Response, expected: &Digest, what: &str) -> Result<()> {
    if let Some(got) = resp
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        && got != expected.as_ref()
    {
        return Err(RegistryError::DigestMismatch {
            what: what.to_owned(),
            expected: expected.to_string(),
            actual: got.to_owned(),
        }
        .into());
    }
    Ok(())
}

/// Reads a response body into memory, refusing more than `max` bytes (checked against
/// `Content-Length` first, then while reading).
pub(crate) async fn read_body(mut resp: Response, max: u64, what: &str) -> Result<Bytes> {
    if resp.content_length().is_some_and(|n| n > max) {
        return Err(RegistryError::TooLarge {
            what: what.to_owned(),
            limit: max,
        }
        .into());
    }
    let mut buf = BytesMut::with_capacity(resp.content_length().unwrap_or(0).min(max) as usize);
    while let Some(chunk) = resp
        .chunk()
        .await
        .with_context(|| format!("reading {what}"))?
    {
        if buf.len() as u64 + chunk.len() as u64 > max {
            return Err(RegistryError::TooLarge {
                what: what.to_owned(),
                limit: max,
            }
            .into());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_relative_and_absolute() {
        let req = Url::parse("http://127.0.0.1:5000/v2/a/b/blobs/uploads/").unwrap();
        let rel = resolve_location(&req, "/v2/a/b/blobs/uploads/uuid?_state=xyz").unwrap();
        assert_eq!(
            rel.as_str(),
            "http://127.0.0.1:5000/v2/a/b/blobs/uploads/uuid?_state=xyz"
        );
        let relative_path = resolve_location(&req, "uuid2").unwrap();
        assert_eq!(
            relative_path.as_str(),
            "http://127.0.0.1:5000/v2/a/b/blobs/uploads/uuid2"
        );
        let abs = resolve_location(&req, "http://localhost:5001/v2/a/b/blobs/uploads/u").unwrap();
        assert_eq!(abs.as_str(), "http://localhost:5001/v2/a/b/blobs/uploads/u");
        let https = Url::parse("https://registry-1.docker.io/v2/a/b/blobs/uploads/").unwrap();
        let s3 = resolve_location(&https, "https://storage.example.com/upload?sig=1").unwrap();
        assert_eq!(s3.host_str(), Some("storage.example.com"));
        // A registry may not send us to plain HTTP elsewhere.
        assert!(resolve_location(&https, "http://storage.example.com/upload").is_err());
        assert!(resolve_location(&req, "http://10.0.0.1/v2/").is_err());
    }

    #[test]
    fn digest_appended_keeps_session_state() {
        let mut u = resolve_location(
            &Url::parse("http://127.0.0.1:1/v2/x/blobs/uploads/").unwrap(),
            "/v2/x/blobs/uploads/u?_state=a%2Bb",
        )
        .unwrap();
        u.query_pairs_mut().append_pair("digest", "sha256:00");
        assert_eq!(u.query(), Some("_state=a%2Bb&digest=sha256%3A00"));
    }
}
