//! The Monday 08:00 drain: 10,000 messages of 200 accounts due at once, published by the
//! sender's sweeps at a configured send rate (`cargo bench -p rappel-bench --bench drain`;
//! `make bench` runs it and puts its lines in the table).
//!
//! The sender's own code (`sender::handler::sweep_until`, `sender::pace::SendRate`) runs on
//! the in-memory fakes under tokio's paused clock: every AWS round trip of one message is
//! modelled by the SMS gateway's delays (the carrier's opt-out check 40 ms, Publish 80 ms:
//! 120 ms a message, what DynamoDB, KMS, SNS and EventBridge take together on a warm
//! instance), time only moves when every task waits, and the figures are virtual seconds:
//! the same on any machine. A sweep starts every 60 s with Lambda's 90 s timeout, as the
//! template schedules it.
//!
//! Prints one JSON object per scenario: messages sent, virtual seconds from 08:00 to the
//! last Publish, the bound `messages / rate`, sweeps used, messages left unsent.

use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use rappel::account::{Account, Originator};
use rappel::fake::{FakeEvents, FakeKeys, Faults, MemoryTable};
use rappel::items::*;
use rappel::phone::E164;
use rappel::ports::{Clock, PortError, SmsGateway};
use rappel::rules::Reason;
use sender::handler::{Deps, sweep_until};
use sender::pace::SendRate;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::time::{Duration, Instant};

const ACCOUNTS: usize = 200;
const MESSAGES: usize = 10_000;
const SHARDS: u32 = 4;
const CHECK_LATENCY: Duration = Duration::from_millis(40);
const PUBLISH_LATENCY: Duration = Duration::from_millis(80);

/// UTC that follows tokio's (paused) clock from a starting instant.
#[derive(Clone)]
struct VirtualClock {
    start_utc: DateTime<Utc>,
    start: Instant,
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        self.start_utc + ChronoDuration::from_std(Instant::now() - self.start).unwrap()
    }
}

/// An SMS gateway that takes the time AWS takes and counts what it published.
#[derive(Clone, Default)]
struct TimedSms {
    sent: Arc<AtomicU64>,
    /// Milliseconds after the start of the last Publish's answer.
    last_ms: Arc<AtomicU64>,
    start: Option<Instant>,
}

impl SmsGateway for TimedSms {
    async fn is_opted_out(&self, _to: &E164) -> Result<bool, PortError> {
        tokio::time::sleep(CHECK_LATENCY).await;
        Ok(false)
    }

    async fn publish(
        &self,
        _to: &E164,
        _from: &Originator,
        _body: &str,
    ) -> Result<String, PortError> {
        tokio::time::sleep(PUBLISH_LATENCY).await;
        let n = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
        let start = self.start.expect("started");
        self.last_ms.fetch_max(
            (Instant::now() - start).as_millis() as u64,
            Ordering::SeqCst,
        );
        Ok(format!("sns-{n}"))
    }
}

/// Monday 30 November 2026, 08:00 in Paris.
fn monday_8() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 7, 0, 0).unwrap()
}

