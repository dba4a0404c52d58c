//! Eligibility: for each call inserted in the table (stream, `NEW_IMAGE`), apply the rules and
//! record the decision; for an SMS to send, reserve the caller's day and write the outbox
//! message in one transaction; for human contact, record it and cancel the caller's pending
//! messages.
//!
//! A schedule (`{"redecide": true}`, every 5 minutes) re-decides stored calls that still have
//! no outcome 10 minutes after they arrived: a stream batch that kept failing and went to the
//! dead-letter queue leaves its calls undecided, and this sweep gives each one its outcome
//! (promise 2, docs/architecture.md).
//!
//! It never sees a phone number in clear: only facts (line type, region, keyed hash) and the
//! sealed number, which it copies to the message without opening it.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use chrono::{DateTime, Duration, Utc};
use lambda_runtime::LambdaEvent;
use rappel::account::Account;
use rappel::crypto;
use rappel::events;
use rappel::items::{
    CALL_PREFIX, CallItem, LINK_SK, LINK_VALID_DAYS, LinkItem, MessageItem, MessageStatus,
    PENDING_PREFIX, account_pk, day_sk, due_pk, due_sk, link_pk, msg_sk, shard_of, ts,
};
use rappel::ports::{Clock, EventPublisher, PortError};
use rappel::retention;
use rappel::rules::{self, Decision, Outcome, Reason};
use rappel::store::{AccountStore, Contact, DailyCap, DecisionStore, ScheduleError};
use serde::Serialize;
use serde_json::Value;

/// What the handler needs, built once per cold start.
pub struct Deps<T: AccountStore + DecisionStore, E: EventPublisher, C: Clock> {
    pub table: T,
    pub events: E,
    pub clock: C,
    /// Partitions of the due queue and of the undecided index (`DUE_SHARDS`).
    pub due_shards: u32,
}

/// What happened to one call (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub outcome: Outcome,
    pub reason: Reason,
    pub message_id: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
}

/// A stored call is re-decided by the sweep when it still has no outcome this long after it
/// was received (the stream normally decides it within seconds; Lambda retries a failed
/// batch for a few minutes first).
pub const UNDECIDED_AFTER: Duration = Duration::minutes(10);

/// Most calls one re-decide sweep takes per shard.
pub const REDECIDE_BATCH: usize = 200;

/// What a re-decide sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RedecideReport {
    /// `{provider}#{call_id}` of the calls decided by the sweep.
    pub redecided: Vec<String>,
    /// Keys (`PK/SK`) of items that cannot be read: skipped, logged, counted.
    pub unreadable: Vec<String>,
    /// Calls whose decision failed again, or shards that could not be read (left for the
    /// next sweep).
    pub failed: usize,
}

/// Handle a stream batch (`{"Records": [...]}`) or the re-decide schedule
/// (`{"redecide": true}`).
///
/// A stream batch answers `{"batchItemFailures": [...]}`: the records that failed, so Lambda
/// retries exactly those (`ReportBatchItemFailures`); the writes are conditional, so a retried
/// record never decides twice. The sweep answers its [`RedecideReport`], and `Err` when a call
/// failed again (so the invocation shows as an error).
pub async fn handle<T: AccountStore + DecisionStore, E: EventPublisher, C: Clock>(
    deps: &Deps<T, E, C>,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    if event.payload.get("redecide").and_then(Value::as_bool) == Some(true) {
        // Lambda's deadline (ms since the epoch; 0 when run outside Lambda).
        let deadline = (event.context.deadline > 0).then(|| {
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(event.context.deadline)
        });
        let report = redecide_until(deps, deps.clock.now() - UNDECIDED_AFTER, deadline).await?;
        if report.failed > 0 {
            return Err(format!("{} undecided calls failed again", report.failed).into());
        }
        return Ok(serde_json::to_value(report)?);
    }
    let batch: Event = serde_json::from_value(event.payload).map_err(|e| {
        format!(
            "unrecognised event: expected a DynamoDB stream batch or {{\"redecide\": true}} ({e})"
        )
    })?;
    Ok(serde_json::to_value(handle_batch(deps, &batch).await)?)
}

