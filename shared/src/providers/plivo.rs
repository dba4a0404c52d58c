//! Plivo Voice callbacks.
//!
//! Plivo `POST`s `application/x-www-form-urlencoded` bodies to URLs a business points at Rappel
//! (`/webhooks/plivo/{account_id}`):
//!
//! * the **`<Dial action>`** URL, called when the `<Dial>` element that forwards the tracked
//!   number to the business ends. It carries `DialStatus` (`completed`, `busy`, `failed`,
//!   `cancel`, `timeout`, `no-answer`), `DialRingStatus`, `DialHangupCause`, `DialALegUUID` and
//!   `DialBLegUUID` (empty when nobody answered), and is the authoritative outcome of an inbound
//!   call (<https://www.plivo.com/docs/voice/xml/dial>, "Parameters sent to action URL");
//! * the **hangup URL** (`hangup_url` of the application or of the Call API), called when a leg
//!   ends, with `CallStatus`, `HangupCause` (standard telephony cause: `NORMAL_CLEARING`,
//!   `ORIGINATOR_CANCEL`, `NO_ANSWER`, `USER_BUSY`, `CALL_REJECTED`...), `Duration`,
//!   `BillDuration`, `AnswerTime` (<https://www.plivo.com/docs/voice/xml/request>).
//!
//! `CallStatus=completed` does **not** mean a human answered: Plivo answers an inbound leg
//! itself to run the answer XML, and an unanswered leg also ends `completed`. A hangup
//! callback is therefore read from its answer evidence (`AnswerTime` present or
//! `BillDuration > 0`) and `HangupCause`, see the table. Dial `callbackUrl` events
//! (`DialAction=answer|connected|hangup|digits`) are progress and are not stored.
//!
//! Numbers arrive without `+` (`33600000101`); they pass through raw ([`crate::phone::classify`]
//! reads digits without `+` as international).
//!
//! Requests are authenticated with `X-Plivo-Signature-V3` + `X-Plivo-Signature-V3-Nonce`
//! (<https://www.plivo.com/docs/voice/xml/request/validation>); the secret is the account's
//! (or sub-account's) Plivo auth token. See [`Plivo::verify`] for the exact algorithm.
//!
//! Status mapping (the table the README reproduces):
//!
//! | callback | Plivo words | direction | → [`CallStatus`] | `call_id` |
//! |---|---|---|---|---|
//! | Dial action | `DialStatus=completed` | any | `Answered` | `CallUUID` |
//! | Dial action | `no-answer` / `timeout` / `busy` / `failed` / `cancel` | any | `NoAnswer` / `NoAnswer` / `Busy` / `Failed` / `Canceled` | `CallUUID` |
//! | Dial callbackUrl | `DialAction=...` (no `DialStatus`) | any | not stored (`Ok(None)`) | — |
//! | hangup | `CallStatus=ringing` / `in-progress` / `queued` | any | not stored (`Ok(None)`) | — |
//! | hangup | `completed`, answered | inbound | not stored (Plivo answered to run the XML, not necessarily a human; the Dial action decides) | — |
//! | hangup | `completed`, answered | outbound | `Answered` | `CallUUID` |
//! | hangup | `completed`, unanswered, `HangupCause=ORIGINATOR_CANCEL` | any | `Canceled` | `CallUUID` |
//! | hangup | `completed`, unanswered, `NO_ANSWER` / `NO_USER_RESPONSE` / `ALLOTTED_TIMEOUT` / `RECOVERY_ON_TIMER_EXPIRE` | any | `NoAnswer` | `CallUUID` |
//! | hangup | `completed`, unanswered, `USER_BUSY` / `CALL_REJECTED` | any | `Busy` / `Rejected` | `CallUUID` |
//! | hangup | `completed`, unanswered, `NORMAL_CLEARING` or no cause | inbound / outbound | not stored / `NoAnswer` | `CallUUID` |
//! | hangup | `completed`, unanswered, any other cause | any | `Failed` | `CallUUID` |
//! | hangup | `busy` / `no-answer` / `cancel` / `failed` / `timeout` | any | `Busy` / `NoAnswer` / `Canceled` / `Failed` / `Failed` | `CallUUID` |
//! | either | any other word | any | `Other` | as above |
//!
//! "Answered" on a hangup callback means `AnswerTime` is non-empty or `BillDuration` is a
//! positive integer. `DialStatus=timeout` is the `<Dial timeout>` running out (nobody picked
//! up); `CallStatus=timeout` is, per Plivo, a carrier or network timeout, hence `Failed`
//! (both count as missed).
//!
//! Direction: `inbound` / `outbound`. A Dial action without `Direction` is inbound; a hangup
//! callback without it is refused (guessing could text the business itself).
//!
//! Times: Plivo's `StartTime` / `EndTime` are wall-clock strings without a zone (the call
//! object documents them in the account's console time zone), so `started_at` / `ended_at`
//! are left `None` and intake uses the reception time.

