//! The stages of one run, in order. Each returns what the next needs; `State` keeps what the end
//! of the run reports, also after a failure.

use super::{State, preview_env, settings, smoke};
use crate::config::{Config, ImageSource, Mode};
use crate::github::{self, DeploymentTracker, EnvironmentKind};
use crate::image::{self, LoadedImage, PushOptions};
use crate::registry::{Credentials, Reference, Registry, RegistryError, Repository, Target};
use crate::runner;
use crate::stack::{self, Clients, DeployOutcome};
use anyhow::{Context, Result, bail};
use std::time::Instant;

/// Records how long `$body` took, without a log group: for stages whose engine opens its own
/// groups (Actions does not nest them).
macro_rules! timed {
    ($state:expr, $title:expr, $body:expr) => {{
        let started = Instant::now();
        let result = $body;
        $state
            .report
            .stages
            .push(($title.to_string(), started.elapsed()));
        result
    }};
}

/// Runs `$body` inside a log group and records its duration in the report.
macro_rules! stage {
    ($state:expr, $title:expr, $body:expr) => {{
        let group = runner::group($title);
        let result = $body;
        $state
            .report
            .stages
            .push(($title.to_string(), group.elapsed()));
        drop(group);
        result
    }};
}

pub(super) async fn all(config: &Config, state: &mut State, started: Instant) -> Result<()> {
    // Local work first: a bad archive or build directory fails before anything remote.
    let image = match (&config.image.source, config.mode.pushes()) {
        (Some(source), true) => Some(stage!(
            state,
            "Prepare image",
            prepare_image(config, source)
        )?),
        (Some(_), false) => {
            state.report.notes.push(format!(
                "mode {} pushes nothing: the image source is not used",
                config.mode.as_str()
            ));
            None
        }
        _ => None,
    };

    // Credentials before any side effect: AWS identity, then the registry login.
    let clients = if config.mode.needs_aws() {
        let connected = stage!(
            state,
            "AWS credentials",
            crate::aws::connect(&settings::aws(config)).await
        )?;
        state.report.identity = Some(connected.identity.display_arn(config.aws.mask_account_id));
        let clients = Clients::new(&connected.sdk_config)
            .with_service_role(config.stack.cloudformation_role_arn.clone());
        state.clients = Some(clients.clone());
        Some(clients)
    } else {
        None
    };
    let registry = match (&image, &config.image.existing, config.mode) {
        (Some(_), _, _) => Some(stage!(
            state,
            "Registry login",
            registry_login(config, true).await
        )?),
        (None, Some(_), Mode::Deploy | Mode::Preview) => Some(registry_login(config, false).await?),
        _ => None,
    };

    // The image to deploy, pinned by digest.
    let image_uri = match (&image, &registry) {
        (Some(image), Some(registry)) => Some(stage!(
            state,
            "Push image",
            push(config, state, registry, image).await
        )?),
        (None, Some(registry)) => Some(resolve(config, state, registry).await?),
        _ => None,
    };
    let Some(clients) = clients else {
        return Ok(()); // mode push ends here
    };

    match config.mode {
        Mode::Destroy => {
            timed!(
                state,
                "Destroy stack",
                destroy(config, state, &clients).await
            )?;
            preview_env::destroyed(config).await;
            Ok(())
        }
        Mode::Preview => timed!(
            state,
            "Preview change set",
            preview(config, state, &clients, image_uri, started).await
        ),
        Mode::Deploy => {
            deploy(config, state, &clients, image_uri, started).await?;
            preview_env::deployed(config, state).await;
            Ok(())
        }
        Mode::Push => Ok(()),
    }
}

fn prepare_image(config: &Config, source: &ImageSource) -> Result<LoadedImage> {
    match source {
        ImageSource::Archive(path) => image::load_archive(path),
        ImageSource::Build { .. } => {
            image::build_platforms(&settings::build_specs(config, source)?)
        }
    }
}

async fn registry_login(config: &Config, for_push: bool) -> Result<Registry> {
    let creds = config.image.login.as_ref().map(|l| Credentials {
        username: l.username.clone(),
        password: l.token.clone(),
    });
    let registry = Registry::new(config.image.registry.clone(), creds)?;
    if for_push {
        let repo = repository(config)?;
        registry
            .check_login(repo.as_str())
            .await
            .map_err(credentials_hint)?;
        runner::info(&format!(
            "logged in to {} for {repo}",
            config.image.registry
        ));
    }
    Ok(registry)
}

