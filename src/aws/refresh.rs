//! Role credentials that renew themselves: a deploy can outlive `role-duration-seconds`, so the
//! SDK's identity cache asks again shortly before expiry and the role is assumed anew (with a
//! fresh OIDC token: GitHub's tokens live minutes, the job may run for an hour).
//!
//! The first assumption is made by `connect` itself, so its failure is classified and reported
//! before anything else happens; later failures reach the SDK as a provider error carrying the
//! same sentence.

use std::sync::Mutex;

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials};

use super::error::AwsError;
use super::settings::{OidcRequest, RoleSettings};
use super::{oidc, role};

/// How the role is reached.
#[derive(Debug, Clone)]
pub enum RoleRoute {
    /// `AssumeRole`, signed by the STS client's (input) credentials.
    Chained,
    /// A GitHub OIDC token, then unsigned `AssumeRoleWithWebIdentity`.
    Oidc(OidcRequest),
}

#[derive(Debug)]
pub struct RoleAssumer {
    pub sts: aws_sdk_sts::Client,
    pub role: RoleSettings,
    pub route: RoleRoute,
}

impl RoleAssumer {
    /// One assumption of the role; every secret it yields is masked.
    pub async fn assume(&self) -> Result<Credentials, AwsError> {
        match &self.route {
            RoleRoute::Chained => role::assume_role(&self.sts, &self.role).await,
            RoleRoute::Oidc(request) => {
                let token = oidc::fetch_id_token(request, &self.role.audience).await?;
                role::assume_role_with_web_identity(&self.sts, &self.role, &token).await
            }
        }
    }
}

/// A credentials provider that hands out `connect`'s first credentials once, then assumes the
/// role again whenever the SDK's cache finds them (nearly) expired.
#[derive(Debug)]
pub struct RefreshingRole {
    assumer: RoleAssumer,
    first: Mutex<Option<Credentials>>,
}

impl RefreshingRole {
    pub fn new(assumer: RoleAssumer, first: Credentials) -> Self {
        Self {
            assumer,
            first: Mutex::new(Some(first)),
        }
    }

    async fn credentials(&self) -> provider::Result {
        // A poisoned lock only means another caller panicked; the value is still sound.
        let first = self.first.lock().unwrap_or_else(|p| p.into_inner()).take();
        match first {
            Some(credentials) => Ok(credentials),
            None => self
                .assumer
                .assume()
                .await
                .map_err(CredentialsError::provider_error),
        }
    }
}

impl ProvideCredentials for RefreshingRole {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(self.credentials())
    }
}
