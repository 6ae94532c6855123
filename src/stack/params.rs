//! Which parameters a deploy passes, decided before any AWS call, then completed with what only
//! the existing stack knows (its previous parameters, the live desired count).

use anyhow::Result;
use aws_sdk_cloudformation::types::Parameter;

use super::error::StackError;
use super::request::DeployRequest;
use super::template::TemplateInfo;

pub const IMAGE_URI: &str = "ImageUri";
pub const DESIRED_COUNT: &str = "DesiredCount";
/// "true" leaves the service's DesiredCount out of the template (CDK's way): ECS keeps the count
/// it runs even when the live count could not be read.
pub const LEAVE_DESIRED_COUNT: &str = "LeaveDesiredCount";

/// The parameters of one deploy, before the stack is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamPlan {
    /// Values given (image, scaling, overrides — overrides win), in template order.
    pub given: Vec<(String, String)>,
    /// Declared parameters with no value given: the previous value on an update.
    pub unset: Vec<String>,
    /// Declared parameters with neither a value nor a default.
    pub required: Vec<String>,
    /// `DesiredCount` is declared and not given: on an update, pass the live count.
    pub desired_from_live: bool,
    /// The clamp for a desired count that is not given: (min, max) as passed, overrides included.
    pub capacity: (u32, u32),
    /// The template's `DesiredCount` default, when numeric.
    pub desired_default: Option<u32>,
    /// The template's ECS service, when it has exactly one.
    pub ecs_service: Option<String>,
    /// The template declares `LeaveDesiredCount` and no override sets it: the engine does
    /// (true exactly on an update that keeps the live count).
    pub leave_desired: bool,
}

/// Checks the request against the template: every override names a declared parameter, the
/// capacity is coherent. Pure — no AWS call.
pub fn validate_parameters(template_body: &str, req: &DeployRequest) -> Result<ParamPlan> {
    let template = TemplateInfo::parse(template_body)?;
    let s = &req.scaling;
    let mut problems = Vec::new();

    if s.min > s.max {
        problems.push(format!(
            "min capacity {} is above max capacity {}",
            s.min, s.max
        ));
    }
    if let Some(d) = s.desired.filter(|d| !(s.min..=s.max).contains(d)) {
        problems.push(format!(
            "desired count {d} is outside min..max capacity {}..{}",
            s.min, s.max
        ));
    }

    let mut values: Vec<(&str, String)> = Vec::new();
    if let Some(image) = &req.image_uri {
        values.push((IMAGE_URI, image.clone()));
    }
    values.push(("MinCapacity", s.min.to_string()));
    values.push(("MaxCapacity", s.max.to_string()));
    if let Some(d) = s.desired {
        values.push((DESIRED_COUNT, d.to_string()));
    }
    values.push(("TargetCpuUtilization", s.target_cpu.to_string()));
    values.push(("ContainerPort", s.container_port.to_string()));
    values.push(("HealthCheckPath", s.health_check_path.clone()));
    // A user's own template need not have these: pass only what it declares.
    values.retain(|(k, _)| template.declares(k));

    let unknown: Vec<&str> = req
        .overrides
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !template.declares(k))
        .collect();
    if !unknown.is_empty() {
        let declared: Vec<&str> = template
            .parameters
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        problems.push(format!(
            "parameter-overrides name parameters the template does not declare: {} (declared: {})",
            unknown.join(", "),
            declared.join(", ")
        ));
    }
    if !problems.is_empty() {
        return Err(StackError::InvalidParameters {
            stack: req.stack_name.clone(),
            problems: problems.join("; "),
        }
        .into());
    }
    for (k, v) in &req.overrides {
        values.retain(|(name, _)| name != k);
        values.push((k.as_str(), v.clone()));
    }

    let value_of = |name: &str| {
        values
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    };
    let mut plan = ParamPlan {
        given: Vec::new(),
        unset: Vec::new(),
        required: Vec::new(),
        desired_from_live: false,
        // An override of MinCapacity/MaxCapacity is what the stack gets, so it is what clamps.
        capacity: (
            value_of("MinCapacity")
                .and_then(|v| v.parse().ok())
                .unwrap_or(s.min),
            value_of("MaxCapacity")
                .and_then(|v| v.parse().ok())
                .unwrap_or(s.max),
        ),
        desired_default: template
            .param(DESIRED_COUNT)
            .and_then(|p| p.default.as_deref()?.parse().ok()),
        ecs_service: match template.ecs_services.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        },
        leave_desired: false,
    };
    for decl in &template.parameters {
        if decl.name == LEAVE_DESIRED_COUNT && value_of(&decl.name).is_none() {
            plan.leave_desired = true;
            continue;
        }
        match value_of(&decl.name) {
            Some(v) => plan.given.push((decl.name.clone(), v)),
            None => {
                plan.desired_from_live |= decl.name == DESIRED_COUNT;
                if decl.default.is_none() {
                    plan.required.push(decl.name.clone());
                }
                plan.unset.push(decl.name.clone());
            }
        }
    }
    Ok(plan)
}

