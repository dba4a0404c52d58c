//! Rappel's own JSON webhook, for call-tracking platforms that can send a signed JSON `POST`
//! when a call ends (route `/webhooks/generic/{account_id}`). The contract is Rappel's; it is
//! published in `openapi/webhooks.yaml`.
//!
//! Body (`application/json`, unknown fields ignored, one of these fields named twice refused):
//!
//! | field | type | |
//! |---|---|---|
//! | `call_id` | string, 1–128 characters, no control characters | required; the idempotency key, used as is |
//! | `direction` | `"inbound"` \| `"outbound"` | required |
//! | `status` | see the table below | required |
//! | `from` | string or `null` (≤ 256 characters) | required; the calling party, raw (`""`, `null`, `"anonymous"`... for withheld) |
//! | `to` | string or `null` (≤ 256 characters) | required; the called party, raw |
//! | `started_at` | RFC 3339 date-time | required |
//! | `ended_at` | RFC 3339 date-time or `null` | optional; not before `started_at` |
//! | `ring_seconds` | integer ≥ 0 or `null` | optional |
//!
//! Status mapping:
//!
//! | `status` | → [`CallStatus`] |
//! |---|---|
//! | `answered` | `Answered` |
//! | `no_answer` | `NoAnswer` |
//! | `busy` | `Busy` |
//! | `failed` | `Failed` |
//! | `canceled` | `Canceled` |
//! | `rejected` | `Rejected` |
//! | `voicemail` | `Voicemail` |
//! | `ringing`, `in_progress` | not stored (`Ok(None)`) |
//!
//! Signature: `X-Rappel-Timestamp: <unix seconds>` and
//! `X-Rappel-Signature: v1=<hex HMAC-SHA256(secret, "{timestamp}.{raw body}")>`; several
//! comma-separated `v1=` entries may be sent during a secret rotation, other schemes are
//! ignored. Requests more than [`TOLERANCE_SECONDS`] away from the reception time are refused.

use super::*;
use crate::call::{CallStatus, Direction};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header carrying the signing time, Unix seconds (lower-case, as in [`WebhookRequest`]).
pub const TIMESTAMP_HEADER: &str = "x-rappel-timestamp";
/// Header carrying the signature(s), `v1=<hex>[,v1=<hex>...]`.
pub const SIGNATURE_HEADER: &str = "x-rappel-signature";
/// Largest accepted difference, in seconds, between `X-Rappel-Timestamp` and reception time
/// (either way), against replays.
pub const TOLERANCE_SECONDS: u64 = 300;
/// Longest accepted `call_id`, in characters.
pub const MAX_CALL_ID_CHARS: usize = 128;
/// Longest accepted `from` / `to`, in characters.
pub const MAX_PARTY_CHARS: usize = 256;
/// At most this many entries of `X-Rappel-Signature` are examined.
const MAX_SIGNATURES: usize = 8;

/// The generic JSON adapter (route name `generic`).
pub struct Generic;

