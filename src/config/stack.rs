//! Stack inputs: the name (with a preview suffix), the template, parameter overrides, scaling,
//! the service role and what CloudFormation is told (capabilities, tags, protection, timeout).

use std::path::PathBuf;
use std::time::Duration;

use super::context::{Env, GithubContext};
use super::errors::InputErrors;
use super::files;
use super::raw::RawInputs;
use super::values::{self, shown};
use super::{Mode, input_or_default};
use crate::stack::Capability;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capacity {
    pub min: u32,
    pub max: u32,
    /// Empty: min at first create; the live, auto-scaled count on updates.
    pub desired: Option<u32>,
}

/// The name the service answers on, and the Route 53 zone the stack manages it in (without a
/// zone, a `CertificateArn` override must cover the name and the user points it at the ALB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub name: String,
    pub hosted_zone_id: Option<String>,
}

/// A lower-case DNS name of at least two labels, no wildcard, no trailing dot (ACM and the
/// template's `AllowedPattern` agree on this).
fn is_domain_name(n: &str) -> bool {
    let labels: Vec<&str> = n.split('.').collect();
    n.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|l| l.starts_with(|c: char| c.is_ascii_lowercase()))
}

fn is_hosted_zone_id(z: &str) -> bool {
    z.len() <= 32
        && z.starts_with('Z')
        && z.len() > 1
        && z.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

#[derive(Debug, Clone)]
pub enum Template {
    Bundled,
    File { path: PathBuf, body: String },
}

impl Template {
    pub fn body(&self) -> &str {
        match self {
            Template::Bundled => crate::stack::DEFAULT_TEMPLATE,
            Template::File { body, .. } => body,
        }
    }
}

#[derive(Debug, Clone)]
pub struct StackConfig {
    pub name: String,
    pub template: Template,
    pub parameter_overrides: Vec<(String, String)>,
    pub capacity: Capacity,
    pub target_cpu: u32,
    pub container_port: u16,
    pub health_check_path: String,
    /// `domain-name` / `hosted-zone-id`: HTTPS on a name of the user's.
    pub domain: Option<Domain>,
    pub pull_credentials_secret_arn: Option<String>,
    /// The CloudFormation service role (`RoleARN`), when CloudFormation should not act with the
    /// caller's own permissions.
    pub cloudformation_role_arn: Option<String>,
    pub capabilities: Vec<Capability>,
    pub tags: Vec<(String, String)>,
    pub termination_protection: bool,
    pub timeout: Duration,
    pub keep_change_set: bool,
}

/// CloudFormation's `TemplateBody` limit; larger templates need S3, which this action doesn't do.
pub const TEMPLATE_BODY_LIMIT: usize = 51_200;

/// The bundled template's `MaxValue` of DesiredCount, MinCapacity and MaxCapacity: a larger
/// value would pass here and fail at CreateChangeSet.
const MAX_TASKS: u64 = 100;

/// The parameter deployer-role.yml's service role requires on every role the stack creates.
const BOUNDARY_PARAMETER: &str = "PermissionsBoundaryArn";

/// With a service role from deployer-role.yml, CloudFormation may create roles only with the
/// workload boundary; without it the deploy would fail half-way at CreateRole (AccessDenied).
/// Said before any AWS call, naming the parameter to set.
fn missing_boundary(template: Option<&Template>, overrides: &[(String, String)]) -> Option<String> {
    let declared = crate::stack::TemplateInfo::parse(template?.body())
        .map(|t| t.declares(BOUNDARY_PARAMETER))
        .unwrap_or(false);
    let given = overrides
        .iter()
        .any(|(k, v)| k == BOUNDARY_PARAMETER && !v.is_empty());
    (declared && !given).then(|| {
        format!(
            "{BOUNDARY_PARAMETER} must be given with cloudformation-role-arn: the service role creates roles only with the permissions boundary; pass {BOUNDARY_PARAMETER}=<deployer stack's WorkloadBoundaryArn output>"
        )
    })
}

/// A parameter-overrides file: CloudFormation takes at most 200 parameters of 4 KiB each.
pub const OVERRIDES_FILE_LIMIT: u64 = 1 << 20;

/// CloudFormation's limit on stack names.
const STACK_NAME_MAX: usize = 128;

fn is_stack_name(n: &str) -> bool {
    n.len() <= STACK_NAME_MAX
        && n.starts_with(|c: char| c.is_ascii_alphabetic())
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// What `stack-name-suffix` may be: hyphen-joined runs of letters and digits, so the joined
/// name never has `--` or a trailing hyphen.
fn is_name_suffix(s: &str) -> bool {
    !s.is_empty()
        && s.len() < STACK_NAME_MAX
        && s.split('-')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()))
}

