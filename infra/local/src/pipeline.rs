//! The parts AWS plays, played locally: the simulated clock, the table stream → eligibility,
//! the EventBridge rule (`MessageDue` → sender), the one-minute schedule → sender, and the
//! records behind `/_local/outbox` and `/_local/events`.

use crate::metrics::PHASE;
use crate::stack::{BoxError, TABLE_NAME};
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use chrono::{DateTime, Utc};
use lambda_runtime::{Context, LambdaEvent};
use rappel::aws::{EventBus, Kms, Sns, Table};
use rappel::items::{CALL_PREFIX, GSI1, GSI1PK, GSI1SK, due_pk, ts};
use rappel::phone::E164;
use rappel::ports::{Clock, EVENT_SOURCE, EventPublisher, PortError, SmsGateway, detail_type};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

/// The clock every handler sees: real time, or a simulated instant moved by `/_local/clock`.
#[derive(Clone)]
pub struct SharedClock(Arc<RwLock<Option<DateTime<Utc>>>>);

impl SharedClock {
    pub fn new(start: Option<DateTime<Utc>>) -> SharedClock {
        SharedClock(Arc::new(RwLock::new(start)))
    }
    pub fn is_simulated(&self) -> bool {
        self.0.read().expect("clock lock").is_some()
    }
    /// Move a simulated clock to `to` (switches a real clock to simulated at `to`).
    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.write().expect("clock lock") = Some(to);
    }
}

impl Clock for SharedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.read().expect("clock lock").unwrap_or_else(Utc::now)
    }
}

/// An event put on the bus, as `/_local/events` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedEvent {
    pub detail_type: String,
    pub detail: Value,
    pub time: String,
}

/// An SMS published, as `/_local/outbox` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxEntry {
    pub message_id: String,
    pub account_id: String,
    /// E.164 number the SMS went to (local stack only; test numbers).
    pub to: String,
    pub sender_id: String,
    pub body: String,
    pub sent_at: String,
}

#[derive(Default)]
struct Records {
    events: Vec<RecordedEvent>,
    /// `MessageDue` events waiting for the EventBridge rule → sender.
    due: VecDeque<Value>,
    /// SNS message id → (to, sender id, body).
    published: BTreeMap<String, (String, String, String)>,
}

/// What the local stack saw, shared by the recording adapters and the routes.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Records>>);

impl Recorder {
    pub fn events(&self) -> Vec<RecordedEvent> {
        self.0.lock().expect("records lock").events.clone()
    }

    fn pop_due(&self) -> Option<Value> {
        self.0.lock().expect("records lock").due.pop_front()
    }

    /// Published SMS joined with their `SmsSent` events.
    pub fn outbox(&self) -> Vec<OutboxEntry> {
        let records = self.0.lock().expect("records lock");
        records
            .events
            .iter()
            .filter(|e| e.detail_type == detail_type::SMS_SENT)
            .filter_map(|e| {
                let sns_id = e.detail["sns_message_id"].as_str()?;
                let (to, sender_id, body) = records.published.get(sns_id)?.clone();
                Some(OutboxEntry {
                    message_id: e.detail["message_id"].as_str()?.to_string(),
                    account_id: e.detail["account_id"].as_str()?.to_string(),
                    to,
                    sender_id,
                    body,
                    sent_at: e.detail["sent_at"].as_str()?.to_string(),
                })
            })
            .collect()
    }
}

/// The EventBridge adapter, recording every event and routing `MessageDue` like the
/// template's rule does.
pub struct RecordingBus {
    pub bus: EventBus,
    pub records: Recorder,
    pub clock: SharedClock,
}

impl EventPublisher for RecordingBus {
    async fn put(&self, detail_type: &str, detail: Value) -> Result<(), PortError> {
        self.bus.put(detail_type, detail.clone()).await?;
        let time = ts(self.clock.now());
        let mut records = self.records.0.lock().expect("records lock");
        if detail_type == detail_type::MESSAGE_DUE {
            let id = format!("local-{}", records.events.len());
            records.due.push_back(json!({
                "version": "0",
                "id": id,
                "detail-type": detail_type,
                "source": EVENT_SOURCE,
                "account": "000000000000",
                "time": time,
                "region": "eu-west-3",
                "resources": [],
                "detail": detail,
            }));
        }
        records.events.push(RecordedEvent {
            detail_type: detail_type.to_string(),
            detail,
            time,
        });
        Ok(())
    }
}

