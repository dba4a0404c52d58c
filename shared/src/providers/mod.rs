//! Telephony provider webhooks: authentication, parsing into [`CallEvent`], and the answer
//! each provider expects.

use crate::call::{CallEvent, Direction};
use chrono::{DateTime, Utc};

pub mod aircall;
pub mod generic;
pub mod plivo;
pub mod ringover;
pub mod telnyx;
pub mod twilio;
pub mod vonage;

#[cfg(test)]
#[path = "tests/support.rs"]
mod test_support;

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
    /// The media type the provider posts (`application/json`, or
    /// `application/x-www-form-urlencoded` for Twilio and Plivo). Intake refuses a request
    /// that declares another (415) before reading it.
    fn media_type(&self) -> &'static str {
        "application/json"
    }
    /// Verify the request against any of `secrets` (two may be valid during a rotation).
    fn verify(&self, req: &WebhookRequest<'_>, secrets: &[&str]) -> Result<(), WebhookError>;
    /// Parse a verified request. `Ok(None)`: a well-formed event that is not a call outcome
    /// at all (e.g. a `ringing` progress callback); it is acknowledged and not stored.
    fn parse(&self, req: &WebhookRequest<'_>) -> Result<Option<CallEvent>, WebhookError>;
    /// Success answer (Twilio: empty TwiML `<Response/>`).
    fn ack(&self) -> Ack;
    /// A leg to remember from a verified request, for a later event of the same call that
    /// cannot tell on its own who the prospect is or which way the call went. Default: none.
    fn leg(&self, req: &WebhookRequest<'_>) -> Option<Leg> {
        let _ = req;
        None
    }
    /// The provider account a verified request names (Twilio `AccountSid`, Vonage JWT
    /// `application_id`, Telnyx `connection_id`), compared with the account's
    /// `provider_accounts` entry. `None`: the request names none. Default: none.
    fn account_identity(&self, req: &WebhookRequest<'_>) -> Option<String> {
        let _ = req;
        None
    }
    /// Whether this provider's webhooks name the provider account they come from (so that
    /// an account may be bound to it with `provider_accounts`). Default: no.
    fn names_its_account(&self) -> bool {
        false
    }
    /// The key of a leg this verified request reports answered, when the provider reports
    /// answers apart from the leg's end (Telnyx `call.answered`). Intake uses it for legs that
    /// forward an inbound call: an answered forward is what makes that call answered. Default:
    /// none.
    fn answered_leg(&self, req: &WebhookRequest<'_>) -> Option<String> {
        let _ = req;
        None
    }
    /// The key of the remembered [`Leg`] that completes `event`, if this provider uses one.
    /// When intake finds it, the leg's direction and prospect replace the event's. Default: none.
    fn leg_key(&self, event: &CallEvent) -> Option<String> {
        let _ = event;
        None
    }
}

/// A call leg remembered at intake (Vonage: the inbound leg behind a `connect` leg, keyed by
/// `conversation_uuid`; Telnyx: `call.initiated`, the only event that carries the direction,
/// keyed by `call_leg_id`).
#[derive(Clone, PartialEq, Eq)]
pub struct Leg {
    /// Correlation key, unique within the provider.
    pub key: String,
    pub direction: Direction,
    /// The prospect's raw number (the caller for inbound legs, the callee for outbound ones).
    pub counterpart: String,
    /// The call the leg belongs to, when the provider groups legs (Telnyx `call_session_id`):
    /// an outbound leg in the group of an inbound one is that call forwarded to the business,
    /// whose outcome the inbound leg reports; it is not decided on its own.
    pub group: Option<String>,
}

impl std::fmt::Debug for Leg {
    /// The number is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leg")
            .field("key", &self.key)
            .field("direction", &self.direction)
            .finish_non_exhaustive()
    }
}

/// Whether a `Content-Type` header value names `media_type` (parameters such as `charset`
/// ignored, case-insensitive; RFC 9110 §8.3.1).
pub fn is_media_type(header: &str, media_type: &str) -> bool {
    header
        .split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case(media_type))
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
        "ringover" => Some(&ringover::Ringover),
        _ => None,
    }
}

// ------------------------------------------------------------------------------------------
// What every provider's verifier and parser repeats.

/// [`WebhookError::Malformed`] with `msg`, which names a field and never echoes a value.
pub(crate) fn malformed(msg: impl Into<String>) -> WebhookError {
    WebhookError::Malformed(msg.into())
}

/// Request header `name` (lower-case text, or a [`http::HeaderName`]: a constant one is
/// looked up without parsing the name again) as text. Errors ([`WebhookError::Unauthorized`]):
/// `missing` when absent, `unreadable` when not visible ASCII.
pub(crate) fn header<'r>(
    req: &'r WebhookRequest<'_>,
    name: impl http::header::AsHeaderName,
    missing: &'static str,
    unreadable: &'static str,
) -> Result<&'r str, WebhookError> {
    req.headers
        .get(name)
        .ok_or(WebhookError::Unauthorized(missing))?
        .to_str()
        .map_err(|_| WebhookError::Unauthorized(unreadable))
}

/// Whether an instant a provider signed (`signed_at`, Unix seconds) is within `tolerance`
/// seconds of reception (`now`), either way: the replay window.
pub(crate) fn within_tolerance(signed_at: i64, now: DateTime<Utc>, tolerance: u64) -> bool {
    now.timestamp().abs_diff(signed_at) <= tolerance
}

