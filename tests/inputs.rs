//! Bad inputs, through the real binary with a runner-shaped environment: every case names the
//! input and what was expected, exits 2, and never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

mod common;

use common::runner::{HostRun, HostRunner};
use std::process::Command;

const SECRET: &str = "Sup3rS3cretValue-7f1e";

/// Runs the binary as the runner would (tests/common/runner.rs), plus `given` and `extra_env`.
/// The workspace is `/` unless `extra_env` names one: each case here tests one input's rule,
/// and absolute paths such as /dev/zero must reach that rule rather than the workspace rule
/// (tested on its own below).
fn run(given: &[(&str, &str)], extra_env: &[(&str, &str)]) -> HostRun {
    let mut env = vec![("GITHUB_WORKSPACE", "/")];
    env.extend_from_slice(extra_env);
    HostRunner::new().run(given, &env)
}

const KEYS: &[(&str, &str)] = &[
    ("aws-access-key-id", "AKIAEXAMPLEKEY123456"),
    ("aws-secret-access-key", SECRET),
];

fn with_keys<'a>(more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut v: Vec<(&str, &str)> = KEYS.to_vec();
    v.push(("image", "octo/app:1.0"));
    v.extend_from_slice(more);
    v
}

/// Asserts exit 2 and an `::error` annotation for `input` containing `expected`.
fn assert_rejects(out: &HostRun, input: &str, expected: &str) {
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert_eq!(
        out.output.status.code(),
        Some(2),
        "exit code for {input}; stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let prefix = format!("::error title=Input {input}::input `{input}`: ");
    let found = stdout
        .lines()
        .any(|l| l.starts_with(&prefix) && l.contains(expected));
    assert!(
        found,
        "no error for {input} containing {expected:?} in:\n{stdout}"
    );
    assert!(
        !stdout
            .replace(&format!("::add-mask::{SECRET}"), "")
            .contains(SECRET),
        "secret leaked:\n{stdout}"
    );
    assert!(!stderr.contains(SECRET));
    assert_eq!(out.github_output, "", "no outputs from a rejected run");
    assert!(!out.step_summary.contains(SECRET));
}

macro_rules! rejects {
    ($($name:ident: [$($k:literal => $v:expr),*] => $input:literal, $expected:literal;)*) => {$(
        #[test]
        fn $name() {
            let out = run(&with_keys(&[$(($k, $v)),*]), &[]);
            assert_rejects(&out, $input, $expected);
        }
    )*};
}

rejects! {
    unknown_mode: ["mode" => "apply"] => "mode", "expected one of deploy, push, preview, destroy; got \"apply\"";
    bad_region: ["aws-region" => "Sydney"] => "aws-region", "expected an AWS region such as us-east-1";
    max_below_min: ["min-capacity" => "5", "max-capacity" => "3"] => "max-capacity", "must be at least min-capacity (5), got 3";
    target_cpu_zero: ["target-cpu" => "0"] => "target-cpu", "expected a whole number from 10 to 90, got \"0\"";
    // The template's TargetCpuUtilization is 10..90: 95 must fail here, not at CreateChangeSet.
    target_cpu_over_template_max: ["target-cpu" => "95"] => "target-cpu", "from 10 to 90";
    capacity_not_a_number: ["min-capacity" => "two"] => "min-capacity", "expected a whole number from 1 to 100, got \"two\"";
    capacity_over_template_max: ["min-capacity" => "2", "max-capacity" => "101"] => "max-capacity", "from 1 to 100";
    bad_cloudformation_role: ["cloudformation-role-arn" => "ecs-poc-myapp-cloudformation"] => "cloudformation-role-arn", "expected an IAM role ARN";
    service_role_without_boundary: ["cloudformation-role-arn" => "arn:aws:iam::123456789012:role/ecs-poc-myapp-cloudformation"] => "parameter-overrides", "PermissionsBoundaryArn must be given with cloudformation-role-arn";
    desired_outside_range: ["desired-count" => "11"] => "desired-count", "must be within min-capacity..max-capacity (2..10), got 11";
    bad_port: ["container-port" => "70000"] => "container-port", "from 1 to 65535";
    bad_stack_name: ["stack-name" => "1-bad_name"] => "stack-name", "starting with a letter (CloudFormation's rule)";
    bad_stack_name_suffix: ["stack-name" => "web", "stack-name-suffix" => "pr_7-"] => "stack-name-suffix", "letters, digits and hyphens, not starting or ending with a hyphen";
    suffixed_stack_name_too_long: ["stack-name" => "w".repeat(124).as_str(), "stack-name-suffix" => "pr-7"] => "stack-name-suffix", "makes the stack name 129 characters long";
    bad_transient_environment: ["transient-environment" => "maybe"] => "transient-environment", "expected true or false";
    bad_tag: ["tags" => "ok, -bad"] => "tags", "tag \"-bad\" is not valid";
    bad_overrides: ["parameter-overrides" => "Cpu=256\nnot a pair"] => "parameter-overrides", "expected K=V on each line, got \"not a pair\"";
    bad_override_name: ["parameter-overrides" => "My-Param=1"] => "parameter-overrides", "is not a CloudFormation parameter name";
    missing_archive: ["image" => "octo/app", "image-archive" => "/nonexistent/image.tar"] => "image-archive", "does not exist: expected a docker save tar";
    archive_and_build: ["image" => "octo/app", "image-archive" => "/", "image-from" => "/"] => "image-from", "either image-archive or image-from, not both";
    bad_compression: ["compression" => "brotli"] => "compression", "compression must be gzip or zstd, not \"brotli\"";
    bad_concurrency: ["push-concurrency" => "0"] => "push-concurrency", "from 1 to 32";
    bad_bool: ["smoke-check" => "yes please"] => "smoke-check", "expected true or false, got \"yes please\"";
    bad_termination_protection: ["termination-protection" => "1"] => "termination-protection", "expected true or false";
    bad_timeout: ["timeout-minutes" => "0"] => "timeout-minutes", "from 1 to 360";
    bad_capability: ["capabilities" => "CAPABILITY_IAM,CAPABILITY_ROOT"] => "capabilities", "got \"CAPABILITY_ROOT\"";
    bad_role_arn: ["role-to-assume" => "my-role"] => "role-to-assume", "expected an IAM role ARN";
    bad_duration: ["role-to-assume" => "arn:aws:iam::123456789012:role/deployer", "role-duration-seconds" => "60"] => "role-duration-seconds", "from 900 to 43200";
    bad_account_ids: ["allowed-account-ids" => "123456789012, 42"] => "allowed-account-ids", "expected 12-digit AWS account ids, got \"42\"";
    bad_endpoint: ["aws-endpoint-url" => "localhost:5000"] => "aws-endpoint-url", "expected an http(s) URL";
    bad_health_path: ["health-check-path" => "health"] => "health-check-path", "starting with /";
    bad_image_repository: ["image" => "Octo/App:1"] => "image", "repository \"Octo/App\" is not valid";
    image_without_reference: ["image" => "octo/app"] => "image", "names no tag or digest and there is no image source";
    bad_registry: ["registry" => "https://ghcr.io"] => "registry", "without a scheme";
    token_without_user: ["docker-hub-token" => SECRET] => "docker-hub-username", "required when docker-hub-token is given";
    key_without_secret: ["aws-secret-access-key" => ""] => "aws-secret-access-key", "required when aws-access-key-id is given";
    bad_secret_arn: ["pull-credentials-secret-arn" => "my-secret"] => "pull-credentials-secret-arn", "expected a Secrets Manager secret ARN";
    bad_stack_tags: ["stack-tags" => "aws:owner=me"] => "stack-tags", "not starting with aws:";
    cmd_without_build: ["image-cmd" => "/app"] => "image-cmd", "only applies to the daemonless build";
    image_host_is_not_the_registry: ["image" => "evil.example.com/octo/app:1.0"] => "image", "names registry host \"evil.example.com\" but the registry input is \"docker.io\": credentials are only sent to the registry input's host";
    plain_http_endpoint_elsewhere: ["aws-endpoint-url" => "http://moto.example.com:5000"] => "aws-endpoint-url", "plain HTTP is only allowed to a loopback host";
    template_from_a_device: ["template" => "/dev/zero"] => "template", "\"/dev/zero\" is not a regular file";
    overrides_from_a_device: ["parameter-overrides" => "file:///dev/zero"] => "parameter-overrides", "\"/dev/zero\" is not a regular file";
}

/// The registry's credentials never follow a host named inside `image`: the run stops at input
/// validation, and the host named there is never contacted.
#[test]
fn an_image_on_another_host_gets_no_credentials() {
    let evil = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    evil.set_nonblocking(true).unwrap();
    let image = format!("{}/octo/app", evil.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("server");
    std::fs::write(&bin, b"x").unwrap();
    let out = run(
        &[
            ("mode", "push"),
            ("image", &image),
            ("image-from", bin.to_str().unwrap()),
            ("docker-hub-username", "octo"),
            ("docker-hub-token", SECRET),
        ],
        &[],
    );
    assert_rejects(
        &out,
        "image",
        "credentials are only sent to the registry input's host",
    );
    assert!(
        evil.accept()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
        "the host named in image was contacted"
    );
}

/// The same registry spelled differently is not "another host".
#[test]
fn an_image_naming_the_registry_itself_is_accepted() {
    for (image, registry) in [
        ("docker.io/octo/app:1.0", "docker.io"),
        ("index.docker.io/octo/app:1.0", "docker.io"),
        ("127.0.0.1:5000/octo/app:1.0", "127.0.0.1:5000"),
    ] {
        // target-cpu is invalid on purpose: validation is the only stage that runs.
        let out = run(
            &with_keys(&[
                ("image", image),
                ("registry", registry),
                ("target-cpu", "0"),
            ]),
            &[],
        );
        assert_rejects(&out, "target-cpu", "from 10 to 90");
        let stdout = &out.stdout;
        assert!(!stdout.contains("title=Input image"), "{image}: {stdout}");
    }
}

/// Inside Actions, files named by inputs come from the workspace only (links followed first),
/// and a template is held to CloudFormation's inline limit with a way forward.
#[test]
fn input_files_stay_in_the_workspace_and_within_limits() {
    let ws = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let foreign = outside.path().join("t.yml");
    std::fs::write(&foreign, "Resources: {}\n").unwrap();
    let link = ws.path().join("link.yml");
    std::os::unix::fs::symlink(&foreign, &link).unwrap();
    let env = [("GITHUB_WORKSPACE", ws.path().to_str().unwrap())];
    for path in [foreign.to_str().unwrap(), link.to_str().unwrap()] {
        let out = run(&with_keys(&[("template", path)]), &env);
        assert_rejects(&out, "template", "outside the workspace");
        let file = format!("file://{path}");
        let out = run(&with_keys(&[("parameter-overrides", &file)]), &env);
        assert_rejects(&out, "parameter-overrides", "outside the workspace");
    }
    let big = ws.path().join("big.yml");
    let body = format!("Resources: {{}}\n#{}\n", "x".repeat(60_000));
    std::fs::write(&big, &body).unwrap();
    let out = run(&with_keys(&[("template", big.to_str().unwrap())]), &env);
    assert_rejects(
        &out,
        "template",
        &format!(
            "is {} bytes; CloudFormation accepts at most 51200 bytes inline (TemplateBody)",
            body.len()
        ),
    );
    assert!(out.stdout.contains("nested stacks"));
}

#[test]
fn deploy_without_any_aws_credentials() {
    let out = run(&[("image", "octo/app:1.0")], &[]);
    assert_rejects(
        &out,
        "aws-access-key-id",
        "mode deploy needs AWS credentials: give role-to-assume",
    );
}

#[test]
fn ambient_credentials_from_an_earlier_step_count() {
    // Invalid on purpose elsewhere, so the run stops at validation instead of calling AWS.
    let out = run(
        &[("image", "octo/app:1.0"), ("target-cpu", "0")],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIAX"),
            ("AWS_SECRET_ACCESS_KEY", "y"),
        ],
    );
    assert_rejects(&out, "target-cpu", "from 10 to 90");
    assert!(!out.stdout.contains("needs AWS credentials"));
}

#[test]
fn oidc_role_without_id_token_permission() {
    let out = run(
        &[
            ("image", "octo/app:1.0"),
            ("role-to-assume", "arn:aws:iam::123456789012:role/deployer"),
        ],
        &[],
    );
    assert_rejects(&out, "role-to-assume", "add `permissions: id-token: write`");
}

#[test]
fn push_without_source_and_hub_without_login() {
    let out = run(&with_keys(&[("mode", "push"), ("image", "octo/app")]), &[]);
    assert_rejects(&out, "image-archive", "mode push needs an image source");
    let out = run(
        &with_keys(&[("mode", "push"), ("image", "octo/app"), ("image-from", "/")]),
        &[],
    );
    assert_rejects(
        &out,
        "docker-hub-username",
        "pushing to Docker Hub needs docker-hub-username and docker-hub-token",
    );
}

#[test]
fn all_errors_are_reported_at_once() {
    let out = run(
        &with_keys(&[
            ("mode", "deploy"),
            ("aws-region", "nowhere"),
            ("target-cpu", "500"),
            ("tags", "!"),
        ]),
        &[],
    );
    let stdout = &out.stdout;
    for input in ["aws-region", "target-cpu", "tags"] {
        assert!(
            stdout.contains(&format!("::error title=Input {input}::")),
            "{input} missing in {stdout}"
        );
    }
    assert!(
        stdout.contains("::error::3 invalid input(s); nothing was changed"),
        "{stdout}"
    );
}

/// The secret inputs, one multi-line (the runner masks those line by line), and the mask lines
/// the runner must see for them, in input order.
const SECRETS: &[(&str, &str)] = &[
    ("aws-access-key-id", "AKIAMASKME0000000001"),
    ("aws-secret-access-key", "secret-access-key-value"),
    ("aws-session-token", "session-token-value\nsecond-line"),
    ("docker-hub-token", "dckr_pat_value"),
    ("github-token", "ghp_tokenvalue"),
];
const MASKS: &[&str] = &[
    "::add-mask::AKIAMASKME0000000001",
    "::add-mask::secret-access-key-value",
    "::add-mask::session-token-value",
    "::add-mask::second-line",
    "::add-mask::dckr_pat_value",
    "::add-mask::ghp_tokenvalue",
];

/// Every secret is registered with `::add-mask::` before any other line, and apart from those
/// registrations no secret (nor any line of one) appears in stdout, stderr, GITHUB_OUTPUT or
/// the step summary.
fn assert_masked_first_and_nowhere_else(out: &HostRun, what: &str) {
    let lines: Vec<&str> = out.stdout.lines().collect();
    let context = format!("{what}: stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert!(lines.len() > MASKS.len(), "{context}");
    assert_eq!(&lines[..MASKS.len()], MASKS, "{context}");
    let rest = lines[MASKS.len()..].join("\n");
    let values = SECRETS.iter().flat_map(|(_, v)| v.split('\n'));
    for value in values {
        for (stream, text) in [
            ("stdout after the masks", rest.as_str()),
            ("stderr", out.stderr.as_str()),
            ("GITHUB_OUTPUT", out.github_output.as_str()),
            ("GITHUB_STEP_SUMMARY", out.step_summary.as_str()),
        ] {
            assert!(!text.contains(value), "{value:?} in {stream}; {context}");
        }
    }
}

#[test]
fn every_secret_input_is_masked_before_any_other_line() {
    let mut given = SECRETS.to_vec();
    given.extend([("docker-hub-username", "octo"), ("mode", "bogus")]);
    let out = run(&given, &[]);
    assert_masked_first_and_nowhere_else(&out, "mode bogus");
    assert_eq!(out.output.status.code(), Some(2));
}

/// Each mode masks the same secrets first. The runs stop at input validation (an invalid
/// region), so they need no stand-in; every mode validates the region. Outside Actions the
/// same binary prints no workflow commands at all: no `::add-mask::` carrying a secret to a
/// terminal or a CI log of another kind, and errors as plain `error:` lines.
#[test]
fn secrets_are_masked_in_every_mode_and_cli_use_prints_plainly() {
    for mode in ["deploy", "push", "preview", "destroy"] {
        let mut given = SECRETS.to_vec();
        given.extend([
            ("docker-hub-username", "octo"),
            ("mode", mode),
            ("aws-region", "mars-1"),
        ]);
        let out = run(&given, &[]);
        assert_masked_first_and_nowhere_else(&out, mode);
        assert_rejects(&out, "aws-region", "expected an AWS region");
    }

    let out = Command::new(env!("CARGO_BIN_EXE_ecs-poc-action"))
        .args(["--mode", "destroy", "--aws-region", "mars-1"])
        .args(["--aws-secret-access-key", SECRET])
        .env_clear()
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !stdout
            .lines()
            .chain(stderr.lines())
            .any(|l| l.starts_with("::")),
        "workflow commands outside Actions:\n{stdout}\n{stderr}"
    );
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
        "{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("error: Input aws-region: input `aws-region`: expected an AWS region"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "error: Input stack-name: input `stack-name`: required outside GitHub Actions"
        ),
        "{stderr}"
    );
}

#[test]
fn help_documents_every_input() {
    let out = Command::new(env!("CARGO_BIN_EXE_ecs-poc-action"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for input in ecs_poc_action::config::INPUTS {
        assert!(
            help.contains(&format!("--{} <VALUE>", input.name)),
            "--{} missing from --help",
            input.name
        );
    }
}
