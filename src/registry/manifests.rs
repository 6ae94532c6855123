//! Manifest operations: `put_manifest` (PUT), `get_manifest` (GET), `resolve` (HEAD, GET
//! fallback). Bodies are small (≤ 4 MiB, like distribution's own limit) and always digest-checked.

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use oci_spec::image::{Digest, MediaType};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};

use super::auth::{Scope, Scopes};
use super::blobs::{read_body, verify_digest_header};
use super::client::{Body, Registry};
use super::digest::sha256_of;
use super::error::RegistryError;

/// Manifests larger than this are refused (distribution's and Docker Hub's limit).
pub const MANIFEST_LIMIT: u64 = 4 * 1024 * 1024;

/// Every manifest type we read: OCI and Docker schema 2, single images and indexes.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";

/// A manifest as the registry stores it: the exact bytes (their digest is the image's identity).
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    pub media_type: MediaType,
    pub bytes: Bytes,
    pub digest: Digest,
}

impl Manifest {
    /// A manifest made or read locally; its digest is computed from the bytes.
    pub fn new(media_type: MediaType, bytes: Bytes) -> Self {
        let digest = sha256_of(&bytes);
        Self {
            media_type,
            bytes,
            digest,
        }
    }
}

impl Registry {
    /// `PUT /v2/<repo>/manifests/<reference>` → 201. `reference` is a tag or the digest of
    /// `bytes`. Returns the digest, checked against `Docker-Content-Digest`.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &MediaType,
        bytes: Bytes,
    ) -> Result<Digest> {
        let digest = sha256_of(&bytes);
        if bytes.len() as u64 > MANIFEST_LIMIT {
            bail!(
                "manifest {digest} is {} bytes, over the {MANIFEST_LIMIT}-byte limit",
                bytes.len()
            );
        }
        if reference.contains(':') && reference != digest.as_ref() {
            bail!("manifest reference {reference} is not the digest of its content ({digest})");
        }
        let scopes = Scopes::one(Scope::push(&self.repo_path(repo)));
        let content_type = HeaderValue::from_str(media_type.as_ref())
            .with_context(|| format!("invalid media type {media_type}"))?;
        self.retrying(|| async {
            let url = self.url(repo, &format!("manifests/{reference}"))?;
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, content_type.clone());
            let resp = self
                .send(
                    &scopes,
                    Method::PUT,
                    url,
                    headers,
                    Body::Bytes(bytes.clone()),
                )
                .await?;
            let resp = self
                .check(resp, &Method::PUT, &[StatusCode::CREATED])
                .await?;
            verify_digest_header(&resp, &digest, "pushed manifest")?;
            Ok(digest.clone())
        })
        .await
        .with_context(|| format!("pushing manifest {digest} as {repo}:{reference}"))
    }

    /// `GET /v2/<repo>/manifests/<reference>` with every manifest type accepted; `None` on 404.
    pub async fn get_manifest(&self, repo: &str, reference: &str) -> Result<Option<Manifest>> {
        let scopes = Scopes::one(Scope::pull(&self.repo_path(repo)));
        self.retrying(|| async {
            let url = self.url(repo, &format!("manifests/{reference}"))?;
            let resp = self
                .send(&scopes, Method::GET, url, accept_headers(), Body::Empty)
                .await?;
            if resp.status() == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let resp = self.check(resp, &Method::GET, &[StatusCode::OK]).await?;
            let header_type = resp
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
            let header_digest = resp
                .headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let bytes = read_body(
                resp,
                MANIFEST_LIMIT,
                &format!("manifest {repo}:{reference}"),
            )
            .await?;
            let digest = sha256_of(&bytes);
            for expected in [
                Some(reference).filter(|r| r.contains(':')),
                header_digest.as_deref(),
            ]
            .into_iter()
            .flatten()
            {
                // Only sha256 can be checked here; other algorithms are passed through.
                if expected.starts_with("sha256:") && expected != digest.as_ref() {
                    return Err(RegistryError::DigestMismatch {
                        what: format!("manifest {repo}:{reference}"),
                        expected: expected.to_owned(),
                        actual: digest.to_string(),
                    }
                    .into());
                }
            }
            let media_type = header_type
                .filter(|t| !t.is_empty() && t != "application/json")
                .or_else(|| body_media_type(&bytes))
                .map(|t| MediaType::from(t.as_str()))
                .with_context(|| format!("manifest {repo}:{reference} has no media type"))?;
            Ok(Some(Manifest {
                media_type,
                bytes,
                digest,
            }))
        })
        .await
        .with_context(|| format!("reading manifest {repo}:{reference}"))
    }

    /// The digest `reference` (a tag or digest) points at: `HEAD` with the manifest Accept
    /// types, falling back to `GET` when the registry sends no `Docker-Content-Digest`.
    pub async fn resolve(&self, repo: &str, reference: &str) -> Result<Digest> {
        let scopes = Scopes::one(Scope::pull(&self.repo_path(repo)));
        let head = self
            .retrying(|| async {
                let url = self.url(repo, &format!("manifests/{reference}"))?;
                let resp = self
                    .send(&scopes, Method::HEAD, url, accept_headers(), Body::Empty)
                    .await?;
                let resp = self.check(resp, &Method::HEAD, &[StatusCode::OK]).await?;
                Ok(resp
                    .headers()
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| Digest::try_from(v).ok()))
            })
            .await
            .with_context(|| format!("resolving {repo}:{reference}"))?;
        if let Some(d) = head {
            return Ok(d);
        }
        match self.get_manifest(repo, reference).await? {
            Some(m) => Ok(m.digest),
            None => bail!("manifest {repo}:{reference} disappeared while resolving it"),
        }
    }
}

fn accept_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::ACCEPT, HeaderValue::from_static(MANIFEST_ACCEPT));
    h
}

/// The `mediaType` field of a manifest body, for registries that send a generic Content-Type.
fn body_media_type(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
    }
    serde_json::from_slice::<Probe>(bytes).ok()?.media_type
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_from_body() {
        let b = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}"#;
        assert_eq!(
            body_media_type(b).as_deref(),
            Some("application/vnd.oci.image.index.v1+json")
        );
        assert_eq!(body_media_type(b"{}"), None);
        assert_eq!(body_media_type(b"not json"), None);
    }

    #[test]
    fn accept_lists_all_four_types() {
        for t in [
            MediaType::ImageManifest.to_string(),
            MediaType::ImageIndex.to_string(),
            "application/vnd.docker.distribution.manifest.v2+json".to_owned(),
            "application/vnd.docker.distribution.manifest.list.v2+json".to_owned(),
        ] {
            assert!(MANIFEST_ACCEPT.contains(&t), "{t}");
        }
    }
}
