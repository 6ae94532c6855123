//! Stage one of the inputs: plain strings, from CLI flags or the runner's `INPUT_*` variables.
//! One table declares every input; `action.yml`, the README and `--help` are checked against it.

use crate::runner::inputs;
use clap::Parser;

/// One declared input: its action.yml name, default, and whether its value is a secret.
#[derive(Debug, Clone, Copy)]
pub struct InputSpec {
    pub name: &'static str,
    pub default: &'static str,
    pub secret: bool,
}

macro_rules! inputs {
    ($( $field:ident : $name:literal, default $default:literal, secret $secret:literal, $help:literal; )*) => {
        /// Inputs as given: a CLI flag wins over the `INPUT_*` variable of the same name.
        #[derive(Debug, Default, Clone, Parser)]
        #[command(
            name = "ecs-poc-action",
            version,
            about = "Push a web image through the registry HTTP API and deploy it to ECS Fargate with CloudFormation.",
            long_about = "Push a web image through the registry HTTP API and deploy it to ECS Fargate with CloudFormation.\n\nEvery flag mirrors an input of the GitHub Action (action.yml); inside Actions the INPUT_* variables the runner sets are read when a flag is absent."
        )]
        pub struct RawInputs {
            $(
                #[doc = $help]
                #[arg(long = $name, value_name = "VALUE")]
                pub $field: Option<String>,
            )*
        }

        pub const INPUTS: &[InputSpec] = &[
            $( InputSpec { name: $name, default: $default, secret: $secret }, )*
        ];

        impl RawInputs {
            /// Fills every input not given as a flag from its `INPUT_*` variable, then trims and
            /// drops empty values (the runner exports every declared input, empty when unset).
            pub fn fill_from(&mut self, lookup: impl Fn(&str) -> Option<String>) {
                $(
                    let value = self.$field.take().or_else(|| lookup(&inputs::env_name($name)));
                    self.$field = inputs::normalize(value);
                )*
            }

            /// The value of an input by its action.yml name.
            pub fn get(&self, name: &str) -> Option<&str> {
                match name {
                    $( $name => self.$field.as_deref(), )*
                    _ => None,
                }
            }
        }
    };
}

inputs! {
    mode: "mode", default "deploy", secret false, "deploy (push + deploy), push, preview (change set only, nothing executed) or destroy";
    aws_region: "aws-region", default "ap-southeast-2", secret false, "AWS region to deploy to";
    aws_access_key_id: "aws-access-key-id", default "", secret true, "AWS access key id (static credentials; prefer role-to-assume with OIDC)";
    aws_secret_access_key: "aws-secret-access-key", default "", secret true, "AWS secret access key";
    aws_session_token: "aws-session-token", default "", secret true, "AWS session token, for temporary static credentials";
    role_to_assume: "role-to-assume", default "", secret false, "IAM role ARN: assumed with the GitHub OIDC token, or chained from the static keys";
    role_session_name: "role-session-name", default "ecs-poc-action", secret false, "session name of the assumed role";
    role_duration_seconds: "role-duration-seconds", default "3600", secret false, "lifetime of the assumed role's credentials (900..43200)";
    audience: "audience", default "sts.amazonaws.com", secret false, "audience of the GitHub OIDC token";
    allowed_account_ids: "allowed-account-ids", default "", secret false, "comma-separated AWS account ids; any other account is refused";
    mask_account_id: "mask-account-id", default "true", secret false, "mask the AWS account id in logs";
    aws_endpoint_url: "aws-endpoint-url", default "", secret false, "endpoint override for STS, CloudFormation and ECS (moto, LocalStack)";
    docker_hub_username: "docker-hub-username", default "", secret false, "registry user name";
    docker_hub_token: "docker-hub-token", default "", secret true, "registry password or Docker Hub personal access token";
    registry: "registry", default "docker.io", secret false, "registry host; docker.io means registry-1.docker.io with auth.docker.io tokens";
    image: "image", default "", secret false, "repository to push to (default <docker-hub-username>/<repository name>); without an image source, an existing reference (tag or digest) to deploy";
    tags: "tags", default "", secret false, "comma/newline list of tags (default sha-<short sha> and latest)";
    image_archive: "image-archive", default "", secret false, "docker save tar, OCI archive or OCI layout directory to push";
    image_from: "image-from", default "", secret false, "daemonless build: a static binary or a directory made into a one-layer image on scratch; or one linux/amd64=PATH / linux/arm64=PATH line per platform, pushed as a multi-platform index";
    image_cmd: "image-cmd", default "", secret false, "daemonless build: entrypoint (JSON array or a single path; default the binary)";
    image_port: "image-port", default "", secret false, "daemonless build: exposed port (default container-port)";
    image_env: "image-env", default "", secret false, "daemonless build: environment, K=V lines";
    compression: "compression", default "gzip", secret false, "compression of uncompressed layers: gzip or zstd";
    push_concurrency: "push-concurrency", default "4", secret false, "layers uploaded at once (1..32)";
    mount_from: "mount-from", default "", secret false, "a repository on the same registry to mount missing layers from (cross-repository blob mount)";
    stack_name: "stack-name", default "", secret false, "CloudFormation stack name (default ecs-poc-<repository name>)";
    cloudformation_role_arn: "cloudformation-role-arn", default "", secret false, "IAM role CloudFormation acts as for the stack (RoleARN; deployer-role.yml's CloudFormationRoleArn)";
    stack_name_suffix: "stack-name-suffix", default "", secret false, "appended to the stack name with a hyphen, e.g. pr-7 for a pull request's preview stack";
    template: "template", default "", secret false, "template file (default: the bundled cloudformation/ecs-webapp.yml)";
    parameter_overrides: "parameter-overrides", default "", secret false, "extra stack parameters: YAML/JSON map, K=V lines, or a file path";
    min_capacity: "min-capacity", default "2", secret false, "fewest running tasks (1..100)";
    max_capacity: "max-capacity", default "10", secret false, "most running tasks (1..100)";
    target_cpu: "target-cpu", default "70", secret false, "average CPU % the service scales to hold (10..90)";
    container_port: "container-port", default "8080", secret false, "port the web container listens on";
    desired_count: "desired-count", default "", secret false, "tasks at first create (default min-capacity); empty on updates keeps the live, auto-scaled count";
    capabilities: "capabilities", default "CAPABILITY_IAM", secret false, "comma list of CloudFormation capabilities";
    stack_tags: "stack-tags", default "", secret false, "stack tags: YAML/JSON map or K=V lines";
    termination_protection: "termination-protection", default "false", secret false, "enable termination protection on the stack";
    timeout_minutes: "timeout-minutes", default "30", secret false, "how long to wait for the stack (1..360)";
    domain_name: "domain-name", default "", secret false, "name the service answers on over HTTPS (app.example.com); with hosted-zone-id the stack creates the certificate and the alias record";
    hosted_zone_id: "hosted-zone-id", default "", secret false, "Route 53 public hosted zone of domain-name (Z...): DNS validation of the certificate and the alias record go there";
    health_check_path: "health-check-path", default "/health", secret false, "ALB health check and post-deploy smoke check path";
    smoke_check: "smoke-check", default "true", secret false, "GET the service URL + health-check-path after deploying";
    smoke_check_timeout: "smoke-check-timeout", default "180", secret false, "seconds the smoke check may take before it fails (5..1800)";
    rollback_on_failure: "rollback-on-failure", default "true", secret false, "redeploy the previous image when the smoke check fails";
    keep_change_set: "keep-change-set", default "false", secret false, "preview: keep the change set instead of deleting it";
    pull_credentials_secret_arn: "pull-credentials-secret-arn", default "", secret false, "Secrets Manager ARN of registry pull credentials for the tasks (Docker Hub rate limits)";
    github_token: "github-token", default "", secret true, "token for the GitHub Deployment and the PR plan comment";
    environment: "environment", default "production", secret false, "GitHub environment of the Deployment";
    github_deployment: "github-deployment", default "true", secret false, "record the deploy as a GitHub Deployment; false when the job declares `environment:` (the runner records one already)";
    transient_environment: "transient-environment", default "false", secret false, "the Deployment's environment is temporary (a preview): marked transient and non-production";
}

