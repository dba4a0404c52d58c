//! Tests of the ringover adapter (`super`): known-answer signatures, the status table, fixtures,
//! malformed input. The contract every provider shares is in `shared/tests/provider_conformance.rs`.

use super::*;
use serde_json::json;

const KEY: &str = "ringover-webhook-key";
const URL: &str = "https://rappel.example.fr/webhooks/ringover/acme";

fn missed(ts: f64) -> Value {
    json!({"resource": "call", "event": "missed", "timestamp": ts, "attempt": 1,
        "data": {"id": "57622f20-a020-4f9e-814c-62a6123412fa", "call_id": 1234567890987654400u64,
        "channel_id": 123456789, "start_time": ts - 20.5, "hangup_time": ts - 0.5,
        "direction": "inbound", "from_number": "33600000101", "to_number": "33144000000",
        "user_id": 12854321, "is_internal": false, "is_anonymous": false, "is_ivr": false,
        "status": "missed", "reason": "OUT_PLANNING"}})
}

/// A token as Ringover makes one: HS512 over `header.claims`.
fn sign(key: &str, alg: &str, claims: &Value) -> String {
    let header = BASE64URL.encode(json!({"alg": alg, "typ": "JWT"}).to_string());
    let claims = BASE64URL.encode(claims.to_string());
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{header}.{claims}").as_bytes());
    let sig = BASE64URL.encode(mac.finalize().into_bytes());
    format!("{header}.{claims}.{sig}")
}

fn check(token: &str, body: &Value, now: f64, keys: &[&str]) -> Result<(), WebhookError> {
    let mut headers = http::HeaderMap::new();
    headers.insert(SIGNATURE_HEADER, token.parse().unwrap());
    let body = body.to_string();
    let req = WebhookRequest {
        public_url: URL,
        headers: &headers,
        body: body.as_bytes(),
        now: DateTime::from_timestamp_millis((now * 1000.0) as i64).unwrap(),
    };
    Ringover.verify(&req, keys)
}

const NOW: f64 = 1_764_669_600.0;

#[test]
fn hs512_known_answer_computed_by_python_hmac() {
    // Python's hmac + hashlib.sha512 over `base64url(header).base64url(claims)`, header
    // {"alg":"HS512","typ":"JWT"} and claims {"foo":"bar"} serialized compactly (what
    // PyJWT and jsonwebtoken produce for them).
    const TOKEN: &str = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJmb28iOiJiYXIifQ.iXG7uAqOEtJgE4SEyLPZONuDEiUMcnn7ZiVu9UxaPWPE40uxeS4sO0oqcanD7uNwM8abyUxaTkHXaPrsXfUeTg";
    assert_eq!(
        verified_claims(TOKEN, &[KEY]).unwrap(),
        json!({"foo": "bar"})
    );
    assert_eq!(sign(KEY, "HS512", &json!({"foo": "bar"})), TOKEN);
    assert_eq!(
        verified_claims(TOKEN, &["another-key"]),
        Err(WebhookError::Unauthorized("bad Ringover signature"))
    );
    let mut flipped = TOKEN.to_string();
    flipped.replace_range(40..41, "X");
    assert!(verified_claims(&flipped, &[KEY]).is_err());
}

#[test]
fn wrapped_and_flat_signed_events_are_accepted_within_the_window() {
    let event = missed(NOW);
    let wrapped = sign(KEY, "HS512", &json!({"url": URL, "payload": event}));
    assert_eq!(check(&wrapped, &event, NOW + 299.0, &[KEY]), Ok(()));
    let flat = sign(KEY, "HS512", &event);
    assert_eq!(check(&flat, &event, NOW - 299.0, &["old", KEY]), Ok(()));
}

