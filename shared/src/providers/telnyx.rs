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
mod tests {
    use super::*;
    use crate::phone::{Caller, LineType, classify};
    use ed25519_dalek::{Signer, SigningKey};
    use http::{HeaderMap, HeaderValue};
    use proptest::prelude::*;
    use serde_json::json;

    const LEG: &str = "428c31b6-7af4-4bcb-b7f5-5013ef9657c1";

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-03-04T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    /// A fixed key pair (RFC 8032 test 1 seed) standing in for the Telnyx account key.
    fn signing_key() -> SigningKey {
        SigningKey::from_bytes(
            &<[u8; 32]>::try_from(
                hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                    .unwrap(),
            )
            .unwrap(),
        )
    }

    fn public_b64(key: &SigningKey) -> String {
        BASE64.encode(key.verifying_key().as_bytes())
    }

    /// Signs as Telnyx documents: base64(Ed25519(`"{timestamp}|{body}"`)).
    fn telnyx_sign(key: &SigningKey, ts: &str, body: &[u8]) -> String {
        let mut msg = format!("{ts}|").into_bytes();
        msg.extend_from_slice(body);
        BASE64.encode(key.sign(&msg).to_bytes())
    }

    fn signed_headers(key: &SigningKey, ts: i64, body: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert(
            TIMESTAMP_HEADER,
            HeaderValue::from_str(&ts.to_string()).unwrap(),
        );
        h.insert(
            SIGNATURE_HEADER,
            HeaderValue::from_str(&telnyx_sign(key, &ts.to_string(), body)).unwrap(),
        );
        h
    }

    fn verify_with(h: &HeaderMap, body: &[u8], secrets: &[&str]) -> Result<(), WebhookError> {
        let req = WebhookRequest {
            public_url: "https://x.test/webhooks/telnyx/acme",
            headers: h,
            body,
            now: now(),
        };
        Telnyx.verify(&req, secrets)
    }

    fn parse_bytes(body: &[u8]) -> Result<Option<CallEvent>, WebhookError> {
        let h = HeaderMap::new();
        let req = WebhookRequest {
            public_url: "https://x.test/webhooks/telnyx/acme",
            headers: &h,
            body,
            now: now(),
        };
        Telnyx.parse(&req)
    }

    fn parse_json(v: &Value) -> Result<Option<CallEvent>, WebhookError> {
        parse_bytes(v.to_string().as_bytes())
    }

    fn hangup(payload: Value) -> Value {
        json!({
            "data": {
                "record_type": "event",
                "event_type": "call.hangup",
                "id": "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0",
                "occurred_at": "2025-03-04T09:59:40.521992Z",
                "payload": payload,
            },
            "meta": {"attempt": 1, "delivered_to": "https://x.test/webhooks/telnyx/acme"},
        })
    }

    fn base_payload() -> Value {
        json!({
            "call_control_id": "v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg",
            "connection_id": "1684641123236054244",
            "call_leg_id": LEG,
            "call_session_id": "428c31b6-7af4-4bcb-b7f5-5013ef9657c1",
            "client_state": null,
            "direction": "incoming",
            "from": "+33600000101",
            "to": "+33144000000",
            "state": "hangup",
            "start_time": "2025-03-04T09:59:12.521992Z",
            "end_time": "2025-03-04T09:59:40.396120Z",
            "hangup_cause": "originator_cancel",
            "hangup_source": "caller",
            "sip_hangup_cause": "487",
        })
    }

    fn with(field: &str, value: Value) -> Value {
        let mut p = base_payload();
        p[field] = value;
        hangup(p)
    }

    fn ok_of(v: &Value) -> CallEvent {
        parse_json(v).unwrap().unwrap()
    }

    fn leg_of(v: &Value) -> Option<Leg> {
        let h = HeaderMap::new();
        let body = v.to_string();
        let req = WebhookRequest {
            public_url: "https://x.test/webhooks/telnyx/acme",
            headers: &h,
            body: body.as_bytes(),
            now: now(),
        };
        Telnyx.leg(&req)
    }

