//! ecs-poc-action: push a web image through the OCI distribution API and deploy it to ECS
//! Fargate with CloudFormation, as a GitHub Action or a plain CLI.
//!
//! Data flows one way: `config` (inputs → validated values) → `image`/`registry` (push) →
//! `stack` (deploy) → `report`. `runner` is the Actions I/O every stage uses.

pub mod aws;
pub mod backoff;
pub mod config;
pub mod github;
pub mod image;
pub mod net;
pub mod pairs;
pub mod pipeline;
pub mod registry;
pub mod report;
pub mod runner;
pub mod secret;
pub mod stack;

/// Installs the one rustls crypto provider (aws-lc-rs) before any TLS client is built: with two
/// providers compiled in, rustls refuses to pick one and panics at the first client.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