use super::*;
use crate::call::{CallStatus, Direction};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;

/// The header carrying the V3 signature(s), comma-separated (lower-case, as in
/// [`WebhookRequest`]).
pub const SIGNATURE_HEADER: &str = "x-plivo-signature-v3";
/// The header carrying the nonce that is part of the signed string.
pub const NONCE_HEADER: &str = "x-plivo-signature-v3-nonce";
/// Longest `CallUUID` accepted (Plivo call UUIDs are 36-character UUIDs).
const MAX_UUID_LEN: usize = 64;
/// At most this many comma-separated entries of `X-Plivo-Signature-V3` are examined.
const MAX_SIGNATURES: usize = 8;
/// Longest `HangupCause` kept in `provider_status`.
const MAX_CAUSE_LEN: usize = 40;

/// The Plivo Voice adapter (route name `plivo`).
pub struct Plivo;

impl Provider for Plivo {
    /// `"plivo"`.
    fn name(&self) -> &'static str {
        "plivo"
    }

    /// Form-encoded parameters.
    fn media_type(&self) -> &'static str {
        "application/x-www-form-urlencoded"
    }

    /// Checks `X-Plivo-Signature-V3` against each of `secrets` (Plivo auth tokens).
    ///
    /// The expected value is `base64(HMAC-SHA256(token, S + "." + nonce))` with `nonce` the
    /// `X-Plivo-Signature-V3-Nonce` header, and `S` built from [`WebhookRequest::public_url`]
    /// and the form body exactly as plivo-python's `plivo/utils/signature_v3.py`
    /// (`construct_post_url`) and plivo-go's `ComputeSignatureV3` build it for a `POST`:
    ///
    /// 1. `scheme://host[:port]/path` of the URL (query and fragment removed, scheme
    ///    lower-cased);
    /// 2. if the URL has a query: `?` + its parameters, decoded, sorted by name then value,
    ///    written `k=v` and joined with `&`;
    /// 3. if the body has parameters: `?` when step 2 wrote nothing, `.` when it did, then the
    ///    body parameters, decoded, sorted by name then value, written `kv` with no separator.
    ///
    /// The header may carry several comma-separated signatures (one per active auth token):
    /// one match suffices. Comparisons are constant-time (`Mac::verify_slice`). Empty secrets
    /// are never used. A `GET` callback (parameters in the query, empty body) verifies with
    /// the same construction. Not reproduced: Python's removal of `;params` from the last
    /// path segment (Rappel's webhook paths have none).
    ///
    /// Errors: [`WebhookError::Unauthorized`] when a header is missing, not ASCII, or holds no
    /// base64 signature, when no usable secret is configured, or when nothing matches.
    fn verify(&self, req: &WebhookRequest<'_>, secrets: &[&str]) -> Result<(), WebhookError> {
        const UNREADABLE: &str = "malformed X-Plivo-Signature-V3* header";
        let signatures = header(
            req,
            SIGNATURE_HEADER,
            "missing X-Plivo-Signature-V3 header",
            UNREADABLE,
        )?;
        let nonce = header(
            req,
            NONCE_HEADER,
            "missing X-Plivo-Signature-V3-Nonce header",
            UNREADABLE,
        )?;
        let given: Vec<Vec<u8>> = signatures
            .split(',')
            .take(MAX_SIGNATURES)
            .filter_map(|s| BASE64.decode(s.trim()).ok())
            .collect();
        if given.is_empty() {
            return Err(WebhookError::Unauthorized(
                "malformed X-Plivo-Signature-V3 header",
            ));
        }
        let secrets = usable_secrets(secrets, "no Plivo auth token configured")?;
        let signed = signed_string(req.public_url, req.body);
        any_secret_matches(&secrets, "X-Plivo-Signature-V3 does not match", |secret| {
            given.iter().fold(false, |ok, sig| {
                ok | mac(secret, &signed, nonce).verify_slice(sig).is_ok()
            })
        })
    }

    /// Reads a verified Plivo callback (Dial action, Dial callbackUrl event or hangup
    /// callback, see the module table) into a [`CallEvent`] with `provider = "plivo"`.
    ///
    /// * `call_id`: `CallUUID` for both kinds of callback (one idempotency key per call);
    ///   `DialALegUUID` is used when `CallUUID` is absent.
    /// * `from` / `to`: `From` / `To`, raw (`33600000101`; withheld callers such as
    ///   `anonymous` or an empty `From` pass through unchanged); absent → `""`.
    /// * `provider_status`: the `DialStatus` word, or the `CallStatus` word followed by
    ///   `/HangupCause` for `completed` hangups (`completed/ORIGINATOR_CANCEL`).
    /// * `started_at`, `ended_at`, `ring_seconds`: `None` (see the module docs).
    ///
    /// Returns `Ok(None)` for Dial `callbackUrl` events and non-final hangup-URL statuses.
    ///
    /// Errors: [`WebhookError::Malformed`] when the body is not UTF-8, `CallUUID` is missing or
    /// not UUID-shaped, `CallStatus` or `Direction` is missing on a hangup callback, or
    /// `Direction` is not a Plivo direction. Messages name the field, never its value.
    fn parse(&self, req: &WebhookRequest<'_>) -> Result<Option<CallEvent>, WebhookError> {
        let body =
            std::str::from_utf8(req.body).map_err(|_| malformed("body is not UTF-8 form data"))?;
        let params = Params::new(body);

        let uuid = params
            .get("CallUUID")
            .or_else(|| params.get("DialALegUUID"))
            .ok_or_else(|| malformed("CallUUID is missing"))?;
        if uuid.len() > MAX_UUID_LEN
            || !uuid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(malformed("CallUUID is not a Plivo UUID"));
        }
        let direction_word = params.get("Direction");
        let from = params.get("From").unwrap_or_default();
        let to = params.get("To").unwrap_or_default();

        let (call_id, direction, status, provider_status) =
            if let Some(word) = params.get("DialStatus") {
                let direction = match direction_word {
                    None => Direction::Inbound,
                    Some(d) => direction_of(d)?,
                };
                (
                    uuid.to_owned(),
                    direction,
                    dial_status(word),
                    word.to_owned(),
                )
            } else if params.get("DialAction").is_some() {
                // A Dial `callbackUrl` event: progress of the forwarded leg.
                return Ok(None);
            } else {
                let word = params
                    .get("CallStatus")
                    .ok_or_else(|| malformed("CallStatus is missing"))?;
                let direction =
                    direction_of(direction_word.ok_or_else(|| malformed("Direction is missing"))?)?;
                let cause = params.get("HangupCause").map(str::trim).filter(|c| {
                    c.len() <= MAX_CAUSE_LEN
                        && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                });
                let Some(status) = hangup_status(word, direction, cause, answered(&params)) else {
                    return Ok(None);
                };
                let provider_status = match cause {
                    Some(cause) if word == "completed" => format!("{word}/{cause}"),
                    _ => word.to_owned(),
                };
                (uuid.to_owned(), direction, status, provider_status)
            };

        Ok(Some(CallEvent {
            provider: "plivo",
            call_id,
            direction,
            status,
            provider_status,
            from: from.to_owned(),
            to: to.to_owned(),
            started_at: None,
            ended_at: None,
            ring_seconds: None,
        }))
    }

    /// Empty Plivo XML: `<?xml version="1.0" encoding="UTF-8"?><Response></Response>` as
    /// `application/xml` (a Dial action URL must return valid Plivo XML; hangup callbacks
    /// ignore the body).
    fn ack(&self) -> Ack {
        Ack {
            content_type: "application/xml",
            body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>",
        }
    }
}

