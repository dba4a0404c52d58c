//! Ringover webhooks.
//!
//! A Ringover admin registers `/webhooks/ringover/{account_id}` for the call events
//! ("Calls ringing", "answered", "ended", "missed", "voicemail") in the dashboard's webhook
//! page. Ringover `POST`s JSON:
//!
//! ```json
//! {"resource": "call", "event": "missed", "timestamp": 1764669600.25, "attempt": 1,
//!  "data": {"id": "57622f20-…", "call_id": 1234567890987654400, "channel_id": 123456789,
//!  "start_time": 1764669580.1, "hangup_time": 1764669600.2, "direction": "inbound",
//!  "from_number": "33600000101", "to_number": "33144000000", "user_id": 12854321,
//!  "is_internal": false, "is_anonymous": false, "is_ivr": false, "status": "missed",
//!  "reason": "OUT_PLANNING"}}
//! ```
//!
//! Numbers come in international form without `+`; `call_id` is a large integer (Ringover's
//! call id, one per call: the idempotency key). Times are Unix seconds with a fraction.
//!
//! Status mapping (the table the README reproduces):
//!
//! | `event` | → [`CallStatus`] |
//! |---|---|
//! | `missed` | `NoAnswer` |
//! | `voicemail` | `Voicemail` (missed unless the account says otherwise) |
//! | `answered` | `Answered` |
//! | `hangup` | `Answered` when `answered_time` is set or `duration_in_seconds` > 0, else `NoAnswer` |
//! | `ringing`, anything else, any other `resource` | not stored (`Ok(None)`) |
//!
//! A call between two users of the account (`is_internal`) is no prospect's: acknowledged,
//! not stored. `is_anonymous` makes the caller withheld whatever `from_number` says.
//!
//! Authentication: the `X-Ringover-Webhook-Signature` header is a JWT signed HS512 with the
//! webhook's key (the account's `webhook_secrets.ringover`, two during a rotation). Its claims
//! carry the event, either wrapped (`{"url": …, "payload": {event}}`) or flat (the event's own
//! fields): Rappel checks the signature, that a signed `url` is the URL the request came to,
//! that the body is the event that was signed (a body changed on the way is refused), and
//! that the event's `timestamp` is within [`TOLERANCE_SECONDS`] of reception (replay window);
//! a signed `exp` must not be past. Only `HS512` is accepted (never `none`).

use super::*;
use crate::call::{CallStatus, Direction};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha512;
use subtle::ConstantTimeEq;

/// The header that carries Ringover's JWT.
pub const SIGNATURE_HEADER: &str = "x-ringover-webhook-signature";

/// Largest accepted distance between the event's `timestamp` and reception, in seconds.
pub const TOLERANCE_SECONDS: f64 = 300.0;

/// Longest accepted JWT, in bytes (a call event is well under 4 KB).
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Longest accepted `call_id` once written as a string, in characters.
const MAX_ID_CHARS: usize = 32;
/// Longest accepted `from_number` / `to_number`, in characters.
const MAX_PARTY_CHARS: usize = 64;
/// Longest `reason` kept in `provider_status`.
const MAX_REASON_LEN: usize = 40;

/// The Ringover adapter (route name `ringover`).
pub struct Ringover;

impl Provider for Ringover {
    /// `"ringover"`.
    fn name(&self) -> &'static str {
        "ringover"
    }

    /// Verifies the JWT of `X-Ringover-Webhook-Signature` against each of `secrets` (HS512,
    /// constant-time comparison; empty secrets are never used), then that its claims sign
    /// this very request: the signed `url` if any, the body, the replay window.
    ///
    /// Errors: [`WebhookError::Unauthorized`] naming the failed check; never a value.
    fn verify(&self, req: &WebhookRequest<'_>, secrets: &[&str]) -> Result<(), WebhookError> {
        let token = req
            .headers
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_BYTES)
            .ok_or(WebhookError::Unauthorized(
                "missing X-Ringover-Webhook-Signature",
            ))?;
        let claims = verified_claims(token, secrets)?;
        let signed_event = match claims.get("payload") {
            Some(payload @ Value::Object(_)) => payload,
            _ if claims.get("resource").is_some() && claims.get("event").is_some() => &claims,
            _ => {
                return Err(WebhookError::Unauthorized(
                    "the Ringover signature carries no event",
                ));
            }
        };
        if let Some(url) = claims.get("url") {
            if url.as_str() != Some(req.public_url) {
                return Err(WebhookError::Unauthorized(
                    "the Ringover signature is for another URL",
                ));
            }
        }
        let body: Value = serde_json::from_slice(req.body)
            .map_err(|_| WebhookError::Unauthorized("the body is not the event Ringover signed"))?;
        if &body != signed_event {
            return Err(WebhookError::Unauthorized(
                "the body is not the event Ringover signed",
            ));
        }
        let now = req.now.timestamp_millis() as f64 / 1000.0;
        let Some(sent) = signed_event.get("timestamp").and_then(Value::as_f64) else {
            return Err(WebhookError::Unauthorized(
                "the Ringover event has no timestamp",
            ));
        };
        if (now - sent).abs() > TOLERANCE_SECONDS {
            return Err(WebhookError::Unauthorized(
                "Ringover timestamp outside the tolerance",
            ));
        }
        if claims
            .get("exp")
            .and_then(Value::as_f64)
            .is_some_and(|exp| now > exp)
        {
            return Err(WebhookError::Unauthorized("the Ringover signature expired"));
        }
        Ok(())
    }

    /// Parse a verified call event (status table in the module docs).
    ///
    /// Errors: [`WebhookError::Malformed`] naming the missing or unreadable field.
    fn parse(&self, req: &WebhookRequest<'_>) -> Result<Option<CallEvent>, WebhookError> {
        let value: Value = serde_json::from_slice(req.body)
            .map_err(|_| WebhookError::Malformed("body is not JSON".into()))?;
        parse_value(&value)
    }

    /// Ringover only needs a 2xx: an empty JSON object.
    fn ack(&self) -> Ack {
        Ack {
            content_type: "application/json",
            body: "{}",
        }
    }
}

