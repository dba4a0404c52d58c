//! Issue 6's twelve cases, each as it was met by an operator: every test here failed on the
//! code before the fix it names (docs/architecture.md, "Failure handling").

use chrono::Duration;
use rappel::fake::{FaultMode, capture_logs};
use rappel::items::{CallItem, MessageStatus, account_pk, due_pk, due_sk, msg_sk};
use rappel::rules::{Outcome, Reason};
use rappel_promises::{World, account, at, call};
use serde_json::json;

const A: &str = "+33600000001";
const B: &str = "+33600000002";
const C: &str = "+33600000003";

fn outcome(call: &CallItem) -> (Option<Outcome>, Option<Reason>) {
    (call.outcome, call.reason)
}

/// Case 1: a message due Friday 19:59:58 claimed at 20:00:02 moves to Saturday 08:00, and its
/// day reservation moves with it: the same caller ringing Saturday 07:30 gets no second SMS.
#[tokio::test]
async fn case_01_the_day_moves_with_the_message() {
    let (logs, _guard) = capture_logs();
    // Friday 27 November 2026, 19:59:58 Paris.
    let mut w = World::new(at("2026-11-27T18:59:58Z"));
    assert_eq!(
        w.webhook(&call("c1", "no_answer", "inbound", A, w.now()))
            .await,
        200
    );
    w.pump_stream().await;
    assert_eq!(
        outcome(&w.calls()["c1"]),
        (Some(Outcome::Scheduled), Some(Reason::InHours))
    );
    // The MessageDue event reaches the sender at 20:00:02.
    w.clock.set(at("2026-11-27T19:00:02Z"));
    w.deliver_due().await;
    assert!(w.sent().is_empty(), "no SMS after 20:00");
    let msg = &w.table.messages()[0];
    assert_eq!(msg.due_at, "2026-11-28T07:00:00Z");
    assert!(
        msg.day_sk.ends_with("#2026-11-28"),
        "reservation moved to Saturday"
    );
    assert_eq!(
        w.table.days(),
        vec![msg.day_sk.clone()],
        "Friday freed, Saturday taken"
    );

    // Saturday 07:30 Paris: the same caller again, deferred to 08:00 — the same send day.
    w.jump_to(at("2026-11-28T06:30:00Z")).await;
    assert_eq!(
        w.webhook(&call("c2", "no_answer", "inbound", A, w.now()))
            .await,
        200
    );
    w.run_until(at("2026-11-28T08:00:00Z")).await;
    assert_eq!(
        outcome(&w.calls()["c2"]),
        (Some(Outcome::Skipped), Some(Reason::AlreadyTextedToday))
    );
    let sent = w.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].at, at("2026-11-28T07:00:00Z"));
    assert_eq!(w.check(&[A], &logs), Vec::<String>::new());
}

/// Case 1, the other way: the new day is already taken by another message of the caller, so
/// the late one is cancelled (reason `already_texted_today`) and frees nothing that is used.
#[tokio::test]
async fn case_01_a_late_message_whose_new_day_is_taken_is_cancelled() {
    let (logs, _guard) = capture_logs();
    // Saturday 28 November 2026, 19:59:58 Paris: due now, delivered at 20:00:02 → Monday.
    let mut w = World::new(at("2026-11-28T18:59:58Z"));
    w.webhook(&call("c1", "no_answer", "inbound", A, w.now()))
        .await;
    w.pump_stream().await;
    // Meanwhile a Sunday-night call already holds Monday (its message due Monday 08:00).
    w.clock.set(at("2026-11-28T18:59:59Z"));
    let monday_msg = {
        // Scheduled by hand for Monday: the day reservation is what matters.
        let mut other = w.table.messages()[0].clone();
        other.message_id = "msg_monday".into();
        other.sk = msg_sk("msg_monday");
        other.day_sk = other.day_sk.replace("2026-11-28", "2026-11-30");
        other.due_at = "2026-11-30T07:00:00Z".into();
        other.token = "tok-monday".into();
        other.gsi1pk = Some(due_pk(0));
        other.gsi1sk = Some(due_sk(at("2026-11-30T07:00:00Z"), "msg_monday"));
        w.table.insert_raw(serde_json::to_value(&other).unwrap());
        w.table.insert_raw(json!({"PK": account_pk("acme"), "SK": other.day_sk, "message_id": "msg_monday", "expires_at": 0}));
        other
    };
    w.clock.set(at("2026-11-28T19:00:02Z"));
    w.deliver_due().await;
    let first = w
        .table
        .messages()
        .into_iter()
        .find(|m| m.message_id != "msg_monday")
        .unwrap();
    assert_eq!(
        (first.status, first.reason),
        (MessageStatus::Cancelled, Some(Reason::AlreadyTextedToday))
    );
    assert_eq!(w.table.days(), vec![monday_msg.day_sk.clone()]);
    assert!(w.sent().is_empty());
    assert_eq!(w.check(&[A], &logs).len(), 0);
}

