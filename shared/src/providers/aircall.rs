//! Aircall webhooks.
//!
//! An Aircall admin (or an integration, through the Webhooks API) registers
//! `/webhooks/aircall/{account_id}` for the `call.ended` event. Aircall `POST`s JSON:
//!
//! ```json
//! {"resource": "call", "event": "call.ended", "timestamp": 1741082410,
//!  "token": "45XXYYZZa08", "data": {"id": 812345678, "direction": "inbound",
//!  "status": "done", "started_at": 1741082352, "answered_at": null,
//!  "ended_at": 1741082380, "duration": 28, "raw_digits": "+33 6 00 00 01 01",
//!  "missed_call_reason": "agents_did_not_answer", "voicemail": null,
//!  "number": {"id": 4242, "digits": "+33 1 44 00 00 00", ...}, ...}}
//! ```
//!
//! (<https://developer.aircall.io/docs/webhooks-overview>; call object:
//! <https://developer.aircall.io/api-references/#call>). `call.ended` fires about 30 s after
//! the hang-up, once the call's data is final, and is the only decisive event; `call.created`,
//! `call.answered`, `call.hungup`... and events of other resources are acknowledged and not
//! stored (`Ok(None)`). Times are Unix seconds.
//!
//! Status mapping (the table the README reproduces):
//!
//! | `direction` | `answered_at` | `voicemail` / `missed_call_reason` | → [`CallStatus`] |
//! |---|---|---|---|
//! | inbound | set | — | `Answered` |
//! | inbound | `null` | `voicemail` set | `Voicemail` (missed unless the account says otherwise) |
//! | inbound | `null` | `short_abandoned`, `abandoned_in_ivr`, `abandoned_in_classic` | `Canceled` (the caller hung up before an agent answered) |
//! | inbound | `null` | `agents_did_not_answer`, `no_available_agent`, `out_of_opening_hours`, other or `null` | `NoAnswer` |
//! | outbound | set | — | `Answered` (the business reached the prospect: cancels pending SMS) |
//! | outbound | `null` | — | `NoAnswer` (outbound: never texted) |
//!
//! `call_id` is `data.id` (Aircall's call id, one per call). `from` / `to` are raw: inbound
//! `from = raw_digits` (the external number as Aircall formats it, `"+33 6 00 00 01 01"`, or
//! `"anonymous"` when withheld), `to = number.digits` (the Aircall number); outbound the
//! reverse.
//!
//! Authentication: every body carries the `token` Aircall issued when the webhook was created;
//! it is compared in constant time with the account's secrets. Aircall signs nothing and
//! sends no signed timestamp, so there is **no replay window**: a captured request can be
//! replayed. The damage is bounded by idempotency (`data.id` is the call's key, so a replay of
//! a stored call changes nothing) and the token only travels over HTTPS.

use super::*;
use crate::call::{CallStatus, Direction};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

/// Longest accepted `data.id` once written as a string, in characters.
const MAX_ID_CHARS: usize = 64;
/// Longest accepted `raw_digits` / `number.digits`, in characters.
const MAX_PARTY_CHARS: usize = 256;
/// Longest `missed_call_reason` kept in `provider_status`.
const MAX_REASON_LEN: usize = 40;

/// The Aircall adapter (route name `aircall`).
pub struct Aircall;

