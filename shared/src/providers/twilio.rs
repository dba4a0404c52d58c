//! Twilio Programmable Voice callbacks.
//!
//! Twilio `POST`s `application/x-www-form-urlencoded` bodies to two kinds of URL that a
//! business points at Rappel (`/webhooks/twilio/{account_id}`):
//!
//! * the **`<Dial action>`** URL, called when the `<Dial>` verb that forwards the tracked
//!   number to the business ends. It carries `DialCallStatus`, which says whether a human
//!   picked up, and is the authoritative outcome of an inbound call
//!   (<https://www.twilio.com/docs/voice/twiml/dial#action>);
//! * the **status callback** URL (`statusCallback`), called as a call progresses. It carries
//!   `CallStatus` (<https://www.twilio.com/docs/voice/api/call-resource#statuscallback>).
//!
//! Requests are authenticated with `X-Twilio-Signature`
//! (<https://www.twilio.com/docs/usage/webhooks/webhooks-security>); the secret is the
//! account's Twilio auth token.
//!
//! Status mapping (the table the README reproduces):
//!
//! | callback | Twilio word | direction | → [`CallStatus`] |
//! |---|---|---|---|
//! | Dial action | `DialCallStatus=completed` / `answered` | any | `Answered` |
//! | Dial action | `no-answer` / `busy` / `failed` / `canceled` | any | `NoAnswer` / `Busy` / `Failed` / `Canceled` |
//! | status | `CallStatus=queued` / `initiated` / `ringing` / `in-progress` | any | not stored (`Ok(None)`) |
//! | status | `completed` | inbound | not stored: Twilio answered the leg, the Dial action says whether a human did |
//! | status | `completed` | outbound-api | `Answered` (`Voicemail` if `AnsweredBy=machine_*`) |
//! | status | `no-answer` / `busy` / `failed` / `canceled` | inbound, outbound-api | `NoAnswer` / `Busy` / `Failed` / `Canceled` |
//! | status | any word | outbound-dial | not stored: the child leg of a `<Dial>`; its outcome arrives on the parent's Dial action |
//! | either | any other word | any | `Other` (stored as `ignored`) |
//!
//! `call_id` is the parent `CallSid` for both kinds: one idempotency key per call, so a
//! redelivery, a late progress callback or the second leg of the same call never makes a second
//! decision. (An inbound call either was answered by Twilio and has a Dial action, or was not and
//! has a final status callback; never both.)
//!
//! Direction: `inbound` and `trunking-terminating` → inbound; `outbound-api`, `outbound-dial`
//! and `trunking-originating` → outbound. A Dial action without `Direction` is inbound; a
//! status callback without `Direction` is refused (guessing could text the business itself).

use super::*;
use crate::call::{CallStatus, Direction};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// The header carrying Twilio's request signature (lower-case, as in [`WebhookRequest`]).
pub const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// Longest `CallSid` accepted (Twilio SIDs are 34 characters: `CA` + 32 hex digits).
const MAX_SID_LEN: usize = 64;

/// The Twilio Programmable Voice adapter (route name `twilio`).
pub struct Twilio;

