//! Tests of the aircall adapter (`super`): known-answer signatures, the status table, fixtures,
//! malformed input. The contract every provider shares is in `shared/tests/provider_conformance.rs`.

use super::*;
use crate::phone::{Caller, LineType, classify};
use crate::providers::test_support::{assert_caller, fixture};
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
        let (_, body) = fixture(file);
        assert_eq!(verify(&body, &[TOKEN]), Ok(()), "{file}");
        assert!(verify(&body, &["another-token"]).is_err(), "{file}");
        match (parse_bytes(&body).unwrap(), want) {
            (None, None) => {}
            (Some(e), Some((status, direction, line))) => {
                assert_eq!((e.status, e.direction), (status, direction), "{file}");
                assert_caller(&e, line, file);
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