/// Case 2: a throttle or timeout from KMS, DynamoDB or the carrier check before Publish puts
/// the message back with a backoff; it is sent a little later, once.
#[tokio::test]
async fn case_02_a_transient_error_before_publish_retries_later() {
    for op in [
        "kms.Decrypt",
        "sns.CheckIfPhoneNumberIsOptedOut",
        "dynamodb.GetItem",
    ] {
        for mode in [FaultMode::Before, FaultMode::After] {
            let (logs, _guard) = capture_logs();
            let mut w = World::new(at("2026-11-27T10:00:00Z"));
            w.webhook(&call("c1", "no_answer", "inbound", A, w.now()))
                .await;
            w.pump_stream().await;
            w.faults.always(op, mode);
            w.deliver_due().await;
            w.faults.clear();
            let msg = &w.table.messages()[0];
            assert_eq!(
                (msg.status, msg.attempts),
                (MessageStatus::Scheduled, 1),
                "{op} {mode:?}"
            );
            assert!(w.sent().is_empty());
            w.run_until(at("2026-11-27T10:05:00Z")).await;
            assert_eq!(w.sent().len(), 1, "{op} {mode:?}");
            assert_eq!(
                outcome(&w.calls()["c1"]),
                (Some(Outcome::Sent), Some(Reason::InHours))
            );
            assert_eq!(w.check(&[A], &logs), Vec::<String>::new(), "{op} {mode:?}");
        }
    }
}

/// Case 3: Publish whose answer is lost after SNS accepted it is not retried and keeps the
/// day (`send_uncertain`); a clear refusal frees it (`provider_error`); a throttle retries.
#[tokio::test]
async fn case_03_publish_never_twice_and_frees_the_day_only_when_sure() {
    let (logs, _guard) = capture_logs();
    let mut w = World::new(at("2026-11-27T10:00:00Z"));
    w.webhook(&call("c1", "no_answer", "inbound", A, w.now()))
        .await;
    w.pump_stream().await;
    w.faults.always("sns.Publish", FaultMode::After);
    w.deliver_due().await;
    w.faults.clear();
    assert_eq!(
        outcome(&w.calls()["c1"]),
        (Some(Outcome::Failed), Some(Reason::SendUncertain))
    );
    assert_eq!(
        w.table.days().len(),
        1,
        "the day stays used: the SMS may have left"
    );
    // The same caller later that day: no second SMS.
    w.clock.set(at("2026-11-27T11:00:00Z"));
    w.webhook(&call("c2", "no_answer", "inbound", A, w.now()))
        .await;
    w.run_until(at("2026-11-27T11:10:00Z")).await;
    assert_eq!(
        outcome(&w.calls()["c2"]),
        (Some(Outcome::Skipped), Some(Reason::AlreadyTextedToday))
    );
    assert_eq!(w.sent().len(), 1, "one SMS left, and only one");

    // A clear refusal: nothing left, the day is freed.
    w.sms.refuse_next(&format!(
        "Invalid parameter: PhoneNumber Reason: {B} is not valid to publish to"
    ));
    w.webhook(&call("c3", "no_answer", "inbound", B, w.now()))
        .await;
    w.drain().await;
    assert_eq!(
        outcome(&w.calls()["c3"]),
        (Some(Outcome::Failed), Some(Reason::ProviderError))
    );
    assert_eq!(w.table.days().len(), 1);

    // A throttled Publish: nothing left, sent on a later attempt.
    w.faults.always("sns.Publish", FaultMode::Before);
    w.webhook(&call("c4", "no_answer", "inbound", C, w.now()))
        .await;
    w.drain().await;
    w.faults.clear();
    w.run_until(w.now() + Duration::minutes(3)).await;
    assert_eq!(
        outcome(&w.calls()["c4"]),
        (Some(Outcome::Sent), Some(Reason::InHours))
    );
    assert_eq!(w.sent().len(), 2);
    assert_eq!(w.check(&[A, B, C], &logs), Vec::<String>::new());
}

