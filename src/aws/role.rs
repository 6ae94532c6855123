//! `role-to-assume`: chained from the input keys with `AssumeRole`, or reached through GitHub
//! OIDC with `AssumeRoleWithWebIdentity`. Both return masked, expiring credentials.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sdk_sts::types::Tag;

use super::error::{AwsError, CredentialSource, Problem, StsCall};
use super::settings::RoleSettings;
use crate::runner;
use crate::secret::Secret;

/// `AssumeRole` with the caller's (input) credentials, with the run's session tags.
pub async fn assume_role(
    sts: &aws_sdk_sts::Client,
    role: &RoleSettings,
) -> Result<Credentials, AwsError> {
    let source = CredentialSource::ChainedRole;
    let tags = role
        .session_tags
        .iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(source, role, e.to_string()))?;
    let output = sts
        .assume_role()
        .role_arn(&role.arn)
        .role_session_name(&role.session_name)
        .duration_seconds(role.duration_seconds)
        .set_tags((!tags.is_empty()).then_some(tags))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(StsCall::AssumeRole, source, &e).role(Some(&role.arn)))?;
    into_credentials(output.credentials(), source, role, "AssumeRole")
}

/// `AssumeRoleWithWebIdentity` with a GitHub OIDC token. The call is unsigned, so `sts` may be
/// built without credentials.
pub async fn assume_role_with_web_identity(
    sts: &aws_sdk_sts::Client,
    role: &RoleSettings,
    token: &Secret,
) -> Result<Credentials, AwsError> {
    let source = CredentialSource::Oidc;
    let output = sts
        .assume_role_with_web_identity()
        .role_arn(&role.arn)
        .role_session_name(&role.session_name)
        .duration_seconds(role.duration_seconds)
        .web_identity_token(token.expose())
        .send()
        .await
        .map_err(|e| {
            AwsError::from_sdk(StsCall::AssumeRoleWithWebIdentity, source, &e).role(Some(&role.arn))
        })?;
    into_credentials(
        output.credentials(),
        source,
        role,
        "AssumeRoleWithWebIdentity",
    )
}

fn invalid(source: CredentialSource, role: &RoleSettings, detail: String) -> AwsError {
    AwsError::new(Problem::InvalidRoleRequest, source)
        .role(Some(&role.arn))
        .detail(detail)
}

/// Masks the secret parts first, then hands them to the SDK's credential type.
fn into_credentials(
    credentials: Option<&aws_sdk_sts::types::Credentials>,
    source: CredentialSource,
    role: &RoleSettings,
    provider: &'static str,
) -> Result<Credentials, AwsError> {
    let c = credentials
        .ok_or_else(|| invalid(source, role, "STS answered without credentials".into()))?;
    runner::add_mask(c.secret_access_key());
    runner::add_mask(c.session_token());
    // configure-aws-credentials masks the temporary key id too; it is of no use to a reader.
    runner::add_mask(c.access_key_id());
    let expiry = SystemTime::try_from(*c.expiration()).ok();
    Ok(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        expiry,
        provider,
    ))
}
