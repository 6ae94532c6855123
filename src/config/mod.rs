//! Stage two of the inputs: one validated, typed configuration, built before any network call.
//! Every bad input is collected and reported at once, naming the input and what was expected.

pub mod context;
pub mod errors;
pub mod files;
pub mod raw;
pub mod values;

pub use crate::image::Compression;
use crate::image::{self, PlatformInput};
use crate::secret::Secret;
pub use context::{Env, GithubContext};
pub use errors::{InputError, InputErrors};
pub use raw::{INPUTS, RawInputs};
use std::path::PathBuf;
use std::time::Duration;
use values::shown;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Deploy,
    Push,
    Preview,
    Destroy,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Deploy => "deploy",
            Mode::Push => "push",
            Mode::Preview => "preview",
            Mode::Destroy => "destroy",
        }
    }

    pub fn needs_aws(self) -> bool {
        self != Mode::Push
    }

    pub fn pushes(self) -> bool {
        matches!(self, Mode::Deploy | Mode::Push)
    }
}

#[derive(Debug, Clone)]
pub struct StaticKeys {
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

#[derive(Debug, Clone)]
pub struct Role {
    pub arn: String,
    pub session_name: String,
    pub duration_seconds: u32,
    pub audience: String,
}

#[derive(Debug, Clone)]
pub struct AwsConfig {
    pub region: String,
    pub keys: Option<StaticKeys>,
    pub role: Option<Role>,
    pub allowed_account_ids: Vec<String>,
    pub mask_account_id: bool,
    pub endpoint_url: Option<String>,
}

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
    /// Registry host as the user wrote it (`docker.io` for Docker Hub).
    pub registry: String,
    pub login: Option<RegistryLogin>,
    /// Repository path on the registry, e.g. `user/app`.
    pub repository: String,
    /// With a source: the tags to push. Without: the one existing tag or digest to deploy.
    pub tags: Vec<String>,
    pub existing: Option<String>,
    pub source: Option<ImageSource>,
    pub compression: Compression,
    pub push_concurrency: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capacity {
    pub min: u32,
    pub max: u32,
    /// Empty: min at first create; the live, auto-scaled count on updates.
    pub desired: Option<u32>,
}

#[derive(Debug, Clone)]
pub enum Template {
    Bundled,
    File { path: PathBuf, body: String },
}

#[derive(Debug, Clone)]
pub struct StackConfig {
    pub name: String,
    pub template: Template,
    pub parameter_overrides: Vec<(String, String)>,
    pub capacity: Capacity,
    pub target_cpu: u32,
    pub container_port: u16,
    pub health_check_path: String,
    pub pull_credentials_secret_arn: Option<String>,
    /// The CloudFormation service role (`RoleARN`), when CloudFormation should not act with the
    /// caller's own permissions.
    pub cloudformation_role_arn: Option<String>,
    pub capabilities: Vec<String>,
    pub tags: Vec<(String, String)>,
    pub termination_protection: bool,
    pub timeout: Duration,
    pub keep_change_set: bool,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub aws: AwsConfig,
    pub image: ImageConfig,
    pub stack: StackConfig,
    pub smoke_check: bool,
    pub smoke_check_timeout: Duration,
    pub rollback_on_failure: bool,
    pub github_token: Option<Secret>,
    pub environment: String,
    /// A preview's environment: the Deployment is marked transient and non-production.
    pub transient_environment: bool,
    pub github: GithubContext,
}

/// CloudFormation's `TemplateBody` limit; larger templates need S3, which this action doesn't do.
pub const TEMPLATE_BODY_LIMIT: usize = 51_200;

/// The bundled template's `MaxValue` of DesiredCount, MinCapacity and MaxCapacity: a larger
/// value would pass here and fail at CreateChangeSet.
const MAX_TASKS: u64 = 100;

/// The parameter deployer-role.yml's service role requires on every role the stack creates.
const BOUNDARY_PARAMETER: &str = "PermissionsBoundaryArn";

/// With a service role from deployer-role.yml, CloudFormation may create roles only with the
/// workload boundary; without it the deploy would fail half-way at CreateRole (AccessDenied).
/// Said before any AWS call, naming the parameter to set.
fn missing_boundary(template: Option<&Template>, overrides: &[(String, String)]) -> Option<String> {
    let body = match template? {
        Template::Bundled => crate::stack::DEFAULT_TEMPLATE,
        Template::File { body, .. } => body,
    };
    let declared = crate::stack::TemplateInfo::parse(body)
        .map(|t| t.declares(BOUNDARY_PARAMETER))
        .unwrap_or(false);
    let given = overrides
        .iter()
        .any(|(k, v)| k == BOUNDARY_PARAMETER && !v.is_empty());
    (declared && !given).then(|| {
        format!(
            "{BOUNDARY_PARAMETER} must be given with cloudformation-role-arn: the service role creates roles only with the permissions boundary; pass {BOUNDARY_PARAMETER}=<deployer stack's WorkloadBoundaryArn output>"
        )
    })
}

/// A parameter-overrides file: CloudFormation takes at most 200 parameters of 4 KiB each.
pub const OVERRIDES_FILE_LIMIT: u64 = 1 << 20;

const CAPABILITIES: &[&str] = &[
    "CAPABILITY_IAM",
    "CAPABILITY_NAMED_IAM",
    "CAPABILITY_AUTO_EXPAND",
];

impl Config {
    /// Validates every input; on any error returns them all.
    pub fn build(raw: &RawInputs, env: &Env) -> Result<Config, InputErrors> {
        let mut errs = InputErrors::default();
        let github = GithubContext::from_env(env);
        let value = |name: &'static str| -> Option<&str> { raw.get(name) };
        let or_default = |name: &'static str| -> &str {
            raw.get(name).unwrap_or_else(|| {
                INPUTS
                    .iter()
                    .find(|i| i.name == name)
                    .map_or("", |i| i.default)
            })
        };