#[test]
fn tampered_replayed_misaddressed_or_unsigned_requests_are_refused() {
    let event = missed(NOW);
    let token = sign(KEY, "HS512", &json!({"url": URL, "payload": event}));
    let unauthorized = |why| Err(WebhookError::Unauthorized(why));
    // The body changed on the way (another caller), the token kept.
    let mut tampered = event.clone();
    tampered["data"]["from_number"] = json!("33600000102");
    assert_eq!(
        check(&token, &tampered, NOW, &[KEY]),
        unauthorized("the body is not the event Ringover signed")
    );
    assert_eq!(
        check(&token, &event, NOW + 301.0, &[KEY]),
        unauthorized("Ringover timestamp outside the tolerance")
    );
    let elsewhere = sign(
        KEY,
        "HS512",
        &json!({"url": "https://evil.example/hook", "payload": event}),
    );
    assert_eq!(
        check(&elsewhere, &event, NOW, &[KEY]),
        unauthorized("the Ringover signature is for another URL")
    );
    assert_eq!(
        check(&token, &event, NOW, &["not-the-key"]),
        unauthorized("bad Ringover signature")
    );
    assert_eq!(
        check(&token, &event, NOW, &[""]),
        unauthorized("no Ringover key configured")
    );
    let hs256 = sign(KEY, "HS256", &json!({"payload": event}));
    assert_eq!(
        check(&hs256, &event, NOW, &[KEY]),
        unauthorized("the Ringover signature is not HS512")
    );
    let none = format!(
        "{}.{}.",
        BASE64URL.encode(r#"{"alg":"none"}"#),
        BASE64URL.encode(json!({"payload": event}).to_string())
    );
    assert_eq!(
        check(&none, &event, NOW, &[KEY]),
        unauthorized("the Ringover signature is not HS512")
    );
    let expired = sign(KEY, "HS512", &json!({"payload": event, "exp": NOW - 1.0}));
    assert_eq!(
        check(&expired, &event, NOW, &[KEY]),
        unauthorized("the Ringover signature expired")
    );
    assert_eq!(
        check("not-a-jwt", &event, NOW, &[KEY]),
        unauthorized("malformed X-Ringover-Webhook-Signature")
    );
}

#[test]
fn status_table() {
    let with = |event: &str, data: Value| {
        let mut v = missed(NOW);
        v["event"] = json!(event);
        for (k, val) in data.as_object().unwrap() {
            v["data"][k] = val.clone();
        }
        parse_value(&v)
            .unwrap()
            .map(|e| (e.status, e.provider_status))
    };
    let none = json!({});
    assert_eq!(
        with("missed", none.clone()),
        Some((CallStatus::NoAnswer, "missed:OUT_PLANNING".into()))
    );
    assert_eq!(
        with("voicemail", json!({"reason": null})),
        Some((CallStatus::Voicemail, "voicemail".into()))
    );
    assert_eq!(
        with("answered", json!({"reason": null})).map(|s| s.0),
        Some(CallStatus::Answered)
    );
    assert_eq!(
        with(
            "hangup",
            json!({"answered_time": NOW - 10.0, "duration_in_seconds": 10})
        )
        .map(|s| s.0),
        Some(CallStatus::Answered)
    );
    assert_eq!(
        with("hangup", json!({"duration_in_seconds": 0})).map(|s| s.0),
        Some(CallStatus::NoAnswer)
    );
    assert_eq!(with("ringing", none.clone()), None);
    assert_eq!(with("missed", json!({"is_internal": true})), None);
    let mut aftercall = missed(NOW);
    aftercall["resource"] = json!("aftercall");
    assert_eq!(parse_value(&aftercall).unwrap(), None);
}

#[test]
fn parties_ids_and_times_as_ringover_writes_them() {
    let e = parse_value(&missed(NOW)).unwrap().unwrap();
    assert_eq!(e.call_id, "1234567890987654400");
    assert_eq!(
        (e.from.as_str(), e.to.as_str()),
        ("+33600000101", "+33144000000")
    );
    assert_eq!(e.direction, Direction::Inbound);
    assert_eq!(e.ring_seconds, Some(20));
    assert_eq!(
        e.ended_at.unwrap().timestamp_millis(),
        (NOW * 1000.0) as i64 - 500
    );
    let mut anonymous = missed(NOW);
    anonymous["data"]["is_anonymous"] = json!(true);
    assert_eq!(parse_value(&anonymous).unwrap().unwrap().from, "anonymous");
    for (field, bad, message) in [
        (
            "call_id",
            json!(-1),
            "data.call_id must be a positive integer",
        ),
        (
            "call_id",
            json!(1.5),
            "data.call_id must be a positive integer",
        ),
        (
            "direction",
            json!("in"),
            r#"data.direction must be "inbound" or "outbound""#,
        ),
        (
            "from_number",
            json!(["33600000101"]),
            "data.from_number must be a string",
        ),
    ] {
        let mut v = missed(NOW);
        v["data"][field] = bad;
        let err = parse_value(&v).unwrap_err();
        assert_eq!(err, WebhookError::Malformed(message.into()));
        assert!(!err.to_string().contains("600000101"));
    }
}

#[test]
fn fixtures_parse_as_the_status_table_says() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/providers");
    let expect: [(&str, Option<(CallStatus, Direction, &str)>); 7] = [
        (
            "ringover-missed.json",
            Some((CallStatus::NoAnswer, Direction::Inbound, "+33600000101")),
        ),
        (
            "ringover-hangup-answered.json",
            Some((CallStatus::Answered, Direction::Inbound, "+33600000101")),
        ),
        (
            "ringover-voicemail.json",
            Some((CallStatus::Voicemail, Direction::Inbound, "+33600000101")),
        ),
        (
            "ringover-anonymous.json",
            Some((CallStatus::NoAnswer, Direction::Inbound, "anonymous")),
        ),
        (
            "ringover-landline.json",
            Some((CallStatus::NoAnswer, Direction::Inbound, "+33144000101")),
        ),
        (
            "ringover-outbound-answered.json",
            Some((CallStatus::Answered, Direction::Outbound, "+33600000101")),
        ),
        ("ringover-ringing.json", None),
    ];
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.starts_with("ringover-") {
            seen += 1;
            assert!(
                expect.iter().any(|(n, _)| *n == name),
                "{name} has no expectation"
            );
        }
    }
    assert_eq!(seen, expect.len());
    for (name, want) in expect {
        let fixture: Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{name}")).unwrap())
                .unwrap();
        let body: Value = serde_json::from_str(fixture["body"].as_str().unwrap()).unwrap();
        // Signed as Ringover does, delivered within the window.
        let token = sign(KEY, "HS512", &json!({"url": URL, "payload": body}));
        let now = body["timestamp"].as_f64().unwrap() + 2.0;
        assert_eq!(check(&token, &body, now, &[KEY]), Ok(()), "{name}");
        let got = parse_value(&body)
            .unwrap()
            .map(|e| (e.status, e.direction, e.counterpart().to_string()));
        assert_eq!(got, want.map(|(s, d, c)| (s, d, c.to_string())), "{name}");
    }
}
