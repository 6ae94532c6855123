//! Translates the validated config into each stage's own settings, so stages never see inputs.

use crate::aws::{AwsSettings, OidcRequest, RoleSettings, StaticKeys, github_session_tags};
use crate::config::{Config, ImageSource, Mode};
use crate::github::GithubSettings;
use crate::image::{self, BuildSpec, Provenance};
use crate::stack::{self, DeployPlan, DeployRequest, PollPolicy, Scaling};
use anyhow::Result;
use std::path::Path;
use std::time::Instant;

pub fn aws(config: &Config) -> AwsSettings {
    let aws = &config.aws;
    let env = config.env.lookup();
    AwsSettings {
        region: aws.region.clone(),
        endpoint_url: aws.endpoint_url.clone(),
        static_keys: aws.keys.as_ref().map(|k| StaticKeys {
            access_key_id: k.access_key_id.clone(),
            secret_access_key: k.secret_access_key.clone(),
            session_token: k.session_token.clone(),
        }),
        role: aws.role.as_ref().map(|r| RoleSettings {
            arn: r.arn.clone(),
            session_name: r.session_name.clone(),
            duration_seconds: r.duration_seconds as i32,
            audience: r.audience.clone(),
            session_tags: github_session_tags(&env),
        }),
        oidc: OidcRequest::from_lookup(&env),
        allowed_account_ids: aws.allowed_account_ids.clone(),
        mask_account_id: aws.mask_account_id,
    }
}

pub fn github(config: &Config) -> GithubSettings {
    GithubSettings::from_context(
        &config.github,
        config.github_token.clone(),
        &config.environment,
    )
}

/// One build per `image-from` input, each labelled with the platform its binary is for (checked
/// again by the build itself).
pub fn build_specs(config: &Config, source: &ImageSource) -> Result<Vec<BuildSpec>> {
    let ImageSource::Build {
        from,
        cmd,
        port,
        env,
    } = source
    else {
        return Ok(Vec::new());
    };
    let workspace = config.github.workspace.as_deref().unwrap_or(".");
    let provenance = Provenance::from_env(config.env.lookup(), Path::new(workspace))?;
    let scratch_dirs = image::scratch_candidates(config.env.lookup());
    from.iter()
        .map(|input| {
            let platform = image::resolve_platform(input)
                .map_err(|e| anyhow::anyhow!("image-from: {} {e}", input.path.display()))?;
            Ok(BuildSpec {
                from: input.path.clone(),
                cmd: cmd.clone().unwrap_or_default(),
                port: Some(*port),
                env: env.clone(),
                architecture: platform.architecture().into(),
                compression: config.image.compression,
                provenance: provenance.clone(),
                scratch_dirs: scratch_dirs.clone(),
            })
        })
        .collect()
}

/// The deploy request; `image_uri` is the digest reference (None keeps the stack's image). Only
/// mode deploy executes the change set; a preview stops at the plan.
pub fn deploy_request(
    config: &Config,
    image_uri: Option<String>,
    started: Instant,
) -> DeployRequest {
    let execute = config.mode == Mode::Deploy;
    let s = &config.stack;
    let mut overrides = s.parameter_overrides.clone();
    if let Some(arn) = &s.pull_credentials_secret_arn {
        overrides.push(("RepositoryCredentialsSecretArn".into(), arn.clone()));
    }
    if let Some(domain) = &s.domain {
        overrides.push(("DomainName".into(), domain.name.clone()));
        if let Some(zone) = &domain.hosted_zone_id {
            overrides.push(("HostedZoneId".into(), zone.clone()));
        }
    }
    DeployRequest {
        stack_name: s.name.clone(),
        template_body: s.template.body().to_string(),
        image_uri,
        scaling: Scaling {
            min: s.capacity.min,
            max: s.capacity.max,
            desired: s.capacity.desired,
            target_cpu: s.target_cpu,
            container_port: s.container_port,
            health_check_path: s.health_check_path.clone(),
        },
        overrides,
        capabilities: s.capabilities.clone(),
        tags: s.tags.clone(),
        termination_protection: s.termination_protection,
        change_set_name: change_set_name(config),
        plan: DeployPlan {
            execute,
            keep_change_set: s.keep_change_set,
            deadline: started + s.timeout,
            poll: PollPolicy::default(),
        },
    }
}

pub fn change_set_name(config: &Config) -> String {
    let gh = &config.github;
    stack::change_set_name(
        &format!("ecs-poc-{}", config.mode.as_str()),
        gh.run_id.as_deref(),
        gh.run_attempt.as_deref(),
    )
}