fn repository(config: &Config) -> Result<&Repository> {
    config
        .image
        .repository
        .as_ref()
        .context("no image repository (the image input)")
}

/// The registry client speaks of credentials; which inputs hold them is the action's business.
fn credentials_hint(e: anyhow::Error) -> anyhow::Error {
    let hint = e
        .chain()
        .filter_map(|c| c.downcast_ref::<RegistryError>())
        .find_map(|r| match r {
            RegistryError::BadCredentials { .. } => Some(
                "check the docker-hub-username and docker-hub-token inputs (a Docker Hub access \
                 token with Read & Write scope)",
            ),
            RegistryError::CredentialsRequired { .. } => {
                Some("set the docker-hub-username and docker-hub-token inputs")
            }
            RegistryError::InsufficientScope { .. } => Some(
                "check that the image input names your repository and that docker-hub-token may \
                 write to it",
            ),
            _ => None,
        });
    match hint {
        Some(hint) => e.context(hint),
        None => e,
    }
}

async fn push(
    config: &Config,
    state: &mut State,
    registry: &Registry,
    image: &LoadedImage,
) -> Result<String> {
    let opts = PushOptions {
        concurrency: config.image.push_concurrency,
        compression: config.image.compression,
        mount_from: config.image.mount_from.clone(),
    };
    let report = image::push(
        registry,
        repository(config)?,
        image,
        &config.image.tags,
        &opts,
    )
    .await
    .map_err(credentials_hint)?;
    let reference = report.reference.clone();
    state.outputs.set("image-ref", &reference);
    state.outputs.set("image-digest", report.digest.to_string());
    state.report.image_ref = Some(reference.clone());
    state.report.push = Some(report);
    Ok(reference)
}

/// The image to deploy when nothing is pushed. A tag needs the registry to become a digest; a
/// digest does not: it is checked when the registry can be asked, refused only when the registry
/// definitely does not have it, and otherwise deployed with a warning (the runner may have no
/// route to a private registry the tasks reach with `pull-credentials-secret-arn`).
async fn resolve(config: &Config, state: &mut State, registry: &Registry) -> Result<String> {
    let (Some(given), Some(target)) = (config.image.existing_reference(), &config.image.existing)
    else {
        bail!("no image reference to resolve")
    };
    let repo = given.repository.as_str();
    let pinned = match target {
        Target::Digest(d) => Some(d.clone()),
        Target::Tag(_) => None,
    };
    let resolved = registry
        .resolve(repo, &target.as_api_reference())
        .await
        .map_err(credentials_hint);
    let digest = match (resolved, pinned) {
        (Ok(digest), _) => digest,
        (Err(e), Some(pinned)) if !manifest_unknown(&e, config.image.login.is_some()) => {
            runner::warning(&format!(
                "could not verify {given} with {}: {e:#}; deploying the digest as given \
                 (the tasks pull it with their own credentials)",
                config.image.registry
            ));
            pinned
        }
        (Err(e), Some(_)) => {
            return Err(e).with_context(|| {
                format!(
                    "{given} is not in {}: push it first, or check the image input",
                    config.image.registry
                )
            });
        }
        (Err(e), None) => {
            return Err(e).with_context(|| {
                format!(
                    "resolving {given} to a digest (a tag needs the registry; an image given by \
                     digest, {repo}@sha256:..., deploys without asking it)"
                )
            });
        }
    };
    let image_ref = Reference {
        host: Some(config.image.registry.name().to_string()),
        repository: given.repository.clone(),
        target: Some(Target::Digest(digest.clone())),
    }
    .to_string();
    runner::info(&format!("{given} is {image_ref}"));
    state.outputs.set("image-ref", &image_ref);
    state.outputs.set("image-digest", digest.to_string());
    state.report.image_ref = Some(image_ref.clone());
    Ok(image_ref)
}

