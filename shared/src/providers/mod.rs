//! Telephony provider webhooks: authentication, parsing into [`CallEvent`], and the answer
//! each provider expects.

use crate::call::CallEvent;
use chrono::{DateTime, Utc};

pub mod aircall;
pub mod generic;
pub mod plivo;
pub mod telnyx;
pub mod twilio;
pub mod vonage;

/// A webhook request as API Gateway (or the local runner) delivered it, body already
/// base64-decoded.
#[derive(Debug, Clone)]
pub struct WebhookRequest<'a> {
    /// The URL the provider called, as it sees it: public base URL + path + `?` + raw query
    /// string (Twilio signs this exact string).
    pub public_url: &'a str,
    /// Header names are lower-case.
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
    /// Reception time (UTC), for timestamp tolerance checks.
    pub now: DateTime<Utc>,
}

/// Why a webhook was refused. HTTP status is chosen at the HTTP edge:
/// `Unauthorized` → 401, `Malformed` → 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// Missing, malformed or wrong signature, or timestamp outside the tolerance.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// The body cannot be read as this provider's format. The message never contains a number.
    #[error("malformed webhook: {0}")]
    Malformed(String),
}

/// What the provider expects back on success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub content_type: &'static str,
    pub body: &'static str,
}

/// A provider adapter.
pub trait Provider: Sync {
    /// Route name (`/webhooks/{name}/...`).
    fn name(&self) -> &'static str;
    /// Verify the request against any of `secrets` (two may be valid during a rotation).
    fn verify(&self, req: &WebhookRequest<'_>, secrets: &[&str]) -> Result<(), WebhookError>;
    /// Parse a verified request. `Ok(None)`: a well-formed event that is not a call outcome
    /// at all (e.g. a `ringing` progress callback); it is acknowledged and not stored.
    fn parse(&self, req: &WebhookRequest<'_>) -> Result<Option<CallEvent>, WebhookError>;
    /// Success answer (Twilio: empty TwiML `<Response/>`).
    fn ack(&self) -> Ack;
}

/// The adapter for route name `name`, if Rappel supports it.
pub fn by_name(name: &str) -> Option<&'static dyn Provider> {
    match name {
        "twilio" => Some(&twilio::Twilio),
        "generic" => Some(&generic::Generic),
        "vonage" => Some(&vonage::Vonage),
        "telnyx" => Some(&telnyx::Telnyx),
        "aircall" => Some(&aircall::Aircall),
        "plivo" => Some(&plivo::Plivo),
        _ => None,
    }
}
