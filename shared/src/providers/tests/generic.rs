//! Tests of the generic adapter (`super`): known-answer signatures, the status table, fixtures,
//! malformed input. The contract every provider shares is in `shared/tests/provider_conformance.rs`.

use super::*;
use crate::providers::test_support::fixture;
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use serde_json::{Value, json};

const SECRET: &str = "whsec_test_0123456789";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-03-04T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn signed_headers(secret: &str, ts: i64, body: &[u8]) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert(
        TIMESTAMP_HEADER,
        HeaderValue::from_str(&ts.to_string()).unwrap(),
    );
    h.insert(
        SIGNATURE_HEADER,
        HeaderValue::from_str(&sign(secret, ts, body)).unwrap(),
    );
    h
}

fn verify_with(h: &HeaderMap, body: &[u8], secrets: &[&str]) -> Result<(), WebhookError> {
    let req = WebhookRequest {
        public_url: "https://x.test/webhooks/generic/acme",
        headers: h,
        body,
        now: now(),
    };
    Generic.verify(&req, secrets)
}

fn parse_bytes(body: &[u8]) -> Result<Option<CallEvent>, WebhookError> {
    let h = HeaderMap::new();
    let req = WebhookRequest {
        public_url: "https://x.test/webhooks/generic/acme",
        headers: &h,
        body,
        now: now(),
    };
    Generic.parse(&req)
}

fn parse_json(v: &Value) -> Result<Option<CallEvent>, WebhookError> {
    parse_bytes(v.to_string().as_bytes())
}

fn base() -> Value {
    json!({
        "call_id": "ct-2025-03-04-000123",
        "direction": "inbound",
        "status": "no_answer",
        "from": "+33600000101",
        "to": "+33144000000",
        "started_at": "2025-03-04T10:59:12+01:00",
        "ended_at": "2025-03-04T10:59:40+01:00",
        "ring_seconds": 28,
    })
}

fn with(field: &str, value: Value) -> Value {
    let mut v = base();
    v[field] = value;
    v
}

fn without(field: &str) -> Value {
    let mut v = base();
    v.as_object_mut().unwrap().remove(field);
    v
}