/// Case 4: SNS's error text carries the number; nothing logged or stored does.
#[tokio::test]
async fn case_04_error_texts_never_carry_the_number() {
    let (logs, _guard) = capture_logs();
    let mut w = World::new(at("2026-11-27T10:00:00Z"));
    w.sms.refuse_next(&format!(
        "Invalid parameter: PhoneNumber Reason: {A} is not valid to publish to"
    ));
    w.webhook(&call("c1", "no_answer", "inbound", A, w.now()))
        .await;
    w.drain().await;
    assert_eq!(
        outcome(&w.calls()["c1"]),
        (Some(Outcome::Failed), Some(Reason::ProviderError))
    );
    let text = logs.text();
    assert!(
        text.contains("is not valid to publish to"),
        "the error is logged"
    );
    assert!(text.contains("[number]"), "with the number scrubbed");
    assert_eq!(w.check(&[A], &logs), Vec::<String>::new());
}

/// Case 5: a stream record that keeps failing goes to the DLQ; the re-decide sweep gives its
/// call an outcome (here: the SMS, still in time).
#[tokio::test]
async fn case_05_a_call_dropped_by_the_stream_is_redecided() {
    let (logs, _guard) = capture_logs();
    let mut w = World::new(at("2026-11-27T10:00:00Z"));
    w.webhook(&call("c1", "no_answer", "inbound", A, w.now()))
        .await;
    // Eligibility cannot read the account for a while: every retry fails, then the DLQ.
    w.faults.always("dynamodb.GetItem", FaultMode::Before);
    for _ in 0..5 {
        w.pump_stream().await;
    }
    w.faults.clear();
    assert_eq!(w.dead_letters, 1);
    assert_eq!(w.calls()["c1"].outcome, None);
    assert!(
        w.calls()["c1"]
            .gsi1pk
            .as_deref()
            .is_some_and(|pk| pk.starts_with("UNDECIDED#"))
    );
    w.run_until(at("2026-11-27T10:16:00Z")).await;
    let c1 = &w.calls()["c1"];
    assert_eq!(outcome(c1), (Some(Outcome::Sent), Some(Reason::InHours)));
    assert_eq!(c1.gsi1pk, None, "decided calls leave the undecided index");
    assert_eq!(w.sent().len(), 1);
    assert!(logs.text().contains("\"event\":\"redecided\""));
    assert_eq!(w.check(&[A], &logs), Vec::<String>::new());
}

/// Case 6: the 10:00 missed-call webhook retried at 10:06 after the caller got through at
/// 10:05: no SMS.
#[tokio::test]
async fn case_06_human_contact_before_a_late_webhook() {
    let (logs, _guard) = capture_logs();
    let mut w = World::new(at("2026-11-27T09:05:10Z"));
    w.webhook(&call(
        "answered",
        "answered",
        "inbound",
        A,
        at("2026-11-27T09:05:00Z"),
    ))
    .await;
    w.drain().await;
    w.clock.set(at("2026-11-27T09:06:00Z"));
    w.webhook(&call(
        "missed",
        "no_answer",
        "inbound",
        A,
        at("2026-11-27T09:00:00Z"),
    ))
    .await;
    w.drain().await;
    assert_eq!(
        outcome(&w.calls()["missed"]),
        (Some(Outcome::Skipped), Some(Reason::AnsweredLater))
    );
    // The business calling back counts too.
    w.webhook(&call(
        "callback",
        "answered",
        "outbound",
        B,
        at("2026-11-27T09:05:30Z"),
    ))
    .await;
    w.drain().await;
    w.webhook(&call(
        "missed-b",
        "busy",
        "inbound",
        B,
        at("2026-11-27T09:01:00Z"),
    ))
    .await;
    w.drain().await;
    assert_eq!(
        outcome(&w.calls()["missed-b"]),
        (Some(Outcome::Skipped), Some(Reason::CalledBack))
    );
    // A missed call after the contact is texted.
    w.webhook(&call(
        "later",
        "no_answer",
        "inbound",
        A,
        at("2026-11-27T09:05:55Z"),
    ))
    .await;
    w.drain().await;
    assert_eq!(
        outcome(&w.calls()["later"]),
        (Some(Outcome::Sent), Some(Reason::InHours))
    );
    assert_eq!(w.sent().len(), 1);
    assert_eq!(w.check(&[A, B], &logs), Vec::<String>::new());
}

