//! Vonage Voice API event webhooks.
//!
//! Vonage `POST`s one JSON object per call event to the application's `event_url` (and to a
//! `connect` action's `eventUrl`), which a business points at Rappel
//! (`/webhooks/vonage/{account_id}`, `event_method` `POST`, the default)
//! (<https://developer.vonage.com/en/voice/voice-api/webhook-reference#event-webhook>).
//! Call-status events carry `status`, `direction` (`inbound` / `outbound`), `uuid` (the
//! leg), `conversation_uuid` (shared by every leg of one call), `from`, `to` and `timestamp`
//! (ISO 8601); `completed` adds `start_time`, `end_time`, `duration`, `rate`, `price` and
//! `network`. Other events (`input`, `record`, `transfer`, errors) have no `status`.
//!
//! ## Two legs
//!
//! A prospect's call to the tracked number is **leg A** (`direction: inbound`, `from` = the
//! caller, `to` = the tracked number). Vonage answers leg A itself to run the business's NCCO,
//! so A's `answered` and `completed` say nothing about a human. The NCCO's `connect` action
//! rings the business phone on **leg B** (`direction: outbound`, `to` = the business phone,
//! `from` = the tracked number, or the caller when `connect` passes the original caller ID
//! through). B's outcome (`answered`, `busy`, `timeout`, ...) is what decides. B shares A's
//! `conversation_uuid`; a genuine outbound call placed by the business (REST API) is a lone
//! outbound leg with no inbound leg in its conversation. Only the intake, which remembers
//! inbound legs, can tell the two apart: see [`inbound_leg`], [`connect_correlation`] and
//! [`as_forwarded_inbound`], and `PROVIDERS-vonage.md` beside this file.
//!
//! ## Hunt groups: the call's end decides
//!
//! An NCCO may `connect` several endpoints in turn (a hunt group: reception, then a mobile,
//! then another), each on its own leg B. A leg B that is not answered says only that *this*
//! endpoint did not pick up: the next one may. So an unanswered leg B decides nothing (stored
//! `ignored`/`not_final`); an answered one is human contact; and the call is decided when the
//! caller's leg A ends (`completed`): missed unless a leg B was answered during it. Leg A's
//! `completed` is read as a missed call that happened when leg A started (`start_time`), so an
//! answer on any leg B, which comes later, is human contact after it and refuses it (rule 5,
//! `answered_later`), whatever order the webhooks arrive in. (If leg A's `completed` is
//! processed before the answering leg's `answered`, which Vonage sends when the endpoint
//! picks up, minutes earlier, the SMS may already be scheduled: the answer then cancels it
//! while it waits, hence `send_delay_seconds` for hunt groups.) An NCCO with no `connect` at
//! all (a message, a voicemail box) ends the same way: missed.
//!
//! Status mapping (the table the README reproduces):
//!
//! | `status` | leg A (`inbound`) | leg B / outbound call (`outbound`) |
//! |---|---|---|
//! | `started`, `ringing` | not stored (`Ok(None)`; intake remembers the leg) | not stored |
//! | `answered` | not stored (Vonage answered to run the NCCO) | `Answered` (human contact) |
//! | `busy` | `Busy` | `Other`: this endpoint was busy; the call's end decides |
//! | `timeout` | `NoAnswer` | `Other` (connect `timeout` elapsed; the next endpoint may answer) |
//! | `unanswered` | `NoAnswer` | `Other` |
//! | `rejected` | `Rejected` | `Other` |
//! | `failed` | `Failed` | `Other` |
//! | `cancelled` | `Canceled` (caller hung up before the answer) | `Other` (caller hung up while B rang; leg A's end decides) |
//! | `completed` | `NoAnswer`, at leg A's `start_time`: missed unless a leg B was answered during the call | not stored (`answered` already decided) |
//! | `disconnected`, `human`, `machine`, any other word | not stored | not stored |
//! | no `status` (`input`, `record`, `transfer`, errors) | not stored | not stored |
//!
//! A genuine outbound call (the business calling a prospect, no leg A) is `ignored`/`outbound`
//! whatever its status; answered, it is a callback (rule 5).
//!
//! `call_id` is `{conversation_uuid}#{uuid}`: one idempotency key per leg, so the first
//! decisive event of a leg wins and a redelivery changes nothing.
//!
//! Requests are authenticated by Vonage's signed webhooks: `Authorization: Bearer <JWT>`,
//! HS256 with the account's signature secret, whose claims carry `iat` and `payload_hash`
//! (hex SHA-256 of the body) (<https://developer.vonage.com/en/getting-started/concepts/webhooks#decoding-signed-webhooks>).

use super::*;
use crate::call::{CallStatus, Direction};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The header carrying Vonage's JWT (lower-case, as in [`WebhookRequest`]).
pub const AUTHORIZATION_HEADER: &str = "authorization";
/// Largest accepted difference, in seconds, between the JWT's `iat` and reception time
/// (either way), against replays. Vonage retries a failed event webhook once, within seconds
/// (Vonage API support, "What happens if the NCCO download request fails?"), so five
/// minutes covers clock skew and that retry.
pub const TOLERANCE_SECONDS: u64 = 300;
/// Longest accepted bearer token, bytes (Vonage's are about 400).
const MAX_TOKEN_BYTES: usize = 4096;
/// Longest accepted `uuid` / `conversation_uuid` (Vonage's are 32 to 40 characters).
const MAX_ID_CHARS: usize = 64;
/// Longest accepted `from` / `to`, in characters.
const MAX_PARTY_CHARS: usize = 256;

/// The Vonage Voice API adapter (route name `vonage`).
pub struct Vonage;

