//! Eligibility: for each call inserted in the table (stream, `NEW_IMAGE`), apply the rules and
//! record the decision; for an SMS to send, reserve the caller's day and write the outbox
//! message in one transaction; for human contact, cancel the caller's pending messages.
//!
//! It never sees a phone number in clear: only facts (line type, region, keyed hash) and the
//! sealed number, which it copies to the message without opening it.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use chrono::{DateTime, Duration, Utc};
use lambda_runtime::LambdaEvent;
use rappel::account::Account;
use rappel::aws::{ScheduleError, Table};
use rappel::crypto;
use rappel::items::{
    CALL_PREFIX, CallItem, LINK_SK, LINK_VALID_DAYS, LinkItem, MessageItem, MessageStatus,
    RETENTION_DAYS, account_pk, day_sk, due_pk, due_sk, link_pk, msg_sk, shard_of, ts,
};
use rappel::ports::{Clock, EventPublisher, PortError, detail_type};
use rappel::rules::{self, Decision, Outcome, Reason};
use serde_json::json;

/// What the handler needs, built once per cold start.
pub struct Deps<E: EventPublisher, C: Clock> {
    pub table: Table,
    pub events: E,
    pub clock: C,
    /// Partitions of the due queue (`DUE_SHARDS`).
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

/// Process a stream batch. Records that fail are reported as batch item failures (their
/// sequence numbers), so Lambda retries exactly those (`ReportBatchItemFailures`); the
/// writes are conditional, so a retried record never decides twice.
pub async fn handle<E: EventPublisher, C: Clock>(
    deps: &Deps<E, C>,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, lambda_runtime::Error> {
    let mut response = DynamoDbEventResponse::default();
    for record in &event.payload.records {
        if let Err(err) = process_record(deps, record).await {
            tracing::error!(error = %err, "eligibility failed for a record; it will be retried");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = record.change.sequence_number.clone();
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}

/// Decide one stream record. Records that are not inserted calls are skipped (the template's
/// filter normally keeps them out).
pub async fn process_record<E: EventPublisher, C: Clock>(
    deps: &Deps<E, C>,
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
pub async fn process_call<E: EventPublisher, C: Clock>(
    deps: &Deps<E, C>,
    call: &CallItem,
) -> Result<Decided, PortError> {
    let now = deps.clock.now();
    let Some(account) = deps.table.get_account(&call.account_id).await? else {
        return record(deps, call, Outcome::Skipped, Reason::AccountDisabled, now).await;
    };
    let decision = rules::decide(&call.facts(), &account, now);
    let decided = match decision {
        Decision::Skip { outcome, reason } => record(deps, call, outcome, reason, now).await?,
        Decision::CancelPending {
            hash,
            reason,
            own_reason,
        } => {
            let cancelled = deps
                .table
                .cancel_pending_before(
                    &call.account_id,
                    &hash,
                    reason,
                    call.facts().happened_at,
                    now,
                )
                .await?;
            for c in &cancelled {
                deps.events
                    .put(
                        detail_type::MESSAGE_CANCELLED,
                        json!({"account_id": call.account_id, "message_id": c.message_id, "reason": reason.as_str(), "by_call": call.call_id}),
                    )
                    .await?;
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

async fn record<E: EventPublisher, C: Clock>(
    deps: &Deps<E, C>,
    call: &CallItem,
    outcome: Outcome,
    reason: Reason,
    now: DateTime<Utc>,
) -> Result<Decided, PortError> {
    deps.table
        .record_decision(call, outcome, reason, now)
        .await?;
    Ok(Decided {
        outcome,
        reason,
        message_id: None,
        due_at: None,
    })
}

#[allow(clippy::too_many_arguments)]
async fn schedule<E: EventPublisher, C: Clock>(
    deps: &Deps<E, C>,
    call: &CallItem,
    account: &Account,
    due_at: DateTime<Utc>,
    day: chrono::NaiveDate,
    reason: Reason,
    send_before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Decided, PortError> {
    let (Some(hash), Some(number)) = (&call.caller_hash, &call.number) else {
        return record(deps, call, Outcome::Skipped, Reason::InvalidNumber, now).await;
    };
    let message_id = crypto::new_id("msg");
    let token = crypto::new_token();
    let shard = shard_of(&message_id, deps.due_shards);
    let expires_at = (due_at + Duration::days(RETENTION_DAYS)).timestamp();
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
        reason: Some(reason),
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
        booking: None,
        opted_out_at: None,
        expires_at: (valid_until + Duration::days(1)).timestamp(),
    };
    match deps.table.schedule(call, &msg, &link, reason, now).await {
        Ok(()) => {}
        Err(ScheduleError::AlreadyTextedToday) => {
            return record(
                deps,
                call,
                Outcome::Skipped,
                Reason::AlreadyTextedToday,
                now,
            )
            .await;
        }
        Err(ScheduleError::OptedOut) => {
            return record(deps, call, Outcome::Skipped, Reason::OptedOut, now).await;
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
        deps.events
            .put(detail_type::MESSAGE_DUE, json!({"account_id": account.account_id, "message_id": message_id, "due_at": ts(due_at)}))
            .await?;
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
            (at("2026-11-27T17:29:42Z") + Duration::days(RETENTION_DAYS)).timestamp()
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
