//! Tests of the plivo adapter (`super`): known-answer signatures, the status table, fixtures,
//! malformed input. The contract every provider shares is in `shared/tests/provider_conformance.rs`.

use super::*;
use crate::phone::{Caller, LineType, classify};
use crate::providers::test_support::{assert_caller, fixture};
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;

const UUID: &str = "2d9f0f0e-3a52-4c1b-9d2e-5f6a7b8c9d01";
const URL: &str = "https://hooks.example.test/webhooks/plivo/acme";
const TOKEN: &str = "MAXXXXXXXXXXXXXXXXXX";
const NONCE: &str = "05429567804466091622";
const MALFORMED_MESSAGES: &[&str] = &[
    "body is not UTF-8 form data",
    "CallUUID is missing",
    "CallUUID is not a Plivo UUID",
    "CallStatus is missing",
    "Direction is missing",
    "Direction is not a Plivo call direction",
];

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-03-04T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn headers(sig: Option<&str>, nonce: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    if let Some(sig) = sig {
        h.insert(SIGNATURE_HEADER, HeaderValue::from_str(sig).unwrap());
    }
    if let Some(nonce) = nonce {
        h.insert(NONCE_HEADER, HeaderValue::from_str(nonce).unwrap());
    }
    h
}

fn verify(
    url: &str,
    body: &[u8],
    sig: Option<&str>,
    nonce: Option<&str>,
    secrets: &[&str],
) -> Result<(), WebhookError> {
    let h = headers(sig, nonce);
    let req = WebhookRequest {
        public_url: url,
        headers: &h,
        body,
        now: now(),
    };
    Plivo.verify(&req, secrets)
}

fn parse_body(body: &str) -> Result<Option<CallEvent>, WebhookError> {
    let h = headers(None, None);
    let req = WebhookRequest {
        public_url: URL,
        headers: &h,
        body: body.as_bytes(),
        now: now(),
    };
    Plivo.parse(&req)
}

fn parse(pairs: &[(&str, &str)]) -> Result<Option<CallEvent>, WebhookError> {
    parse_body(&serde_urlencoded::to_string(pairs).unwrap())
}

fn b64_hmac(token: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    BASE64.encode(mac.finalize().into_bytes())
}

// ---- signature: official vectors ------------------------------------------------------

#[test]
fn official_sdk_vectors_for_the_hmac_layer() {
    // V2 vectors (HMAC-SHA256(token, url + nonce), base64), identical in plivo-go
    // `utils_test.go` (TestValidateSignatureV2Pass), plivo-node `test/utils.js`,
    // plivo-ruby `spec/signature_spec.rb` and plivo-dotnet `TestSignature.cs`.
    assert_eq!(
        b64_hmac("my_auth_token", "https://answer.url12345"),
        "ehV3IKhLysWBxC1sy8INm0qGoQYdYsHwuoKjsX7FsXc="
    );
    assert_eq!(
        b64_hmac(
            "my_auth_token",
            "https://answer.url:800024725744043720739450"
        ),
        "LDphWoWimP4QM5AoWI1uwP6WmlWtt5ITPZjXIWYvCNU="
    );
    // plivo-go `utils_test.go` TestValidateSignatureV3Pass (GET, nonce 12345). The vector
    // was produced by plivo-go's first V3 `GenerateUrl`, which appended `/?` and left a
    // trailing `&`; it is the HMAC of exactly this string, and the `.` + nonce layer is
    // the one `mac` computes.
    let legacy_base =
        "https://answer.url/?CallUUID=97ceeb52-58b6-11e1-86da-77300b68f8bb&Duration=300&";
    let sig = BASE64.encode(
        mac("my_auth_token", legacy_base, "12345")
            .finalize()
            .into_bytes(),
    );
    assert_eq!(sig, "rXj4UwTSVxH6Kj+W0qX8LaCvVOOvmzPGzY8sQVn3d1I=");
    // ...and TestValidateSignatureV3Fail: the same value with the last character changed.
    assert_ne!(sig, "rXj4UwTSVxH6Kj+W0qX8LaCvVOOvmzPGzY8sQVn3d1I+");
}

