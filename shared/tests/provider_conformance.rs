//! One table, every provider: what each webhook adapter must do with a signed missed call, a
//! signed answered call, a withheld caller, a tampered body, a replay, a redelivery and an
//! empty body (issue 10, "Providers share what they share"). Bodies are the providers' own
//! fixtures (`events/providers/`), re-signed here with a test secret at a chosen instant, the
//! way each provider signs (its documented scheme, as `docs/providers.md` describes it).
//!
//! A wrong `Content-Type` is refused before any provider code runs: see
//! `functions/webhook-intake/tests/handle.rs`.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD as BASE64URL};
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::{Signer, SigningKey};
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue};
use rappel::call::{CallEvent, CallStatus, Direction};
use rappel::phone::{Caller, classify};
use rappel::providers::{self, Provider, WebhookError, WebhookRequest};
use serde_json::Value;
use sha2::Sha512;

const SECRET: &str = "conformance-secret";
const URL: &str = "https://rappel.example.fr/webhooks/p/acme";
/// The Telnyx signing seed whose public key is the account's "secret".
const TELNYX_SEED: [u8; 32] = [7; 32];

/// Fixture names per provider: (missed, answered, withheld).
const CASES: [(&str, &str, &str, &str); 7] = [
    (
        "twilio",
        "twilio-dial-no-answer",
        "twilio-dial-completed",
        "twilio-anonymous",
    ),
    (
        "generic",
        "generic-no-answer",
        "generic-answered",
        "generic-withheld",
    ),
    (
        "vonage",
        "vonage-inbound-completed",
        "vonage-connect-answered",
        "vonage-inbound-cancelled",
    ),
    (
        "telnyx",
        "telnyx-hangup-caller-cancel",
        "telnyx-hangup-answered",
        "telnyx-anonymous",
    ),
    (
        "aircall",
        "aircall-missed",
        "aircall-answered",
        "aircall-anonymous",
    ),
    (
        "plivo",
        "plivo-dial-no-answer",
        "plivo-dial-completed",
        "plivo-anonymous",
    ),
    (
        "ringover",
        "ringover-missed",
        "ringover-hangup-answered",
        "ringover-anonymous",
    ),
];

/// Providers that sign a timestamp (a replay outside their window is refused); the others
/// rely on the call's idempotency key (a replay is a redelivery, which changes nothing).
const TIMESTAMPED: [&str; 4] = ["generic", "vonage", "telnyx", "ringover"];

fn fixture_body(name: &str) -> String {
    let path = format!(
        "{}/../events/providers/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{path}"));
    let value: Value = serde_json::from_str(&text).unwrap();
    value["body"].as_str().unwrap().to_owned()
}

fn telnyx_public_key() -> String {
    BASE64.encode(
        SigningKey::from_bytes(&TELNYX_SEED)
            .verifying_key()
            .to_bytes(),
    )
}

/// The account secret Rappel holds for `provider`.
fn secret(provider: &str) -> String {
    match provider {
        "telnyx" => telnyx_public_key(),
        _ => SECRET.to_owned(),
    }
}

/// `body` as `provider` would deliver it at `at`: with the provider's signature headers, and
/// for the providers whose event carries its own time or credentials, the body adjusted
/// (Aircall's `token`, Ringover's `timestamp`, which its signature covers).
fn deliver(provider: &str, body: &str, at: DateTime<Utc>) -> (HeaderMap, Vec<u8>) {
    let mut h = HeaderMap::new();
    let mut set = |k: &'static str, v: String| {
        h.insert(k, HeaderValue::from_str(&v).unwrap());
    };
    let body = match provider {
        "aircall" | "ringover" => match serde_json::from_str::<Value>(body) {
            Ok(mut v) if v.is_object() => {
                if provider == "aircall" {
                    v["token"] = Value::String(SECRET.into());
                } else {
                    v["timestamp"] = serde_json::json!(at.timestamp());
                }
                v.to_string()
            }
            _ => body.to_owned(),
        },
        _ => body.to_owned(),
    };
    let bytes = body.as_bytes();
    match provider {
        "twilio" => set(
            "x-twilio-signature",
            providers::twilio::sign(SECRET, URL, bytes),
        ),
        "plivo" => {
            let nonce = format!("nonce{}", at.timestamp());
            set(
                "x-plivo-signature-v3",
                providers::plivo::sign(SECRET, URL, bytes, &nonce),
            );
            set("x-plivo-signature-v3-nonce", nonce);
        }
        "generic" => {
            set("x-rappel-timestamp", at.timestamp().to_string());
            set(
                "x-rappel-signature",
                providers::generic::sign(SECRET, at.timestamp(), bytes),
            );
        }
        "vonage" => set(
            "authorization",
            format!(
                "Bearer {}",
                providers::vonage::sign(SECRET, bytes, at.timestamp())
            ),
        ),
        "telnyx" => {
            let signed = [at.timestamp().to_string().as_bytes(), b"|", bytes].concat();
            let signature = SigningKey::from_bytes(&TELNYX_SEED).sign(&signed);
            set("telnyx-timestamp", at.timestamp().to_string());
            set(
                "telnyx-signature-ed25519",
                BASE64.encode(signature.to_bytes()),
            );
        }
        "ringover" => {
            let header = BASE64URL.encode(r#"{"alg":"HS512","typ":"JWT"}"#);
            let claims = BASE64URL.encode(body.as_bytes());
            let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
            mac.update(format!("{header}.{claims}").as_bytes());
            let sig = BASE64URL.encode(mac.finalize().into_bytes());
            set(
                "x-ringover-webhook-signature",
                format!("{header}.{claims}.{sig}"),
            );
        }
        "aircall" => {}
        other => panic!("no signer for {other}"),
    }
    (h, body.into_bytes())
}