impl Provider for Aircall {
    /// `"aircall"`.
    fn name(&self) -> &'static str {
        "aircall"
    }

    /// Checks the body's top-level `token` against each of `secrets` (Aircall webhook tokens),
    /// in constant time for equal lengths; empty secrets are never used. No timestamp is
    /// checked (Aircall signs none, see the module docs).
    ///
    /// Errors: [`WebhookError::Unauthorized`] when the body is not a JSON object with a string
    /// `token`, when no usable secret is configured, or when no secret matches.
    fn verify(&self, req: &WebhookRequest<'_>, secrets: &[&str]) -> Result<(), WebhookError> {
        let value: Value = serde_json::from_slice(req.body)
            .map_err(|_| WebhookError::Unauthorized("missing Aircall token"))?;
        let Some(Value::String(token)) = value.get("token") else {
            return Err(WebhookError::Unauthorized("missing Aircall token"));
        };
        if token.is_empty() {
            return Err(WebhookError::Unauthorized("missing Aircall token"));
        }
        let secrets = usable_secrets(secrets, "no Aircall token configured")?;
        any_secret_matches(&secrets, "Aircall token does not match", |secret| {
            bool::from(secret.as_bytes().ct_eq(token.as_bytes()))
        })
    }

    /// Reads a verified `call.ended` webhook into a [`CallEvent`] with `provider = "aircall"`
    /// (module table).
    ///
    /// * `call_id`: `data.id` (integer or string), as a decimal string.
    /// * `provider_status`: `missed_call_reason` when set (and a plain `snake_case` word),
    ///   else `voicemail` for a voicemail, else `answered` / `missed`.
    /// * `started_at` / `ended_at`: `data.started_at` / `data.ended_at` (Unix seconds).
    /// * `ring_seconds`: from `started_at` to `answered_at` (answered) or `ended_at`
    ///   (unanswered), when both are known.
    ///
    /// Returns `Ok(None)` when `resource` is not `call` or `event` is not `call.ended`.
    ///
    /// Errors: [`WebhookError::Malformed`] when the body is not a JSON object, `resource` or
    /// `event` is not a string, or, on `call.ended`: `data` is not an object, `data.id` is
    /// missing or not an id, `data.direction` is not `inbound` / `outbound`, a time is not
    /// Unix seconds, `ended_at` is before `started_at`, `raw_digits` / `number.digits` are
    /// not short strings. Messages are Rappel's own and never contain a submitted value.
    fn parse(&self, req: &WebhookRequest<'_>) -> Result<Option<CallEvent>, WebhookError> {
        let value: Value = json_body(req.body)?;
        let Value::Object(obj) = value else {
            return Err(malformed("body must be a JSON object"));
        };
        let (Some(Value::String(resource)), Some(Value::String(event))) =
            (obj.get("resource"), obj.get("event"))
        else {
            return Err(malformed("resource and event must be strings"));
        };
        if resource != "call" || event != "call.ended" {
            return Ok(None);
        }
        let data = obj
            .get("data")
            .and_then(Value::as_object)
            .ok_or_else(|| malformed("data must be an object"))?;

        let call_id = match data.get("id") {
            Some(Value::Number(n)) if n.is_u64() => n.to_string(),
            Some(Value::String(s))
                if (1..=MAX_ID_CHARS).contains(&s.len())
                    && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
            {
                s.clone()
            }
            _ => return Err(malformed("data.id must be an Aircall call id")),
        };
        let direction = match data.get("direction") {
            Some(Value::String(s)) if s == "inbound" => Direction::Inbound,
            Some(Value::String(s)) if s == "outbound" => Direction::Outbound,
            _ => {
                return Err(malformed(
                    r#"data.direction must be "inbound" or "outbound""#,
                ));
            }
        };
        let started_at = unix_time(data, "started_at")?;
        let answered_at = unix_time(data, "answered_at")?;
        let ended_at = unix_time(data, "ended_at")?;
        if let (Some(s), Some(e)) = (started_at, ended_at)
            && e < s
        {
            return Err(malformed("data.ended_at is before data.started_at"));
        }
        let external = party(data.get("raw_digits"), "data.raw_digits")?;
        let aircall_number = party(
            data.get("number").and_then(|n| n.get("digits")),
            "data.number.digits",
        )?;
        let voicemail = data
            .get("voicemail")
            .and_then(Value::as_str)
            .is_some_and(|v| !v.trim().is_empty());
        let reason = data
            .get("missed_call_reason")
            .and_then(Value::as_str)
            .filter(|r| {
                (1..=MAX_REASON_LEN).contains(&r.len())
                    && r.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            });

        let (status, word) = match (direction, answered_at.is_some()) {
            (_, true) => (CallStatus::Answered, "answered"),
            (Direction::Outbound, false) => (CallStatus::NoAnswer, reason.unwrap_or("missed")),
            (Direction::Inbound, false) if voicemail => {
                (CallStatus::Voicemail, reason.unwrap_or("voicemail"))
            }
            (Direction::Inbound, false) => (missed_status(reason), reason.unwrap_or("missed")),
        };
        let (from, to) = match direction {
            Direction::Inbound => (external, aircall_number),
            Direction::Outbound => (aircall_number, external),
        };
        let rang_until = answered_at.or(ended_at);
        let ring_seconds = match (started_at, rang_until) {
            (Some(s), Some(r)) if r >= s => u32::try_from((r - s).num_seconds()).ok(),
            _ => None,
        };

        Ok(Some(CallEvent {
            provider: "aircall",
            call_id,
            direction,
            status,
            provider_status: word.to_owned(),
            from,
            to,
            started_at,
            ended_at,
            ring_seconds,
        }))
    }

    /// `{"status":"accepted"}` as `application/json` (Aircall only looks at the 2xx status).
    fn ack(&self) -> Ack {
        Ack {
            content_type: "application/json",
            body: "{\"status\":\"accepted\"}",
        }
    }
}

/// An unanswered inbound call without voicemail, by `missed_call_reason`.
fn missed_status(reason: Option<&str>) -> CallStatus {
    match reason {
        Some("short_abandoned" | "abandoned_in_ivr" | "abandoned_in_classic") => {
            CallStatus::Canceled
        }
        _ => CallStatus::NoAnswer,
    }
}

/// An optional Unix-seconds field (integer ≥ 0, or `null` / absent → `None`).
fn unix_time(obj: &Map<String, Value>, field: &str) -> Result<Option<DateTime<Utc>>, WebhookError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .filter(|s| *s >= 0)
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .map(Some)
            .ok_or_else(|| malformed(format!("data.{field} must be Unix seconds"))),
        Some(_) => Err(malformed(format!("data.{field} must be Unix seconds"))),
    }
}

/// A number field: string of at most [`MAX_PARTY_CHARS`], or `null` / absent → `""`.
fn party(value: Option<&Value>, field: &str) -> Result<String, WebhookError> {
    match value {
        Some(Value::String(s)) if s.chars().count() <= MAX_PARTY_CHARS => Ok(s.clone()),
        None | Some(Value::Null) => Ok(String::new()),
        Some(_) => Err(malformed(format!(
            "{field} must be a string of at most {MAX_PARTY_CHARS} characters"
        ))),
    }
}

#[cfg(test)]
#[path = "tests/aircall.rs"]
mod tests;
