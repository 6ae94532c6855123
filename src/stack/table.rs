//! A change set's resource changes, as a plain-text table for the log and Markdown for the job
//! summary and the PR comment.

use aws_sdk_cloudformation::types::{Change, ResourceAttribute};

/// One resource a change set would touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceChange {
    /// Add, Modify, Remove, Import, Dynamic …
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// "True", "Conditional", "False", or empty when not a modification.
    pub replacement: String,
    /// Properties (or Tags, Metadata …) that change, in the order CloudFormation lists them.
    pub changed: Vec<String>,
}

impl ResourceChange {
    pub fn from_sdk(change: &Change) -> Option<Self> {
        let rc = change.resource_change()?;
        let mut changed: Vec<String> = Vec::new();
        for d in rc.details() {
            let Some(target) = d.target() else { continue };
            let name = match (target.attribute(), target.name()) {
                (Some(ResourceAttribute::Properties), Some(n)) => n.to_string(),
                (Some(a), _) => a.as_str().to_string(),
                (None, Some(n)) => n.to_string(),
                (None, None) => continue,
            };
            if !changed.contains(&name) {
                changed.push(name);
            }
        }
        Some(Self {
            action: rc
                .action()
                .map(|a| a.as_str().to_string())
                .unwrap_or_default(),
            logical_id: rc.logical_resource_id().unwrap_or_default().to_string(),
            resource_type: rc.resource_type().unwrap_or_default().to_string(),
            replacement: rc
                .replacement()
                .map(|r| r.as_str().to_string())
                .unwrap_or_default(),
            changed,
        })
    }

    fn cells(&self) -> [String; 5] {
        [
            self.action.clone(),
            self.logical_id.clone(),
            self.resource_type.clone(),
            self.replacement.clone(),
            self.changed.join(", "),
        ]
    }
}

const HEADERS: [&str; 5] = [
    "Action",
    "Logical ID",
    "Type",
    "Replacement",
    "Changed properties",
];

/// Column-aligned text for the log.
pub fn changes_table_text(changes: &[ResourceChange]) -> String {
    if changes.is_empty() {
        return "No changes.\n".to_string();
    }
    // Ids and property names come from the template: one change stays one row.
    let rows: Vec<[String; 5]> = changes
        .iter()
        .map(|c| c.cells().map(|cell| crate::runner::text::inline(&cell)))
        .collect();
    let mut widths = HEADERS.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(HEADERS);
    for row in &rows {
        out.push_str(&line(row.each_ref().map(String::as_str)));
    }
    out
}

/// A GitHub-flavoured Markdown table; every cell goes through the one Markdown escaper, so a
/// value cannot break the table or add markup.
pub fn changes_table_markdown(changes: &[ResourceChange]) -> String {
    use crate::runner::markdown::{code, text as esc};
    if changes.is_empty() {
        return "No changes.\n".to_string();
    }
    let mut out = format!(
        "| {} |\n|{}\n",
        HEADERS.join(" | "),
        "---|".repeat(HEADERS.len())
    );
    for c in changes {
        let [action, id, ty, repl, props] = c.cells();
        let id = if id.is_empty() {
            String::new()
        } else {
            code(&id)
        };
        out.push_str(&format!(
            "| {} | {id} | {} | {} | {} |\n",
            esc(&action),
            esc(&ty),
            esc(&repl),
            esc(&props)
        ));
    }
    out
}

/// Past this many rows a table is folded into `<details>`, its counts left visible.
const FOLD_ROWS: usize = 15;

