//! A test world: Rappel's three functions wired to the in-memory fakes of
//! [`rappel::fake`], and the parts AWS plays (the provider's retries, the table stream with
//! Lambda's retries and its dead-letter queue, the `MessageDue` rule with EventBridge's
//! retries, the one-minute sweep, the five-minute re-decide schedule) played by hand, so that
//! faults and crashes can be injected at any port call and what AWS would do next can run.
//!
//! [`World::check`] states the three promises (docs/architecture.md):
//! 1. at most one SMS per caller per account per local send day;
//! 2. every stored call ends with a final outcome, and no message is left in flight;
//! 3. no test number in clear in any log line, item, event or HTTP answer.

use chrono::{DateTime, Duration, Utc};
use lambda_http::Body;
use lambda_runtime::{Context, LambdaEvent};
use rappel::account::Account;
use rappel::fake::{
    FakeClock, FakeEvents, FakeKeys, FakeSms, Faults, LogBuffer, MemoryTable, SentSms,
};
use rappel::items::{CALL_PREFIX, CallItem, MessageStatus};
use rappel::ports::Clock;
use rappel::rules::Outcome;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The account every scenario uses (generic provider, secret [`SECRET`]).
pub const ACCOUNT: &str = "acme";
/// Its generic webhook secret.
pub const SECRET: &str = "s3cret-generic";
/// The deployment's public URL.
pub const BASE_URL: &str = "https://rappel.example.fr";

/// How many times a provider retries a webhook that did not get a 2xx.
pub const PROVIDER_RETRIES: usize = 5;
/// How many times Lambda retries a failed stream record before it goes to the DLQ.
pub const STREAM_RETRIES: usize = 3;
/// How many times EventBridge retries a `MessageDue` delivery in these tests.
pub const EVENT_RETRIES: usize = 3;

pub type IntakeDeps = webhook_intake::handler::Deps<MemoryTable, FakeKeys, FakeClock>;
pub type EligibilityDeps = eligibility::handler::Deps<MemoryTable, FakeEvents, FakeClock>;
pub type SenderDeps = sender::handler::Deps<MemoryTable, FakeKeys, FakeSms, FakeEvents, FakeClock>;

/// A stream record waiting for (another) delivery to eligibility.
struct PendingRecord {
    key: (String, String),
    attempts: usize,
}

/// One world: one table, one carrier, one bus, one clock, one fault plan.
pub struct World {
    pub faults: Arc<Faults>,
    pub clock: FakeClock,
    pub table: MemoryTable,
    pub sms: FakeSms,
    pub events: FakeEvents,
    pub intake: IntakeDeps,
    pub eligibility: EligibilityDeps,
    pub sender: SenderDeps,
    stream_pos: usize,
    stream: Vec<PendingRecord>,
    /// Records Lambda gave up on (the DLQ: metadata only).
    pub dead_letters: usize,
    due: Vec<(Value, usize)>,
    /// HTTP answers of intake: (status, body).
    pub answers: Vec<(u16, String)>,
    /// Which function ran each port call (index → function name), for the matrix.
    pub call_owner: Vec<&'static str>,
    next_redecide: DateTime<Utc>,
}

/// The account settings of [`ACCOUNT`], with `extra` JSON fields merged in.
pub fn account(extra: Value) -> Account {
    let mut json = json!({
        "account_id": ACCOUNT,
        "company_name": "Acme Plomberie",
        "webhook_secrets": {"generic": SECRET},
    });
    if let (Some(map), Some(extra)) = (json.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            map.insert(k.clone(), v.clone());
        }
    }
    Account::from_json(&json.to_string()).expect("valid account")
}

/// Parse an RFC 3339 instant.
pub fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().expect("RFC 3339 instant")
}

impl World {
    /// A world at `start` with [`account`]`(json!({}))`.
    pub fn new(start: DateTime<Utc>) -> World {
        World::with_account(start, account(json!({})))
    }

