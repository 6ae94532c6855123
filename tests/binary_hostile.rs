//! The real binary with a runner-shaped environment, its stdout read back the way the runner
//! reads it (`support/runner_log.rs`): a crash still ends with one `::error` line, input values
//! cannot inject commands, and the account id of an ARN input is masked before any error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

#[path = "support/runner_log.rs"]
mod runner_log;

mod common;

use std::process::Output;

const SECRET: &str = "Sup3rS3cretValue-7f1e";
const ACCOUNT: &str = "210987654321";

/// The binary in the runner's environment (tests/common/runner.rs), plus `given` and
/// `extra_env`.
fn run(given: &[(&str, &str)], extra_env: &[(&str, &str)]) -> Output {
    common::runner::HostRunner::new()
        .run(given, extra_env)
        .output
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const KEYS: &[(&str, &str)] = &[
    ("aws-access-key-id", "AKIAEXAMPLEKEY123456"),
    ("aws-secret-access-key", SECRET),
    ("image", "octo/app:1.0"),
];

/// tokio panics while building the runtime when `TOKIO_WORKER_THREADS` is not a number: a real
/// panic on a path every run takes, reached without any test hook in the binary.
#[test]
fn a_panic_still_ends_with_one_error_line() {
    let out = run(KEYS, &[("TOKIO_WORKER_THREADS", "not-a-number")]);
    assert!(!out.status.success(), "{}", show(&out));
    let log = runner_log::interpret(&String::from_utf8_lossy(&out.stdout));
    let errors: Vec<_> = log.commands().filter(|c| c.name == "error").collect();
    assert_eq!(errors.len(), 1, "{}", show(&out));
    assert!(
        errors[0].data.contains("TOKIO_WORKER_THREADS"),
        "{}",
        show(&out)
    );
    assert!(errors[0].data.contains("This is a bug"), "{}", show(&out));
    // Nothing else: the default hook's stderr text would be a second, unannotated report.
    assert!(out.stderr.is_empty(), "{}", show(&out));
}

#[test]
fn input_values_cannot_inject_commands() {
    let mut given = KEYS.to_vec();
    given.push((
        "stack-name",
        "web\n::stop-commands::x\n##[set-output name=a]b",
    ));
    given.push(("tags", "v1\n::add-mask::v1"));
    let out = run(&given, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let log = runner_log::interpret(&String::from_utf8_lossy(&out.stdout));
    for c in log.commands() {
        assert!(
            ["add-mask", "error"].contains(&c.name.as_str()),
            "injected {c:?}: {}",
            show(&out)
        );
    }
    assert_eq!(log.masks, [KEYS[0].1, SECRET], "{}", show(&out));
    assert!(
        log.commands()
            .any(|c| c.name == "error" && c.data.contains("::stop-commands::x")),
        "the bad value is quoted in the error: {}",
        show(&out)
    );
}

/// An ARN input that fails validation is quoted in the error; its account id is masked first.
#[test]
fn the_account_in_an_arn_input_is_masked_before_any_error() {
    let arn = format!("arn:aws:iam::{ACCOUNT}:user/not-a-role");
    let mut given = KEYS.to_vec();
    given.push(("role-to-assume", arn.as_str()));
    let out = run(&given, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let log = runner_log::interpret(&String::from_utf8_lossy(&out.stdout));
    assert!(log.masks.iter().any(|m| m == ACCOUNT), "{}", show(&out));
    let rendered = log.rendered();
    assert!(
        rendered.contains("arn:aws:iam::***:user/not-a-role"),
        "{rendered}"
    );
    assert!(!rendered.contains(ACCOUNT), "{rendered}");

    // Told not to mask, the error shows it: the test above can tell the difference.
    given.push(("mask-account-id", "false"));
    let out = run(&given, &[]);
    let log = runner_log::interpret(&String::from_utf8_lossy(&out.stdout));
    assert!(log.masks.iter().all(|m| m != ACCOUNT), "{}", show(&out));
    assert!(log.rendered().contains(&arn), "{}", show(&out));
}

/// The OIDC token cannot be had (nothing listens on the loopback URL): the role's account was
/// masked before the first stage began, although no identity check ever ran.
#[test]
fn the_role_account_is_masked_when_oidc_fails() {
    let arn = format!("arn:aws:iam::{ACCOUNT}:role/deployer");
    let out = run(
        &[("image", "octo/app:1.0"), ("role-to-assume", arn.as_str())],
        &[
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                "http://127.0.0.1:9/token?x=1",
            ),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token-value"),
        ],
    );
    assert!(!out.status.success(), "{}", show(&out));
    let log = runner_log::interpret(&String::from_utf8_lossy(&out.stdout));
    let names: Vec<(&str, &str)> = log
        .commands()
        .map(|c| (c.name.as_str(), c.data.as_str()))
        .collect();
    let masked = names.iter().position(|&c| c == ("add-mask", ACCOUNT));
    let first_stage = names.iter().position(|&(name, _)| name == "group");
    assert!(
        masked.is_some() && masked < first_stage,
        "{names:?}\n{}",
        show(&out)
    );
    assert!(!log.rendered().contains(ACCOUNT), "{}", show(&out));
}
