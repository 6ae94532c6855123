//! What `connect` needs, as plain typed values the config stage fills from the inputs.

use crate::secret::Secret;

/// How to reach AWS and which identity to use.
#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub region: String,
    /// An emulator's address (moto, LocalStack); STS, CloudFormation and ECS all use it.
    pub endpoint_url: Option<String>,
    /// `aws-access-key-id` / `aws-secret-access-key` / `aws-session-token`; `None` means the
    /// ambient credentials (AWS_* environment, profile, container or instance role).
    pub static_keys: Option<StaticKeys>,
    /// `role-to-assume`: chained from the static keys when given, else through GitHub OIDC.
    pub role: Option<RoleSettings>,
    /// Where to ask GitHub for an OIDC token (from the runner's variables). Only used when a
    /// role is assumed without keys.
    pub oidc: Option<OidcRequest>,
    /// Empty: any account.
    pub allowed_account_ids: Vec<String>,
    /// Mask the account id in logs (`::add-mask::` and `***` in the printed ARN).
    pub mask_account_id: bool,
}

#[derive(Debug, Clone)]
pub struct StaticKeys {
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

#[derive(Debug, Clone)]
pub struct RoleSettings {
    pub arn: String,
    pub session_name: String,
    pub duration_seconds: i32,
    /// The OIDC token's audience; AWS's IAM identity provider expects `sts.amazonaws.com`.
    pub audience: String,
    /// Sent with `AssumeRole` (role chaining) only: `AssumeRoleWithWebIdentity` takes its
    /// tags from the token itself. See [`github_session_tags`].
    pub session_tags: Vec<(String, String)>,
}

/// The runner's OIDC token endpoint, present only with `permissions: id-token: write`.
#[derive(Debug, Clone)]
pub struct OidcRequest {
    pub url: String,
    pub bearer: Secret,
}

impl OidcRequest {
    /// `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, when both are set.
    pub fn from_lookup(env: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let url = env("ACTIONS_ID_TOKEN_REQUEST_URL").filter(|v| !v.trim().is_empty())?;
        let bearer = env("ACTIONS_ID_TOKEN_REQUEST_TOKEN").filter(|v| !v.trim().is_empty())?;
        Some(Self {
            url: url.trim().to_string(),
            bearer: Secret::new(bearer.trim()),
        })
    }
}

/// Session tags naming the run (as aws-actions/configure-aws-credentials sends them), so
/// CloudTrail shows which workflow used the role. Unset variables are left out.
pub fn github_session_tags(env: impl Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    const TAGS: [(&str, &str); 6] = [
        ("GitHub", "GITHUB_ACTIONS"),
        ("Repository", "GITHUB_REPOSITORY"),
        ("Workflow", "GITHUB_WORKFLOW"),
        ("Actor", "GITHUB_ACTOR"),
        ("Commit", "GITHUB_SHA"),
        ("Branch", "GITHUB_REF"),
    ];
    TAGS.iter()
        .filter_map(|(key, var)| {
            let value = env(var).filter(|v| !v.is_empty())?;
            let value = if *key == "GitHub" {
                "Actions".to_string()
            } else {
                value
            };
            Some((key.to_string(), sanitize_tag_value(&value)))
        })
        .collect()
}

/// STS accepts tag values of at most 256 characters from `[\p{L}\p{Z}\p{N}_.:/=+\-@]`;
/// anything else (a workflow name with `#`, say) would fail the whole `AssumeRole`.
pub fn sanitize_tag_value(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            let allowed = c.is_alphanumeric()
                || c == ' '
                || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@');
            if allowed { c } else { '_' }
        })
        .take(256)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_values_keep_only_what_sts_accepts() {
        assert_eq!(sanitize_tag_value("CI #1 (main)"), "CI _1 _main_");
        assert_eq!(
            sanitize_tag_value("refs/heads/feat-x@v1.0:a=b+c"),
            "refs/heads/feat-x@v1.0:a=b+c"
        );
        assert_eq!(sanitize_tag_value(&"x".repeat(300)).len(), 256);
    }

    #[test]
    fn session_tags_name_the_run_and_skip_unset_variables() {
        let env = |name: &str| match name {
            "GITHUB_ACTIONS" => Some("true".to_string()),
            "GITHUB_REPOSITORY" => Some("octo/app".to_string()),
            "GITHUB_WORKFLOW" => Some("Deploy #2".to_string()),
            "GITHUB_SHA" => Some("abc123".to_string()),
            _ => None,
        };
        assert_eq!(
            github_session_tags(env),
            vec![
                ("GitHub".to_string(), "Actions".to_string()),
                ("Repository".to_string(), "octo/app".to_string()),
                ("Workflow".to_string(), "Deploy _2".to_string()),
                ("Commit".to_string(), "abc123".to_string()),
            ]
        );
    }

    #[test]
    fn oidc_request_needs_both_variables() {
        let both = |n: &str| Some(format!(" {n} "));
        let request = OidcRequest::from_lookup(both).expect("both set");
        assert_eq!(request.url, "ACTIONS_ID_TOKEN_REQUEST_URL");
        assert_eq!(request.bearer.expose(), "ACTIONS_ID_TOKEN_REQUEST_TOKEN");
        let url_only = |n: &str| (n == "ACTIONS_ID_TOKEN_REQUEST_URL").then(|| "u".to_string());
        assert!(OidcRequest::from_lookup(url_only).is_none());
    }
}