/// `3 changes: 1 replacement, 1 Add, 1 Modify`: replacements first (what a reviewer looks for),
/// then each action in the order it first appears.
pub fn counts_line(changes: &[ResourceChange]) -> String {
    let mut by_action: Vec<(&str, usize)> = Vec::new();
    for c in changes {
        match by_action.iter_mut().find(|(a, _)| *a == c.action) {
            Some((_, n)) => *n += 1,
            None => by_action.push((&c.action, 1)),
        }
    }
    let replaced = changes.iter().filter(|c| c.replacement == "True").count();
    let maybe = changes
        .iter()
        .filter(|c| c.replacement == "Conditional")
        .count();
    let mut parts = Vec::new();
    if replaced > 0 {
        parts.push(format!("{replaced} replacement{}", plural(replaced)));
    }
    if maybe > 0 {
        parts.push(format!("{maybe} conditional replacement{}", plural(maybe)));
    }
    parts.extend(by_action.iter().map(|(a, n)| format!("{n} {a}")));
    format!(
        "{} change{}: {}",
        changes.len(),
        plural(changes.len()),
        parts.join(", ")
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The counts, then the table; a long table (a first create lists every resource) folded under
/// the counts so the summary and the PR comment stay readable.
pub fn changes_markdown(changes: &[ResourceChange]) -> String {
    if changes.is_empty() {
        return "No changes.\n".to_string();
    }
    let counts = crate::runner::markdown::text(&counts_line(changes));
    let table = changes_table_markdown(changes);
    if changes.len() > FOLD_ROWS {
        format!("<details><summary>{counts}</summary>\n\n{table}\n</details>\n")
    } else {
        format!("{counts}\n\n{table}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<ResourceChange> {
        vec![
            ResourceChange {
                action: "Modify".into(),
                logical_id: "TaskDefinition".into(),
                resource_type: "AWS::ECS::TaskDefinition".into(),
                replacement: "True".into(),
                changed: vec!["ContainerDefinitions".into(), "Tags".into()],
            },
            ResourceChange {
                action: "Add".into(),
                logical_id: "Svc".into(),
                resource_type: "AWS::ECS::Service".into(),
                replacement: String::new(),
                changed: vec![],
            },
        ]
    }

    #[test]
    fn text_table_is_aligned() {
        assert_eq!(
            changes_table_text(&sample()),
            "Action  Logical ID      Type                      Replacement  Changed properties\n\
             Modify  TaskDefinition  AWS::ECS::TaskDefinition  True         ContainerDefinitions, Tags\n\
             Add     Svc             AWS::ECS::Service\n"
        );
        assert_eq!(changes_table_text(&[]), "No changes.\n");
    }

    #[test]
    fn markdown_table_escapes_cells() {
        let mut changes = sample();
        changes[1].changed = vec!["a|b".into()];
        assert_eq!(
            changes_table_markdown(&changes),
            "| Action | Logical ID | Type | Replacement | Changed properties |\n\
             |---|---|---|---|---|\n\
             | Modify | `TaskDefinition` | AWS::ECS::TaskDefinition | True | ContainerDefinitions, Tags |\n\
             | Add | `Svc` | AWS::ECS::Service |  | a\\|b |\n"
        );
    }

    #[test]
    fn counts_put_replacements_first_and_long_tables_fold() {
        assert_eq!(
            counts_line(&sample()),
            "2 changes: 1 replacement, 1 Modify, 1 Add"
        );
        let short = changes_markdown(&sample());
        assert!(
            short.starts_with("2 changes: 1 replacement, 1 Modify, 1 Add\n\n| Action |"),
            "{short}"
        );
        let many: Vec<ResourceChange> = (0..38)
            .map(|i| ResourceChange {
                action: "Add".into(),
                logical_id: format!("R{i}"),
                resource_type: "AWS::EC2::Subnet".into(),
                replacement: String::new(),
                changed: vec![],
            })
            .collect();
        let long = changes_markdown(&many);
        assert!(
            long.starts_with("<details><summary>38 changes: 38 Add</summary>\n\n| Action"),
            "{long}"
        );
        assert!(long.ends_with("</details>\n"));
        assert_eq!(long.matches("| Add |").count(), 38);
        assert_eq!(changes_markdown(&[]), "No changes.\n");
    }
}