pub(super) fn build(
    raw: &RawInputs,
    env: &Env,
    gh: &GithubContext,
    mode: Option<Mode>,
    errs: &mut InputErrors,
) -> Option<StackConfig> {
    let before = errs.0.len();
    let suffix = raw.get("stack-name-suffix");
    if let Some(s) = suffix
        && !is_name_suffix(s)
    {
        errs.push("stack-name-suffix", format!("expected letters, digits and hyphens, not starting or ending with a hyphen (e.g. pr-7), got {}", shown(s)));
    }
    let suffix = suffix.filter(|s| is_name_suffix(s));
    // A derived name leaves room for the suffix; a given one is never shortened behind the
    // user's back (too long is an error below).
    let room = STACK_NAME_MAX.saturating_sub(suffix.map_or(0, |s| s.len() + 1));
    let base = match raw.get("stack-name") {
        Some(n) => n.to_string(),
        None => match gh.repository_name() {
            Some(repo) => format!("ecs-poc-{}", values::derived_name(repo))
                .chars()
                .take(room)
                .collect::<String>()
                .trim_end_matches('-')
                .to_string(),
            // A push touches no stack: nothing to name.
            None if mode == Some(Mode::Push) => String::new(),
            None => {
                errs.push("stack-name", "required outside GitHub Actions (there is no GITHUB_REPOSITORY to derive ecs-poc-<repository name> from)");
                String::new()
            }
        },
    };
    if !base.is_empty() && !is_stack_name(&base) {
        errs.push("stack-name", format!("expected 1-128 letters, digits and hyphens starting with a letter (CloudFormation's rule), got {}", shown(&base)));
    }
    let name = match suffix {
        Some(s) if !base.is_empty() => format!("{base}-{s}"),
        _ => base,
    };
    // Both parts are valid by now, so only the joined length can break CloudFormation's rule.
    if name.len() > STACK_NAME_MAX {
        errs.push("stack-name-suffix", format!("makes the stack name {} characters long ({}); CloudFormation allows at most {STACK_NAME_MAX}", name.len(), shown(&name)));
    }
    let scope = files::FileScope::from_env(env);
    let template = match raw.get("template") {
        None => Some(Template::Bundled),
        Some(path) => match files::read_text(path, TEMPLATE_BODY_LIMIT as u64, &scope) {
            Ok(body) => Some(Template::File {
                path: PathBuf::from(path),
                body,
            }),
            Err(files::FileError::TooLarge(n)) => {
                errs.push("template", format!("{} is {n} bytes; CloudFormation accepts at most {TEMPLATE_BODY_LIMIT} bytes inline (TemplateBody). Larger templates need S3 (TemplateURL), which this action does not use: trim it, or move resources into nested stacks stored in S3", shown(path)));
                None
            }
            Err(files::FileError::Other(m)) => {
                errs.push("template", m);
                None
            }
        },
    };
    // YAML/JSON map, AWS CLI parameter list, K=V lines, or a file: the stack engine's parser.
    let parameter_overrides = match raw.get("parameter-overrides") {
        None => Vec::new(),
        Some(v) => {
            let text = match crate::stack::override_file(v) {
                Some(path) => match files::read_text(path, OVERRIDES_FILE_LIMIT, &scope) {
                    Ok(text) => Some(text),
                    Err(files::FileError::TooLarge(n)) => {
                        errs.push("parameter-overrides", format!("file {} is {n} bytes; at most {OVERRIDES_FILE_LIMIT} are read (CloudFormation takes 200 parameters of 4 KiB)", shown(path)));
                        None
                    }
                    Err(files::FileError::Other(m)) => {
                        errs.push("parameter-overrides", m);
                        None
                    }
                },
                None => Some(v.to_string()),
            };
            text.and_then(|t| {
                errs.take(
                    "parameter-overrides",
                    crate::stack::parse_overrides(&t).map_err(|e| format!("{e:#}")),
                )
            })
            .unwrap_or_default()
        }
    };
    let domain = build_domain(raw, suffix.is_some(), &parameter_overrides, errs);
    let min = errs.take(
        "min-capacity",
        values::integer(input_or_default(raw, "min-capacity"), 1, MAX_TASKS),
    );
    let max = errs.take(
        "max-capacity",
        values::integer(input_or_default(raw, "max-capacity"), 1, MAX_TASKS),
    );
    let desired = raw
        .get("desired-count")
        .and_then(|d| errs.take("desired-count", values::integer(d, 1, MAX_TASKS)));
    if let (Some(min), Some(max)) = (min, max) {
        if max < min {
            errs.push(
                "max-capacity",
                format!("must be at least min-capacity ({min}), got {max}"),
            );
        } else if let Some(d) = desired
            && !(min..=max).contains(&d)
        {
            errs.push(
                "desired-count",
                format!("must be within min-capacity..max-capacity ({min}..{max}), got {d}"),
            );
        }
    }
    let target_cpu = errs.take(
        "target-cpu",
        values::integer(input_or_default(raw, "target-cpu"), 10, 90),
    );
    let container_port = errs.take(
        "container-port",
        values::integer(input_or_default(raw, "container-port"), 1, 65_535),
    );
    let health_check_path = input_or_default(raw, "health-check-path").to_string();
    if !health_check_path.starts_with('/')
        || health_check_path.len() > 1024
        || health_check_path
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        errs.push(
            "health-check-path",
            format!(
                "expected a URL path starting with / (no spaces), got {}",
                shown(&health_check_path)
            ),
        );
    }
    let pull_credentials_secret_arn = raw.get("pull-credentials-secret-arn").map(String::from);
    if let Some(arn) = &pull_credentials_secret_arn
        && !(arn.starts_with("arn:aws")
            && arn.contains(":secretsmanager:")
            && arn.contains(":secret:"))
    {
        errs.push("pull-credentials-secret-arn", format!("expected a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME), got {}", shown(arn)));
    }
    let cloudformation_role_arn = raw.get("cloudformation-role-arn").map(String::from);
    if let Some(arn) = &cloudformation_role_arn {
        if !super::aws::is_role_arn(arn) {
            errs.push(
                "cloudformation-role-arn",
                format!(
                    "expected an IAM role ARN like arn:aws:iam::123456789012:role/name, got {}",
                    shown(arn)
                ),
            );
        }
        if let Some(problem) = missing_boundary(template.as_ref(), &parameter_overrides) {
            errs.push("parameter-overrides", problem);
        }
    }
    let mut capabilities = Vec::new();
    for c in values::list(input_or_default(raw, "capabilities")) {
        if Capability::values().contains(&c.as_str()) {
            capabilities.push(Capability::from(c.as_str()));
        } else {
            errs.push(
                "capabilities",
                format!(
                    "expected any of {}, got {}",
                    Capability::values().join(", "),
                    shown(&c)
                ),
            );
        }
    }
    let tags = errs
        .take(
            "stack-tags",
            raw.get("stack-tags").map_or(Ok(Vec::new()), |t| {
                crate::pairs::parse(t).map_err(|e| format!("{e:#}"))
            }),
        )
        .unwrap_or_default();
    if tags.len() > 50 {
        errs.push(
            "stack-tags",
            format!(
                "CloudFormation allows at most 50 stack tags, got {}",
                tags.len()
            ),
        );
    }
    for (k, v) in &tags {
        if k.is_empty()
            || k.len() > 128
            || v.len() > 256
            || k.to_ascii_lowercase().starts_with("aws:")
        {
            errs.push("stack-tags", format!("tag {} must have a key of 1-128 characters not starting with aws: and a value of at most 256", shown(k)));
        }
    }
    let termination_protection = errs.take(
        "termination-protection",
        values::boolean(input_or_default(raw, "termination-protection")),
    );
    let timeout = errs.take(
        "timeout-minutes",
        values::integer(input_or_default(raw, "timeout-minutes"), 1, 360),
    );
    let keep_change_set = errs.take(
        "keep-change-set",
        values::boolean(input_or_default(raw, "keep-change-set")),
    );

    if errs.0.len() != before {
        return None;
    }
    Some(StackConfig {
        name,
        template: template?,
        parameter_overrides,
        capacity: Capacity {
            min: min? as u32,
            max: max? as u32,
            desired: desired.map(|d| d as u32),
        },
        target_cpu: target_cpu? as u32,
        container_port: container_port? as u16,
        health_check_path,
        domain,
        pull_credentials_secret_arn,
        cloudformation_role_arn,
        capabilities,
        tags,
        termination_protection: termination_protection?,
        timeout: Duration::from_secs(timeout? * 60),
        keep_change_set: keep_change_set?,
    })
}

