//! sender through its `handle`, on the `events/` fixtures, with the in-memory fakes (no moto).

use chrono::{DateTime, Utc};
use lambda_runtime::{Context, LambdaEvent};
use rappel::account::Account;
use rappel::fake::{FakeClock, FakeEvents, FakeKeys, FakeSms, FaultMode, Faults, MemoryTable};
use rappel::items::*;
use rappel::rules::Reason;
use sender::handler::{Deps, Report, handle};
use serde_json::json;

const DUE: &str = include_str!("../../../events/sender-message-due.json");
const SWEEP: &str = include_str!("../../../events/sender-sweep.json");
const DEMO: &str = include_str!("../../../infra/local/accounts/demo.json");
const MESSAGE_ID: &str = "msg_5e0c9a7b3d1f2e4a6c8b0d92";
const TO: &str = "+33600000101";

type D = Deps<MemoryTable, FakeKeys, FakeSms, FakeEvents, FakeClock>;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The message the sample's `MessageDue` names, as eligibility scheduled it.
fn world(now: &str) -> (D, std::sync::Arc<Faults>) {
    let faults = Faults::new();
    let clock = FakeClock::at(at(now));
    let table = MemoryTable::new(faults.clone());
    table.put_account(&Account::from_json(DEMO).unwrap());
    let due = at("2026-11-27T17:29:43Z");
    let call_sk = call_sk("generic", "ct-20261127-000101");
    let msg = MessageItem {
        pk: account_pk("demo"),
        sk: msg_sk(MESSAGE_ID),
        account_id: "demo".into(),
        message_id: MESSAGE_ID.into(),
        status: MessageStatus::Scheduled,
        call_sk: call_sk.clone(),
        caller_hash: "0eb739ef".into(),
        caller_masked: Some("+33 6•• •• •• 01".into()),
        number: Some(FakeKeys::seal_text(TO)),
        day_sk: day_sk("0eb739ef", due.date_naive()),
        region: Some("FR".into()),
        call_happened_at: Some("2026-11-27T17:29:40Z".into()),
        token: "tok".into(),
        due_at: ts(due),
        send_before: "2026-11-30T17:29:40Z".into(),
        created_at: ts(due),
        sent_at: None,
        sns_message_id: None,
        opened_at: None,
        reason: Some(Reason::InHours),
        attempts: 0,
        claim_token: None,
        gsi1pk: Some(due_pk(shard_of(MESSAGE_ID, 4))),
        gsi1sk: Some(due_sk(due, MESSAGE_ID)),
        expires_at: 0,
    };
    table.insert_raw(serde_json::to_value(&msg).unwrap());
    table.insert_raw(json!({"PK": account_pk("demo"), "SK": msg.day_sk, "message_id": MESSAGE_ID, "expires_at": 0}));
    table.insert_raw(json!({"PK": account_pk("demo"), "SK": call_sk, "account_id": "demo", "provider": "generic",
        "call_id": "ct-20261127-000101", "direction": "inbound", "status": "no_answer", "provider_status": "no_answer",
        "caller": "number", "received_at": "2026-11-27T17:29:42Z", "happened_at": "2026-11-27T17:29:40Z",
        "outcome": "scheduled", "reason": "in_hours", "expires_at": 0}));
    let deps = Deps {
        table,
        keys: FakeKeys::new(faults.clone()),
        sms: FakeSms::new(faults.clone(), clock.clone()),
        events: FakeEvents::new(faults.clone()),
        clock,
        due_shards: 4,
        public_base_url: "https://rappel.example.fr".into(),
        send_rate: sender::pace::SendRate::per_second(10_000),
    };
    (deps, faults)
}

async fn invoke(deps: &D, payload: &str) -> Result<Report, lambda_runtime::Error> {
    handle(
        deps,
        LambdaEvent::new(serde_json::from_str(payload).unwrap(), Context::default()),
    )
    .await
}

#[tokio::test]
async fn the_message_due_sample_sends_one_sms_and_records_it() {
    let (deps, _) = world("2026-11-27T17:29:43Z");
    let report = invoke(&deps, DUE).await.unwrap();
    assert_eq!(report.deliveries.len(), 1);
    assert_eq!(
        (report.deliveries[0].outcome, report.deliveries[0].reason),
        ("sent", "in_hours")
    );
    let sent = deps.sms.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].to.as_str(), sent[0].sender_id.as_str()),
        (TO, "PlombMartin")
    );
    assert!(sent[0].body.contains("https://rappel.example.fr/r/tok"));
    let msg = &deps.table.messages()[0];
    assert_eq!(
        (msg.status, msg.sns_message_id.as_deref()),
        (MessageStatus::Sent, Some("sns-1"))
    );
    let call = &deps.table.calls()[0];
    assert_eq!(call.sent_at.as_deref(), Some("2026-11-27T17:29:43Z"));
    let sms_sent = deps.events.of("SmsSent");
    assert_eq!(sms_sent.len(), 1);
    assert_eq!(sms_sent[0]["caller"], "+33 6•• •• •• 01");

    // The event again (EventBridge's retry), and the sweep: nothing more.
    assert_eq!(invoke(&deps, DUE).await.unwrap(), Report::default());
    assert_eq!(invoke(&deps, SWEEP).await.unwrap(), Report::default());
    assert_eq!(deps.sms.sent().len(), 1);
}