impl Provider for Vonage {
    /// `"vonage"`.
    fn name(&self) -> &'static str {
        "vonage"
    }

    /// Checks the signed-webhook JWT in `Authorization: Bearer <JWT>` against each of
    /// `secrets` (Vonage signature secrets).
    ///
    /// The token must be three base64url segments; its header's `alg` must be `HS256` (no
    /// other algorithm, `none` included, is accepted); its signature must equal
    /// `HMAC-SHA256(secret, "{header}.{claims}")` for one non-empty secret (constant-time);
    /// then its claims must hold a numeric `iat` within [`TOLERANCE_SECONDS`] of
    /// [`WebhookRequest::now`], no `exp` in the past, and a `payload_hash` equal to the
    /// SHA-256 of the raw body (hex, either case; constant-time). Vonage hashes the compact
    /// JSON it sends, which is the body byte for byte.
    ///
    /// Errors: [`WebhookError::Unauthorized`] when the header is missing or not a bearer
    /// token, the token is malformed or not HS256, no usable secret is configured, the
    /// signature does not match, or a claim check fails.
    fn verify(&self, req: &WebhookRequest<'_>, secrets: &[&str]) -> Result<(), WebhookError> {
        let Some(header) = req.headers.get(AUTHORIZATION_HEADER) else {
            return Err(WebhookError::Unauthorized("missing Authorization header"));
        };
        let Ok(header) = header.to_str() else {
            return Err(WebhookError::Unauthorized("malformed Authorization header"));
        };
        let token = bearer_token(header).ok_or(WebhookError::Unauthorized(
            "Authorization is not a Bearer token",
        ))?;
        let secrets = usable_secrets(secrets, "no Vonage signature secret configured")?;
        let claims = verified_claims(token, &secrets)?;

        let iat = numeric_date(claims.get("iat"))
            .ok_or(WebhookError::Unauthorized("JWT has no numeric iat claim"))?;
        if !within_tolerance(iat, req.now, TOLERANCE_SECONDS) {
            return Err(WebhookError::Unauthorized("JWT iat outside the tolerance"));
        }
        if let Some(exp) = claims.get("exp") {
            match numeric_date(Some(exp)) {
                Some(exp) if exp >= req.now.timestamp() => {}
                _ => return Err(WebhookError::Unauthorized("JWT has expired")),
            }
        }
        let Some(Value::String(given)) = claims.get("payload_hash") else {
            return Err(WebhookError::Unauthorized("JWT has no payload_hash claim"));
        };
        let body_hash = Sha256::digest(req.body);
        let matches = hex::decode(given.trim())
            .map(|given| bool::from(given.as_slice().ct_eq(body_hash.as_slice())))
            .unwrap_or(false);
        if matches {
            Ok(())
        } else {
            Err(WebhookError::Unauthorized(
                "JWT payload_hash does not match the body",
            ))
        }
    }

    /// Reads a verified event into a [`CallEvent`] with `provider = "vonage"`, following the
    /// module table.
    ///
    /// * `call_id`: `{conversation_uuid}#{uuid}`.
    /// * `direction`: the leg's own (`inbound` → inbound, `outbound` → outbound). A connect
    ///   leg B comes out as an outbound call to the business phone; the intake turns it into
    ///   the inbound call it forwards with [`as_forwarded_inbound`] when it knows leg A.
    /// * `from` / `to`: as sent, except that Vonage's E.164 digits without `+`
    ///   (`33600000001`, Vonage "Numbers" guide) gain the `+`; withheld encodings and SIP
    ///   URIs pass through unchanged; absent or `null` → `""`.
    /// * `provider_status`: the raw `status` word. `ended_at`: `timestamp` when it is a
    ///   valid RFC 3339 instant; for leg A's `completed`, `started_at` = its `start_time`
    ///   instead (and no `ended_at`), when valid. `ring_seconds`: `None`.
    ///
    /// Returns `Ok(None)` for events without `status` and for the statuses the table does
    /// not store; the body must still be a JSON object.
    ///
    /// Errors: [`WebhookError::Malformed`] when the body is not a JSON object, `status` is
    /// not a string, or, for a stored status, `direction` is missing or unknown, `uuid` or
    /// `conversation_uuid` is missing or not identifier-shaped, or `from` / `to` is not a
    /// string of at most 256 characters. Messages name the field, never its value.
    fn parse(&self, req: &WebhookRequest<'_>) -> Result<Option<CallEvent>, WebhookError> {
        let event = Event::read(req.body)?;
        let Some(word) = event.status else {
            return Ok(None);
        };
        if !is_call_status(word) {
            return Ok(None);
        }
        let direction = event.direction()?;
        let Some(status) = leg_status(word, direction) else {
            return Ok(None);
        };
        let conversation = event.id("conversation_uuid")?;
        let leg = event.id("uuid")?;
        // Leg A's end is dated by its start, so that an answer on a leg B during the call is
        // contact after it (module docs, "Hunt groups").
        let (started_at, ended_at) = match event.start_time() {
            Some(start) if word == "completed" => (Some(start), None),
            _ => (None, event.timestamp()),
        };
        Ok(Some(CallEvent {
            provider: "vonage",
            call_id: format!("{conversation}#{leg}"),
            direction,
            status,
            provider_status: word.to_owned(),
            from: event.party("from")?,
            to: event.party("to")?,
            started_at,
            ended_at,
            ring_seconds: None,
        }))
    }

    /// The `application_id` claim of the signed-webhook JWT (the Vonage application whose
    /// `event_url` this is). Read from a token [`Vonage::verify`] has already checked.
    fn account_identity(&self, req: &WebhookRequest<'_>) -> Option<String> {
        let header = req.headers.get(AUTHORIZATION_HEADER)?.to_str().ok()?;
        let claims = bearer_token(header)?.split('.').nth(1)?;
        match json_segment(claims)?.get("application_id")? {
            Value::String(id) => Some(id.clone()),
            _ => None,
        }
    }

    fn names_its_account(&self) -> bool {
        true
    }

    /// An empty `text/plain` body. Vonage ignores event-webhook answers for status events;
    /// an empty body can never be mistaken for an NCCO.
    fn ack(&self) -> Ack {
        Ack {
            content_type: "text/plain",
            body: "",
        }
    }

    /// Leg A (the caller's inbound leg), remembered under its `conversation_uuid`.
    fn leg(&self, req: &WebhookRequest<'_>) -> Option<Leg> {
        inbound_leg(req).map(|l| Leg {
            key: l.conversation_uuid,
            direction: Direction::Inbound,
            counterpart: l.from,
            // The key is already the conversation: leg B is correlated to it, not grouped.
            group: None,
        })
    }

    /// Leg B (a `connect` leg, parsed as outbound) is completed by leg A of its conversation.
    fn leg_key(&self, event: &CallEvent) -> Option<String> {
        connect_correlation(event).map(str::to_owned)
    }
}

/// Leg A as the intake must remember it: the caller behind a `conversation_uuid`, so that
/// leg B's outcome, which may carry only the tracked number, can be attributed to them.
#[derive(Clone, PartialEq, Eq)]
pub struct InboundLeg {
    /// Vonage `conversation_uuid`, shared with leg B.
    pub conversation_uuid: String,
    /// Vonage `uuid` of leg A.
    pub leg_uuid: String,
    /// The caller, normalized like [`CallEvent::from`] (withheld encodings pass through).
    pub from: String,
    /// The tracked number, normalized likewise.
    pub to: String,
}

impl std::fmt::Debug for InboundLeg {
    /// Numbers are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundLeg")
            .field("conversation_uuid", &self.conversation_uuid)
            .field("leg_uuid", &self.leg_uuid)
            .finish_non_exhaustive()
    }
}

/// The inbound leg announced by a verified event, if it is one of leg A's progress events
/// (`started`, `ringing` or `answered` with `direction: inbound`), which come before any
/// `connect` leg. `None` for anything else, malformed bodies included ([`Vonage::parse`]
/// reports those).
pub fn inbound_leg(req: &WebhookRequest<'_>) -> Option<InboundLeg> {
    let event = Event::read(req.body).ok()?;
    if !matches!(event.status?, "started" | "ringing" | "answered") {
        return None;
    }
    if event.direction().ok()? != Direction::Inbound {
        return None;
    }
    Some(InboundLeg {
        conversation_uuid: event.id("conversation_uuid").ok()?.to_owned(),
        leg_uuid: event.id("uuid").ok()?.to_owned(),
        from: event.party("from").ok()?,
        to: event.party("to").ok()?,
    })
}

/// The `conversation_uuid` under which the intake should look for a remembered
/// [`InboundLeg`] before storing `event`: `Some` for a Vonage outbound leg (a `connect` leg
/// B, or a genuine outbound call when no inbound leg is known), `None` otherwise.
pub fn connect_correlation(event: &CallEvent) -> Option<&str> {
    if event.provider != "vonage" || event.direction != Direction::Outbound {
        return None;
    }
    event
        .call_id
        .split_once('#')
        .map(|(conversation, _)| conversation)
}