/// `domain-name` and `hosted-zone-id`, checked against each other, the preview suffix and a
/// `CertificateArn` override, so the template's Rules never have to refuse a deploy half-way.
fn build_domain(
    raw: &RawInputs,
    has_suffix: bool,
    overrides: &[(String, String)],
    errs: &mut InputErrors,
) -> Option<Domain> {
    let certificate = overrides
        .iter()
        .any(|(k, v)| k == "CertificateArn" && !v.is_empty());
    let zone = raw.get("hosted-zone-id");
    if let Some(z) = zone
        && !is_hosted_zone_id(z)
    {
        errs.push(
            "hosted-zone-id",
            format!(
                "expected a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ, got {}",
                shown(z)
            ),
        );
    }
    let Some(given) = raw.get("domain-name") else {
        if zone.is_some() {
            errs.push(
                "hosted-zone-id",
                "needs domain-name: the name to create in that zone",
            );
        }
        if certificate {
            errs.push(
                "domain-name",
                "required with a CertificateArn override: a certificate cannot cover the load balancer's own name, so HTTPS and the smoke check need the name it covers",
            );
        }
        return None;
    };
    // DNS names are case-insensitive; ACM and the template take lower case.
    let name = given.trim_end_matches('.').to_ascii_lowercase();
    if !is_domain_name(&name) {
        errs.push(
            "domain-name",
            format!(
                "expected a DNS name such as app.example.com (no wildcard, no scheme), got {}",
                shown(given)
            ),
        );
    }
    if has_suffix {
        errs.push(
            "domain-name",
            "not with stack-name-suffix: every preview stack would take the same name (previews answer on their load balancer's name)",
        );
    }
    if zone.is_none() && !certificate {
        errs.push(
            "hosted-zone-id",
            "required with domain-name (the zone the certificate is validated and the alias record created in), unless a CertificateArn override brings a certificate for the name",
        );
    }
    Some(Domain {
        name,
        hosted_zone_id: zone.map(String::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_role_needs_the_boundary_only_where_the_template_declares_it() {
        let given = vec![(
            BOUNDARY_PARAMETER.to_string(),
            "arn:aws:iam::123456789012:policy/b".to_string(),
        )];
        let empty = vec![(BOUNDARY_PARAMETER.to_string(), String::new())];
        let bundled = Some(&Template::Bundled);
        let missing = missing_boundary(bundled, &[]).expect("bundled template without boundary");
        assert!(
            missing.contains("PermissionsBoundaryArn must be given"),
            "{missing}"
        );
        assert!(missing_boundary(bundled, &empty).is_some());
        assert_eq!(missing_boundary(bundled, &given), None);
        let own = Template::File {
            path: PathBuf::from("t.yml"),
            body: "Parameters: {ImageUri: {Type: String}}\nResources: {}\n".into(),
        };
        assert_eq!(missing_boundary(Some(&own), &[]), None);
    }

    #[test]
    fn stack_names_and_suffixes_follow_cloudformation() {
        for good in ["a", "web-1", &format!("a{}", "b".repeat(127))] {
            assert!(is_stack_name(good), "{good}");
        }
        for bad in ["", "1web", "web_1", "web.1", &"a".repeat(129)] {
            assert!(!is_stack_name(bad), "{bad}");
        }
        for good in ["pr-7", "x", "a1-b2"] {
            assert!(is_name_suffix(good), "{good}");
        }
        for bad in ["", "-pr", "pr-", "pr--7", "pr_7", &"a".repeat(128)] {
            assert!(!is_name_suffix(bad), "{bad}");
        }
    }

    fn build_with(pairs: &[(&str, &str)]) -> Result<StackConfig, Vec<String>> {
        let mut errs = InputErrors::default();
        let gh = GithubContext {
            repository: Some("acme/My_Shop".into()),
            ..GithubContext::default()
        };
        build(
            &RawInputs::from_pairs(pairs),
            &Env::default(),
            &gh,
            Some(Mode::Deploy),
            &mut errs,
        )
        .ok_or_else(|| errs.0.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn derived_names_leave_room_for_the_suffix() {
        assert_eq!(build_with(&[]).unwrap().name, "ecs-poc-my-shop");
        assert_eq!(
            build_with(&[("stack-name-suffix", "pr-7")]).unwrap().name,
            "ecs-poc-my-shop-pr-7"
        );
        let long = format!("a{}", "b".repeat(127));
        let e = build_with(&[("stack-name", &long), ("stack-name-suffix", "pr-7")]).unwrap_err();
        assert!(e[0].starts_with("input `stack-name-suffix`"), "{e:?}");
    }

    #[test]
    fn scaling_tags_and_capabilities_are_checked_together() {
        let e = build_with(&[("min-capacity", "5"), ("max-capacity", "3")]).unwrap_err();
        assert!(e[0].contains("at least min-capacity"), "{e:?}");
        let e = build_with(&[("desired-count", "20")]).unwrap_err();
        assert!(e[0].contains("2..10"), "{e:?}");
        let e =
            build_with(&[("capabilities", "CAPABILITY_IAM, CAPABILITY_EVERYTHING")]).unwrap_err();
        assert!(e[0].contains("CAPABILITY_NAMED_IAM"), "{e:?}");
        let e = build_with(&[("stack-tags", "aws:x=1")]).unwrap_err();
        assert!(e[0].starts_with("input `stack-tags`"), "{e:?}");
        let e = build_with(&[("stack-tags", "team=a\nteam=b")]).unwrap_err();
        assert!(e[0].contains("more than once"), "{e:?}");
        let c = build_with(&[("stack-tags", "{team: web, cost: 12}")]).unwrap();
        assert_eq!(c.tags.len(), 2);
        let e = build_with(&[("health-check-path", "health")]).unwrap_err();
        assert!(e[0].starts_with("input `health-check-path`"), "{e:?}");
        let e = build_with(&[("parameter-overrides", "bad-key=1")]).unwrap_err();
        assert!(e[0].starts_with("input `parameter-overrides`"), "{e:?}");
    }

    #[test]
    fn domains_need_a_zone_or_a_certificate_and_no_suffix() {
        let zone = ("hosted-zone-id", "Z0123456789ABCDEFGHIJ");
        let c = build_with(&[("domain-name", "App.Example.com."), zone]).unwrap();
        assert_eq!(
            c.domain,
            Some(Domain {
                name: "app.example.com".into(),
                hosted_zone_id: Some(zone.1.into())
            })
        );
        let cert = (
            "parameter-overrides",
            "CertificateArn=arn:aws:acm:us-east-1:123456789012:certificate/abc",
        );
        assert!(build_with(&[("domain-name", "app.example.com"), cert]).is_ok());
        let first = |pairs: &[(&str, &str)]| build_with(pairs).unwrap_err()[0].clone();
        assert!(first(&[cert]).starts_with("input `domain-name`: required with a CertificateArn"));
        assert!(first(&[zone]).starts_with("input `hosted-zone-id`: needs domain-name"));
        assert!(first(&[("domain-name", "app.example.com")]).starts_with("input `hosted-zone-id`"));
        for bad in [
            "*.example.com",
            "localhost",
            "https://a.example.com",
            "a..b.com",
            "-a.b.com",
        ] {
            assert!(
                first(&[("domain-name", bad), zone]).starts_with("input `domain-name`"),
                "{bad}"
            );
        }
        assert!(
            first(&[("domain-name", "a.b.com"), ("hosted-zone-id", "z123")])
                .starts_with("input `hosted-zone-id`")
        );
        let e = first(&[
            ("domain-name", "a.b.com"),
            zone,
            ("stack-name-suffix", "pr-7"),
        ]);
        assert!(e.contains("same name"), "{e}");
    }

    #[test]
    fn a_push_needs_no_stack_name() {
        let mut errs = InputErrors::default();
        let gh = GithubContext::default();
        let c = build(
            &RawInputs::from_pairs(&[]),
            &Env::default(),
            &gh,
            Some(Mode::Push),
            &mut errs,
        );
        assert!(errs.is_empty(), "{errs}");
        assert_eq!(c.map(|c| c.name), Some(String::new()));
        build(
            &RawInputs::from_pairs(&[]),
            &Env::default(),
            &gh,
            Some(Mode::Deploy),
            &mut errs,
        );
        assert_eq!(errs.0[0].input, "stack-name");
    }
}
