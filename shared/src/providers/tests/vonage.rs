//! Tests of the vonage adapter (`super`): known-answer signatures, the status table, fixtures,
//! malformed input. The contract every provider shares is in `shared/tests/provider_conformance.rs`.

use super::*;
use crate::providers::test_support::fixture;
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use serde_json::json;

const SECRET: &str = "vonage-fixture-signature-secret-0123456789";
const CONVERSATION: &str = "CON-3f0b8c2e-6a4d-4e1f-9b7c-2d5e8a1f4c60";
const LEG_A: &str = "9b1d6f3e2a7c4e58b0f4d2c6a8e1b3f5";
const LEG_B: &str = "5e2a9c7d-1b3f-4a6e-8d0c-7f4b2e9a1c38";

/// Vonage Ruby SDK, `test/vonage/test.rb` (`sample_webhook_token`,
/// `sample_valid_signature_secret`, `sample_invalid_signature_secret`), used by
/// `test/vonage/jwt_test.rb` (`verify_hs256_signature`): a real signed-webhook token.
const RUBY_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpYXQiOjE1ODc0OTQ5NjIsImp0aSI6ImM1YmE4ZjI0LTFhMTQtNGMxMC1iZmRmLTNmYmU4Y2U1MTFiNSIsImlzcyI6IlZvbmFnZSIsInBheWxvYWRfaGFzaCI6ImQ2YzBlNzRiNTg1N2RmMjBlM2I3ZTUxYjMwYzBjMmE0MGVjNzNhNzc4NzliNmYwNzRkZGM3YTIzMTdkZDAzMWIiLCJhcGlfa2V5IjoiYTFiMmMzZCIsImFwcGxpY2F0aW9uX2lkIjoiYWFhYWFhYWEtYmJiYi1jY2NjLWRkZGQtMDEyMzQ1Njc4OWFiIn0.JQRKi1d0SQitmjPINfTWMpt3XZkGsLbD7EjCdXoNSbk";
const RUBY_VALID_SECRET: &str = "ZYtdTtGV3BCFN7tWmOWr1md66XsquMggr4W2cTtXtcPgfnI0Xw";
const RUBY_INVALID_SECRET: &str = "ZYtdTtGV3BCFN7tWmOWr1md66XsquMggr4W2cTtXtcPgf55555";
const RUBY_IAT: i64 = 1_587_494_962;
const RUBY_PAYLOAD_HASH: &str = "d6c0e74b5857df20e3b7e51b30c0c2a40ec73a77879b6f074ddc7a2317dd031b";
/// Vonage Python SDK, `jwt/tests/test_verify_jwt.py` (`token`, `valid_signature`,
/// `invalid_signature`), used by `verify_signature`.
const PYTHON_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJPbmxpbmUgSldUIEJ1aWxkZXIiLCJpYXQiOjE2OTc2MzQ2ODAsImV4cCI6MzMyNTQ1NDA4MjgsImF1ZCI6IiIsInN1YiI6IiJ9.88vJc3I2HhuqEDixHXVhc9R30tA6U_HQHZTC29y6CGM";
const PYTHON_VALID_SECRET: &str = "qwertyuiopasdfghjklzxcvbnm123456";
const PYTHON_INVALID_SECRET: &str = "asdf";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-03-04T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn at(ts: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(ts, 0).unwrap()
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert(
        AUTHORIZATION_HEADER,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    h
}

fn verify_at(
    h: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
    secrets: &[&str],
) -> Result<(), WebhookError> {
    let req = WebhookRequest {
        public_url: "https://x.test/webhooks/vonage/acme",
        headers: h,
        body,
        now,
    };
    Vonage.verify(&req, secrets)
}

fn parse_bytes(body: &[u8]) -> Result<Option<CallEvent>, WebhookError> {
    let h = HeaderMap::new();
    let req = WebhookRequest {
        public_url: "https://x.test/webhooks/vonage/acme",
        headers: &h,
        body,
        now: now(),
    };
    Vonage.parse(&req)
}

fn parse_json(v: &Value) -> Result<Option<CallEvent>, WebhookError> {
    parse_bytes(v.to_string().as_bytes())
}

fn leg_of(v: &Value) -> Option<InboundLeg> {
    let h = HeaderMap::new();
    let body = v.to_string();
    let req = WebhookRequest {
        public_url: "",
        headers: &h,
        body: body.as_bytes(),
        now: now(),
    };
    inbound_leg(&req)
}

/// Leg A (`inbound`) or B (`outbound`) with `status`, in Vonage's field order.
fn event(status: &str, direction: &str) -> Value {
    let (from, to, uuid) = if direction == "inbound" {
        ("33600000001", "33144000000", LEG_A)
    } else {
        ("33144000000", "33144000001", LEG_B)
    };
    json!({
        "headers": {},
        "from": from,
        "to": to,
        "uuid": uuid,
        "conversation_uuid": CONVERSATION,
        "status": status,
        "direction": direction,
        "timestamp": "2025-03-04T09:59:51.207Z",
    })
}

fn with(mut v: Value, field: &str, value: Value) -> Value {
    v[field] = value;
    v
}

fn without(mut v: Value, field: &str) -> Value {
    v.as_object_mut().unwrap().remove(field);
    v
}

// ---- known answers: Vonage SDK vectors -------------------------------------------------

#[test]
fn ruby_sdk_webhook_token_verifies_with_its_secret() {
    let claims = verified_claims(RUBY_TOKEN, &[RUBY_VALID_SECRET]).unwrap();
    assert_eq!(claims["iat"], json!(RUBY_IAT));
    assert_eq!(claims["iss"], json!("Vonage"));
    assert_eq!(claims["payload_hash"], json!(RUBY_PAYLOAD_HASH));
    assert_eq!(
        verified_claims(RUBY_TOKEN, &[RUBY_INVALID_SECRET]),
        Err(WebhookError::Unauthorized("JWT signature does not match"))
    );
    // Rotation: either secret may match.
    assert!(verified_claims(RUBY_TOKEN, &[RUBY_INVALID_SECRET, RUBY_VALID_SECRET]).is_ok());
}

#[test]
fn ruby_sdk_webhook_token_through_verify() {
    // Signature and iat pass; the body the SDK hashed is not published, so the payload
    // check is what refuses an arbitrary body.
    let h = bearer(RUBY_TOKEN);
    assert_eq!(
        verify_at(&h, b"{}", at(RUBY_IAT + 10), &[RUBY_VALID_SECRET]),
        Err(WebhookError::Unauthorized(
            "JWT payload_hash does not match the body"
        ))
    );
    assert_eq!(
        verify_at(&h, b"{}", at(RUBY_IAT + 10), &[RUBY_INVALID_SECRET]),
        Err(WebhookError::Unauthorized("JWT signature does not match"))
    );
    assert_eq!(
        verify_at(&h, b"{}", now(), &[RUBY_VALID_SECRET]),
        Err(WebhookError::Unauthorized("JWT iat outside the tolerance"))
    );
}

#[test]
fn python_sdk_token_verifies_with_its_secret() {
    let claims = verified_claims(PYTHON_TOKEN, &[PYTHON_VALID_SECRET]).unwrap();
    assert_eq!(claims["iat"], json!(1_697_634_680));
    assert_eq!(
        verified_claims(PYTHON_TOKEN, &[PYTHON_INVALID_SECRET]),
        Err(WebhookError::Unauthorized("JWT signature does not match"))
    );
    // The SDK's error case: "asdf" is not a JWT.
    assert_eq!(
        verified_claims("asdf", &[PYTHON_VALID_SECRET]),
        Err(WebhookError::Unauthorized("malformed JWT"))
    );
    // Not a webhook token: it has no payload_hash.
    let h = bearer(PYTHON_TOKEN);
    assert_eq!(
        verify_at(&h, b"{}", at(1_697_634_680), &[PYTHON_VALID_SECRET]),
        Err(WebhookError::Unauthorized("JWT has no payload_hash claim"))
    );
}

#[test]
fn sign_is_verifiable_by_an_independent_implementation() {
    // The header segment is the standard HS256 one; payload_hash is the SHA-256 of the
    // body as Python's hashlib computes it. (The fixtures' tokens, made with Python's
    // hmac/hashlib/base64, are verified by `fixtures_parse_and_verify_as_expected`.)
    let token = sign(SECRET, b"{}", 1_741_082_400);
    let (signing_input, _) = token.rsplit_once('.').unwrap();
    let (header, claims) = signing_input.split_once('.').unwrap();
    assert_eq!(header, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9");
    let claims = json_segment(claims).unwrap();
    assert_eq!(
        claims["payload_hash"],
        json!("44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
    );
    assert_eq!(
        verified_claims(&token, &[SECRET]).unwrap()["iat"],
        1_741_082_400
    );
}

// ---- verify -----------------------------------------------------------------------------

#[test]
fn signed_body_verifies_and_tampering_does_not() {
    let body = event("timeout", "outbound").to_string().into_bytes();
    let h = bearer(&sign(SECRET, &body, now().timestamp() - 5));
    assert_eq!(verify_at(&h, &body, now(), &[SECRET]), Ok(()));
    assert_eq!(verify_at(&h, &body, now(), &["", "old", SECRET]), Ok(()));

    let tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace("timeout", "answered");
    assert_eq!(
        verify_at(&h, tampered.as_bytes(), now(), &[SECRET]),
        Err(WebhookError::Unauthorized(
            "JWT payload_hash does not match the body"
        ))
    );
    assert_eq!(
        verify_at(&h, &body, now(), &["wrong-secret"]),
        Err(WebhookError::Unauthorized("JWT signature does not match"))
    );
    assert_eq!(
        verify_at(&h, &body, now(), &["", ""]),
        Err(WebhookError::Unauthorized(
            "no Vonage signature secret configured"
        ))
    );
    assert_eq!(
        verify_at(&h, &body, now(), &[]),
        Err(WebhookError::Unauthorized(
            "no Vonage signature secret configured"
        ))
    );
}

#[test]
fn iat_tolerance_both_ways() {
    let body = b"{\"status\":\"busy\"}";
    for (offset, ok) in [
        (0, true),
        (-300, true),
        (300, true),
        (-301, false),
        (301, false),
        (-86_400, false),
    ] {
        let h = bearer(&sign(SECRET, body, now().timestamp() + offset));
        let got = verify_at(&h, body, now(), &[SECRET]);
        if ok {
            assert_eq!(got, Ok(()), "{offset}");
        } else {
            assert_eq!(
                got,
                Err(WebhookError::Unauthorized("JWT iat outside the tolerance")),
                "{offset}"
            );
        }
    }
}

/// A token with arbitrary header and claims JSON, correctly signed with [`SECRET`].
fn forge(header: &Value, claims: &Value) -> String {
    let h = BASE64URL.encode(header.to_string());
    let c = BASE64URL.encode(claims.to_string());
    let s = BASE64URL.encode(jwt_mac(SECRET, &h, &c).finalize().into_bytes());
    format!("{h}.{c}.{s}")
}

#[test]
fn claims_are_checked_after_the_signature() {
    let body = b"{}";
    let hash = hex::encode(Sha256::digest(body));
    let ts = now().timestamp();
    let hs256 = json!({"alg": "HS256", "typ": "JWT"});
    let cases: Vec<(Value, Value, &str)> = vec![
        (
            json!({"alg": "none"}),
            json!({"iat": ts, "payload_hash": hash}),
            "JWT alg is not HS256",
        ),
        (
            json!({"alg": "RS256"}),
            json!({"iat": ts, "payload_hash": hash}),
            "JWT alg is not HS256",
        ),
        (
            json!({"typ": "JWT"}),
            json!({"iat": ts, "payload_hash": hash}),
            "JWT alg is not HS256",
        ),
        (json!([1]), json!({"iat": ts}), "malformed JWT"),
        (hs256.clone(), json!([ts]), "malformed JWT claims"),
        (
            hs256.clone(),
            json!({"payload_hash": hash}),
            "JWT has no numeric iat claim",
        ),
        (
            hs256.clone(),
            json!({"iat": ts.to_string(), "payload_hash": hash}),
            "JWT has no numeric iat claim",
        ),
        (
            hs256.clone(),
            json!({"iat": ts}),
            "JWT has no payload_hash claim",
        ),
        (
            hs256.clone(),
            json!({"iat": ts, "payload_hash": 7}),
            "JWT has no payload_hash claim",
        ),
        (
            hs256.clone(),
            json!({"iat": ts, "payload_hash": "zz"}),
            "JWT payload_hash does not match the body",
        ),
        (
            hs256.clone(),
            json!({"iat": ts, "exp": ts - 1, "payload_hash": hash}),
            "JWT has expired",
        ),
        (
            hs256.clone(),
            json!({"iat": ts, "exp": "never", "payload_hash": hash}),
            "JWT has expired",
        ),
    ];
    for (header, claims, msg) in cases {
        let h = bearer(&forge(&header, &claims));
        assert_eq!(
            verify_at(&h, body, now(), &[SECRET]),
            Err(WebhookError::Unauthorized(msg)),
            "{header} {claims}"
        );
    }
    // Accepted variants: fractional iat, future exp, upper-case hash.
    for claims in [
        json!({"iat": ts as f64 + 0.5, "payload_hash": hash}),
        json!({"iat": ts, "exp": ts + 60, "payload_hash": hash}),
        json!({"iat": ts, "payload_hash": hash.to_uppercase()}),
    ] {
        let h = bearer(&forge(&hs256, &claims));
        assert_eq!(verify_at(&h, body, now(), &[SECRET]), Ok(()), "{claims}");
    }
}

#[test]
fn malformed_authorization_headers() {
    let body = b"{}";
    let good = sign(SECRET, body, now().timestamp());
    let (signing_input, _) = good.rsplit_once('.').unwrap();
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "missing Authorization header"),
        (Some(good.clone()), "Authorization is not a Bearer token"),
        (
            Some(format!("Basic {good}")),
            "Authorization is not a Bearer token",
        ),
        (Some("Bearer".into()), "Authorization is not a Bearer token"),
        (
            Some("Bearer    ".into()),
            "Authorization is not a Bearer token",
        ),
        (
            Some(format!("Bearer {}", "a".repeat(5000))),
            "Authorization is not a Bearer token",
        ),
        (Some("Bearer a.b".into()), "malformed JWT"),
        (Some(format!("Bearer {good}.x")), "malformed JWT"),
        (Some(format!("Bearer {signing_input}.***")), "malformed JWT"),
        (
            Some(format!("Bearer {signing_input}.")),
            "JWT signature does not match",
        ),
        (Some("Bearer !!.e30.e30".into()), "malformed JWT"),
        (
            Some(format!("Bearer {signing_input}.AAAA")),
            "JWT signature does not match",
        ),
    ];
    for (value, msg) in cases {
        let mut h = HeaderMap::new();
        if let Some(v) = &value {
            h.insert(AUTHORIZATION_HEADER, HeaderValue::from_str(v).unwrap());
        }
        assert_eq!(
            verify_at(&h, body, now(), &[SECRET]),
            Err(WebhookError::Unauthorized(msg)),
            "{value:?}"
        );
    }
    let mut h = HeaderMap::new();
    h.insert(
        AUTHORIZATION_HEADER,
        HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
    );
    assert_eq!(
        verify_at(&h, body, now(), &[SECRET]),
        Err(WebhookError::Unauthorized("malformed Authorization header"))
    );
    // Scheme is case-insensitive; surrounding spaces are tolerated.
    let h = {
        let mut h = HeaderMap::new();
        h.insert(
            AUTHORIZATION_HEADER,
            HeaderValue::from_str(&format!("  bearer  {good} ")).unwrap(),
        );
        h
    };
    assert_eq!(verify_at(&h, body, now(), &[SECRET]), Ok(()));
}

// ---- parse ------------------------------------------------------------------------------

#[test]
fn mapping_table_for_both_legs() {
    use CallStatus::*;
    // (word, leg A inbound, leg B outbound); None = not stored.
    let table: [(&str, Option<CallStatus>, Option<CallStatus>); 17] = [
        ("started", None, None),
        ("ringing", None, None),
        ("answered", None, Some(Answered)),
        // A leg B that is not answered decides nothing (a hunt group may ring another).
        ("busy", Some(Busy), Some(Other)),
        ("timeout", Some(NoAnswer), Some(Other)),
        ("unanswered", Some(NoAnswer), Some(Other)),
        ("rejected", Some(Rejected), Some(Other)),
        ("failed", Some(Failed), Some(Other)),
        ("cancelled", Some(Canceled), Some(Other)),
        // Leg A's end: missed unless a leg B was answered during the call (rule 5).
        ("completed", Some(NoAnswer), None),
        ("disconnected", None, None),
        ("human", None, None),
        ("machine", None, None),
        ("input", None, None),
        ("transfer", None, None),
        ("record", None, None),
        ("brand-new", None, None),
    ];
    for (word, inbound, outbound) in table {
        for (direction, want, want_dir, from, to, leg) in [
            (
                "inbound",
                inbound,
                Direction::Inbound,
                "+33600000001",
                "+33144000000",
                LEG_A,
            ),
            (
                "outbound",
                outbound,
                Direction::Outbound,
                "+33144000000",
                "+33144000001",
                LEG_B,
            ),
        ] {
            let got = parse_json(&event(word, direction)).unwrap();
            assert_eq!(got.as_ref().map(|e| e.status), want, "{word} {direction}");
            if let Some(e) = got {
                assert_eq!(e.provider, "vonage");
                assert_eq!(e.call_id, format!("{CONVERSATION}#{leg}"));
                assert_eq!(e.direction, want_dir);
                assert_eq!(e.provider_status, word);
                assert_eq!((e.from.as_str(), e.to.as_str()), (from, to));
                assert_eq!(
                    e.ended_at,
                    Some(
                        DateTime::parse_from_rfc3339("2025-03-04T09:59:51.207Z")
                            .unwrap()
                            .with_timezone(&Utc)
                    )
                );
                assert_eq!((e.started_at, e.ring_seconds), (None, None));
            }
        }
    }
}

#[test]
fn events_without_status_are_acknowledged() {
    for v in [
        json!({"conversation_uuid_from": CONVERSATION, "conversation_uuid_to": "CON-x", "uuid": LEG_A, "timestamp": "2025-03-04T09:59:51Z"}),
        json!({"dtmf": {"digits": "1", "timed_out": false}, "uuid": LEG_A, "conversation_uuid": CONVERSATION}),
        json!({"recording_url": "https://api.nexmo.com/v1/files/x", "conversation_uuid": CONVERSATION}),
        json!({"reason": "Invalid NCCO", "conversation_uuid": CONVERSATION}),
        json!({"status": null}),
        json!({}),
    ] {
        assert_eq!(parse_json(&v), Ok(None), "{v}");
    }
}

#[test]
fn numbers_gain_the_plus_and_other_encodings_pass_through() {
    for (raw, want) in [
        ("33600000001", "+33600000001"),
        ("262692000001", "+262692000001"),
        ("+33600000001", "+33600000001"),
        ("0600000001", "+0600000001"),
        ("", ""),
        ("Unknown", "Unknown"),
        ("anonymous", "anonymous"),
        ("restricted", "restricted"),
        ("private", "private"),
        ("unavailable", "unavailable"),
        (
            "sip:anonymous@anonymous.invalid",
            "sip:anonymous@anonymous.invalid",
        ),
        ("266696687", "+266696687"),
        ("2562533", "+2562533"),
        ("123456", "123456"),
        ("1234567890123456", "1234567890123456"),
    ] {
        let e = parse_json(&with(event("busy", "inbound"), "from", json!(raw)))
            .unwrap()
            .unwrap();
        assert_eq!(e.from, want, "{raw}");
        assert_eq!(e.counterpart(), want);
    }
    let e = parse_json(&with(event("busy", "inbound"), "from", Value::Null))
        .unwrap()
        .unwrap();
    assert_eq!(e.from, "");
    let e = parse_json(&without(event("busy", "inbound"), "from"))
        .unwrap()
        .unwrap();
    assert_eq!(e.from, "");
}

#[test]
fn malformed_bodies_have_precise_messages() {
    let n = json!("33600000001");
    let cases: Vec<(Value, &str)> = vec![
        (json!([1]), "body must be a JSON object"),
        (json!("33600000001"), "body must be a JSON object"),
        (
            with(event("busy", "inbound"), "status", json!(7)),
            "status must be a string",
        ),
        (
            without(event("busy", "inbound"), "direction"),
            "direction is missing",
        ),
        (
            with(event("busy", "inbound"), "direction", n.clone()),
            r#"direction must be "inbound" or "outbound""#,
        ),
        (
            with(event("busy", "inbound"), "direction", json!("Inbound")),
            r#"direction must be "inbound" or "outbound""#,
        ),
        (
            without(event("busy", "inbound"), "conversation_uuid"),
            "conversation_uuid is missing",
        ),
        (
            with(
                event("busy", "inbound"),
                "conversation_uuid",
                json!("CON#1"),
            ),
            "conversation_uuid is not a Vonage identifier",
        ),
        (
            with(event("busy", "inbound"), "conversation_uuid", json!("")),
            "conversation_uuid is not a Vonage identifier",
        ),
        (
            with(event("busy", "inbound"), "uuid", json!("x".repeat(65))),
            "uuid is not a Vonage identifier",
        ),
        (
            with(event("busy", "inbound"), "uuid", json!(33600000001u64)),
            "uuid is not a Vonage identifier",
        ),
        (
            with(event("busy", "inbound"), "uuid", json!("+33600000001")),
            "uuid is not a Vonage identifier",
        ),
        (
            without(event("busy", "outbound"), "uuid"),
            "uuid is missing",
        ),
        (
            with(event("busy", "inbound"), "from", json!(33600000001u64)),
            "from must be a string of at most 256 characters",
        ),
        (
            with(event("busy", "inbound"), "to", json!("9".repeat(257))),
            "to must be a string of at most 256 characters",
        ),
    ];
    for (v, msg) in cases {
        let got = parse_json(&v);
        assert_eq!(got, Err(WebhookError::Malformed(msg.into())), "{v}");
        assert!(!msg.contains("600000001"));
    }
    for (raw, msg) in [
        (&b""[..], "body is not valid JSON (line 1, column 0)"),
        (
            b"{\"from\": \"33600000001\"",
            "body is not valid JSON (line 1, column 22)",
        ),
        (
            b"status=busy&from=33600000001",
            "body is not valid JSON (line 1, column 1)",
        ),
    ] {
        assert_eq!(parse_bytes(raw), Err(WebhookError::Malformed(msg.into())));
    }
    // A call-status word needs its direction even when it is not stored; other words
    // and progress events need nothing more.
    assert_eq!(
        parse_json(&json!({"status": "ringing"})),
        Err(malformed("direction is missing"))
    );
    assert_eq!(parse_json(&json!({"status": "machine"})), Ok(None));
    assert_eq!(
        parse_json(&json!({"status": "ringing", "direction": "inbound"})),
        Ok(None)
    );
}

#[test]
fn invalid_timestamp_is_ignored() {
    let e = parse_json(&with(
        event("busy", "outbound"),
        "timestamp",
        json!("yesterday"),
    ))
    .unwrap()
    .unwrap();
    assert_eq!(e.ended_at, None);
}

// ---- correlation helpers ---------------------------------------------------------------

#[test]
fn inbound_leg_is_announced_by_leg_a_progress_events() {
    for word in ["started", "ringing", "answered"] {
        let leg = leg_of(&event(word, "inbound")).unwrap();
        assert_eq!(leg.conversation_uuid, CONVERSATION);
        assert_eq!(leg.leg_uuid, LEG_A);
        assert_eq!(
            (leg.from.as_str(), leg.to.as_str()),
            ("+33600000001", "+33144000000")
        );
        let debug = format!("{leg:?}");
        assert!(
            !debug.contains("600000001") && !debug.contains("144000000"),
            "{debug}"
        );
    }
    for (word, direction) in [
        ("started", "outbound"),
        ("answered", "outbound"),
        ("completed", "inbound"),
        ("busy", "inbound"),
        ("machine", "inbound"),
    ] {
        assert_eq!(leg_of(&event(word, direction)), None, "{word} {direction}");
    }
    assert_eq!(
        leg_of(&without(event("started", "inbound"), "conversation_uuid")),
        None
    );
    assert_eq!(leg_of(&json!([])), None);
}

#[test]
fn leg_a_completed_is_dated_by_its_start_so_any_answer_during_the_call_follows_it() {
    let start = "2025-03-04T09:59:11.207Z";
    let completed = with(event("completed", "inbound"), "start_time", json!(start));
    let e = parse_json(&completed).unwrap().unwrap();
    let start = DateTime::parse_from_rfc3339(start)
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!((e.started_at, e.ended_at), (Some(start), None));
    // A leg B answered 10 s later is human contact after this missed call.
    let answered = parse_json(&event("answered", "outbound")).unwrap().unwrap();
    assert!(answered.ended_at.unwrap() > start);
    // Without a start_time, its end less its duration; without either, its timestamp.
    let e = parse_json(&with(
        event("completed", "inbound"),
        "duration",
        json!("40"),
    ))
    .unwrap()
    .unwrap();
    let end = DateTime::parse_from_rfc3339("2025-03-04T09:59:51.207Z")
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(
        (e.started_at, e.ended_at),
        (Some(end - chrono::Duration::seconds(40)), None)
    );
    let e = parse_json(&event("completed", "inbound")).unwrap().unwrap();
    assert_eq!((e.started_at.is_none(), e.ended_at.is_some()), (true, true));
}

#[test]
fn connect_leg_correlates_and_becomes_the_forwarded_inbound_call() {
    let b = parse_json(&event("timeout", "outbound")).unwrap().unwrap();
    assert_eq!(connect_correlation(&b), Some(CONVERSATION));
    let a_missed = parse_json(&event("cancelled", "inbound")).unwrap().unwrap();
    assert_eq!(connect_correlation(&a_missed), None);
    let other = CallEvent {
        provider: "twilio",
        ..b.clone()
    };
    assert_eq!(connect_correlation(&other), None);

    let inbound = as_forwarded_inbound(&b, "+33600000001", "+33144000000");
    assert_eq!(inbound.direction, Direction::Inbound);
    assert_eq!(inbound.counterpart(), "+33600000001");
    assert_eq!(inbound.to, "+33144000000");
    assert_eq!(
        (
            inbound.call_id.as_str(),
            inbound.status,
            inbound.provider_status.as_str()
        ),
        (b.call_id.as_str(), CallStatus::Other, "timeout")
    );
    assert_eq!(inbound.ended_at, b.ended_at);
}

#[test]
fn ack_is_empty() {
    assert_eq!(
        Vonage.ack(),
        Ack {
            content_type: "text/plain",
            body: ""
        }
    );
    assert_eq!(Vonage.name(), "vonage");
}

// ---- fixtures ---------------------------------------------------------------------------

/// A fixture's parse result: status, direction and counterpart.
type Expected = Option<(CallStatus, Direction, &'static str)>;

#[test]
fn fixtures_parse_and_verify_as_expected() {
    // (file, parse result, announces an inbound leg, correlates)
    let expect: [(&str, Expected, bool, bool); 8] = [
        ("vonage-inbound-started.json", None, true, false),
        ("vonage-inbound-ringing.json", None, true, false),
        ("vonage-inbound-answered.json", None, true, false),
        (
            "vonage-connect-timeout.json",
            Some((CallStatus::Other, Direction::Outbound, "+33144000001")),
            false,
            true,
        ),
        (
            "vonage-connect-busy.json",
            Some((CallStatus::Other, Direction::Outbound, "+33144000001")),
            false,
            true,
        ),
        (
            "vonage-connect-answered.json",
            Some((CallStatus::Answered, Direction::Outbound, "+33144000001")),
            false,
            true,
        ),
        (
            "vonage-inbound-completed.json",
            Some((CallStatus::NoAnswer, Direction::Inbound, "+33600000001")),
            false,
            false,
        ),
        (
            "vonage-inbound-cancelled.json",
            Some((CallStatus::Canceled, Direction::Inbound, "+33600000002")),
            false,
            false,
        ),
    ];
    for (file, want, announces, correlates) in expect {
        let (h, body) = fixture(file);
        // Numbers only from the test ranges (README, "Tests"), in Vonage's form (no '+').
        let fields: Value = serde_json::from_slice(&body).unwrap();
        for f in ["from", "to"] {
            let n = fields[f].as_str().unwrap();
            assert!(
                n.len() == 11 && (n.starts_with("336000000") || n.starts_with("331440000")),
                "{file}"
            );
        }
        let req = WebhookRequest {
            public_url: "https://example.test/webhooks/vonage/acme",
            headers: &h,
            body: &body,
            now: now(),
        };
        // The fixture's own token verifies (signed by the generator with SECRET).
        assert_eq!(Vonage.verify(&req, &[SECRET]), Ok(()), "{file}");
        assert!(Vonage.verify(&req, &["another-secret"]).is_err(), "{file}");
        let got = Vonage.parse(&req).unwrap();
        assert_eq!(
            got.as_ref()
                .map(|e| (e.status, e.direction, e.counterpart())),
            want,
            "{file}"
        );
        assert_eq!(inbound_leg(&req).is_some(), announces, "{file}");
        assert_eq!(
            got.as_ref().and_then(connect_correlation).is_some(),
            correlates,
            "{file}"
        );
    }
}

// ---- properties -------------------------------------------------------------------------

proptest! {
    #[test]
    fn never_panics_on_arbitrary_input(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        auth in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(&auth) {
            h.insert(AUTHORIZATION_HEADER, v);
        }
        let req = WebhookRequest { public_url: "", headers: &h, body: &body, now: now() };
        let _ = Vonage.verify(&req, &[SECRET, ""]);
        let _ = Vonage.parse(&req);
        let _ = inbound_leg(&req);
    }

    #[test]
    fn never_panics_on_token_like_input(
        header in proptest::collection::vec(any::<u8>(), 0..64),
        claims in proptest::collection::vec(any::<u8>(), 0..128),
        sig in proptest::collection::vec(any::<u8>(), 0..40),
        scheme in prop_oneof![Just("Bearer "), Just("bearer "), Just("")],
    ) {
        let token = format!(
            "{scheme}{}.{}.{}",
            BASE64URL.encode(&header), BASE64URL.encode(&claims), BASE64URL.encode(&sig)
        );
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION_HEADER, HeaderValue::from_str(&token).unwrap());
        let req = WebhookRequest { public_url: "", headers: &h, body: b"{}", now: now() };
        prop_assert!(matches!(Vonage.verify(&req, &[SECRET]), Err(WebhookError::Unauthorized(_))));
    }

    #[test]
    fn never_panics_on_json_like_input(
        fields in proptest::collection::btree_map(
            prop_oneof![
                Just("status".to_owned()), Just("direction".to_owned()), Just("uuid".to_owned()),
                Just("conversation_uuid".to_owned()), Just("from".to_owned()), Just("to".to_owned()),
                Just("timestamp".to_owned()), Just("duration".to_owned()), "[a-z_]{1,8}"],
            prop_oneof![
                Just(Value::Null), any::<bool>().prop_map(Value::from), any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from), ".{0,40}".prop_map(Value::from),
                Just(json!("inbound")), Just(json!("outbound")), Just(json!("busy")),
                Just(json!("answered")), Just(json!("started")), Just(json!(CONVERSATION)),
                Just(json!("33600000001")), Just(json!("2025-03-04T10:00:00Z"))],
            0..10),
        iat_offset in -1000i64..1000,
    ) {
        let body = serde_json::to_vec(&fields).unwrap();
        let h = bearer(&sign(SECRET, &body, now().timestamp() + iat_offset));
        let req = WebhookRequest { public_url: "", headers: &h, body: &body, now: now() };
        prop_assert_eq!(Vonage.verify(&req, &[SECRET]).is_ok(), iat_offset.abs() <= 300);
        match Vonage.parse(&req) {
            Err(WebhookError::Malformed(m)) => prop_assert!(is_known_message(&m), "{}", m),
            Err(other) => prop_assert!(false, "{:?}", other),
            Ok(Some(e)) => {
                prop_assert!(e.call_id.starts_with(fields["conversation_uuid"].as_str().unwrap()));
                prop_assert!(connect_correlation(&e).is_some() == (e.direction == Direction::Outbound));
            }
            Ok(None) => {}
        }
        let _ = inbound_leg(&req);
    }

    #[test]
    fn signed_bodies_verify(
        body in proptest::collection::vec(any::<u8>(), 0..256),
        secret in "[ -~]{1,40}",
        iat in 0i64..4_000_000_000,
    ) {
        let h = bearer(&sign(&secret, &body, iat));
        prop_assert_eq!(verify_at(&h, &body, at(iat), &["unrelated", &secret]), Ok(()));
    }
}

/// Whether `m` is one of the fixed Malformed messages of [`Vonage::parse`].
fn is_known_message(m: &str) -> bool {
    if let Some(rest) = m.strip_prefix("body is not valid JSON (line ") {
        return rest
            .bytes()
            .all(|b| b.is_ascii_digit() || b", column)".contains(&b));
    }
    let mut known = vec![
        "body must be a JSON object".to_owned(),
        "status must be a string".to_owned(),
        "direction is missing".to_owned(),
        r#"direction must be "inbound" or "outbound""#.to_owned(),
    ];
    for f in ["uuid", "conversation_uuid"] {
        known.push(format!("{f} is missing"));
        known.push(format!("{f} is not a Vonage identifier"));
    }
    for f in ["from", "to"] {
        known.push(format!("{f} must be a string of at most 256 characters"));
    }
    known.iter().any(|k| k == m)
}