/// Leg B's outcome as the inbound call it forwarded: same `call_id`, status, word and
/// times; `direction` inbound; `from` = the remembered caller, `to` = the tracked number.
/// Pass the [`InboundLeg`] fields the intake kept (or `""` when it kept only protected
/// facts and fills the caller fields of its item from them instead).
pub fn as_forwarded_inbound(event: &CallEvent, caller: &str, tracked_number: &str) -> CallEvent {
    CallEvent {
        direction: Direction::Inbound,
        from: caller.to_owned(),
        to: tracked_number.to_owned(),
        ..event.clone()
    }
}

/// A Vonage-shaped signed-webhook JWT for `body`, signed HS256 with `secret`, issued at
/// `iat` (Unix seconds): claims `iat`, `jti`, `iss: "Vonage"`, `payload_hash` (hex SHA-256
/// of `body`), `api_key` and `application_id` (placeholders). Send it as
/// `Authorization: Bearer {token}`. Used by tests, fixtures and the demo.
pub fn sign(secret: &str, body: &[u8], iat: i64) -> String {
    let payload_hash = hex::encode(Sha256::digest(body));
    let header = BASE64URL.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "iat": iat,
        "jti": format!("rappel-{}", &payload_hash[..16]),
        "iss": "Vonage",
        "payload_hash": payload_hash,
        "api_key": "a1b2c3d",
        "application_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
    });
    let claims = BASE64URL.encode(claims.to_string());
    let signature = BASE64URL.encode(jwt_mac(secret, &header, &claims).finalize().into_bytes());
    format!("{header}.{claims}.{signature}")
}

/// The token of an `Authorization` value `Bearer <token>` (scheme case-insensitive,
/// RFC 6750), if non-empty and at most 4096 bytes.
fn bearer_token(header: &str) -> Option<&str> {
    let header = header.trim();
    let (scheme, token) = header.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token.len() <= MAX_TOKEN_BYTES)
        .then_some(token)
}

/// The claims of an HS256 JWT whose signature matches one of `secrets` (all non-empty).
/// The header is read before the signature is checked only to refuse other algorithms.
fn verified_claims(token: &str, secrets: &[&str]) -> Result<Map<String, Value>, WebhookError> {
    const MALFORMED: WebhookError = WebhookError::Unauthorized("malformed JWT");
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(MALFORMED);
    };
    let Value::Object(header_json) = json_segment(header).ok_or(MALFORMED)? else {
        return Err(MALFORMED);
    };
    if header_json.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(WebhookError::Unauthorized("JWT alg is not HS256"));
    }
    let signature = BASE64URL.decode(signature).map_err(|_| MALFORMED)?;
    any_secret_matches(secrets, "JWT signature does not match", |secret| {
        // `verify_slice` compares in constant time.
        jwt_mac(secret, header, claims)
            .verify_slice(&signature)
            .is_ok()
    })?;
    match json_segment(claims) {
        Some(Value::Object(claims)) => Ok(claims),
        _ => Err(WebhookError::Unauthorized("malformed JWT claims")),
    }
}

/// HMAC-SHA256 keyed with `secret`, fed the JWS signing input `"{header}.{claims}"`.
fn jwt_mac(secret: &str, header: &str, claims: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(header.as_bytes());
    mac.update(b".");
    mac.update(claims.as_bytes());
    mac
}

/// A base64url (unpadded) segment decoded as JSON.
fn json_segment(segment: &str) -> Option<Value> {
    serde_json::from_slice(&BASE64URL.decode(segment).ok()?).ok()
}

/// A JWT NumericDate (RFC 7519 §2): a JSON number of seconds, fractions truncated.
fn numeric_date(value: Option<&Value>) -> Option<i64> {
    let n = value?.as_number()?;
    n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.is_finite() && f.abs() < 1e15)
            .map(|f| f.trunc() as i64)
    })
}

/// Whether `word` is one of Vonage's call-status words that the module table maps (the
/// others are acknowledged without reading further).
fn is_call_status(word: &str) -> bool {
    matches!(
        word,
        "started"
            | "ringing"
            | "answered"
            | "busy"
            | "timeout"
            | "unanswered"
            | "rejected"
            | "failed"
            | "cancelled"
            | "completed"
    )
}

/// Maps a call-status word on a leg of `direction` (Vonage Voice webhook reference, event
/// webhook). `None`: not stored. Leg A's `answered` and `completed` are Vonage's own doing
/// (it answers to run the NCCO), so they decide nothing; on an outbound leg `answered` is
/// the callee picking up.
fn leg_status(word: &str, direction: Direction) -> Option<CallStatus> {
    Some(match (word, direction) {
        ("answered", Direction::Outbound) => CallStatus::Answered,
        // One endpoint of possibly several (a hunt group): leg A's end decides.
        (
            "busy" | "timeout" | "unanswered" | "rejected" | "failed" | "cancelled",
            Direction::Outbound,
        ) => CallStatus::Other,
        ("busy", Direction::Inbound) => CallStatus::Busy,
        ("timeout" | "unanswered", Direction::Inbound) => CallStatus::NoAnswer,
        ("rejected", Direction::Inbound) => CallStatus::Rejected,
        ("failed", Direction::Inbound) => CallStatus::Failed,
        ("cancelled", Direction::Inbound) => CallStatus::Canceled,
        // The caller's leg ended: missed, unless a leg B was answered during it (rule 5).
        ("completed", Direction::Inbound) => CallStatus::NoAnswer,
        _ => return None,
    })
}

/// A Vonage event body: a JSON object and its `status` word, read lazily field by field.
struct Event {
    obj: Map<String, Value>,
    status: Option<&'static str>,
}