/// Known answers computed with plivo-python's `plivo/utils/signature_v3.py`
/// (`construct_post_url` + `get_signature_v3`, the body passed as
/// `dict(parse_qsl(body, keep_blank_values=True))` like `request.form.to_dict()`).
#[test]
fn plivo_python_known_answers() {
    let cases = [
        (
            URL,
            "05429567804466091622",
            "MAXXXXXXXXXXXXXXXXXX",
            "CallUUID=2d9f0f0e-3a52-4c1b-9d2e-5f6a7b8c9d01&DialStatus=no-answer&From=33600000101&To=33144000000",
            "https://hooks.example.test/webhooks/plivo/acme?CallUUID2d9f0f0e-3a52-4c1b-9d2e-5f6a7b8c9d01DialStatusno-answerFrom33600000101To33144000000",
            "eMR3HJ98x+EYcCiSzCFHJ4QYrSosQPIp7YpEmo9utPM=",
        ),
        (
            "https://hooks.example.test/webhooks/plivo/acme?b=2&a=x+y&a=%2F1",
            "12345",
            "my_auth_token",
            "CallUUID=u-1&Direction=inbound&CallerName=Jean+Dupont",
            "https://hooks.example.test/webhooks/plivo/acme?a=/1&a=x y&b=2.CallUUIDu-1CallerNameJean DupontDirectioninbound",
            "LG8rIqFFunxr/k658MS+fEnEUewPFJnHgd0jMMd8wLk=",
        ),
        (
            "https://hooks.example.test/webhooks/plivo/acme?b=2&a=1",
            "12345",
            "my_auth_token",
            "",
            "https://hooks.example.test/webhooks/plivo/acme?a=1&b=2",
            "LuiWgI996SpyvgRANksry3DFNVKpCqAY/uidt2d8DLw=",
        ),
        (
            URL,
            "12345",
            "my_auth_token",
            "",
            "https://hooks.example.test/webhooks/plivo/acme",
            "hKm1+nVYlh1PT0pSMPIWKEw/Ojo6NxhGRYwntOOdC20=",
        ),
    ];
    for (url, nonce, token, body, base, expected) in cases {
        assert_eq!(signed_string(url, body.as_bytes()), base, "{url} {body}");
        assert_eq!(sign(token, url, body.as_bytes(), nonce), expected);
        assert_eq!(
            verify(url, body.as_bytes(), Some(expected), Some(nonce), &[token]),
            Ok(())
        );
    }
}

#[test]
fn signed_string_details() {
    // Fragment dropped, scheme lower-cased, host and port kept byte for byte.
    assert_eq!(
        signed_string("HTTPS://Hooks.Example.test:8443/p?x=1#frag", b""),
        "https://Hooks.Example.test:8443/p?x=1"
    );
    // Repeated body names: values sorted, each written name+value.
    assert_eq!(
        signed_string("https://h/p", b"b=2&a=z&a=y"),
        "https://h/p?ayazb2"
    );
    // Empty values kept.
    assert_eq!(signed_string("https://h/p?q=", b"k="), "https://h/p?q=.k");
    // Not a URL at all: used as is.
    assert_eq!(signed_string("", b""), "");
}

// ---- signature: verify ----------------------------------------------------------------

fn dial_body() -> Vec<u8> {
    serde_urlencoded::to_string([
        ("CallUUID", UUID),
        ("DialStatus", "no-answer"),
        ("From", "33600000101"),
        ("To", "33144000000"),
    ])
    .unwrap()
    .into_bytes()
}

#[test]
fn verify_accepts_any_matching_signature_and_secret() {
    let body = dial_body();
    let good = sign(TOKEN, URL, &body, NONCE);
    let other = sign("other-token", URL, &body, NONCE);
    assert_eq!(
        verify(URL, &body, Some(&good), Some(NONCE), &[TOKEN]),
        Ok(())
    );
    // Several signatures (one per active auth token), with or without spaces.
    for header in [
        format!("{other},{good}"),
        format!("{good}, {other}"),
        format!("garbage,{good}"),
    ] {
        assert_eq!(
            verify(URL, &body, Some(&header), Some(NONCE), &[TOKEN]),
            Ok(()),
            "{header}"
        );
    }
    // Rotation: either configured token.
    assert_eq!(
        verify(URL, &body, Some(&good), Some(NONCE), &["", "old", TOKEN]),
        Ok(())
    );
}