    pub fn with_account(start: DateTime<Utc>, account: Account) -> World {
        World::with_shards(start, account, 4)
    }

    /// A world whose due queue and undecided index have `shards` partitions.
    pub fn with_shards(start: DateTime<Utc>, account: Account, shards: u32) -> World {
        let faults = Faults::new();
        let clock = FakeClock::at(start);
        let table = MemoryTable::new(faults.clone());
        table.put_account(&account);
        let keys = FakeKeys::new(faults.clone());
        let sms = FakeSms::new(faults.clone(), clock.clone());
        let events = FakeEvents::new(faults.clone());
        World {
            intake: webhook_intake::handler::Deps {
                table: table.clone(),
                keys: keys.clone(),
                clock: clock.clone(),
                public_base_url: BASE_URL.into(),
                secrets: Default::default(),
                due_shards: shards,
            },
            eligibility: eligibility::handler::Deps {
                table: table.clone(),
                events: events.clone(),
                clock: clock.clone(),
                due_shards: shards,
            },
            sender: sender::handler::Deps {
                table: table.clone(),
                keys,
                sms: sms.clone(),
                events: events.clone(),
                clock: clock.clone(),
                due_shards: shards,
                public_base_url: BASE_URL.into(),
                send_rate: sender::pace::SendRate::per_second(10_000),
            },
            faults,
            clock,
            table,
            sms,
            events,
            stream_pos: 0,
            stream: Vec::new(),
            dead_letters: 0,
            due: Vec::new(),
            answers: Vec::new(),
            call_owner: Vec::new(),
            next_redecide: start + Duration::minutes(5),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Note which function made the port calls since the last note.
    fn owned_by(&mut self, function: &'static str) {
        let count = self.faults.count();
        while self.call_owner.len() < count {
            self.call_owner.push(function);
        }
    }

    /// One invocation of webhook-intake with a signed generic webhook (`body` JSON).
    pub async fn webhook_once(&mut self, body: &Value) -> u16 {
        let text = body.to_string();
        let now = self.now();
        let signature = rappel::providers::generic::sign(SECRET, now.timestamp(), text.as_bytes());
        let req = lambda_http::http::Request::builder()
            .method("POST")
            .uri(format!("{BASE_URL}/webhooks/generic/{ACCOUNT}"))
            .header("content-type", "application/json")
            .header("x-rappel-timestamp", now.timestamp().to_string())
            .header("x-rappel-signature", signature)
            .body(Body::from(text))
            .expect("request");
        self.faults.restart();
        let response = webhook_intake::handler::handle(&self.intake, req)
            .await
            .expect("intake never fails");
        self.owned_by("intake");
        let status = response.status().as_u16();
        let answer = String::from_utf8_lossy(response.body().as_ref()).into_owned();
        self.answers.push((status, answer));
        status
    }

    /// A webhook as a provider delivers it: retried (30 s apart) until it gets a 2xx, at most
    /// [`PROVIDER_RETRIES`] times. Returns the last status.
    pub async fn webhook(&mut self, body: &Value) -> u16 {
        let mut status = self.webhook_once(body).await;
        for _ in 0..PROVIDER_RETRIES {
            if (200..300).contains(&status) {
                break;
            }
            self.clock.advance(Duration::seconds(30));
            status = self.webhook_once(body).await;
        }
        status
    }

    /// Deliver new and retried stream records (INSERT of calls) to eligibility, one record
    /// per batch; a record that fails is retried on the next pump, at most
    /// [`STREAM_RETRIES`] times, then dropped to the DLQ (the re-decide sweep finds its call).
    pub async fn pump_stream(&mut self) {
        let (new, end) = self.table.inserted_since(self.stream_pos);
        self.stream_pos = end;
        self.stream.extend(
            new.into_iter()
                .filter(|(_, sk)| sk.starts_with(CALL_PREFIX))
                .map(|key| PendingRecord { key, attempts: 0 }),
        );
        let pending = std::mem::take(&mut self.stream);
        for mut record in pending {
            let Some(image) = self.table.raw(&record.key.0, &record.key.1) else {
                continue;
            };
            let event = stream_event(&record.key, &image);
            self.faults.restart();
            let result = eligibility::handler::handle(
                &self.eligibility,
                LambdaEvent::new(event, Context::default()),
            )
            .await;
            self.owned_by("eligibility");
            let failed = match result {
                Ok(answer) => answer["batchItemFailures"]
                    .as_array()
                    .is_some_and(|f| !f.is_empty()),
                Err(_) => true,
            } || self.faults.crashed();
            if failed {
                record.attempts += 1;
                if record.attempts > STREAM_RETRIES {
                    self.dead_letters += 1;
                } else {
                    self.stream.push(record);
                }
            }
        }
    }

    /// Deliver `MessageDue` events to the sender (EventBridge rule), retrying failed
    /// deliveries at most [`EVENT_RETRIES`] times.
    pub async fn deliver_due(&mut self) {
        self.due
            .extend(self.events.take_due().into_iter().map(|d| (d, 0)));
        let pending = std::mem::take(&mut self.due);
        for (detail, attempts) in pending {
            let event = json!({
                "version": "0", "id": "e", "detail-type": "MessageDue", "source": "rappel",
                "account": "000000000000", "time": rappel::items::ts(self.now()),
                "region": "eu-west-3", "resources": [], "detail": detail,
            });
            self.faults.restart();
            let result =
                sender::handler::handle(&self.sender, LambdaEvent::new(event, Context::default()))
                    .await;
            self.owned_by("sender");
            if (result.is_err() || self.faults.crashed()) && attempts < EVENT_RETRIES {
                self.due.push((detail, attempts + 1));
            }
        }
    }

    /// One scheduled sweep of the sender.
    pub async fn sweep(&mut self) {
        self.faults.restart();
        let _ = sender::handler::handle(
            &self.sender,
            LambdaEvent::new(json!({"sweep": true}), Context::default()),
        )
        .await;
        self.owned_by("sender");
    }

    /// One run of the re-decide schedule.
    pub async fn redecide(&mut self) {
        self.faults.restart();
        let _ = eligibility::handler::handle(
            &self.eligibility,
            LambdaEvent::new(json!({"redecide": true}), Context::default()),
        )
        .await;
        self.owned_by("eligibility");
    }

    /// Everything pending now: stream, events, one sweep.
    pub async fn drain(&mut self) {
        for _ in 0..3 {
            self.pump_stream().await;
            self.deliver_due().await;
        }
        self.sweep().await;
        self.pump_stream().await;
        self.deliver_due().await;
    }

    /// Let time pass minute by minute until `until`, doing what AWS does each minute (stream,
    /// events, the sweep) and every five minutes the re-decide schedule.
    pub async fn run_until(&mut self, until: DateTime<Utc>) {
        self.drain().await;
        while self.now() < until {
            let step = (until - self.now()).min(Duration::minutes(1));
            self.clock.advance(step);
            self.drain().await;
            if self.now() >= self.next_redecide {
                self.redecide().await;
                self.next_redecide = self.now() + Duration::minutes(5);
                self.drain().await;
            }
        }
    }

    /// Move the clock to `to` in one jump (a quiet night: nothing runs in between), then
    /// drain.
    pub async fn jump_to(&mut self, to: DateTime<Utc>) {
        self.clock.set(to);
        self.next_redecide = to;
        self.drain().await;
    }

    /// The calls, by call id.
    pub fn calls(&self) -> BTreeMap<String, CallItem> {
        self.table
            .calls()
            .into_iter()
            .map(|c| (c.call_id.clone(), c))
            .collect()
    }

    /// The SMS sent so far.
    pub fn sent(&self) -> Vec<SentSms> {
        self.sms.sent()
    }

    /// The three promises, as a list of violations (empty when they hold). `numbers` are the
    /// test numbers the scenario used; `logs` what was logged.
    pub fn check(&self, numbers: &[&str], logs: &LogBuffer) -> Vec<String> {
        let mut violations = Vec::new();
        // 1. At most one SMS per caller per account per local send day (Paris for FR).
        let mut per_day: BTreeMap<(String, chrono::NaiveDate), usize> = BTreeMap::new();
        for sms in self.sent() {
            let day = sms.at.with_timezone(&chrono_tz::Europe::Paris).date_naive();
            *per_day.entry((sms.to.clone(), day)).or_default() += 1;
        }
        for ((to, day), n) in per_day {
            if n > 1 {
                let masked = rappel::phone::E164::from_e164_unchecked(to).masked();
                violations.push(format!("{n} SMS to {masked} on {day}"));
            }
        }
        // 2. Every stored call has a final outcome; no message in flight.
        for call in self.table.calls() {
            match call.outcome {
                None => violations.push(format!("call {} has no outcome", call.call_id)),
                Some(Outcome::Scheduled) => {
                    let due = call.due_at.as_deref().map(at);
                    if due.is_none_or(|d| d <= self.now()) {
                        violations.push(format!(
                            "call {} still scheduled past its due time",
                            call.call_id
                        ));
                    }
                }
                Some(_) => {}
            }
        }
        for msg in self.table.messages() {
            if msg.status == MessageStatus::Sending {
                violations.push(format!("message {} left in flight", msg.message_id));
            }
        }
        // 3. No number in clear anywhere but the carrier's own record.
        let items = serde_json::to_string(&self.table.all()).unwrap();
        let events = serde_json::to_string(&self.events.all()).unwrap();
        let answers = format!("{:?}", self.answers);
        for (name, text) in [
            ("items", items),
            ("events", events),
            ("answers", answers),
            ("logs", logs.text()),
        ] {
            if let Some((n, form)) = rappel::fake::find_number(&text, numbers) {
                let masked = rappel::phone::E164::from_e164_unchecked(n).masked();
                violations.push(format!(
                    "{masked} in clear in {name} (as {} characters)",
                    form.len()
                ));
            }
        }
        violations
    }
}

/// A generic webhook body: `status` (`no_answer`, `answered`...), `direction`
/// (`inbound`/`outbound`), the prospect `number`, ended at `ended` (UTC).
pub fn call(
    call_id: &str,
    status: &str,
    direction: &str,
    number: &str,
    ended: DateTime<Utc>,
) -> Value {
    let (from, to) = if direction == "inbound" {
        (number, "+33144000000")
    } else {
        ("+33144000000", number)
    };
    json!({
        "call_id": call_id,
        "direction": direction,
        "status": status,
        "from": from,
        "to": to,
        "started_at": rappel::items::ts(ended - Duration::seconds(25)),
        "ended_at": rappel::items::ts(ended),
        "ring_seconds": 25,
    })
}

/// The stream event (one `INSERT` record) for the item `key` with image `image`.
fn stream_event(key: &(String, String), image: &Value) -> Value {
    let keys: serde_dynamo::Item =
        serde_dynamo::to_item(json!({"PK": key.0, "SK": key.1})).expect("keys");
    let image: serde_dynamo::Item = serde_dynamo::to_item(image).expect("image");
    json!({"Records": [{
        "eventID": "1",
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "eventVersion": "1.1",
        "awsRegion": "eu-west-3",
        "eventSourceARN": "arn:aws:dynamodb:eu-west-3:000000000000:table/rappel/stream/x",
        "dynamodb": {
            "Keys": keys,
            "NewImage": image,
            "SequenceNumber": "1",
            "SizeBytes": 1,
            "StreamViewType": "NEW_IMAGE",
        },
    }]})
}
