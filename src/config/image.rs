//! Image inputs: the registry and its login, the repository, tags or the existing reference to
//! deploy, and the image source (an archive or a daemonless build). Names are parsed with the
//! registry's own grammar (`registry::Reference`, `Tag`, `RegistryAddress`) and kept typed.

use std::path::PathBuf;

use super::context::GithubContext;
use super::errors::InputErrors;
use super::raw::RawInputs;
use super::values::{self, shown};
use super::{Mode, input_or_default};
use crate::image::{self, Compression, PlatformInput};
use crate::registry::{Reference, RegistryAddress, Repository, Tag, Target};
use crate::secret::Secret;

#[derive(Debug, Clone)]
pub struct RegistryLogin {
    pub username: String,
    pub token: Secret,
}

/// Where the image to push comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// `docker save` tar, OCI archive or OCI layout directory.
    Archive(PathBuf),
    /// Daemonless build from a static binary or a directory, one per platform.
    Build {
        from: Vec<PlatformInput>,
        cmd: Option<Vec<String>>,
        port: u16,
        env: Vec<(String, String)>,
    },
}

#[derive(Debug, Clone)]
pub struct ImageConfig {
    pub registry: RegistryAddress,
    pub login: Option<RegistryLogin>,
    /// Repository on the registry, e.g. `user/app`; absent only when nothing needs an image
    /// (mode destroy).
    pub repository: Option<Repository>,
    /// With a source: the tags to push.
    pub tags: Vec<Tag>,
    /// Without a source: the existing tag or digest to deploy.
    pub existing: Option<Target>,
    pub source: Option<ImageSource>,
    pub compression: Compression,
    pub push_concurrency: usize,
    /// A repository on the same registry to mount missing blobs from.
    pub mount_from: Option<Repository>,
}

impl ImageConfig {
    /// `repo`, `repo:tag` or `repo@digest` as the user would write it.
    pub fn existing_reference(&self) -> Option<Reference> {
        Some(Reference {
            host: None,
            repository: self.repository.clone()?,
            target: self.existing.clone(),
        })
    }
}