/// The secrets worth trying, the non-empty ones (an empty HMAC key or token must never
/// authenticate anything), or `Unauthorized(none_configured)`.
pub(crate) fn usable_secrets<'a, 's>(
    secrets: &'a [&'s str],
    none_configured: &'static str,
) -> Result<std::borrow::Cow<'a, [&'s str]>, WebhookError> {
    // Usually every secret is set: borrowed as is, nothing allocated on the hot path.
    let usable: std::borrow::Cow<'a, [&'s str]> = if secrets.iter().all(|s| !s.is_empty()) {
        std::borrow::Cow::Borrowed(secrets)
    } else {
        secrets.iter().copied().filter(|s| !s.is_empty()).collect()
    };
    if usable.is_empty() {
        Err(WebhookError::Unauthorized(none_configured))
    } else {
        Ok(usable)
    }
}

/// `Ok` when `matches` holds for any of `secrets` (two during a rotation), else
/// `Unauthorized(mismatch)`. Every secret is tried, without an early exit, so the time taken
/// does not tell whether, or which, secret matched; `matches` compares in constant time.
pub(crate) fn any_secret_matches(
    secrets: &[&str],
    mismatch: &'static str,
    mut matches: impl FnMut(&str) -> bool,
) -> Result<(), WebhookError> {
    let mut ok = false;
    for secret in secrets {
        ok |= matches(secret);
    }
    if ok {
        Ok(())
    } else {
        Err(WebhookError::Unauthorized(mismatch))
    }
}

/// The body as a JSON value. Errors: [`WebhookError::Malformed`] saying where it stops being
/// JSON (`body is not valid JSON (line L, column C)`), never what it holds.
pub(crate) fn json_body(body: &[u8]) -> Result<serde_json::Value, WebhookError> {
    serde_json::from_slice(body).map_err(not_json)
}

/// `body is not valid JSON (line L, column C)`: where, never what.
fn not_json(e: serde_json::Error) -> WebhookError {
    malformed(format!(
        "body is not valid JSON (line {}, column {})",
        e.line(),
        e.column()
    ))
}

/// One field of a JSON payload read into a typed struct ([`json_object`]): whatever JSON it
/// holds, kept as its kind, so that the adapter writes its own error ("`from` must be a string
/// or null") and serde never writes one quoting the value it refused. Strings are borrowed
/// from the body unless they hold escapes.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) enum Json<'a> {
    /// The field is not in the object (`#[serde(default)]`).
    #[default]
    Absent,
    Null,
    Str(std::borrow::Cow<'a, str>),
    /// A non-negative integer.
    Uint(u64),
    /// Anything else: a negative or fractional number, a boolean, an array, an object.
    Other,
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Json<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Json<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Json<'de>, E> {
                Ok(Json::Str(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Json<'de>, E> {
                Ok(Json::Str(std::borrow::Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Json<'de>, E> {
                Ok(Json::Str(std::borrow::Cow::Owned(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Json<'de>, E> {
                Ok(Json::Uint(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Json<'de>, E> {
                Ok(u64::try_from(v).map_or(Json::Other, Json::Uint))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Json<'de>, E> {
                Ok(Json::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Json<'de>, E> {
                Ok(Json::Other)
            }
            fn visit_unit<E>(self) -> Result<Json<'de>, E> {
                Ok(Json::Null)
            }
            fn visit_none<E>(self) -> Result<Json<'de>, E> {
                Ok(Json::Null)
            }
            // Nested values are read as `Json` too, not skipped: serde_json then checks them as
            // it checks any value (UTF-8, escapes, number range, nesting depth), so a body is
            // refused for what a `serde_json::Value` would refuse.
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Json<'de>, A::Error> {
                while seq.next_element::<Json<'de>>()?.is_some() {}
                Ok(Json::Other)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Json<'de>, A::Error> {
                while map.next_entry::<Json<'de>, Json<'de>>()?.is_some() {}
                Ok(Json::Other)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// The body, a JSON object, read into `T` (a struct of [`Json`] fields whose `visit_map`
/// reads every other value as [`Json`] too), borrowing from `body`: no tree of values is
/// built, and nothing a `serde_json::Value` would refuse is accepted.
///
/// Errors ([`WebhookError::Malformed`], never quoting the body): `body must be a JSON object`
/// when it is valid JSON of another kind; `body is not valid JSON (line L, column C)` when it
/// is not JSON, or `T` refuses it (a field of its own named twice: ambiguous, refused rather
/// than guessed).
pub(crate) fn json_object<'a, T: serde::Deserialize<'a>>(
    body: &'a [u8],
) -> Result<T, WebhookError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        // Not an object: say whether it is JSON at all, as `json_body` does.
        json_body(body)?;
        return Err(malformed("body must be a JSON object"));
    }
    serde_json::from_slice(body).map_err(not_json)
}

/// Form parameters of a form-encoded webhook (Twilio, Plivo), by name; the first occurrence
/// of a name wins.
pub(crate) struct Params<'a>(
    std::collections::HashMap<std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>>,
);

impl<'a> Params<'a> {
    pub(crate) fn new(body: &'a str) -> Self {
        let mut map = std::collections::HashMap::new();
        for (k, v) in url::form_urlencoded::parse(body.as_bytes()) {
            map.entry(k).or_insert(v);
        }
        Params(map)
    }

    /// The value of `name`, if present and not empty after trimming.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(|v| v.as_ref())
            .filter(|v| !v.trim().is_empty())
    }
}
