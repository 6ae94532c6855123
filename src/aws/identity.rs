//! Who the credentials are: the first AWS call of a run, before any push or deploy.

use aws_sdk_sts::error::SdkError;

use super::error::{AwsError, CredentialSource, Problem, StsCall};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub arn: String,
    pub account: String,
    pub user_id: String,
}

impl Identity {
    /// The ARN for the log, with the account id replaced by `***` when it is masked (the
    /// runner masks it too, but a plain CLI run has no runner).
    pub fn display_arn(&self, mask_account_id: bool) -> String {
        if mask_account_id && !self.account.is_empty() {
            self.arn.replace(&self.account, "***")
        } else {
            self.arn.clone()
        }
    }
}

/// `GetCallerIdentity`; errors name the input to fix for the given credential source.
pub async fn caller_identity(
    sts: &aws_sdk_sts::Client,
    source: CredentialSource,
) -> Result<Identity, AwsError> {
    let output = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e: SdkError<_, _>| AwsError::from_sdk(StsCall::GetCallerIdentity, source, &e))?;
    let missing = |what: &str| {
        AwsError::new(Problem::Other, source)
            .detail(format!("GetCallerIdentity answered without {what}"))
    };
    Ok(Identity {
        arn: output.arn().ok_or_else(|| missing("an ARN"))?.to_string(),
        account: output
            .account()
            .ok_or_else(|| missing("an account"))?
            .to_string(),
        user_id: output.user_id().unwrap_or_default().to_string(),
    })
}

/// Refuses an account that is not listed; an empty list allows every account.
pub fn check_allowed(
    identity: &Identity,
    allowed: &[String],
    mask_account_id: bool,
    source: CredentialSource,
) -> Result<(), AwsError> {
    if allowed.is_empty() || allowed.iter().any(|a| a.trim() == identity.account) {
        return Ok(());
    }
    let account = if mask_account_id {
        "***"
    } else {
        identity.account.as_str()
    };
    Err(
        AwsError::new(Problem::AccountNotAllowed, source).detail(format!(
            "account {account}; allowed: {}",
            allowed.join(", ")
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            arn: "arn:aws:sts::123456789012:assumed-role/deploy/gha".into(),
            account: "123456789012".into(),
            user_id: "AROA:gha".into(),
        }
    }

    #[test]
    fn masks_the_account_in_the_printed_arn() {
        assert_eq!(
            identity().display_arn(true),
            "arn:aws:sts::***:assumed-role/deploy/gha"
        );
        assert_eq!(identity().display_arn(false), identity().arn);
    }

    #[test]
    fn refuses_unlisted_accounts_only() {
        let src = CredentialSource::Inputs;
        assert!(check_allowed(&identity(), &[], true, src).is_ok());
        assert!(check_allowed(&identity(), &["123456789012".into()], true, src).is_ok());
        let err = check_allowed(&identity(), &["111111111111".into()], true, src).unwrap_err();
        assert_eq!(err.problem, Problem::AccountNotAllowed);
        assert!(!err.to_string().contains("123456789012"), "{err}");
        let err = check_allowed(&identity(), &["111111111111".into()], false, src).unwrap_err();
        assert!(err.to_string().contains("account 123456789012"), "{err}");
    }
}