fn world(
    rate: SendRate,
) -> (
    Deps<MemoryTable, FakeKeys, TimedSms, FakeEvents, VirtualClock>,
    TimedSms,
) {
    let faults = Faults::new();
    let table = MemoryTable::new(faults.clone());
    let due = monday_8();
    for a in 0..ACCOUNTS {
        let id = format!("acct-{a:03}");
        table.put_account(
            &Account::from_json(&format!(
                r#"{{"account_id":"{id}","company_name":"Plomberie {a}","sender_id":"Plomb{a:03}"}}"#
            ))
            .unwrap(),
        );
    }
    for i in 0..MESSAGES {
        let account_id = format!("acct-{:03}", i % ACCOUNTS);
        let message_id = format!("msg_{i:024x}");
        let hash = format!("{i:064x}");
        let call_sk = call_sk("generic", &format!("call-{i}"));
        let friday = due - ChronoDuration::hours(62); // Friday 19:00: deferred over the weekend
        let msg = MessageItem {
            pk: account_pk(&account_id),
            sk: msg_sk(&message_id),
            account_id: account_id.clone(),
            message_id: message_id.clone(),
            status: MessageStatus::Scheduled,
            call_sk: call_sk.clone(),
            caller_hash: hash.clone(),
            caller_masked: Some("+33 6•• •• •• 00".into()),
            number: Some(FakeKeys::seal_text(&format!("+3360000{i:04}"))),
            day_sk: day_sk(&hash, due.date_naive()),
            region: Some("FR".into()),
            call_happened_at: Some(ts(friday)),
            token: format!("tok{i}"),
            due_at: ts(due),
            send_before: ts(friday + ChronoDuration::hours(72)),
            created_at: ts(friday),
            sent_at: None,
            sns_message_id: None,
            opened_at: None,
            reason: Some(Reason::QuietHours),
            attempts: 0,
            claim_token: None,
            gsi1pk: Some(due_pk(shard_of(&message_id, SHARDS))),
            gsi1sk: Some(due_sk(due, &message_id)),
            expires_at: 0,
        };
        table.insert_raw(serde_json::to_value(&msg).unwrap());
        table.insert_raw(
            serde_json::json!({"PK": account_pk(&account_id), "SK": msg.day_sk,
            "message_id": message_id, "expires_at": 0}),
        );
        table.insert_raw(
            serde_json::json!({"PK": account_pk(&account_id), "SK": call_sk,
            "account_id": account_id, "provider": "generic", "call_id": format!("call-{i}"),
            "direction": "inbound", "status": "no_answer", "provider_status": "no_answer",
            "caller": "number", "received_at": ts(friday), "happened_at": ts(friday),
            "outcome": "scheduled", "reason": "quiet_hours", "expires_at": 0}),
        );
    }
    let sms = TimedSms {
        start: Some(Instant::now()),
        ..TimedSms::default()
    };
    let deps = Deps {
        table,
        keys: FakeKeys::new(faults.clone()),
        sms: sms.clone(),
        events: FakeEvents::new(faults),
        clock: VirtualClock {
            start_utc: due,
            start: Instant::now(),
        },
        due_shards: SHARDS,
        public_base_url: "https://rappel.example.fr".into(),
        send_rate: rate,
    };
    (deps, sms)
}

/// Sweeps every 60 s (90 s Lambda timeout) until nothing is due or an hour has passed.
async fn drain(name: &str, rate: SendRate, bound_rate: Option<u32>) {
    let (deps, sms) = world(rate);
    let started = Instant::now();
    let real = std::time::Instant::now();
    let mut sweeps = 0;
    loop {
        let start = started + Duration::from_secs(60 * sweeps);
        tokio::time::sleep_until(start).await;
        sweeps += 1;
        let report = sweep_until(&deps, Some(start + Duration::from_secs(90)))
            .await
            .expect("the sweep runs");
        if report.deliveries.is_empty() || sweeps >= 60 {
            break;
        }
    }
    let left = deps
        .table
        .messages()
        .iter()
        .filter(|m| m.status != MessageStatus::Sent)
        .count();
    let drain_s = sms.last_ms.load(Ordering::SeqCst) as f64 / 1000.0;
    let line = serde_json::json!({
        "scenario": name,
        "messages": MESSAGES,
        "accounts": ACCOUNTS,
        "rate_per_s": bound_rate,
        "sent": sms.sent.load(Ordering::SeqCst),
        "left": left,
        "drain_s": drain_s,
        "bound_s": bound_rate.map(|r| MESSAGES as f64 / r as f64),
        "sweeps": sweeps - 1,
        "real_s": real.elapsed().as_secs_f64(),
    });
    println!("{line}");
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    // Before: one message at a time, as fast as the round trips allow.
    drain(
        "one at a time",
        SendRate::per_second(10_000).with_concurrency(1),
        None,
    )
    .await;
    for rate in [20, 50, 100] {
        drain(
            &format!("{rate} SMS/s"),
            SendRate::per_second(rate),
            Some(rate),
        )
        .await;
    }
}