        let mode = errs.take("mode", parse_mode(or_default("mode")));
        let aws = build_aws(raw, env, &github, mode, &mut errs);
        let image = build_image(raw, env, &github, mode, &mut errs);
        let stack = build_stack(raw, env, &github, &mut errs);
        let smoke_check = errs.take("smoke-check", values::boolean(or_default("smoke-check")));
        let smoke_check_timeout = errs.take(
            "smoke-check-timeout",
            values::integer(or_default("smoke-check-timeout"), 5, 1800),
        );
        let rollback_on_failure = errs.take(
            "rollback-on-failure",
            values::boolean(or_default("rollback-on-failure")),
        );
        let environment = or_default("environment").to_string();
        if environment.chars().count() > 255 {
            errs.push("environment", "expected at most 255 characters");
        }
        let github_token = value("github-token").map(Secret::new);
        let transient_environment = errs.take(
            "transient-environment",
            values::boolean(or_default("transient-environment")),
        );

        match (
            mode,
            aws,
            image,
            stack,
            smoke_check,
            rollback_on_failure,
            transient_environment,
        ) {
            (
                Some(mode),
                Some(aws),
                Some(image),
                Some(stack),
                Some(smoke_check),
                Some(rollback_on_failure),
                Some(transient_environment),
            ) if errs.is_empty() => Ok(Config {
                mode,
                aws,
                image,
                stack,
                smoke_check,
                smoke_check_timeout: Duration::from_secs(smoke_check_timeout.unwrap_or(180)),
                rollback_on_failure,
                github_token,
                environment,
                transient_environment,
                github,
            }),
            _ => Err(errs),
        }
    }
}

fn default_of(name: &str) -> &'static str {
    INPUTS
        .iter()
        .find(|i| i.name == name)
        .map_or("", |i| i.default)
}

fn input_or_default<'a>(raw: &'a RawInputs, name: &'static str) -> &'a str {
    raw.get(name).unwrap_or(default_of(name))
}

fn parse_mode(v: &str) -> Result<Mode, String> {
    match v {
        "deploy" => Ok(Mode::Deploy),
        "push" => Ok(Mode::Push),
        "preview" => Ok(Mode::Preview),
        "destroy" => Ok(Mode::Destroy),
        _ => Err(format!(
            "expected one of deploy, push, preview, destroy; got {}",
            shown(v)
        )),
    }
}

fn is_region(v: &str) -> bool {
    // e.g. us-east-1, ap-southeast-2, us-gov-west-1, cn-north-1, eu-central-2
    let parts: Vec<&str> = v.split('-').collect();
    parts.len() >= 3
        && parts.len() <= 4
        && parts[0].len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

fn is_role_arn(v: &str) -> bool {
    let mut it = v.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
    ) else {
        return false;
    };
    partition.starts_with("aws")
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && resource.strip_prefix("role/").is_some_and(|r| {
            !r.is_empty()
                && r.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
        })
}