impl Provider for Twilio {
    /// `"twilio"`.
    fn name(&self) -> &'static str {
        "twilio"
    }

    /// Form-encoded parameters.
    fn media_type(&self) -> &'static str {
        "application/x-www-form-urlencoded"
    }

    /// Checks `X-Twilio-Signature` against each of `secrets` (Twilio auth tokens).
    ///
    /// The expected value is `base64(HMAC-SHA1(token, url + k1 + v1 + k2 + v2 ...))` where
    /// `url` is [`WebhookRequest::public_url`] exactly and the form parameters of the body are
    /// sorted by name (byte order), then value (Twilio docs, "Webhooks security", form-encoded
    /// bodies). Like Twilio's SDKs, the URL is also tried with the scheme's default port
    /// added (`:443` / `:80`) when it has none, and removed when it has it. Comparisons are
    /// constant-time. Empty secrets are never used. JSON bodies signed through a `bodySHA256`
    /// query parameter are not supported (Twilio Voice callbacks are form-encoded).
    ///
    /// Errors: [`WebhookError::Unauthorized`] when the header is missing or not ASCII, when no
    /// usable secret is configured, or when no (secret, URL variant) pair matches.
    fn verify(&self, req: &WebhookRequest<'_>, secrets: &[&str]) -> Result<(), WebhookError> {
        let Some(header) = req.headers.get(SIGNATURE_HEADER) else {
            return Err(WebhookError::Unauthorized(
                "missing X-Twilio-Signature header",
            ));
        };
        let Ok(given) = header.to_str() else {
            return Err(WebhookError::Unauthorized(
                "malformed X-Twilio-Signature header",
            ));
        };
        let given = given.trim().as_bytes();
        let secrets = usable_secrets(secrets, "no Twilio auth token configured")?;
        let params = form_pairs(req.body);
        let mut urls = vec![req.public_url.to_owned()];
        urls.extend(port_variant(req.public_url));
        any_secret_matches(&secrets, "X-Twilio-Signature does not match", |secret| {
            urls.iter().fold(false, |ok, url| {
                let expected = signature_of(secret, url, &params);
                ok | bool::from(expected.as_bytes().ct_eq(given))
            })
        })
    }

    /// Reads a verified Twilio callback (Dial action or status callback, see the module
    /// table) into a [`CallEvent`] with `provider = "twilio"`.
    ///
    /// * `call_id`: the parent `CallSid`, for both kinds of callback.
    /// * `from` / `to`: `From` / `To` (falling back to `Caller` / `Called`), raw: withheld
    ///   encodings such as `anonymous` or `+266696687` pass through unchanged; absent → `""`.
    /// * `provider_status`: the raw `DialCallStatus` or `CallStatus` word.
    /// * `ended_at`: the `Timestamp` parameter (RFC 2822, sent on status callbacks) when
    ///   present and valid; `started_at` and `ring_seconds` are `None` (Twilio's durations
    ///   are talk time, not ring time).
    ///
    /// Returns `Ok(None)` for non-final status callbacks (`queued`, `initiated`, `ringing`,
    /// `in-progress`).
    ///
    /// Errors: [`WebhookError::Malformed`] when the body is not UTF-8, `CallSid` is missing
    /// or not SID-shaped, `CallStatus` is missing on a status callback, `Direction` is
    /// missing on a status callback, or `Direction` is not a Twilio direction. Messages name
    /// the field, never its value.
    fn parse(&self, req: &WebhookRequest<'_>) -> Result<Option<CallEvent>, WebhookError> {
        let body =
            std::str::from_utf8(req.body).map_err(|_| malformed("body is not UTF-8 form data"))?;
        let params = Params::new(body);

        let call_sid = params
            .get("CallSid")
            .ok_or_else(|| malformed("CallSid is missing"))?;
        if call_sid.len() > MAX_SID_LEN || !call_sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(malformed("CallSid is not a Twilio SID"));
        }
        let direction_word = params.get("Direction");
        let from = params
            .get("From")
            .or_else(|| params.get("Caller"))
            .unwrap_or_default();
        let to = params
            .get("To")
            .or_else(|| params.get("Called"))
            .unwrap_or_default();
        let ended_at = params
            .get("Timestamp")
            .and_then(|t| DateTime::parse_from_rfc2822(t).ok())
            .map(|t| t.with_timezone(&Utc));

        let (call_id, direction, status, word) = if let Some(word) = params.get("DialCallStatus") {
            let direction = match direction_word {
                None => Direction::Inbound,
                Some(d) => direction_of(d)?,
            };
            let status = dial_status(word);
            (call_sid.to_owned(), direction, status, word)
        } else {
            let word = params
                .get("CallStatus")
                .ok_or_else(|| malformed("CallStatus is missing"))?;
            let direction_word = direction_word.ok_or_else(|| malformed("Direction is missing"))?;
            let direction = direction_of(direction_word)?;
            if direction_word == "outbound-dial" {
                // The child leg of a <Dial>: its outcome reaches us on the parent's Dial action.
                return Ok(None);
            }
            let Some(status) = call_status(word, direction, params.get("AnsweredBy")) else {
                return Ok(None);
            };
            (call_sid.to_owned(), direction, status, word)
        };

        Ok(Some(CallEvent {
            provider: "twilio",
            call_id,
            direction,
            status,
            provider_status: word.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
            started_at: None,
            ended_at,
            ring_seconds: None,
        }))
    }

    /// The `AccountSid` form parameter (Twilio's account or subaccount; covered by the
    /// signature, which signs every parameter).
    fn account_identity(&self, req: &WebhookRequest<'_>) -> Option<String> {
        let body = std::str::from_utf8(req.body).ok()?;
        Params::new(body).get("AccountSid").map(str::to_owned)
    }

    fn names_its_account(&self) -> bool {
        true
    }

    /// Empty TwiML: `<?xml version="1.0" encoding="UTF-8"?><Response/>` as `text/xml`
    /// (Twilio requires valid TwiML from a Dial action URL; status callbacks ignore it).
    fn ack(&self) -> Ack {
        Ack {
            content_type: "text/xml",
            body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>",
        }
    }
}