impl ParamPlan {
    /// The `Parameters` of the change set. `previous`: the existing stack's parameter names
    /// (`None` on a create). `live_desired`: the service's running desired count, if read.
    ///
    /// On an update an unset parameter keeps its previous value — but only if the stack has one:
    /// `UsePreviousValue` on a parameter new to the template is rejected by CloudFormation, and
    /// leaving it out lets its default apply.
    pub fn parameters(
        &self,
        stack: &str,
        previous: Option<&[String]>,
        live_desired: Option<u32>,
    ) -> Result<Vec<Parameter>> {
        let mut out: Vec<Parameter> = self
            .given
            .iter()
            .map(|(k, v)| {
                Parameter::builder()
                    .parameter_key(k)
                    .parameter_value(v)
                    .build()
            })
            .collect();
        let (min, max) = self.capacity;
        let clamp = |n: u32| n.clamp(min, max.max(min));
        // On a create, a template default outside the asked capacity would start the service
        // at a count auto scaling then has to correct: start it inside.
        let create_default = self
            .desired_default
            .filter(|d| previous.is_none() && clamp(*d) != *d);
        let mut missing = Vec::new();
        for name in &self.unset {
            if name == DESIRED_COUNT
                && let Some(count) = live_desired.or(create_default).map(clamp)
            {
                out.push(
                    Parameter::builder()
                        .parameter_key(name)
                        .parameter_value(count.to_string())
                        .build(),
                );
                continue;
            }
            let had_it = previous.is_some_and(|p| p.iter().any(|n| n == name));
            if had_it {
                out.push(
                    Parameter::builder()
                        .parameter_key(name)
                        .use_previous_value(true)
                        .build(),
                );
            } else if self.required.contains(name) {
                missing.push(name.as_str());
            }
        }
        if self.leave_desired {
            // The live count, when read, is passed as DesiredCount (equal to the stack's value
            // unless auto scaling moved it), so a rerun stays an empty change set; only when it
            // could not be read is the property left out, so nothing can reset the service.
            let leave = previous.is_some() && self.desired_from_live && live_desired.is_none();
            out.push(
                Parameter::builder()
                    .parameter_key(LEAVE_DESIRED_COUNT)
                    .parameter_value(leave.to_string())
                    .build(),
            );
        }
        if !missing.is_empty() {
            return Err(StackError::InvalidParameters {
                stack: stack.to_string(),
                problems: format!("required parameters have no value: {}", missing.join(", ")),
            }
            .into());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{DeployPlan, PollPolicy, Scaling};

    const T: &str = "Parameters:\n  ImageUri: {Type: String}\n  DesiredCount: {Type: Number, Default: 2}\n  MinCapacity: {Type: Number, Default: 2}\n  Extra: {Type: String, Default: x}\nResources:\n  S: {Type: AWS::ECS::Service}\n";

    fn req(image: Option<&str>, overrides: &[(&str, &str)]) -> DeployRequest {
        DeployRequest {
            stack_name: "s".into(),
            template_body: T.into(),
            image_uri: image.map(String::from),
            scaling: Scaling {
                min: 2,
                max: 5,
                ..Scaling::default()
            },
            overrides: overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            capabilities: vec![],
            tags: vec![],
            termination_protection: false,
            change_set_name: "cs".into(),
            plan: DeployPlan {
                execute: true,
                keep_change_set: false,
                deadline: std::time::Instant::now(),
                poll: PollPolicy::immediate(),
            },
        }
    }

    fn text(params: &[Parameter]) -> Vec<String> {
        params
            .iter()
            .map(|p| match p.use_previous_value() {
                Some(true) => format!("{}=<previous>", p.parameter_key().unwrap_or("")),
                _ => format!(
                    "{}={}",
                    p.parameter_key().unwrap_or(""),
                    p.parameter_value().unwrap_or("")
                ),
            })
            .collect()
    }

    #[test]
    fn passes_only_declared_values_and_overrides_win() {
        let plan =
            validate_parameters(T, &req(Some("r@sha256:ab"), &[("MinCapacity", "3")])).unwrap();
        assert_eq!(
            plan.given,
            [
                ("ImageUri".into(), "r@sha256:ab".into()),
                ("MinCapacity".into(), "3".into())
            ]
        );
        assert_eq!(plan.unset, ["DesiredCount", "Extra"]);
        assert!(plan.desired_from_live);
        assert_eq!(plan.ecs_service.as_deref(), Some("S"));
    }

    #[test]
    fn unknown_overrides_are_named() {
        let err = validate_parameters(
            T,
            &req(None, &[("Nope", "1"), ("Extra", "y"), ("Zap", "2")]),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("does not declare: Nope, Zap"), "{msg}");
        assert!(matches!(
            err.downcast_ref(),
            Some(StackError::InvalidParameters { .. })
        ));
    }

    #[test]
    fn incoherent_capacity_is_rejected() {
        let mut r = req(None, &[]);
        r.scaling.desired = Some(9);
        assert!(
            validate_parameters(T, &r)
                .unwrap_err()
                .to_string()
                .contains("desired count 9")
        );
    }

    #[test]
    fn update_uses_previous_values_and_the_clamped_live_count() {
        let plan = validate_parameters(T, &req(None, &[])).unwrap();
        let prev = vec![
            "ImageUri".to_string(),
            "DesiredCount".into(),
            "MinCapacity".into(),
        ];
        let params = plan.parameters("s", Some(&prev), Some(7)).unwrap();
        assert_eq!(
            text(&params),
            ["MinCapacity=2", "ImageUri=<previous>", "DesiredCount=5"]
        );
        // Extra is new to the template: left to its default, not UsePreviousValue.
        let params = plan.parameters("s", Some(&prev), None).unwrap();
        assert_eq!(
            text(&params),
            [
                "MinCapacity=2",
                "ImageUri=<previous>",
                "DesiredCount=<previous>"
            ]
        );
    }

    #[test]
    fn clamps_to_the_capacity_actually_passed() {
        // Overrides win over the scaling inputs, so they also bound the live count.
        let plan = validate_parameters(T, &req(None, &[("MinCapacity", "3")])).unwrap();
        assert_eq!(plan.capacity, (3, 5));
        let prev = vec!["ImageUri".to_string(), "DesiredCount".into()];
        let params = plan.parameters("s", Some(&prev), Some(1)).unwrap();
        assert_eq!(
            text(&params),
            ["MinCapacity=3", "ImageUri=<previous>", "DesiredCount=3"]
        );
    }

    #[test]
    fn create_starts_inside_the_capacity() {
        // Template default 2, asked 3..5: the create passes 3.
        let plan =
            validate_parameters(T, &req(Some("r@sha256:ab"), &[("MinCapacity", "3")])).unwrap();
        let params = plan.parameters("s", None, None).unwrap();
        assert_eq!(
            text(&params),
            ["ImageUri=r@sha256:ab", "MinCapacity=3", "DesiredCount=3"]
        );
        // Default already inside: left to the template.
        let plan = validate_parameters(T, &req(Some("r@sha256:ab"), &[])).unwrap();
        let params = plan.parameters("s", None, None).unwrap();
        assert_eq!(text(&params), ["ImageUri=r@sha256:ab", "MinCapacity=2"]);
    }

    #[test]
    fn the_count_is_left_to_ecs_exactly_on_updates_without_desired_count() {
        let t = format!("{T}\n").replace(
            "  Extra:",
            "  LeaveDesiredCount: {Type: String, Default: \"false\"}\n  Extra:",
        );
        let prev = vec!["ImageUri".to_string(), "DesiredCount".into()];
        let plan = validate_parameters(&t, &req(Some("r@sha256:ab"), &[])).unwrap();
        assert!(plan.leave_desired);
        // Update, count not given: left out even when the live count could not be read.
        let params = plan.parameters("s", Some(&prev), None).unwrap();
        assert!(text(&params).contains(&"LeaveDesiredCount=true".to_string()));
        // Update with the live count read: it is passed, so an unchanged rerun changes nothing.
        let params = plan.parameters("s", Some(&prev), Some(4)).unwrap();
        assert!(text(&params).contains(&"LeaveDesiredCount=false".to_string()));
        assert!(text(&params).contains(&"DesiredCount=4".to_string()));
        // Create: the template sets the count.
        let params = plan.parameters("s", None, None).unwrap();
        assert!(text(&params).contains(&"LeaveDesiredCount=false".to_string()));
        // desired-count given: the update sets it.
        let mut r = req(Some("r@sha256:ab"), &[]);
        r.scaling.desired = Some(3);
        let plan = validate_parameters(&t, &r).unwrap();
        let params = plan.parameters("s", Some(&prev), None).unwrap();
        assert!(text(&params).contains(&"LeaveDesiredCount=false".to_string()));
        assert!(text(&params).contains(&"DesiredCount=3".to_string()));
        // An override wins, as for any parameter.
        let r = req(Some("r@sha256:ab"), &[("LeaveDesiredCount", "false")]);
        let plan = validate_parameters(&t, &r).unwrap();
        assert!(!plan.leave_desired);
    }

    #[test]
    fn create_without_a_required_value_names_it() {
        let plan = validate_parameters(T, &req(None, &[])).unwrap();
        let err = plan.parameters("s", None, None).unwrap_err();
        assert!(
            err.to_string()
                .contains("required parameters have no value: ImageUri"),
            "{err}"
        );
    }
}
