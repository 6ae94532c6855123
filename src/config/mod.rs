//! Stage two of the inputs: one validated, typed configuration, built before any network call.
//! Every bad input is collected and reported at once, naming the input and what was expected.
//! One file per concern (`aws`, `image`, `stack`); each keeps the typed values the engines
//! take, parsed by the grammar the engine owns (`registry::Reference`, `pairs`, …).

mod aws;
pub mod context;
pub mod errors;
pub mod files;
mod image;
pub mod raw;
mod stack;
pub mod values;

pub use crate::aws::StaticKeys;
pub use crate::image::Compression;
use crate::secret::Secret;
pub use aws::{AwsConfig, Role};
pub use context::{Env, GithubContext};
pub use errors::{InputError, InputErrors};
pub use image::{ImageConfig, ImageSource, RegistryLogin};
pub use raw::{INPUTS, RawInputs};
pub use stack::{Capacity, Domain, StackConfig, Template};
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
    /// Record a GitHub Deployment (off when the job's own `environment:` records one).
    pub github_deployment: bool,
    pub github: GithubContext,
    /// The process environment, read once: later stages take what they need from here.
    pub env: Env,
}

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
        let aws = aws::build(raw, env, &github, mode, &mut errs);
        let image = image::build(raw, &github, mode, &mut errs);
        let stack = stack::build(raw, env, &github, mode, &mut errs);
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
        let github_deployment = errs.take(
            "github-deployment",
            values::boolean(or_default("github-deployment")),
        );
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
            github_deployment,
        ) {
            (
                Some(mode),
                Some(aws),
                Some(image),
                Some(stack),
                Some(smoke_check),
                Some(rollback_on_failure),
                Some(transient_environment),
                Some(github_deployment),
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
                github_deployment,
                github,
                env: env.clone(),
            }),
            _ => Err(errs),
        }
    }
}

pub(super) fn default_of(name: &str) -> &'static str {
    INPUTS
        .iter()
        .find(|i| i.name == name)
        .map_or("", |i| i.default)
}

pub(super) fn input_or_default<'a>(raw: &'a RawInputs, name: &'static str) -> &'a str {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_say_what_they_do() {
        for (text, mode) in [
            ("deploy", Mode::Deploy),
            ("push", Mode::Push),
            ("preview", Mode::Preview),
            ("destroy", Mode::Destroy),
        ] {
            assert_eq!(parse_mode(text), Ok(mode));
            assert_eq!(mode.as_str(), text);
        }
        for bad in ["Deploy", "", "apply", "push "] {
            assert!(
                parse_mode(bad).unwrap_err().contains("deploy, push"),
                "{bad}"
            );
        }
        assert!(!Mode::Push.needs_aws() && Mode::Destroy.needs_aws());
        assert!(Mode::Push.pushes() && Mode::Deploy.pushes() && !Mode::Preview.pushes());
    }
}