/// Case 7: an item the code cannot read (a newer `reason` after a rollback, a hand-edited
/// account) is skipped, logged by key and counted; its neighbours are sent.
#[tokio::test]
async fn case_07_an_unreadable_item_does_not_stall_its_shard() {
    let (logs, _guard) = capture_logs();
    // Monday 30 November, 07:59 Paris; two calls deferred from the night.
    let mut w = World::new(at("2026-11-29T21:00:00Z"));
    w.webhook(&call("c1", "no_answer", "inbound", A, w.now()))
        .await;
    w.webhook(&call("c2", "no_answer", "inbound", B, w.now()))
        .await;
    w.drain().await;
    let template = w.table.messages()[0].clone();
    // A message written by a newer version, due first in every shard.
    for shard in 0..4 {
        let id = format!("msg_future_{shard}");
        w.table.insert_raw(json!({
            "PK": account_pk("acme"), "SK": msg_sk(&id), "account_id": "acme", "message_id": id,
            "status": "scheduled", "reason": "a_reason_from_the_future",
            "GSI1PK": due_pk(shard), "GSI1SK": due_sk(at("2026-11-29T22:00:00Z"), &id),
        }));
    }
    // A hand-edited account with a due message.
    w.table.insert_raw(
        json!({"PK": account_pk("broken"), "SK": "ACCOUNT", "account_id": "broken",
        "settings": "{\"account_id\":\"broken\",\"company_name\":\"\"}", "updated_at": "x"}),
    );
    let mut broken = template;
    broken.account_id = "broken".into();
    broken.pk = account_pk("broken");
    broken.message_id = "msg_broken".into();
    broken.sk = msg_sk("msg_broken");
    broken.gsi1sk = Some(due_sk(at("2026-11-29T22:00:00Z"), "msg_broken"));
    w.table.insert_raw(serde_json::to_value(&broken).unwrap());

    w.run_until(at("2026-11-30T07:01:00Z")).await;
    assert_eq!(w.sent().len(), 2, "both neighbours sent at 08:00");
    let text = logs.text();
    assert!(text.contains("\"event\":\"unreadable_item\""));
    assert!(
        text.contains("ACCOUNT#acme/MSG#msg_future_0"),
        "logged by key"
    );
    assert!(text.contains("ACCOUNT#broken/ACCOUNT"), "the account too");
    assert_eq!(
        w.table
            .raw(&account_pk("broken"), &msg_sk("msg_broken"))
            .unwrap()["status"],
        "scheduled",
        "the broken account's message waits (with a backoff) for the account to be fixed"
    );
}

/// Case 8: a Monday-08:00 backlog drains in one sweep, not 100 messages per shard per minute.
#[tokio::test]
async fn case_08_the_sweep_pages_until_the_queue_is_empty() {
    let mut w = World::with_account(
        at("2026-11-29T21:00:00Z"),
        account(json!({"daily_sms_cap": 10000})),
    );
    // (Numbers ending in 99 are opted out at the fake carrier, as at moto's.)
    let numbers: Vec<String> = (1000..2000)
        .filter(|i| i % 100 != 99)
        .take(600)
        .map(|i| format!("+3360000{i:04}"))
        .collect();
    for (i, n) in numbers.iter().enumerate() {
        w.webhook(&call(&format!("c{i}"), "no_answer", "inbound", n, w.now()))
            .await;
    }
    w.pump_stream().await;
    assert_eq!(w.table.messages().len(), 600);
    w.clock.set(at("2026-11-30T07:00:00Z"));
    w.sweep().await;
    assert_eq!(w.sent().len(), 600, "one sweep drains the whole backlog");
}

/// Case 11: an account's daily SMS cap (`daily_sms_cap`) stops a leaked secret from texting
/// every mobile in the business's name.
#[tokio::test]
async fn case_11_the_daily_cap_stops_an_account() {
    let (logs, _guard) = capture_logs();
    let mut w = World::with_account(
        at("2026-11-27T10:00:00Z"),
        account(json!({"daily_sms_cap": 2})),
    );
    for (i, n) in [A, B, C].iter().enumerate() {
        w.webhook(&call(&format!("c{i}"), "no_answer", "inbound", n, w.now()))
            .await;
    }
    w.drain().await;
    let calls = w.calls();
    assert_eq!(
        outcome(&calls["c2"]),
        (Some(Outcome::Skipped), Some(Reason::DailyCap))
    );
    assert_eq!(w.sent().len(), 2);
    // The next day, the account sends again.
    w.jump_to(at("2026-11-28T09:00:00Z")).await;
    w.webhook(&call("next-day", "no_answer", "inbound", C, w.now()))
        .await;
    w.drain().await;
    assert_eq!(
        outcome(&w.calls()["next-day"]),
        (Some(Outcome::Sent), Some(Reason::InHours))
    );
    assert_eq!(w.check(&[A, B, C], &logs), Vec::<String>::new());
}