#[tokio::test]
async fn a_sender_that_dies_after_its_claim_is_reported_by_a_later_sweep() {
    let (deps, faults) = world("2026-11-27T17:29:43Z");
    faults.always("dynamodb.GetItem", FaultMode::Crash);
    assert!(invoke(&deps, DUE).await.is_err() || faults.crashed());
    faults.clear();
    assert_eq!(deps.table.messages()[0].status, MessageStatus::Sending);
    // Six minutes later the sweep records it: failed/send_interrupted, the day kept.
    deps.clock.advance(chrono::Duration::minutes(6));
    let report = invoke(&deps, SWEEP).await.unwrap();
    assert_eq!(report.interrupted, vec![MESSAGE_ID.to_string()]);
    let msg = &deps.table.messages()[0];
    assert_eq!(
        (msg.status, msg.reason),
        (MessageStatus::Failed, Some(Reason::SendInterrupted))
    );
    assert_eq!(deps.table.days().len(), 1);
    assert!(deps.sms.sent().is_empty());
}

#[tokio::test]
async fn a_malformed_event_is_refused() {
    let (deps, _) = world("2026-11-27T17:29:43Z");
    let err = invoke(&deps, r#"{"detail-type": "MessageDue", "detail": {}}"#)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "MessageDue event without account_id/message_id"
    );
}

#[tokio::test(start_paused = true)]
async fn a_backlog_is_swept_several_at_once_at_the_send_rate_each_message_once() {
    let (mut deps, _) = world("2026-11-27T17:29:43Z");
    deps.send_rate = sender::pace::SendRate::per_second(10);
    let due = at("2026-11-27T17:29:43Z");
    let first = serde_json::to_value(&deps.table.messages()[0]).unwrap();
    let call = serde_json::to_value(&deps.table.calls()[0]).unwrap();
    for i in 1..40 {
        let id = format!("msg_{i:024x}");
        let (hash, call_id) = (format!("h{i:04}"), format!("ct-{i}"));
        let mut m = first.clone();
        m["SK"] = json!(msg_sk(&id));
        m["message_id"] = json!(id);
        m["caller_hash"] = json!(hash);
        m["day_sk"] = json!(day_sk(&hash, due.date_naive()));
        m["call_sk"] = json!(call_sk("generic", &call_id));
        m["GSI1PK"] = json!(due_pk(shard_of(&id, 4)));
        m["GSI1SK"] = json!(due_sk(due, &id));
        deps.table.insert_raw(m.clone());
        deps.table.insert_raw(
            json!({"PK": account_pk("demo"), "SK": m["day_sk"], "message_id": id, "expires_at": 0}),
        );
        let mut c = call.clone();
        c["SK"] = m["call_sk"].clone();
        c["call_id"] = json!(call_id);
        deps.table.insert_raw(c);
    }
    let start = tokio::time::Instant::now();
    let report = invoke(&deps, SWEEP).await.unwrap();
    // Every message sent exactly once, though ten were worked on at once.
    assert_eq!(report.deliveries.len(), 40);
    assert!(report.deliveries.iter().all(|d| d.outcome == "sent"));
    assert_eq!(deps.sms.sent().len(), 40);
    assert!(
        deps.table
            .messages()
            .iter()
            .all(|m| m.status == MessageStatus::Sent)
    );
    // 40 turns at 10 per second: the last one 3.9 s after the first.
    assert_eq!(
        tokio::time::Instant::now() - start,
        std::time::Duration::from_millis(3900)
    );
}

#[tokio::test]
async fn a_message_claimed_too_close_to_the_deadline_goes_back_unsent_and_is_sent_once_later() {
    let (deps, _) = world("2026-11-27T17:29:43Z");
    let (account_id, message_id) = {
        let msg = &deps.table.messages()[0];
        (msg.account_id.clone(), msg.message_id.clone())
    };
    // The checks are done with less than PUBLISH_MARGIN left before the Lambda deadline.
    let deadline = tokio::time::Instant::now() + sender::handler::PUBLISH_MARGIN / 2;
    let delivery = sender::handler::send_one(&deps, &account_id, &message_id, Some(deadline))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((delivery.outcome, delivery.reason), ("retry", "deadline"));
    assert!(deps.sms.sent().is_empty(), "nothing published");
    let msg = &deps.table.messages()[0];
    assert_eq!(
        msg.status,
        MessageStatus::Scheduled,
        "back on the due queue"
    );
    assert_eq!(deps.table.days().len(), 1, "the day stays reserved for it");

    // The next sweep, with time in hand, sends it once.
    let report = invoke(&deps, SWEEP).await.unwrap();
    assert_eq!(report.deliveries.len(), 1);
    assert_eq!(report.deliveries[0].outcome, "sent");
    assert_eq!(deps.sms.sent().len(), 1);
    assert_eq!(invoke(&deps, SWEEP).await.unwrap(), Report::default());
    assert_eq!(deps.sms.sent().len(), 1);
}
