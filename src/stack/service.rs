//! The stack's ECS service: found among the stack's resources, its live desired count, and the
//! reasons its tasks stopped.

use anyhow::{Context, Result};
use aws_sdk_ecs::types::DesiredStatus;

use super::lookup::{sdk_error, stack_resources};

/// An ECS service by cluster and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRef {
    pub cluster: String,
    pub service: String,
}

impl ServiceRef {
    /// From a service ARN in the long format, `arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME`
    /// (CloudFormation's physical id of an `AWS::ECS::Service`).
    pub fn from_arn(arn: &str) -> Option<Self> {
        let resource = arn.strip_prefix("arn:")?.split(':').nth(4)?;
        let mut parts = resource.split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("service"), Some(cluster), Some(service), None)
                if !cluster.is_empty() && !service.is_empty() =>
            {
                Some(Self {
                    cluster: cluster.into(),
                    service: service.into(),
                })
            }
            _ => None,
        }
    }
}

/// The stack's ECS service: the resource with logical id `logical` if given, else the only
/// `AWS::ECS::Service`. The cluster comes from the service ARN, or from the stack's
/// `AWS::ECS::Cluster` for short-format ARNs.
pub async fn find_service(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    logical: Option<&str>,
) -> Result<Option<ServiceRef>> {
    let mut services = Vec::new();
    let mut clusters = Vec::new();
    for r in stack_resources(cfn, stack).await? {
        let (Some(ty), Some(id), Some(physical)) = (
            r.resource_type(),
            r.logical_resource_id(),
            r.physical_resource_id(),
        ) else {
            continue;
        };
        match ty {
            "AWS::ECS::Service" if logical.is_none_or(|l| l == id) => {
                services.push(physical.to_string())
            }
            "AWS::ECS::Cluster" => clusters.push(physical.to_string()),
            _ => {}
        }
    }
    let [service] = services.as_slice() else {
        return Ok(None);
    };
    if let Some(s) = ServiceRef::from_arn(service) {
        return Ok(Some(s));
    }
    let name = service.rsplit('/').next().unwrap_or(service);
    Ok(match clusters.as_slice() {
        [cluster] => Some(ServiceRef {
            cluster: cluster.clone(),
            service: name.to_string(),
        }),
        _ => None,
    })
}

/// The desired count ECS holds for the service right now (auto scaling may have moved it).
pub async fn live_desired_count(
    ecs: &aws_sdk_ecs::Client,
    svc: &ServiceRef,
) -> Result<Option<u32>> {
    let out = ecs
        .describe_services()
        .cluster(&svc.cluster)
        .services(&svc.service)
        .send()
        .await
        .map_err(sdk_error)
        .with_context(|| {
            format!(
                "describing ECS service {} in cluster {}",
                svc.service, svc.cluster
            )
        })?;
    Ok(out
        .services()
        .iter()
        .find(|s| s.status() != Some("INACTIVE"))
        .and_then(|s| u32::try_from(s.desired_count()).ok()))
}

/// Why the service's tasks stopped, newest first, one line per distinct reason with a count:
/// the explanation a circuit-breaker rollback leaves out of the stack events.
pub async fn stopped_task_reasons(
    ecs: &aws_sdk_ecs::Client,
    svc: &ServiceRef,
) -> Result<Vec<String>> {
    let listed = ecs
        .list_tasks()
        .cluster(&svc.cluster)
        .service_name(&svc.service)
        .desired_status(DesiredStatus::Stopped)
        .max_results(20)
        .send()
        .await
        .map_err(sdk_error)
        .with_context(|| format!("listing stopped tasks of ECS service {}", svc.service))?;
    if listed.task_arns().is_empty() {
        return Ok(Vec::new());
    }
    let described = ecs
        .describe_tasks()
        .cluster(&svc.cluster)
        .set_tasks(Some(listed.task_arns().to_vec()))
        .send()
        .await
        .map_err(sdk_error)
        .with_context(|| format!("describing stopped tasks of ECS service {}", svc.service))?;
    let mut tasks: Vec<_> = described.tasks().iter().collect();
    tasks.sort_by_key(|t| std::cmp::Reverse(t.stopped_at().map(|d| d.secs())));
    let mut reasons: Vec<(String, usize)> = Vec::new();
    for task in tasks {
        let mut parts: Vec<String> = task
            .stopped_reason()
            .map(String::from)
            .into_iter()
            .collect();
        for c in task.containers() {
            let name = c.name().unwrap_or("container");
            match (c.exit_code(), c.reason()) {
                (Some(code), Some(r)) => parts.push(format!("{name}: exit code {code}, {r}")),
                (Some(code), None) => parts.push(format!("{name}: exit code {code}")),
                (None, Some(r)) => parts.push(format!("{name}: {r}")),
                (None, None) => {}
            }
        }
        if parts.is_empty() {
            continue;
        }
        let line = parts.join("; ");
        match reasons.iter_mut().find(|(l, _)| *l == line) {
            Some((_, n)) => *n += 1,
            None => reasons.push((line, 1)),
        }
    }
    Ok(reasons
        .into_iter()
        .map(|(line, n)| {
            if n > 1 {
                format!("{line} ({n} tasks)")
            } else {
                line
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_long_service_arns_only() {
        assert_eq!(
            ServiceRef::from_arn("arn:aws:ecs:us-east-1:123456789012:service/web-cluster/web-svc"),
            Some(ServiceRef {
                cluster: "web-cluster".into(),
                service: "web-svc".into()
            })
        );
        assert_eq!(
            ServiceRef::from_arn("arn:aws:ecs:us-east-1:123456789012:service/web-svc"),
            None
        );
        assert_eq!(ServiceRef::from_arn("web-svc"), None);
    }
}
