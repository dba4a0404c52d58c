//! Tests of the telnyx adapter (`super`): known-answer signatures, the status table, fixtures,
//! malformed input. The contract every provider shares is in `shared/tests/provider_conformance.rs`.

use super::*;
use crate::phone::{Caller, LineType, classify};
use crate::providers::test_support::{assert_caller, fixture};
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
        let (mut h, body) = fixture(file);
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