/// Credentials from outside the inputs that the SDK's default chain would find.
fn ambient_aws_credentials(env: &Env) -> bool {
    (env.has("AWS_ACCESS_KEY_ID") && env.has("AWS_SECRET_ACCESS_KEY"))
        || env.has("AWS_PROFILE")
        || env.has("AWS_WEB_IDENTITY_TOKEN_FILE")
        || env.has("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        || env.has("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        || env
            .get("HOME")
            .is_some_and(|h| std::path::Path::new(h).join(".aws/credentials").is_file())
}

fn build_aws(
    raw: &RawInputs,
    env: &Env,
    gh: &GithubContext,
    mode: Option<Mode>,
    errs: &mut InputErrors,
) -> Option<AwsConfig> {
    let before = errs.0.len();
    let region = input_or_default(raw, "aws-region").to_string();
    if !is_region(&region) {
        errs.push(
            "aws-region",
            format!(
                "expected an AWS region such as us-east-1 or ap-southeast-2, got {}",
                shown(&region)
            ),
        );
    }
    let key_id = raw.get("aws-access-key-id");
    let secret = raw.get("aws-secret-access-key");
    let token = raw.get("aws-session-token");
    let keys = match (key_id, secret) {
        (Some(id), Some(secret)) => Some(StaticKeys {
            access_key_id: Secret::new(id),
            secret_access_key: Secret::new(secret),
            session_token: token.map(Secret::new),
        }),
        (Some(_), None) => {
            errs.push(
                "aws-secret-access-key",
                "required when aws-access-key-id is given",
            );
            None
        }
        (None, Some(_)) => {
            errs.push(
                "aws-access-key-id",
                "required when aws-secret-access-key is given",
            );
            None
        }
        (None, None) => {
            if token.is_some() {
                errs.push(
                    "aws-session-token",
                    "given without aws-access-key-id and aws-secret-access-key",
                );
            }
            None
        }
    };
    let role = match raw.get("role-to-assume") {
        None => None,
        Some(arn) => {
            if !is_role_arn(arn) {
                errs.push(
                    "role-to-assume",
                    format!(
                        "expected an IAM role ARN like arn:aws:iam::123456789012:role/name, got {}",
                        shown(arn)
                    ),
                );
            }
            let session_name = input_or_default(raw, "role-session-name").to_string();
            let ok_name = (2..=64).contains(&session_name.len())
                && session_name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
            if !ok_name {
                errs.push(
                    "role-session-name",
                    format!(
                        "expected 2-64 characters of letters, digits and +=,.@_-, got {}",
                        shown(&session_name)
                    ),
                );
            }
            let duration = errs.take(
                "role-duration-seconds",
                values::integer(input_or_default(raw, "role-duration-seconds"), 900, 43_200),
            );
            let audience = input_or_default(raw, "audience").to_string();
            if keys.is_none() && !gh.oidc_available && mode.is_some_and(Mode::needs_aws) {
                errs.push(
                    "role-to-assume",
                    "needs the GitHub OIDC token, but ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN are not set: add `permissions: id-token: write` to the job (or give aws-access-key-id/aws-secret-access-key to chain the role)",
                );
            }
            Some(Role {
                arn: arn.to_string(),
                session_name,
                duration_seconds: duration.unwrap_or(3600) as u32,
                audience,
            })
        }
    };
    let allowed_account_ids = values::list(raw.get("allowed-account-ids").unwrap_or(""));
    for id in &allowed_account_ids {
        if id.len() != 12 || !id.chars().all(|c| c.is_ascii_digit()) {
            errs.push(
                "allowed-account-ids",
                format!("expected 12-digit AWS account ids, got {}", shown(id)),
            );
        }
    }
    let mask_account_id = errs.take(
        "mask-account-id",
        values::boolean(input_or_default(raw, "mask-account-id")),
    );
    let endpoint_url = raw.get("aws-endpoint-url").map(String::from);
    if let Some(u) = &endpoint_url {
        match url::Url::parse(u) {
            // Plain HTTP would carry the web identity token and the STS credentials in clear:
            // only to loopback (moto, LocalStack on the runner), the registries' rule too.
            Ok(p)
                if p.scheme() == "http"
                    && !p
                        .host()
                        .is_some_and(|h| crate::registry::is_loopback_host(&h)) =>
            {
                errs.push(
                    "aws-endpoint-url",
                    format!(
                        "plain HTTP is only allowed to a loopback host (127.0.0.1, ::1, localhost); use https:// for {}",
                        shown(u)
                    ),
                )
            }
            Ok(p) if matches!(p.scheme(), "http" | "https") && p.host().is_some() => {}
            _ => errs.push(
                "aws-endpoint-url",
                format!(
                    "expected an http(s) URL such as http://127.0.0.1:5000, got {}",
                    shown(u)
                ),
            ),
        }
    }
    if mode.is_some_and(Mode::needs_aws)
        && keys.is_none()
        && role.is_none()
        && !ambient_aws_credentials(env)
        && errs.0.len() == before
    {
        errs.push(
            "aws-access-key-id",
            format!(
                "mode {} needs AWS credentials: give role-to-assume (recommended, with `permissions: id-token: write`; the example workflows pass the repository variable AWS_DEPLOY_ROLE_ARN) or aws-access-key-id and aws-secret-access-key (the example workflows pass the repository secrets AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or set credentials in an earlier step",
                mode.map_or("", Mode::as_str)
            ),
        );
    }
    (errs.0.len() == before).then(|| AwsConfig {
        region,
        keys,
        role,
        allowed_account_ids,
        mask_account_id: mask_account_id.unwrap_or(true),
        endpoint_url,
    })
}

fn is_tag(t: &str) -> bool {
    let mut chars = t.chars();
    t.len() <= 128
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// Repository path components: lower-case alphanumerics separated by `.`, `_`, `__` or `-`.
fn is_repository(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 255
        && r.split('/').all(|part| {
            !part.is_empty()
                && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && part.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        })
}

fn is_registry_host(h: &str) -> bool {
    let (host, port) = match h.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || h.starts_with('[') => (host, Some(port)),
        _ => (h, None),
    };
    !host.is_empty()
        && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-[]:".contains(c))
}

/// Splits `[host/]repo[:tag|@digest]` as Docker does: the first component is a host when it has
/// a `.` or `:` or is `localhost`.
fn split_reference(image: &str) -> (Option<&str>, &str, Option<&str>) {
    let (host, rest) = match image.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (Some(first), rest)
        }
        _ => (None, image),
    };
    if let Some((repo, digest)) = rest.split_once('@') {
        return (host, repo, Some(digest));
    }
    match rest.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (host, repo, Some(tag)),
        _ => (host, rest, None),
    }
}

