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
    if record.event_name != "INSERT" {
        return Ok(None);
    }
    let is_call = record.change.keys.get("SK").is_some_and(
        |sk| matches!(sk, serde_dynamo::AttributeValue::S(s) if s.starts_with(CALL_PREFIX)),
    );
    if !is_call {
        return Ok(None);
    }
    let call: CallItem = serde_dynamo::from_item(record.change.new_image.clone())
        .map_err(|e| PortError::new("stream", format!("call item does not deserialize: {e}")))?;
    process_call(deps, &call).await.map(Some)
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
                .cancel_pending(&call.account_id, &hash, reason, now)
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
