//! webhook-intake through its `handle`, on the `events/` fixtures, with the in-memory fakes
//! (no moto): what is stored, what is answered, and what a failing table does.

use chrono::DateTime;
use rappel::account::Account;
use rappel::fake::{FakeClock, FakeKeys, FaultMode, Faults, MemoryTable};
use rappel::items::CallItem;
use serde_json::Value;
use webhook_intake::handler::{Deps, handle};

const GENERIC: &str = include_str!("../../../events/webhook-intake-generic.json");
const TWILIO: &str = include_str!("../../../events/webhook-intake-twilio.json");
const STREAM: &str = include_str!("../../../events/eligibility-stream-insert.json");
const DEMO: &str = include_str!("../../../infra/local/accounts/demo.json");
/// The generic sample is signed at this instant (events/README.md).
const SIGNED_AT: i64 = 1_795_800_582;

fn deps() -> (
    Deps<MemoryTable, FakeKeys, FakeClock>,
    std::sync::Arc<Faults>,
) {
    deps_with(DEMO)
}

/// The ports with `account` (JSON) stored.
fn deps_with(
    account: &str,
) -> (
    Deps<MemoryTable, FakeKeys, FakeClock>,
    std::sync::Arc<Faults>,
) {
    let faults = Faults::new();
    let table = MemoryTable::new(faults.clone());
    table.put_account(&Account::from_json(account).unwrap());
    let deps = Deps {
        table,
        keys: FakeKeys::new(faults.clone()),
        clock: FakeClock::at(DateTime::from_timestamp(SIGNED_AT, 0).unwrap()),
        public_base_url: "https://rappel.example.fr".into(),
        secrets: Default::default(),
        due_shards: 4,
    };
    (deps, faults)
}

async fn post(deps: &Deps<MemoryTable, FakeKeys, FakeClock>, sample: &str) -> (u16, Value, String) {
    let req = lambda_http::request::from_str(sample).expect("sample parses");
    let response = handle(deps, req).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let body = String::from_utf8_lossy(response.body().as_ref()).into_owned();
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
        content_type,
    )
}

#[tokio::test]
async fn the_generic_sample_is_stored_as_the_stream_sample_shows_it() {
    let (deps, _) = deps();
    let (status, _, _) = post(&deps, GENERIC).await;
    assert_eq!(status, 200);
    let calls: Vec<CallItem> = deps.table.calls();
    assert_eq!(calls.len(), 1);
    // The stored item is the stream sample's NewImage, but for the KMS outputs.
    let stream: Value = serde_json::from_str(STREAM).unwrap();
    let image: serde_dynamo::Item =
        serde_json::from_value(stream["Records"][0]["dynamodb"]["NewImage"].clone()).unwrap();
    let mut expected: CallItem = serde_dynamo::from_item(image).unwrap();
    let stored = calls[0].clone();
    expected.number = stored.number.clone();
    expected.caller_hash = stored.caller_hash.clone();
    assert_eq!(stored, expected);
    assert_eq!(stored.gsi1pk.as_deref(), Some("UNDECIDED#1"));
    assert!(
        stored
            .number
            .as_deref()
            .is_some_and(|n| !n.contains("600000101"))
    );

    // A redelivery changes nothing and is acknowledged the same way.
    let (status, _, _) = post(&deps, GENERIC).await;
    assert_eq!(status, 200);
    assert_eq!(deps.table.calls(), vec![stored]);
}

#[tokio::test]
async fn the_twilio_sample_is_acknowledged_with_twiml_and_stored() {
    let (deps, _) = deps();
    let (status, body, content_type) = post(&deps, TWILIO).await;
    assert_eq!((status, content_type.as_str()), (200, "text/xml"));
    assert!(
        body.as_str().is_some_and(|b| b.contains("<Response")),
        "{body}"
    );
    let calls = deps.table.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].sk,
        "CALL#twilio#CA9b2e4c6a8d0f1e3a5c7b9d2f4a6c8e01"
    );
}

