//! Rappel generic JSON webhook. OWNER: providers helper.
use super::*;
pub struct Generic;
impl Provider for Generic {
    fn name(&self) -> &'static str { "generic" }
    fn verify(&self, _req: &WebhookRequest<'_>, _secrets: &[&str]) -> Result<(), WebhookError> { todo!() }
    fn parse(&self, _req: &WebhookRequest<'_>) -> Result<Option<CallEvent>, WebhookError> { todo!() }
    fn ack(&self) -> Ack { Ack { content_type: "application/json", body: "{\"status\":\"accepted\"}" } }
}
