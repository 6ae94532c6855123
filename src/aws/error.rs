//! Turns what STS says into one plain sentence naming the input to fix.
//!
//! Errors are classified by the SDK's error code (`ProvideErrorMetadata::code`), never by message
//! text. The sentence carries AWS's code (and for unclassified errors its message — AWS messages
//! hold no credentials), but never a key, token or JWT.

use std::error::Error as StdError;
use std::fmt;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};

/// Where the credentials being used came from; decides which input the sentence names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialSource {
    /// `aws-access-key-id` / `aws-secret-access-key` (/ `aws-session-token`).
    Inputs,
    /// AWS_* environment of an earlier step, a profile, a container or instance role.
    Ambient,
    /// `role-to-assume` reached through GitHub OIDC.
    Oidc,
    /// `role-to-assume` chained from the input keys.
    ChainedRole,
}

/// The STS call that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StsCall {
    GetCallerIdentity,
    AssumeRole,
    AssumeRoleWithWebIdentity,
}

impl fmt::Display for StsCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::GetCallerIdentity => "GetCallerIdentity",
            Self::AssumeRole => "AssumeRole",
            Self::AssumeRoleWithWebIdentity => "AssumeRoleWithWebIdentity",
        })
    }
}

/// What went wrong, for callers (and tests) that branch on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// `InvalidClientTokenId`: AWS does not know the access key id.
    UnknownAccessKey,
    /// `SignatureDoesNotMatch` / `IncompleteSignature`: the secret key is wrong.
    WrongSecretKey,
    /// `ExpiredToken` / `ExpiredTokenException`: temporary credentials or the OIDC token expired.
    Expired,
    /// `RequestExpired`: the signature's time is too far from AWS's; the runner's clock is off.
    ClockSkew,
    /// `AccessDenied` on an assume call: the trust policy does not allow this caller.
    RoleDenied,
    /// `InvalidIdentityToken` / `IDPRejectedClaim`: AWS does not accept the GitHub OIDC token.
    TokenRejected,
    /// `IDPCommunicationError`: AWS could not reach GitHub to check the token.
    IdpUnreachable,
    /// `ValidationError` / `MalformedPolicyDocument` / `PackedPolicyTooLarge` on an assume call.
    InvalidRoleRequest,
    /// `RegionDisabledException`: STS is not active in the region.
    RegionDisabled,
    /// No credentials anywhere in the default chain.
    NoCredentials,
    /// The default chain found a source but could not load it.
    CredentialsUnloadable,
    /// No answer from STS (connection refused, DNS, timeout).
    Unreachable,
    /// `role-to-assume` without keys, outside a job with `id-token: write`.
    OidcNotAvailable,
    /// The runner's token endpoint failed or answered nonsense.
    OidcRequestFailed,
    /// The identity's account is not in `allowed-account-ids`.
    AccountNotAllowed,
    /// Anything else STS answered.
    Other,
}

/// One plain sentence about a failed credential step; `Display` is that sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub problem: Problem,
    pub call: Option<StsCall>,
    pub source: CredentialSource,
    /// AWS's error code, when AWS answered.
    pub code: Option<String>,
    /// Extra words: AWS's message for unclassified errors, the cause of a connection failure,
    /// the refused account (already masked when asked).
    pub detail: Option<String>,
    /// `role-to-assume`, for sentences about the role.
    pub role_arn: Option<String>,
}