/// The registry definitely lacks the manifest: it says MANIFEST_UNKNOWN, or answers a bare 404
/// to a logged-in HEAD. An anonymous 404 may only hide a private repository, so it is not proof.
fn manifest_unknown(e: &anyhow::Error, logged_in: bool) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<RegistryError>())
        .any(|r| match r {
            RegistryError::Status { status, errors, .. } if status.as_u16() == 404 => {
                r.has_code("MANIFEST_UNKNOWN") || (errors.is_empty() && logged_in)
            }
            _ => false,
        })
}

fn record(state: &mut State, outcome: &DeployOutcome) {
    let out = &mut state.outputs;
    out.set("stack-id", &outcome.stack_id);
    if let Some(status) = &outcome.status {
        out.set("stack-status", status.as_str());
        state.report.status = Some(status.as_str().to_string());
    }
    out.set(
        "change-set-id",
        outcome.change_set_id.clone().unwrap_or_default(),
    );
    out.set("has-changes", outcome.has_changes.to_string());
    if let Some(url) = outcome.output("ServiceUrl") {
        out.set("url", url);
        state.report.url = Some(url.to_string());
    }
    for (k, v) in &outcome.outputs {
        match stack_output_name(k) {
            Ok(()) => out.set(k, v),
            Err(why) => runner::warning(&format!(
                "stack output {} is not written as an action output: {why}",
                runner::text::inline(k)
            )),
        }
    }
    state.report.cfn_calls += outcome.cfn_calls;
    state.report.changes = Some(outcome.changes.clone());
    state.report.executed = outcome.executed;
    state.report.has_changes = outcome.has_changes;
    state.report.events.extend(outcome.events.iter().cloned());
    state.report.outputs = outcome.outputs.clone();
}

/// The action's own outputs (action.yml). A stack output of the same name, in any case (a
/// workflow reads `steps.x.outputs.URL` and `.url` alike), would overwrite one: it is skipped.
pub(super) const OWN_OUTPUTS: &[&str] = &[
    "image-ref",
    "image-digest",
    "stack-id",
    "stack-status",
    "url",
    "change-set-id",
    "has-changes",
];

fn stack_output_name(name: &str) -> Result<(), &'static str> {
    if OWN_OUTPUTS.iter().any(|own| own.eq_ignore_ascii_case(name)) {
        Err("the action has an output of that name, which wins")
    } else if !runner::outputs::valid_name(name) {
        Err("not a valid output name (a letter or _, then letters, digits, - or _)")
    } else {
        Ok(())
    }
}

async fn preview(
    config: &Config,
    state: &mut State,
    clients: &Clients,
    image_uri: Option<String>,
    started: Instant,
) -> Result<()> {
    let request = settings::deploy_request(config, image_uri.clone(), started);
    state.pending_change_set = Some(request.change_set_name.clone());
    let outcome = stack::deploy(clients, &request).await?;
    state.pending_change_set = None;
    record(state, &outcome);
    let github = settings::github(config);
    let plan = crate::report::Plan {
        stack: &config.stack.name,
        region: &config.aws.region,
        image_now: outcome.previous_image.as_deref(),
        image_proposed: image_uri.as_deref(),
        parameter_changes: &outcome.parameter_changes,
        changes: &outcome.changes,
        has_changes: outcome.has_changes,
        run_url: github.run_url.as_deref(),
    };
    let markdown = plan.markdown();
    github::upsert_plan_comment(&github, &config.stack.name, &markdown).await;
    Ok(())
}

