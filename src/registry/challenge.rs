//! `WWW-Authenticate` parsing (RFC 7235 auth-params as registries send them):
//! `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push"`
//! or `Basic realm="Registry"`. Quoted values may hold commas and escaped quotes.

use std::collections::BTreeMap;

/// What a registry asks for on a 401.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// Token auth (Docker Hub, distribution `auth.token`): fetch a token from `realm`.
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
        error: Option<String>,
    },
    /// HTTP Basic on every request (distribution `auth.htpasswd`).
    Basic { realm: Option<String> },
}

impl Challenge {
    /// Parses the first Bearer or Basic challenge in a header value; `None` for anything else
    /// (an unknown scheme, or a Bearer challenge without a realm).
    pub fn parse(header: &str) -> Option<Self> {
        let (scheme, rest) = split_scheme(header.trim());
        let params = parse_params(rest);
        if scheme.eq_ignore_ascii_case("bearer") {
            Some(Challenge::Bearer {
                realm: params.get("realm").filter(|r| !r.is_empty())?.clone(),
                service: params.get("service").cloned(),
                scope: params.get("scope").cloned(),
                error: params.get("error").cloned(),
            })
        } else if scheme.eq_ignore_ascii_case("basic") {
            Some(Challenge::Basic {
                realm: params.get("realm").cloned(),
            })
        } else {
            None
        }
    }

    /// True when a Bearer challenge says the token lacked the scope (`error="insufficient_scope"`).
    pub fn is_insufficient_scope(&self) -> bool {
        matches!(self, Challenge::Bearer { error: Some(e), .. } if e == "insufficient_scope")
    }
}

fn split_scheme(s: &str) -> (&str, &str) {
    match s.find(|c: char| c.is_ascii_whitespace()) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

/// `k=v, k2="quoted, with \"escapes\""` → map with lower-cased keys. Tolerates spaces around `=`
/// and `,`, and ignores malformed pieces rather than failing: a registry's challenge is advice.
fn parse_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars
            .peek()
            .is_some_and(|c| c.is_ascii_whitespace() || *c == ',')
        {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' || c.is_ascii_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            return out;
        }
        while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            chars.next();
        }
        if chars.peek() != Some(&'=') {
            // A bare token (e.g. token68): not an auth-param, skip it.
            continue;
        }
        chars.next();
        while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(escaped) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_ascii_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.insert(key.to_ascii_lowercase(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(realm: &str, service: Option<&str>, scope: Option<&str>) -> Challenge {
        Challenge::Bearer {
            realm: realm.into(),
            service: service.map(Into::into),
            scope: scope.map(Into::into),
            error: None,
        }
    }

    #[test]
    fn docker_hub_challenge_with_quoted_commas() {
        let h = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull,push""#;
        assert_eq!(
            Challenge::parse(h),
            Some(bearer(
                "https://auth.docker.io/token",
                Some("registry.docker.io"),
                Some("repository:library/nginx:pull,push")
            ))
        );
    }

    #[test]
    fn several_params_spaces_unquoted_and_case() {
        let h = r#"bearer  Realm = "http://127.0.0.1:1/token" , service=registry.local,scope="repository:a:pull" ,error="insufficient_scope""#;
        let c = Challenge::parse(h).unwrap();
        assert!(c.is_insufficient_scope());
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "http://127.0.0.1:1/token".into(),
                service: Some("registry.local".into()),
                scope: Some("repository:a:pull".into()),
                error: Some("insufficient_scope".into()),
            }
        );
    }

    #[test]
    fn escaped_quotes_inside_values() {
        let h = r#"Bearer realm="https://x/t",scope="a\"b,c""#;
        let Some(Challenge::Bearer { scope, .. }) = Challenge::parse(h) else {
            panic!()
        };
        assert_eq!(scope.as_deref(), Some(r#"a"b,c"#));
    }

    #[test]
    fn basic_and_unknown() {
        assert_eq!(
            Challenge::parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic {
                realm: Some("Registry Realm".into())
            })
        );
        assert_eq!(
            Challenge::parse("Basic"),
            Some(Challenge::Basic { realm: None })
        );
        assert_eq!(Challenge::parse(r#"Negotiate abc"#), None);
        // Bearer without a realm cannot be followed.
        assert_eq!(Challenge::parse(r#"Bearer service="x""#), None);
        assert_eq!(Challenge::parse(""), None);
    }

    #[test]
    fn garbage_never_panics() {
        for h in [
            "Bearer realm=\"unterminated",
            "Bearer ,,,==",
            "Bearer =x",
            "Bearer realm",
            "\u{0}é",
        ] {
            let _ = Challenge::parse(h);
        }
        assert_eq!(
            Challenge::parse("Bearer realm=\"unterminated"),
            Some(bearer("unterminated", None, None))
        );
    }
}