/// The SNS adapter, recording each published SMS for `/_local/outbox`.
pub struct RecordingSms {
    pub sns: Sns,
    pub records: Recorder,
}

impl SmsGateway for RecordingSms {
    async fn is_opted_out(&self, to: &E164) -> Result<bool, PortError> {
        self.sns.is_opted_out(to).await
    }

    async fn publish(
        &self,
        to: &E164,
        from: &rappel::account::Originator,
        body: &str,
    ) -> Result<String, PortError> {
        let id = self.sns.publish(to, from, body).await?;
        self.records
            .0
            .lock()
            .expect("records lock")
            .published
            .insert(
                id.clone(),
                (
                    to.expose().to_string(),
                    from.as_str().to_string(),
                    body.to_string(),
                ),
            );
        Ok(id)
    }
}

/// Every function's dependencies, wired to moto through the recording adapters.
pub struct App {
    pub intake: webhook_intake::handler::Deps<Table, Kms, SharedClock>,
    pub eligibility: eligibility::handler::Deps<Table, RecordingBus, SharedClock>,
    pub sender: sender::handler::Deps<Table, Kms, RecordingSms, RecordingBus, SharedClock>,
    pub booking: booking::handler::Deps<Kms, RecordingBus, SharedClock>,
    pub inbound: inbound_sms::handler::Deps<Table, Kms, RecordingBus, SharedClock>,
    /// A table handle for the local routes.
    pub table: Table,
    pub clock: SharedClock,
    pub records: Recorder,
    /// AWS calls made by the handlers, per function.
    pub calls: crate::metrics::AwsCalls,
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// Shard id → last stream sequence number delivered.
    pub iterators: tokio::sync::Mutex<BTreeMap<String, Option<String>>>,
    /// Serialises drains (AWS would run them concurrently; one at a time keeps the local
    /// stack deterministic).
    pub drain_lock: tokio::sync::Mutex<()>,
    /// Stream records waiting for a (re)delivery to eligibility, with their attempts.
    pub pending_stream: tokio::sync::Mutex<Vec<(Value, usize)>>,
    /// `MessageDue` events whose delivery failed, with their attempts (EventBridge retries).
    pub retry_due: tokio::sync::Mutex<Vec<(Value, usize)>>,
    /// Stream records given up on (what the template's dead-letter queue would hold).
    pub dead_letters: std::sync::atomic::AtomicUsize,
    /// When the re-decide schedule last ran (simulated or real clock).
    pub last_redecide: tokio::sync::Mutex<Option<DateTime<Utc>>>,
    pub due_shards: u32,
}

/// How many times a failed stream record is retried before the dead-letter queue.
pub const STREAM_RETRIES: usize = 3;
/// How many times a failed `MessageDue` delivery is retried.
pub const EVENT_RETRIES: usize = 3;
/// The re-decide schedule's period (template: `rate(5 minutes)`).
pub const REDECIDE_EVERY: chrono::Duration = chrono::Duration::minutes(5);

/// What a drain did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DrainReport {
    pub stream_records: usize,
    pub events_delivered: usize,
    pub sms_sent: usize,
    pub rounds: usize,
}

impl App {
    /// Run all pending asynchronous work until quiet: stream records → eligibility,
    /// `MessageDue` events → sender, and a sweep of due messages → sender.
    pub async fn drain(&self) -> Result<DrainReport, BoxError> {
        let _guard = self.drain_lock.lock().await;
        self.drain_locked().await
    }

