//! Sender: the only function that opens numbers and publishes SMS.
//!
//! Triggered by a `MessageDue` event (a message due now) and by the one-minute schedule
//! (`{"sweep": true}`: deferred messages that became due, and in-flight messages a crashed
//! sender left behind). Each message is claimed with a conditional update (exactly one sender
//! wins), re-checked (account enabled, deferral deadline, opt-out in the table and at the
//! carrier), opened, published once, and recorded with its call in one transaction.
//! A crash between claim and record is reported as `failed`/`send_interrupted` by the next
//! sweep, never retried blindly: the SMS may have left.

use chrono::{DateTime, Duration, Utc};
use lambda_runtime::LambdaEvent;
use rappel::aws::{Finish, Table};
use rappel::items::{CALL_PREFIX, MessageItem, ts};
use rappel::ports::{Clock, EventPublisher, NumberOpener, PortError, SmsGateway, detail_type};
use rappel::rules::{self, Reason};
use rappel::sms;
use serde::Serialize;
use serde_json::{Value, json};

/// A message still `sending` this long after its claim is reported as interrupted.
pub const IN_FLIGHT_TIMEOUT: Duration = Duration::minutes(5);

/// Most messages one sweep takes per shard.
pub const SWEEP_BATCH: i32 = 100;

/// What the handler needs, built once per cold start.
pub struct Deps<K: NumberOpener, S: SmsGateway, E: EventPublisher, C: Clock> {
    pub table: Table,
    pub keys: K,
    pub sms: S,
    pub events: E,
    pub clock: C,
    pub due_shards: u32,
    /// Base of booking links when the account has no `booking_base_url`.
    pub public_base_url: String,
}

/// How one message ended, for logs, the handler's answer and tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub message_id: String,
    /// `sent`, `cancelled`, `expired`, `failed`, or `scheduled` (put back on the queue: it was
    /// outside the recipient's sending window).
    pub outcome: &'static str,
    pub reason: &'static str,
}

/// The handler's answer: what this invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub deliveries: Vec<Delivery>,
    /// Messages found in flight past [`IN_FLIGHT_TIMEOUT`] and marked `send_interrupted`.
    pub interrupted: Vec<String>,
}

/// Handle a `MessageDue` EventBridge event or a scheduled sweep. Returns `Err` on
/// infrastructure failure so Lambda retries (a retried claim is harmless).
pub async fn handle<K, S, E, C>(
    deps: &Deps<K, S, E, C>,
    event: LambdaEvent<Value>,
) -> Result<Report, lambda_runtime::Error>
where
    K: NumberOpener,
    S: SmsGateway,
    E: EventPublisher,
    C: Clock,
{
    match trigger(&event.payload)? {
        Trigger::MessageDue {
            account_id,
            message_id,
        } => {
            let mut report = Report::default();
            report
                .deliveries
                .extend(send_one(deps, &account_id, &message_id).await?);
            Ok(report)
        }
        Trigger::Sweep => {
            // Lambda's deadline (ms since the epoch; 0 when run outside Lambda).
            let deadline = (event.context.deadline > 0).then(|| {
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(event.context.deadline)
            });
            Ok(sweep_until(deps, deadline).await?)
        }
    }
}

/// Why the sender was invoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A `MessageDue` event (EventBridge rule on Rappel's bus): deliver this one message.
    MessageDue {
        account_id: String,
        message_id: String,
    },
    /// The one-minute schedule (EventBridge Scheduler input `{"sweep": true}`).
    Sweep,
}

/// Read the invocation payload: an EventBridge event whose `detail-type` is `MessageDue`
/// (its `detail` must carry string `account_id` and `message_id`), or `{"sweep": true}`.
///
/// Errors: a message naming what is missing or unrecognised (never a value from the payload).
pub fn trigger(payload: &Value) -> Result<Trigger, String> {
    if payload.get("detail-type").and_then(Value::as_str) == Some(detail_type::MESSAGE_DUE) {
        let detail = &payload["detail"];
        let (Some(account_id), Some(message_id)) =
            (detail["account_id"].as_str(), detail["message_id"].as_str())
        else {
            return Err("MessageDue event without account_id/message_id".into());
        };
        return Ok(Trigger::MessageDue {
            account_id: account_id.to_owned(),
            message_id: message_id.to_owned(),
        });
    }
    if payload.get("sweep").and_then(Value::as_bool) == Some(true) {
        return Ok(Trigger::Sweep);
    }
    Err("unrecognised event: expected a MessageDue event or {\"sweep\": true}".into())
}

