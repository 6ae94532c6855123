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
}
