//! Telnyx Call Control (API v2) webhooks.
//!
//! Telnyx `POST`s one JSON event per call-leg transition to the Call Control application's
//! webhook URL, which a business points at Rappel (`/webhooks/telnyx/{account_id}`):
//!
//! ```json
//! {"data": {"record_type": "event", "event_type": "call.hangup", "id": "…",
//!           "occurred_at": "2025-03-04T09:59:40.123456Z",
//!           "payload": {"call_control_id": "v3:…", "call_leg_id": "…", "call_session_id": "…",
//!                       "client_state": null, "direction": "incoming", "from": "+33600000101",
//!                       "to": "+33144000000", "state": "hangup", "start_time": "…",
//!                       "end_time": "…", "hangup_cause": "originator_cancel",
//!                       "hangup_source": "caller", "sip_hangup_cause": "487"}},
//!  "meta": {"attempt": 1, "delivered_to": "…"}}
//! ```
//!
//! (<https://developers.telnyx.com/api-reference/callbacks/call-hangup>). Only `call.hangup`
//! is decisive: it is sent once per leg and carries `hangup_cause`, one of `call_rejected`,
//! `normal_clearing`, `originator_cancel`, `timeout`, `time_limit`, `user_busy`, `not_found`,
//! `no_answer`, `unspecified` (Telnyx API reference, `CallHangup.payload.hangup_cause`).
//! `call.initiated`, `call.answered`, `call.bridged` and every other event are acknowledged
//! and not stored (`Ok(None)`): the hangup of the same leg reports the outcome, and storing
//! two events for one leg would make two decisions for one call.
//!
//! Status mapping (the table the README reproduces), the same for both directions:
//!
//! | `hangup_cause` | → [`CallStatus`] | why |
//! |---|---|---|
//! | `normal_clearing` | `Answered` | a leg only clears normally once it was answered; unanswered legs end with one of the causes below |
//! | `time_limit` | `Answered` | the leg reached its `time_limit_secs` (default 4 h) while connected |
//! | `originator_cancel` | `Canceled` | the caller hung up while it was ringing |
//! | `timeout`, `no_answer` | `NoAnswer` | nobody picked up in time |
//! | `user_busy` | `Busy` | |
//! | `call_rejected` | `Rejected` | |
//! | `not_found` | `Failed` | unallocated / unreachable destination |
//! | `unspecified`, absent, any other word | `Other` (stored as `ignored`) | says nothing about a human |
//!
//! `call_id` is the payload's `call_leg_id`: the decision is per leg ("a leg that hangs up
//! without `call.answered` is missed"), and the two legs of a forwarded call share one
//! `call_session_id`, so the session id would merge two outcomes under one idempotency key.
//!
//! **Answer, then transfer.** The hangup says whether the *leg* was answered, not by whom.
//! If the Call Control application `answer`s the inbound leg itself before transferring it
//! (Telnyx's call-tracking tutorial does, to play a greeting), the inbound leg ends
//! `normal_clearing` even when nobody at the business picked up. The intake then takes the
//! outcome from the transfer legs (outgoing legs in the inbound leg's `call_session_id`): a
//! transfer leg's `call.answered` ([`Provider::answered_leg`]) or answered hangup means
//! answered; otherwise the inbound leg's `normal_clearing` reads as missed (`docs/providers.md`,
//! "Answer, then transfer"). The payload has no answer timestamp (`start_time` is the leg's
//! start), so the ring time is not known (`ring_seconds = None`).
//!
//! Direction: `payload.direction` (`incoming` → inbound, `outgoing` → outbound). Telnyx's
//! `call.hangup` does not carry it; `call.initiated` always does. Intake remembers each leg's
//! `call.initiated` ([`Provider::leg`], keyed by `call_leg_id`) and reads the hangup with it
//! ([`Provider::leg_key`]). A hangup without a direction and without a remembered leg is read
//! as outbound, the safe failure: an outbound call is never texted.
//!
//! Requests are signed with Ed25519 (headers documented with each callback, e.g.
//! <https://developers.telnyx.com/api-reference/callbacks/call-hangup>; Telnyx SDKs'
//! `Webhook.construct_event`): `telnyx-signature-ed25519` is the base64 signature of
//! `"{telnyx-timestamp}|{raw body}"`, `telnyx-timestamp` is Unix seconds; the secret is the
//! account's public key as the Telnyx portal shows it (base64 of 32 bytes). Requests more than
//! [`TOLERANCE_SECONDS`] away from reception are refused (replay protection).