/// True when two registry names denote the same host (`docker.io` and its aliases are one).
fn same_registry(a: &str, b: &str) -> bool {
    use crate::registry::RegistryAddress;
    match (RegistryAddress::parse(a), RegistryAddress::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.eq_ignore_ascii_case(b),
    }
}

fn is_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

fn build_image(
    raw: &RawInputs,
    _env: &Env,
    gh: &GithubContext,
    mode: Option<Mode>,
    errs: &mut InputErrors,
) -> Option<ImageConfig> {
    let before = errs.0.len();
    let registry = input_or_default(raw, "registry").to_string();
    if !is_registry_host(&registry) || registry.contains("://") {
        errs.push(
            "registry",
            format!(
                "expected a registry host such as docker.io or ghcr.io (no scheme), got {}",
                shown(&registry)
            ),
        );
    }
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

    let source = match (raw.get("image-archive"), raw.get("image-from")) {
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
        (None, Some(path)) => build_source(raw, path, errs),
        (None, None) => None,
    };
    for name in ["image-cmd", "image-port", "image-env"] {
        if raw.get(name).is_some() && raw.get("image-from").is_none() {
            errs.push(
                name,
                "only applies to the daemonless build: give image-from too",
            );
        }
    }
    let compression = match input_or_default(raw, "compression") {
        "gzip" => Some(Compression::Gzip),
        "zstd" => Some(Compression::Zstd),
        other => {
            errs.push(
                "compression",
                format!("expected gzip or zstd, got {}", shown(other)),
            );
            None
        }
    };
    let push_concurrency = errs.take(
        "push-concurrency",
        values::integer(input_or_default(raw, "push-concurrency"), 1, 32),
    );

    // The repository (and, without a source, the existing reference to deploy).
    let image = raw.get("image").map(String::from).or_else(|| {
        let user = username?;
        let repo = values::derived_name(gh.repository_name()?);
        Some(format!("{}/{repo}", user.to_lowercase()))
    });
    let mut repository = String::new();
    let mut existing = None;
    let image_registry = registry.clone();
    match &image {
        None if mode.is_some_and(|m| m != Mode::Destroy) => errs.push(
            "image",
            "required: the repository to push to (e.g. user/app), or an existing reference to deploy (e.g. user/app:1.2 or user/app@sha256:…); it defaults to <docker-hub-username>/<repository name> only when both are known",
        ),
        None => {}
        Some(image) => {
            let (host, repo, reference) = split_reference(image);
            // The registry's credentials go to the `registry` input's host only: a host inside
            // `image` (which may come from a dispatch input) must not redirect them elsewhere.
            if let Some(h) = host
                && !same_registry(h, &registry)
            {
                errs.push(
                    "image",
                    format!(
                        "names registry host {} but the registry input is {}: credentials are only sent to the registry input's host; set `registry: {h}` or drop the host from image",
                        shown(h),
                        shown(&registry)
                    ),
                );
            }
            if !is_repository(repo) {
                errs.push("image", format!("expected a repository of lower-case letters, digits and . _ - separated by /, got {}", shown(image)));
            }
            repository = repo.to_string();
            match (reference, &source) {
                (Some(r), None) => {
                    if !(is_tag(r) || is_digest(r)) {
                        errs.push("image", format!("expected a tag or sha256 digest after the repository, got {}", shown(image)));
                    }
                    existing = Some(r.to_string());
                }
                (None, None) if mode == Some(Mode::Deploy) || mode == Some(Mode::Preview) => errs.push(
                    "image",
                    format!("{} names no tag or digest and there is no image source: give image-archive or image-from to push, or an existing reference like {image}:TAG", shown(image)),
                ),
                (Some(_), Some(_)) => errs.push("image", "with an image source, give the repository only and put tags in `tags`"),
                _ => {}
            }
        }
    }
    if mode == Some(Mode::Push) && source.is_none() {
        errs.push(
            "image-archive",
            "mode push needs an image source: image-archive or image-from",
        );
    }
    if source.is_some() && login.is_none() && image_registry == "docker.io" {
        errs.push(
            "docker-hub-username",
            "pushing to Docker Hub needs docker-hub-username and docker-hub-token",
        );
    }
    let tags = match raw.get("tags") {
        Some(t) => values::list(t),
        None => {
            let mut tags: Vec<String> = gh
                .short_sha()
                .map(|s| format!("sha-{s}"))
                .into_iter()
                .collect();
            tags.push("latest".into());
            tags
        }
    };
    for t in &tags {
        if !is_tag(t) {
            errs.push("tags", format!("expected tags of letters, digits, _ . - (up to 128, not starting with . or -), got {}", shown(t)));
        }
    }
    (errs.0.len() == before).then(|| ImageConfig {
        registry: image_registry,
        login,
        repository,
        tags,
        existing,
        source,
        compression: compression.unwrap_or(Compression::Gzip),
        push_concurrency: push_concurrency.unwrap_or(4) as usize,
    })
}