    #[test]
    fn call_initiated_is_remembered_and_completes_the_hangup() {
        let mut initiated = base_payload();
        initiated["state"] = json!("parked");
        let event =
            |payload: Value| json!({"data": {"event_type": "call.initiated", "payload": payload}});
        let leg = leg_of(&event(initiated.clone())).expect("an incoming leg is remembered");
        assert_eq!(
            (leg.key.as_str(), leg.direction, leg.counterpart.as_str()),
            (LEG, Direction::Inbound, "+33600000101")
        );
        initiated["direction"] = json!("outgoing");
        let leg = leg_of(&event(initiated.clone())).unwrap();
        assert_eq!(
            (leg.direction, leg.counterpart.as_str()),
            (Direction::Outbound, "+33144000000")
        );
        // Only call.initiated is remembered.
        assert_eq!(leg_of(&hangup(base_payload())), None);
        assert_eq!(
            leg_of(&json!({"data": {"event_type": "call.initiated", "payload": {}}})),
            None
        );
        assert_eq!(
            Telnyx.leg_key(&ok_of(&hangup(base_payload()))).as_deref(),
            Some(LEG)
        );
    }

    fn err_of(v: &Value) -> String {
        match parse_json(v) {
            Err(WebhookError::Malformed(m)) => m,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    // ---- signature ------------------------------------------------------------------------

    #[test]
    fn rfc8032_key_pair_is_the_documented_one() {
        // RFC 8032 §7.1 test 1: the seed above has this public key, and signs the empty
        // message as below, so `signing_key` is the standard Ed25519 and not a look-alike.
        let key = signing_key();
        assert_eq!(
            hex::encode(key.verifying_key().as_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(
            hex::encode(key.sign(b"").to_bytes()),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }

    #[test]
    fn signed_requests_verify() {
        let key = signing_key();
        let body = hangup(base_payload()).to_string().into_bytes();
        let h = signed_headers(&key, now().timestamp(), &body);
        assert_eq!(verify_with(&h, &body, &[&public_b64(&key)]), Ok(()));
        // Rotation: any configured key; unusable secrets are skipped.
        let other = BASE64.encode(SigningKey::from_bytes(&[7; 32]).verifying_key().as_bytes());
        assert_eq!(
            verify_with(&h, &body, &["", "not base64!", &other, &public_b64(&key)]),
            Ok(())
        );
        // The portal may show the key with surrounding spaces or a newline.
        assert_eq!(
            verify_with(&h, &body, &[&format!(" {}\n", public_b64(&key))]),
            Ok(())
        );
    }

    #[test]
    fn tampered_body_wrong_key_and_bad_signatures_fail() {
        let key = signing_key();
        let body = hangup(base_payload()).to_string().into_bytes();
        let h = signed_headers(&key, now().timestamp(), &body);
        let pk = public_b64(&key);
        let tampered = String::from_utf8(body.clone())
            .unwrap()
            .replace("originator_cancel", "normal_clearing");
        assert_eq!(
            verify_with(&h, tampered.as_bytes(), &[&pk]),
            Err(WebhookError::Unauthorized(
                "telnyx-signature-ed25519 does not match"
            ))
        );
        let other = BASE64.encode(SigningKey::from_bytes(&[7; 32]).verifying_key().as_bytes());
        assert_eq!(
            verify_with(&h, &body, &[&other]),
            Err(WebhookError::Unauthorized(
                "telnyx-signature-ed25519 does not match"
            ))
        );
        // The timestamp is part of the signed message: changing it breaks the signature.
        let mut h2 = h.clone();
        h2.insert(
            TIMESTAMP_HEADER,
            HeaderValue::from_str(&(now().timestamp() + 1).to_string()).unwrap(),
        );
        assert!(verify_with(&h2, &body, &[&pk]).is_err());
        // Malformed signatures: not base64, wrong length, flipped bit.
        for bad in ["", "%%%", "AAAA", &BASE64.encode([0u8; 63])] {
            let mut h3 = h.clone();
            h3.insert(SIGNATURE_HEADER, HeaderValue::from_str(bad).unwrap());
            assert_eq!(
                verify_with(&h3, &body, &[&pk]),
                Err(WebhookError::Unauthorized(
                    "malformed telnyx-signature-ed25519 header"
                )),
                "{bad}"
            );
        }
        let mut sig = BASE64
            .decode(h[SIGNATURE_HEADER].to_str().unwrap())
            .unwrap();
        sig[10] ^= 1;
        let mut h4 = h.clone();
        h4.insert(
            SIGNATURE_HEADER,
            HeaderValue::from_str(&BASE64.encode(&sig)).unwrap(),
        );
        assert!(verify_with(&h4, &body, &[&pk]).is_err());
        // Missing headers, no usable key.
        let mut h5 = h.clone();
        h5.remove(SIGNATURE_HEADER);
        assert_eq!(
            verify_with(&h5, &body, &[&pk]),
            Err(WebhookError::Unauthorized(
                "missing telnyx-signature-ed25519 header"
            ))
        );
        let mut h6 = h.clone();
        h6.remove(TIMESTAMP_HEADER);
        assert_eq!(
            verify_with(&h6, &body, &[&pk]),
            Err(WebhookError::Unauthorized(
                "missing telnyx-timestamp header"
            ))
        );
        assert_eq!(
            verify_with(&h, &body, &["", "AAAA", "not a key"]),
            Err(WebhookError::Unauthorized(
                "no usable Telnyx public key configured"
            ))
        );
    }

    #[test]
    fn replayed_or_future_timestamps_fail() {
        let key = signing_key();
        let pk = public_b64(&key);
        let body = hangup(base_payload()).to_string().into_bytes();
        for (offset, ok) in [
            (0, true),
            (-300, true),
            (300, true),
            (-301, false),
            (301, false),
            (-86_400, false),
        ] {
            let h = signed_headers(&key, now().timestamp() + offset, &body);
            let got = verify_with(&h, &body, &[&pk]);
            if ok {
                assert_eq!(got, Ok(()), "{offset}");
            } else {
                assert_eq!(
                    got,
                    Err(WebhookError::Unauthorized(
                        "telnyx-timestamp outside the tolerance"
                    )),
                    "{offset}"
                );
            }
        }
        for bad in ["-5", "17e8", "1741082400.5", "", "abc"] {
            let mut h = signed_headers(&key, now().timestamp(), &body);
            h.insert(TIMESTAMP_HEADER, HeaderValue::from_str(bad).unwrap());
            assert_eq!(
                verify_with(&h, &body, &[&pk]),
                Err(WebhookError::Unauthorized(
                    "malformed telnyx-timestamp header"
                )),
                "{bad}"
            );
        }
    }

    // ---- parse ----------------------------------------------------------------------------

    #[test]
    fn hangup_cause_mapping_table() {
        use CallStatus::*;
        let table = [
            ("normal_clearing", Answered),
            ("time_limit", Answered),
            ("originator_cancel", Canceled),
            ("timeout", NoAnswer),
            ("no_answer", NoAnswer),
            ("user_busy", Busy),
            ("call_rejected", Rejected),
            ("not_found", Failed),
            ("unspecified", Other),
            ("brand_new_cause", Other),
        ];
        for (cause, status) in table {
            for (dir, want_dir) in [
                ("incoming", Direction::Inbound),
                ("outgoing", Direction::Outbound),
            ] {
                let mut p = base_payload();
                p["hangup_cause"] = json!(cause);
                p["direction"] = json!(dir);
                let e = parse_json(&hangup(p)).unwrap().unwrap();
                assert_eq!(e.status, status, "{cause} {dir}");
                assert_eq!(e.provider_status, cause);
                assert_eq!(e.direction, want_dir);
                assert_eq!(e.call_id, LEG);
                assert_eq!(e.provider, "telnyx");
            }
        }
        // Absent, null or odd causes: unspecified / Other, never echoed.
        for v in [
            Value::Null,
            json!(16),
            json!("Normal Clearing +33600000101"),
        ] {
            let e = parse_json(&with("hangup_cause", v)).unwrap().unwrap();
            assert_eq!(
                (e.status, e.provider_status.as_str()),
                (Other, "unspecified")
            );
        }
        let mut p = base_payload();
        p.as_object_mut().unwrap().remove("hangup_cause");
        let e = parse_json(&hangup(p)).unwrap().unwrap();
        assert_eq!(e.status, Other);
    }

    #[test]
    fn fields_and_times() {
        let e = parse_json(&hangup(base_payload())).unwrap().unwrap();
        assert_eq!(
            (e.from.as_str(), e.to.as_str()),
            ("+33600000101", "+33144000000")
        );
        assert_eq!(
            e.started_at,
            Some(
                DateTime::parse_from_rfc3339("2025-03-04T09:59:12.521992Z")
                    .unwrap()
                    .with_timezone(&Utc)
            )
        );
        assert_eq!(
            e.ended_at,
            Some(
                DateTime::parse_from_rfc3339("2025-03-04T09:59:40.396120Z")
                    .unwrap()
                    .with_timezone(&Utc)
            )
        );
        assert_eq!(e.ring_seconds, None);
        // No end_time: occurred_at; unreadable times: None.
        let mut p = base_payload();
        p.as_object_mut().unwrap().remove("end_time");
        p["start_time"] = json!("yesterday");
        let e = parse_json(&hangup(p)).unwrap().unwrap();
        assert_eq!(e.started_at, None);
        assert_eq!(
            e.ended_at,
            Some(
                DateTime::parse_from_rfc3339("2025-03-04T09:59:40.521992Z")
                    .unwrap()
                    .with_timezone(&Utc)
            )
        );
    }

    #[test]
    fn other_events_are_not_stored() {
        for event in [
            "call.initiated",
            "call.answered",
            "call.bridged",
            "call.machine.detection.ended",
            "call.recording.saved",
            "something.new",
        ] {
            let v = json!({"data": {"event_type": event, "payload": {"direction": "incoming"}}});
            assert_eq!(parse_json(&v), Ok(None), "{event}");
        }
        // Not even a payload is needed to acknowledge them.
        assert_eq!(
            parse_json(&json!({"data": {"event_type": "call.initiated"}})),
            Ok(None)
        );
    }

    #[test]
    fn withheld_callers_pass_through() {
        for raw in [
            "anonymous",
            "Anonymous",
            "restricted",
            "sip:anonymous@anonymous.invalid",
            "",
        ] {
            let e = parse_json(&with("from", json!(raw))).unwrap().unwrap();
            assert_eq!(e.from, raw);
            assert_eq!(classify(e.counterpart(), "FR"), Caller::Withheld, "{raw}");
        }
        let e = parse_json(&with("from", Value::Null)).unwrap().unwrap();
        assert_eq!(e.from, "");
        assert_eq!(classify(e.counterpart(), "FR"), Caller::Withheld);
    }

    #[test]
    fn malformed_bodies() {
        assert!(err_of(&json!([])).starts_with("body must be a JSON object"));
        assert_eq!(err_of(&json!({})), "data must be an object");
        assert_eq!(err_of(&json!({"data": 1})), "data must be an object");
        assert_eq!(
            err_of(&json!({"data": {"payload": {}}})),
            "data.event_type must be a string"
        );
        assert_eq!(
            err_of(&json!({"data": {"event_type": "call.hangup"}})),
            "data.payload must be an object"
        );
        for bad in [
            Value::Null,
            json!(""),
            json!(5),
            json!("a\u{0}b"),
            json!("x".repeat(129)),
        ] {
            assert_eq!(
                err_of(&with("call_leg_id", bad)),
                "payload.call_leg_id must be a string of 1 to 128 characters"
            );
        }
        assert_eq!(
            ok_of(&with("direction", Value::Null)).direction,
            Direction::Outbound,
            "no direction on a hangup: outbound until call.initiated says otherwise"
        );
        let mut p = base_payload();
        p.as_object_mut().unwrap().remove("direction");
        assert_eq!(ok_of(&hangup(p)).direction, Direction::Outbound);
        assert_eq!(
            err_of(&with("direction", json!("+33600000101"))),
            r#"payload.direction must be "incoming" or "outgoing""#
        );
        assert_eq!(
            err_of(&with("from", json!(33600000101u64))),
            "payload.from must be a string of at most 256 characters"
        );
        assert_eq!(
            err_of(&with("to", json!("9".repeat(257)))),
            "payload.to must be a string of at most 256 characters"
        );
        let msg = match parse_bytes(b"{\"data\": +33600000101") {
            Err(WebhookError::Malformed(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(
            msg.starts_with("body is not valid JSON (line 1, column"),
            "{msg}"
        );
        assert!(!msg.contains("33600000101"));
    }

    #[test]
    fn ack_and_name() {
        assert_eq!(Telnyx.name(), "telnyx");
        assert_eq!(Telnyx.ack().content_type, "application/json");
    }

    // ---- fixtures -------------------------------------------------------------------------

    #[test]
    fn fixtures_parse_and_verify() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/providers");
        // (file, (status, direction, counterpart line type or None = withheld))
        type Want = Option<(CallStatus, Direction, Option<LineType>)>;
        let expect: [(&str, Want); 7] = [
            (
                "telnyx-hangup-caller-cancel.json",
                Some((
                    CallStatus::Canceled,
                    Direction::Inbound,
                    Some(LineType::Mobile),
                )),
            ),
            (
                "telnyx-hangup-answered.json",
                Some((
                    CallStatus::Answered,
                    Direction::Inbound,
                    Some(LineType::Mobile),
                )),
            ),
            (
                "telnyx-hangup-rejected.json",
                Some((
                    CallStatus::Rejected,
                    Direction::Inbound,
                    Some(LineType::Mobile),
                )),
            ),
            (
                "telnyx-outbound-answered.json",
                Some((
                    CallStatus::Answered,
                    Direction::Outbound,
                    Some(LineType::Mobile),
                )),
            ),
            (
                "telnyx-landline.json",
                Some((
                    CallStatus::Canceled,
                    Direction::Inbound,
                    Some(LineType::FixedLine),
                )),
            ),
            (
                "telnyx-anonymous.json",
                Some((CallStatus::Canceled, Direction::Inbound, None)),
            ),
            ("telnyx-initiated.json", None),
        ];
        let key = signing_key();
        let pk = public_b64(&key);
        for (file, want) in expect {
            let text = std::fs::read_to_string(format!("{dir}/{file}")).expect(file);
            let v: Value = serde_json::from_str(&text).unwrap();
            let body = v["body"].as_str().unwrap().as_bytes().to_vec();
            let mut h = HeaderMap::new();
            for (k, val) in v["headers"].as_object().unwrap() {
                assert_eq!(k, &k.to_ascii_lowercase(), "{file}");
                h.insert(
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(val.as_str().unwrap()).unwrap(),
                );
            }
            // Re-signed with the test key at the fixture's own timestamp, received 10 s later.
            let ts = h[TIMESTAMP_HEADER].to_str().unwrap().to_owned();
            h.insert(
                SIGNATURE_HEADER,
                HeaderValue::from_str(&telnyx_sign(&key, &ts, &body)).unwrap(),
            );
            let received = DateTime::from_timestamp(ts.parse::<i64>().unwrap() + 10, 0).unwrap();
            let req = WebhookRequest {
                public_url: "https://x.test/webhooks/telnyx/acme",
                headers: &h,
                body: &body,
                now: received,
            };
            assert_eq!(Telnyx.verify(&req, &[&pk]), Ok(()), "{file}");
            // The same request an hour later is a replay.
            let late = WebhookRequest {
                now: received + chrono::Duration::hours(1),
                ..req.clone()
            };
            assert!(Telnyx.verify(&late, &[&pk]).is_err(), "{file}");
            let got = Telnyx.parse(&req).unwrap();
            match (got, want) {
                (None, None) => {}
                (Some(e), Some((status, direction, line))) => {
                    assert_eq!((e.status, e.direction), (status, direction), "{file}");
                    let class = classify(e.counterpart(), "FR");
                    match line {
                        Some(line) => assert!(
                            matches!(class, Caller::Number { line_type, .. } if line_type == line),
                            "{file}: {class:?}"
                        ),
                        None => assert_eq!(class, Caller::Withheld, "{file}"),
                    }
                }
                (got, want) => panic!("{file}: got {got:?}, want {want:?}"),
            }
        }
    }

    // ---- properties -----------------------------------------------------------------------

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_input(
            body in proptest::collection::vec(any::<u8>(), 0..512),
            sig in proptest::collection::vec(any::<u8>(), 0..120),
            ts in proptest::collection::vec(any::<u8>(), 0..24),
            secret in ".{0,60}",
        ) {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_bytes(&sig) {
                h.insert(SIGNATURE_HEADER, v);
            }
            if let Ok(v) = HeaderValue::from_bytes(&ts) {
                h.insert(TIMESTAMP_HEADER, v);
            }
            let req = WebhookRequest { public_url: "", headers: &h, body: &body, now: now() };
            let _ = Telnyx.verify(&req, &[&secret, &public_b64(&signing_key())]);
            let _ = Telnyx.parse(&req);
        }

        #[test]
        fn never_panics_on_event_like_input(
            fields in proptest::collection::btree_map(
                prop_oneof![
                    Just("call_leg_id".to_owned()), Just("direction".to_owned()), Just("hangup_cause".to_owned()),
                    Just("from".to_owned()), Just("to".to_owned()), Just("start_time".to_owned()),
                    Just("end_time".to_owned()), "[a-z_]{1,8}"],
                prop_oneof![
                    Just(Value::Null), any::<bool>().prop_map(Value::from), any::<i64>().prop_map(Value::from),
                    ".{0,40}".prop_map(Value::from), Just(json!("incoming")), Just(json!("outgoing")),
                    Just(json!("normal_clearing")), Just(json!("2025-03-04T10:00:00Z"))],
                0..10),
            event in prop_oneof![Just("call.hangup".to_owned()), ".{0,12}"],
            ts_offset in -1000i64..1000,
        ) {
            let body = json!({"data": {"event_type": event, "payload": fields}}).to_string().into_bytes();
            let key = signing_key();
            let h = signed_headers(&key, now().timestamp() + ts_offset, &body);
            let req = WebhookRequest { public_url: "", headers: &h, body: &body, now: now() };
            prop_assert_eq!(Telnyx.verify(&req, &[&public_b64(&key)]).is_ok(), ts_offset.abs() <= 300);
            if let Err(WebhookError::Malformed(m)) = Telnyx.parse(&req) {
                // Messages come from a fixed vocabulary: they never echo submitted values.
                prop_assert!(is_known_message(&m), "{}", m);
            }
        }

        #[test]
        fn any_body_signed_with_the_key_verifies(
            body in proptest::collection::vec(any::<u8>(), 0..256),
            seed in any::<[u8; 32]>(),
            ts in 0i64..4_000_000_000,
        ) {
            let key = SigningKey::from_bytes(&seed);
            let h = signed_headers(&key, ts, &body);
            let req = WebhookRequest {
                public_url: "",
                headers: &h,
                body: &body,
                now: DateTime::from_timestamp(ts, 0).unwrap(),
            };
            prop_assert_eq!(Telnyx.verify(&req, &["", &public_b64(&key)]), Ok(()));
        }
    }

    /// Whether `m` is one of the fixed Malformed messages of [`Telnyx::parse`].
    fn is_known_message(m: &str) -> bool {
        if let Some(rest) = m.strip_prefix("body is not valid JSON (line ") {
            return rest
                .bytes()
                .all(|b| b.is_ascii_digit() || b", column)".contains(&b));
        }
        [
            "body must be a JSON object",
            "data must be an object",
            "data.event_type must be a string",
            "data.payload must be an object",
            "payload.call_leg_id must be a string of 1 to 128 characters",
            r#"payload.direction must be "incoming" or "outgoing""#,
            "payload.from must be a string of at most 256 characters",
            "payload.to must be a string of at most 256 characters",
        ]
        .contains(&m)
    }
}