use super::*;
use crate::call::{CallStatus, Direction};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::{Map, Value};

/// Header carrying the base64 Ed25519 signature (lower-case, as in [`WebhookRequest`]).
pub const SIGNATURE_HEADER: &str = "telnyx-signature-ed25519";
/// Header carrying the signing time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "telnyx-timestamp";
/// Largest accepted difference, in seconds, between `telnyx-timestamp` and reception time
/// (either way), against replays.
pub const TOLERANCE_SECONDS: u64 = 300;
/// Longest accepted `call_leg_id`, in characters.
const MAX_ID_CHARS: usize = 128;
/// Longest accepted `from` / `to`, in characters.
const MAX_PARTY_CHARS: usize = 256;

/// The Telnyx Call Control adapter (route name `telnyx`).
pub struct Telnyx;

impl Provider for Telnyx {
    /// `"telnyx"`.
    fn name(&self) -> &'static str {
        "telnyx"
    }

    /// Checks `telnyx-timestamp` and `telnyx-signature-ed25519` against each of `secrets`
    /// (Ed25519 public keys, base64 of 32 bytes as shown in the Telnyx portal).
    ///
    /// The timestamp must be an integer number of Unix seconds within [`TOLERANCE_SECONDS`]
    /// of [`WebhookRequest::now`]. The signature (base64 of 64 bytes) must verify, under
    /// RFC 8032 with `verify_strict` (no small-order keys, canonical encodings), over the bytes
    /// `"{timestamp}|"` followed by the raw body, for at least one configured key. Secrets that
    /// are empty or not a valid public key are skipped. The keys are public, so timing does not
    /// leak a secret.
    ///
    /// Errors: [`WebhookError::Unauthorized`] when a header is missing or malformed, the
    /// timestamp is outside the tolerance, no usable key is configured, or no key verifies.
    fn verify(&self, req: &WebhookRequest<'_>, secrets: &[&str]) -> Result<(), WebhookError> {
        const UNREADABLE: &str = "malformed telnyx-* header";
        let timestamp = header(
            req,
            TIMESTAMP_HEADER,
            "missing telnyx-timestamp header",
            UNREADABLE,
        )?;
        let signature = header(
            req,
            SIGNATURE_HEADER,
            "missing telnyx-signature-ed25519 header",
            UNREADABLE,
        )?;
        let ts = timestamp.trim();
        let ts_value: i64 = match ts.parse() {
            Ok(v) if ts.bytes().all(|b| b.is_ascii_digit()) => v,
            _ => {
                return Err(WebhookError::Unauthorized(
                    "malformed telnyx-timestamp header",
                ));
            }
        };
        if !within_tolerance(ts_value, req.now, TOLERANCE_SECONDS) {
            return Err(WebhookError::Unauthorized(
                "telnyx-timestamp outside the tolerance",
            ));
        }
        let signature = BASE64
            .decode(signature.trim())
            .ok()
            .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
            .map(|bytes| Signature::from_bytes(&bytes))
            .ok_or(WebhookError::Unauthorized(
                "malformed telnyx-signature-ed25519 header",
            ))?;
        let keys: Vec<VerifyingKey> = secrets.iter().filter_map(|s| public_key(s)).collect();
        if keys.is_empty() {
            return Err(WebhookError::Unauthorized(
                "no usable Telnyx public key configured",
            ));
        }
        let mut message = Vec::with_capacity(ts.len() + 1 + req.body.len());
        message.extend_from_slice(ts.as_bytes());
        message.push(b'|');
        message.extend_from_slice(req.body);
        if keys
            .iter()
            .any(|key| key.verify_strict(&message, &signature).is_ok())
        {
            Ok(())
        } else {
            Err(WebhookError::Unauthorized(
                "telnyx-signature-ed25519 does not match",
            ))
        }
    }

    /// Reads a verified Call Control event into a [`CallEvent`] with `provider = "telnyx"`.
    ///
    /// * `call_id`: `payload.call_leg_id` (see the module docs).
    /// * `direction`: `payload.direction`.
    /// * `status` / `provider_status`: from `payload.hangup_cause` (module table); the word is
    ///   kept when it is a plain `snake_case` word, else `unspecified`.
    /// * `from` / `to`: `payload.from` / `payload.to`, raw (withheld callers such as
    ///   `anonymous` or `sip:anonymous@…` pass through unchanged; `null` or absent → `""`).
    /// * `started_at`: `payload.start_time`; `ended_at`: `payload.end_time`, else
    ///   `data.occurred_at` (RFC 3339; unreadable → `None`); `ring_seconds`: `None`.
    ///
    /// Returns `Ok(None)` for every `event_type` other than `call.hangup`.
    ///
    /// Errors: [`WebhookError::Malformed`] when the body is not a JSON object, `data` or
    /// `data.event_type` is missing, or, on `call.hangup`: `data.payload` is not an object,
    /// `call_leg_id` is missing or not 1–128 characters without control characters,
    /// `direction` is missing or unknown, `from` / `to` are not strings of at most 256
    /// characters. Messages are Rappel's own and never contain a submitted value.
    fn parse(&self, req: &WebhookRequest<'_>) -> Result<Option<CallEvent>, WebhookError> {
        let value: Value = json_body(req.body)?;
        let data = value
            .as_object()
            .ok_or_else(|| malformed("body must be a JSON object"))?
            .get("data")
            .and_then(Value::as_object)
            .ok_or_else(|| malformed("data must be an object"))?;
        let event_type = match data.get("event_type") {
            Some(Value::String(s)) => s.as_str(),
            _ => return Err(malformed("data.event_type must be a string")),
        };
        if event_type != "call.hangup" {
            return Ok(None);
        }
        let payload = data
            .get("payload")
            .and_then(Value::as_object)
            .ok_or_else(|| malformed("data.payload must be an object"))?;

        let call_id = match payload.get("call_leg_id") {
            Some(Value::String(s))
                if (1..=MAX_ID_CHARS).contains(&s.chars().count())
                    && !s.chars().any(char::is_control) =>
            {
                s.clone()
            }
            _ => {
                return Err(malformed(format!(
                    "payload.call_leg_id must be a string of 1 to {MAX_ID_CHARS} characters"
                )));
            }
        };
        let direction = match payload.get("direction") {
            Some(Value::String(s)) if s == "incoming" => Direction::Inbound,
            Some(Value::String(s)) if s == "outgoing" => Direction::Outbound,
            // Telnyx's `call.hangup` carries no direction (only `call.initiated` does). Intake
            // completes it from the remembered `call.initiated` leg ([`Provider::leg`]); without
            // one, outbound is the safe reading: an outbound call is never texted.
            None | Some(Value::Null) => Direction::Outbound,
            Some(_) => {
                return Err(malformed(
                    r#"payload.direction must be "incoming" or "outgoing""#,
                ));
            }
        };
        let cause = match payload.get("hangup_cause") {
            Some(Value::String(s))
                if (1..=40).contains(&s.len())
                    && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') =>
            {
                s.as_str()
            }
            _ => "unspecified",
        };
        let from = party(payload, "from")?;
        let to = party(payload, "to")?;
        let started_at = instant(payload.get("start_time"));
        let ended_at =
            instant(payload.get("end_time")).or_else(|| instant(data.get("occurred_at")));

        Ok(Some(CallEvent {
            provider: "telnyx",
            call_id,
            direction,
            status: hangup_status(cause),
            provider_status: cause.to_owned(),
            from,
            to,
            started_at,
            ended_at,
            ring_seconds: None,
        }))
    }

    /// `data.payload.connection_id`: the Call Control application (formerly "connection")
    /// the call runs under (Telnyx API reference, every call event's payload). Covered by the
    /// Ed25519 signature, which signs the whole body.
    fn account_identity(&self, req: &WebhookRequest<'_>) -> Option<String> {
        let value: Value = serde_json::from_slice(req.body).ok()?;
        match value.pointer("/data/payload/connection_id")? {
            Value::String(id) => Some(id.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    fn names_its_account(&self) -> bool {
        true
    }

    /// `{"status":"accepted"}` as `application/json` (Telnyx only looks at the 2xx status).
    fn ack(&self) -> Ack {
        Ack {
            content_type: "application/json",
            body: "{\"status\":\"accepted\"}",
        }
    }

    /// `call.initiated` is the only event that carries `payload.direction`: remembered under
    /// `call_leg_id` so that the leg's `call.hangup` can be read the right way round.
    fn leg(&self, req: &WebhookRequest<'_>) -> Option<Leg> {
        let value: Value = serde_json::from_slice(req.body).ok()?;
        let data = value.get("data")?;
        if data.get("event_type")?.as_str()? != "call.initiated" {
            return None;
        }
        let payload = data.get("payload")?.as_object()?;
        let key = payload.get("call_leg_id")?.as_str()?;
        if key.is_empty() || key.chars().count() > MAX_ID_CHARS || key.chars().any(char::is_control)
        {
            return None;
        }
        let (direction, counterpart) = match payload.get("direction")?.as_str()? {
            "incoming" => (Direction::Inbound, party(payload, "from").ok()?),
            "outgoing" => (Direction::Outbound, party(payload, "to").ok()?),
            _ => return None,
        };
        let group = payload
            .get("call_session_id")
            .and_then(Value::as_str)
            .filter(|g| {
                !g.is_empty()
                    && g.chars().count() <= MAX_ID_CHARS
                    && !g.chars().any(char::is_control)
            })
            .map(str::to_owned);
        Some(Leg {
            key: key.to_owned(),
            direction,
            counterpart,
            group,
        })
    }

    /// `call.answered`'s `call_leg_id`: the leg was answered (for a transfer leg, the business
    /// picked up), sent when it happens, long before the legs hang up.
    fn answered_leg(&self, req: &WebhookRequest<'_>) -> Option<String> {
        let value: Value = serde_json::from_slice(req.body).ok()?;
        let data = value.get("data")?;
        if data.get("event_type")?.as_str()? != "call.answered" {
            return None;
        }
        let key = data.get("payload")?.get("call_leg_id")?.as_str()?;
        (!key.is_empty()
            && key.chars().count() <= MAX_ID_CHARS
            && !key.chars().any(char::is_control))
        .then(|| key.to_owned())
    }

    /// Every hangup is completed by its leg's `call.initiated`, when intake has it.
    fn leg_key(&self, event: &CallEvent) -> Option<String> {
        Some(event.call_id.clone())
    }
}

/// Maps `payload.hangup_cause` (module table).
fn hangup_status(cause: &str) -> CallStatus {
    match cause {
        "normal_clearing" | "time_limit" => CallStatus::Answered,
        "originator_cancel" => CallStatus::Canceled,
        "timeout" | "no_answer" => CallStatus::NoAnswer,
        "user_busy" => CallStatus::Busy,
        "call_rejected" => CallStatus::Rejected,
        "not_found" => CallStatus::Failed,
        _ => CallStatus::Other,
    }
}

/// A configured secret read as an Ed25519 public key (base64 of 32 bytes, surrounding spaces
/// allowed), or `None`.
fn public_key(secret: &str) -> Option<VerifyingKey> {
    let bytes = BASE64.decode(secret.trim()).ok()?;
    VerifyingKey::from_bytes(&<[u8; 32]>::try_from(bytes).ok()?).ok()
}

/// `from` / `to`: string (at most [`MAX_PARTY_CHARS`]), or `null` / absent → `""`.
fn party(obj: &Map<String, Value>, field: &str) -> Result<String, WebhookError> {
    match obj.get(field) {
        Some(Value::String(s)) if s.chars().count() <= MAX_PARTY_CHARS => Ok(s.clone()),
        None | Some(Value::Null) => Ok(String::new()),
        Some(_) => Err(malformed(format!(
            "payload.{field} must be a string of at most {MAX_PARTY_CHARS} characters"
        ))),
    }
}

/// An RFC 3339 instant, if `value` is a string holding one.
fn instant(value: Option<&Value>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value?.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
#[path = "tests/telnyx.rs"]
mod tests;
