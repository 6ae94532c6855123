//! AWS credentials and identity: static keys, ambient credentials, or `role-to-assume` (chained
//! from the keys, or through GitHub OIDC); then `GetCallerIdentity` as the run's first AWS call.
//!
//! `connect` returns the `SdkConfig` every later AWS client (CloudFormation, ECS) is built from.
//! Every derived secret is masked before use; failures are one [`AwsError`] sentence naming the
//! input to fix.

pub mod error;
pub mod identity;
pub mod oidc;
pub mod refresh;
pub mod role;
pub mod settings;

use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_credential_types::Credentials;

pub use error::{AwsError, CredentialSource, Problem, StsCall};
pub use identity::Identity;
pub use settings::{AwsSettings, OidcRequest, RoleSettings, StaticKeys, github_session_tags};

use crate::runner;
use refresh::{RefreshingRole, RoleAssumer, RoleRoute};

/// A verified AWS connection.
#[derive(Debug, Clone)]
pub struct Connected {
    pub sdk_config: SdkConfig,
    pub identity: Identity,
    pub source: CredentialSource,
}

/// Resolves the credentials, checks them with `GetCallerIdentity`, prints the identity and
/// refuses an account outside `allowed_account_ids`.
pub async fn connect(settings: &AwsSettings) -> Result<Connected, AwsError> {
    let (sdk_config, source) = credentials(settings).await?;
    let sts = aws_sdk_sts::Client::new(&sdk_config);
    let identity = identity::caller_identity(&sts, source).await?;
    if settings.mask_account_id {
        runner::add_mask(&identity.account);
    }
    runner::info(&format!(
        "AWS identity: {} ({})",
        identity.display_arn(settings.mask_account_id),
        describe(source)
    ));
    identity::check_allowed(
        &identity,
        &settings.allowed_account_ids,
        settings.mask_account_id,
        source,
    )?;
    Ok(Connected {
        sdk_config,
        identity,
        source,
    })
}

/// The SDK configuration holding the credentials to use, and where they came from.
async fn credentials(settings: &AwsSettings) -> Result<(SdkConfig, CredentialSource), AwsError> {
    if let Some(keys) = &settings.static_keys {
        mask_static_keys(keys);
    }
    match (&settings.static_keys, &settings.role) {
        (Some(keys), None) => Ok((
            loader(settings)
                .credentials_provider(static_credentials(keys))
                .load()
                .await,
            CredentialSource::Inputs,
        )),
        (None, None) => Ok((loader(settings).load().await, CredentialSource::Ambient)),
        (Some(keys), Some(role)) => {
            let base = loader(settings)
                .credentials_provider(static_credentials(keys))
                .load()
                .await;
            let assumer = RoleAssumer {
                sts: aws_sdk_sts::Client::new(&base),
                role: role.clone(),
                route: RoleRoute::Chained,
            };
            Ok((
                assumed(settings, assumer).await?,
                CredentialSource::ChainedRole,
            ))
        }
        (None, Some(role)) => {
            let request = settings.oidc.clone().ok_or_else(|| {
                AwsError::new(Problem::OidcNotAvailable, CredentialSource::Oidc)
                    .role(Some(&role.arn))
            })?;
            // AssumeRoleWithWebIdentity is unsigned: no ambient credentials are looked up.
            let unsigned = loader(settings).no_credentials().load().await;
            let assumer = RoleAssumer {
                sts: aws_sdk_sts::Client::new(&unsigned),
                role: role.clone(),
                route: RoleRoute::Oidc(request),
            };
            Ok((assumed(settings, assumer).await?, CredentialSource::Oidc))
        }
    }
}

/// Assumes the role now (so a refusal is reported here, classified), and configures the SDK
/// to assume it again before the credentials expire.
async fn assumed(settings: &AwsSettings, assumer: RoleAssumer) -> Result<SdkConfig, AwsError> {
    let first = assumer.assume().await?;
    let provider = RefreshingRole::new(assumer, first);
    Ok(loader(settings).credentials_provider(provider).load().await)
}

/// Region and emulator endpoint, shared by every configuration built here.
fn loader(settings: &AwsSettings) -> ConfigLoader {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(settings.region.clone()));
    match &settings.endpoint_url {
        Some(url) => loader.endpoint_url(url),
        None => loader,
    }
}

fn static_credentials(keys: &StaticKeys) -> Credentials {
    Credentials::new(
        keys.access_key_id.expose().trim(),
        keys.secret_access_key.expose().trim(),
        keys.session_token
            .as_ref()
            .map(|t| t.expose().trim().to_string()),
        None,
        "action-inputs",
    )
}

/// Inputs from `secrets.*` are masked by the runner already; values from elsewhere are not.
fn mask_static_keys(keys: &StaticKeys) {
    runner::add_mask(keys.secret_access_key.expose());
    if let Some(token) = &keys.session_token {
        runner::add_mask(token.expose());
    }
}

fn describe(source: CredentialSource) -> &'static str {
    match source {
        CredentialSource::Inputs => "access keys from the inputs",
        CredentialSource::Ambient => "ambient credentials",
        CredentialSource::Oidc => "role assumed through GitHub OIDC",
        CredentialSource::ChainedRole => "role assumed with the input keys",
    }
}
