//! Counting the AWS calls each function makes (`GET /_local/aws-calls`), with an SDK
//! interceptor on the clients the handlers use. The runner's own stream polling is not counted.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

tokio::task_local! {
    /// Which function (and trigger) the current task plays: `webhook-intake`, `eligibility`,
    /// `sender:MessageDue`, `sender:sweep`, `booking`.
    pub static PHASE: &'static str;
}

/// One counter row.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CallCount {
    pub function: String,
    pub service: String,
    pub operation: String,
    pub count: u64,
}

/// Shared counters; clone it into every client's configuration.
#[derive(Debug, Clone, Default)]
pub struct AwsCalls(Arc<Mutex<BTreeMap<(String, String, String), u64>>>);

impl AwsCalls {
    pub fn snapshot(&self) -> Vec<CallCount> {
        self.0
            .lock()
            .expect("counter lock")
            .iter()
            .map(|((function, service, operation), count)| CallCount {
                function: function.clone(),
                service: service.clone(),
                operation: operation.clone(),
                count: *count,
            })
            .collect()
    }
}

impl Intercept for AwsCalls {
    fn name(&self) -> &'static str {
        "RappelLocalAwsCalls"
    }

    /// Once per operation (retries are not counted twice).
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_string(), m.name().to_string()))
            .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
        let phase = PHASE
            .try_with(|p| p.to_string())
            .unwrap_or_else(|_| "other".into());
        *self
            .0
            .lock()
            .expect("counter lock")
            .entry((phase, service, operation))
            .or_default() += 1;
        Ok(())
    }
}