    async fn drain_locked(&self) -> Result<DrainReport, BoxError> {
        let mut report = DrainReport::default();
        loop {
            report.rounds += 1;
            let mut work = 0;
            let records = self.pump_stream().await?;
            report.stream_records += records;
            work += records;
            let mut events: Vec<(Value, usize)> = std::mem::take(&mut *self.retry_due.lock().await);
            while let Some(event) = self.records.pop_due() {
                events.push((event, 0));
            }
            for (event, attempts) in events {
                let out = PHASE
                    .scope(
                        "sender:MessageDue",
                        sender::handler::handle(
                            &self.sender,
                            LambdaEvent::new(event.clone(), Context::default()),
                        ),
                    )
                    .await;
                report.events_delivered += 1;
                work += 1;
                match out {
                    Ok(out) => {
                        report.sms_sent += out
                            .deliveries
                            .iter()
                            .filter(|d| d.outcome == "sent")
                            .count();
                    }
                    Err(err) if attempts < EVENT_RETRIES => {
                        tracing::warn!(error = %err, "MessageDue delivery failed; EventBridge retries it");
                        self.retry_due.lock().await.push((event, attempts + 1));
                    }
                    Err(err) => {
                        tracing::error!(error = %err, "MessageDue delivery failed {EVENT_RETRIES} retries; the sweep takes the message");
                    }
                }
            }
            match PHASE
                .scope(
                    "sender:sweep",
                    sender::handler::handle(
                        &self.sender,
                        LambdaEvent::new(json!({"sweep": true}), Context::default()),
                    ),
                )
                .await
            {
                Ok(sweep) => {
                    report.sms_sent += sweep
                        .deliveries
                        .iter()
                        .filter(|d| d.outcome == "sent")
                        .count();
                    work += sweep
                        .deliveries
                        .iter()
                        .filter(|d| d.outcome != "retry")
                        .count()
                        + sweep.interrupted.len();
                }
                Err(err) => tracing::error!(error = %err, "sweep failed; the next one goes on"),
            }
            // The re-decide schedule (every 5 minutes of the clock, simulated or real).
            let now = self.clock.now();
            let due_redecide = {
                let mut last = self.last_redecide.lock().await;
                let due = last.is_none_or(|at| now - at >= REDECIDE_EVERY);
                if due {
                    *last = Some(now);
                }
                due
            };
            if due_redecide {
                match PHASE
                    .scope(
                        "eligibility:redecide",
                        eligibility::handler::handle(
                            &self.eligibility,
                            LambdaEvent::new(json!({"redecide": true}), Context::default()),
                        ),
                    )
                    .await
                {
                    Ok(out) => {
                        work += out["redecided"].as_array().map_or(0, Vec::len);
                    }
                    Err(err) => tracing::error!(error = %err, "re-decide sweep failed"),
                }
            }
            work += self.pending_stream.lock().await.len() + self.retry_due.lock().await.len();
            if work == 0 || report.rounds > 1000 {
                return Ok(report);
            }
        }
    }

    /// Move the simulated clock forward to `target`, stopping at every instant a message
    /// falls due on the way (as the one-minute schedule would), so each SMS is sent at its
    /// due time. Refuses to go backwards.
    pub async fn advance(&self, target: DateTime<Utc>) -> Result<DrainReport, BoxError> {
        let _guard = self.drain_lock.lock().await;
        let now = self.clock.now();
        if target < now {
            return Err(format!(
                "the clock never goes backwards: now {}, asked {}",
                ts(now),
                ts(target)
            )
            .into());
        }
        let mut total = self.drain_locked().await?;
        while let Some(next) = self.next_due().await? {
            if next > target || next <= self.clock.now() {
                break;
            }
            self.clock.set(next);
            let step = self.drain_locked().await?;
            total.stream_records += step.stream_records;
            total.events_delivered += step.events_delivered;
            total.sms_sent += step.sms_sent;
            total.rounds += step.rounds;
        }
        self.clock.set(target);
        let last = self.drain_locked().await?;
        total.stream_records += last.stream_records;
        total.events_delivered += last.events_delivered;
        total.sms_sent += last.sms_sent;
        total.rounds += last.rounds;
        Ok(total)
    }

