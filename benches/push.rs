//! A push driver for `scripts/bench-push` (not a criterion benchmark: the script times whole
//! processes, ours and skopeo's alike, so start-up costs count on both sides).
//!
//! ```text
//! cargo bench --bench push -- --registry 127.0.0.1:5000 --repo bench/app --tag v1 SOURCE \
//!     [--compression gzip|zstd] [--concurrency 4]
//! ```
//! Credentials come from `BENCH_USERNAME` / `BENCH_PASSWORD`. Prints one JSON line with the
//! digest, duration and bytes uploaded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use ecs_poc_action::image::{PushOptions, load_archive, push};
use ecs_poc_action::registry::{Credentials, Registry, RegistryAddress};
use ecs_poc_action::secret::Secret;

struct Args {
    registry: String,
    repo: String,
    tag: String,
    source: PathBuf,
    opts: PushOptions,
}

fn parse() -> Result<Args> {
    let mut it = std::env::args().skip(1);
    let (mut registry, mut repo, mut tag, mut source) = (None, None, None, None);
    let mut opts = PushOptions::default();
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--registry" => registry = Some(value()?),
            "--repo" => repo = Some(value()?),
            "--tag" => tag = Some(value()?),
            "--compression" => opts.compression = value()?.parse()?,
            "--concurrency" => opts.concurrency = value()?.parse()?,
            "--bench" => {} // added by `cargo bench`
            other if other.starts_with("--") => bail!("unknown option {other}"),
            other => source = Some(PathBuf::from(other)),
        }
    }
    Ok(Args {
        registry: registry.context("--registry is required")?,
        repo: repo.context("--repo is required")?,
        tag: tag.unwrap_or_else(|| "latest".into()),
        source: source.context("the image source path is required")?,
        opts,
    })
}

async fn run(args: Args) -> Result<()> {
    ecs_poc_action::install_crypto_provider();
    let creds = match (
        std::env::var("BENCH_USERNAME"),
        std::env::var("BENCH_PASSWORD"),
    ) {
        (Ok(username), Ok(password)) => Some(Credentials {
            username,
            password: Secret::new(password),
        }),
        _ => None,
    };
    let registry = Registry::new(RegistryAddress::parse(&args.registry)?, creds)?;
    let image = load_archive(&args.source)?;
    let report = push(
        &registry,
        &args.repo.parse()?,
        &image,
        &[args.tag.parse()?],
        &args.opts,
    )
    .await?;
    println!(
        "{}",
        serde_json::json!({
            "digest": report.digest.to_string(),
            "seconds": report.duration.as_secs_f64(),
            "bytes_uploaded": report.bytes_uploaded,
            "total_size": report.total_size,
        })
    );
    Ok(())
}

fn main() -> ExitCode {
    let result = parse().and_then(|args| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(run(args))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