/// Decide every record of a stream batch; the failed ones are batch item failures.
pub async fn handle_batch<T: AccountStore + DecisionStore, E: EventPublisher, C: Clock>(
    deps: &Deps<T, E, C>,
    batch: &Event,
) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in &batch.records {
        if let Err(err) = process_record(deps, record).await {
            tracing::error!(error = %err, "eligibility failed for a record; it will be retried");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = record.change.sequence_number.clone();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// Time kept in hand before the Lambda deadline by the re-decide sweep.
pub const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_secs(15);

/// Decide stored calls received at or before `before` (UTC) that still have no outcome, shard
/// by shard, page after page, until done or `deadline` (wall clock) minus [`DEADLINE_MARGIN`].
/// A pending event whose earlier leg never came is first stored as the call it reads as.
/// Unreadable items and calls that fail again are counted and skipped (they stay on the
/// index; the paging moves past them); a shard that cannot be read is skipped.
pub async fn redecide<T: AccountStore + DecisionStore, E: EventPublisher, C: Clock>(
    deps: &Deps<T, E, C>,
    before: DateTime<Utc>,
) -> Result<RedecideReport, PortError> {
    redecide_until(deps, before, None).await
}

/// [`redecide`] with a deadline.
pub async fn redecide_until<T: AccountStore + DecisionStore, E: EventPublisher, C: Clock>(
    deps: &Deps<T, E, C>,
    before: DateTime<Utc>,
    deadline: Option<std::time::SystemTime>,
) -> Result<RedecideReport, PortError> {
    let out_of_time =
        || deadline.is_some_and(|d| std::time::SystemTime::now() + DEADLINE_MARGIN >= d);
    let mut report = RedecideReport::default();
    'shards: for shard in 0..deps.due_shards.max(1) {
        let mut cursor: Option<String> = None;
        loop {
            let (entries, next) = match deps
                .table
                .undecided(shard, before, cursor.as_deref(), REDECIDE_BATCH)
                .await
            {
                Ok(page) => page,
                Err(err) => {
                    tracing::error!(shard, error = %err, "cannot read the undecided index; the next sweep goes on");
                    report.failed += 1;
                    continue 'shards;
                }
            };
            for entry in entries {
                if out_of_time() {
                    tracing::warn!(
                        "re-decide sweep stopped before the Lambda deadline; the next one goes on"
                    );
                    break 'shards;
                }
                let item = match entry {
                    Ok(item) => item,
                    Err(key) => {
                        tracing::error!(event = "unreadable_item", key = %key, "undecided call cannot be read by this version: skipped");
                        report.unreadable.push(key);
                        continue;
                    }
                };
                if item.outcome.is_some() {
                    continue;
                }
                let call = if item.sk.starts_with(PENDING_PREFIX) {
                    // Its earlier leg never came: store it as it reads (nothing is lost).
                    match deps.table.promote_pending(&item, deps.due_shards).await {
                        Ok(call) => call,
                        Err(err) => {
                            tracing::error!(account_id = %item.account_id, call_id = %item.call_id, error = %err, "cannot store a pending event; the next sweep goes on");
                            report.failed += 1;
                            continue;
                        }
                    }
                } else {
                    item
                };
                match process_call(deps, &call).await {
                    Ok(decided) => {
                        tracing::warn!(event = "redecided", account_id = %call.account_id, provider = %call.provider, call_id = %call.call_id, outcome = decided.outcome.as_str(), reason = decided.reason.as_str(), "a stored call without an outcome was decided by the sweep");
                        report
                            .redecided
                            .push(format!("{}#{}", call.provider, call.call_id));
                    }
                    Err(err) if err.is_unreadable() => {
                        tracing::error!(event = "unreadable_item", account_id = %call.account_id, error = %err, "an item this call needs cannot be read: skipped");
                        report.unreadable.push(format!("{}/{}", call.pk, call.sk));
                    }
                    Err(err) => {
                        tracing::error!(account_id = %call.account_id, call_id = %call.call_id, error = %err, "undecided call failed again; the next sweep goes on");
                        report.failed += 1;
                    }
                }
            }
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    Ok(report)
}

/// Decide one stream record. Records that are not inserted calls are skipped (the template's
/// filter normally keeps them out).
pub async fn process_record<T: AccountStore + DecisionStore, E: EventPublisher, C: Clock>(
    deps: &Deps<T, E, C>,
    record: &EventRecord,
) -> Result<Option<Decided>, PortError> {
    let Some(call) = call_from_record(record).map_err(|e| PortError::new("stream", e))? else {
        return Ok(None);
    };
    process_call(deps, &call).await.map(Some)
}

/// The call a stream record carries: `Ok(Some(call))` for an `INSERT` whose key `SK` starts
/// with `CALL#` (the same test as the event source mapping's filter in `template.yaml`), read
/// from the record's `NewImage`; `Ok(None)` for any other record (`MODIFY`, `REMOVE`, messages,
/// links, day reservations...).
///
/// Errors: the `NewImage` of an inserted call is not a [`CallItem`] (message from
/// `serde_dynamo`, which names the attribute).
pub fn call_from_record(record: &EventRecord) -> Result<Option<CallItem>, String> {
    if record.event_name != "INSERT" {
        return Ok(None);
    }
    let is_call = record.change.keys.get("SK").is_some_and(
        |sk| matches!(sk, serde_dynamo::AttributeValue::S(s) if s.starts_with(CALL_PREFIX)),
    );
    if !is_call {
        return Ok(None);
    }
    serde_dynamo::from_item(record.change.new_image.clone())
        .map(Some)
        .map_err(|e| format!("call item does not deserialize: {e}"))
}

/// Decide one stored call and act on the decision.
pub async fn process_call<T: AccountStore + DecisionStore, E: EventPublisher, C: Clock>(
    deps: &Deps<T, E, C>,
    call: &CallItem,
) -> Result<Decided, PortError> {
    let now = deps.clock.now();
    let Some(account) = deps.table.get_account(&call.account_id).await? else {
        return record(deps, call, Outcome::Skipped, Reason::AccountDisabled, now).await;
    };
    let facts = call.facts();
    let decision = rules::decide(&facts, &account, now);
    let decided = match decision {
        Decision::Skip { outcome, reason } => record(deps, call, outcome, reason, now).await?,
        Decision::CancelPending {
            hash,
            reason,
            own_reason,
        } => {
            // Remembered first, so that a missed call from before this contact whose webhook
            // arrives later is not texted (rule 5 whatever the order of webhooks).
            let contact = Contact {
                at: facts.happened_at,
                reason,
            };
            deps.table
                .record_contact(&call.account_id, &hash, &contact)
                .await?;
            let cancelled = deps
                .table
                .cancel_pending_before(&call.account_id, &hash, reason, facts.happened_at, now)
                .await?;
            for c in &cancelled {
                let event = events::MessageCancelled {
                    account_id: call.account_id.clone(),
                    message_id: c.message_id.clone(),
                    reason: reason.as_str().to_string(),
                    by_call: call.call_id.clone(),
                };
                events::publish(&deps.events, &event).await?;
            }
            record(deps, call, Outcome::Ignored, own_reason, now).await?
        }
        Decision::Send {
            due_at,
            day,
            reason,
            send_before,
        } => schedule(deps, call, &account, due_at, day, reason, send_before, now).await?,
    };
    tracing::info!(
        account_id = %call.account_id,
        provider = %call.provider,
        call_id = %call.call_id,
        outcome = decided.outcome.as_str(),
        reason = decided.reason.as_str(),
        message_id = decided.message_id.as_deref(),
        due_at = decided.due_at.map(ts),
        "call decided"
    );
    Ok(decided)
}

async fn record<T: AccountStore + DecisionStore, E: EventPublisher, C: Clock>(
    deps: &Deps<T, E, C>,
    call: &CallItem,
    outcome: Outcome,
    reason: Reason,
    now: DateTime<Utc>,
) -> Result<Decided, PortError> {
    let first = deps
        .table
        .record_decision(call, outcome, reason, now)
        .await?;
    // The funnel counts each call's skip once (a redelivered record decides nothing new).
    if first && outcome == Outcome::Skipped {
        rappel::funnel::count(
            &call.account_id,
            rappel::funnel::Step::Skipped,
            Some(reason.as_str()),
            now,
        );
    }
    Ok(Decided {
        outcome,
        reason,
        message_id: None,
        due_at: None,
    })
}

#[allow(clippy::too_many_arguments)]
async fn schedule<T: AccountStore + DecisionStore, E: EventPublisher, C: Clock>(
    deps: &Deps<T, E, C>,
    call: &CallItem,
    account: &Account,
    due_at: DateTime<Utc>,
    day: chrono::NaiveDate,
    reason: Reason,
    send_before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Decided, PortError> {
    let (Some(hash), Some(number)) = (&call.caller_hash, &call.number) else {
        // A valid number intake did not seal was not textable when the call arrived (a
        // country the account allowed only since); no number at all is invalid.
        let reason = if call.caller_hash.is_some() {
            Reason::CountryNotAllowed
        } else {
            Reason::InvalidNumber
        };
        return record(deps, call, Outcome::Skipped, reason, now).await;
    };
    let message_id = crypto::new_id("msg");
    let token = crypto::new_token();
    let shard = shard_of(&message_id, deps.due_shards);
    let expires_at = retention::expires(due_at, retention::MESSAGE_DAYS);
    let msg = MessageItem {
        pk: account_pk(&account.account_id),
        sk: msg_sk(&message_id),
        account_id: account.account_id.clone(),
        message_id: message_id.clone(),
        status: MessageStatus::Scheduled,
        call_sk: call.sk.clone(),
        caller_hash: hash.clone(),
        caller_masked: call.caller_masked.clone(),
        number: Some(number.clone()),
        day_sk: day_sk(hash, day),
        region: call.region.clone(),
        call_happened_at: Some(call.happened_at.clone()),
        token: token.clone(),
        due_at: ts(due_at),
        send_before: ts(send_before),
        created_at: ts(now),
        sent_at: None,
        sns_message_id: None,
        opened_at: None,
        reason: Some(reason),
        attempts: 0,
        claim_token: None,
        gsi1pk: Some(due_pk(shard)),
        gsi1sk: Some(due_sk(due_at, &message_id)),
        expires_at,
    };
    let valid_until = due_at + Duration::days(LINK_VALID_DAYS);
    let link = LinkItem {
        pk: link_pk(&token),
        sk: LINK_SK.into(),
        account_id: account.account_id.clone(),
        message_id: message_id.clone(),
        call_sk: call.sk.clone(),
        caller_hash: hash.clone(),
        valid_until: ts(valid_until),
        region: call.region.clone(),
        booking: None,
        opted_out_at: None,
        expires_at: retention::expires(due_at, retention::LINK_DAYS),
    };
    // The cap counts the account's own local days.
    let cap = DailyCap {
        day: due_at.with_timezone(&account.timezone).date_naive(),
        limit: account.daily_sms_cap,
    };
    let skipped = |reason| record(deps, call, Outcome::Skipped, reason, now);
    match deps
        .table
        .schedule(call, &msg, &link, reason, &cap, now)
        .await
    {
        Ok(()) => {}
        Err(ScheduleError::AlreadyTextedToday) => {
            return skipped(Reason::AlreadyTextedToday).await;
        }
        Err(ScheduleError::OptedOut) => return skipped(Reason::OptedOut).await,
        Err(ScheduleError::HumanContact) => {
            let reason = deps
                .table
                .last_contact(&account.account_id, hash)
                .await?
                .map_or(Reason::AnsweredLater, |c| c.reason);
            return skipped(reason).await;
        }
        Err(ScheduleError::DailyCap) => {
            tracing::warn!(account_id = %account.account_id, limit = account.daily_sms_cap, "account daily SMS cap reached");
            return skipped(Reason::DailyCap).await;
        }
        Err(ScheduleError::AlreadyDecided) => {
            tracing::info!(call_id = %call.call_id, "call already decided (stream redelivery)");
            return Ok(Decided {
                outcome: Outcome::Ignored,
                reason: Reason::NotFinal,
                message_id: None,
                due_at: None,
            });
        }
        Err(ScheduleError::Port(e)) => return Err(e),
    }
    if due_at <= now {
        let due = events::MessageDue {
            account_id: account.account_id.clone(),
            message_id: message_id.clone(),
            due_at: ts(due_at),
        };
        events::publish(&deps.events, &due).await?;
    }
    Ok(Decided {
        outcome: Outcome::Scheduled,
        reason,
        message_id: Some(message_id),
        due_at: Some(due_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::dynamodb::StreamViewType;
    use chrono::NaiveDate;
    use rappel::call::{CallStatus, Direction};
    use rappel::crypto::Sealed;
    use rappel::phone::LineType;
    use rappel::rules::{CallFacts, CallerFacts};
    use serde_json::Value;

    const SAMPLE: &str = include_str!("../../../events/eligibility-stream-insert.json");

    fn at(rfc3339: &str) -> DateTime<Utc> {
        rfc3339.parse().unwrap()
    }

    /// The sample with its record edited, read again as a stream event.
    fn sample_with(edit: impl FnOnce(&mut Value)) -> Event {
        let mut v: Value = serde_json::from_str(SAMPLE).unwrap();
        edit(&mut v["Records"][0]);
        serde_json::from_value(v).expect("still a DynamoDB stream event")
    }

    fn sample_call() -> CallItem {
        let event: Event = serde_json::from_str(SAMPLE).unwrap();
        call_from_record(&event.records[0])
            .unwrap()
            .expect("an inserted call")
    }

    fn demo_account() -> Account {
        Account::from_json(include_str!("../../../infra/local/accounts/demo.json")).unwrap()
    }

    #[test]
    fn stream_sample_is_one_inserted_call_as_intake_stores_it() {
        let event: Event = serde_json::from_str(SAMPLE).unwrap();
        assert_eq!(event.records.len(), 1);
        let record = &event.records[0];
        assert_eq!(record.event_name, "INSERT");
        assert_eq!(record.event_source.as_deref(), Some("aws:dynamodb"));
        assert_eq!(record.aws_region, "eu-west-3");
        assert_eq!(
            record.change.stream_view_type,
            Some(StreamViewType::NewImage)
        );
        assert_eq!(
            record.change.sequence_number.as_deref(),
            Some("4421584500000000017450439091")
        );
        assert_eq!(
            record.change.approximate_creation_date_time,
            at("2026-11-27T17:29:42Z")
        );
        assert!(record.event_source_arn.as_deref().is_some_and(|arn| {
            arn.starts_with("arn:aws:dynamodb:eu-west-3:") && arn.contains("/stream/")
        }));

        let call = call_from_record(record).unwrap().expect("an inserted call");
        assert_eq!(call.pk, "ACCOUNT#demo");
        assert_eq!(call.sk, "CALL#generic#ct-20261127-000101");
        let keys: std::collections::HashMap<String, String> =
            serde_dynamo::from_item(record.change.keys.clone()).unwrap();
        assert_eq!(keys["PK"], call.pk);
        assert_eq!(keys["SK"], call.sk);
        assert_eq!(call.account_id, "demo");
        assert_eq!(call.provider, "generic");
        assert_eq!(call.call_id, "ct-20261127-000101");
        assert_eq!(call.direction, Direction::Inbound);
        assert_eq!(call.status, CallStatus::NoAnswer);
        assert_eq!(call.provider_status, "no_answer");
        assert_eq!(call.caller, "number");
        assert_eq!(call.line_type, Some(LineType::Mobile));
        assert_eq!(call.region.as_deref(), Some("FR"));
        assert_eq!(call.caller_masked.as_deref(), Some("+33 6•• •• •• 01"));
        // Keyed hash: 32 bytes of HMAC-SHA256, lower-case hex.
        let hash = call.caller_hash.as_deref().unwrap();
        assert_eq!(hash.len(), 64);
        assert!(hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        // Sealed number in the v1 envelope format: 12-character E.164 + 16-byte GCM tag.
        let sealed = Sealed::decode(call.number.as_deref().unwrap()).expect("v1 envelope");
        assert_eq!(sealed.ciphertext.len(), 12 + 16);
        assert_eq!(call.started_at.as_deref(), Some("2026-11-27T17:29:12Z"));
        assert_eq!(call.ended_at.as_deref(), Some("2026-11-27T17:29:40Z"));
        assert_eq!(call.ring_seconds, Some(28));
        assert_eq!(call.received_at, "2026-11-27T17:29:42Z");
        assert_eq!(call.happened_at, "2026-11-27T17:29:40Z");
        // Retention: 30 days after reception, epoch seconds.
        assert_eq!(
            call.expires_at,
            (at("2026-11-27T17:29:42Z") + Duration::days(30)).timestamp()
        );
        // Not decided yet: eligibility writes these with a later MODIFY.
        assert_eq!(
            (
                call.outcome,
                call.reason,
                &call.message_id,
                &call.due_at,
                &call.sent_at,
                &call.decided_at
            ),
            (None, None, &None, &None, &None, &None)
        );
    }

    #[test]
    fn stream_sample_is_texted_now_when_decided_in_hours() {
        let call = sample_call();
        let facts = call.facts();
        assert_eq!(
            facts,
            CallFacts {
                direction: Direction::Inbound,
                status: CallStatus::NoAnswer,
                caller: CallerFacts::Number {
                    line_type: LineType::Mobile,
                    region: Some("FR".into()),
                    hash: call.caller_hash.clone().unwrap(),
                },
                happened_at: at("2026-11-27T17:29:40Z"),
                ring_seconds: call.ring_seconds,
            }
        );
        let account = demo_account();
        // A second after the insert: Friday 27 November 2026, 18:29:43 in Paris.
        let now = at("2026-11-27T17:29:43Z");
        assert_eq!(
            rules::decide(&facts, &account, now),
            Decision::Send {
                due_at: now,
                day: NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
                reason: Reason::InHours,
                // max_deferral_hours (72) after the call.
                send_before: at("2026-11-30T17:29:40Z"),
            }
        );
        // The MessageDue event that decision puts is events/sender-message-due.json.
        let due: Value =
            serde_json::from_str(include_str!("../../../events/sender-message-due.json")).unwrap();
        assert_eq!(due["detail"]["account_id"], call.account_id.as_str());
        assert_eq!(due["detail"]["due_at"], ts(now).as_str());

        // Redelivered more than a day later, the same record is too old to text.
        let late = at("2026-11-28T17:29:41Z");
        assert_eq!(
            rules::decide(&facts, &account, late),
            Decision::Skip {
                outcome: Outcome::Skipped,
                reason: Reason::TooOld
            }
        );
    }

    #[test]
    fn records_other_than_inserted_calls_are_skipped() {
        let modify = sample_with(|r| r["eventName"] = "MODIFY".into());
        assert_eq!(call_from_record(&modify.records[0]), Ok(None));

        let remove = sample_with(|r| {
            r["eventName"] = "REMOVE".into();
            r["dynamodb"].as_object_mut().unwrap().remove("NewImage");
        });
        assert_eq!(call_from_record(&remove.records[0]), Ok(None));

        for sk in [
            "MSG#msg_5e0c9a7b3d1f2e4a6c8b0d92",
            "DAY#0eb739ef3ae6#2026-11-27",
            "OPTOUT#0eb739ef3ae6",
            "ACCOUNT",
            "LINK",
            "call#generic#ct-20261127-000101",
        ] {
            let other = sample_with(|r| r["dynamodb"]["Keys"]["SK"] = serde_json::json!({"S": sk}));
            assert_eq!(call_from_record(&other.records[0]), Ok(None), "{sk}");
        }
        let no_sk = sample_with(|r| {
            r["dynamodb"]["Keys"].as_object_mut().unwrap().remove("SK");
        });
        assert_eq!(call_from_record(&no_sk.records[0]), Ok(None));
    }

    #[test]
    fn an_inserted_call_that_does_not_deserialize_is_an_error() {
        let broken = sample_with(|r| {
            r["dynamodb"]["NewImage"]
                .as_object_mut()
                .unwrap()
                .remove("status");
        });
        assert_eq!(
            call_from_record(&broken.records[0]),
            Err("call item does not deserialize: missing field `status`".into())
        );
        let wrong_type = sample_with(|r| {
            r["dynamodb"]["NewImage"]["ring_seconds"] = serde_json::json!({"S": "28"});
        });
        let err = call_from_record(&wrong_type.records[0]).unwrap_err();
        assert!(err.starts_with("call item does not deserialize: "), "{err}");
    }
}