fn err_of(v: &Value) -> String {
    match parse_json(v) {
        Err(WebhookError::Malformed(m)) => m,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

// ---- sign / verify --------------------------------------------------------------------

#[test]
fn sign_known_answer() {
    // Independently computed: python3 -c 'import hmac,hashlib;
    // print(hmac.new(b"whsec_test_0123456789", b"1741082400.{\"a\":1}", hashlib.sha256).hexdigest())'
    assert_eq!(
        sign(SECRET, 1_741_082_400, br#"{"a":1}"#),
        "v1=4c57e78e543c4de0d681ba149f86f4827356e65fb59235a76162faf6068bd044"
    );
}

#[test]
fn valid_signature_verifies() {
    let body = base().to_string();
    let h = signed_headers(SECRET, now().timestamp(), body.as_bytes());
    assert_eq!(verify_with(&h, body.as_bytes(), &[SECRET]), Ok(()));
}

#[test]
fn tampered_body_or_wrong_secret_fails() {
    let body = base().to_string();
    let h = signed_headers(SECRET, now().timestamp(), body.as_bytes());
    let tampered = body.replace("no_answer", "answered");
    assert_eq!(
        verify_with(&h, tampered.as_bytes(), &[SECRET]),
        Err(WebhookError::Unauthorized(
            "X-Rappel-Signature does not match"
        ))
    );
    assert!(verify_with(&h, body.as_bytes(), &["other-secret"]).is_err());
    assert!(verify_with(&h, body.as_bytes(), &[]).is_err());
    assert!(verify_with(&h, body.as_bytes(), &[""]).is_err());
}

#[test]
fn timestamp_is_part_of_the_signature() {
    let body = base().to_string();
    let ts = now().timestamp();
    let mut h = signed_headers(SECRET, ts, body.as_bytes());
    h.insert(
        TIMESTAMP_HEADER,
        HeaderValue::from_str(&(ts - 1).to_string()).unwrap(),
    );
    assert!(verify_with(&h, body.as_bytes(), &[SECRET]).is_err());
}

#[test]
fn replay_window_is_300_seconds() {
    let body = base().to_string();
    let t = now().timestamp();
    for (ts, ok) in [
        (t - 299, true),
        (t - 300, true),
        (t - 301, false),
        (t + 299, true),
        (t + 301, false),
        (i64::MIN, false),
        (i64::MAX, false),
    ] {
        let h = signed_headers(SECRET, ts, body.as_bytes());
        let got = verify_with(&h, body.as_bytes(), &[SECRET]);
        assert_eq!(got.is_ok(), ok, "offset {}", ts.wrapping_sub(t));
        if !ok {
            assert_eq!(
                got,
                Err(WebhookError::Unauthorized(
                    "X-Rappel-Timestamp outside the tolerance"
                ))
            );
        }
    }
}

#[test]
fn rotation_second_secret_or_second_signature() {
    let body = base().to_string();
    let ts = now().timestamp();
    // Sender uses the new secret, account holds [old, new].
    let h = signed_headers("new-secret", ts, body.as_bytes());
    assert_eq!(
        verify_with(&h, body.as_bytes(), &["old-secret", "new-secret"]),
        Ok(())
    );
    // Sender sends both signatures, account holds only the new one.
    let mut h = signed_headers("old-secret", ts, body.as_bytes());
    let both = format!(
        "{}, {}",
        sign("old-secret", ts, body.as_bytes()),
        sign("new-secret", ts, body.as_bytes())
    );
    h.insert(SIGNATURE_HEADER, HeaderValue::from_str(&both).unwrap());
    assert_eq!(verify_with(&h, body.as_bytes(), &["new-secret"]), Ok(()));
    // Unknown schemes are ignored, garbage v1 entries too.
    let mixed = format!("v0=abc,v1=zz,{}", sign("new-secret", ts, body.as_bytes()));
    h.insert(SIGNATURE_HEADER, HeaderValue::from_str(&mixed).unwrap());
    assert_eq!(verify_with(&h, body.as_bytes(), &["new-secret"]), Ok(()));
}

#[test]
fn missing_or_malformed_headers_are_unauthorized() {
    let body = base().to_string();
    let ts = now().timestamp();
    let full = signed_headers(SECRET, ts, body.as_bytes());

    let mut h = full.clone();
    h.remove(TIMESTAMP_HEADER);
    assert_eq!(
        verify_with(&h, body.as_bytes(), &[SECRET]),
        Err(WebhookError::Unauthorized(
            "missing X-Rappel-Timestamp header"
        ))
    );
    let mut h = full.clone();
    h.remove(SIGNATURE_HEADER);
    assert_eq!(
        verify_with(&h, body.as_bytes(), &[SECRET]),
        Err(WebhookError::Unauthorized(
            "missing X-Rappel-Signature header"
        ))
    );
    for bad_ts in ["", "abc", "1.5", "+1741082400", "2025-03-04T10:00:00Z"] {
        let mut h = full.clone();
        h.insert(TIMESTAMP_HEADER, HeaderValue::from_str(bad_ts).unwrap());
        assert_eq!(
            verify_with(&h, body.as_bytes(), &[SECRET]),
            Err(WebhookError::Unauthorized(
                "malformed X-Rappel-Timestamp header"
            )),
            "{bad_ts:?}"
        );
    }
    for bad_sig in ["", "v1=", "sha256=abcd", "v1=not-hex"] {
        let mut h = full.clone();
        h.insert(SIGNATURE_HEADER, HeaderValue::from_str(bad_sig).unwrap());
        assert!(
            verify_with(&h, body.as_bytes(), &[SECRET]).is_err(),
            "{bad_sig:?}"
        );
    }
    // Hex of another length than an HMAC-SHA256 is a signature that does not match; the right
    // one after it still verifies.
    let good = full
        .get(SIGNATURE_HEADER)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    for (sig, expected) in [
        (
            "v1=abcd".to_string(),
            Err(WebhookError::Unauthorized(
                "X-Rappel-Signature does not match",
            )),
        ),
        (
            "v1=zz".to_string(),
            Err(WebhookError::Unauthorized(
                "no v1 signature in X-Rappel-Signature",
            )),
        ),
        (format!("v1=abcd,{good}"), Ok(())),
        (format!("v1={}00,{good}", &good[3..]), Ok(())),
    ] {
        let mut h = full.clone();
        h.insert(SIGNATURE_HEADER, HeaderValue::from_str(&sig).unwrap());
        assert_eq!(
            verify_with(&h, body.as_bytes(), &[SECRET]),
            expected,
            "{sig}"
        );
    }
}

// ---- parse ----------------------------------------------------------------------------

#[test]
fn parses_a_full_event() {
    let e = parse_json(&base()).unwrap().unwrap();
    assert_eq!(e.provider, "generic");
    assert_eq!(e.call_id, "ct-2025-03-04-000123");
    assert_eq!(e.direction, Direction::Inbound);
    assert_eq!(e.status, CallStatus::NoAnswer);
    assert_eq!(e.provider_status, "no_answer");
    assert_eq!(e.from, "+33600000101");
    assert_eq!(e.to, "+33144000000");
    let utc = |s| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    assert_eq!(e.started_at, Some(utc("2025-03-04T09:59:12Z")));
    assert_eq!(e.ended_at, Some(utc("2025-03-04T09:59:40Z")));
    assert_eq!(e.ring_seconds, Some(28));
}

#[test]
fn status_mapping_table() {
    let table = [
        ("answered", Some(CallStatus::Answered)),
        ("no_answer", Some(CallStatus::NoAnswer)),
        ("busy", Some(CallStatus::Busy)),
        ("failed", Some(CallStatus::Failed)),
        ("canceled", Some(CallStatus::Canceled)),
        ("rejected", Some(CallStatus::Rejected)),
        ("voicemail", Some(CallStatus::Voicemail)),
        ("ringing", None),
        ("in_progress", None),
    ];
    for (word, want) in table {
        for dir in ["inbound", "outbound"] {
            let mut v = with("status", json!(word));
            v["direction"] = json!(dir);
            let got = parse_json(&v).unwrap();
            assert_eq!(got.as_ref().map(|e| e.status), want, "{word}");
            if let Some(e) = got {
                assert_eq!(e.provider_status, word);
                let d = if dir == "inbound" {
                    Direction::Inbound
                } else {
                    Direction::Outbound
                };
                assert_eq!(e.direction, d);
            }
        }
    }
}

#[test]
fn optional_fields_and_unknown_fields() {
    let mut v = without("ended_at");
    v.as_object_mut().unwrap().remove("ring_seconds");
    v["platform_extra"] = json!({"campaign": "spring", "n": 3});
    let e = parse_json(&v).unwrap().unwrap();
    assert_eq!(e.ended_at, None);
    assert_eq!(e.ring_seconds, None);
    let mut v = with("ended_at", Value::Null);
    v["ring_seconds"] = Value::Null;
    assert!(parse_json(&v).unwrap().is_some());
    assert_eq!(
        parse_json(&with("ring_seconds", json!(0)))
            .unwrap()
            .unwrap()
            .ring_seconds,
        Some(0)
    );
    let long_id = "x".repeat(128);
    assert_eq!(
        parse_json(&with("call_id", json!(long_id)))
            .unwrap()
            .unwrap()
            .call_id,
        long_id
    );
}

#[test]
fn withheld_encodings_pass_through_unchanged() {
    for withheld in [
        "",
        "anonymous",
        "restricted",
        "private",
        "unknown",
        "unavailable",
        "sip:anonymous@anonymous.invalid",
        "+266696687",
        "+7378742833",
        "+2562533",
        "+8656696",
        "+86282452253",
    ] {
        let e = parse_json(&with("from", json!(withheld))).unwrap().unwrap();
        assert_eq!(e.from, withheld);
    }
    assert_eq!(
        parse_json(&with("from", Value::Null))
            .unwrap()
            .unwrap()
            .from,
        ""
    );
}

#[test]
fn malformed_bodies_have_precise_messages() {
    let n = "+33600000101";
    let cases: Vec<(Value, &str)> = vec![
        (json!([1, 2]), "body must be a JSON object"),
        (json!("x"), "body must be a JSON object"),
        (without("call_id"), "call_id is required"),
        (
            with("call_id", json!("")),
            "call_id must be 1 to 128 characters",
        ),
        (
            with("call_id", json!("x".repeat(129))),
            "call_id must be 1 to 128 characters",
        ),
        (
            with("call_id", json!("a\nb")),
            "call_id must not contain control characters",
        ),
        (
            with("call_id", json!(33600000101u64)),
            "call_id must be a string",
        ),
        (without("direction"), "direction is required"),
        (
            with("direction", json!(n)),
            r#"direction must be "inbound" or "outbound""#,
        ),
        (
            with("direction", json!("Inbound")),
            r#"direction must be "inbound" or "outbound""#,
        ),
        (without("status"), "status is required"),
        (
            with("status", json!(n)),
            "status must be one of answered, no_answer, busy, failed, canceled, rejected, voicemail, ringing, in_progress",
        ),
        (
            with("status", json!("no-answer")),
            "status must be one of answered, no_answer, busy, failed, canceled, rejected, voicemail, ringing, in_progress",
        ),
        (without("from"), "from is required (use null when unknown)"),
        (
            with("from", json!(33600000101u64)),
            "from must be a string or null",
        ),
        (
            with("to", json!("9".repeat(257))),
            "to must be at most 256 characters",
        ),
        (without("started_at"), "started_at is required"),
        (
            with("started_at", json!(n)),
            "started_at must be an RFC 3339 date-time",
        ),
        (
            with("started_at", json!("2025-03-04 10:00")),
            "started_at must be an RFC 3339 date-time",
        ),
        (
            with("ended_at", json!(1741082400)),
            "ended_at must be an RFC 3339 date-time",
        ),
        (
            with("ended_at", json!("2025-03-04T09:00:00Z")),
            "ended_at is before started_at",
        ),
        (
            with("ring_seconds", json!(-1)),
            "ring_seconds must be a non-negative integer",
        ),
        (
            with("ring_seconds", json!(1.5)),
            "ring_seconds must be a non-negative integer",
        ),
        (
            with("ring_seconds", json!("12")),
            "ring_seconds must be a non-negative integer",
        ),
        (
            with("ring_seconds", json!(33600000101u64)),
            "ring_seconds is out of range",
        ),
    ];
    for (v, msg) in cases {
        let m = err_of(&v);
        assert_eq!(m, msg, "{v}");
        assert!(
            !m.contains("33600000101") && !m.contains("600000101"),
            "{m}"
        );
    }
    for (raw, msg) in [
        (&b""[..], "body is not valid JSON (line 1, column 0)"),
        (
            b"{\"from\": \"+33600000101\"",
            "body is not valid JSON (line 1, column 23)",
        ),
        (
            b"from=%2B33600000101",
            "body is not valid JSON (line 1, column 2)",
        ),
        (
            b"{\"from\": \"\xff\"}",
            "body is not valid JSON (line 1, column 11)",
        ),
    ] {
        assert_eq!(parse_bytes(raw), Err(WebhookError::Malformed(msg.into())));
    }
}

#[test]
fn ack_is_json() {
    let ack = Generic.ack();
    assert_eq!(ack.content_type, "application/json");
    assert_eq!(ack.body, r#"{"status":"accepted"}"#);
    assert_eq!(Generic.name(), "generic");
}

// ---- fixtures -------------------------------------------------------------------------

#[test]
fn fixtures_parse_as_expected() {
    let expect = [
        (
            "generic-no-answer.json",
            CallStatus::NoAnswer,
            Direction::Inbound,
            "+33600000101",
        ),
        (
            "generic-answered.json",
            CallStatus::Answered,
            Direction::Inbound,
            "+33600000101",
        ),
        (
            "generic-outbound-answered.json",
            CallStatus::Answered,
            Direction::Outbound,
            "+33600000101",
        ),
        (
            "generic-landline.json",
            CallStatus::NoAnswer,
            Direction::Inbound,
            "+33144000101",
        ),
        (
            "generic-withheld.json",
            CallStatus::NoAnswer,
            Direction::Inbound,
            "anonymous",
        ),
    ];
    for (file, status, direction, counterpart) in expect {
        let (h, body) = fixture(file);
        assert!(h.contains_key(TIMESTAMP_HEADER) && h.contains_key(SIGNATURE_HEADER));
        let e = parse_bytes(&body).unwrap().unwrap();
        assert_eq!(
            (e.status, e.direction, e.counterpart()),
            (status, direction, counterpart),
            "{file}"
        );
        // Re-signed, the fixture verifies.
        let h = signed_headers(SECRET, now().timestamp(), &body);
        assert_eq!(verify_with(&h, &body, &[SECRET]), Ok(()), "{file}");
    }
}

// ---- properties -----------------------------------------------------------------------

proptest! {
    #[test]
    fn never_panics_on_arbitrary_input(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        ts in proptest::collection::vec(any::<u8>(), 0..24),
        sig in proptest::collection::vec(any::<u8>(), 0..160),
    ) {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(&ts) {
            h.insert(TIMESTAMP_HEADER, v);
        }
        if let Ok(v) = HeaderValue::from_bytes(&sig) {
            h.insert(SIGNATURE_HEADER, v);
        }
        let req = WebhookRequest { public_url: "", headers: &h, body: &body, now: now() };
        let _ = Generic.verify(&req, &[SECRET, ""]);
        let _ = Generic.parse(&req);
    }

    #[test]
    fn never_panics_on_json_like_input(
        fields in proptest::collection::btree_map(
            prop_oneof![
                Just("call_id".to_owned()), Just("direction".to_owned()), Just("status".to_owned()),
                Just("from".to_owned()), Just("to".to_owned()), Just("started_at".to_owned()),
                Just("ended_at".to_owned()), Just("ring_seconds".to_owned()), "[a-z_]{1,8}"],
            prop_oneof![
                Just(Value::Null), any::<bool>().prop_map(Value::from), any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from), ".{0,40}".prop_map(Value::from),
                Just(json!("inbound")), Just(json!("no_answer")), Just(json!("2025-03-04T10:00:00Z"))],
            0..10),
        ts_offset in -1000i64..1000,
    ) {
        let body = serde_json::to_vec(&fields).unwrap();
        let h = signed_headers(SECRET, now().timestamp() + ts_offset, &body);
        let req = WebhookRequest { public_url: "", headers: &h, body: &body, now: now() };
        prop_assert_eq!(Generic.verify(&req, &[SECRET]).is_ok(), ts_offset.abs() <= 300);
        if let Err(WebhookError::Malformed(m)) = Generic.parse(&req) {
            // Messages come from a fixed vocabulary: they never echo submitted values.
            prop_assert!(is_known_message(&m), "{}", m);
        }
    }

    #[test]
    fn signed_bodies_verify(body in proptest::collection::vec(any::<u8>(), 0..256), secret in "[ -~]{1,40}", ts in 0i64..4_000_000_000) {
        let h = signed_headers(&secret, ts, &body);
        let req = WebhookRequest {
            public_url: "",
            headers: &h,
            body: &body,
            now: DateTime::from_timestamp(ts, 0).unwrap(),
        };
        prop_assert_eq!(Generic.verify(&req, &["unrelated", &secret]), Ok(()));
    }
}

/// Whether `m` is one of the fixed Malformed messages of [`Generic::parse`].
fn is_known_message(m: &str) -> bool {
    if let Some(rest) = m.strip_prefix("body is not valid JSON (line ") {
        return rest
            .bytes()
            .all(|b| b.is_ascii_digit() || b", column)".contains(&b));
    }
    let mut known = vec![
        "body must be a JSON object".to_owned(),
        "call_id must be 1 to 128 characters".to_owned(),
        "call_id must not contain control characters".to_owned(),
        r#"direction must be "inbound" or "outbound""#.to_owned(),
        "status must be one of answered, no_answer, busy, failed, canceled, rejected, \
         voicemail, ringing, in_progress"
            .to_owned(),
        "started_at is required".to_owned(),
        "ended_at is before started_at".to_owned(),
        "ring_seconds must be a non-negative integer".to_owned(),
        "ring_seconds is out of range".to_owned(),
    ];
    for f in ["call_id", "direction", "status"] {
        known.push(format!("{f} is required"));
        known.push(format!("{f} must be a string"));
    }
    for f in ["from", "to"] {
        known.push(format!("{f} is required (use null when unknown)"));
        known.push(format!("{f} must be at most 256 characters"));
        known.push(format!("{f} must be a string or null"));
    }
    for f in ["started_at", "ended_at"] {
        known.push(format!("{f} must be an RFC 3339 date-time"));
    }
    known.iter().any(|k| k == m)
}

// ---- typed payload (providers::json_object) ---------------------------------------------

#[test]
fn a_field_named_twice_is_refused_without_quoting_it() {
    let body = br#"{"call_id":"c1","direction":"inbound","status":"no_answer","from":"+33600000101","from":"+33600000102","to":null,"started_at":"2025-03-04T10:59:12Z"}"#;
    let Err(WebhookError::Malformed(m)) = parse_bytes(body) else {
        panic!("a repeated field must be refused");
    };
    assert!(
        m.starts_with("body is not valid JSON (line 1, column "),
        "{m}"
    );
    assert!(!m.contains("3360000010"), "{m}");
}

#[test]
fn json_of_another_kind_is_not_an_object() {
    for body in [
        &b"[1, 2]"[..],
        b"\"+33600000101\"",
        b"33600000101",
        b"  null",
        b"true",
    ] {
        match parse_bytes(body) {
            Err(WebhookError::Malformed(m)) => assert_eq!(m, "body must be a JSON object"),
            other => panic!("{other:?}"),
        }
    }
    match parse_bytes(b"[1, ") {
        Err(WebhookError::Malformed(m)) => assert!(m.starts_with("body is not valid JSON"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn escaped_strings_and_nested_unknown_fields_are_read() {
    // An escape makes serde hand over an owned string; unknown fields of any shape are skipped.
    let body = br#"{"extra":{"a":[1,{"b":null}]},"call_id":"c\u002d1","direction":"inbound","status":"no_answer","from":"\u002b33600000101","to":null,"started_at":"2025-03-04T10:59:12Z","ring_seconds":0}"#;
    let event = parse_bytes(body).unwrap().unwrap();
    assert_eq!(event.call_id, "c-1");
    assert_eq!(event.from, "+33600000101");
    assert_eq!(event.to, "");
    assert_eq!(event.ring_seconds, Some(0));
    // Negative and fractional numbers are not non-negative integers.
    for v in [json!(-1), json!(1.5), json!(true), json!([]), json!({})] {
        assert_eq!(
            err_of(&with("ring_seconds", v)),
            "ring_seconds must be a non-negative integer"
        );
    }
}

/// What a `serde_json::Value` refuses anywhere in the body is refused here too, in unknown
/// fields as well: invalid UTF-8, a lone surrogate, a number out of range, nesting past
/// serde_json's limit. A field that is not one of the contract's may be named twice.
#[test]
fn unknown_fields_are_checked_as_json_too() {
    let valid = r#""call_id":"c1","direction":"inbound","status":"no_answer","from":"+33600000101","to":null,"started_at":"2025-03-04T10:59:12Z""#;
    let with_extra = |extra: &[u8]| [b"{" as &[u8], extra, b",", valid.as_bytes(), b"}"].concat();
    let deep = format!("\"x\":{}1{}", "[".repeat(200), "]".repeat(200));
    for extra in [
        &b"\"x\":\"\xff\xfe\""[..],
        br#""x":"\ud800""#,
        br#""x":1e400"#,
        deep.as_bytes(),
        br#""x":{"y":["\ud800"]}"#,
    ] {
        let body = with_extra(extra);
        assert!(
            serde_json::from_slice::<Value>(&body).is_err(),
            "the reference refuses it"
        );
        match parse_bytes(&body) {
            Err(WebhookError::Malformed(m)) => {
                assert!(
                    m.starts_with("body is not valid JSON (line 1, column "),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
    let twice = with_extra(br#""x":1,"x":{"y":[true,null,"z"]}"#);
    assert_eq!(parse_bytes(&twice).unwrap().unwrap().call_id, "c1");
}
