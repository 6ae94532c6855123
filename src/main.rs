//! Thin entry point: inputs → config → `pipeline::run`; errors printed once, mapped to an exit code.

use ecs_poc_action::config::{Config, Env, RawInputs};
use ecs_poc_action::{pipeline, runner};
use std::process::ExitCode;

fn main() -> ExitCode {
    // Release builds abort on panic: the hook is the only chance to say so in the log.
    std::panic::set_hook(Box::new(runner::panicked));
    ecs_poc_action::install_crypto_provider();
    let raw = RawInputs::from_process();
    // Before anything else is printed, so no later line can reveal a secret input.
    for secret in raw.secrets() {
        runner::add_mask(secret);
    }
    // The account id in a role or secret ARN input is masked as early, so errors raised before
    // the identity check (invalid input, a refused AssumeRole) cannot show it.
    for account in raw.account_ids_to_mask() {
        runner::add_mask(account);
    }
    let config = match Config::build(&raw, &Env::from_process()) {
        Ok(config) => config,
        Err(errors) => {
            for e in &errors.0 {
                runner::error(Some(&format!("Input {}", e.input)), &e.to_string());
            }
            runner::error(
                None,
                &format!("{} invalid input(s); nothing was changed", errors.0.len()),
            );
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            runner::error(None, &format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(pipeline::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            runner::error(Some("ecs-poc-action failed"), &format!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}