#[test]
fn verify_rejects_tampering_and_missing_parts() {
    let body = dial_body();
    let good = sign(TOKEN, URL, &body, NONCE);
    let unauthorized =
        |r: Result<(), WebhookError>| matches!(r, Err(WebhookError::Unauthorized(_)));
    // Tampered body, other URL, other nonce, wrong token.
    let mut tampered = body.clone();
    tampered.extend_from_slice(b"&DialBLegUUID=x");
    assert!(unauthorized(verify(
        URL,
        &tampered,
        Some(&good),
        Some(NONCE),
        &[TOKEN]
    )));
    let answered = String::from_utf8(body.clone())
        .unwrap()
        .replace("no-answer", "completed");
    assert!(unauthorized(verify(
        URL,
        answered.as_bytes(),
        Some(&good),
        Some(NONCE),
        &[TOKEN]
    )));
    assert!(unauthorized(verify(
        "https://hooks.example.test/webhooks/plivo/other",
        &body,
        Some(&good),
        Some(NONCE),
        &[TOKEN]
    )));
    assert!(unauthorized(verify(
        URL,
        &body,
        Some(&good),
        Some("1"),
        &[TOKEN]
    )));
    assert!(unauthorized(verify(
        URL,
        &body,
        Some(&good),
        Some(NONCE),
        &["wrong"]
    )));
    // Missing / malformed headers, no usable secret.
    assert_eq!(
        verify(URL, &body, None, Some(NONCE), &[TOKEN]),
        Err(WebhookError::Unauthorized(
            "missing X-Plivo-Signature-V3 header"
        ))
    );
    assert_eq!(
        verify(URL, &body, Some(&good), None, &[TOKEN]),
        Err(WebhookError::Unauthorized(
            "missing X-Plivo-Signature-V3-Nonce header"
        ))
    );
    assert_eq!(
        verify(URL, &body, Some("!!!,???"), Some(NONCE), &[TOKEN]),
        Err(WebhookError::Unauthorized(
            "malformed X-Plivo-Signature-V3 header"
        ))
    );
    assert_eq!(
        verify(URL, &body, Some(&good), Some(NONCE), &["", ""]),
        Err(WebhookError::Unauthorized("no Plivo auth token configured"))
    );
    // A truncated signature does not match.
    assert!(unauthorized(verify(
        URL,
        &body,
        Some(&good[..20]),
        Some(NONCE),
        &[TOKEN]
    )));
}

// ---- parse: Dial action ---------------------------------------------------------------

