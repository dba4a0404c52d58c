//! The hot path of a webhook, per provider, as webhook-intake and eligibility run it without
//! their AWS calls: verify the signature, parse the payload, classify the caller's number
//! (libphonenumber metadata), and decide (`rules::decide`). One missed call per provider, from
//! `events/providers/`, signed here as the provider would.
//!
//! `cargo bench -p rappel-bench --bench hot_path` (criterion); `make bench` runs it and puts the
//! medians in its table next to the Python equivalent (`bench/python_baseline.py`).

use base64::Engine;
use chrono::{DateTime, Utc};
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use ed25519_dalek::{Signer, SigningKey};
use http::{HeaderMap, HeaderName, HeaderValue};
use rappel::account::Account;
use rappel::phone::{Caller, classify};
use rappel::providers::{self, WebhookRequest};
use rappel::rules::{CallFacts, CallerFacts, decide};
use serde_json::Value;

const BASE: &str = "https://rappel.example.fr/webhooks";

/// One provider's signed missed call.
struct Case {
    provider: &'static str,
    url: String,
    headers: HeaderMap,
    body: Vec<u8>,
    secret: String,
    now: DateTime<Utc>,
}

fn fixture(name: &str) -> (HeaderMap, Vec<u8>) {
    let path = format!(
        "{}/../events/providers/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let value: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("fixture JSON");
    let mut headers = HeaderMap::new();
    for (k, v) in value["headers"].as_object().expect("headers") {
        headers.insert(
            HeaderName::from_bytes(k.as_bytes()).expect("header name"),
            HeaderValue::from_str(v.as_str().expect("header value")).expect("header value"),
        );
    }
    (
        headers,
        value["body"].as_str().expect("body").as_bytes().to_vec(),
    )
}

fn at(unix: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(unix, 0).expect("instant")
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    headers.insert(name, HeaderValue::from_str(value).expect("header value"));
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // Generic: HMAC-SHA256 over "{timestamp}.{body}".
    {
        let (mut headers, body) = fixture("generic-no-answer");
        let ts = 1_741_082_380;
        set(&mut headers, "x-rappel-timestamp", &ts.to_string());
        set(
            &mut headers,
            "x-rappel-signature",
            &providers::generic::sign("demo-generic-secret", ts, &body),
        );
        cases.push(Case {
            provider: "generic",
            url: format!("{BASE}/generic/demo"),
            headers,
            body,
            secret: "demo-generic-secret".into(),
            now: at(ts),
        });
    }
    // Twilio: HMAC-SHA1 over the URL and the sorted form parameters.
    {
        let (mut headers, body) = fixture("twilio-dial-no-answer");
        let url = format!("{BASE}/twilio/demo");
        set(
            &mut headers,
            "x-twilio-signature",
            &providers::twilio::sign("demo-twilio-auth-token", &url, &body),
        );
        cases.push(Case {
            provider: "twilio",
            url,
            headers,
            body,
            secret: "demo-twilio-auth-token".into(),
            now: at(1_741_082_380),
        });
    }
    // Plivo: signature V3 (HMAC-SHA256 with a nonce).
    {
        let (mut headers, body) = fixture("plivo-dial-no-answer");
        let url = format!("{BASE}/plivo/demo");
        let nonce = "12345678901234567890";
        set(&mut headers, "x-plivo-signature-v3-nonce", nonce);
        set(
            &mut headers,
            "x-plivo-signature-v3",
            &providers::plivo::sign("demo-plivo-auth-token", &url, &body, nonce),
        );
        cases.push(Case {
            provider: "plivo",
            url,
            headers,
            body,
            secret: "demo-plivo-auth-token".into(),
            now: at(1_741_082_380),
        });
    }
    // Vonage: a signed JWT (HS256) carrying the body's SHA-256.
    {
        let (mut headers, body) = fixture("vonage-inbound-cancelled");
        let iat = 1_741_082_380;
        let token = providers::vonage::sign("demo-vonage-signature-secret", &body, iat);
        set(&mut headers, "authorization", &format!("Bearer {token}"));
        cases.push(Case {
            provider: "vonage",
            url: format!("{BASE}/vonage/demo"),
            headers,
            body,
            secret: "demo-vonage-signature-secret".into(),
            now: at(iat),
        });
    }
    // Telnyx: Ed25519 over "{timestamp}|{body}" (RFC 8032 test key).
    {
        let (mut headers, body) = fixture("telnyx-hangup-caller-cancel");
        let key = SigningKey::from_bytes(
            &<[u8; 32]>::try_from(
                hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                    .expect("hex"),
            )
            .expect("32 bytes"),
        );
        let ts = 1_741_082_381;
        let mut signed = format!("{ts}|").into_bytes();
        signed.extend_from_slice(&body);
        let b64 = base64::engine::general_purpose::STANDARD;
        set(&mut headers, "telnyx-timestamp", &ts.to_string());
        set(
            &mut headers,
            "telnyx-signature-ed25519",
            &b64.encode(key.sign(&signed).to_bytes()),
        );
        cases.push(Case {
            provider: "telnyx",
            url: format!("{BASE}/telnyx/demo"),
            headers,
            body,
            secret: b64.encode(key.verifying_key().as_bytes()),
            now: at(ts),
        });
    }
    // Aircall: the webhook's token in the body.
    {
        let (headers, body) = fixture("aircall-missed");
        let value: Value = serde_json::from_slice(&body).expect("aircall body");
        let token = value["token"].as_str().expect("aircall token").to_string();
        cases.push(Case {
            provider: "aircall",
            url: format!("{BASE}/aircall/demo"),
            headers,
            body,
            secret: token,
            now: at(1_741_082_380),
        });
    }
    cases
}

/// verify + parse + classify + decide; the decision's kind, so nothing is optimised away.
fn hot_path(case: &Case, account: &Account) -> bool {
    let provider = providers::by_name(case.provider).expect("provider");
    let req = WebhookRequest {
        public_url: &case.url,
        headers: &case.headers,
        body: &case.body,
        now: case.now,
    };
    provider
        .verify(&req, &[case.secret.as_str()])
        .expect("signed as the provider would");
    let event = provider
        .parse(&req)
        .expect("a well-formed webhook")
        .expect("a call outcome");
    let caller = match classify(event.counterpart(), "FR") {
        Caller::Number {
            line_type, region, ..
        } => CallerFacts::Number {
            line_type,
            region,
            // Keyed hash: a KMS call (or, with caching, a local HMAC) not measured here.
            hash: "0".repeat(64),
        },
        Caller::Withheld => CallerFacts::Withheld,
        Caller::Invalid => CallerFacts::Invalid,
    };
    let facts = CallFacts {
        direction: event.direction,
        status: event.status,
        caller,
        happened_at: event.ended_at.or(event.started_at).unwrap_or(case.now),
        ring_seconds: event.ring_seconds,
    };
    matches!(
        decide(&facts, account, case.now),
        rappel::rules::Decision::Send {
            reason: rappel::rules::Reason::InHours,
            ..
        }
    )
}

fn bench(c: &mut Criterion) {
    let account = Account::from_json(
        r#"{"account_id":"demo","company_name":"Plomberie Martin","timezone":"Europe/Paris"}"#,
    )
    .expect("account");
    let cases = cases();
    let mut group = c.benchmark_group("hot_path");
    for case in &cases {
        // Every case is a missed mobile call in hours: texted now.
        assert!(
            hot_path(case, &account),
            "{}: not texted now",
            case.provider
        );
        group.bench_function(case.provider, |b| {
            b.iter(|| hot_path(black_box(case), &account))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("classify");
    group.bench_function("fr_mobile", |b| {
        b.iter(|| classify(black_box("+33600000101"), "FR"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