/// Claim and deliver one message if it is scheduled and due; `None` if another sender has it,
/// or it was cancelled, or it is not due yet.
pub async fn send_one<K, S, E, C>(
    deps: &Deps<K, S, E, C>,
    account_id: &str,
    message_id: &str,
) -> Result<Option<Delivery>, PortError>
where
    K: NumberOpener,
    S: SmsGateway,
    E: EventPublisher,
    C: Clock,
{
    let now = deps.clock.now();
    match deps
        .table
        .claim(account_id, message_id, deps.due_shards, now)
        .await?
    {
        Some(msg) => deliver(deps, &msg, now).await.map(Some),
        None => Ok(None),
    }
}

/// One pass over every shard: report stale in-flight messages, then deliver due ones.
pub async fn sweep<K, S, E, C>(deps: &Deps<K, S, E, C>) -> Result<Report, PortError>
where
    K: NumberOpener,
    S: SmsGateway,
    E: EventPublisher,
    C: Clock,
{
    sweep_until(deps, None).await
}

/// Time kept in hand before the Lambda deadline: no new message is claimed after that, so a
/// claimed message is never cut off halfway (the next sweep, a minute later, goes on).
pub const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_secs(10);

/// [`sweep`], stopping before `deadline` (wall clock) minus [`DEADLINE_MARGIN`]. A failure on
/// one message is logged and the sweep goes on with the others; the first failure is returned
/// at the end (so the invocation is reported failed).
pub async fn sweep_until<K, S, E, C>(
    deps: &Deps<K, S, E, C>,
    deadline: Option<std::time::SystemTime>,
) -> Result<Report, PortError>
where
    K: NumberOpener,
    S: SmsGateway,
    E: EventPublisher,
    C: Clock,
{
    let out_of_time =
        || deadline.is_some_and(|d| std::time::SystemTime::now() + DEADLINE_MARGIN >= d);
    let now = deps.clock.now();
    let mut report = Report::default();
    let mut first_error: Option<PortError> = None;
    let mut note = |err: PortError, what: &str| {
        tracing::error!(error = %err, "{what}");
        first_error.get_or_insert(err);
    };
    'shards: for shard in 0..deps.due_shards {
        match deps
            .table
            .stale_sending(shard, now - IN_FLIGHT_TIMEOUT)
            .await
        {
            Ok(stale) => {
                for (account_id, message_id) in stale {
                    let result = async {
                        if let Some(msg) = deps.table.get_message(&account_id, &message_id).await? {
                            tracing::error!(%account_id, %message_id, "message was claimed but never recorded: the SMS may or may not have left; not retried");
                            deps.table.finish(&msg, Finish::Failed(Reason::SendInterrupted), now, false).await?;
                            return Ok::<_, PortError>(true);
                        }
                        Ok(false)
                    }
                    .await;
                    match result {
                        Ok(true) => report.interrupted.push(message_id),
                        Ok(false) => {}
                        Err(err) => note(err, "cannot record an interrupted message"),
                    }
                }
            }
            Err(err) => note(err, "cannot read in-flight messages"),
        }
        let due = match deps.table.due(shard, now, SWEEP_BATCH).await {
            Ok(due) => due,
            Err(err) => {
                note(err, "cannot read the due queue");
                continue;
            }
        };
        for (account_id, message_id) in due {
            if out_of_time() {
                tracing::warn!(
                    shard,
                    "sweep stopped before the Lambda deadline; the next one goes on"
                );
                break 'shards;
            }
            match send_one(deps, &account_id, &message_id).await {
                Ok(delivery) => report.deliveries.extend(delivery),
                Err(err) => note(err, "delivery failed; the sweep goes on"),
            }
        }
    }
    match first_error {
        Some(err) => Err(err),
        None => Ok(report),
    }
}

/// `Some(next allowed instant)` when `now` (UTC) is outside the sending window of a recipient
/// in `region` for `account` (DESIGN rule 4, re-checked at send time); `None` when allowed.
pub fn outside_window(
    region: Option<&str>,
    account: &rappel::account::Account,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let calendar = rules::recipient_calendar(region, account);
    (!calendar.is_allowed(now)).then(|| calendar.next_allowed(now))
}