pub(super) fn build(
    raw: &RawInputs,
    gh: &GithubContext,
    mode: Option<Mode>,
    errs: &mut InputErrors,
) -> Option<ImageConfig> {
    let before = errs.0.len();
    let registry_input = input_or_default(raw, "registry");
    let registry = errs.take(
        "registry",
        RegistryAddress::parse(registry_input)
            .map_err(|e| format!("expected a registry host such as docker.io or ghcr.io: {e:#}")),
    );
    let username = raw.get("docker-hub-username");
    if let Some(u) = username
        && (u.contains(':') || u.chars().any(char::is_whitespace))
    {
        errs.push(
            "docker-hub-username",
            format!("must not contain ':' or spaces, got {}", shown(u)),
        );
    }
    let login = match (username, raw.get("docker-hub-token")) {
        (Some(u), Some(t)) => Some(RegistryLogin {
            username: u.to_string(),
            token: Secret::new(t),
        }),
        (Some(_), None) => {
            errs.push(
                "docker-hub-token",
                "required when docker-hub-username is given (a Docker Hub personal access token)",
            );
            None
        }
        (None, Some(_)) => {
            errs.push(
                "docker-hub-username",
                "required when docker-hub-token is given",
            );
            None
        }
        (None, None) => None,
    };

    let source = build_source(raw, errs);
    for name in ["image-cmd", "image-port", "image-env"] {
        if raw.get(name).is_some() && raw.get("image-from").is_none() {
            errs.push(
                name,
                "only applies to the daemonless build: give image-from too",
            );
        }
    }
    let compression = errs.take(
        "compression",
        input_or_default(raw, "compression")
            .parse::<Compression>()
            .map_err(|e| format!("{e:#}")),
    );
    let push_concurrency = errs.take(
        "push-concurrency",
        values::integer(input_or_default(raw, "push-concurrency"), 1, 32),
    );
    let mount_from = raw.get("mount-from").and_then(|m| {
        errs.take(
            "mount-from",
            m.parse::<Repository>().map_err(|e| format!("{e:#}")),
        )
    });

    // The repository (and, without a source, the existing reference to deploy).
    let image = raw.get("image").map(String::from).or_else(|| {
        let user = username?;
        let repo = values::derived_name(gh.repository_name()?);
        Some(format!("{}/{repo}", user.to_lowercase()))
    });
    let mut repository = None;
    let mut existing = None;
    match &image {
        None if mode.is_some_and(|m| m != Mode::Destroy) => errs.push(
            "image",
            "required: the repository to push to (e.g. user/app), or an existing reference to deploy (e.g. user/app:1.2 or user/app@sha256:…); it defaults to <docker-hub-username>/<repository name> only when both are known",
        ),
        None => {}
        Some(image) => match image.parse::<Reference>() {
            Err(e) => errs.push(
                "image",
                format!("expected [host/]repository[:tag|@sha256:digest]: {e:#}"),
            ),
            Ok(reference) => {
                // The registry's credentials go to the `registry` input's host only: a host
                // inside `image` (which may come from a dispatch input) must not redirect them.
                if let (Some(h), Some(registry)) = (&reference.host, &registry)
                    && RegistryAddress::parse(h).ok().as_ref() != Some(registry)
                {
                    errs.push(
                        "image",
                        format!(
                            "names registry host {} but the registry input is {}: credentials are only sent to the registry input's host; set `registry: {h}` or drop the host from image",
                            shown(h),
                            shown(registry_input)
                        ),
                    );
                }
                match (&reference.target, &source) {
                    (Some(target), None) => existing = Some(target.clone()),
                    (None, None) if matches!(mode, Some(Mode::Deploy | Mode::Preview)) => errs.push(
                        "image",
                        format!("{} names no tag or digest and there is no image source: give image-archive or image-from to push, or an existing reference like {image}:TAG", shown(image)),
                    ),
                    (Some(_), Some(_)) => errs.push(
                        "image",
                        "with an image source, give the repository only and put tags in `tags`",
                    ),
                    _ => {}
                }
                repository = Some(reference.repository);
            }
        },
    }
    if mode == Some(Mode::Push) && source.is_none() {
        errs.push(
            "image-archive",
            "mode push needs an image source: image-archive or image-from",
        );
    }
    if source.is_some() && login.is_none() && registry.as_ref().is_some_and(|r| r.is_docker_hub()) {
        errs.push(
            "docker-hub-username",
            "pushing to Docker Hub needs docker-hub-username and docker-hub-token",
        );
    }
    let tag_texts = match raw.get("tags") {
        Some(t) => values::list(t),
        None => gh
            .short_sha()
            .map(|s| format!("sha-{s}"))
            .into_iter()
            .chain(["latest".to_string()])
            .collect(),
    };
    let tags: Vec<Tag> = tag_texts
        .iter()
        .filter_map(|t| errs.take("tags", t.parse::<Tag>().map_err(|e| format!("{e:#}"))))
        .collect();
    if errs.0.len() != before {
        return None;
    }
    Some(ImageConfig {
        registry: registry?,
        login,
        repository,
        tags,
        existing,
        source,
        compression: compression?,
        push_concurrency: push_concurrency? as usize,
        mount_from,
    })
}

fn build_source(raw: &RawInputs, errs: &mut InputErrors) -> Option<ImageSource> {
    match (raw.get("image-archive"), raw.get("image-from")) {
        (Some(_), Some(_)) => {
            errs.push(
                "image-from",
                "give either image-archive or image-from, not both",
            );
            None
        }
        (Some(path), None) => {
            let p = PathBuf::from(path);
            match std::fs::metadata(&p) {
                Ok(m) if m.is_dir() || m.is_file() => {
                    if m.is_file() && std::fs::File::open(&p).is_err() {
                        errs.push("image-archive", format!("{} is not readable", shown(path)));
                    }
                    Some(ImageSource::Archive(p))
                }
                _ => {
                    errs.push("image-archive", format!("{} does not exist: expected a docker save tar, an OCI archive or an OCI layout directory", shown(path)));
                    None
                }
            }
        }
        (None, Some(value)) => build_spec(raw, value, errs),
        (None, None) => None,
    }
}

