//! Which ECS task and Availability Zone is serving: read once at start-up from the task
//! metadata endpoint v4 (`$ECS_CONTAINER_METADATA_URI_V4/task`).

use std::time::Duration;

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::Uri;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::json;

use crate::logging;

const ATTEMPTS: u32 = 3;
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
const RETRY_DELAY: Duration = Duration::from_millis(250);
/// The task document is a few KiB; anything much larger is not the metadata endpoint.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskIdentity {
    pub task_id: String,
    pub availability_zone: String,
}

impl TaskIdentity {
    /// Not on ECS: no metadata endpoint configured.
    fn local() -> Self {
        Self {
            task_id: "local".into(),
            availability_zone: "local".into(),
        }
    }

    /// On ECS, but the endpoint could not be read.
    fn unknown() -> Self {
        Self {
            task_id: "unknown".into(),
            availability_zone: "unknown".into(),
        }
    }
}

/// The fields of the task metadata document that the page shows.
#[derive(Debug, Deserialize)]
struct TaskDocument {
    #[serde(rename = "TaskARN")]
    task_arn: String,
    #[serde(rename = "AvailabilityZone")]
    availability_zone: String,
}

/// Never fails: off ECS the identity is `local`, and an unreadable endpoint gives `unknown`
/// with a warning, since the app is still worth serving.
pub async fn discover(task_uri: Option<&Uri>) -> TaskIdentity {
    let Some(uri) = task_uri else {
        return TaskIdentity::local();
    };
    let mut last_error = None;
    for attempt in 1..=ATTEMPTS {
        match tokio::time::timeout(ATTEMPT_TIMEOUT, fetch(uri)).await {
            Ok(Ok(identity)) => return identity,
            Ok(Err(err)) => last_error = Some(format!("{err:#}")),
            Err(_) => last_error = Some(format!("no answer within {ATTEMPT_TIMEOUT:?}")),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(RETRY_DELAY).await;
        }
    }
    logging::warn(
        "task metadata unavailable",
        json!({ "uri": uri.to_string(), "attempts": ATTEMPTS, "error": last_error }),
    );
    TaskIdentity::unknown()
}

/// GET the task document; expects 200 with JSON.
async fn fetch(uri: &Uri) -> anyhow::Result<TaskIdentity> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = client
        .get(uri.clone())
        .await
        .with_context(|| format!("GET {uri}"))?;
    let status = response.status();
    anyhow::ensure!(status.is_success(), "GET {uri}: status {status}");
    let body = Limited::new(response.into_body(), MAX_DOCUMENT_BYTES)
        .collect()
        .await
        .map_err(|err| anyhow::anyhow!("reading {uri}: {err}"))?
        .to_bytes();
    let document: TaskDocument = serde_json::from_slice(&body)
        .with_context(|| format!("parsing the task document from {uri}"))?;
    Ok(TaskIdentity {
        task_id: task_id(&document.task_arn).to_owned(),
        availability_zone: document.availability_zone,
    })
}

/// `arn:aws:ecs:us-east-1:123456789012:task/my-cluster/0123abcd…` → `0123abcd…`.
fn task_id(task_arn: &str) -> &str {
    task_arn.rsplit('/').next().unwrap_or(task_arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_id_is_the_last_arn_segment() {
        let arn = "arn:aws:ecs:us-east-1:123456789012:task/demo/0f1e2d3c4b5a69788796a5b4c3d2e1f0";
        assert_eq!(task_id(arn), "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
        // Old-format ARNs have no cluster segment.
        assert_eq!(
            task_id("arn:aws:ecs:us-east-1:123456789012:task/abc"),
            "abc"
        );
        assert_eq!(task_id("abc"), "abc");
    }

    #[tokio::test]
    async fn no_endpoint_means_local() {
        assert_eq!(discover(None).await, TaskIdentity::local());
    }
}
