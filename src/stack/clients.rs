//! The AWS clients the engine uses, built from one `SdkConfig`, with a count of the
//! CloudFormation calls made (reported, and what the no-op budget is measured in).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_cloudformation::config::Intercept;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_types::config_bag::ConfigBag;

/// CloudFormation and ECS clients sharing one configuration (region, credentials, endpoint), and
/// the service role CloudFormation acts as for every stack change made through them.
#[derive(Debug, Clone)]
pub struct Clients {
    // Only the engine speaks to CloudFormation and ECS: nothing outside `stack/` reaches in.
    pub(super) cfn: aws_sdk_cloudformation::Client,
    pub(super) ecs: aws_sdk_ecs::Client,
    cfn_calls: Arc<AtomicU32>,
    service_role: Option<String>,
}

impl Clients {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self::from_clients(
            aws_sdk_cloudformation::Client::new(config),
            aws_sdk_ecs::Client::new(config),
        )
    }

    /// Wraps clients built elsewhere (mocked ones in tests); the call counter is added to the
    /// CloudFormation client's own interceptors.
    pub fn from_clients(cfn: aws_sdk_cloudformation::Client, ecs: aws_sdk_ecs::Client) -> Self {
        let cfn_calls = Arc::new(AtomicU32::new(0));
        let counter = CallCounter(Arc::clone(&cfn_calls));
        let conf = cfn.config().to_builder().interceptor(counter).build();
        Self {
            cfn: aws_sdk_cloudformation::Client::from_conf(conf),
            ecs,
            cfn_calls,
            service_role: None,
        }
    }

    /// CloudFormation acts as this role (`RoleARN`) on every change set and delete made through
    /// these clients, instead of with the caller's own permissions. It belongs to the clients,
    /// not to one request, so a rollback redeploy or a cleanup delete can never forget it.
    pub fn with_service_role(mut self, role_arn: Option<String>) -> Self {
        self.service_role = role_arn;
        self
    }

    /// The `RoleARN` to send, if any.
    pub fn service_role(&self) -> Option<&str> {
        self.service_role.as_deref()
    }

    /// CloudFormation operations started through these clients so far (SDK retries not counted).
    pub fn cfn_calls(&self) -> u32 {
        self.cfn_calls.load(Ordering::Relaxed)
    }
}

#[derive(Debug)]
struct CallCounter(Arc<AtomicU32>);

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CloudFormationCallCounter"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