fn build_spec(raw: &RawInputs, value: &str, errs: &mut InputErrors) -> Option<ImageSource> {
    let (from, problems) = image::parse_platform_inputs(value);
    for p in problems {
        errs.push("image-from", p);
    }
    for input in &from {
        let path = input.path.display().to_string();
        if !input.path.exists() {
            errs.push(
                "image-from",
                format!(
                    "{} does not exist: expected a static binary or a directory",
                    shown(&path)
                ),
            );
        } else if let Err(e) = image::resolve_platform(input) {
            errs.push("image-from", format!("{} {e}", shown(&path)));
        }
    }
    let cmd = raw.get("image-cmd").and_then(|c| {
        if c.starts_with('[') {
            errs.take(
                "image-cmd",
                serde_json::from_str::<Vec<String>>(c)
                    .map_err(|e| format!("expected a JSON array of strings: {e}")),
            )
        } else {
            Some(vec![c.to_string()])
        }
    });
    let port = errs.take(
        "image-port",
        values::integer(
            raw.get("image-port")
                .unwrap_or(input_or_default(raw, "container-port")),
            1,
            65_535,
        ),
    );
    let env = raw.get("image-env").map_or(Vec::new(), |text| {
        let pairs = errs.take(
            "image-env",
            crate::pairs::parse(text).map_err(|e| format!("{e:#}")),
        );
        let pairs = pairs.unwrap_or_default();
        for (k, _) in &pairs {
            if k.contains(['=', '\0']) || k.chars().any(char::is_whitespace) {
                errs.push("image-env", format!("{} is not a variable name", shown(k)));
            }
        }
        pairs
    });
    Some(ImageSource::Build {
        from,
        cmd,
        port: port.unwrap_or(8080) as u16,
        env,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build_with(pairs: &[(&str, &str)], mode: Mode) -> Result<ImageConfig, Vec<String>> {
        let mut errs = InputErrors::default();
        let gh = GithubContext {
            repository: Some("Acme/Shop".into()),
            sha: Some("0123456789abcdef".into()),
            ..GithubContext::default()
        };
        build(&RawInputs::from_pairs(pairs), &gh, Some(mode), &mut errs)
            .ok_or_else(|| errs.0.iter().map(ToString::to_string).collect())
    }

    fn digest() -> String {
        format!("sha256:{}", "d".repeat(64))
    }

    #[test]
    fn existing_references_become_typed_targets() {
        let c = build_with(&[("image", "acme/shop:1.2")], Mode::Deploy).unwrap();
        assert_eq!(
            c.repository.as_ref().map(Repository::as_str),
            Some("acme/shop")
        );
        assert_eq!(c.existing, Some(Target::Tag("1.2".parse().unwrap())));
        let r = format!("acme/shop@{}", digest());
        let c = build_with(&[("image", &r)], Mode::Deploy).unwrap();
        assert!(matches!(c.existing, Some(Target::Digest(_))));
        assert_eq!(c.existing_reference().unwrap().to_string(), r);

        let c = build_with(
            &[
                ("registry", "localhost:5000"),
                ("image", "localhost:5000/a/b:1"),
            ],
            Mode::Deploy,
        )
        .unwrap();
        assert_eq!(c.registry.name(), "localhost:5000");
        let c = build_with(
            &[("registry", "[::1]:5000"), ("image", "[::1]:5000/a/b:1")],
            Mode::Deploy,
        )
        .unwrap();
        assert_eq!(c.registry.base_url().scheme(), "http");
        let c = build_with(
            &[("image", &format!("docker.io/a/b@{}", digest()))],
            Mode::Deploy,
        );
        assert!(c.is_ok(), "docker.io is the default registry: {c:?}");
    }

    #[test]
    fn bad_names_name_the_input() {
        let first =
            |pairs: &[(&str, &str)]| build_with(pairs, Mode::Deploy).unwrap_err()[0].clone();
        assert!(first(&[("image", "Acme/Shop:1")]).starts_with("input `image`"));
        assert!(first(&[("image", "acme/shop:-1")]).contains("tag"));
        assert!(first(&[("image", "acme/shop@sha256:abc")]).contains("digest"));
        assert!(first(&[("image", "acme/shop")]).contains("no tag or digest"));
        assert!(first(&[("image", "ghcr.io/a/b:1")]).contains("credentials are only sent"));
        assert!(
            first(&[("image", "a:1"), ("registry", "https://ghcr.io")])
                .starts_with("input `registry`")
        );
        assert!(
            first(&[("image", "a:1"), ("registry", "ghcr.io:0")]).starts_with("input `registry`")
        );
        assert!(first(&[("image", "a:1"), ("tags", "ok, -bad")]).starts_with("input `tags`"));
        assert!(
            first(&[("image", "a:1"), ("compression", "lz4")]).starts_with("input `compression`")
        );
        assert!(
            first(&[("image", "a:1"), ("mount-from", "Up/Per")]).starts_with("input `mount-from`")
        );
        let long = format!("a/{}:1", "b".repeat(300));
        assert!(first(&[("image", &long)]).contains("255"));
    }

    #[test]
    fn default_tags_and_repository_come_from_the_run() {
        let c = build_with(
            &[("docker-hub-username", "Me"), ("docker-hub-token", "t")],
            Mode::Destroy,
        )
        .unwrap();
        assert_eq!(
            c.repository.as_ref().map(Repository::as_str),
            Some("me/shop")
        );
        let tags: Vec<&str> = c.tags.iter().map(Tag::as_str).collect();
        assert_eq!(tags, ["sha-0123456", "latest"]);
    }
}