impl Provider for Generic {
    /// `"generic"`.
    fn name(&self) -> &'static str {
        "generic"
    }

    /// Checks `X-Rappel-Timestamp` and `X-Rappel-Signature` against each of `secrets`.
    ///
    /// The timestamp must be an integer number of Unix seconds within [`TOLERANCE_SECONDS`]
    /// of [`WebhookRequest::now`]. Each `v1=<hex>` entry of the signature header (up to 8,
    /// comma-separated, surrounding spaces allowed) is compared in constant time with
    /// `HMAC-SHA256(secret, "{timestamp}.{body}")` for every non-empty secret; one match
    /// suffices. Entries of other schemes are ignored.
    ///
    /// Errors: [`WebhookError::Unauthorized`] when a header is missing or malformed, the
    /// timestamp is outside the tolerance, no usable secret is configured, or nothing matches.
    fn verify(&self, req: &WebhookRequest<'_>, secrets: &[&str]) -> Result<(), WebhookError> {
        const UNREADABLE: &str = "malformed X-Rappel-* header";
        // Names parsed once, at compile time (the generic webhook is the hot path's baseline).
        static TIMESTAMP: http::HeaderName = http::HeaderName::from_static(TIMESTAMP_HEADER);
        static SIGNATURE: http::HeaderName = http::HeaderName::from_static(SIGNATURE_HEADER);
        let timestamp = header(
            req,
            &TIMESTAMP,
            "missing X-Rappel-Timestamp header",
            UNREADABLE,
        )?;
        let signatures = header(
            req,
            &SIGNATURE,
            "missing X-Rappel-Signature header",
            UNREADABLE,
        )?;
        let ts = timestamp.trim();
        let ts_value: i64 = match ts.parse() {
            Ok(v) if ts.bytes().all(|b| b.is_ascii_digit() || b == b'-') => v,
            _ => {
                return Err(WebhookError::Unauthorized(
                    "malformed X-Rappel-Timestamp header",
                ));
            }
        };
        if !within_tolerance(ts_value, req.now, TOLERANCE_SECONDS) {
            return Err(WebhookError::Unauthorized(
                "X-Rappel-Timestamp outside the tolerance",
            ));
        }
        // Hex entries, decoded on the stack: an HMAC-SHA256 is 32 bytes, an entry of another
        // length is kept as one that cannot match (`None`); what is not hex is ignored.
        let mut given = [None::<[u8; 32]>; MAX_SIGNATURES];
        let mut count = 0;
        for h in signatures
            .split(',')
            .take(MAX_SIGNATURES)
            .filter_map(|entry| entry.trim().strip_prefix("v1="))
        {
            let mut sig = [0u8; 32];
            given[count] = match hex::decode_to_slice(h, &mut sig) {
                Ok(()) => Some(sig),
                Err(hex::FromHexError::InvalidStringLength)
                    if h.len() % 2 == 0 && h.bytes().all(|b| b.is_ascii_hexdigit()) =>
                {
                    None
                }
                Err(_) => continue,
            };
            count += 1;
        }
        let given = &given[..count];
        if given.is_empty() {
            return Err(WebhookError::Unauthorized(
                "no v1 signature in X-Rappel-Signature",
            ));
        }
        let secrets = usable_secrets(secrets, "no generic webhook secret configured")?;
        any_secret_matches(&secrets, "X-Rappel-Signature does not match", |secret| {
            // `verify_slice` compares in constant time; every entry is tried.
            given.iter().fold(false, |ok, sig| {
                ok | sig.is_some_and(|sig| mac(secret, ts, req.body).verify_slice(&sig).is_ok())
            })
        })
    }

    /// Reads the JSON body described in the module docs into a [`CallEvent`] with
    /// `provider = "generic"`, `call_id` as sent, `provider_status` = the `status` word,
    /// `from` / `to` raw (`null` → `""`; withheld encodings pass through unchanged).
    ///
    /// Returns `Ok(None)` for `ringing` and `in_progress` (after validating the whole body).
    ///
    /// Errors: [`WebhookError::Malformed`] naming the offending field or the JSON syntax
    /// position; messages are Rappel's own and never contain a submitted value.
    fn parse(&self, req: &WebhookRequest<'_>) -> Result<Option<CallEvent>, WebhookError> {
        let body: Payload<'_> = json_object(req.body)?;

        let call_id = required_str(&body.call_id, "call_id")?;
        let n = call_id.chars().count();
        if n == 0 || n > MAX_CALL_ID_CHARS {
            return Err(malformed(format!(
                "call_id must be 1 to {MAX_CALL_ID_CHARS} characters"
            )));
        }
        if call_id.chars().any(char::is_control) {
            return Err(malformed("call_id must not contain control characters"));
        }
        let direction = match required_str(&body.direction, "direction")? {
            "inbound" => Direction::Inbound,
            "outbound" => Direction::Outbound,
            _ => {
                return Err(malformed(r#"direction must be "inbound" or "outbound""#));
            }
        };
        let word = required_str(&body.status, "status")?;
        let status = match word {
            "answered" => Some(CallStatus::Answered),
            "no_answer" => Some(CallStatus::NoAnswer),
            "busy" => Some(CallStatus::Busy),
            "failed" => Some(CallStatus::Failed),
            "canceled" => Some(CallStatus::Canceled),
            "rejected" => Some(CallStatus::Rejected),
            "voicemail" => Some(CallStatus::Voicemail),
            "ringing" | "in_progress" => None,
            _ => {
                return Err(malformed(
                    "status must be one of answered, no_answer, busy, failed, canceled, \
                     rejected, voicemail, ringing, in_progress",
                ));
            }
        };
        let from = party(&body.from, "from")?;
        let to = party(&body.to, "to")?;
        let started_at = instant(&body.started_at, "started_at")?
            .ok_or_else(|| malformed("started_at is required"))?;
        let ended_at = instant(&body.ended_at, "ended_at")?;
        if ended_at.is_some_and(|e| e < started_at) {
            return Err(malformed("ended_at is before started_at"));
        }
        let ring_seconds = match body.ring_seconds {
            Json::Absent | Json::Null => None,
            Json::Uint(v) => {
                Some(u32::try_from(v).map_err(|_| malformed("ring_seconds is out of range"))?)
            }
            _ => return Err(malformed("ring_seconds must be a non-negative integer")),
        };

        let Some(status) = status else {
            return Ok(None);
        };
        Ok(Some(CallEvent {
            provider: "generic",
            call_id: call_id.to_owned(),
            direction,
            status,
            provider_status: word.to_owned(),
            from,
            to,
            started_at: Some(started_at),
            ended_at,
            ring_seconds,
        }))
    }

    /// `{"status":"accepted"}` as `application/json`.
    fn ack(&self) -> Ack {
        Ack {
            content_type: "application/json",
            body: "{\"status\":\"accepted\"}",
        }
    }
}

/// The `X-Rappel-Signature` value for `body` signed with `secret` at `timestamp` (Unix
/// seconds): `v1=<lower-case hex HMAC-SHA256(secret, "{timestamp}.{body}")>`. Send it with
/// `X-Rappel-Timestamp: {timestamp}`. Used by senders, tests, the demo and the docs.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    format!(
        "v1={}",
        hex::encode(mac(secret, &ts, body).finalize().into_bytes())
    )
}

