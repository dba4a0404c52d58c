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
mod tests {
    use super::*;
    use crate::phone::{Caller, LineType, classify};
    use http::HeaderMap;
    use proptest::prelude::*;
    use serde_json::json;

    const TOKEN: &str = "45XXYYZZa08";

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-03-04T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn request(body: &[u8], f: impl FnOnce(&WebhookRequest<'_>)) {
        let h = HeaderMap::new();
        let req = WebhookRequest {
            public_url: "https://x.test/webhooks/aircall/acme",
            headers: &h,
            body,
            now: now(),
        };
        f(&req)
    }

    fn verify(body: &[u8], secrets: &[&str]) -> Result<(), WebhookError> {
        let mut out = None;
        request(body, |r| out = Some(Aircall.verify(r, secrets)));
        out.unwrap()
    }

    fn parse_bytes(body: &[u8]) -> Result<Option<CallEvent>, WebhookError> {
        let mut out = None;
        request(body, |r| out = Some(Aircall.parse(r)));
        out.unwrap()
    }

    fn parse_json(v: &Value) -> Result<Option<CallEvent>, WebhookError> {
        parse_bytes(v.to_string().as_bytes())
    }

    fn ended(data: Value) -> Value {
        json!({"resource": "call", "event": "call.ended", "timestamp": 1741082410, "token": TOKEN, "data": data})
    }

    fn base_data() -> Value {
        json!({
            "id": 812345678,
            "direct_link": "https://api.aircall.io/v1/calls/812345678",
            "direction": "inbound",
            "status": "done",
            "started_at": 1741082352,
            "answered_at": null,
            "ended_at": 1741082380,
            "duration": 28,
            "raw_digits": "+33 6 00 00 01 01",
            "missed_call_reason": "agents_did_not_answer",
            "voicemail": null,
            "number": {"id": 4242, "digits": "+33 1 44 00 00 00", "name": "Accueil"},
        })
    }

    fn with(field: &str, value: Value) -> Value {
        let mut d = base_data();
        d[field] = value;
        ended(d)
    }

    fn err_of(v: &Value) -> String {
        match parse_json(v) {
            Err(WebhookError::Malformed(m)) => m,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    // ---- token ----------------------------------------------------------------------------

    #[test]
    fn token_is_checked_against_every_secret() {
        let body = ended(base_data()).to_string().into_bytes();
        assert_eq!(verify(&body, &[TOKEN]), Ok(()));
        assert_eq!(verify(&body, &["", "old-token", TOKEN]), Ok(()));
        for secrets in [
            &["45XXYYZZa09"][..],
            &["45XXYYZZa0"],
            &["45XXYYZZa088"],
            &["45xxyyzza08"],
        ] {
            assert_eq!(
                verify(&body, secrets),
                Err(WebhookError::Unauthorized("Aircall token does not match")),
                "{secrets:?}"
            );
        }
        assert_eq!(
            verify(&body, &["", ""]),
            Err(WebhookError::Unauthorized("no Aircall token configured"))
        );
    }

    #[test]
    fn missing_or_odd_tokens_are_unauthorized() {
        let mut no_token = ended(base_data());
        no_token.as_object_mut().unwrap().remove("token");
        for body in [
            no_token.to_string(),
            json!({"token": 45}).to_string(),
            json!({"token": ""}).to_string(),
            json!({"token": null}).to_string(),
            "[\"45XXYYZZa08\"]".to_owned(),
            "not json".to_owned(),
            String::new(),
        ] {
            assert_eq!(
                verify(body.as_bytes(), &[TOKEN, ""]),
                Err(WebhookError::Unauthorized("missing Aircall token")),
                "{body}"
            );
        }
        // An empty configured secret never matches an empty token.
        assert!(verify(json!({"token": ""}).to_string().as_bytes(), &[""]).is_err());
    }

    #[test]
    fn replays_are_not_detectable_but_idempotent() {
        // Aircall signs no timestamp: the same body verifies at any reception time, and parses
        // to the same idempotency key.
        let body = ended(base_data()).to_string().into_bytes();
        let h = HeaderMap::new();
        for days in [0, 1, 365] {
            let req = WebhookRequest {
                public_url: "",
                headers: &h,
                body: &body,
                now: now() + chrono::Duration::days(days),
            };
            assert_eq!(Aircall.verify(&req, &[TOKEN]), Ok(()));
            assert_eq!(Aircall.parse(&req).unwrap().unwrap().call_id, "812345678");
        }
    }

    // ---- parse ----------------------------------------------------------------------------

    #[test]
    fn status_mapping_table() {
        use CallStatus::*;
        let vm = json!("https://recordings.aircall.io/voicemails/812345678.mp3");
        // (direction, answered, voicemail, missed_call_reason, status, provider_status)
        let table: Vec<(&str, bool, Value, Value, CallStatus, &str)> = vec![
            (
                "inbound",
                true,
                Value::Null,
                Value::Null,
                Answered,
                "answered",
            ),
            (
                "inbound",
                true,
                vm.clone(),
                Value::Null,
                Answered,
                "answered",
            ),
            (
                "inbound",
                false,
                vm.clone(),
                json!("agents_did_not_answer"),
                Voicemail,
                "agents_did_not_answer",
            ),
            (
                "inbound",
                false,
                vm.clone(),
                Value::Null,
                Voicemail,
                "voicemail",
            ),
            (
                "inbound",
                false,
                Value::Null,
                json!("short_abandoned"),
                Canceled,
                "short_abandoned",
            ),
            (
                "inbound",
                false,
                Value::Null,
                json!("abandoned_in_ivr"),
                Canceled,
                "abandoned_in_ivr",
            ),
            (
                "inbound",
                false,
                Value::Null,
                json!("abandoned_in_classic"),
                Canceled,
                "abandoned_in_classic",
            ),
            (
                "inbound",
                false,
                Value::Null,
                json!("agents_did_not_answer"),
                NoAnswer,
                "agents_did_not_answer",
            ),
            (
                "inbound",
                false,
                Value::Null,
                json!("no_available_agent"),
                NoAnswer,
                "no_available_agent",
            ),
            (
                "inbound",
                false,
                Value::Null,
                json!("out_of_opening_hours"),
                NoAnswer,
                "out_of_opening_hours",
            ),
            (
                "inbound",
                false,
                Value::Null,
                json!("a_new_reason"),
                NoAnswer,
                "a_new_reason",
            ),
            (
                "inbound",
                false,
                Value::Null,
                Value::Null,
                NoAnswer,
                "missed",
            ),
            ("inbound", false, json!(""), Value::Null, NoAnswer, "missed"),
            (
                "outbound",
                true,
                Value::Null,
                Value::Null,
                Answered,
                "answered",
            ),
            (
                "outbound",
                false,
                Value::Null,
                Value::Null,
                NoAnswer,
                "missed",
            ),
            (
                "outbound",
                false,
                vm.clone(),
                Value::Null,
                NoAnswer,
                "missed",
            ),
        ];
        for (dir, answered, voicemail, reason, status, word) in table {
            let mut d = base_data();
            d["direction"] = json!(dir);
            d["answered_at"] = if answered {
                json!(1741082361)
            } else {
                Value::Null
            };
            d["voicemail"] = voicemail.clone();
            d["missed_call_reason"] = reason.clone();
            let e = parse_json(&ended(d)).unwrap().unwrap();
            assert_eq!(
                (e.status, e.provider_status.as_str()),
                (status, word),
                "{dir} {answered} {voicemail} {reason}"
            );
            assert_eq!(e.call_id, "812345678");
            assert_eq!(e.provider, "aircall");
            assert_eq!(
                e.ring_seconds,
                Some(if answered { 9 } else { 28 }),
                "{dir} {answered}"
            );
        }
    }

    #[test]
    fn parties_follow_the_direction() {
        let e = parse_json(&ended(base_data())).unwrap().unwrap();
        assert_eq!(e.direction, Direction::Inbound);
        assert_eq!(
            (e.from.as_str(), e.to.as_str()),
            ("+33 6 00 00 01 01", "+33 1 44 00 00 00")
        );
        let e = parse_json(&with("direction", json!("outbound")))
            .unwrap()
            .unwrap();
        assert_eq!(e.direction, Direction::Outbound);
        assert_eq!(
            (e.from.as_str(), e.to.as_str()),
            ("+33 1 44 00 00 00", "+33 6 00 00 01 01")
        );
        assert_eq!(e.counterpart(), "+33 6 00 00 01 01");
        // Aircall's formatting is read by the classifier.
        assert!(matches!(
            classify(e.counterpart(), "FR"),
            Caller::Number {
                line_type: LineType::Mobile,
                ..
            }
        ));
    }

    #[test]
    fn times_are_unix_seconds() {
        let e = parse_json(&ended(base_data())).unwrap().unwrap();
        assert_eq!(e.started_at, DateTime::from_timestamp(1741082352, 0));
        assert_eq!(e.ended_at, DateTime::from_timestamp(1741082380, 0));
        let mut d = base_data();
        d["started_at"] = Value::Null;
        let e = parse_json(&ended(d)).unwrap().unwrap();
        assert_eq!((e.started_at, e.ring_seconds), (None, None));
    }

    #[test]
    fn ids_may_be_numbers_or_strings() {
        let e = parse_json(&with("id", json!("812345678")))
            .unwrap()
            .unwrap();
        assert_eq!(e.call_id, "812345678");
        for bad in [
            json!(-1),
            json!(1.5),
            json!(""),
            json!("a b"),
            Value::Null,
            json!("9".repeat(65)),
        ] {
            assert_eq!(
                err_of(&with("id", bad)),
                "data.id must be an Aircall call id"
            );
        }
    }

    #[test]
    fn withheld_callers_pass_through() {
        for raw in ["anonymous", "Anonymous", ""] {
            let e = parse_json(&with("raw_digits", json!(raw)))
                .unwrap()
                .unwrap();
            assert_eq!(e.from, raw);
            assert_eq!(classify(e.counterpart(), "FR"), Caller::Withheld, "{raw}");
        }
        let e = parse_json(&with("raw_digits", Value::Null))
            .unwrap()
            .unwrap();
        assert_eq!(e.from, "");
        assert_eq!(classify(e.counterpart(), "FR"), Caller::Withheld);
    }

    #[test]
    fn other_events_and_resources_are_not_stored() {
        for (resource, event) in [
            ("call", "call.created"),
            ("call", "call.ringing_on_agent"),
            ("call", "call.answered"),
            ("call", "call.hungup"),
            ("call", "call.voicemail_left"),
            ("user", "user.opened"),
            ("contact", "contact.created"),
        ] {
            let v = json!({"resource": resource, "event": event, "timestamp": 1, "token": TOKEN, "data": {}});
            assert_eq!(parse_json(&v), Ok(None), "{event}");
        }
    }

    #[test]
    fn malformed_bodies() {
        assert_eq!(err_of(&json!([1])), "body must be a JSON object");
        assert_eq!(
            err_of(&json!({"event": "call.ended"})),
            "resource and event must be strings"
        );
        assert_eq!(
            err_of(&json!({"resource": "call", "event": "call.ended", "data": []})),
            "data must be an object"
        );
        assert_eq!(
            err_of(&with("direction", json!("+33600000101"))),
            r#"data.direction must be "inbound" or "outbound""#
        );
        assert_eq!(
            err_of(&with("started_at", json!("2025-03-04"))),
            "data.started_at must be Unix seconds"
        );
        assert_eq!(
            err_of(&with("answered_at", json!(-5))),
            "data.answered_at must be Unix seconds"
        );
        assert_eq!(
            err_of(&with("ended_at", json!(1741082300))),
            "data.ended_at is before data.started_at"
        );
        assert_eq!(
            err_of(&with("raw_digits", json!(33600000101u64))),
            "data.raw_digits must be a string of at most 256 characters"
        );
        assert_eq!(
            err_of(&with("number", json!({"digits": ["+33600000101"]}))),
            "data.number.digits must be a string of at most 256 characters"
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
        assert_eq!(Aircall.name(), "aircall");
        assert_eq!(Aircall.ack().content_type, "application/json");
    }

    // ---- fixtures -------------------------------------------------------------------------

    #[test]
    fn fixtures_parse_and_verify() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/providers");
        type Want = Option<(CallStatus, Direction, Option<LineType>)>;
        let expect: [(&str, Want); 7] = [
            (
                "aircall-missed.json",
                Some((
                    CallStatus::NoAnswer,
                    Direction::Inbound,
                    Some(LineType::Mobile),
                )),
            ),
            (
                "aircall-answered.json",
                Some((
                    CallStatus::Answered,
                    Direction::Inbound,
                    Some(LineType::Mobile),
                )),
            ),
            (
                "aircall-voicemail.json",
                Some((
                    CallStatus::Voicemail,
                    Direction::Inbound,
                    Some(LineType::Mobile),
                )),
            ),
            (
                "aircall-outbound-answered.json",
                Some((
                    CallStatus::Answered,
                    Direction::Outbound,
                    Some(LineType::Mobile),
                )),
            ),
            (
                "aircall-landline.json",
                Some((
                    CallStatus::NoAnswer,
                    Direction::Inbound,
                    Some(LineType::FixedLine),
                )),
            ),
            (
                "aircall-anonymous.json",
                Some((CallStatus::Canceled, Direction::Inbound, None)),
            ),
            ("aircall-created.json", None),
        ];
        for (file, want) in expect {
            let text = std::fs::read_to_string(format!("{dir}/{file}")).expect(file);
            let v: Value = serde_json::from_str(&text).unwrap();
            let body = v["body"].as_str().unwrap().as_bytes().to_vec();
            for k in v["headers"].as_object().unwrap().keys() {
                assert_eq!(k, &k.to_ascii_lowercase(), "{file}");
            }
            assert_eq!(verify(&body, &[TOKEN]), Ok(()), "{file}");
            assert!(verify(&body, &["another-token"]).is_err(), "{file}");
            match (parse_bytes(&body).unwrap(), want) {
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
            secret in ".{0,20}",
        ) {
            let _ = verify(&body, &[&secret, TOKEN]);
            let _ = parse_bytes(&body);
        }

        #[test]
        fn never_panics_on_event_like_input(
            fields in proptest::collection::btree_map(
                prop_oneof![
                    Just("id".to_owned()), Just("direction".to_owned()), Just("started_at".to_owned()),
                    Just("answered_at".to_owned()), Just("ended_at".to_owned()), Just("raw_digits".to_owned()),
                    Just("missed_call_reason".to_owned()), Just("voicemail".to_owned()), Just("number".to_owned()),
                    "[a-z_]{1,8}"],
                prop_oneof![
                    Just(Value::Null), any::<bool>().prop_map(Value::from), any::<i64>().prop_map(Value::from),
                    any::<u64>().prop_map(Value::from), any::<f64>().prop_map(Value::from), ".{0,40}".prop_map(Value::from),
                    Just(json!("inbound")), Just(json!("outbound")), Just(json!({"digits": "+33 1 44 00 00 00"}))],
                0..10),
            token in prop_oneof![Just(TOKEN.to_owned()), ".{0,12}"],
        ) {
            let body = json!({"resource": "call", "event": "call.ended", "token": token, "data": fields})
                .to_string()
                .into_bytes();
            prop_assert_eq!(verify(&body, &[TOKEN]).is_ok(), token == TOKEN);
            if let Err(WebhookError::Malformed(m)) = parse_bytes(&body) {
                // Messages come from a fixed vocabulary: they never echo submitted values.
                prop_assert!(is_known_message(&m), "{}", m);
            }
        }
    }

    /// Whether `m` is one of the fixed Malformed messages of [`Aircall::parse`].
    fn is_known_message(m: &str) -> bool {
        if let Some(rest) = m.strip_prefix("body is not valid JSON (line ") {
            return rest
                .bytes()
                .all(|b| b.is_ascii_digit() || b", column)".contains(&b));
        }
        let mut known = vec![
            "body must be a JSON object".to_owned(),
            "resource and event must be strings".to_owned(),
            "data must be an object".to_owned(),
            "data.id must be an Aircall call id".to_owned(),
            r#"data.direction must be "inbound" or "outbound""#.to_owned(),
            "data.ended_at is before data.started_at".to_owned(),
            "data.raw_digits must be a string of at most 256 characters".to_owned(),
            "data.number.digits must be a string of at most 256 characters".to_owned(),
        ];
        for f in ["started_at", "answered_at", "ended_at"] {
            known.push(format!("data.{f} must be Unix seconds"));
        }
        known.iter().any(|k| k == m)
    }
}
