//! Typed registry errors and the one status check every response goes through.

use std::fmt;
use std::time::Duration;

use reqwest::{Response, StatusCode, header};
use serde::Deserialize;

use super::challenge::Challenge;

/// Errors a caller may need to branch on. Everything else travels as `anyhow` context.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The token server (or a Basic-auth registry) refused the username/token pair.
    #[error("{registry} rejected the credentials of user {username:?}")]
    BadCredentials { registry: String, username: String },

    /// Anonymous access was refused where credentials are needed.
    #[error("{registry} requires credentials for {what}")]
    CredentialsRequired { registry: String, what: String },

    /// Valid credentials, but not allowed to do this (e.g. push to someone else's repository).
    #[error(
        "the credentials for {registry} are not allowed to {action} repository {repository} \
         (insufficient_scope)"
    )]
    InsufficientScope {
        registry: String,
        repository: String,
        action: String,
    },

    /// The registry answered 401 even with a freshly fetched token, on a request whose body could
    /// not be replayed; the whole attempt is retried with the new token.
    #[error(
        "the registry rejected the access token (expired mid-request); retrying with a new one"
    )]
    TokenRejected,

    /// The token server failed (not a credentials problem).
    #[error("token server {realm} answered {status}{}", fmt_body(body))]
    TokenServer {
        realm: String,
        status: StatusCode,
        body: String,
    },

    /// Any other unexpected status, with the registry's OCI error envelope when it sent one.
    #[error("{method} {path} answered {status}{}", ApiErrors(errors))]
    Status {
        method: String,
        path: String,
        status: StatusCode,
        errors: Vec<ApiError>,
        retry_after: Option<Duration>,
    },

    /// A digest the registry reported (or content it served) did not match what was expected.
    #[error("{what}: expected digest {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },

    /// A response body exceeded the size we are willing to read into memory.
    #[error("{what} is larger than the {limit}-byte limit")]
    TooLarge { what: String, limit: u64 },

    /// The registry answered without a header the protocol requires (e.g. `Location`).
    #[error("{method} {path} answered {status} without a usable {header} header")]
    MissingHeader {
        method: String,
        path: String,
        status: StatusCode,
        header: &'static str,
    },
}

impl RegistryError {
    /// The HTTP status of a `Status` error.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            RegistryError::Status { status, .. } => Some(*status),
            RegistryError::TokenServer { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True when the registry's error envelope carries this code (e.g. `BLOB_UNKNOWN`).
    pub fn has_code(&self, code: &str) -> bool {
        matches!(self, RegistryError::Status { errors, .. } if errors.iter().any(|e| e.code == code))
    }
}

/// One entry of the OCI error envelope `{"errors":[{"code","message","detail"}]}`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ApiError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub detail: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    errors: Vec<ApiError>,
}

struct ApiErrors<'a>(&'a [ApiError]);

impl fmt::Display for ApiErrors<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{}", e.code)?;
            if !e.message.is_empty() {
                write!(f, " ({})", e.message)?;
            }
            if let Some(d) = &e.detail {
                let d = d.to_string();
                if d != "null" && d.len() <= 300 {
                    write!(f, " {d}")?;
                }
            }
        }
        Ok(())
    }
}

fn fmt_body(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    }
}

/// Parses an OCI error envelope; anything else gives no entries.
pub fn parse_envelope(body: &[u8]) -> Vec<ApiError> {
    serde_json::from_slice::<Envelope>(body)
        .map(|e| e.errors)
        .unwrap_or_default()
}

/// Error bodies are read up to this size: enough for any envelope, never a blob.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Passes `resp` through when its status is one of `expected`; otherwise reads the error body
/// and turns it into a [`RegistryError`] (`InsufficientScope` for a 401 saying so).
pub async fn check_status(
    resp: Response,
    method: &reqwest::Method,
    expected: &[StatusCode],
    registry: &str,
) -> Result<Response, RegistryError> {
    let status = resp.status();
    if expected.contains(&status) {
        return Ok(resp);
    }
    Err(status_error(resp, method, registry).await)
}

/// Builds the error for an unexpected response (body read with a limit, envelope parsed).
pub async fn status_error(
    resp: Response,
    method: &reqwest::Method,
    registry: &str,
) -> RegistryError {
    let status = resp.status();
    let path = resp.url().path().to_owned();
    let retry_after = resp
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(super::retry::parse_retry_after);
    let challenge = resp
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .and_then(Challenge::parse);
    let body = read_limited(resp, ERROR_BODY_LIMIT).await;
    let errors = parse_envelope(&body);
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        let scope_error = challenge
            .as_ref()
            .is_some_and(Challenge::is_insufficient_scope)
            || errors.iter().any(|e| e.code == "DENIED");
        if scope_error {
            return RegistryError::InsufficientScope {
                registry: registry.to_owned(),
                repository: repository_of(&path),
                action: action_of(method),
            };
        }
    }
    RegistryError::Status {
        method: method.to_string(),
        path,
        status,
        errors,
        retry_after,
    }
}

/// `/v2/<name>/blobs/...` → `<name>` (for messages only).
fn repository_of(path: &str) -> String {
    let rest = path.strip_prefix("/v2/").unwrap_or(path);
    for marker in ["/blobs/", "/manifests/", "/tags/"] {
        if let Some(i) = rest.find(marker) {
            return rest[..i].to_owned();
        }
    }
    rest.to_owned()
}

fn action_of(method: &reqwest::Method) -> String {
    if method == reqwest::Method::GET || method == reqwest::Method::HEAD {
        "pull from".into()
    } else {
        "push to".into()
    }
}

/// Reads at most `limit` bytes of a response body; errors just end the read (it is diagnostics).
pub async fn read_limited(mut resp: Response, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = limit.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= limit {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_parses_and_formats() {
        let body = br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:ab"},{"code":"DENIED","message":"no"}]}"#;
        let errors = parse_envelope(body);
        assert_eq!(errors.len(), 2);
        let e = RegistryError::Status {
            method: "HEAD".into(),
            path: "/v2/a/blobs/sha256:ab".into(),
            status: StatusCode::NOT_FOUND,
            errors,
            retry_after: None,
        };
        assert!(e.has_code("BLOB_UNKNOWN"));
        assert_eq!(
            e.to_string(),
            "HEAD /v2/a/blobs/sha256:ab answered 404 Not Found: BLOB_UNKNOWN (blob unknown to \
             registry) \"sha256:ab\"; DENIED (no)"
        );
        assert!(parse_envelope(b"<html>").is_empty());
        assert!(parse_envelope(b"").is_empty());
    }

    #[test]
    fn repository_from_path() {
        assert_eq!(repository_of("/v2/a/b/blobs/uploads/x"), "a/b");
        assert_eq!(repository_of("/v2/lib/manifests/latest"), "lib");
    }
}
