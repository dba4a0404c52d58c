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
        let (started_at, ended_at) = match event.leg_start() {
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

    /// When a `completed` leg started: its `start_time`, else its `timestamp` less its
    /// `duration` (seconds, a string or a number), when valid.
    fn leg_start(&self) -> Option<DateTime<Utc>> {
        self.instant("start_time").or_else(|| {
            let seconds = match self.obj.get("duration")? {
                Value::String(s) => s.trim().parse::<u32>().ok()?,
                Value::Number(n) => u32::try_from(n.as_u64()?).ok()?,
                _ => return None,
            };
            Some(self.timestamp()? - chrono::Duration::seconds(i64::from(seconds)))
        })
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
#[path = "tests/vonage.rs"]
mod tests;