impl AwsError {
    pub fn new(problem: Problem, source: CredentialSource) -> Self {
        Self {
            problem,
            call: None,
            source,
            code: None,
            detail: None,
            role_arn: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn role(mut self, arn: Option<&str>) -> Self {
        self.role_arn = arn.map(str::to_string);
        self
    }

    /// Classifies a failed STS call.
    pub fn from_sdk<E, R>(call: StsCall, source: CredentialSource, err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + StdError + 'static,
        R: fmt::Debug + 'static,
    {
        let mut out = Self::new(Problem::Other, source);
        out.call = Some(call);
        match err {
            SdkError::ServiceError(_) => {
                out.problem = problem_of_code(call, err.code().unwrap_or_default());
                if out.problem == Problem::Other || out.problem == Problem::InvalidRoleRequest {
                    out.detail = err.message().map(str::to_string);
                }
                out.code = err.code().map(str::to_string);
            }
            _ => match credentials_error(err) {
                Some(CredentialsError::CredentialsNotLoaded(_)) => {
                    out.problem = Problem::NoCredentials;
                }
                Some(other) => {
                    out.problem = Problem::CredentialsUnloadable;
                    out.detail = Some(innermost(other));
                }
                None => {
                    out.problem = Problem::Unreachable;
                    out.detail = Some(innermost(err));
                }
            },
        }
        out
    }
}

/// The one place an STS error code becomes a problem.
pub fn problem_of_code(call: StsCall, code: &str) -> Problem {
    let assuming = call != StsCall::GetCallerIdentity;
    match code {
        "InvalidClientTokenId" | "UnrecognizedClientException" => Problem::UnknownAccessKey,
        "SignatureDoesNotMatch" | "IncompleteSignature" => Problem::WrongSecretKey,
        "ExpiredToken" | "ExpiredTokenException" => Problem::Expired,
        "RequestExpired" => Problem::ClockSkew,
        "AccessDenied" | "AccessDeniedException" if assuming => Problem::RoleDenied,
        "InvalidIdentityToken" | "IDPRejectedClaim" => Problem::TokenRejected,
        "IDPCommunicationError" => Problem::IdpUnreachable,
        "ValidationError" | "MalformedPolicyDocument" | "PackedPolicyTooLarge" if assuming => {
            Problem::InvalidRoleRequest
        }
        "RegionDisabledException" => Problem::RegionDisabled,
        _ => Problem::Other,
    }
}

/// A credentials-provider failure somewhere in the error's chain (the SDK wraps it in a
/// dispatch failure), if any.
fn credentials_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a CredentialsError> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<CredentialsError>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// The deepest cause's text: the SDK's outer layers only say "dispatch failure".
fn innermost(err: &(dyn StdError + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CredentialSource::*;
        let role = self.role_arn.as_deref().unwrap_or("the role");
        let after_role = self.call == Some(StsCall::GetCallerIdentity)
            && matches!(self.source, Oidc | ChainedRole);
        let keys = match self.source {
            _ if after_role => "the temporary credentials STS returned for `role-to-assume`",
            Inputs | ChainedRole => "the `aws-access-key-id` input",
            Ambient => {
                "the ambient AWS credentials (AWS_* variables of an earlier step, a profile or an instance role)"
            }
            Oidc => "the GitHub OIDC token",
        };
        match self.problem {
            Problem::UnknownAccessKey => write!(
                f,
                "AWS does not recognise the access key id of {keys}: check it (and `aws-session-token` if the keys are temporary)"
            )?,
            Problem::WrongSecretKey => match self.source {
                Inputs | ChainedRole if !after_role => write!(
                    f,
                    "the secret key does not match the access key id: check the `aws-secret-access-key` input"
                )?,
                _ => write!(
                    f,
                    "the secret key of {keys} does not match its access key id"
                )?,
            },
            Problem::Expired => match (self.call, self.source) {
                (Some(StsCall::AssumeRoleWithWebIdentity), _) => write!(
                    f,
                    "the GitHub OIDC token expired before AWS checked it: re-run the job"
                )?,
                (_, Inputs | ChainedRole) if !after_role => write!(
                    f,
                    "the temporary credentials have expired: refresh `aws-session-token` together with its keys, or use `role-to-assume` through OIDC instead of stored temporary keys"
                )?,
                _ => write!(
                    f,
                    "{keys} have expired: refresh them, or raise `role-duration-seconds`"
                )?,
            },
            Problem::ClockSkew => write!(
                f,
                "AWS rejected the request's timestamp: the runner's clock is off; check its time synchronisation"
            )?,
            Problem::RoleDenied => match self.call {
                Some(StsCall::AssumeRoleWithWebIdentity) => write!(
                    f,
                    "{role} does not trust this workflow's OIDC token: check `role-to-assume` and the role's trust policy (its `token.actions.githubusercontent.com:sub` condition and `:aud` = the `audience` input)"
                )?,
                _ => write!(
                    f,
                    "the `aws-access-key-id` credentials may not assume {role}: check `role-to-assume` and that the role's trust policy allows them (with sts:TagSession when session tags are sent)"
                )?,
            },
            Problem::TokenRejected => write!(
                f,
                "AWS rejected the GitHub OIDC token: the account needs an IAM OIDC identity provider for token.actions.githubusercontent.com whose audience matches the `audience` input"
            )?,
            Problem::IdpUnreachable => write!(
                f,
                "AWS could not reach GitHub's OIDC provider to check the token: re-run the job"
            )?,
            Problem::InvalidRoleRequest => write!(
                f,
                "STS refused the role request for {role}: check `role-to-assume` (a full role ARN), `role-session-name` and `role-duration-seconds` (at most the role's maximum session, and 3600 for a chained role)"
            )?,
            Problem::RegionDisabled => write!(
                f,
                "STS is not active in this region for the account: check the `aws-region` input"
            )?,
            Problem::NoCredentials => write!(
                f,
                "no AWS credentials found: set `aws-access-key-id` and `aws-secret-access-key`, or `role-to-assume` (with `permissions: id-token: write`), or configure credentials in an earlier step"
            )?,
            Problem::CredentialsUnloadable => write!(
                f,
                "the ambient AWS credentials could not be loaded: fix the step or profile that provides them, or set `aws-access-key-id` and `aws-secret-access-key`"
            )?,
            Problem::Unreachable => write!(
                f,
                "could not reach AWS STS: check the `aws-region` and `aws-endpoint-url` inputs and the network"
            )?,
            Problem::OidcNotAvailable => write!(
                f,
                "`role-to-assume` without access keys uses GitHub OIDC, but ACTIONS_ID_TOKEN_REQUEST_URL/ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set: add `permissions: id-token: write` to the job (or give `aws-access-key-id` and `aws-secret-access-key` to chain the role)"
            )?,
            Problem::OidcRequestFailed => write!(
                f,
                "could not get a GitHub OIDC token: check that the job has `permissions: id-token: write`"
            )?,
            Problem::AccountNotAllowed => write!(
                f,
                "the AWS credentials belong to an account that is not in `allowed-account-ids`: check the credentials, or add the account to `allowed-account-ids`"
            )?,
            Problem::Other => write!(
                f,
                "AWS STS {} failed: check the AWS credential inputs",
                self.call.map(|c| c.to_string()).unwrap_or_default()
            )?,
        }
        match (&self.code, &self.detail) {
            (Some(code), Some(detail)) => write!(f, " (AWS said {code}: {detail})"),
            (Some(code), None) => write!(f, " (AWS error code {code})"),
            (None, Some(detail)) => write!(f, " ({detail})"),
            (None, None) => Ok(()),
        }
    }
}

impl StdError for AwsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_classify_by_call() {
        use StsCall::*;
        assert_eq!(
            problem_of_code(GetCallerIdentity, "InvalidClientTokenId"),
            Problem::UnknownAccessKey
        );
        assert_eq!(
            problem_of_code(AssumeRole, "AccessDenied"),
            Problem::RoleDenied
        );
        // AccessDenied on GetCallerIdentity is not about a role (an SCP, say).
        assert_eq!(
            problem_of_code(GetCallerIdentity, "AccessDenied"),
            Problem::Other
        );
        assert_eq!(
            problem_of_code(AssumeRoleWithWebIdentity, "ExpiredTokenException"),
            Problem::Expired
        );
        assert_eq!(problem_of_code(AssumeRole, "Throttling"), Problem::Other);
    }

    #[test]
    fn the_sentence_names_the_input_to_fix() {
        let mut e = AwsError::new(Problem::WrongSecretKey, CredentialSource::Inputs);
        e.code = Some("SignatureDoesNotMatch".into());
        assert_eq!(
            e.to_string(),
            "the secret key does not match the access key id: check the `aws-secret-access-key` input (AWS error code SignatureDoesNotMatch)"
        );
        let e = AwsError::new(Problem::RoleDenied, CredentialSource::ChainedRole)
            .role(Some("arn:aws:iam::1:role/deploy"));
        assert!(
            e.to_string()
                .contains("may not assume arn:aws:iam::1:role/deploy"),
            "{e}"
        );
    }
}
