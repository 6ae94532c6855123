//! Settings from the environment, in two stages: [`RawConfig`] holds the variables as strings,
//! [`Config::try_from`] turns them into typed values and reports every bad variable at once.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use hyper::Uri;

const DEFAULT_PORT: u16 = 8080;
/// Below ECS's default `stopTimeout` of 30 s, so we exit before the agent sends SIGKILL.
const DEFAULT_DRAIN_SECS: u64 = 20;

/// The environment as read, before any validation. Empty variables count as unset.
#[derive(Debug, Default, Clone)]
pub struct RawConfig {
    pub host: Option<String>,
    pub port: Option<String>,
    pub shutdown_timeout_secs: Option<String>,
    pub metadata_uri: Option<String>,
    pub git_sha: Option<String>,
}

impl RawConfig {
    fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self {
            host: var("HOST"),
            port: var("PORT"),
            shutdown_timeout_secs: var("SHUTDOWN_TIMEOUT_SECS"),
            metadata_uri: var("ECS_CONTAINER_METADATA_URI_V4"),
            git_sha: var("GIT_SHA"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    /// How long in-flight requests may take to finish after SIGTERM/SIGINT.
    pub drain_timeout: Duration,
    /// `ECS_CONTAINER_METADATA_URI_V4` + `/task`; `None` when not running on ECS.
    pub metadata_uri: Option<Uri>,
    pub version: String,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        Self::try_from(RawConfig::from_env())
    }
}

impl TryFrom<RawConfig> for Config {
    type Error = anyhow::Error;

    fn try_from(raw: RawConfig) -> anyhow::Result<Self> {
        let mut errors = Vec::new();
        let host = field(
            &raw.host,
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            &mut errors,
            |v| {
                v.parse()
                    .map_err(|_| format!("HOST={v:?} is not an IP address"))
            },
        );
        let port = field(&raw.port, DEFAULT_PORT, &mut errors, |v| {
            v.parse()
                .map_err(|_| format!("PORT={v:?} is not a port number (0-65535)"))
        });
        let drain_secs = field(
            &raw.shutdown_timeout_secs,
            DEFAULT_DRAIN_SECS,
            &mut errors,
            |v| {
                v.parse().map_err(|_| {
                    format!("SHUTDOWN_TIMEOUT_SECS={v:?} is not a whole number of seconds")
                })
            },
        );
        let metadata_uri = field(&raw.metadata_uri, None, &mut errors, |v| {
            task_uri(v).map(Some)
        });
        match (host, port, drain_secs, metadata_uri) {
            (Some(host), Some(port), Some(drain_secs), Some(metadata_uri)) => Ok(Self {
                addr: SocketAddr::new(host, port),
                drain_timeout: Duration::from_secs(drain_secs),
                metadata_uri,
                version: version(raw.git_sha.as_deref()),
            }),
            _ => anyhow::bail!("invalid configuration: {}", errors.join("; ")),
        }
    }
}

/// Parses one variable, or takes `default` when it is unset; a bad value is added to `errors`.
fn field<T>(
    raw: &Option<String>,
    default: T,
    errors: &mut Vec<String>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Option<T> {
    match raw.as_deref().map(parse) {
        None => Some(default),
        Some(Ok(value)) => Some(value),
        Some(Err(err)) => {
            errors.push(err);
            None
        }
    }
}

/// The task metadata document lives at `$ECS_CONTAINER_METADATA_URI_V4/task`, over plain HTTP.
fn task_uri(base: &str) -> Result<Uri, String> {
    let joined = format!("{}/task", base.trim_end_matches('/'));
    match joined.parse::<Uri>() {
        Ok(uri) if uri.scheme_str() == Some("http") && uri.host().is_some() => Ok(uri),
        _ => Err(format!(
            "ECS_CONTAINER_METADATA_URI_V4={base:?} is not an http:// URL"
        )),
    }
}

/// Package version plus the commit: baked in at build time (`GIT_SHA=… cargo build`), else taken
/// from the runtime environment, else `dev`.
fn version(runtime_sha: Option<&str>) -> String {
    let baked = option_env!("GIT_SHA").filter(|sha| !sha.is_empty());
    let sha = baked.or(runtime_sha).unwrap_or("dev");
    format!("{} ({sha})", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_listen_on_all_interfaces_port_8080() {
        let config = Config::try_from(RawConfig::default()).unwrap();
        assert_eq!(config.addr, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(config.drain_timeout, Duration::from_secs(20));
        assert!(config.metadata_uri.is_none());
    }

    #[test]
    fn metadata_uri_gets_task_suffix() {
        let raw = RawConfig {
            metadata_uri: Some("http://169.254.170.2/v4/abc/".into()),
            ..Default::default()
        };
        let config = Config::try_from(raw).unwrap();
        assert_eq!(
            config.metadata_uri.unwrap().to_string(),
            "http://169.254.170.2/v4/abc/task"
        );
    }

    #[test]
    fn every_bad_variable_is_reported_at_once() {
        let raw = RawConfig {
            host: Some("localhost".into()),
            port: Some("80800".into()),
            shutdown_timeout_secs: Some("-1".into()),
            metadata_uri: Some("not a url".into()),
            git_sha: None,
        };
        let message = Config::try_from(raw).unwrap_err().to_string();
        for name in [
            "HOST",
            "PORT",
            "SHUTDOWN_TIMEOUT_SECS",
            "ECS_CONTAINER_METADATA_URI_V4",
        ] {
            assert!(message.contains(name), "{name} missing from {message}");
        }
    }

    #[test]
    fn runtime_sha_is_used_when_none_was_baked_in() {
        if option_env!("GIT_SHA").is_none_or(str::is_empty) {
            assert_eq!(
                version(Some("abc123")),
                format!("{} (abc123)", env!("CARGO_PKG_VERSION"))
            );
            assert!(version(None).ends_with("(dev)"));
        }
    }
}