/// The `X-Plivo-Signature-V3` value Plivo would send for a form-encoded `body` posted to `url`
/// with `nonce` and auth token `auth_token` (see [`Plivo::verify`]). Used by tests and by the
/// fixture replay tool to re-sign requests.
pub fn sign(auth_token: &str, url: &str, body: &[u8], nonce: &str) -> String {
    BASE64.encode(
        mac(auth_token, &signed_string(url, body), nonce)
            .finalize()
            .into_bytes(),
    )
}

/// HMAC-SHA256 keyed with `token`, fed `"{signed}.{nonce}"`.
fn mac(token: &str, signed: &str, nonce: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("HMAC takes any key");
    mac.update(signed.as_bytes());
    mac.update(b".");
    mac.update(nonce.as_bytes());
    mac
}

/// The string Plivo signs before `"." + nonce`, for a `POST` of `body` to `url` (steps 1–3 of
/// [`Plivo::verify`]).
fn signed_string(url: &str, body: &[u8]) -> String {
    let url = url.split('#').next().unwrap_or_default();
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => format!("{}://{rest}", scheme.to_ascii_lowercase()),
        None => base.to_owned(),
    };
    let query = sorted_pairs(query.as_bytes());
    let params = sorted_pairs(body);
    if !query.is_empty() || !params.is_empty() {
        out.push('?');
    }
    let query_string: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    out.push_str(&query_string.join("&"));
    if !query.is_empty() && !params.is_empty() {
        out.push('.');
    }
    for (k, v) in &params {
        out.push_str(k);
        out.push_str(v);
    }
    out
}

