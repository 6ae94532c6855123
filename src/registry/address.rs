//! Where a registry lives and how it is spoken to: `host[:port]`, the Docker Hub aliases, and the
//! one rule for plain HTTP (loopback only, like Docker's default insecure-registry list).

use std::fmt;
use std::net::IpAddr;

use anyhow::{Context, Result, bail};
use url::Url;

/// The name users write for Docker Hub, and the host that actually serves its API.
pub const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A registry host (`host[:port]`), normalised: `docker.io` / `index.docker.io` become
/// `registry-1.docker.io`. The scheme is not chosen by the caller: loopback gets plain HTTP,
/// everything else HTTPS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryAddress {
    /// As the user wrote it after normalisation (`docker.io` stays `docker.io` here).
    name: String,
    /// `scheme://host[:port]/` of the API.
    base: Url,
}

impl RegistryAddress {
    pub fn parse(input: &str) -> Result<Self> {
        let trimmed = input.trim().trim_end_matches('/');
        if trimmed.is_empty() {
            bail!("registry address is empty");
        }
        if trimmed.contains("://") {
            bail!(
                "registry address {trimmed:?} must be host[:port] without a scheme (HTTPS is used, \
                 plain HTTP only for loopback)"
            );
        }
        let name = match trimmed {
            "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_owned(),
            other => other.to_ascii_lowercase(),
        };
        let api_host = if name == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            name.as_str()
        };
        // Parse with a placeholder scheme first to split host and port the way URLs do
        // (bracketed IPv6 included), then pick the real scheme from the host.
        let probe = Url::parse(&format!("https://{api_host}/"))
            .with_context(|| format!("registry address {trimmed:?} is not a valid host[:port]"))?;
        if probe.port() == Some(0) {
            bail!("registry address {trimmed:?} has port 0");
        }
        if probe.path() != "/" || probe.query().is_some() || !probe.username().is_empty() {
            bail!("registry address {trimmed:?} must be host[:port] only");
        }
        let scheme = if probe.host().is_some_and(|h| is_loopback_host(&h)) {
            "http"
        } else {
            "https"
        };
        let base = Url::parse(&format!("{scheme}://{api_host}/"))
            .with_context(|| format!("registry address {trimmed:?} is not a valid host[:port]"))?;
        Ok(Self { name, base })
    }

    /// The registry as users name it (`docker.io`, `127.0.0.1:5000`).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn is_docker_hub(&self) -> bool {
        self.name == DOCKER_HUB
    }

    /// `scheme://host[:port]/`
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The repository path as the registry expects it: Docker Hub puts single-name
    /// repositories under `library/`.
    pub fn repository_path(&self, repo: &str) -> String {
        if self.is_docker_hub() && !repo.contains('/') {
            format!("library/{repo}")
        } else {
            repo.to_owned()
        }
    }
}

impl fmt::Display for RegistryAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// `localhost`, 127.0.0.0/8 and ::1: the hosts Docker talks to over plain HTTP by default.
pub fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        url::Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

/// The transport rule every URL we are about to contact must pass (API base, upload `Location`s,
/// redirects, token realms): HTTPS anywhere, plain HTTP only to a loopback host.
pub fn check_transport(url: &Url) -> Result<()> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if url.host().is_some_and(|h| is_loopback_host(&h)) => Ok(()),
        "http" => bail!(
            "refusing plain HTTP to {}: only loopback registries are spoken to without TLS",
            url.host_str().unwrap_or("?")
        ),
        other => bail!("unsupported URL scheme {other:?} in {url}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_aliases_map_to_the_api_host() {
        for alias in [
            "docker.io",
            "index.docker.io",
            "registry-1.docker.io",
            "Docker.io",
        ] {
            let a = RegistryAddress::parse(&alias.to_ascii_lowercase()).unwrap();
            assert!(a.is_docker_hub());
            assert_eq!(a.base_url().as_str(), "https://registry-1.docker.io/");
            assert_eq!(a.name(), "docker.io");
        }
    }

    #[test]
    fn docker_hub_single_names_get_library() {
        let hub = RegistryAddress::parse("docker.io").unwrap();
        assert_eq!(hub.repository_path("nginx"), "library/nginx");
        assert_eq!(hub.repository_path("user/app"), "user/app");
        let other = RegistryAddress::parse("ghcr.io").unwrap();
        assert_eq!(other.repository_path("nginx"), "nginx");
    }

    #[test]
    fn plain_http_only_for_loopback() {
        for host in [
            "127.0.0.1:5000",
            "127.1.2.3",
            "localhost:5000",
            "LOCALHOST",
            "[::1]:5000",
        ] {
            let a = RegistryAddress::parse(host).unwrap();
            assert_eq!(a.base_url().scheme(), "http", "{host} should be plain HTTP");
            assert_eq!(a.base_url().scheme(), "http");
        }
        for host in [
            "docker.io",
            "ghcr.io",
            "10.0.0.1:5000",
            "192.168.1.1",
            "[::2]:5000",
            "localhost.example.com",
            "128.0.0.1",
            "0.0.0.0:5000",
        ] {
            let a = RegistryAddress::parse(host).unwrap();
            assert_eq!(a.base_url().scheme(), "https", "{host} must use HTTPS");
            assert_eq!(a.base_url().scheme(), "https");
        }
    }

    #[test]
    fn transport_check_refuses_plain_http_elsewhere() {
        let ok = [
            "https://example.com/v2/",
            "http://127.0.0.1:5000/v2/x",
            "http://localhost/token",
            "http://[::1]:80/",
        ];
        for u in ok {
            check_transport(&Url::parse(u).unwrap()).unwrap();
        }
        let bad = [
            "http://example.com/v2/",
            "http://10.1.1.1/",
            "http://auth.docker.io/token",
            "ftp://127.0.0.1/",
        ];
        for u in bad {
            assert!(
                check_transport(&Url::parse(u).unwrap()).is_err(),
                "{u} must be refused"
            );
        }
    }

    #[test]
    fn rejects_schemes_paths_and_empty() {
        for bad in [
            "",
            "  ",
            "http://127.0.0.1:5000",
            "https://ghcr.io",
            "ghcr.io/foo",
            "a b",
            "ghcr.io:0",
        ] {
            assert!(
                RegistryAddress::parse(bad).is_err(),
                "{bad:?} must be rejected"
            );
        }
    }
}
