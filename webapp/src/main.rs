//! Sample web app deployed by ecs-poc-action. `main` only builds the config, calls `run`, and
//! turns the outcome into an exit code; every error is printed once, here, as a JSON log line.

mod config;
mod load;
mod logging;
mod metadata;
mod page;
mod routes;
mod server;
mod shutdown;

use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::json;
use tokio::net::TcpListener;

use crate::config::Config;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            logging::error(&format!("{err:#}"), json!({}));
            return ExitCode::from(2);
        }
    };
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            logging::error(&format!("{err:#}"), json!({}));
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let stop = shutdown::listen()?;
    let listener = TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("binding {}", config.addr))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let identity = metadata::discover(config.metadata_uri.as_ref()).await;
    logging::info(
        "listening",
        json!({
            "addr": addr.to_string(),
            "version": config.version,
            "task_id": identity.task_id,
            "availability_zone": identity.availability_zone,
        }),
    );
    let app = routes::router(routes::AppState::new(config.version, identity));
    server::serve(listener, app, stop, config.drain_timeout).await
}
