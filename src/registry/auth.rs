//! Registry authentication: the `/v2/` ping that learns the challenge (once per registry), and
//! Docker-style bearer tokens fetched from the challenge's realm, cached per scope and renewed
//! before they expire.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use reqwest::{StatusCode, header};
use serde::Deserialize;
use url::Url;

use super::address::{RegistryAddress, check_transport};
use super::challenge::Challenge;
use super::error::{RegistryError, check_status, read_limited};
use crate::secret::Secret;

/// A registry login. The password (a Docker Hub access token) never prints.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

/// One `repository:NAME:ACTIONS` grant asked of the token server.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    pub repository: String,
    pub push: bool,
}

impl Scope {
    pub fn pull(repository: &str) -> Self {
        Self {
            repository: repository.to_owned(),
            push: false,
        }
    }
    pub fn push(repository: &str) -> Self {
        Self {
            repository: repository.to_owned(),
            push: true,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let actions = if self.push { "pull,push" } else { "pull" };
        write!(f, "repository:{}:{actions}", self.repository)
    }
}

/// What a request needs: the main scope, plus pull on a mount source. The token cache key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    pub fn one(scope: Scope) -> Self {
        Self(vec![scope])
    }
    pub fn with(mut self, extra: Scope) -> Self {
        if !self.0.contains(&extra) {
            self.0.push(extra);
        }
        self
    }
    fn primary(&self) -> Option<&Scope> {
        self.0.first()
    }
}

/// The `Authorization` a request carries.
#[derive(Clone)]
pub enum AuthHeader {
    None,
    Basic(Secret),
    Bearer(Secret),
}

impl AuthHeader {
    pub fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            AuthHeader::None => req,
            AuthHeader::Basic(v) | AuthHeader::Bearer(v) => {
                let mut value = match header::HeaderValue::from_str(v.expose()) {
                    Ok(v) => v,
                    // Unrepresentable credentials cannot be sent; the registry's 401 will say so.
                    Err(_) => return req,
                };
                value.set_sensitive(true);
                req.header(header::AUTHORIZATION, value)
            }
        }
    }
}

#[derive(Clone)]
struct Token {
    value: Secret,
    /// Renew from this instant on (expiry minus a margin).
    renew_at: Instant,
}

/// The registry's auth scheme, learnt from `GET /v2/`.
#[derive(Clone, Debug)]
enum Scheme {
    Anonymous,
    Basic,
    Bearer { realm: Url, service: Option<String> },
}

pub(crate) struct Auth {
    addr: RegistryAddress,
    creds: Option<Credentials>,
    scheme: tokio::sync::OnceCell<Scheme>,
    /// Per scope set, a slot whose async lock makes concurrent requests for the same scope wait
    /// for one token fetch instead of each fetching their own.
    tokens: Mutex<HashMap<Scopes, Arc<tokio::sync::Mutex<Option<Token>>>>>,
}

/// Counters the auth layer reports into.
pub(crate) trait AuthEvents: Send + Sync {
    fn request(&self, method: &reqwest::Method);
    fn token_fetched(&self);
}