/// Verify, then parse, as intake does.
fn receive(
    provider: &dyn Provider,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<CallEvent>, WebhookError> {
    let req = WebhookRequest {
        public_url: URL,
        headers,
        body,
        now,
    };
    provider.verify(&req, &[&secret(provider.name())])?;
    provider.parse(&req)
}

/// The instant each provider's fixture events happened (its own timestamps are checked
/// against the reception time only through the signature's time, set here).
fn now() -> DateTime<Utc> {
    "2026-12-02T09:00:00Z".parse().unwrap()
}

#[test]
fn every_provider_reads_a_signed_missed_call_as_missed() {
    for (name, missed, _, _) in CASES {
        let provider = providers::by_name(name).unwrap();
        let (h, body) = deliver(name, &fixture_body(missed), now());
        let event = receive(provider, &h, &body, now())
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .unwrap_or_else(|| panic!("{name}: a missed call is stored"));
        assert_eq!(event.provider, name);
        assert!(event.status.is_missed(), "{name}: {:?}", event.status);
        assert_eq!(event.direction, Direction::Inbound, "{name}");
        assert!(
            matches!(classify(event.counterpart(), "FR"), Caller::Number { .. }),
            "{name}: the caller is a number"
        );
    }
}

#[test]
fn every_provider_reads_a_signed_answered_call_as_answered() {
    for (name, _, answered, _) in CASES {
        let provider = providers::by_name(name).unwrap();
        let (h, body) = deliver(name, &fixture_body(answered), now());
        let event = receive(provider, &h, &body, now())
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .unwrap_or_else(|| panic!("{name}: an answered call is stored"));
        assert_eq!(event.status, CallStatus::Answered, "{name}");
    }
}

#[test]
fn every_provider_reads_a_withheld_caller_as_withheld() {
    for (name, _, _, withheld) in CASES {
        let provider = providers::by_name(name).unwrap();
        let mut body = fixture_body(withheld);
        if name == "vonage" {
            // Vonage shows a withheld caller as the word `Unknown` in `from`.
            let mut v: Value = serde_json::from_str(&body).unwrap();
            v["from"] = Value::String("Unknown".into());
            body = v.to_string();
        }
        let (h, body) = deliver(name, &body, now());
        let event = receive(provider, &h, &body, now())
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .unwrap_or_else(|| panic!("{name}: stored"));
        assert_eq!(
            classify(event.counterpart(), "FR"),
            Caller::Withheld,
            "{name}"
        );
    }
}

#[test]
fn every_provider_refuses_a_tampered_body() {
    for (name, missed, _, _) in CASES {
        let provider = providers::by_name(name).unwrap();
        let (h, body) = deliver(name, &fixture_body(missed), now());
        let body = String::from_utf8(body).unwrap();
        // Another caller after signing. (Aircall's token is not a signature: what it can
        // refuse is a body whose token is not the account's.)
        let tampered = match name {
            "aircall" => body.replace(SECRET, "another-token"),
            _ => body.replacen("600000", "600009", 1),
        };
        assert_ne!(tampered, body, "{name}: the fixture has a test number");
        assert!(
            matches!(
                receive(provider, &h, tampered.as_bytes(), now()),
                Err(WebhookError::Unauthorized(_))
            ),
            "{name}"
        );
    }
}

#[test]
fn every_timestamped_provider_refuses_a_replay_outside_its_window() {
    for (name, missed, _, _) in CASES {
        let provider = providers::by_name(name).unwrap();
        let signed_at = now() - Duration::minutes(10);
        let (h, body) = deliver(name, &fixture_body(missed), signed_at);
        let replayed = receive(provider, &h, &body, now());
        if TIMESTAMPED.contains(&name) {
            assert!(
                matches!(replayed, Err(WebhookError::Unauthorized(_))),
                "{name}: {replayed:?}"
            );
            // Within the window, the same delivery is accepted.
            let (h, body) = deliver(name, &fixture_body(missed), now() - Duration::minutes(4));
            assert!(receive(provider, &h, &body, now()).is_ok(), "{name}");
        } else {
            // No signed time: a replay is a redelivery (same idempotency key, next test).
            assert!(replayed.is_ok(), "{name}");
        }
    }
}

#[test]
fn every_provider_gives_a_redelivery_the_same_idempotency_key() {
    for (name, missed, _, _) in CASES {
        let provider = providers::by_name(name).unwrap();
        let first = {
            let (h, body) = deliver(name, &fixture_body(missed), now());
            receive(provider, &h, &body, now()).unwrap().unwrap()
        };
        // The provider's retry, a minute later, with its attempt counter moved on.
        let mut again = fixture_body(missed);
        if let Ok(mut v) = serde_json::from_str::<Value>(&again) {
            if v.get("attempt").is_some() {
                v["attempt"] = serde_json::json!(2);
            }
            if v.pointer("/meta/attempt").is_some() {
                v["meta"]["attempt"] = serde_json::json!(2);
            }
            again = v.to_string();
        }
        let later = now() + Duration::minutes(1);
        let (h, body) = deliver(name, &again, later);
        let second = receive(provider, &h, &body, later).unwrap().unwrap();
        assert_eq!(first.call_id, second.call_id, "{name}");
        assert_eq!(first.status, second.status, "{name}");
    }
}

#[test]
fn every_provider_refuses_an_empty_body() {
    for (name, _, _, _) in CASES {
        let provider = providers::by_name(name).unwrap();
        let (h, body) = deliver(name, "", now());
        let got = receive(provider, &h, &body, now());
        assert!(got.is_err(), "{name}: {got:?}");
    }
}