async fn deploy(
    config: &Config,
    state: &mut State,
    clients: &Clients,
    image_uri: Option<String>,
    started: Instant,
) -> Result<()> {
    let kind = if config.transient_environment {
        EnvironmentKind::Transient
    } else {
        EnvironmentKind::Persistent
    };
    if config.github_deployment {
        state.deployment = DeploymentTracker::start(&settings::github(config), kind).await;
    }
    let request = settings::deploy_request(config, image_uri.clone(), started);
    state.pending_change_set = Some(request.change_set_name.clone());
    let outcome = timed!(
        state,
        "Deploy stack",
        stack::deploy(clients, &request)
            .await
            .with_context(|| format!("deploying stack {}", config.stack.name))
    );
    state.pending_change_set = None;
    let outcome = outcome?;
    record(state, &outcome);
    let previous_image = outcome.previous_image.clone();
    if !outcome.has_changes {
        state
            .report
            .notes
            .push("No changes: the stack already runs this image with these settings.".into());
    }

    let Some(url) = state.report.url.clone().filter(|_| config.smoke_check) else {
        if !config.smoke_check {
            state
                .report
                .notes
                .push("Smoke check skipped (smoke-check: false).".into());
        }
        return Ok(());
    };
    let health = smoke::health_url(&url, &config.stack.health_check_path);
    let checked = stage!(
        state,
        "Smoke check",
        smoke::check(
            &health,
            &smoke::SmokePolicy {
                deadline: config.smoke_check_timeout,
                ..Default::default()
            }
        )
        .await
    );
    match checked {
        Ok(r) => {
            state.report.notes.push(format!(
                "Smoke check: GET {} answered 200 after {} attempt(s) in {:.1} s.",
                r.url,
                r.attempts,
                r.elapsed.as_secs_f64()
            ));
            Ok(())
        }
        Err(failure) => {
            let rollback_to = previous_image
                .filter(|prev| config.rollback_on_failure && Some(prev) != image_uri.as_ref());
            let Some(previous) = rollback_to else {
                return Err(failure);
            };
            runner::warning(&format!(
                "smoke check failed; rolling back to the previous image {previous}"
            ));
            let mut request =
                settings::deploy_request(config, Some(previous.clone()), Instant::now());
            request.change_set_name = format!("{}-rollback", request.change_set_name);
            let rolled = timed!(state, "Roll back", stack::deploy(clients, &request).await);
            match rolled {
                Ok(outcome) => {
                    record(state, &outcome);
                    Err(failure.context(format!(
                        "rolled back stack {} to the previous image {previous}",
                        config.stack.name
                    )))
                }
                Err(e) => {
                    Err(failure.context(format!("rolling back to {previous} failed too: {e:#}")))
                }
            }
        }
    }
}

async fn destroy(config: &Config, state: &mut State, clients: &Clients) -> Result<()> {
    let deadline = Instant::now() + config.stack.timeout;
    let outcome = stack::destroy(
        clients,
        &config.stack.name,
        deadline,
        stack::PollPolicy::default(),
    )
    .await?;
    if !outcome.existed {
        state.report.notes.push(format!(
            "Stack {} does not exist: nothing to destroy.",
            config.stack.name
        ));
    }
    state.outputs.set(
        "stack-status",
        if outcome.existed {
            "DELETE_COMPLETE"
        } else {
            "DOES_NOT_EXIST"
        },
    );
    state.report.status = Some("DELETE_COMPLETE".into());
    state.report.removed = outcome.removed;
    state.report.events = outcome.events;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A template's outputs cannot overwrite the action's own, in any letter case, nor smuggle
    /// a second output in through a name the `GITHUB_OUTPUT` format would split.
    #[test]
    fn stack_outputs_never_replace_the_actions_own() {
        let outcome = DeployOutcome {
            stack_name: "web".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:1:stack/web/1".into(),
            operation: stack::Operation::Update,
            previous_image: None,
            status: None,
            change_set_id: Some("cs".into()),
            has_changes: true,
            executed: true,
            change_set_kept: false,
            changes: vec![],
            parameter_changes: vec![],
            outputs: [
                ("has-changes", "false"),
                ("URL", "http://attacker.example"),
                ("Stack-Id", "forged"),
                ("ServiceUrl", "http://web.example"),
                ("a=b\nurl", "x"),
                ("VpcId", "vpc-1"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .to_vec(),
            events: vec![],
            cfn_calls: 0,
        };
        let mut state = State::default();
        record(&mut state, &outcome);
        let out = &state.outputs;
        assert_eq!(out.get("has-changes"), Some("true"));
        assert_eq!(out.get("url"), Some("http://web.example"));
        assert_eq!(out.get("stack-id"), Some(outcome.stack_id.as_str()));
        assert_eq!(out.get("VpcId"), Some("vpc-1"));
        assert_eq!(out.get("ServiceUrl"), Some("http://web.example"));
        let names: Vec<&str> = out.iter().map(|(n, _)| n).collect();
        assert!(
            names.iter().all(|n| runner::outputs::valid_name(n)),
            "{names:?}"
        );
        for own in OWN_OUTPUTS {
            let same = names.iter().filter(|n| n.eq_ignore_ascii_case(own)).count();
            assert!(same <= 1, "{own} written {same} times: {names:?}");
        }
    }
}