/// The `X-Twilio-Signature` value Twilio would send for a form-encoded `body` posted to `url`
/// with auth token `auth_token` (see [`Twilio::verify`]). Used by tests and by the fixture
/// replay tool to re-sign requests.
pub fn sign(auth_token: &str, url: &str, body: &[u8]) -> String {
    signature_of(auth_token, url, &form_pairs(body))
}

/// Maps a `<Dial>` `DialCallStatus` word (Twilio TwiML `<Dial>` docs, "action"). Unknown
/// words become [`CallStatus::Other`], so a new Twilio word is stored as `ignored` rather
/// than refused.
fn dial_status(word: &str) -> CallStatus {
    match word {
        "completed" | "answered" => CallStatus::Answered,
        "no-answer" => CallStatus::NoAnswer,
        "busy" => CallStatus::Busy,
        "failed" => CallStatus::Failed,
        "canceled" => CallStatus::Canceled,
        _ => CallStatus::Other,
    }
}

/// Maps a status callback's `CallStatus` (Twilio Call resource, "Call Status values").
/// `None`: not final. An inbound `completed` is [`CallStatus::Other`]: Twilio answered the
/// parent leg to run the TwiML, which says nothing about a human; the Dial action decides.
/// An outbound `completed` answered by a machine (answering machine detection,
/// `AnsweredBy=machine_*`) is [`CallStatus::Voicemail`].
fn call_status(word: &str, direction: Direction, answered_by: Option<&str>) -> Option<CallStatus> {
    Some(match word {
        "queued" | "initiated" | "ringing" | "in-progress" => return None,
        "completed" => match direction {
            // Twilio answered the inbound leg (TwiML ran); whether a human did is the Dial
            // action's to say. Not stored, so the Dial action decides the call.
            Direction::Inbound => return None,
            Direction::Outbound if answered_by.is_some_and(|a| a.starts_with("machine_")) => {
                CallStatus::Voicemail
            }
            Direction::Outbound => CallStatus::Answered,
        },
        "no-answer" => CallStatus::NoAnswer,
        "busy" => CallStatus::Busy,
        "failed" => CallStatus::Failed,
        "canceled" => CallStatus::Canceled,
        _ => CallStatus::Other,
    })
}

/// Maps Twilio's `Direction` parameter.
fn direction_of(word: &str) -> Result<Direction, WebhookError> {
    match word {
        "inbound" | "trunking-terminating" => Ok(Direction::Inbound),
        "outbound-api" | "outbound-dial" | "trunking-originating" => Ok(Direction::Outbound),
        _ => Err(malformed("Direction is not a Twilio call direction")),
    }
}

/// All form pairs of `body`, decoded (`+` is a space, invalid UTF-8 is replaced).
fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// `base64(HMAC-SHA1(token, url + sorted k+v))`.
fn signature_of(token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<Sha1>::new_from_slice(token.as_bytes()).expect("HMAC takes any key");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    BASE64.encode(mac.finalize().into_bytes())
}

/// `url` with the scheme's default port added when it has no port, or removed when it has the
/// default one; `None` for other ports, other schemes, or unparseable URLs. Pure string
/// surgery: the rest of the URL stays byte-for-byte as Twilio signed it.
fn port_variant(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let port = match scheme.to_ascii_lowercase().as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => return None,
    };
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_len);
    // The port, if any, follows the host (after any userinfo and IPv6 literal).
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    let host = &authority[host_start..];
    let host_end = host.rfind(']').map_or(0, |i| i + 1);
    if host.is_empty() {
        return None;
    }
    let new_authority = match host[host_end..].rfind(':') {
        None => format!("{authority}{port}"),
        Some(i) => {
            let colon = host_start + host_end + i;
            if &authority[colon..] == port {
                authority[..colon].to_owned()
            } else {
                return None;
            }
        }
    };
    Some(format!("{scheme}://{new_authority}{tail}"))
}

#[cfg(test)]
#[path = "tests/twilio.rs"]
mod tests;