    /// The earliest due instant on the due queue, if any.
    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, BoxError> {
        let mut earliest: Option<DateTime<Utc>> = None;
        for shard in 0..self.due_shards {
            let out = self
                .dynamodb
                .query()
                .table_name(TABLE_NAME)
                .index_name(GSI1)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", GSI1PK)
                .expression_attribute_values(
                    ":pk",
                    aws_sdk_dynamodb::types::AttributeValue::S(due_pk(shard)),
                )
                .limit(1)
                .send()
                .await?;
            let first = out
                .items()
                .first()
                .and_then(|item| item.get(GSI1SK))
                .and_then(|v| v.as_s().ok())
                .cloned();
            if let Some(sk) = first {
                let at = sk
                    .split('#')
                    .next()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc));
                if let Some(at) = at {
                    earliest = Some(earliest.map_or(at, |e| e.min(at)));
                }
            }
        }
        Ok(earliest)
    }

    /// Read new stream records and hand inserted calls to eligibility, as the template's
    /// event source mapping (with its filter) does. Returns how many records were delivered.
    async fn pump_stream(&self) -> Result<usize, BoxError> {
        let table = self
            .dynamodb
            .describe_table()
            .table_name(TABLE_NAME)
            .send()
            .await?;
        let arn = table
            .table()
            .and_then(|t| t.latest_stream_arn())
            .ok_or("the table has no stream")?
            .to_string();
        let description = self
            .streams
            .describe_stream()
            .stream_arn(&arn)
            .send()
            .await?;
        let shards: Vec<String> = description
            .stream_description()
            .map(|d| {
                d.shards()
                    .iter()
                    .filter_map(|s| s.shard_id().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        // A fresh iterator after the last sequence number seen, every time: moto replaces a
        // table's stream shard object when it rolls back a cancelled transaction, which
        // strands long-lived iterators (a real consumer checkpoints sequence numbers too).
        let mut checkpoints = self.iterators.lock().await;
        let mut delivered = 0;
        for shard in shards {
            let request = self
                .streams
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(&shard);
            let request = match checkpoints.get(&shard).cloned().flatten() {
                Some(seq) => request
                    .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                    .sequence_number(seq),
                None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
            };
            let Some(iterator) = request.send().await?.shard_iterator().map(str::to_string) else {
                continue;
            };
            let out = self
                .streams
                .get_records()
                .shard_iterator(iterator)
                .send()
                .await?;
            if let Some(last) = out
                .records()
                .iter()
                .filter_map(|r| r.dynamodb().and_then(|d| d.sequence_number()))
                .max_by_key(|s| s.parse::<u128>().unwrap_or(0))
            {
                checkpoints.insert(shard.clone(), Some(last.to_string()));
            }
            let mut records = Vec::new();
            for record in out.records() {
                let name = record
                    .event_name()
                    .map(|n| n.as_str().to_string())
                    .unwrap_or_default();
                let Some(change) = record.dynamodb() else {
                    continue;
                };
                let keys = serde_dynamo::Item::from(change.keys().cloned().unwrap_or_default());
                let is_call = change
                    .keys()
                    .and_then(|k| k.get("SK"))
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|sk| sk.starts_with(CALL_PREFIX));
                // The template's filter: INSERT of call items only.
                if name != "INSERT" || !is_call {
                    continue;
                }
                let image =
                    serde_dynamo::Item::from(change.new_image().cloned().unwrap_or_default());
                records.push(json!({
                    "eventID": record.event_id(),
                    "eventName": name,
                    "eventSource": "aws:dynamodb",
                    "eventVersion": "1.1",
                    "awsRegion": "eu-west-3",
                    "eventSourceARN": arn,
                    "dynamodb": {
                        "Keys": keys,
                        "NewImage": image,
                        "SequenceNumber": change.sequence_number(),
                        "StreamViewType": "NEW_IMAGE",
                        "SizeBytes": change.size_bytes(),
                    },
                }));
            }
            self.pending_stream
                .lock()
                .await
                .extend(records.into_iter().map(|r| (r, 0)));
        }
        drop(checkpoints);
        // Deliver new records and retry failed ones, as Lambda does with
        // ReportBatchItemFailures; after STREAM_RETRIES a record goes to the dead-letter queue
        // (only counted here: the re-decide schedule gives its call an outcome).
        let pending = std::mem::take(&mut *self.pending_stream.lock().await);
        if !pending.is_empty() {
            delivered += pending.len();
            let records: Vec<Value> = pending.iter().map(|(r, _)| r.clone()).collect();
            let event: StreamEvent = serde_json::from_value(json!({ "Records": records }))?;
            let response = PHASE
                .scope(
                    "eligibility",
                    eligibility::handler::handle_batch(&self.eligibility, &event),
                )
                .await;
            let failed: std::collections::BTreeSet<String> = response
                .batch_item_failures
                .iter()
                .filter_map(|f| f.item_identifier.clone())
                .collect();
            // Lambda retries from the first failed record on, later ones included (they may
            // be decided already: the conditional writes make that harmless).
            let mut retry = Vec::new();
            let mut from_failure = false;
            for (record, attempts) in pending {
                let seq = record["dynamodb"]["SequenceNumber"]
                    .as_str()
                    .unwrap_or_default();
                from_failure |= failed.contains(seq);
                if !from_failure {
                    continue;
                }
                if attempts + 1 > STREAM_RETRIES {
                    tracing::error!(
                        sequence_number = seq,
                        "stream record failed {STREAM_RETRIES} retries: sent to the dead-letter queue"
                    );
                    self.dead_letters
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                } else {
                    retry.push((record, attempts + 1));
                }
            }
            self.pending_stream.lock().await.extend(retry);
        }
        Ok(delivered)
    }
}