/// HMAC-SHA256 keyed with `secret`, fed `"{timestamp}.{body}"` (timestamp as sent).
fn mac(secret: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The body's fields (module docs), each as whatever JSON it holds.
#[derive(Default)]
struct Payload<'a> {
    call_id: Json<'a>,
    direction: Json<'a>,
    status: Json<'a>,
    from: Json<'a>,
    to: Json<'a>,
    started_at: Json<'a>,
    ended_at: Json<'a>,
    ring_seconds: Json<'a>,
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Payload<'a> {
    /// A JSON object: its fields into their slots, every other value read (and so checked) as
    /// [`Json`]. One of its fields named twice is an error (a custom serde error, which
    /// [`json_object`] reports by position only).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Payload<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Payload<'de>, A::Error> {
                let mut p = Payload::default();
                while let Some(key) = map.next_key::<Json<'de>>()? {
                    let Json::Str(name) = key else {
                        map.next_value::<Json<'de>>()?;
                        continue;
                    };
                    let slot = match name.as_ref() {
                        "call_id" => &mut p.call_id,
                        "direction" => &mut p.direction,
                        "status" => &mut p.status,
                        "from" => &mut p.from,
                        "to" => &mut p.to,
                        "started_at" => &mut p.started_at,
                        "ended_at" => &mut p.ended_at,
                        "ring_seconds" => &mut p.ring_seconds,
                        _ => {
                            map.next_value::<Json<'de>>()?;
                            continue;
                        }
                    };
                    if *slot != Json::Absent {
                        return Err(serde::de::Error::custom("a field is named twice"));
                    }
                    *slot = map.next_value()?;
                }
                Ok(p)
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

fn required_str<'v>(value: &'v Json<'_>, field: &str) -> Result<&'v str, WebhookError> {
    match value {
        Json::Str(s) => Ok(s),
        Json::Absent | Json::Null => Err(malformed(format!("{field} is required"))),
        _ => Err(malformed(format!("{field} must be a string"))),
    }
}

/// A party: a string of at most [`MAX_PARTY_CHARS`] characters, or `null` (`""`).
fn party(value: &Json<'_>, field: &str) -> Result<String, WebhookError> {
    match value {
        Json::Str(s) if s.chars().count() <= MAX_PARTY_CHARS => Ok(s.clone().into_owned()),
        Json::Str(_) => Err(malformed(format!(
            "{field} must be at most {MAX_PARTY_CHARS} characters"
        ))),
        Json::Null => Ok(String::new()),
        Json::Absent => Err(malformed(format!(
            "{field} is required (use null when unknown)"
        ))),
        _ => Err(malformed(format!("{field} must be a string or null"))),
    }
}

/// An optional RFC 3339 instant (absent or `null` → `None`).
fn instant(value: &Json<'_>, field: &str) -> Result<Option<DateTime<Utc>>, WebhookError> {
    match value {
        Json::Absent | Json::Null => Ok(None),
        Json::Str(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| malformed(format!("{field} must be an RFC 3339 date-time"))),
        _ => Err(malformed(format!("{field} must be an RFC 3339 date-time"))),
    }
}

#[cfg(test)]
#[path = "tests/generic.rs"]
mod tests;
