//! Tests of the twilio adapter (`super`): known-answer signatures, the status table, fixtures,
//! malformed input. The contract every provider shares is in `shared/tests/provider_conformance.rs`.

use super::*;
use crate::providers::test_support::fixture;
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;

const KAT_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const KAT_PARAMS: &[(&str, &str)] = &[
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+14158675309"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
];
const KAT_SIGNATURE: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
const SID: &str = "CAa1b2c3d4e5f60718293a4b5c6d7e8f90";
const MALFORMED_MESSAGES: &[&str] = &[
    "body is not UTF-8 form data",
    "CallSid is missing",
    "CallSid is not a Twilio SID",
    "CallStatus is missing",
    "Direction is missing",
    "Direction is not a Twilio call direction",
];

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    serde_urlencoded::to_string(pairs).unwrap().into_bytes()
}

fn headers(sig: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    if let Some(sig) = sig {
        h.insert(SIGNATURE_HEADER, HeaderValue::from_str(sig).unwrap());
    }
    h
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-03-04T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn verify(url: &str, body: &[u8], sig: Option<&str>, secrets: &[&str]) -> Result<(), WebhookError> {
    let h = headers(sig);
    let req = WebhookRequest {
        public_url: url,
        headers: &h,
        body,
        now: now(),
    };
    Twilio.verify(&req, secrets)
}

fn parse(pairs: &[(&str, &str)]) -> Result<Option<CallEvent>, WebhookError> {
    let body = form(pairs);
    let h = headers(None);
    let req = WebhookRequest {
        public_url: "https://x.test/webhooks/twilio/a",
        headers: &h,
        body: &body,
        now: now(),
    };
    Twilio.parse(&req)
}

fn dial(status: &str, direction: Option<&str>) -> Vec<(&'static str, String)> {
    let mut v = vec![
        (
            "AccountSid",
            "AC00000000000000000000000000000000".to_owned(),
        ),
        ("ApiVersion", "2010-04-01".to_owned()),
        ("CallSid", SID.to_owned()),
        ("CallStatus", "in-progress".to_owned()),
        ("Called", "+33144000000".to_owned()),
        ("Caller", "+33600000101".to_owned()),
        ("DialCallDuration", "0".to_owned()),
        (
            "DialCallSid",
            "CAffffffffffffffffffffffffffffff00".to_owned(),
        ),
        ("DialCallStatus", status.to_owned()),
        ("From", "+33600000101".to_owned()),
        ("To", "+33144000000".to_owned()),
    ];
    if let Some(d) = direction {
        v.push(("Direction", d.to_owned()));
    }
    v
}

fn status_cb(status: &str, direction: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "AccountSid",
            "AC00000000000000000000000000000000".to_owned(),
        ),
        ("ApiVersion", "2010-04-01".to_owned()),
        ("CallSid", SID.to_owned()),
        ("CallStatus", status.to_owned()),
        ("Direction", direction.to_owned()),
        ("From", "+33600000101".to_owned()),
        ("To", "+33144000000".to_owned()),
        ("Timestamp", "Tue, 04 Mar 2025 09:59:58 +0000".to_owned()),
    ]
}