/// Re-check, open, publish and record a claimed message.
async fn deliver<K, S, E, C>(
    deps: &Deps<K, S, E, C>,
    msg: &MessageItem,
    now: DateTime<Utc>,
) -> Result<Delivery, PortError>
where
    K: NumberOpener,
    S: SmsGateway,
    E: EventPublisher,
    C: Clock,
{
    let finish = |end: Finish<'static>| async move {
        deps.table.finish(msg, end, now, false).await?;
        let (outcome, reason) = match end {
            Finish::Cancelled(r) => ("cancelled", r),
            Finish::Expired(r) => ("expired", r),
            Finish::Failed(r) => ("failed", r),
            Finish::Sent { reason, .. } => ("sent", reason),
        };
        tracing::info!(account_id = %msg.account_id, message_id = %msg.message_id, outcome, reason = reason.as_str(), "message not sent");
        Ok::<_, PortError>(Delivery {
            message_id: msg.message_id.clone(),
            outcome,
            reason: reason.as_str(),
        })
    };

    let account = match deps.table.get_account(&msg.account_id).await? {
        Some(account) if account.enabled => account,
        _ => return finish(Finish::Cancelled(Reason::AccountDisabled)).await,
    };
    let send_before = DateTime::parse_from_rfc3339(&msg.send_before)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now);
    if now > send_before {
        return finish(Finish::Expired(Reason::DeferralLimit)).await;
    }
    // Rule 4 again at send time: a late event, a retry or a backlog must not text at night.
    if let Some(next) = outside_window(msg.region.as_deref(), &account, now) {
        if next > send_before {
            return finish(Finish::Expired(Reason::DeferralLimit)).await;
        }
        deps.table.reschedule(msg, next, deps.due_shards).await?;
        tracing::info!(account_id = %msg.account_id, message_id = %msg.message_id, due_at = %ts(next), "outside the recipient's sending window: rescheduled");
        return Ok(Delivery {
            message_id: msg.message_id.clone(),
            outcome: "scheduled",
            reason: Reason::QuietHours.as_str(),
        });
    }
    if deps
        .table
        .is_opted_out(&msg.account_id, &msg.caller_hash)
        .await?
    {
        return finish(Finish::Cancelled(Reason::OptedOut)).await;
    }
    let Some(sealed) = &msg.number else {
        return finish(Finish::Failed(Reason::NumberUnavailable)).await;
    };
    let number = match deps.keys.open(&msg.account_id, sealed).await {
        Ok(number) => number,
        Err(err) => {
            tracing::error!(message_id = %msg.message_id, error = %err, "cannot open the sealed number");
            return finish(Finish::Failed(Reason::NumberUnavailable)).await;
        }
    };
    if deps.sms.is_opted_out(&number).await? {
        // A STOP reply reached the carrier: remember it for this account.
        deps.table
            .put_opt_out(&msg.account_id, &msg.caller_hash, "carrier", now)
            .await?;
        return finish(Finish::Cancelled(Reason::OptedOut)).await;
    }

    let base = account
        .booking_base_url
        .as_deref()
        .unwrap_or(&deps.public_base_url)
        .trim_end_matches('/');
    let link = format!("{base}/r/{}", msg.token);
    let body = sms::render(&account.message_template, &account.company_name, &link);
    let sender_id = account.sender_id();
    let segments = sms::segments(&body);
    let sns_message_id = match deps.sms.publish(&number, &sender_id, &body).await {
        Ok(id) => id,
        Err(err) => {
            // SNS answered with an error: nothing left, so the day is freed (Table::finish).
            tracing::error!(message_id = %msg.message_id, error = %err, "SMS publish refused");
            return finish(Finish::Failed(Reason::ProviderError)).await;
        }
    };
    let reason = msg.reason.unwrap_or(Reason::InHours);
    deps.table
        .finish(
            msg,
            Finish::Sent {
                sns_message_id: &sns_message_id,
                reason,
            },
            now,
            account.shred_number_after_send,
        )
        .await?;
    let call_id = msg
        .call_sk
        .strip_prefix(CALL_PREFIX)
        .and_then(|rest| rest.split_once('#'))
        .map(|(_, id)| id)
        .unwrap_or_default();
    deps.events
        .put(
            detail_type::SMS_SENT,
            json!({
                "account_id": msg.account_id,
                "message_id": msg.message_id,
                "call_id": call_id,
                "caller": msg.caller_masked,
                "sender_id": sender_id,
                "sns_message_id": sns_message_id,
                "segments": segments.count,
                "encoding": segments.encoding,
                "due_at": msg.due_at,
                "sent_at": ts(now),
            }),
        )
        .await?;
    tracing::info!(
        account_id = %msg.account_id,
        message_id = %msg.message_id,
        to = %number,
        segments = segments.count,
        "SMS sent"
    );
    Ok(Delivery {
        message_id: msg.message_id.clone(),
        outcome: "sent",
        reason: reason.as_str(),
    })
}