impl Auth {
    pub(crate) fn new(addr: RegistryAddress, creds: Option<Credentials>) -> Self {
        Self {
            addr,
            creds,
            scheme: tokio::sync::OnceCell::new(),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// The header for a request needing `scopes`. `rejected` is the header a registry just
    /// answered 401 to: a new token is fetched unless another request already replaced it.
    pub(crate) async fn header(
        &self,
        http: &reqwest::Client,
        events: &dyn AuthEvents,
        scopes: &Scopes,
        rejected: Option<&AuthHeader>,
    ) -> Result<AuthHeader> {
        let rejected_token = match rejected {
            Some(AuthHeader::Bearer(v)) => Some(v.expose()),
            _ => None,
        };
        match self.scheme(http, events).await? {
            Scheme::Anonymous => Ok(AuthHeader::None),
            Scheme::Basic => match &self.creds {
                Some(c) => Ok(AuthHeader::Basic(basic(c))),
                None => Err(RegistryError::CredentialsRequired {
                    registry: self.addr.to_string(),
                    what: "any request (Basic auth)".into(),
                }
                .into()),
            },
            Scheme::Bearer { realm, service } => {
                if rejected.is_none()
                    && let Some(t) = self.cached_covering(scopes)
                {
                    return Ok(AuthHeader::Bearer(t));
                }
                let slot = self.slot(scopes);
                let mut guard = slot.lock().await;
                if let Some(t) = guard.as_ref().filter(|t| Instant::now() < t.renew_at) {
                    let header = bearer(&t.value);
                    if rejected_token != Some(header.expose()) {
                        return Ok(AuthHeader::Bearer(header));
                    }
                }
                let token = self
                    .fetch(http, events, realm, service.as_deref(), scopes)
                    .await?;
                let header = AuthHeader::Bearer(bearer(&token.value));
                *guard = Some(token);
                Ok(header)
            }
        }
    }

    fn lock_tokens(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<Scopes, Arc<tokio::sync::Mutex<Option<Token>>>>> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn slot(&self, scopes: &Scopes) -> Arc<tokio::sync::Mutex<Option<Token>>> {
        self.lock_tokens()
            .entry(scopes.clone())
            .or_default()
            .clone()
    }

    /// A pull-only request can reuse a live push token of the same repository: saves a token
    /// fetch when a push also reads (existing manifests, configs).
    fn cached_covering(&self, scopes: &Scopes) -> Option<Secret> {
        let Scopes(list) = scopes;
        let [only] = list.as_slice() else { return None };
        if only.push {
            return None;
        }
        let slot = self
            .lock_tokens()
            .get(&Scopes::one(Scope::push(&only.repository)))
            .cloned()?;
        let guard = slot.try_lock().ok()?;
        let t = guard.as_ref().filter(|t| Instant::now() < t.renew_at)?;
        Some(bearer(&t.value))
    }

    async fn scheme(&self, http: &reqwest::Client, events: &dyn AuthEvents) -> Result<&Scheme> {
        self.scheme
            .get_or_try_init(|| self.ping(http, events))
            .await
    }

    /// `GET /v2/`: 200 → no auth; 401 → the challenge to follow. Once per registry.
    async fn ping(&self, http: &reqwest::Client, events: &dyn AuthEvents) -> Result<Scheme> {
        let url = self.addr.base_url().join("v2/")?;
        events.request(&reqwest::Method::GET);
        let resp = http
            .get(url.clone())
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .with_context(|| format!("connecting to registry {}", self.addr))?;
        if resp.status() == StatusCode::OK {
            return Ok(Scheme::Anonymous);
        }
        let resp = check_status(
            resp,
            &reqwest::Method::GET,
            &[StatusCode::UNAUTHORIZED],
            self.addr.name(),
        )
        .await
        .with_context(|| format!("checking the API of registry {}", self.addr))?;
        let header = resp
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        match Challenge::parse(header) {
            Some(Challenge::Basic { .. }) => Ok(Scheme::Basic),
            Some(Challenge::Bearer { realm, service, .. }) => {
                let realm = Url::parse(&realm).with_context(|| {
                    format!(
                        "registry {} sent an invalid token realm {realm:?}",
                        self.addr
                    )
                })?;
                check_transport(&realm).context("token realm")?;
                Ok(Scheme::Bearer { realm, service })
            }
            None => bail!(
                "registry {} answered 401 with an unsupported challenge {header:?}",
                self.addr
            ),
        }
    }

    /// `GET realm?service=…&scope=…` with Basic credentials (anonymous without them).
    async fn fetch(
        &self,
        http: &reqwest::Client,
        events: &dyn AuthEvents,
        realm: &Url,
        service: Option<&str>,
        scopes: &Scopes,
    ) -> Result<Token> {
        let mut url = realm.clone();
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            for s in &scopes.0 {
                q.append_pair("scope", &s.to_string());
            }
            if let Some(c) = &self.creds {
                q.append_pair("account", &c.username);
            }
        }
        let started = Instant::now();
        let mut req = http.get(url).timeout(Duration::from_secs(30));
        if let Some(c) = &self.creds {
            req = AuthHeader::Basic(basic(c)).apply(req);
        }
        events.token_fetched();
        let resp = req
            .send()
            .await
            .with_context(|| format!("requesting a token from {realm}"))?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(match &self.creds {
                Some(c) => RegistryError::BadCredentials {
                    registry: self.addr.to_string(),
                    username: c.username.clone(),
                },
                None => RegistryError::CredentialsRequired {
                    registry: self.addr.to_string(),
                    what: scopes_text(scopes),
                },
            }
            .into());
        }
        if status != StatusCode::OK {
            let body = read_limited(resp, 2048).await;
            return Err(RegistryError::TokenServer {
                realm: realm.to_string(),
                status,
                body: String::from_utf8_lossy(&body).trim().to_owned(),
            }
            .into());
        }
        let body = read_limited(resp, 1 << 20).await;
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .with_context(|| format!("token server {realm} sent an unreadable answer"))?;
        let value = parsed
            .token
            .filter(|t| !t.is_empty())
            .or(parsed.access_token.filter(|t| !t.is_empty()))
            .with_context(|| format!("token server {realm} sent no token"))?;
        if let Some(primary) = scopes.primary().filter(|s| s.push)
            && jwt_denies_push(&value, &primary.repository)
        {
            return Err(match self.creds {
                // Anonymous tokens never carry push: the fix is to log in, not a scope.
                None => RegistryError::CredentialsRequired {
                    registry: self.addr.to_string(),
                    what: format!("pushing to {}", primary.repository),
                },
                Some(_) => RegistryError::InsufficientScope {
                    registry: self.addr.to_string(),
                    repository: primary.repository.clone(),
                    action: "push to".into(),
                },
            }
            .into());
        }
        // Registered before the token is first used, so no log line can show it.
        crate::runner::add_mask(&value);
        Ok(Token {
            renew_at: renew_at(started, parsed.expires_in),
            value: Secret::new(value),
        })
    }
}

/// Token lifetimes beyond this are treated as this: a token server's `expires_in` is network
/// data, and `Instant + u64::MAX seconds` overflows (a panic, with `panic = "abort"` a silent
/// death). A day is far beyond any real registry token (Docker Hub's live 300 s).
const MAX_TOKEN_LIFE: Duration = Duration::from_secs(24 * 3600);

/// When to fetch a new token. Token spec: 60 s when unspecified. Renew a little early so a
/// request never leaves with a token that dies in flight; short tokens renew at half their life.
fn renew_at(started: Instant, expires_in: Option<u64>) -> Instant {
    let life = Duration::from_secs(expires_in.unwrap_or(60).max(1)).min(MAX_TOKEN_LIFE);
    let margin = (life / 2).min(Duration::from_secs(30));
    started.checked_add(life - margin).unwrap_or(started)
}

#[derive(Deserialize)]
struct TokenResponse {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

fn basic(c: &Credentials) -> Secret {
    let raw = format!("{}:{}", c.username, c.password.expose());
    Secret::new(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    ))
}

fn bearer(token: &Secret) -> Secret {
    Secret::new(format!("Bearer {}", token.expose()))
}

fn scopes_text(scopes: &Scopes) -> String {
    scopes
        .0
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// When the token is a JWT with an `access` claim (Docker Hub's and distribution's are), true if
/// that claim grants no push on `repository`: the push would fail with insufficient_scope, so we
/// say so before uploading anything. Opaque tokens give false (the registry decides).
fn jwt_denies_push(token: &str, repository: &str) -> bool {
    #[derive(Deserialize)]
    struct Claims {
        access: Option<Vec<Access>>,
    }
    #[derive(Deserialize)]
    struct Access {
        #[serde(rename = "type", default)]
        kind: String,
        #[serde(default)]
        name: String,
        #[serde(default)]
        actions: Vec<String>,
    }
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(bytes) =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('='))
    else {
        return false;
    };
    let Ok(Claims {
        access: Some(access),
    }) = serde_json::from_slice::<Claims>(&bytes)
    else {
        return false;
    };
    !access.iter().any(|a| {
        a.kind == "repository"
            && a.name == repository
            && a.actions.iter().any(|x| x == "push" || x == "*")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", b(r#"{"alg":"ES256"}"#), b(claims))
    }

    #[test]
    fn scopes_format_like_docker() {
        assert_eq!(Scope::push("a/b").to_string(), "repository:a/b:pull,push");
        assert_eq!(Scope::pull("c").to_string(), "repository:c:pull");
        let s = Scopes::one(Scope::push("a"))
            .with(Scope::pull("b"))
            .with(Scope::pull("b"));
        assert_eq!(scopes_text(&s), "repository:a:pull,push repository:b:pull");
    }

    #[test]
    fn jwt_push_grant_detection() {
        let granted =
            jwt(r#"{"access":[{"type":"repository","name":"u/app","actions":["pull","push"]}]}"#);
        assert!(!jwt_denies_push(&granted, "u/app"));
        let pull_only =
            jwt(r#"{"access":[{"type":"repository","name":"u/app","actions":["pull"]}]}"#);
        assert!(jwt_denies_push(&pull_only, "u/app"));
        let empty = jwt(r#"{"access":[]}"#);
        assert!(jwt_denies_push(&empty, "u/app"));
        let star = jwt(r#"{"access":[{"type":"repository","name":"u/app","actions":["*"]}]}"#);
        assert!(!jwt_denies_push(&star, "u/app"));
        // No access claim, opaque tokens, garbage: the registry decides.
        assert!(!jwt_denies_push(&jwt(r#"{"sub":"x"}"#), "u/app"));
        assert!(!jwt_denies_push("opaque-token", "u/app"));
        assert!(!jwt_denies_push("a.!!!.c", "u/app"));
    }

    #[test]
    fn token_lifetimes_from_the_network_never_overflow() {
        let now = Instant::now();
        for expires in [
            None,
            Some(0),
            Some(1),
            Some(300),
            Some(u64::MAX / 2),
            Some(u64::MAX),
        ] {
            let at = renew_at(now, expires);
            assert!(at >= now && at <= now + MAX_TOKEN_LIFE, "{expires:?}");
        }
        assert_eq!(renew_at(now, Some(300)), now + Duration::from_secs(270));
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let c = Credentials {
            username: "me".into(),
            password: Secret::new("hunter2"),
        };
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("me"),
            "{shown}"
        );
        assert!(!format!("{}", basic(&c)).contains("aHVudGVy"));
    }
}