fn parse_owned(pairs: &[(&'static str, String)]) -> Result<Option<CallEvent>, WebhookError> {
    let v: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    parse(&v)
}

// ---- verify -------------------------------------------------------------------------

#[test]
fn known_answer_from_twilio_sdk_tests() {
    let body = form(KAT_PARAMS);
    assert_eq!(sign("12345", KAT_URL, &body), KAT_SIGNATURE);
    assert_eq!(
        verify(KAT_URL, &body, Some(KAT_SIGNATURE), &["12345"]),
        Ok(())
    );
}

#[test]
fn param_order_in_body_does_not_matter() {
    let mut reversed = KAT_PARAMS.to_vec();
    reversed.reverse();
    assert_eq!(
        verify(KAT_URL, &form(&reversed), Some(KAT_SIGNATURE), &["12345"]),
        Ok(())
    );
}

#[test]
fn tampered_param_fails() {
    let mut p = KAT_PARAMS.to_vec();
    p[2] = ("Digits", "1235");
    assert!(matches!(
        verify(KAT_URL, &form(&p), Some(KAT_SIGNATURE), &["12345"]),
        Err(WebhookError::Unauthorized(_))
    ));
    let mut extra = KAT_PARAMS.to_vec();
    extra.push(("DialCallStatus", "no-answer"));
    assert!(verify(KAT_URL, &form(&extra), Some(KAT_SIGNATURE), &["12345"]).is_err());
}

#[test]
fn tampered_url_fails() {
    let body = form(KAT_PARAMS);
    let url = "https://mycompany.com/myapp.php?foo=1&bar=3";
    assert!(verify(url, &body, Some(KAT_SIGNATURE), &["12345"]).is_err());
}

#[test]
fn wrong_token_fails() {
    let body = form(KAT_PARAMS);
    assert!(matches!(
        verify(KAT_URL, &body, Some(KAT_SIGNATURE), &["54321"]),
        Err(WebhookError::Unauthorized(_))
    ));
}

#[test]
fn missing_header_is_unauthorized() {
    let body = form(KAT_PARAMS);
    assert_eq!(
        verify(KAT_URL, &body, None, &["12345"]),
        Err(WebhookError::Unauthorized(
            "missing X-Twilio-Signature header"
        ))
    );
}

#[test]
fn no_secret_or_empty_secret_is_unauthorized() {
    let body = form(KAT_PARAMS);
    assert!(verify(KAT_URL, &body, Some(KAT_SIGNATURE), &[]).is_err());
    let empty_sig = sign("", KAT_URL, &body);
    assert!(verify(KAT_URL, &body, Some(&empty_sig), &[""]).is_err());
}

#[test]
fn rotation_any_secret_may_match() {
    let body = form(KAT_PARAMS);
    assert_eq!(
        verify(KAT_URL, &body, Some(KAT_SIGNATURE), &["old-token", "12345"]),
        Ok(())
    );
    assert_eq!(
        verify(KAT_URL, &body, Some(KAT_SIGNATURE), &["12345", "new-token"]),
        Ok(())
    );
}

#[test]
fn default_port_variants_are_accepted() {
    let body = form(KAT_PARAMS);
    // Twilio signed the URL with the explicit port, we see it without.
    let with_port = sign(
        "12345",
        "https://mycompany.com:443/myapp.php?foo=1&bar=2",
        &body,
    );
    assert_eq!(verify(KAT_URL, &body, Some(&with_port), &["12345"]), Ok(()));
    // Twilio signed it without, we see it with.
    assert_eq!(
        verify(
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &body,
            Some(KAT_SIGNATURE),
            &["12345"]
        ),
        Ok(())
    );
    // http / :80.
    let sig = sign("12345", "http://localhost/webhooks/twilio/a", &body);
    assert_eq!(
        verify(
            "http://localhost:80/webhooks/twilio/a",
            &body,
            Some(&sig),
            &["12345"]
        ),
        Ok(())
    );
    // A non-default port is not interchangeable.
    let sig = sign("12345", "http://localhost:3000/webhooks/twilio/a", &body);
    assert!(
        verify(
            "http://localhost/webhooks/twilio/a",
            &body,
            Some(&sig),
            &["12345"]
        )
        .is_err()
    );
    assert!(
        verify(
            "http://localhost:80/webhooks/twilio/a",
            &body,
            Some(&sig),
            &["12345"]
        )
        .is_err()
    );
}

#[test]
fn port_variant_string_surgery() {
    assert_eq!(
        port_variant("https://a.example/p?q=1").as_deref(),
        Some("https://a.example:443/p?q=1")
    );
    assert_eq!(
        port_variant("https://a.example:443/p").as_deref(),
        Some("https://a.example/p")
    );
    assert_eq!(
        port_variant("http://a.example").as_deref(),
        Some("http://a.example:80")
    );
    assert_eq!(
        port_variant("http://a.example:80?x=:80").as_deref(),
        Some("http://a.example?x=:80")
    );
    assert_eq!(
        port_variant("https://u:p@a.example/").as_deref(),
        Some("https://u:p@a.example:443/")
    );
    assert_eq!(
        port_variant("https://[::1]/x").as_deref(),
        Some("https://[::1]:443/x")
    );
    assert_eq!(
        port_variant("https://[::1]:443/x").as_deref(),
        Some("https://[::1]/x")
    );
    assert_eq!(port_variant("https://a.example:8443/p"), None);
    assert_eq!(port_variant("ftp://a.example/p"), None);
    assert_eq!(port_variant("not a url"), None);
    assert_eq!(port_variant("https:///p"), None);
}

// ---- parse: Dial action ---------------------------------------------------------------

#[test]
fn dial_action_mapping_table() {
    let table = [
        ("completed", CallStatus::Answered),
        ("answered", CallStatus::Answered),
        ("no-answer", CallStatus::NoAnswer),
        ("busy", CallStatus::Busy),
        ("failed", CallStatus::Failed),
        ("canceled", CallStatus::Canceled),
        ("something-new", CallStatus::Other),
    ];
    for (word, status) in table {
        let e = parse_owned(&dial(word, Some("inbound"))).unwrap().unwrap();
        assert_eq!(e.status, status, "{word}");
        assert_eq!(e.provider_status, word);
        assert_eq!(e.call_id, SID, "one idempotency key per call");
        assert_eq!(e.direction, Direction::Inbound);
        assert_eq!(e.provider, "twilio");
        assert_eq!(e.from, "+33600000101");
        assert_eq!(e.to, "+33144000000");
        assert_eq!(e.ring_seconds, None);
    }
}

#[test]
fn dial_action_direction() {
    let e = parse_owned(&dial("no-answer", None)).unwrap().unwrap();
    assert_eq!(e.direction, Direction::Inbound);
    for d in ["outbound-api", "outbound-dial", "trunking-originating"] {
        let e = parse_owned(&dial("completed", Some(d))).unwrap().unwrap();
        assert_eq!(e.direction, Direction::Outbound, "{d}");
    }
    let e = parse_owned(&dial("busy", Some("trunking-terminating")))
        .unwrap()
        .unwrap();
    assert_eq!(e.direction, Direction::Inbound);
    assert!(matches!(
        parse_owned(&dial("busy", Some("sideways"))),
        Err(WebhookError::Malformed(_))
    ));
}

// ---- parse: status callback -----------------------------------------------------------

#[test]
fn status_callback_mapping_table() {
    use CallStatus::*;
    // (word, inbound result, outbound result); None = not final.
    let table: [(&str, Option<CallStatus>, Option<CallStatus>); 10] = [
        ("queued", None, None),
        ("initiated", None, None),
        ("ringing", None, None),
        ("in-progress", None, None),
        ("completed", None, Some(Answered)),
        ("no-answer", Some(NoAnswer), Some(NoAnswer)),
        ("busy", Some(Busy), Some(Busy)),
        ("failed", Some(Failed), Some(Failed)),
        ("canceled", Some(Canceled), Some(Canceled)),
        ("brand-new", Some(Other), Some(Other)),
    ];
    for (word, inbound, outbound) in table {
        for (dir, expected, want_dir) in [
            ("inbound", inbound, Direction::Inbound),
            ("outbound-api", outbound, Direction::Outbound),
        ] {
            let got = parse_owned(&status_cb(word, dir)).unwrap();
            assert_eq!(got.as_ref().map(|e| e.status), expected, "{word} {dir}");
            if let Some(e) = got {
                assert_eq!(e.call_id, SID);
                assert_eq!(e.direction, want_dir);
                assert_eq!(e.provider_status, word);
            }
        }
    }
}

#[test]
fn answering_machine_on_outbound_is_voicemail() {
    for (answered_by, status) in [
        ("machine_start", CallStatus::Voicemail),
        ("machine_end_beep", CallStatus::Voicemail),
        ("machine_end_silence", CallStatus::Voicemail),
        ("human", CallStatus::Answered),
        ("unknown", CallStatus::Answered),
    ] {
        let mut p = status_cb("completed", "outbound-api");
        p.push(("AnsweredBy", answered_by.to_owned()));
        assert_eq!(
            parse_owned(&p).unwrap().unwrap().status,
            status,
            "{answered_by}"
        );
    }
    // Inbound: AnsweredBy is irrelevant, completed is not stored (the Dial action decides).
    let mut p = status_cb("completed", "inbound");
    p.push(("AnsweredBy", "machine_start".to_owned()));
    assert_eq!(parse_owned(&p).unwrap(), None);
    // Child legs of a <Dial> are never stored: both legs of one call, one decision.
    for word in ["completed", "no-answer", "busy", "ringing"] {
        assert_eq!(
            parse_owned(&status_cb(word, "outbound-dial")).unwrap(),
            None,
            "{word}"
        );
    }
}

#[test]
fn timestamp_becomes_ended_at() {
    let e = parse_owned(&status_cb("no-answer", "inbound"))
        .unwrap()
        .unwrap();
    assert_eq!(
        e.ended_at,
        Some(
            DateTime::parse_from_rfc3339("2025-03-04T09:59:58Z")
                .unwrap()
                .with_timezone(&Utc)
        )
    );
    assert_eq!(e.started_at, None);
    let mut p = status_cb("no-answer", "inbound");
    p.retain(|(k, _)| *k != "Timestamp");
    p.push(("Timestamp", "yesterday".to_owned()));
    assert_eq!(parse_owned(&p).unwrap().unwrap().ended_at, None);
}

#[test]
fn caller_and_called_are_fallbacks() {
    let p = [
        ("CallSid", SID),
        ("CallStatus", "busy"),
        ("Direction", "inbound"),
        ("Caller", "+33600000102"),
        ("Called", "+33144000000"),
    ];
    let e = parse(&p).unwrap().unwrap();
    assert_eq!(
        (e.from.as_str(), e.to.as_str()),
        ("+33600000102", "+33144000000")
    );
}

#[test]
fn withheld_encodings_pass_through_unchanged() {
    for withheld in [
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
        let p = [
            ("CallSid", SID),
            ("DialCallStatus", "no-answer"),
            ("From", withheld),
            ("To", "+33144000000"),
        ];
        let e = parse(&p).unwrap().unwrap();
        assert_eq!(e.from, withheld);
        assert_eq!(e.counterpart(), withheld);
    }
    // Absent / empty caller: empty string, classified as withheld downstream.
    let e = parse(&[("CallSid", SID), ("DialCallStatus", "busy"), ("From", "")])
        .unwrap()
        .unwrap();
    assert_eq!(e.from, "");
}

#[test]
fn malformed_bodies() {
    let cases: [(&[u8], &str); 7] = [
        (b"", "CallSid is missing"),
        (
            b"CallStatus=no-answer&Direction=inbound&From=%2B33600000101",
            "CallSid is missing",
        ),
        (
            b"CallSid=&CallStatus=no-answer&Direction=inbound",
            "CallSid is missing",
        ),
        (
            b"CallSid=CA%2B33600000101&CallStatus=busy&Direction=inbound",
            "CallSid is not a Twilio SID",
        ),
        (
            b"CallSid=CA1&Direction=inbound&From=%2B33600000101",
            "CallStatus is missing",
        ),
        (
            b"CallSid=CA1&CallStatus=busy&From=%2B33600000101",
            "Direction is missing",
        ),
        (b"\xff\xfe", "body is not UTF-8 form data"),
    ];
    for (body, msg) in cases {
        let h = headers(None);
        let req = WebhookRequest {
            public_url: "https://x.test/",
            headers: &h,
            body,
            now: now(),
        };
        let err = Twilio.parse(&req).unwrap_err();
        assert_eq!(err, WebhookError::Malformed(msg.to_owned()));
        assert!(!err.to_string().contains("33600000101"));
    }
}

#[test]
fn ack_is_empty_twiml() {
    let ack = Twilio.ack();
    assert_eq!(ack.content_type, "text/xml");
    assert_eq!(
        ack.body,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>"
    );
    assert_eq!(Twilio.name(), "twilio");
}

// ---- fixtures -------------------------------------------------------------------------

#[test]
fn fixtures_parse_as_expected() {
    let expect: [(&str, Option<(CallStatus, Direction)>); 6] = [
        (
            "twilio-dial-no-answer.json",
            Some((CallStatus::NoAnswer, Direction::Inbound)),
        ),
        (
            "twilio-dial-completed.json",
            Some((CallStatus::Answered, Direction::Inbound)),
        ),
        (
            "twilio-status-no-answer.json",
            Some((CallStatus::NoAnswer, Direction::Inbound)),
        ),
        ("twilio-status-ringing.json", None),
        (
            "twilio-outbound-completed.json",
            Some((CallStatus::Answered, Direction::Outbound)),
        ),
        (
            "twilio-anonymous.json",
            Some((CallStatus::NoAnswer, Direction::Inbound)),
        ),
    ];
    for (file, want) in expect {
        let (mut h, body) = fixture(file);
        let url = "https://example.test/webhooks/twilio/acme";
        let req = WebhookRequest {
            public_url: url,
            headers: &h,
            body: &body,
            now: now(),
        };
        let got = Twilio.parse(&req).unwrap().map(|e| (e.status, e.direction));
        assert_eq!(got, want, "{file}");
        // Re-signed, the fixture verifies.
        h.insert(
            SIGNATURE_HEADER,
            HeaderValue::from_str(&sign("tok", url, &body)).unwrap(),
        );
        let req = WebhookRequest {
            public_url: url,
            headers: &h,
            body: &body,
            now: now(),
        };
        assert_eq!(Twilio.verify(&req, &["tok"]), Ok(()), "{file}");
    }
}

// ---- properties -----------------------------------------------------------------------

proptest! {
    #[test]
    fn never_panics_on_arbitrary_input(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        sig in proptest::collection::vec(any::<u8>(), 0..64),
        url in ".{0,80}",
    ) {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(&sig) {
            h.insert(SIGNATURE_HEADER, v);
        }
        let req = WebhookRequest { public_url: &url, headers: &h, body: &body, now: now() };
        let _ = Twilio.verify(&req, &["12345", ""]);
        let _ = Twilio.parse(&req);
        let _ = port_variant(&url);
    }

    #[test]
    fn never_panics_on_form_like_input(
        pairs in proptest::collection::vec(
            (prop_oneof![
                Just("CallSid".to_owned()), Just("CallStatus".to_owned()), Just("DialCallStatus".to_owned()),
                Just("Direction".to_owned()), Just("From".to_owned()), Just("Timestamp".to_owned()),
                Just("AnsweredBy".to_owned()), ".{0,8}"],
             ".{0,40}"),
            0..10),
    ) {
        let body = serde_urlencoded::to_string(&pairs).unwrap();
        let h = headers(None);
        let req = WebhookRequest { public_url: "https://x.test/", headers: &h, body: body.as_bytes(), now: now() };
        if let Err(WebhookError::Malformed(m)) = Twilio.parse(&req) {
            // Messages are fixed strings: they never echo input.
            prop_assert!(MALFORMED_MESSAGES.contains(&m.as_str()), "{}", m);
        }
    }

    #[test]
    fn signed_requests_verify(
        pairs in proptest::collection::vec((".{0,12}", ".{0,20}"), 0..8),
        token in "[ -~]{1,32}",
        path in "[a-z/]{0,20}",
    ) {
        let body = serde_urlencoded::to_string(&pairs).unwrap();
        let url = format!("https://example.test/{path}");
        let sig = sign(&token, &url, body.as_bytes());
        prop_assert_eq!(verify(&url, body.as_bytes(), Some(&sig), &[&token]), Ok(()));
    }
}
