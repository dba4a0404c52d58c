//! eligibility through its `handle`, on the `events/` fixtures, with the in-memory fakes (no
//! moto): the stream sample is decided once, a failing table makes a batch item failure that
//! Lambda retries, and the re-decide schedule decides what the stream left undecided.

use chrono::{DateTime, Utc};
use eligibility::handler::{Deps, handle};
use lambda_runtime::{Context, LambdaEvent};
use rappel::account::Account;
use rappel::fake::{FakeClock, FakeEvents, FaultMode, Faults, MemoryTable};
use rappel::items::{CallItem, MessageStatus};
use rappel::rules::{Outcome, Reason};
use serde_json::{Value, json};

const STREAM: &str = include_str!("../../../events/eligibility-stream-insert.json");
const REDECIDE: &str = include_str!("../../../events/eligibility-redecide.json");
const DEMO: &str = include_str!("../../../infra/local/accounts/demo.json");

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

type D = Deps<MemoryTable, FakeEvents, FakeClock>;

/// A world where intake already stored the sample's call (its NewImage).
fn world(now: &str) -> (D, std::sync::Arc<Faults>) {
    let faults = Faults::new();
    let table = MemoryTable::new(faults.clone());
    table.put_account(&Account::from_json(DEMO).unwrap());
    let stream: Value = serde_json::from_str(STREAM).unwrap();
    let image: serde_dynamo::Item =
        serde_json::from_value(stream["Records"][0]["dynamodb"]["NewImage"].clone()).unwrap();
    let call: CallItem = serde_dynamo::from_item(image).unwrap();
    table.insert_raw(serde_json::to_value(&call).unwrap());
    let deps = Deps {
        table,
        events: FakeEvents::new(faults.clone()),
        clock: FakeClock::at(at(now)),
        due_shards: 4,
    };
    (deps, faults)
}

async fn invoke(deps: &D, payload: &str) -> Result<Value, lambda_runtime::Error> {
    let event = LambdaEvent::new(serde_json::from_str(payload).unwrap(), Context::default());
    handle(deps, event).await
}

#[tokio::test]
async fn the_stream_sample_is_scheduled_now_with_its_day_and_message_due() {
    let (deps, _) = world("2026-11-27T17:29:43Z");
    let answer = invoke(&deps, STREAM).await.unwrap();
    assert_eq!(answer, json!({"batchItemFailures": []}));
    let call = &deps.table.calls()[0];
    assert_eq!(
        (call.outcome, call.reason),
        (Some(Outcome::Scheduled), Some(Reason::InHours))
    );
    assert_eq!(call.gsi1pk, None, "off the undecided index");
    let msg = &deps.table.messages()[0];
    assert_eq!(
        (msg.status, msg.due_at.as_str()),
        (MessageStatus::Scheduled, "2026-11-27T17:29:43Z")
    );
    let stream: serde_json::Value = serde_json::from_str(STREAM).unwrap();
    let sealed = stream["Records"][0]["dynamodb"]["NewImage"]["number"]["S"].as_str();
    assert!(sealed.is_some_and(|s| s.starts_with("v1.")));
    assert_eq!(
        msg.number.as_deref(),
        sealed,
        "the sealed number is copied, never opened"
    );
    assert_eq!(
        call.number, None,
        "the call's sealed copy is dropped once the message holds one"
    );
    assert_eq!(deps.table.days(), vec![msg.day_sk.clone()]);
    assert!(msg.day_sk.ends_with("#2026-11-27"));
    let due = deps.events.of("MessageDue");
    assert_eq!(
        due,
        vec![
            json!({"account_id": "demo", "message_id": msg.message_id, "due_at": "2026-11-27T17:29:43Z"})
        ]
    );

    // The same record again (Lambda's retry): one decision, one message.
    assert_eq!(
        invoke(&deps, STREAM).await.unwrap(),
        json!({"batchItemFailures": []})
    );
    assert_eq!(deps.table.messages().len(), 1);
}

#[tokio::test]
async fn a_failing_table_is_a_batch_item_failure_and_the_retry_decides_once() {
    for op in [
        "dynamodb.GetItem",
        "dynamodb.TransactWriteItems",
        "eventbridge.PutEvents",
    ] {
        for mode in [FaultMode::Before, FaultMode::After] {
            let (deps, faults) = world("2026-11-27T17:29:43Z");
            faults.always(op, mode);
            let answer = invoke(&deps, STREAM).await.unwrap();
            assert_eq!(
                answer,
                json!({"batchItemFailures": [{"itemIdentifier": "4421584500000000017450439091"}]}),
                "{op} {mode:?}"
            );
            faults.clear();
            assert_eq!(
                invoke(&deps, STREAM).await.unwrap(),
                json!({"batchItemFailures": []})
            );
            let call = &deps.table.calls()[0];
            assert_eq!(call.outcome, Some(Outcome::Scheduled), "{op} {mode:?}");
            assert_eq!(deps.table.messages().len(), 1, "{op} {mode:?}");
        }
    }
}

#[tokio::test]
async fn the_redecide_schedule_decides_a_call_the_stream_left_undecided() {
    // 12 minutes later: the stream gave up on the record (DLQ).
    let (deps, _) = world("2026-11-27T17:41:43Z");
    let answer = invoke(&deps, REDECIDE).await.unwrap();
    assert_eq!(answer["redecided"], json!(["generic#ct-20261127-000101"]));
    assert_eq!(answer["unreadable"], json!([]));
    let call = &deps.table.calls()[0];
    assert_eq!(
        (call.outcome, call.reason),
        (Some(Outcome::Scheduled), Some(Reason::InHours))
    );
    // Nothing left to re-decide.
    assert_eq!(
        invoke(&deps, REDECIDE).await.unwrap()["redecided"],
        json!([])
    );

    // A call too recent is left to the stream.
    let (deps, _) = world("2026-11-27T17:35:00Z");
    assert_eq!(
        invoke(&deps, REDECIDE).await.unwrap()["redecided"],
        json!([])
    );
    assert_eq!(deps.table.calls()[0].outcome, None);
}

#[tokio::test]
async fn an_unrecognised_event_is_an_error() {
    let (deps, _) = world("2026-11-27T17:29:43Z");
    let err = invoke(&deps, r#"{"sweep": true}"#).await.unwrap_err();
    assert!(err.to_string().starts_with("unrecognised event"), "{err}");
}