impl Event {
    /// Reads `body` as a JSON object. The `status` word is kept only when it is a string.
    fn read(body: &[u8]) -> Result<Event, WebhookError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            WebhookError::Malformed(format!(
                "body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let Value::Object(obj) = value else {
            return Err(malformed("body must be a JSON object"));
        };
        let status = match obj.get("status") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(status_word(s)),
            Some(_) => return Err(malformed("status must be a string")),
        };
        Ok(Event { obj, status })
    }

    fn direction(&self) -> Result<Direction, WebhookError> {
        match self.obj.get("direction") {
            None | Some(Value::Null) => Err(malformed("direction is missing")),
            Some(Value::String(s)) if s == "inbound" => Ok(Direction::Inbound),
            Some(Value::String(s)) if s == "outbound" => Ok(Direction::Outbound),
            Some(_) => Err(malformed(r#"direction must be "inbound" or "outbound""#)),
        }
    }

    /// A Vonage identifier (`uuid`, `conversation_uuid`): 1–64 ASCII letters, digits, `-`
    /// or `_` (never `#`, the `call_id` separator).
    fn id(&self, field: &'static str) -> Result<&str, WebhookError> {
        match self.obj.get(field) {
            Some(Value::String(s))
                if !s.is_empty()
                    && s.len() <= MAX_ID_CHARS
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                Ok(s)
            }
            None | Some(Value::Null) => Err(WebhookError::Malformed(format!("{field} is missing"))),
            Some(_) => Err(WebhookError::Malformed(format!(
                "{field} is not a Vonage identifier"
            ))),
        }
    }

    /// `from` / `to`: a string of at most 256 characters (absent or `null` → `""`); bare
    /// E.164 digits gain a `+`.
    fn party(&self, field: &'static str) -> Result<String, WebhookError> {
        match self.obj.get(field) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) if s.chars().count() <= MAX_PARTY_CHARS => Ok(e164(s)),
            Some(_) => Err(WebhookError::Malformed(format!(
                "{field} must be a string of at most {MAX_PARTY_CHARS} characters"
            ))),
        }
    }

    /// `timestamp` as a UTC instant, when present and valid RFC 3339.
    fn timestamp(&self) -> Option<DateTime<Utc>> {
        self.instant("timestamp")
    }

    /// `start_time` (a `completed` event's leg start) as a UTC instant, when valid RFC 3339.
    fn start_time(&self) -> Option<DateTime<Utc>> {
        self.instant("start_time")
    }

    fn instant(&self, field: &str) -> Option<DateTime<Utc>> {
        let s = self.obj.get(field)?.as_str()?;
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// The static spelling of a known status word, or a fixed marker for others, so that
/// [`Event`] does not borrow from its own map.
fn status_word(s: &str) -> &'static str {
    const WORDS: [&str; 15] = [
        "started",
        "ringing",
        "answered",
        "busy",
        "timeout",
        "unanswered",
        "rejected",
        "failed",
        "cancelled",
        "completed",
        "disconnected",
        "human",
        "machine",
        "input",
        "transfer",
    ];
    WORDS.iter().copied().find(|w| *w == s).unwrap_or("other")
}

