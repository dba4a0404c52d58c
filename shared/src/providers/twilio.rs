//! Twilio Programmable Voice callbacks. OWNER: providers helper.
use super::*;
pub struct Twilio;
impl Provider for Twilio {
    fn name(&self) -> &'static str { "twilio" }
    fn verify(&self, _req: &WebhookRequest<'_>, _secrets: &[&str]) -> Result<(), WebhookError> { todo!() }
    fn parse(&self, _req: &WebhookRequest<'_>) -> Result<Option<CallEvent>, WebhookError> { todo!() }
    fn ack(&self) -> Ack { Ack { content_type: "text/xml", body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>" } }
}