impl RawInputs {
    /// CLI flags, then the runner's variables from the process environment.
    pub fn from_process() -> Self {
        let mut raw = Self::parse();
        raw.fill_from(|var| std::env::var(var).ok());
        raw
    }

    /// Every secret value given, for `::add-mask::` before anything else is printed.
    pub fn secrets(&self) -> Vec<&str> {
        INPUTS
            .iter()
            .filter(|i| i.secret)
            .filter_map(|i| self.get(i.name))
            .collect()
    }

    /// The account ids in the ARN inputs, unless `mask-account-id` is plainly `false` (an
    /// invalid value is reported later; masking meanwhile is the safe side).
    pub fn account_ids_to_mask(&self) -> Vec<&str> {
        if self
            .get("mask-account-id")
            .is_some_and(|v| super::values::boolean(v) == Ok(false))
        {
            return Vec::new();
        }
        ["role-to-assume", "pull-credentials-secret-arn"]
            .iter()
            .filter_map(|name| self.get(name))
            .filter_map(|arn| arn.trim().split(':').nth(4))
            .filter(|account| account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
            .collect()
    }
}

#[cfg(test)]
impl RawInputs {
    /// The inputs as the runner would pass these `(name, value)` pairs.
    pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        let mut raw = Self::default();
        raw.fill_from(|var| {
            pairs
                .iter()
                .find(|(k, _)| inputs::env_name(k) == var)
                .map(|(_, v)| v.to_string())
        });
        raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_runner_variables_and_empty_means_unset() {
        let mut raw = RawInputs::try_parse_from(["x", "--aws-region", "eu-west-1"]).unwrap();
        raw.fill_from(|var| match var {
            "INPUT_AWS-REGION" => Some("us-east-1".into()),
            "INPUT_STACK-NAME" => Some("  ".into()),
            "INPUT_MODE" => Some(" push \n".into()),
            _ => None,
        });
        assert_eq!(raw.aws_region.as_deref(), Some("eu-west-1"));
        assert_eq!(raw.stack_name, None);
        assert_eq!(raw.mode.as_deref(), Some("push"));
    }

    #[test]
    fn account_ids_of_arn_inputs_are_masked_unless_told_not_to() {
        let mut raw = RawInputs {
            role_to_assume: Some("arn:aws:iam::210987654321:role/deploy".into()),
            pull_credentials_secret_arn: Some(
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:hub".into(),
            ),
            ..RawInputs::default()
        };
        assert_eq!(
            raw.account_ids_to_mask(),
            vec!["210987654321", "123456789012"]
        );
        raw.role_to_assume = Some("arn:aws:iam::12:role/short".into());
        assert_eq!(raw.account_ids_to_mask(), vec!["123456789012"]);
        raw.mask_account_id = Some("False".into());
        assert!(raw.account_ids_to_mask().is_empty());
    }
}