/// Case 10, when the earlier leg never comes: the pending event is stored as it reads by the
/// re-decide sweep (nothing is lost) and decided.
#[tokio::test]
async fn case_10_a_pending_event_whose_leg_never_comes_is_stored_and_decided() {
    let (logs, _guard) = capture_logs();
    let mut w = World::new(at("2026-11-27T10:00:00Z"));
    // A stored call as a template for what intake keeps pending (a Telnyx hangup with no
    // call.initiated reads as outbound).
    w.webhook(&call("template", "no_answer", "outbound", A, w.now()))
        .await;
    w.drain().await;
    let mut pending = w.calls()["template"].clone();
    pending.sk = rappel::items::pending_sk("generic", "leg-1");
    pending.call_id = "h2".into();
    pending.outcome = None;
    pending.reason = None;
    pending.decided_at = None;
    pending.gsi1pk = Some(rappel::items::undecided_pk(0));
    pending.gsi1sk = Some(rappel::items::undecided_sk(
        &pending.received_at,
        &pending.sk,
    ));
    w.table.insert_raw(serde_json::to_value(&pending).unwrap());
    w.run_until(at("2026-11-27T10:16:00Z")).await;
    let calls = w.calls();
    assert_eq!(
        outcome(&calls["h2"]),
        (Some(Outcome::Ignored), Some(Reason::Outbound))
    );
    assert_eq!(calls["h2"].sk, "CALL#generic#h2");
    assert!(
        w.table
            .all()
            .iter()
            .all(|i| !i["SK"].as_str().unwrap().starts_with("PENDING#"))
    );
    assert!(logs.text().contains("\"event\":\"redecided\""));
}

/// Case 1 again: a message that waited past midnight (the sweep down overnight) is sent on
/// another local day than it reserved. Its reservation moves to the day of the send, or it is
/// cancelled when the caller already holds that day: never two SMS on one day.
#[tokio::test]
async fn case_01_a_message_sent_a_day_late_moves_its_reservation() {
    let (logs, _guard) = capture_logs();
    // Monday 30 November 2026, 18:00 Paris: due now, but no sender runs until Tuesday.
    let mut w = World::new(at("2026-11-30T17:00:00Z"));
    w.webhook(&call("mon", "no_answer", "inbound", A, w.now()))
        .await;
    w.pump_stream().await;
    w.events.take_due();
    // Tuesday 08:30 Paris: the same caller again, texted now (Tuesday is free).
    w.clock.set(at("2026-12-01T07:30:00Z"));
    w.webhook(&call("tue", "no_answer", "inbound", A, w.now()))
        .await;
    w.pump_stream().await;
    w.events.take_due();
    assert_eq!(w.table.days().len(), 2);
    // The sender comes back at 09:00.
    w.clock.set(at("2026-12-01T08:00:00Z"));
    w.sweep().await;
    w.run_until(at("2026-12-01T08:05:00Z")).await;
    assert_eq!(w.sent().len(), 1, "one SMS on Tuesday");
    let calls = w.calls();
    assert_eq!(
        outcome(&calls["mon"]),
        (Some(Outcome::Cancelled), Some(Reason::AlreadyTextedToday))
    );
    assert_eq!(
        outcome(&calls["tue"]),
        (Some(Outcome::Sent), Some(Reason::InHours))
    );
    assert_eq!(w.check(&[A], &logs), Vec::<String>::new());
}

/// Rule 5 at send time: a human contact the cancellation could not act on (the message was
/// already claimed, or the contact was read before the message existed) stops the send.
#[tokio::test]
async fn a_contact_after_the_call_stops_a_message_at_send_time() {
    let (logs, _guard) = capture_logs();
    let mut w = World::new(at("2026-11-27T10:00:00Z"));
    w.webhook(&call("missed", "no_answer", "inbound", A, w.now()))
        .await;
    w.pump_stream().await;
    w.events.take_due();
    let msg = w.table.messages()[0].clone();
    // The business called back at 10:00:30; its cancellation did not see the message.
    w.table.insert_raw(json!({
        "PK": account_pk("acme"), "SK": format!("CONTACT#{}", msg.caller_hash),
        "last_contact_at": "2026-11-27T10:00:30Z", "reason": "called_back", "expires_at": 0,
    }));
    w.clock.set(at("2026-11-27T10:01:00Z"));
    w.sweep().await;
    assert!(w.sent().is_empty());
    assert_eq!(
        outcome(&w.calls()["missed"]),
        (Some(Outcome::Cancelled), Some(Reason::CalledBack))
    );
    assert_eq!(
        w.table.days(),
        Vec::<String>::new(),
        "a cancelled message frees the day"
    );
    assert_eq!(w.check(&[A], &logs), Vec::<String>::new());
}