#[cfg(test)]
mod window_tests {
    use super::*;

    #[test]
    fn a_late_send_is_put_back_to_the_next_allowed_instant() {
        let account =
            rappel::account::Account::from_json(r#"{"account_id":"a","company_name":"Acme"}"#)
                .unwrap();
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // Friday 27 Nov 2026 19:59:59 Paris: still allowed.
        assert_eq!(
            outside_window(Some("FR"), &account, t("2026-11-27T18:59:59Z")),
            None
        );
        // A MessageDue event retried at 20:00:30 Paris: back to Saturday 08:00 Paris.
        assert_eq!(
            outside_window(Some("FR"), &account, t("2026-11-27T19:00:30Z")),
            Some(t("2026-11-28T07:00:00Z"))
        );
        // Réunion at 04:30 local time (00:30 UTC): 08:00 local.
        assert_eq!(
            outside_window(Some("RE"), &account, t("2026-11-30T00:30:00Z")),
            Some(t("2026-11-30T04:00:00Z"))
        );
        // A message with no region (stored before the region was kept) uses the account's zone.
        assert_eq!(
            outside_window(None, &account, t("2026-11-29T10:00:00Z")),
            Some(t("2026-11-30T07:00:00Z"))
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::eventbridge::EventBridgeEvent;
    use lambda_runtime::Context;

    fn sample(json: &str) -> LambdaEvent<Value> {
        LambdaEvent::new(
            serde_json::from_str(json).expect("sample is JSON"),
            Context::default(),
        )
    }

    #[test]
    fn message_due_sample_is_an_eventbridge_event_for_one_message() {
        let json = include_str!("../../../events/sender-message-due.json");
        let event: EventBridgeEvent<Value> = serde_json::from_str(json).unwrap();
        assert_eq!(event.detail_type, detail_type::MESSAGE_DUE);
        assert_eq!(event.source, rappel::ports::EVENT_SOURCE);
        assert_eq!(event.detail["due_at"], "2026-11-27T17:29:43Z");

        assert_eq!(
            trigger(&sample(json).payload),
            Ok(Trigger::MessageDue {
                account_id: "demo".into(),
                message_id: "msg_5e0c9a7b3d1f2e4a6c8b0d92".into(),
            })
        );
    }

    #[test]
    fn sweep_sample_is_the_scheduler_input() {
        let event = sample(include_str!("../../../events/sender-sweep.json"));
        assert_eq!(event.payload, json!({"sweep": true}));
        assert_eq!(trigger(&event.payload), Ok(Trigger::Sweep));
    }

    #[test]
    fn malformed_events_are_refused_with_a_reason() {
        let mut due: Value =
            serde_json::from_str(include_str!("../../../events/sender-message-due.json")).unwrap();
        due["detail"].as_object_mut().unwrap().remove("message_id");
        let missing = "MessageDue event without account_id/message_id";
        assert_eq!(trigger(&due), Err(missing.into()));
        due["detail"] = json!({"account_id": "demo", "message_id": 42});
        assert_eq!(trigger(&due), Err(missing.into()));
        due["detail"] = Value::Null;
        assert_eq!(trigger(&due), Err(missing.into()));

        let unrecognised = r#"unrecognised event: expected a MessageDue event or {"sweep": true}"#;
        for payload in [
            json!({}),
            json!(null),
            json!([]),
            json!({"sweep": false}),
            json!({"sweep": "true"}),
            json!({"detail-type": "SmsSent", "detail": {"account_id": "demo", "message_id": "msg_1"}}),
        ] {
            assert_eq!(trigger(&payload), Err(unrecognised.into()), "{payload}");
        }
    }
}