#[tokio::test]
async fn a_table_or_kms_failure_answers_500_and_stores_nothing_half_written() {
    for op in [
        "dynamodb.GetItem",
        "kms.GenerateDataKey",
        "kms.GenerateMac",
        "dynamodb.PutItem",
    ] {
        let (deps, faults) = deps();
        faults.always(op, FaultMode::Before);
        let (status, body, content_type) = post(&deps, GENERIC).await;
        assert_eq!(status, 500, "{op}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["status"], 500);
        assert!(deps.table.calls().is_empty(), "{op}: nothing stored");
        // The provider's retry goes through.
        faults.clear();
        assert_eq!(post(&deps, GENERIC).await.0, 200, "{op}");
        assert_eq!(deps.table.calls().len(), 1);
    }
    // Stored, then the answer lost: the retry is a redelivery, one call.
    let (deps, faults) = deps();
    faults.always("dynamodb.PutItem", FaultMode::After);
    assert_eq!(post(&deps, GENERIC).await.0, 500);
    faults.clear();
    assert_eq!(post(&deps, GENERIC).await.0, 200);
    assert_eq!(deps.table.calls().len(), 1);
}

#[tokio::test]
async fn an_unknown_account_or_a_bad_signature_leaves_no_trace() {
    let (deps, _) = deps();
    // An unknown account is answered exactly as a known one with another secret: the route
    // does not tell which accounts exist.
    let other = GENERIC.replace("/webhooks/generic/demo", "/webhooks/generic/nobody");
    let unknown = post(&deps, &other).await;
    let (rotated, _) = deps_with(&DEMO.replace("demo-generic-secret", "not-the-secret"));
    let wrong_secret = post(&rotated, GENERIC).await;
    assert_eq!(unknown.0, 401);
    assert_eq!(unknown, wrong_secret);
    let tampered = GENERIC.replace("no_answer", "no-answer");
    let (status, body, _) = post(&deps, &tampered).await;
    assert_eq!(status, 401);
    assert_eq!(body["status"], 401);
    assert!(deps.table.all().iter().all(|i| i["SK"] == "ACCOUNT"));
}

/// Issue 6, case 10: the leg Rappel must remember first (Telnyx `call.initiated`, the only
/// event with the direction) got an error and is retried later; the hangup arrives before it.
/// It is acknowledged and kept pending, and the leg turns it into the inbound missed call of
/// the right caller.
#[tokio::test]
async fn a_hangup_before_its_leg_is_kept_pending_then_completed() {
    use base64::Engine as _;
    use ed25519_dalek::Signer as _;
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let public = base64::engine::general_purpose::STANDARD.encode(key.verifying_key().to_bytes());
    let faults = Faults::new();
    let table = MemoryTable::new(faults.clone());
    let account = Account::from_json(&format!(
        r#"{{"account_id":"demo","company_name":"Plomberie Martin","webhook_secrets":{{"telnyx":"{public}"}}}}"#
    ))
    .unwrap();
    table.put_account(&account);
    let now: DateTime<chrono::Utc> = "2025-03-04T10:00:00Z".parse().unwrap();
    let deps = Deps {
        table,
        keys: FakeKeys::new(faults.clone()),
        clock: FakeClock::at(now),
        public_base_url: "https://rappel.example.fr".into(),
        secrets: Default::default(),
        due_shards: 4,
    };
    let leg_id = "aebb45bc-6d1e-11ef-9c5a-02420a0d1101";
    let fixture = |name: &str| -> Value {
        let text = std::fs::read_to_string(format!("../../events/providers/{name}.json")).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        let mut body: Value = serde_json::from_str(value["body"].as_str().unwrap()).unwrap();
        body["data"]["payload"]["call_leg_id"] = Value::from(leg_id);
        body
    };
    let send = |body: &Value| {
        let body = body.to_string();
        let stamp = now.timestamp().to_string();
        let signature = key.sign(format!("{stamp}|{body}").as_bytes());
        lambda_http::http::Request::builder()
            .method("POST")
            .uri("https://rappel.example.fr/webhooks/telnyx/demo")
            .header("content-type", "application/json")
            .header("telnyx-timestamp", stamp)
            .header(
                "telnyx-signature-ed25519",
                base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
            )
            .body(lambda_http::Body::from(body))
            .unwrap()
    };
    // The hangup first, without a direction (as Telnyx's API reference shows it): read alone
    // it would be an outbound call, never texted.
    let mut hangup = fixture("telnyx-hangup-caller-cancel");
    hangup["data"]["payload"]
        .as_object_mut()
        .unwrap()
        .remove("direction");
    let response = handle(&deps, send(&hangup)).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        deps.table.calls().is_empty(),
        "not stored as the business's own call"
    );
    let pending: Vec<Value> = deps
        .table
        .all()
        .into_iter()
        .filter(|i| i["SK"].as_str().unwrap().starts_with("PENDING#telnyx#"))
        .collect();
    assert_eq!(pending.len(), 1);
    let two_days = now.timestamp() + 2 * 86_400;
    assert_eq!(
        pending[0]["expires_at"], two_days,
        "README, Retention: PENDING# 2 days"
    );
    assert!(
        pending[0]["GSI1PK"]
            .as_str()
            .unwrap()
            .starts_with("UNDECIDED#")
    );

    // The leg arrives: the call is stored, inbound, with the leg's caller.
    let response = handle(&deps, send(&fixture("telnyx-initiated")))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let calls = deps.table.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].direction, rappel::call::Direction::Inbound);
    assert_eq!(calls[0].caller_masked.as_deref(), Some("+33 6•• •• •• 01"));
    assert_eq!(calls[0].status, rappel::call::CallStatus::Canceled);
    assert_eq!(
        calls[0].expires_at,
        now.timestamp() + 30 * 86_400,
        "README, Retention: CALL# 30 days from receipt, even when it was pending"
    );
    let legs: Vec<Value> = deps
        .table
        .all()
        .into_iter()
        .filter(|i| i["SK"].as_str().unwrap().starts_with("LEG#telnyx#"))
        .collect();
    assert!(!legs.is_empty());
    assert!(
        legs.iter().all(|l| l["expires_at"] == two_days),
        "README, Retention: LEG# 2 days"
    );
    assert!(
        deps.table
            .all()
            .iter()
            .all(|i| !i["SK"].as_str().unwrap().starts_with("PENDING#"))
    );

    // The hangup again (the provider's retry): a redelivery, one call.
    assert_eq!(
        handle(&deps, send(&hangup))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(deps.table.calls().len(), 1);
}

