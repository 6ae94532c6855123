//! The job, one stage after another: validated config → credentials → push → deploy → report.

use crate::config::Config;
use anyhow::Result;

pub mod smoke;

pub async fn run(config: Config) -> Result<()> {
    let mut outputs = crate::runner::Outputs::default();
    crate::runner::notice(&format!("mode {}: the push and deploy stages are not wired in yet", config.mode.as_str()));
    outputs.set("stack-name", &config.stack.name);
    outputs.write()
}