#[test]
fn dial_action_mapping_table() {
    let table = [
        ("completed", CallStatus::Answered),
        ("no-answer", CallStatus::NoAnswer),
        ("timeout", CallStatus::NoAnswer),
        ("busy", CallStatus::Busy),
        ("failed", CallStatus::Failed),
        ("cancel", CallStatus::Canceled),
        ("something-new", CallStatus::Other),
    ];
    for (word, status) in table {
        let e = parse(&[
            ("CallUUID", UUID),
            ("Direction", "inbound"),
            ("DialStatus", word),
            ("From", "33600000101"),
            ("To", "33144000000"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(e.status, status, "{word}");
        assert_eq!(e.provider_status, word);
        assert_eq!(e.call_id, UUID, "one idempotency key per call");
        assert_eq!(e.direction, Direction::Inbound);
        assert_eq!(e.provider, "plivo");
        assert_eq!(
            (e.from.as_str(), e.to.as_str()),
            ("33600000101", "33144000000")
        );
        assert_eq!(
            (e.started_at, e.ended_at, e.ring_seconds),
            (None, None, None)
        );
    }
}

#[test]
fn dial_action_direction_and_uuid_fallback() {
    let e = parse(&[("DialALegUUID", UUID), ("DialStatus", "busy")])
        .unwrap()
        .unwrap();
    assert_eq!(
        (e.call_id.as_str(), e.direction),
        (UUID, Direction::Inbound)
    );
    let e = parse(&[
        ("CallUUID", UUID),
        ("DialStatus", "completed"),
        ("Direction", "outbound"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(e.direction, Direction::Outbound);
    assert_eq!(
        parse(&[
            ("CallUUID", UUID),
            ("DialStatus", "busy"),
            ("Direction", "sideways")
        ]),
        Err(malformed("Direction is not a Plivo call direction"))
    );
}

#[test]
fn dial_callback_url_events_are_not_stored() {
    for action in ["answer", "connected", "hangup", "digits"] {
        assert_eq!(
            parse(&[
                ("CallUUID", UUID),
                ("DialAction", action),
                ("DialBLegStatus", "hangup"),
                ("Direction", "inbound"),
            ]),
            Ok(None),
            "{action}"
        );
    }
}

// ---- parse: hangup callback -----------------------------------------------------------

fn hangup(
    status: &str,
    direction: &str,
    cause: &str,
    bill_duration: &str,
    answer_time: &str,
) -> Result<Option<CallEvent>, WebhookError> {
    parse(&[
        ("CallUUID", UUID),
        ("CallStatus", status),
        ("Direction", direction),
        ("HangupCause", cause),
        ("BillDuration", bill_duration),
        ("AnswerTime", answer_time),
        ("From", "33600000101"),
        ("To", "33144000000"),
    ])
}

#[test]
fn hangup_mapping_table() {
    use CallStatus::*;
    // (CallStatus, HangupCause, answered?, inbound result, outbound result)
    type Row = (
        &'static str,
        &'static str,
        bool,
        Option<CallStatus>,
        Option<CallStatus>,
    );
    let table: [Row; 19] = [
        ("ringing", "", false, None, None),
        ("in-progress", "", true, None, None),
        ("queued", "", false, None, None),
        ("completed", "NORMAL_CLEARING", true, None, Some(Answered)),
        ("completed", "ORIGINATOR_CANCEL", true, None, Some(Answered)),
        (
            "completed",
            "ORIGINATOR_CANCEL",
            false,
            Some(Canceled),
            Some(Canceled),
        ),
        (
            "completed",
            "NO_ANSWER",
            false,
            Some(NoAnswer),
            Some(NoAnswer),
        ),
        (
            "completed",
            "NO_USER_RESPONSE",
            false,
            Some(NoAnswer),
            Some(NoAnswer),
        ),
        (
            "completed",
            "ALLOTTED_TIMEOUT",
            false,
            Some(NoAnswer),
            Some(NoAnswer),
        ),
        ("completed", "USER_BUSY", false, Some(Busy), Some(Busy)),
        (
            "completed",
            "CALL_REJECTED",
            false,
            Some(Rejected),
            Some(Rejected),
        ),
        ("completed", "NORMAL_CLEARING", false, None, Some(NoAnswer)),
        ("completed", "", false, None, Some(NoAnswer)),
        (
            "completed",
            "UNALLOCATED_NUMBER",
            false,
            Some(Failed),
            Some(Failed),
        ),
        ("busy", "USER_BUSY", false, Some(Busy), Some(Busy)),
        (
            "no-answer",
            "NO_ANSWER",
            false,
            Some(NoAnswer),
            Some(NoAnswer),
        ),
        (
            "cancel",
            "ORIGINATOR_CANCEL",
            false,
            Some(Canceled),
            Some(Canceled),
        ),
        ("timeout", "", false, Some(Failed), Some(Failed)),
        ("brand-new", "", false, Some(Other), Some(Other)),
    ];
    for (word, cause, answered, inbound, outbound) in table {
        for (dir, expected, want_dir) in [
            ("inbound", inbound, Direction::Inbound),
            ("outbound", outbound, Direction::Outbound),
        ] {
            // Answer evidence by BillDuration, by AnswerTime, or both absent.
            let evidence: &[(&str, &str)] = if answered {
                &[
                    ("7", ""),
                    ("0", "2025-03-04 10:59:20"),
                    ("7", "2025-03-04 10:59:20"),
                ]
            } else {
                &[("0", ""), ("", ""), ("x", "")]
            };
            for (bill, answer_time) in evidence {
                let got = hangup(word, dir, cause, bill, answer_time).unwrap();
                assert_eq!(
                    got.as_ref().map(|e| e.status),
                    expected,
                    "{word} {cause} {dir} {bill:?} {answer_time:?}"
                );
                if let Some(e) = got {
                    assert_eq!(e.call_id, UUID);
                    assert_eq!(e.direction, want_dir);
                    let want_word = if word == "completed" && !cause.is_empty() {
                        format!("completed/{cause}")
                    } else {
                        word.to_owned()
                    };
                    assert_eq!(e.provider_status, want_word);
                }
            }
        }
    }
}

#[test]
fn odd_hangup_causes_are_not_echoed() {
    // A cause that is not a telephony word is ignored (no cause), never stored.
    let e = hangup("completed", "outbound", "33600000101 lol", "0", "")
        .unwrap()
        .unwrap();
    assert_eq!(e.status, CallStatus::NoAnswer);
    assert_eq!(e.provider_status, "completed");
    // Lower-case causes are read case-insensitively.
    let e = hangup("completed", "inbound", "originator_cancel", "0", "")
        .unwrap()
        .unwrap();
    assert_eq!(e.status, CallStatus::Canceled);
}

#[test]
fn withheld_and_plus_less_numbers_pass_through() {
    for (raw, expected) in [
        ("33600000101", None),
        ("anonymous", Some(Caller::Withheld)),
        ("Anonymous", Some(Caller::Withheld)),
        ("restricted", Some(Caller::Withheld)),
        ("sip:anonymous@anonymous.invalid", Some(Caller::Withheld)),
    ] {
        let e = parse(&[
            ("CallUUID", UUID),
            ("DialStatus", "no-answer"),
            ("From", raw),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(e.from, raw);
        match expected {
            Some(c) => assert_eq!(classify(e.counterpart(), "FR"), c, "{raw}"),
            None => assert!(matches!(
                classify(e.counterpart(), "FR"),
                Caller::Number {
                    line_type: LineType::Mobile,
                    ..
                }
            )),
        }
    }
    let e = parse(&[("CallUUID", UUID), ("DialStatus", "busy"), ("From", "")])
        .unwrap()
        .unwrap();
    assert_eq!(e.from, "");
    assert_eq!(classify(e.counterpart(), "FR"), Caller::Withheld);
}

#[test]
fn malformed_bodies() {
    let cases: [(&[u8], &str); 8] = [
        (b"", "CallUUID is missing"),
        (
            b"DialStatus=no-answer&From=33600000101",
            "CallUUID is missing",
        ),
        (b"CallUUID=&DialStatus=busy", "CallUUID is missing"),
        (
            b"CallUUID=%2B33600000101&DialStatus=busy",
            "CallUUID is not a Plivo UUID",
        ),
        (
            b"CallUUID=u-1&Direction=inbound&From=33600000101",
            "CallStatus is missing",
        ),
        (
            b"CallUUID=u-1&CallStatus=completed&From=33600000101",
            "Direction is missing",
        ),
        (
            b"CallUUID=u-1&CallStatus=completed&Direction=33600000101",
            "Direction is not a Plivo call direction",
        ),
        (b"\xff\xfe", "body is not UTF-8 form data"),
    ];
    for (body, msg) in cases {
        let h = headers(None, None);
        let req = WebhookRequest {
            public_url: URL,
            headers: &h,
            body,
            now: now(),
        };
        let err = Plivo.parse(&req).unwrap_err();
        assert_eq!(err, WebhookError::Malformed(msg.to_owned()));
        assert!(!err.to_string().contains("33600000101"));
    }
}

#[test]
fn ack_is_empty_plivo_xml() {
    let ack = Plivo.ack();
    assert_eq!(ack.content_type, "application/xml");
    assert_eq!(
        ack.body,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>"
    );
    assert_eq!(Plivo.name(), "plivo");
}

// ---- fixtures -------------------------------------------------------------------------

#[test]
fn fixtures_parse_as_expected() {
    use CallStatus::*;
    use Direction::*;
    // (file, status, direction, call id suffix, counterpart line type; None = withheld)
    let expect: [(&str, CallStatus, Direction, &str, Option<LineType>); 6] = [
        (
            "plivo-dial-no-answer.json",
            NoAnswer,
            Inbound,
            "",
            Some(LineType::Mobile),
        ),
        (
            "plivo-dial-completed.json",
            Answered,
            Inbound,
            "",
            Some(LineType::Mobile),
        ),
        (
            "plivo-hangup-caller-cancel.json",
            Canceled,
            Inbound,
            "",
            Some(LineType::Mobile),
        ),
        (
            "plivo-outbound-completed.json",
            Answered,
            Outbound,
            "",
            Some(LineType::Mobile),
        ),
        (
            "plivo-landline.json",
            NoAnswer,
            Inbound,
            "",
            Some(LineType::FixedLine),
        ),
        ("plivo-anonymous.json", NoAnswer, Inbound, "", None),
    ];
    // The inbound leg's own `completed` hangup is not stored: the Dial action decides.
    let (_, body) = fixture("plivo-hangup-inbound-completed.json");
    let h = HeaderMap::new();
    let req = WebhookRequest {
        public_url: URL,
        headers: &h,
        body: &body,
        now: now(),
    };
    assert_eq!(Plivo.parse(&req).unwrap(), None);
    for (file, status, direction, suffix, line) in expect {
        let (mut h, body) = fixture(file);
        let req = WebhookRequest {
            public_url: URL,
            headers: &h,
            body: &body,
            now: now(),
        };
        let e = Plivo.parse(&req).unwrap().expect(file);
        assert_eq!((e.status, e.direction), (status, direction), "{file}");
        assert!(e.call_id.ends_with(suffix), "{file}");
        assert!(!e.call_id.contains('+'), "{file}");
        assert_caller(&e, line, file);
        // Re-signed, the fixture verifies; tampered, it does not.
        let nonce = h[NONCE_HEADER].to_str().unwrap().to_owned();
        h.insert(
            SIGNATURE_HEADER,
            HeaderValue::from_str(&sign(TOKEN, URL, &body, &nonce)).unwrap(),
        );
        let req = WebhookRequest {
            public_url: URL,
            headers: &h,
            body: &body,
            now: now(),
        };
        assert_eq!(Plivo.verify(&req, &[TOKEN]), Ok(()), "{file}");
        let mut tampered = body.clone();
        tampered.push(b'1');
        let req = WebhookRequest {
            body: &tampered,
            ..req
        };
        assert!(Plivo.verify(&req, &[TOKEN]).is_err(), "{file}");
    }
}

// ---- properties -----------------------------------------------------------------------

proptest! {
    #[test]
    fn never_panics_on_arbitrary_input(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        sig in proptest::collection::vec(any::<u8>(), 0..96),
        nonce in proptest::collection::vec(any::<u8>(), 0..32),
        url in ".{0,80}",
    ) {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(&sig) {
            h.insert(SIGNATURE_HEADER, v);
        }
        if let Ok(v) = HeaderValue::from_bytes(&nonce) {
            h.insert(NONCE_HEADER, v);
        }
        let req = WebhookRequest { public_url: &url, headers: &h, body: &body, now: now() };
        let _ = Plivo.verify(&req, &[TOKEN, ""]);
        let _ = Plivo.parse(&req);
        let _ = signed_string(&url, &body);
    }

    #[test]
    fn never_panics_on_form_like_input(
        pairs in proptest::collection::vec(
            (prop_oneof![
                Just("CallUUID".to_owned()), Just("CallStatus".to_owned()), Just("DialStatus".to_owned()),
                Just("DialAction".to_owned()), Just("Direction".to_owned()), Just("From".to_owned()),
                Just("HangupCause".to_owned()), Just("BillDuration".to_owned()), Just("AnswerTime".to_owned()),
                Just("DialALegUUID".to_owned()), ".{0,8}"],
             ".{0,40}"),
            0..12),
    ) {
        let body = serde_urlencoded::to_string(&pairs).unwrap();
        let h = headers(None, None);
        let req = WebhookRequest { public_url: URL, headers: &h, body: body.as_bytes(), now: now() };
        match Plivo.parse(&req) {
            // Messages are fixed strings: they never echo input.
            Err(WebhookError::Malformed(m)) => prop_assert!(MALFORMED_MESSAGES.contains(&m.as_str()), "{}", m),
            Err(other) => prop_assert!(false, "{:?}", other),
            Ok(_) => {}
        }
    }

    #[test]
    fn signed_requests_verify(
        pairs in proptest::collection::vec((".{0,12}", ".{0,20}"), 0..8),
        query in proptest::collection::vec(("[a-z]{1,4}", "[ -~]{0,6}"), 0..3),
        token in "[ -~]{1,32}",
        nonce in "[0-9]{1,20}",
    ) {
        let body = serde_urlencoded::to_string(&pairs).unwrap();
        let q = serde_urlencoded::to_string(&query).unwrap();
        let url = format!("https://example.test/webhooks/plivo/a?{q}");
        let sig = sign(&token, &url, body.as_bytes(), &nonce);
        prop_assert_eq!(verify(&url, body.as_bytes(), Some(&sig), Some(&nonce), &[&token]), Ok(()));
    }
}
