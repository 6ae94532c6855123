//! The run's report: one Markdown document for the job summary (printed in CLI use), built from
//! what each stage recorded. Holds no secrets: only ids, digests, names and AWS's own messages.

use crate::image::{LayerOutcome, PushReport};
use crate::registry::digest;
use crate::runner::markdown::{code, link, text};
use crate::stack::{ParameterChange, ResourceChange, StackEventLine, changes_markdown};
use std::fmt::Write;
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub mode: String,
    pub stack: String,
    pub region: String,
    pub identity: Option<String>,
    pub image_ref: Option<String>,
    pub push: Option<PushReport>,
    /// Some when a change set was made: its changes (empty = no changes).
    pub changes: Option<Vec<ResourceChange>>,
    /// CloudFormation's verdict; a change set can change parameters without listing resources.
    pub has_changes: bool,
    pub executed: bool,
    pub status: Option<String>,
    pub url: Option<String>,
    pub events: Vec<StackEventLine>,
    pub outputs: Vec<(String, String)>,
    pub removed: Vec<(String, String)>,
    pub notes: Vec<String>,
    pub stages: Vec<(String, Duration)>,
    pub failure: Option<String>,
    pub duration: Duration,
    /// CloudFormation API operations the deploy made (a no-op rerun's budget, shown).
    pub cfn_calls: u32,
}

/// What a reviewer decides a pull request's deploy on, for the plan comment.
pub struct Plan<'a> {
    pub stack: &'a str,
    pub region: &'a str,
    /// The stack's image now (`None`: a new stack) and the one proposed (`None`: kept).
    pub image_now: Option<&'a str>,
    pub image_proposed: Option<&'a str>,
    pub parameter_changes: &'a [ParameterChange],
    pub changes: &'a [ResourceChange],
    pub has_changes: bool,
    pub run_url: Option<&'a str>,
}

/// `sha256:d39c6f1a2b3c` of an `…@sha256:…` reference; the reference itself otherwise.
fn short_image(image: &str) -> String {
    match image.rsplit_once('@').map(|(_, d)| digest::parse_sha256(d)) {
        Some(Ok(d)) => digest::short(&d),
        _ => image.to_string(),
    }
}

impl Plan<'_> {
    /// The plan comment's Markdown: the same wording as the job summary for "no changes" and
    /// "parameter changes only".
    pub fn markdown(&self) -> String {
        let mut md = format!(
            "### Deploy plan\n\n**Stack** {} · **Region** {}",
            code(self.stack),
            code(self.region)
        );
        if let Some(url) = self.run_url {
            let _ = write!(md, " · {}", link(url));
        }
        md.push_str("\n\n");
        let image = match (self.image_now, self.image_proposed) {
            (_, None) => None,
            (Some(now), Some(new)) if now == new => {
                Some(format!("{} (unchanged)", code(&short_image(now))))
            }
            (Some(now), Some(new)) => Some(format!(
                "{} → {}",
                code(&short_image(now)),
                code(&short_image(new))
            )),
            (None, Some(new)) => Some(format!("{} (new stack)", code(&short_image(new)))),
        };
        if let Some(image) = image {
            let _ = writeln!(md, "**Image** {image}\n");
        }
        if !self.has_changes {
            md.push_str("No changes: the stack already matches.\n");
            return md;
        }
        let params: Vec<&ParameterChange> = self
            .parameter_changes
            .iter()
            .filter(|p| p.name != "ImageUri")
            .collect();
        if !params.is_empty() {
            md.push_str("| parameter | now | proposed |\n|---|---|---|\n");
            for p in params {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} |",
                    code(&p.name),
                    p.old.as_deref().map_or("—".to_string(), text),
                    text(&p.new)
                );
            }
            md.push('\n');
        }
        if self.changes.is_empty() {
            md.push_str("Planned, not executed: parameter changes only; no resource is listed as changing.\n");
        } else {
            md.push_str(&changes_markdown(self.changes));
        }
        md
    }
}