fn build_source(raw: &RawInputs, value: &str, errs: &mut InputErrors) -> Option<ImageSource> {
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
    let env = errs.take(
        "image-env",
        raw.get("image-env")
            .map_or(Ok(Vec::new()), values::key_values),
    );
    Some(ImageSource::Build {
        from,
        cmd,
        port: port.unwrap_or(8080) as u16,
        env: env.unwrap_or_default(),
    })
}

/// CloudFormation's limit on stack names.
const STACK_NAME_MAX: usize = 128;

fn is_stack_name(n: &str) -> bool {
    n.len() <= STACK_NAME_MAX
        && n.starts_with(|c: char| c.is_ascii_alphabetic())
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// What `stack-name-suffix` may be: hyphen-joined runs of letters and digits, so the joined
/// name never has `--` or a trailing hyphen.
fn is_name_suffix(s: &str) -> bool {
    !s.is_empty()
        && s.len() < STACK_NAME_MAX
        && s.split('-')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn build_stack(
    raw: &RawInputs,
    env: &Env,
    gh: &GithubContext,
    errs: &mut InputErrors,
) -> Option<StackConfig> {
    let before = errs.0.len();
    let suffix = raw.get("stack-name-suffix");
    if let Some(s) = suffix
        && !is_name_suffix(s)
    {
        errs.push("stack-name-suffix", format!("expected letters, digits and hyphens, not starting or ending with a hyphen (e.g. pr-7), got {}", shown(s)));
    }
    let suffix = suffix.filter(|s| is_name_suffix(s));
    // A derived name leaves room for the suffix; a given one is never shortened behind the
    // user's back (too long is an error below).
    let room = STACK_NAME_MAX.saturating_sub(suffix.map_or(0, |s| s.len() + 1));
    let base = match raw.get("stack-name") {
        Some(n) => n.to_string(),
        None => match gh.repository_name() {
            Some(repo) => format!("ecs-poc-{}", values::derived_name(repo))
                .chars()
                .take(room)
                .collect::<String>()
                .trim_end_matches('-')
                .to_string(),
            None => {
                errs.push("stack-name", "required outside GitHub Actions (there is no GITHUB_REPOSITORY to derive ecs-poc-<repository name> from)");
                String::new()
            }
        },
    };
    if !base.is_empty() && !is_stack_name(&base) {
        errs.push("stack-name", format!("expected 1-128 letters, digits and hyphens starting with a letter (CloudFormation's rule), got {}", shown(&base)));
    }
    let name = match suffix {
        Some(s) if !base.is_empty() => format!("{base}-{s}"),
        _ => base,
    };
    // Both parts are valid by now, so only the joined length can break CloudFormation's rule.
    if name.len() > STACK_NAME_MAX {
        errs.push("stack-name-suffix", format!("makes the stack name {} characters long ({}); CloudFormation allows at most {STACK_NAME_MAX}", name.len(), shown(&name)));
    }
    let scope = files::FileScope::from_env(env);
    let template = match raw.get("template") {
        None => Some(Template::Bundled),
        Some(path) => match files::read_text(path, TEMPLATE_BODY_LIMIT as u64, &scope) {
            Ok(body) => Some(Template::File {
                path: PathBuf::from(path),
                body,
            }),
            Err(files::FileError::TooLarge(n)) => {
                errs.push("template", format!("{} is {n} bytes; CloudFormation accepts at most {TEMPLATE_BODY_LIMIT} bytes inline (TemplateBody). Larger templates need S3 (TemplateURL), which this action does not use: trim it, or move resources into nested stacks stored in S3", shown(path)));
                None
            }
            Err(files::FileError::Other(m)) => {
                errs.push("template", m);
                None
            }
        },
    };
    // YAML/JSON map, AWS CLI parameter list, K=V lines, or a file: the stack engine's parser.
    let parameter_overrides = match raw.get("parameter-overrides") {
        None => Vec::new(),
        Some(v) => {
            let text = match crate::stack::override_file(v) {
                Some(path) => match files::read_text(path, OVERRIDES_FILE_LIMIT, &scope) {
                    Ok(text) => Some(text),
                    Err(files::FileError::TooLarge(n)) => {
                        errs.push("parameter-overrides", format!("file {} is {n} bytes; at most {OVERRIDES_FILE_LIMIT} are read (CloudFormation takes 200 parameters of 4 KiB)", shown(path)));
                        None
                    }
                    Err(files::FileError::Other(m)) => {
                        errs.push("parameter-overrides", m);
                        None
                    }
                },
                None => Some(v.to_string()),
            };
            text.and_then(|t| {
                errs.take(
                    "parameter-overrides",
                    crate::stack::parse_overrides(&t).map_err(|e| format!("{e:#}")),
                )
            })
            .unwrap_or_default()
        }
    };
    let min = errs.take(
        "min-capacity",
        values::integer(input_or_default(raw, "min-capacity"), 1, MAX_TASKS),
    );
    let max = errs.take(
        "max-capacity",
        values::integer(input_or_default(raw, "max-capacity"), 1, MAX_TASKS),
    );
    let desired = raw
        .get("desired-count")
        .and_then(|d| errs.take("desired-count", values::integer(d, 1, MAX_TASKS)));
    if let (Some(min), Some(max)) = (min, max) {
        if max < min {
            errs.push(
                "max-capacity",
                format!("must be at least min-capacity ({min}), got {max}"),
            );
        } else if let Some(d) = desired
            && !(min..=max).contains(&d)
        {
            errs.push(
                "desired-count",
                format!("must be within min-capacity..max-capacity ({min}..{max}), got {d}"),
            );
        }
    }
    let target_cpu = errs.take(
        "target-cpu",
        values::integer(input_or_default(raw, "target-cpu"), 10, 90),
    );
    let container_port = errs.take(
        "container-port",
        values::integer(input_or_default(raw, "container-port"), 1, 65_535),
    );
    let health_check_path = input_or_default(raw, "health-check-path").to_string();
    if !health_check_path.starts_with('/')
        || health_check_path.len() > 1024
        || health_check_path
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        errs.push(
            "health-check-path",
            format!(
                "expected a URL path starting with / (no spaces), got {}",
                shown(&health_check_path)
            ),
        );
    }
    let pull_credentials_secret_arn = raw.get("pull-credentials-secret-arn").map(String::from);
    if let Some(arn) = &pull_credentials_secret_arn
        && !(arn.starts_with("arn:aws")
            && arn.contains(":secretsmanager:")
            && arn.contains(":secret:"))
    {
        errs.push("pull-credentials-secret-arn", format!("expected a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME), got {}", shown(arn)));
    }
    let cloudformation_role_arn = raw.get("cloudformation-role-arn").map(String::from);
    if let Some(arn) = &cloudformation_role_arn {
        if !is_role_arn(arn) {
            errs.push(
                "cloudformation-role-arn",
                format!(
                    "expected an IAM role ARN like arn:aws:iam::123456789012:role/name, got {}",
                    shown(arn)
                ),
            );
        }
        if let Some(problem) = missing_boundary(template.as_ref(), &parameter_overrides) {
            errs.push("parameter-overrides", problem);
        }
    }
    let capabilities = values::list(input_or_default(raw, "capabilities"));
    for c in &capabilities {
        if !CAPABILITIES.contains(&c.as_str()) {
            errs.push(
                "capabilities",
                format!(
                    "expected any of {}, got {}",
                    CAPABILITIES.join(", "),
                    shown(c)
                ),
            );
        }
    }
    let tags = errs
        .take(
            "stack-tags",
            raw.get("stack-tags")
                .map_or(Ok(Vec::new()), values::key_values),
        )
        .unwrap_or_default();
    if tags.len() > 50 {
        errs.push(
            "stack-tags",
            format!(
                "CloudFormation allows at most 50 stack tags, got {}",
                tags.len()
            ),
        );
    }
    for (k, v) in &tags {
        if k.is_empty()
            || k.len() > 128
            || v.len() > 256
            || k.to_ascii_lowercase().starts_with("aws:")
        {
            errs.push("stack-tags", format!("tag {} must have a key of 1-128 characters not starting with aws: and a value of at most 256", shown(k)));
        }
    }
    let termination_protection = errs.take(
        "termination-protection",
        values::boolean(input_or_default(raw, "termination-protection")),
    );
    let timeout = errs.take(
        "timeout-minutes",
        values::integer(input_or_default(raw, "timeout-minutes"), 1, 360),
    );
    let keep_change_set = errs.take(
        "keep-change-set",
        values::boolean(input_or_default(raw, "keep-change-set")),
    );

    if errs.0.len() != before {
        return None;
    }
    Some(StackConfig {
        name,
        template: template?,
        parameter_overrides,
        capacity: Capacity {
            min: min? as u32,
            max: max? as u32,
            desired: desired.map(|d| d as u32),
        },
        target_cpu: target_cpu? as u32,
        container_port: container_port? as u16,
        health_check_path,
        pull_credentials_secret_arn,
        cloudformation_role_arn,
        capabilities,
        tags,
        termination_protection: termination_protection?,
        timeout: Duration::from_secs(timeout? * 60),
        keep_change_set: keep_change_set?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_role_needs_the_boundary_only_where_the_template_declares_it() {
        let given = vec![(
            BOUNDARY_PARAMETER.to_string(),
            "arn:aws:iam::123456789012:policy/b".to_string(),
        )];
        let empty = vec![(BOUNDARY_PARAMETER.to_string(), String::new())];
        let bundled = Some(&Template::Bundled);
        let missing = missing_boundary(bundled, &[]).expect("bundled template without boundary");
        assert!(
            missing.contains("PermissionsBoundaryArn must be given"),
            "{missing}"
        );
        assert!(missing_boundary(bundled, &empty).is_some());
        assert_eq!(missing_boundary(bundled, &given), None);
        let own = Template::File {
            path: PathBuf::from("t.yml"),
            body: "Parameters: {ImageUri: {Type: String}}\nResources: {}\n".into(),
        };
        assert_eq!(missing_boundary(Some(&own), &[]), None);
    }
}
