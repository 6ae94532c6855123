//! AWS inputs: region, credentials (static keys, an OIDC role, or what the SDK finds), the
//! account guard and the endpoint override.

use super::context::{Env, GithubContext};
use super::errors::InputErrors;
use super::raw::RawInputs;
use super::values::{self, shown};
use super::{Mode, input_or_default};
use crate::aws::StaticKeys;
use crate::secret::Secret;

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

pub(super) fn is_region(v: &str) -> bool {
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

pub(super) fn is_role_arn(v: &str) -> bool {
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

pub(super) fn build(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions() {
        for good in [
            "us-east-1",
            "ap-southeast-2",
            "us-gov-west-1",
            "cn-north-1",
            "eu-central-2",
        ] {
            assert!(is_region(good), "{good}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "useast1",
            "us-east-1a",
            "us--1",
            "u-east-1",
            "us-east-1 ",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
    }

    #[test]
    fn role_arns() {
        for good in [
            "arn:aws:iam::123456789012:role/deploy",
            "arn:aws-us-gov:iam::123456789012:role/path/to/x+=,.@_-",
            "arn:aws-cn:iam::123456789012:role/r",
        ] {
            assert!(is_role_arn(good), "{good}");
        }
        for bad in [
            "",
            "arn:aws:iam::12345678901:role/short-account",
            "arn:aws:iam::123456789012:user/someone",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:sts::123456789012:role/x",
            "arn:aws:iam:us-east-1:123456789012:role/x",
            "arn:gcp:iam::123456789012:role/x",
            "arn:aws:iam::123456789012:role/sp ace",
        ] {
            assert!(!is_role_arn(bad), "{bad}");
        }
    }

    fn errors_of(pairs: &[(&str, &str)], env: &Env) -> Vec<(&'static str, String)> {
        let mut errs = InputErrors::default();
        let gh = GithubContext::from_env(env);
        build(
            &RawInputs::from_pairs(pairs),
            env,
            &gh,
            Some(Mode::Deploy),
            &mut errs,
        );
        errs.0.into_iter().map(|e| (e.input, e.message)).collect()
    }

    #[test]
    fn keys_come_in_pairs_and_a_role_needs_a_token_or_keys() {
        let env = Env::default();
        let e = errors_of(&[("aws-access-key-id", "AKIA")], &env);
        assert_eq!(e[0].0, "aws-secret-access-key");
        let e = errors_of(&[("aws-session-token", "t")], &env);
        assert_eq!(e[0].0, "aws-session-token");
        let e = errors_of(
            &[("role-to-assume", "arn:aws:iam::123456789012:role/d")],
            &env,
        );
        assert!(e[0].1.contains("id-token: write"), "{e:?}");
        let e = errors_of(&[], &env);
        assert!(e[0].1.contains("AWS_DEPLOY_ROLE_ARN"), "{e:?}");
        let keys = [
            ("aws-access-key-id", "AKIA"),
            ("aws-secret-access-key", "s"),
        ];
        assert!(errors_of(&keys, &env).is_empty());
    }

    #[test]
    fn endpoint_is_http_only_to_loopback_and_accounts_are_twelve_digits() {
        let keys = [
            ("aws-access-key-id", "AKIA"),
            ("aws-secret-access-key", "s"),
        ];
        let with = |extra: (&'static str, &'static str)| {
            let mut v = keys.to_vec();
            v.push(extra);
            errors_of(&v, &Env::default())
        };
        assert!(with(("aws-endpoint-url", "http://127.0.0.1:5000")).is_empty());
        assert!(with(("aws-endpoint-url", "http://[::1]:5000")).is_empty());
        assert!(with(("aws-endpoint-url", "https://cfn.example.com")).is_empty());
        assert_eq!(
            with(("aws-endpoint-url", "http://10.0.0.1"))[0].0,
            "aws-endpoint-url"
        );
        assert_eq!(
            with(("aws-endpoint-url", "moto:5000"))[0].0,
            "aws-endpoint-url"
        );
        assert!(with(("allowed-account-ids", "123456789012, 210987654321")).is_empty());
        assert_eq!(
            with(("allowed-account-ids", "1234"))[0].0,
            "allowed-account-ids"
        );
        assert_eq!(with(("aws-region", "Mars-1"))[0].0, "aws-region");
        let e = errors_of(
            &[
                ("aws-access-key-id", "AKIA"),
                ("aws-secret-access-key", "s"),
                ("role-to-assume", "arn:aws:iam::123456789012:role/d"),
                ("role-duration-seconds", "60"),
            ],
            &Env::default(),
        );
        assert_eq!(e[0].0, "role-duration-seconds");
    }
}