impl Report {
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let (icon, verdict) = match &self.failure {
            None => ("✅", "succeeded"),
            Some(_) => ("❌", "failed"),
        };
        let _ = writeln!(
            md,
            "## {icon} ecs-poc-action {} {verdict}\n\n**Stack** {} · **Region** {} · **Duration** {:.1} s\n",
            text(&self.mode),
            code(&self.stack),
            code(&self.region),
            self.duration.as_secs_f64()
        );
        if let Some(f) = &self.failure {
            let quoted: Vec<String> = f.lines().map(text).collect();
            let _ = writeln!(md, "> **Error:** {}\n", quoted.join("\n> "));
        }
        if let Some(url) = &self.url {
            let _ = writeln!(md, "**URL:** {}\n", link(url));
        }
        if let Some(id) = &self.identity {
            let _ = writeln!(md, "**AWS identity:** {}\n", code(id));
        }
        for note in &self.notes {
            let _ = writeln!(md, "- {}", text(note));
        }
        if !self.notes.is_empty() {
            md.push('\n');
        }
        self.image_section(&mut md);
        self.changes_section(&mut md);
        self.events_section(&mut md);
        if !self.outputs.is_empty() {
            md.push_str("### Stack outputs\n\n| output | value |\n|---|---|\n");
            for (k, v) in &self.outputs {
                let _ = writeln!(md, "| {} | {} |", code(k), text(v));
            }
            md.push('\n');
        }
        if !self.removed.is_empty() {
            md.push_str("### Removed\n\n| logical id | type |\n|---|---|\n");
            for (id, ty) in &self.removed {
                let _ = writeln!(md, "| {} | {} |", code(id), code(ty));
            }
            md.push('\n');
        }
        if !self.stages.is_empty() {
            md.push_str("### Timings\n\n| stage | seconds |\n|---|---:|\n");
            for (stage, d) in &self.stages {
                let _ = writeln!(md, "| {} | {:.2} |", text(stage), d.as_secs_f64());
            }
            if self.cfn_calls > 0 {
                let _ = writeln!(md, "\nCloudFormation API calls: {}.", self.cfn_calls);
            }
        }
        md
    }

    fn image_section(&self, md: &mut String) {
        let Some(image_ref) = &self.image_ref else {
            return;
        };
        md.push_str("### Image\n\n");
        let _ = writeln!(md, "{}\n", code(image_ref));
        let Some(p) = &self.push else { return };
        let secs = p.duration.as_secs_f64();
        let rate = if secs > 0.0 {
            p.bytes_uploaded as f64 / 1e6 / secs
        } else {
            0.0
        };
        let _ = writeln!(
            md,
            "{} in {} layers: {} pushed, {} skipped (already there), {} mounted; {} uploaded in {secs:.1} s ({rate:.1} MB/s)\n",
            crate::image::megabytes(p.total_size),
            p.layers.len(),
            p.count(LayerOutcome::Pushed),
            p.count(LayerOutcome::Skipped),
            p.count(LayerOutcome::Mounted),
            crate::image::megabytes(p.bytes_uploaded),
        );
    }

    fn changes_section(&self, md: &mut String) {
        let Some(changes) = &self.changes else { return };
        md.push_str("### Change set\n\n");
        if !self.has_changes {
            md.push_str("No changes: the stack already matches.\n\n");
        } else if changes.is_empty() {
            let verb = if self.executed {
                "Applied"
            } else {
                "Planned, not executed"
            };
            let _ = writeln!(
                md,
                "{verb}: parameter changes only; no resource is listed as changing.\n"
            );
        } else {
            if !self.executed {
                md.push_str("Planned, not executed:\n\n");
            }
            md.push_str(&changes_markdown(changes));
            md.push('\n');
        }
    }

    fn events_section(&self, md: &mut String) {
        if self.events.is_empty() {
            return;
        }
        let failed = self.events.iter().filter(|e| e.failed()).count();
        let _ = writeln!(
            md,
            "### Stack events\n\n{} events, {failed} failed; final status {}.\n",
            self.events.len(),
            code(self.status.as_deref().unwrap_or("unknown"))
        );
        if failed > 0 {
            md.push_str("<details><summary>Failed events</summary>\n\n| time | logical id | type | status | reason |\n|---|---|---|---|---|\n");
            for e in self.events.iter().filter(|e| e.failed()) {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} |",
                    text(&e.time),
                    code(&e.logical_id),
                    code(&e.resource_type),
                    text(e.status.as_str()),
                    text(&e.reason)
                );
            }
            md.push_str("\n</details>\n\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_comment_gives_a_reviewer_what_to_decide_on() {
        let now = format!("127.0.0.1:5000/acme/shop@sha256:{}", "a".repeat(64));
        let new = format!("127.0.0.1:5000/acme/shop@sha256:{}", "b".repeat(64));
        let params = vec![
            ParameterChange {
                name: "ImageUri".into(),
                old: Some(now.clone()),
                new: new.clone(),
            },
            ParameterChange {
                name: "MinCapacity".into(),
                old: Some("2".into()),
                new: "3".into(),
            },
        ];
        let plan = Plan {
            stack: "web",
            region: "eu-west-1",
            image_now: Some(&now),
            image_proposed: Some(&new),
            parameter_changes: &params,
            changes: &[],
            has_changes: true,
            run_url: Some("https://github.com/o/r/actions/runs/1"),
        };
        let md = plan.markdown();
        assert!(
            md.contains("**Stack** `web` · **Region** `eu-west-1`"),
            "{md}"
        );
        assert!(
            md.contains("`sha256:aaaaaaaaaaaa` → `sha256:bbbbbbbbbbbb`"),
            "{md}"
        );
        assert!(md.contains("| `MinCapacity` | 2 | 3 |"), "{md}");
        assert!(
            !md.contains("| `ImageUri`"),
            "the image has its own line: {md}"
        );
        assert!(
            md.contains("parameter changes only; no resource is listed as changing"),
            "{md}"
        );
        assert!(md.contains("actions/runs/1"), "{md}");
        let same = Plan {
            has_changes: false,
            image_proposed: Some(&now),
            ..plan
        };
        let md = same.markdown();
        assert!(
            md.contains("(unchanged)") && md.contains("No changes: the stack already matches."),
            "{md}"
        );
    }
}