/// The claims of `token` when its signature is HS512 under one of `secrets`.
fn verified_claims(token: &str, secrets: &[&str]) -> Result<Value, WebhookError> {
    let malformed = WebhookError::Unauthorized("malformed X-Ringover-Webhook-Signature");
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed);
    };
    let header: Value = BASE64URL
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or(malformed.clone())?;
    if header.get("alg").and_then(Value::as_str) != Some("HS512") {
        return Err(WebhookError::Unauthorized(
            "the Ringover signature is not HS512",
        ));
    }
    let signature = BASE64URL.decode(signature).map_err(|_| malformed.clone())?;
    let signed = &token[..token.len() - token.rsplit('.').next().map_or(0, str::len) - 1];
    let secrets = usable_secrets(secrets, "no Ringover key configured")?;
    any_secret_matches(&secrets, "bad Ringover signature", |secret| {
        let mut mac =
            <Hmac<Sha512> as Mac>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(signed.as_bytes());
        bool::from(mac.finalize().into_bytes().as_slice().ct_eq(&signature))
    })?;
    let claims: Value = BASE64URL
        .decode(claims)
        .ok()
        .and_then(|c| serde_json::from_slice(&c).ok())
        .ok_or(malformed)?;
    if !claims.is_object() {
        return Err(WebhookError::Unauthorized(
            "malformed X-Ringover-Webhook-Signature",
        ));
    }
    Ok(claims)
}

/// A Unix time in seconds (with a fraction) as UTC.
fn instant(value: Option<&Value>) -> Option<DateTime<Utc>> {
    let secs = value?.as_f64().filter(|s| *s > 0.0)?;
    DateTime::from_timestamp_millis((secs * 1000.0).round() as i64)
}

/// A party as Ringover writes it: digits without `+` (a number or a string) → `+digits`;
/// anything else kept raw for the classifier.
fn party(value: Option<&Value>, field: &str) -> Result<String, WebhookError> {
    let raw = match value {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        None | Some(Value::Null) => String::new(),
        Some(_) => return Err(WebhookError::Malformed(format!("{field} must be a string"))),
    };
    if raw.chars().count() > MAX_PARTY_CHARS {
        return Err(WebhookError::Malformed(format!("{field} is too long")));
    }
    Ok(
        if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
            format!("+{raw}")
        } else {
            raw
        },
    )
}

fn parse_value(value: &Value) -> Result<Option<CallEvent>, WebhookError> {
    let field = |name: &str| value.get(name).and_then(Value::as_str);
    if field("resource") != Some("call") {
        return Ok(None);
    }
    let event =
        field("event").ok_or_else(|| WebhookError::Malformed("event is required".into()))?;
    let data = value
        .get("data")
        .filter(|d| d.is_object())
        .ok_or_else(|| WebhookError::Malformed("data is required".into()))?;
    if data.get("is_internal").and_then(Value::as_bool) == Some(true) {
        return Ok(None);
    }
    let call_id = match data.get("call_id") {
        Some(Value::Number(n)) if n.is_u64() => n.to_string(),
        Some(Value::String(s))
            if !s.is_empty()
                && s.len() <= MAX_ID_CHARS
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            s.clone()
        }
        _ => {
            return Err(WebhookError::Malformed(
                "data.call_id must be a positive integer".into(),
            ));
        }
    };
    let direction = match data.get("direction").and_then(Value::as_str) {
        Some("inbound") => Direction::Inbound,
        Some("outbound") => Direction::Outbound,
        _ => {
            return Err(WebhookError::Malformed(
                r#"data.direction must be "inbound" or "outbound""#.into(),
            ));
        }
    };
    let answered_at = instant(data.get("answered_time"));
    let duration = data
        .get("duration_in_seconds")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    let status = match event {
        "missed" => CallStatus::NoAnswer,
        "voicemail" => CallStatus::Voicemail,
        "answered" => CallStatus::Answered,
        "hangup" if answered_at.is_some() || duration > 0.0 => CallStatus::Answered,
        "hangup" => CallStatus::NoAnswer,
        _ => return Ok(None),
    };
    let mut from = party(data.get("from_number"), "data.from_number")?;
    let to = party(data.get("to_number"), "data.to_number")?;
    if data.get("is_anonymous").and_then(Value::as_bool) == Some(true)
        && direction == Direction::Inbound
    {
        from = "anonymous".into();
    }
    let started_at = instant(data.get("start_time"));
    let ended_at = instant(data.get("hangup_time"));
    let rang_until = answered_at.or(ended_at);
    let ring_seconds = match (started_at, rang_until) {
        (Some(start), Some(end)) if end >= start => {
            u32::try_from((end - start).num_milliseconds().div_euclid(1000)).ok()
        }
        _ => None,
    };
    let reason: String = data
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(MAX_REASON_LEN)
        .collect();
    Ok(Some(CallEvent {
        provider: "ringover",
        call_id,
        direction,
        status,
        provider_status: if reason.is_empty() {
            event.to_string()
        } else {
            format!("{event}:{reason}")
        },
        from,
        to,
        started_at,
        ended_at,
        ring_seconds,
    }))
}

#[cfg(test)]
#[path = "tests/ringover.rs"]
mod tests;