/// Form-decoded pairs of `data` (`+` is a space, invalid UTF-8 replaced, empty values kept),
/// sorted by name, then by value within a name.
fn sorted_pairs(data: &[u8]) -> Vec<(String, String)> {
    let mut grouped: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(data) {
        grouped
            .entry(k.into_owned())
            .or_default()
            .push(v.into_owned());
    }
    grouped
        .into_iter()
        .flat_map(|(k, mut vs)| {
            vs.sort();
            vs.into_iter().map(move |v| (k.clone(), v))
        })
        .collect()
}

/// Maps a `<Dial>` action's `DialStatus` (Plivo Dial XML docs). Unknown words become
/// [`CallStatus::Other`], so a new Plivo word is stored as `ignored` rather than refused.
fn dial_status(word: &str) -> CallStatus {
    match word {
        "completed" => CallStatus::Answered,
        "no-answer" | "timeout" => CallStatus::NoAnswer,
        "busy" => CallStatus::Busy,
        "failed" => CallStatus::Failed,
        "cancel" => CallStatus::Canceled,
        _ => CallStatus::Other,
    }
}

/// Maps a hangup callback (module table). `None`: not final.
fn hangup_status(
    word: &str,
    direction: Direction,
    cause: Option<&str>,
    answered: bool,
) -> Option<CallStatus> {
    Some(match word {
        "queued" | "ringing" | "in-progress" => return None,
        "completed" if answered => match direction {
            // Plivo answered the inbound leg to run its XML; the Dial action says whether a
            // human did. Not stored, so the Dial action decides the call.
            Direction::Inbound => return None,
            Direction::Outbound => CallStatus::Answered,
        },
        "completed" => match cause.unwrap_or_default().to_ascii_uppercase().as_str() {
            "ORIGINATOR_CANCEL" => CallStatus::Canceled,
            "NO_ANSWER" | "NO_USER_RESPONSE" | "ALLOTTED_TIMEOUT" | "RECOVERY_ON_TIMER_EXPIRE" => {
                CallStatus::NoAnswer
            }
            "USER_BUSY" => CallStatus::Busy,
            "CALL_REJECTED" => CallStatus::Rejected,
            "NORMAL_CLEARING" | "" => match direction {
                Direction::Inbound => return None,
                Direction::Outbound => CallStatus::NoAnswer,
            },
            _ => CallStatus::Failed,
        },
        "busy" => CallStatus::Busy,
        "no-answer" => CallStatus::NoAnswer,
        "cancel" => CallStatus::Canceled,
        "failed" | "timeout" => CallStatus::Failed,
        _ => CallStatus::Other,
    })
}

/// Whether a hangup callback shows the leg was answered: `AnswerTime` non-empty, or
/// `BillDuration` a positive integer.
fn answered(params: &Params<'_>) -> bool {
    params.get("AnswerTime").is_some()
        || params
            .get("BillDuration")
            .and_then(|d| d.trim().parse::<u64>().ok())
            .is_some_and(|d| d > 0)
}

/// Maps Plivo's `Direction` parameter.
fn direction_of(word: &str) -> Result<Direction, WebhookError> {
    match word {
        "inbound" => Ok(Direction::Inbound),
        "outbound" => Ok(Direction::Outbound),
        _ => Err(malformed("Direction is not a Plivo call direction")),
    }
}

#[cfg(test)]
#[path = "tests/plivo.rs"]
mod tests;
