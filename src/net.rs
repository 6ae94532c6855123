//! Outbound HTTP, the same for every client: the registry, the OIDC token request, the smoke
//! check and GitHub (octocrab, running on reqwest) through [`http_client_builder`]; AWS through
//! the SDK's own hyper client.
//!
//! Proxies: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (upper case first, then lower
//! case), which the runner passes into container actions on self-hosted runners. Every client
//! applies them with the same curl-like matcher (hyper-util's, which reqwest and the AWS client
//! both use): `https://` targets go through `HTTPS_PROXY`, `http://` targets through `HTTP_PROXY`
//! (each falling back to `ALL_PROXY`), with a `CONNECT` tunnel for `https://` targets and
//! absolute-form requests for `http://` ones. `NO_PROXY` is a comma-separated list of host names
//! (each also matching its subdomains; a leading dot changes nothing), IP addresses, CIDR ranges,
//! or `*` for everything; an entry never carries a port, and loopback is *not* exempt unless
//! listed. reqwest honours these by itself, and so does the AWS SDK's default client from
//! behavior version 2025-08-07 on (`aws::loader` asks for the latest); octocrab's default hyper
//! client ignores them, hence it runs on reqwest.
//!
//! Trust roots: the system bundle, or the `SSL_CERT_FILE` / `SSL_CERT_DIR` given instead (OpenSSL
//! semantics: they replace it), loaded by rustls-native-certs for reqwest (through the platform
//! verifier) and for the AWS client alike. octocrab's default client has Mozilla's roots compiled
//! in and would ignore them, which running it on reqwest also fixes. `tests/proxy.rs` holds all
//! of this to account, for every client.

/// A reqwest builder with the proxy and trust-root rules above (reqwest's defaults), for every
/// client built on reqwest, so none of them can drift from the others.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    crate::install_crypto_provider();
    reqwest::Client::builder()
}

/// One line describing the proxies in effect, credentials hidden; `None` without a proxy.
pub fn describe_proxy(env: impl Fn(&str) -> Option<String>) -> Option<String> {
    // As the matcher reads them: the first name that is set wins, even when set empty.
    let first = |names: [&str; 2]| {
        names
            .iter()
            .find_map(|n| env(n))
            .filter(|v| !v.trim().is_empty())
    };
    let all = first(["ALL_PROXY", "all_proxy"]);
    let https = first(["HTTPS_PROXY", "https_proxy"]).or_else(|| all.clone());
    let http = first(["HTTP_PROXY", "http_proxy"]).or(all);
    if https.is_none() && http.is_none() {
        return None;
    }
    let shown =
        |v: Option<String>| v.map_or_else(|| "direct".to_string(), |v| without_userinfo(&v));
    let no_proxy = first(["NO_PROXY", "no_proxy"]).unwrap_or_default();
    Some(format!(
        "proxy: https:// via {}, http:// via {}; NO_PROXY: {}",
        shown(https),
        shown(http),
        if no_proxy.trim().is_empty() {
            "(none)".to_string()
        } else {
            no_proxy.trim().to_string()
        }
    ))
}

/// `http://user:secret@proxy:3128` → `http://***@proxy:3128`: proxy credentials never reach a log.
fn without_userinfo(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), url),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}***@{}", &rest[at + 1..]),
        None => format!("{scheme}{rest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn no_proxy_variables_means_no_line() {
        assert_eq!(describe_proxy(env(&[("NO_PROXY", "example.com")])), None);
    }

    #[test]
    fn the_line_hides_proxy_credentials() {
        let line = describe_proxy(env(&[
            ("https_proxy", "http://alice:s3cret@proxy.corp:3128"),
            ("NO_PROXY", " .internal,10.0.0.0/8 "),
        ]))
        .unwrap();
        assert_eq!(
            line,
            "proxy: https:// via http://***@proxy.corp:3128, http:// via direct; NO_PROXY: .internal,10.0.0.0/8"
        );
        assert!(!line.contains("s3cret"));
    }

    #[test]
    fn all_proxy_fills_in_and_upper_case_wins() {
        let line = describe_proxy(env(&[
            ("ALL_PROXY", "http://all:1"),
            ("HTTP_PROXY", "http://upper:2"),
            ("http_proxy", "http://lower:3"),
        ]))
        .unwrap();
        assert_eq!(
            line,
            "proxy: https:// via http://all:1, http:// via http://upper:2; NO_PROXY: (none)"
        );
    }
}