/// The demo account with `extra` settings merged in (JSON object).
fn demo_with(extra: Value) -> String {
    let mut account: Value = serde_json::from_str(DEMO).unwrap();
    for (k, v) in extra.as_object().unwrap() {
        account[k] = v.clone();
    }
    account.to_string()
}

#[tokio::test]
async fn a_webhook_naming_another_provider_account_is_refused_and_leaves_no_trace() {
    // The Twilio sample names AccountSid AC5f1e…e6f7 and is correctly signed.
    let other = demo_with(serde_json::json!({
        "provider_accounts": {"twilio": "AC00000000000000000000000000000000"}
    }));
    let (deps, _) = deps_with(&other);
    let before = deps.table.all();
    let (status, body, content_type) = post(&deps, TWILIO).await;
    assert_eq!(
        (status, content_type.as_str()),
        (403, "application/problem+json")
    );
    assert_eq!(
        body["type"].as_str().map(|t| t.ends_with("not-bound")),
        Some(true),
        "{body}"
    );
    assert_eq!(deps.table.all(), before, "nothing written");

    // Bound to the account the sample names: stored as ever.
    let same = demo_with(serde_json::json!({
        "provider_accounts": {"twilio": "AC5f1e3c9a7b2d4e6f8091a2b3c4d5e6f7"}
    }));
    let (deps, _) = deps_with(&same);
    assert_eq!(post(&deps, TWILIO).await.0, 200);
    assert_eq!(deps.table.calls().len(), 1);
}

#[tokio::test]
async fn a_call_on_none_of_the_tracked_numbers_is_refused() {
    // The generic sample is a call to +33 1 44 00 00 00.
    let elsewhere = demo_with(serde_json::json!({"tracked_numbers": ["+33 1 44 00 00 01"]}));
    let (deps, _) = deps_with(&elsewhere);
    let (status, body, _) = post(&deps, GENERIC).await;
    assert_eq!(status, 403, "{body}");
    assert!(deps.table.calls().is_empty());

    // Listed in another notation: the same number.
    let listed =
        demo_with(serde_json::json!({"tracked_numbers": ["+33 1 44 00 00 01", "01 44 00 00 00"]}));
    let (deps, _) = deps_with(&listed);
    assert_eq!(post(&deps, GENERIC).await.0, 200);
    assert_eq!(deps.table.calls().len(), 1);
}

#[tokio::test]
async fn a_declared_content_type_other_than_the_providers_is_refused_before_anything_else() {
    let (deps, _) = deps();
    let before = deps.table.all();
    for (provider, wrong, right) in [
        (
            "twilio",
            "application/json",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
        (
            "plivo",
            "application/json",
            "application/x-www-form-urlencoded",
        ),
        (
            "generic",
            "application/x-www-form-urlencoded",
            "Application/JSON",
        ),
        ("vonage", "text/plain", "application/json"),
        (
            "telnyx",
            "application/xml",
            "application/json; charset=utf-8",
        ),
        ("aircall", "multipart/form-data", "application/json"),
        ("ringover", "text/html", "application/json"),
    ] {
        let request = |content_type: &str| {
            lambda_http::http::Request::builder()
                .method("POST")
                .uri(format!(
                    "https://rappel.example.fr/webhooks/{provider}/demo"
                ))
                .header("content-type", content_type)
                .body(lambda_http::Body::from("{}"))
                .unwrap()
        };
        let response = handle(&deps, request(wrong)).await.unwrap();
        assert_eq!(response.status().as_u16(), 415, "{provider} {wrong}");
        let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(body["status"], 415);
        assert!(body["detail"].as_str().unwrap().contains(provider));
        // The provider's own type (parameters and case aside) goes on to the signature check.
        let response = handle(&deps, request(right)).await.unwrap();
        assert_ne!(response.status().as_u16(), 415, "{provider} {right}");
    }
    assert_eq!(deps.table.all(), before, "nothing written");
}