/// Vonage writes numbers as E.164 digits without `+` (Voice API "Numbers" guide): 7 to 15
/// ASCII digits gain the `+`; anything else is returned unchanged.
fn e164(s: &str) -> String {
    if (7..=15).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
        format!("+{s}")
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};
    use proptest::prelude::*;
    use serde_json::json;

    const SECRET: &str = "vonage-fixture-signature-secret-0123456789";
    const CONVERSATION: &str = "CON-3f0b8c2e-6a4d-4e1f-9b7c-2d5e8a1f4c60";
    const LEG_A: &str = "9b1d6f3e2a7c4e58b0f4d2c6a8e1b3f5";
    const LEG_B: &str = "5e2a9c7d-1b3f-4a6e-8d0c-7f4b2e9a1c38";

    /// Vonage Ruby SDK, `test/vonage/test.rb` (`sample_webhook_token`,
    /// `sample_valid_signature_secret`, `sample_invalid_signature_secret`), used by
    /// `test/vonage/jwt_test.rb` (`verify_hs256_signature`): a real signed-webhook token.
    const RUBY_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpYXQiOjE1ODc0OTQ5NjIsImp0aSI6ImM1YmE4ZjI0LTFhMTQtNGMxMC1iZmRmLTNmYmU4Y2U1MTFiNSIsImlzcyI6IlZvbmFnZSIsInBheWxvYWRfaGFzaCI6ImQ2YzBlNzRiNTg1N2RmMjBlM2I3ZTUxYjMwYzBjMmE0MGVjNzNhNzc4NzliNmYwNzRkZGM3YTIzMTdkZDAzMWIiLCJhcGlfa2V5IjoiYTFiMmMzZCIsImFwcGxpY2F0aW9uX2lkIjoiYWFhYWFhYWEtYmJiYi1jY2NjLWRkZGQtMDEyMzQ1Njc4OWFiIn0.JQRKi1d0SQitmjPINfTWMpt3XZkGsLbD7EjCdXoNSbk";
    const RUBY_VALID_SECRET: &str = "ZYtdTtGV3BCFN7tWmOWr1md66XsquMggr4W2cTtXtcPgfnI0Xw";
    const RUBY_INVALID_SECRET: &str = "ZYtdTtGV3BCFN7tWmOWr1md66XsquMggr4W2cTtXtcPgf55555";
    const RUBY_IAT: i64 = 1_587_494_962;
    const RUBY_PAYLOAD_HASH: &str =
        "d6c0e74b5857df20e3b7e51b30c0c2a40ec73a77879b6f074ddc7a2317dd031b";
    /// Vonage Python SDK, `jwt/tests/test_verify_jwt.py` (`token`, `valid_signature`,
    /// `invalid_signature`), used by `verify_signature`.
    const PYTHON_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJPbmxpbmUgSldUIEJ1aWxkZXIiLCJpYXQiOjE2OTc2MzQ2ODAsImV4cCI6MzMyNTQ1NDA4MjgsImF1ZCI6IiIsInN1YiI6IiJ9.88vJc3I2HhuqEDixHXVhc9R30tA6U_HQHZTC29y6CGM";
    const PYTHON_VALID_SECRET: &str = "qwertyuiopasdfghjklzxcvbnm123456";
    const PYTHON_INVALID_SECRET: &str = "asdf";

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-03-04T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn at(ts: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(ts, 0).unwrap()
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert(
            AUTHORIZATION_HEADER,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        h
    }

    fn verify_at(
        h: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
        secrets: &[&str],
    ) -> Result<(), WebhookError> {
        let req = WebhookRequest {
            public_url: "https://x.test/webhooks/vonage/acme",
            headers: h,
            body,
            now,
        };
        Vonage.verify(&req, secrets)
    }

    fn parse_bytes(body: &[u8]) -> Result<Option<CallEvent>, WebhookError> {
        let h = HeaderMap::new();
        let req = WebhookRequest {
            public_url: "https://x.test/webhooks/vonage/acme",
            headers: &h,
            body,
            now: now(),
        };
        Vonage.parse(&req)
    }

    fn parse_json(v: &Value) -> Result<Option<CallEvent>, WebhookError> {
        parse_bytes(v.to_string().as_bytes())
    }

    fn leg_of(v: &Value) -> Option<InboundLeg> {
        let h = HeaderMap::new();
        let body = v.to_string();
        let req = WebhookRequest {
            public_url: "",
            headers: &h,
            body: body.as_bytes(),
            now: now(),
        };
        inbound_leg(&req)
    }

    /// Leg A (`inbound`) or B (`outbound`) with `status`, in Vonage's field order.
    fn event(status: &str, direction: &str) -> Value {
        let (from, to, uuid) = if direction == "inbound" {
            ("33600000001", "33144000000", LEG_A)
        } else {
            ("33144000000", "33144000001", LEG_B)
        };
        json!({
            "headers": {},
            "from": from,
            "to": to,
            "uuid": uuid,
            "conversation_uuid": CONVERSATION,
            "status": status,
            "direction": direction,
            "timestamp": "2025-03-04T09:59:51.207Z",
        })
    }

    fn with(mut v: Value, field: &str, value: Value) -> Value {
        v[field] = value;
        v
    }

    fn without(mut v: Value, field: &str) -> Value {
        v.as_object_mut().unwrap().remove(field);
        v
    }

    // ---- known answers: Vonage SDK vectors -------------------------------------------------

    #[test]
    fn ruby_sdk_webhook_token_verifies_with_its_secret() {
        let claims = verified_claims(RUBY_TOKEN, &[RUBY_VALID_SECRET]).unwrap();
        assert_eq!(claims["iat"], json!(RUBY_IAT));
        assert_eq!(claims["iss"], json!("Vonage"));
        assert_eq!(claims["payload_hash"], json!(RUBY_PAYLOAD_HASH));
        assert_eq!(
            verified_claims(RUBY_TOKEN, &[RUBY_INVALID_SECRET]),
            Err(WebhookError::Unauthorized("JWT signature does not match"))
        );
        // Rotation: either secret may match.
        assert!(verified_claims(RUBY_TOKEN, &[RUBY_INVALID_SECRET, RUBY_VALID_SECRET]).is_ok());
    }

    #[test]
    fn ruby_sdk_webhook_token_through_verify() {
        // Signature and iat pass; the body the SDK hashed is not published, so the payload
        // check is what refuses an arbitrary body.
        let h = bearer(RUBY_TOKEN);
        assert_eq!(
            verify_at(&h, b"{}", at(RUBY_IAT + 10), &[RUBY_VALID_SECRET]),
            Err(WebhookError::Unauthorized(
                "JWT payload_hash does not match the body"
            ))
        );
        assert_eq!(
            verify_at(&h, b"{}", at(RUBY_IAT + 10), &[RUBY_INVALID_SECRET]),
            Err(WebhookError::Unauthorized("JWT signature does not match"))
        );
        assert_eq!(
            verify_at(&h, b"{}", now(), &[RUBY_VALID_SECRET]),
            Err(WebhookError::Unauthorized("JWT iat outside the tolerance"))
        );
    }

    #[test]
    fn python_sdk_token_verifies_with_its_secret() {
        let claims = verified_claims(PYTHON_TOKEN, &[PYTHON_VALID_SECRET]).unwrap();
        assert_eq!(claims["iat"], json!(1_697_634_680));
        assert_eq!(
            verified_claims(PYTHON_TOKEN, &[PYTHON_INVALID_SECRET]),
            Err(WebhookError::Unauthorized("JWT signature does not match"))
        );
        // The SDK's error case: "asdf" is not a JWT.
        assert_eq!(
            verified_claims("asdf", &[PYTHON_VALID_SECRET]),
            Err(WebhookError::Unauthorized("malformed JWT"))
        );
        // Not a webhook token: it has no payload_hash.
        let h = bearer(PYTHON_TOKEN);
        assert_eq!(
            verify_at(&h, b"{}", at(1_697_634_680), &[PYTHON_VALID_SECRET]),
            Err(WebhookError::Unauthorized("JWT has no payload_hash claim"))
        );
    }

    #[test]
    fn sign_is_verifiable_by_an_independent_implementation() {
        // The header segment is the standard HS256 one; payload_hash is the SHA-256 of the
        // body as Python's hashlib computes it. (The fixtures' tokens, made with Python's
        // hmac/hashlib/base64, are verified by `fixtures_parse_and_verify_as_expected`.)
        let token = sign(SECRET, b"{}", 1_741_082_400);
        let (signing_input, _) = token.rsplit_once('.').unwrap();
        let (header, claims) = signing_input.split_once('.').unwrap();
        assert_eq!(header, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9");
        let claims = json_segment(claims).unwrap();
        assert_eq!(
            claims["payload_hash"],
            json!("44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
        );
        assert_eq!(
            verified_claims(&token, &[SECRET]).unwrap()["iat"],
            1_741_082_400
        );
    }

    // ---- verify -----------------------------------------------------------------------------

    #[test]
    fn signed_body_verifies_and_tampering_does_not() {
        let body = event("timeout", "outbound").to_string().into_bytes();
        let h = bearer(&sign(SECRET, &body, now().timestamp() - 5));
        assert_eq!(verify_at(&h, &body, now(), &[SECRET]), Ok(()));
        assert_eq!(verify_at(&h, &body, now(), &["", "old", SECRET]), Ok(()));

        let tampered = String::from_utf8(body.clone())
            .unwrap()
            .replace("timeout", "answered");
        assert_eq!(
            verify_at(&h, tampered.as_bytes(), now(), &[SECRET]),
            Err(WebhookError::Unauthorized(
                "JWT payload_hash does not match the body"
            ))
        );
        assert_eq!(
            verify_at(&h, &body, now(), &["wrong-secret"]),
            Err(WebhookError::Unauthorized("JWT signature does not match"))
        );
        assert_eq!(
            verify_at(&h, &body, now(), &["", ""]),
            Err(WebhookError::Unauthorized(
                "no Vonage signature secret configured"
            ))
        );
        assert_eq!(
            verify_at(&h, &body, now(), &[]),
            Err(WebhookError::Unauthorized(
                "no Vonage signature secret configured"
            ))
        );
    }

    #[test]
    fn iat_tolerance_both_ways() {
        let body = b"{\"status\":\"busy\"}";
        for (offset, ok) in [
            (0, true),
            (-300, true),
            (300, true),
            (-301, false),
            (301, false),
            (-86_400, false),
        ] {
            let h = bearer(&sign(SECRET, body, now().timestamp() + offset));
            let got = verify_at(&h, body, now(), &[SECRET]);
            if ok {
                assert_eq!(got, Ok(()), "{offset}");
            } else {
                assert_eq!(
                    got,
                    Err(WebhookError::Unauthorized("JWT iat outside the tolerance")),
                    "{offset}"
                );
            }
        }
    }

    /// A token with arbitrary header and claims JSON, correctly signed with [`SECRET`].
    fn forge(header: &Value, claims: &Value) -> String {
        let h = BASE64URL.encode(header.to_string());
        let c = BASE64URL.encode(claims.to_string());
        let s = BASE64URL.encode(jwt_mac(SECRET, &h, &c).finalize().into_bytes());
        format!("{h}.{c}.{s}")
    }

    #[test]
    fn claims_are_checked_after_the_signature() {
        let body = b"{}";
        let hash = hex::encode(Sha256::digest(body));
        let ts = now().timestamp();
        let hs256 = json!({"alg": "HS256", "typ": "JWT"});
        let cases: Vec<(Value, Value, &str)> = vec![
            (
                json!({"alg": "none"}),
                json!({"iat": ts, "payload_hash": hash}),
                "JWT alg is not HS256",
            ),
            (
                json!({"alg": "RS256"}),
                json!({"iat": ts, "payload_hash": hash}),
                "JWT alg is not HS256",
            ),
            (
                json!({"typ": "JWT"}),
                json!({"iat": ts, "payload_hash": hash}),
                "JWT alg is not HS256",
            ),
            (json!([1]), json!({"iat": ts}), "malformed JWT"),
            (hs256.clone(), json!([ts]), "malformed JWT claims"),
            (
                hs256.clone(),
                json!({"payload_hash": hash}),
                "JWT has no numeric iat claim",
            ),
            (
                hs256.clone(),
                json!({"iat": ts.to_string(), "payload_hash": hash}),
                "JWT has no numeric iat claim",
            ),
            (
                hs256.clone(),
                json!({"iat": ts}),
                "JWT has no payload_hash claim",
            ),
            (
                hs256.clone(),
                json!({"iat": ts, "payload_hash": 7}),
                "JWT has no payload_hash claim",
            ),
            (
                hs256.clone(),
                json!({"iat": ts, "payload_hash": "zz"}),
                "JWT payload_hash does not match the body",
            ),
            (
                hs256.clone(),
                json!({"iat": ts, "exp": ts - 1, "payload_hash": hash}),
                "JWT has expired",
            ),
            (
                hs256.clone(),
                json!({"iat": ts, "exp": "never", "payload_hash": hash}),
                "JWT has expired",
            ),
        ];
        for (header, claims, msg) in cases {
            let h = bearer(&forge(&header, &claims));
            assert_eq!(
                verify_at(&h, body, now(), &[SECRET]),
                Err(WebhookError::Unauthorized(msg)),
                "{header} {claims}"
            );
        }
        // Accepted variants: fractional iat, future exp, upper-case hash.
        for claims in [
            json!({"iat": ts as f64 + 0.5, "payload_hash": hash}),
            json!({"iat": ts, "exp": ts + 60, "payload_hash": hash}),
            json!({"iat": ts, "payload_hash": hash.to_uppercase()}),
        ] {
            let h = bearer(&forge(&hs256, &claims));
            assert_eq!(verify_at(&h, body, now(), &[SECRET]), Ok(()), "{claims}");
        }
    }

    #[test]
    fn malformed_authorization_headers() {
        let body = b"{}";
        let good = sign(SECRET, body, now().timestamp());
        let (signing_input, _) = good.rsplit_once('.').unwrap();
        let cases: Vec<(Option<String>, &str)> = vec![
            (None, "missing Authorization header"),
            (Some(good.clone()), "Authorization is not a Bearer token"),
            (
                Some(format!("Basic {good}")),
                "Authorization is not a Bearer token",
            ),
            (Some("Bearer".into()), "Authorization is not a Bearer token"),
            (
                Some("Bearer    ".into()),
                "Authorization is not a Bearer token",
            ),
            (
                Some(format!("Bearer {}", "a".repeat(5000))),
                "Authorization is not a Bearer token",
            ),
            (Some("Bearer a.b".into()), "malformed JWT"),
            (Some(format!("Bearer {good}.x")), "malformed JWT"),
            (Some(format!("Bearer {signing_input}.***")), "malformed JWT"),
            (
                Some(format!("Bearer {signing_input}.")),
                "JWT signature does not match",
            ),
            (Some("Bearer !!.e30.e30".into()), "malformed JWT"),
            (
                Some(format!("Bearer {signing_input}.AAAA")),
                "JWT signature does not match",
            ),
        ];
        for (value, msg) in cases {
            let mut h = HeaderMap::new();
            if let Some(v) = &value {
                h.insert(AUTHORIZATION_HEADER, HeaderValue::from_str(v).unwrap());
            }
            assert_eq!(
                verify_at(&h, body, now(), &[SECRET]),
                Err(WebhookError::Unauthorized(msg)),
                "{value:?}"
            );
        }
        let mut h = HeaderMap::new();
        h.insert(
            AUTHORIZATION_HEADER,
            HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
        );
        assert_eq!(
            verify_at(&h, body, now(), &[SECRET]),
            Err(WebhookError::Unauthorized("malformed Authorization header"))
        );
        // Scheme is case-insensitive; surrounding spaces are tolerated.
        let h = {
            let mut h = HeaderMap::new();
            h.insert(
                AUTHORIZATION_HEADER,
                HeaderValue::from_str(&format!("  bearer  {good} ")).unwrap(),
            );
            h
        };
        assert_eq!(verify_at(&h, body, now(), &[SECRET]), Ok(()));
    }

    // ---- parse ------------------------------------------------------------------------------

    #[test]
    fn mapping_table_for_both_legs() {
        use CallStatus::*;
        // (word, leg A inbound, leg B outbound); None = not stored.
        let table: [(&str, Option<CallStatus>, Option<CallStatus>); 17] = [
            ("started", None, None),
            ("ringing", None, None),
            ("answered", None, Some(Answered)),
            // A leg B that is not answered decides nothing (a hunt group may ring another).
            ("busy", Some(Busy), Some(Other)),
            ("timeout", Some(NoAnswer), Some(Other)),
            ("unanswered", Some(NoAnswer), Some(Other)),
            ("rejected", Some(Rejected), Some(Other)),
            ("failed", Some(Failed), Some(Other)),
            ("cancelled", Some(Canceled), Some(Other)),
            // Leg A's end: missed unless a leg B was answered during the call (rule 5).
            ("completed", Some(NoAnswer), None),
            ("disconnected", None, None),
            ("human", None, None),
            ("machine", None, None),
            ("input", None, None),
            ("transfer", None, None),
            ("record", None, None),
            ("brand-new", None, None),
        ];
        for (word, inbound, outbound) in table {
            for (direction, want, want_dir, from, to, leg) in [
                (
                    "inbound",
                    inbound,
                    Direction::Inbound,
                    "+33600000001",
                    "+33144000000",
                    LEG_A,
                ),
                (
                    "outbound",
                    outbound,
                    Direction::Outbound,
                    "+33144000000",
                    "+33144000001",
                    LEG_B,
                ),
            ] {
                let got = parse_json(&event(word, direction)).unwrap();
                assert_eq!(got.as_ref().map(|e| e.status), want, "{word} {direction}");
                if let Some(e) = got {
                    assert_eq!(e.provider, "vonage");
                    assert_eq!(e.call_id, format!("{CONVERSATION}#{leg}"));
                    assert_eq!(e.direction, want_dir);
                    assert_eq!(e.provider_status, word);
                    assert_eq!((e.from.as_str(), e.to.as_str()), (from, to));
                    assert_eq!(
                        e.ended_at,
                        Some(
                            DateTime::parse_from_rfc3339("2025-03-04T09:59:51.207Z")
                                .unwrap()
                                .with_timezone(&Utc)
                        )
                    );
                    assert_eq!((e.started_at, e.ring_seconds), (None, None));
                }
            }
        }
    }

    #[test]
    fn events_without_status_are_acknowledged() {
        for v in [
            json!({"conversation_uuid_from": CONVERSATION, "conversation_uuid_to": "CON-x", "uuid": LEG_A, "timestamp": "2025-03-04T09:59:51Z"}),
            json!({"dtmf": {"digits": "1", "timed_out": false}, "uuid": LEG_A, "conversation_uuid": CONVERSATION}),
            json!({"recording_url": "https://api.nexmo.com/v1/files/x", "conversation_uuid": CONVERSATION}),
            json!({"reason": "Invalid NCCO", "conversation_uuid": CONVERSATION}),
            json!({"status": null}),
            json!({}),
        ] {
            assert_eq!(parse_json(&v), Ok(None), "{v}");
        }
    }

    #[test]
    fn numbers_gain_the_plus_and_other_encodings_pass_through() {
        for (raw, want) in [
            ("33600000001", "+33600000001"),
            ("262692000001", "+262692000001"),
            ("+33600000001", "+33600000001"),
            ("0600000001", "+0600000001"),
            ("", ""),
            ("Unknown", "Unknown"),
            ("anonymous", "anonymous"),
            ("restricted", "restricted"),
            ("private", "private"),
            ("unavailable", "unavailable"),
            (
                "sip:anonymous@anonymous.invalid",
                "sip:anonymous@anonymous.invalid",
            ),
            ("266696687", "+266696687"),
            ("2562533", "+2562533"),
            ("123456", "123456"),
            ("1234567890123456", "1234567890123456"),
        ] {
            let e = parse_json(&with(event("busy", "inbound"), "from", json!(raw)))
                .unwrap()
                .unwrap();
            assert_eq!(e.from, want, "{raw}");
            assert_eq!(e.counterpart(), want);
        }
        let e = parse_json(&with(event("busy", "inbound"), "from", Value::Null))
            .unwrap()
            .unwrap();
        assert_eq!(e.from, "");
        let e = parse_json(&without(event("busy", "inbound"), "from"))
            .unwrap()
            .unwrap();
        assert_eq!(e.from, "");
    }

    #[test]
    fn malformed_bodies_have_precise_messages() {
        let n = json!("33600000001");
        let cases: Vec<(Value, &str)> = vec![
            (json!([1]), "body must be a JSON object"),
            (json!("33600000001"), "body must be a JSON object"),
            (
                with(event("busy", "inbound"), "status", json!(7)),
                "status must be a string",
            ),
            (
                without(event("busy", "inbound"), "direction"),
                "direction is missing",
            ),
            (
                with(event("busy", "inbound"), "direction", n.clone()),
                r#"direction must be "inbound" or "outbound""#,
            ),
            (
                with(event("busy", "inbound"), "direction", json!("Inbound")),
                r#"direction must be "inbound" or "outbound""#,
            ),
            (
                without(event("busy", "inbound"), "conversation_uuid"),
                "conversation_uuid is missing",
            ),
            (
                with(
                    event("busy", "inbound"),
                    "conversation_uuid",
                    json!("CON#1"),
                ),
                "conversation_uuid is not a Vonage identifier",
            ),
            (
                with(event("busy", "inbound"), "conversation_uuid", json!("")),
                "conversation_uuid is not a Vonage identifier",
            ),
            (
                with(event("busy", "inbound"), "uuid", json!("x".repeat(65))),
                "uuid is not a Vonage identifier",
            ),
            (
                with(event("busy", "inbound"), "uuid", json!(33600000001u64)),
                "uuid is not a Vonage identifier",
            ),
            (
                with(event("busy", "inbound"), "uuid", json!("+33600000001")),
                "uuid is not a Vonage identifier",
            ),
            (
                without(event("busy", "outbound"), "uuid"),
                "uuid is missing",
            ),
            (
                with(event("busy", "inbound"), "from", json!(33600000001u64)),
                "from must be a string of at most 256 characters",
            ),
            (
                with(event("busy", "inbound"), "to", json!("9".repeat(257))),
                "to must be a string of at most 256 characters",
            ),
        ];
        for (v, msg) in cases {
            let got = parse_json(&v);
            assert_eq!(got, Err(WebhookError::Malformed(msg.into())), "{v}");
            assert!(!msg.contains("600000001"));
        }
        for (raw, msg) in [
            (&b""[..], "body is not valid JSON (line 1, column 0)"),
            (
                b"{\"from\": \"33600000001\"",
                "body is not valid JSON (line 1, column 22)",
            ),
            (
                b"status=busy&from=33600000001",
                "body is not valid JSON (line 1, column 1)",
            ),
        ] {
            assert_eq!(parse_bytes(raw), Err(WebhookError::Malformed(msg.into())));
        }
        // A call-status word needs its direction even when it is not stored; other words
        // and progress events need nothing more.
        assert_eq!(
            parse_json(&json!({"status": "ringing"})),
            Err(malformed("direction is missing"))
        );
        assert_eq!(parse_json(&json!({"status": "machine"})), Ok(None));
        assert_eq!(
            parse_json(&json!({"status": "ringing", "direction": "inbound"})),
            Ok(None)
        );
    }

    #[test]
    fn invalid_timestamp_is_ignored() {
        let e = parse_json(&with(
            event("busy", "outbound"),
            "timestamp",
            json!("yesterday"),
        ))
        .unwrap()
        .unwrap();
        assert_eq!(e.ended_at, None);
    }

    // ---- correlation helpers ---------------------------------------------------------------

    #[test]
    fn inbound_leg_is_announced_by_leg_a_progress_events() {
        for word in ["started", "ringing", "answered"] {
            let leg = leg_of(&event(word, "inbound")).unwrap();
            assert_eq!(leg.conversation_uuid, CONVERSATION);
            assert_eq!(leg.leg_uuid, LEG_A);
            assert_eq!(
                (leg.from.as_str(), leg.to.as_str()),
                ("+33600000001", "+33144000000")
            );
            let debug = format!("{leg:?}");
            assert!(
                !debug.contains("600000001") && !debug.contains("144000000"),
                "{debug}"
            );
        }
        for (word, direction) in [
            ("started", "outbound"),
            ("answered", "outbound"),
            ("completed", "inbound"),
            ("busy", "inbound"),
            ("machine", "inbound"),
        ] {
            assert_eq!(leg_of(&event(word, direction)), None, "{word} {direction}");
        }
        assert_eq!(
            leg_of(&without(event("started", "inbound"), "conversation_uuid")),
            None
        );
        assert_eq!(leg_of(&json!([])), None);
    }

    #[test]
    fn leg_a_completed_is_dated_by_its_start_so_any_answer_during_the_call_follows_it() {
        let start = "2025-03-04T09:59:11.207Z";
        let completed = with(event("completed", "inbound"), "start_time", json!(start));
        let e = parse_json(&completed).unwrap().unwrap();
        let start = DateTime::parse_from_rfc3339(start)
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!((e.started_at, e.ended_at), (Some(start), None));
        // A leg B answered 10 s later is human contact after this missed call.
        let answered = parse_json(&event("answered", "outbound")).unwrap().unwrap();
        assert!(answered.ended_at.unwrap() > start);
        // Without a start_time, the event's own timestamp.
        let e = parse_json(&event("completed", "inbound")).unwrap().unwrap();
        assert_eq!((e.started_at.is_none(), e.ended_at.is_some()), (true, true));
    }

    #[test]
    fn connect_leg_correlates_and_becomes_the_forwarded_inbound_call() {
        let b = parse_json(&event("timeout", "outbound")).unwrap().unwrap();
        assert_eq!(connect_correlation(&b), Some(CONVERSATION));
        let a_missed = parse_json(&event("cancelled", "inbound")).unwrap().unwrap();
        assert_eq!(connect_correlation(&a_missed), None);
        let other = CallEvent {
            provider: "twilio",
            ..b.clone()
        };
        assert_eq!(connect_correlation(&other), None);

        let inbound = as_forwarded_inbound(&b, "+33600000001", "+33144000000");
        assert_eq!(inbound.direction, Direction::Inbound);
        assert_eq!(inbound.counterpart(), "+33600000001");
        assert_eq!(inbound.to, "+33144000000");
        assert_eq!(
            (
                inbound.call_id.as_str(),
                inbound.status,
                inbound.provider_status.as_str()
            ),
            (b.call_id.as_str(), CallStatus::Other, "timeout")
        );
        assert_eq!(inbound.ended_at, b.ended_at);
    }

    #[test]
    fn ack_is_empty() {
        assert_eq!(
            Vonage.ack(),
            Ack {
                content_type: "text/plain",
                body: ""
            }
        );
        assert_eq!(Vonage.name(), "vonage");
    }

    // ---- fixtures ---------------------------------------------------------------------------

    /// A fixture's parse result: status, direction and counterpart.
    type Expected = Option<(CallStatus, Direction, &'static str)>;

    #[test]
    fn fixtures_parse_and_verify_as_expected() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/providers");
        // (file, parse result, announces an inbound leg, correlates)
        let expect: [(&str, Expected, bool, bool); 8] = [
            ("vonage-inbound-started.json", None, true, false),
            ("vonage-inbound-ringing.json", None, true, false),
            ("vonage-inbound-answered.json", None, true, false),
            (
                "vonage-connect-timeout.json",
                Some((CallStatus::Other, Direction::Outbound, "+33144000001")),
                false,
                true,
            ),
            (
                "vonage-connect-busy.json",
                Some((CallStatus::Other, Direction::Outbound, "+33144000001")),
                false,
                true,
            ),
            (
                "vonage-connect-answered.json",
                Some((CallStatus::Answered, Direction::Outbound, "+33144000001")),
                false,
                true,
            ),
            (
                "vonage-inbound-completed.json",
                Some((CallStatus::NoAnswer, Direction::Inbound, "+33600000001")),
                false,
                false,
            ),
            (
                "vonage-inbound-cancelled.json",
                Some((CallStatus::Canceled, Direction::Inbound, "+33600000002")),
                false,
                false,
            ),
        ];
        for (file, want, announces, correlates) in expect {
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
            // Numbers only from the test ranges (README, "Tests"), in Vonage's form (no '+').
            let fields: Value = serde_json::from_slice(&body).unwrap();
            for f in ["from", "to"] {
                let n = fields[f].as_str().unwrap();
                assert!(
                    n.len() == 11 && (n.starts_with("336000000") || n.starts_with("331440000")),
                    "{file}"
                );
            }
            let req = WebhookRequest {
                public_url: "https://example.test/webhooks/vonage/acme",
                headers: &h,
                body: &body,
                now: now(),
            };
            // The fixture's own token verifies (signed by the generator with SECRET).
            assert_eq!(Vonage.verify(&req, &[SECRET]), Ok(()), "{file}");
            assert!(Vonage.verify(&req, &["another-secret"]).is_err(), "{file}");
            let got = Vonage.parse(&req).unwrap();
            assert_eq!(
                got.as_ref()
                    .map(|e| (e.status, e.direction, e.counterpart())),
                want,
                "{file}"
            );
            assert_eq!(inbound_leg(&req).is_some(), announces, "{file}");
            assert_eq!(
                got.as_ref().and_then(connect_correlation).is_some(),
                correlates,
                "{file}"
            );
        }
    }

    // ---- properties -------------------------------------------------------------------------

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_input(
            body in proptest::collection::vec(any::<u8>(), 0..512),
            auth in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_bytes(&auth) {
                h.insert(AUTHORIZATION_HEADER, v);
            }
            let req = WebhookRequest { public_url: "", headers: &h, body: &body, now: now() };
            let _ = Vonage.verify(&req, &[SECRET, ""]);
            let _ = Vonage.parse(&req);
            let _ = inbound_leg(&req);
        }

        #[test]
        fn never_panics_on_token_like_input(
            header in proptest::collection::vec(any::<u8>(), 0..64),
            claims in proptest::collection::vec(any::<u8>(), 0..128),
            sig in proptest::collection::vec(any::<u8>(), 0..40),
            scheme in prop_oneof![Just("Bearer "), Just("bearer "), Just("")],
        ) {
            let token = format!(
                "{scheme}{}.{}.{}",
                BASE64URL.encode(&header), BASE64URL.encode(&claims), BASE64URL.encode(&sig)
            );
            let mut h = HeaderMap::new();
            h.insert(AUTHORIZATION_HEADER, HeaderValue::from_str(&token).unwrap());
            let req = WebhookRequest { public_url: "", headers: &h, body: b"{}", now: now() };
            prop_assert!(matches!(Vonage.verify(&req, &[SECRET]), Err(WebhookError::Unauthorized(_))));
        }

        #[test]
        fn never_panics_on_json_like_input(
            fields in proptest::collection::btree_map(
                prop_oneof![
                    Just("status".to_owned()), Just("direction".to_owned()), Just("uuid".to_owned()),
                    Just("conversation_uuid".to_owned()), Just("from".to_owned()), Just("to".to_owned()),
                    Just("timestamp".to_owned()), Just("duration".to_owned()), "[a-z_]{1,8}"],
                prop_oneof![
                    Just(Value::Null), any::<bool>().prop_map(Value::from), any::<i64>().prop_map(Value::from),
                    any::<f64>().prop_map(Value::from), ".{0,40}".prop_map(Value::from),
                    Just(json!("inbound")), Just(json!("outbound")), Just(json!("busy")),
                    Just(json!("answered")), Just(json!("started")), Just(json!(CONVERSATION)),
                    Just(json!("33600000001")), Just(json!("2025-03-04T10:00:00Z"))],
                0..10),
            iat_offset in -1000i64..1000,
        ) {
            let body = serde_json::to_vec(&fields).unwrap();
            let h = bearer(&sign(SECRET, &body, now().timestamp() + iat_offset));
            let req = WebhookRequest { public_url: "", headers: &h, body: &body, now: now() };
            prop_assert_eq!(Vonage.verify(&req, &[SECRET]).is_ok(), iat_offset.abs() <= 300);
            match Vonage.parse(&req) {
                Err(WebhookError::Malformed(m)) => prop_assert!(is_known_message(&m), "{}", m),
                Err(other) => prop_assert!(false, "{:?}", other),
                Ok(Some(e)) => {
                    prop_assert!(e.call_id.starts_with(fields["conversation_uuid"].as_str().unwrap()));
                    prop_assert!(connect_correlation(&e).is_some() == (e.direction == Direction::Outbound));
                }
                Ok(None) => {}
            }
            let _ = inbound_leg(&req);
        }

        #[test]
        fn signed_bodies_verify(
            body in proptest::collection::vec(any::<u8>(), 0..256),
            secret in "[ -~]{1,40}",
            iat in 0i64..4_000_000_000,
        ) {
            let h = bearer(&sign(&secret, &body, iat));
            prop_assert_eq!(verify_at(&h, &body, at(iat), &["unrelated", &secret]), Ok(()));
        }
    }

    /// Whether `m` is one of the fixed Malformed messages of [`Vonage::parse`].
    fn is_known_message(m: &str) -> bool {
        if let Some(rest) = m.strip_prefix("body is not valid JSON (line ") {
            return rest
                .bytes()
                .all(|b| b.is_ascii_digit() || b", column)".contains(&b));
        }
        let mut known = vec![
            "body must be a JSON object".to_owned(),
            "status must be a string".to_owned(),
            "direction is missing".to_owned(),
            r#"direction must be "inbound" or "outbound""#.to_owned(),
        ];
        for f in ["uuid", "conversation_uuid"] {
            known.push(format!("{f} is missing"));
            known.push(format!("{f} is not a Vonage identifier"));
        }
        for f in ["from", "to"] {
            known.push(format!("{f} must be a string of at most 256 characters"));
        }
        known.iter().any(|k| k == m)
    }
}
