//! The one grammar of image names (distribution spec / Docker's reference rules): a tag, a
//! repository path, and `[host/]repository[:tag|@digest]`. Config parses inputs with these and
//! keeps the typed values; the push and the deploy never re-parse a string.

use std::fmt;
use std::str::FromStr;

use anyhow::{Error, Result, bail};
use oci_spec::image::Digest;

/// A tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tag(String);

impl FromStr for Tag {
    type Err = Error;
    fn from_str(tag: &str) -> Result<Self> {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && tag.bytes().enumerate().all(|(i, b)| {
                b.is_ascii_alphanumeric() || b == b'_' || (i > 0 && (b == b'.' || b == b'-'))
            });
        if !ok {
            bail!(
                "tag {tag:?} is not valid: letters, digits, _ . - (up to 128, not starting with \
                 . or -)"
            );
        }
        Ok(Self(tag.to_owned()))
    }
}

impl Tag {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A repository path: components of lower-case letters and digits, joined inside by `.`, `_`,
/// `__` or runs of `-`, separated by `/`; at most 255 characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Repository(String);

impl FromStr for Repository {
    type Err = Error;
    fn from_str(path: &str) -> Result<Self> {
        if path.is_empty() || path.len() > 255 || !path.split('/').all(component) {
            bail!(
                "repository {path:?} is not valid: lower-case letters, digits and . _ - between \
                 them, components separated by / (at most 255 characters)"
            );
        }
        Ok(Self(path.to_owned()))
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn component(part: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut separator = String::new();
    let mut previous_alnum = false;
    for c in part.chars() {
        if alnum(c) {
            if !previous_alnum && !separator.is_empty() {
                let ok = matches!(separator.as_str(), "." | "_" | "__")
                    || separator.chars().all(|s| s == '-');
                if !ok {
                    return false;
                }
            }
            separator.clear();
            previous_alnum = true;
        } else if "._-".contains(c) {
            if separator.is_empty() && !previous_alnum {
                return false; // leading separator
            }
            separator.push(c);
            previous_alnum = false;
        } else {
            return false;
        }
    }
    previous_alnum
}

impl Repository {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a reference points at inside its repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Tag(Tag),
    Digest(Digest),
}

impl Target {
    /// As the registry API takes it in `/manifests/<reference>`.
    pub fn as_api_reference(&self) -> String {
        match self {
            Target::Tag(t) => t.to_string(),
            Target::Digest(d) => d.to_string(),
        }
    }
}

/// `[host/]repository[:tag|@digest]`, split as Docker does: the first component is a host when
/// it has a `.` or a `:` or is `localhost`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub host: Option<String>,
    pub repository: Repository,
    pub target: Option<Target>,
}

impl FromStr for Reference {
    type Err = Error;
    fn from_str(image: &str) -> Result<Self> {
        let (host, rest) = match image.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (Some(first.to_owned()), rest)
            }
            _ => (None, image),
        };
        let (repository, target) = if let Some((repo, digest)) = rest.split_once('@') {
            let digest = super::digest::parse_sha256(digest)
                .map_err(|e| anyhow::anyhow!("{e:#} after @ in {image:?}"))?;
            (repo, Some(Target::Digest(digest)))
        } else {
            match rest.rsplit_once(':') {
                Some((repo, tag)) if !tag.contains('/') => (repo, Some(Target::Tag(tag.parse()?))),
                _ => (rest, None),
            }
        };
        Ok(Self {
            host,
            repository: repository.parse()?,
            target,
        })
    }
}

impl fmt::Display for Reference {
    /// The canonical form: `host/repo:tag` or `host/repo@sha256:…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(host) = &self.host {
            write!(f, "{host}/")?;
        }
        write!(f, "{}", self.repository)?;
        match &self.target {
            Some(Target::Tag(t)) => write!(f, ":{t}"),
            Some(Target::Digest(d)) => write!(f, "@{d}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest() -> String {
        format!("sha256:{}", "d".repeat(64))
    }

    #[test]
    fn tags_follow_the_spec_grammar() {
        for good in ["latest", "v1.2.3", "sha-abc_DEF", "_x", &"x".repeat(128)] {
            assert!(good.parse::<Tag>().is_ok(), "{good}");
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", "é", &"x".repeat(129)] {
            assert!(bad.parse::<Tag>().is_err(), "{bad}");
        }
    }

    #[test]
    fn repositories_follow_the_spec_grammar() {
        for good in ["app", "a/b/c", "my-org/web_app", "a__b", "a---b", "a.b/c1"] {
            assert!(good.parse::<Repository>().is_ok(), "{good}");
        }
        let long = "a".repeat(256);
        for bad in [
            "", "App", "a//b", "/a", "a/", "-a", "a-", "a___b", "a._b", "a b", &long,
        ] {
            assert!(bad.parse::<Repository>().is_err(), "{bad}");
        }
    }

    #[test]
    fn references_split_like_docker() {
        let r: Reference = "localhost:5000/a/b:1".parse().unwrap();
        assert_eq!(r.host.as_deref(), Some("localhost:5000"));
        assert_eq!(r.repository.as_str(), "a/b");
        assert_eq!(r.target, Some(Target::Tag("1".parse().unwrap())));

        let r: Reference = format!("ghcr.io/a/b@{}", digest()).parse().unwrap();
        assert_eq!(r.host.as_deref(), Some("ghcr.io"));
        assert!(matches!(r.target, Some(Target::Digest(_))));
        assert_eq!(r.to_string(), format!("ghcr.io/a/b@{}", digest()));

        let r: Reference = "[::1]:5000/app".parse().unwrap();
        assert_eq!(r.host.as_deref(), Some("[::1]:5000"));
        assert_eq!(r.target, None);

        let r: Reference = "user/app".parse().unwrap();
        assert_eq!((r.host, r.repository.as_str()), (None, "user/app"));
        let r: Reference = "localhost/app:v1".parse().unwrap();
        assert_eq!(r.host.as_deref(), Some("localhost"));
    }

    #[test]
    fn bad_references_say_which_part_is_wrong() {
        let e = |s: &str| format!("{:#}", s.parse::<Reference>().unwrap_err());
        assert!(e("User/App:1").contains("repository"));
        assert!(e("user/app:-x").contains("tag"));
        assert!(e("user/app@sha256:xyz").contains("digest"));
        assert!(e("user/app@sha512:abc").contains("digest"));
        assert!(e("").contains("repository"));
        assert!(e(&format!("a/{}", "b".repeat(300))).contains("255"));
    }
}
