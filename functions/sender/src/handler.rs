//! Sender: the only function that opens numbers and publishes SMS.
//!
//! Triggered by a `MessageDue` event (a message due now) and by the one-minute schedule
//! (`{"sweep": true}`: deferred messages that became due, messages put back after a failure,
//! and in-flight messages a crashed sender left behind). Each message is claimed with a
//! conditional update (exactly one sender wins), re-checked (account enabled, deferral
//! deadline, sending window, opt-out in the table and at the carrier), opened, published once
//! (no SDK retry), and recorded with its call in one transaction.
//!
//! Failure handling (docs/architecture.md, "Failure handling"):
//! * an error before Publish (throttling, a timeout, KMS or the carrier check down) puts the
//!   message back on the due queue with a backoff: nothing was sent;
//! * Publish refused (invalid number...): `failed`/`provider_error`, the day is freed;
//! * Publish that may have gone through (timeout, reset, 5xx): `failed`/`send_uncertain`, the
//!   day is kept, never retried;
//! * a crash between claim and record is reported as `failed`/`send_interrupted` by a later
//!   sweep, never retried blindly: the SMS may have left;
//! * a message found outside the recipient's window moves to the next allowed instant, and its
//!   day reservation moves with it (or it is cancelled when that day is already taken).

use crate::pace::SendRate;
use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;
use lambda_runtime::LambdaEvent;
use rappel::items::{CALL_PREFIX, MessageItem, day_sk, ts};
use rappel::ports::{
    Applied, Clock, EventPublisher, NumberOpener, PortError, SmsGateway, detail_type,
};
use rappel::rules::{self, Reason};
use rappel::sms;
use rappel::store::{AccountStore, Finish, Outbox};
use serde::Serialize;
use serde_json::Value;

/// A message still `sending` this long after its claim is reported as interrupted.
pub const IN_FLIGHT_TIMEOUT: Duration = Duration::minutes(5);

/// Messages one due-queue query returns; a sweep pages on until the queue is empty or its
/// deadline is near.
pub const SWEEP_PAGE: usize = 100;

/// Delay before retrying a message whose attempt failed before Publish: 30 s doubled at each
/// attempt, at most 15 minutes (seconds).
pub fn retry_delay(attempts: u32) -> Duration {
    Duration::seconds((30i64 << attempts.min(5)).min(900))
}

/// What the handler needs, built once per cold start.
pub struct Deps<
    T: AccountStore + Outbox,
    K: NumberOpener,
    S: SmsGateway,
    E: EventPublisher,
    C: Clock,
> {
    pub table: T,
    pub keys: K,
    pub sms: S,
    pub events: E,
    pub clock: C,
    pub due_shards: u32,
    /// Base of booking links when the account has no `booking_base_url`.
    pub public_base_url: String,
    /// SMS per second this instance hands to SNS ([`crate::pace`]); a sweep works on
    /// [`SendRate::concurrency`] messages at once.
    pub send_rate: SendRate,
}

/// How one message ended, for logs, the handler's answer and tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub message_id: String,
    /// `sent`, `cancelled`, `expired`, `failed`, `scheduled` (put back on the queue at the
    /// next allowed instant: it was outside the recipient's sending window) or `retry` (put
    /// back with a backoff after a failure before Publish).
    pub outcome: &'static str,
    pub reason: &'static str,
}

/// The handler's answer: what this invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub deliveries: Vec<Delivery>,
    /// Messages found in flight past [`IN_FLIGHT_TIMEOUT`] and marked `send_interrupted`.
    pub interrupted: Vec<String>,
    /// Keys (`PK/SK`) of items this code could not read: skipped, logged, counted.
    pub unreadable: Vec<String>,
}

/// Handle a `MessageDue` EventBridge event or a scheduled sweep. Returns `Err` on
/// infrastructure failure so Lambda retries (a retried claim is harmless).
pub async fn handle<T, K, S, E, C>(
    deps: &Deps<T, K, S, E, C>,
    event: LambdaEvent<Value>,
) -> Result<Report, lambda_runtime::Error>
where
    T: AccountStore + Outbox,
    K: NumberOpener,
    S: SmsGateway,
    E: EventPublisher,
    C: Clock,
{
    // Lambda's deadline (ms since the epoch; 0 when run outside Lambda), on tokio's clock.
    let deadline = (event.context.deadline > 0).then(|| {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(event.context.deadline);
        let left = at
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        tokio::time::Instant::now() + left
    });
    match trigger(&event.payload)? {
        Trigger::MessageDue {
            account_id,
            message_id,
        } => {
            let mut report = Report::default();
            report
                .deliveries
                .extend(send_one(deps, &account_id, &message_id, deadline).await?);
            Ok(report)
        }
        Trigger::Sweep => Ok(sweep_until(deps, deadline).await?),
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
///
/// Errors: the claim itself failed in a way that leaves the message where it was (the event
/// is retried), or recording failed after the claim (a later sweep reports it).
pub async fn send_one<T, K, S, E, C>(
    deps: &Deps<T, K, S, E, C>,
    account_id: &str,
    message_id: &str,
    deadline: Option<tokio::time::Instant>,
) -> Result<Option<Delivery>, PortError>
where
    T: AccountStore + Outbox,
    K: NumberOpener,
    S: SmsGateway,
    E: EventPublisher,
    C: Clock,
{
    // The send rate's turn comes before the claim: a claimed message is never held back.
    deps.send_rate.wait().await;
    let now = deps.clock.now();
    let token = rappel::crypto::new_id("claim");
    let claimed = match deps
        .table
        .claim(account_id, message_id, &token, deps.due_shards, now)
        .await
    {
        Ok(claimed) => claimed,
        // The claim may have applied and its answer been lost: it is ours if it carries our
        // token (otherwise it was not claimed, or someone else has it).
        Err(err) if err.applied == Applied::Maybe => {
            tracing::warn!(%account_id, %message_id, error = %err, "claim answer lost; reading the message back");
            deps.table
                .get_message(account_id, message_id)
                .await?
                .filter(|m| m.claim_token.as_deref() == Some(token.as_str()))
        }
        Err(err) => return Err(err),
    };
    match claimed {
        Some(msg) => deps.deliver(&msg, now, deadline).await.map(Some),
        None => Ok(None),
    }
}

/// One pass over every shard: report stale in-flight messages, then deliver due ones.
pub async fn sweep<T, K, S, E, C>(deps: &Deps<T, K, S, E, C>) -> Result<Report, PortError>
where
    T: AccountStore + Outbox,
    K: NumberOpener,
    S: SmsGateway,
    E: EventPublisher,
    C: Clock,
{
    sweep_until(deps, None).await
}

/// Time a claimed message needs between its checks and the end of the invocation: Publish and
/// the record of the send, each bounded by the AWS operation timeout ([`rappel::aws`]: 12 s),
/// plus 2 s. (On a healthy AWS they take well under a second.) When the checks before Publish
/// were slow enough to leave less than this before the Lambda deadline, the message is put back on the due queue unsent (the next sweep sends it)
/// rather than published and cut off before its record (which a later sweep could only
/// report as `send_interrupted`, never resend).
pub const PUBLISH_MARGIN: std::time::Duration = std::time::Duration::from_secs(26);

/// Time kept in hand before the Lambda deadline: no new message is claimed after that, so a
/// claimed message is never cut off halfway (the next sweep, a minute later, goes on). Larger
/// than [`PUBLISH_MARGIN`] by the claim and a few seconds of checks.
pub const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_secs(30);

/// [`sweep`], stopping before `deadline` (tokio's clock: the handler converts Lambda's
/// deadline; a benchmark may run on paused time) minus [`DEADLINE_MARGIN`]. Each shard is
/// read page after page until it has nothing due (the drain is not capped per sweep). A
/// failure on one message is logged and the sweep goes on with the others; an unreadable item
/// is skipped, logged by key and counted; the first failure is returned at the end (so the
/// invocation is reported failed).
pub async fn sweep_until<T, K, S, E, C>(
    deps: &Deps<T, K, S, E, C>,
    deadline: Option<tokio::time::Instant>,
) -> Result<Report, PortError>
where
    T: AccountStore + Outbox,
    K: NumberOpener,
    S: SmsGateway,
    E: EventPublisher,
    C: Clock,
{
    let out_of_time =
        || deadline.is_some_and(|d| tokio::time::Instant::now() + DEADLINE_MARGIN >= d);
    let now = deps.clock.now();
    let mut report = Report::default();
    let mut first_error: Option<PortError> = None;
    let mut note = |err: PortError, what: &str| {
        tracing::error!(error = %err, "{what}");
        first_error.get_or_insert(err);
    };
    let unreadable = |key: String, report: &mut Report| {
        tracing::error!(event = "unreadable_item", key = %key, "item cannot be read by this version: skipped");
        report.unreadable.push(key);
    };
    'shards: for shard in 0..deps.due_shards {
        match deps
            .table
            .stale_sending(shard, now - IN_FLIGHT_TIMEOUT)
            .await
        {
            Ok(stale) => {
                for entry in stale {
                    let (account_id, message_id) = match entry {
                        Ok(keys) => keys,
                        Err(key) => {
                            unreadable(key, &mut report);
                            continue;
                        }
                    };
                    match deps.interrupted(&account_id, &message_id, now).await {
                        Ok(true) => report.interrupted.push(message_id),
                        Ok(false) => {}
                        Err(err) if err.is_unreadable() => unreadable(
                            format!("ACCOUNT#{account_id}/MSG#{message_id}"),
                            &mut report,
                        ),
                        Err(err) => note(err, "cannot record an interrupted message"),
                    }
                }
            }
            Err(err) => note(err, "cannot read in-flight messages"),
        }
        let mut cursor: Option<String> = None;
        loop {
            let page = match deps
                .table
                .due(shard, now, cursor.as_deref(), SWEEP_PAGE)
                .await
            {
                Ok(page) => page,
                Err(err) => {
                    note(err, "cannot read the due queue");
                    continue 'shards;
                }
            };
            // The page's messages, up to `concurrency` at once, each at its turn of the send
            // rate: the drain is limited by the rate, not by AWS round trips.
            let steps: Vec<Step> = futures_util::stream::iter(page.entries)
                .map(|entry| async move {
                    let (account_id, message_id) = match entry {
                        Ok(keys) => keys,
                        Err(key) => return Step::Unreadable(key),
                    };
                    if out_of_time() {
                        return Step::OutOfTime;
                    }
                    let result = send_one(deps, &account_id, &message_id, deadline).await;
                    Step::Sent(account_id, message_id, result)
                })
                .buffer_unordered(deps.send_rate.concurrency())
                .collect()
                .await;
            let mut stopped = false;
            for step in steps {
                match step {
                    Step::Unreadable(key) => unreadable(key, &mut report),
                    Step::OutOfTime => stopped = true,
                    Step::Sent(_, _, Ok(delivery)) => report.deliveries.extend(delivery),
                    Step::Sent(account_id, message_id, Err(err)) if err.is_unreadable() => {
                        unreadable(
                            format!("ACCOUNT#{account_id}/MSG#{message_id}"),
                            &mut report,
                        )
                    }
                    Step::Sent(_, _, Err(err)) => note(err, "delivery failed; the sweep goes on"),
                }
            }
            if stopped {
                tracing::warn!(
                    shard,
                    "sweep stopped before the Lambda deadline; the next one goes on"
                );
                break 'shards;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    match first_error {
        Some(err) => Err(err),
        None => Ok(report),
    }
}

/// What became of one due-queue entry in a sweep.
enum Step {
    Unreadable(String),
    /// Not started: the deadline was near.
    OutOfTime,
    Sent(String, String, Result<Option<Delivery>, PortError>),
}

/// The one log line of a message that ended (the template's metric filters count
/// `send_interrupted` and `send_uncertain` from it).
fn finished(msg: &MessageItem, end: Finish<'_>, what: &str) {
    let (outcome, reason) = outcome_of(end);
    if matches!(
        reason,
        Reason::SendInterrupted | Reason::SendUncertain | Reason::ProviderError
    ) {
        tracing::error!(event = "message_finished", account_id = %msg.account_id, message_id = %msg.message_id, outcome, reason = reason.as_str(), "{what}");
    } else {
        tracing::info!(event = "message_finished", account_id = %msg.account_id, message_id = %msg.message_id, outcome, reason = reason.as_str(), "{what}");
    }
}

fn outcome_of(end: Finish<'_>) -> (&'static str, Reason) {
    match end {
        Finish::Cancelled(r) => ("cancelled", r),
        Finish::Expired(r) => ("expired", r),
        Finish::Failed(r) => ("failed", r),
        Finish::Sent { reason, .. } => ("sent", reason),
    }
}

/// `Some(next allowed instant)` when `now` (UTC) is outside the sending window of a recipient
/// in `region` for `account` (rule 4, docs/architecture.md, re-checked at send time); `None` when allowed.
pub fn outside_window(
    region: Option<&str>,
    account: &rappel::account::Account,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let calendar = rules::recipient_calendar(region, account);
    (!calendar.is_allowed(now)).then(|| calendar.next_allowed(now))
}

/// What the checks before Publish concluded.
enum Ready {
    /// Publish this text to this number.
    Send {
        number: rappel::phone::E164,
        account: rappel::account::Account,
    },
    /// The message ended (or was put back) without sending.
    Done(Delivery),
}

/// The steps of a delivery, on the handler's dependencies.
impl<T, K, S, E, C> Deps<T, K, S, E, C>
where
    T: AccountStore + Outbox,
    K: NumberOpener,
    S: SmsGateway,
    E: EventPublisher,
    C: Clock,
{
    /// Record a message claimed but never recorded as `failed`/`send_interrupted` (the day is
    /// kept: the SMS may have left). `false` when it is no longer in flight.
    async fn interrupted(
        &self,
        account_id: &str,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let deps = self;
        let Some(msg) = deps.table.get_message(account_id, message_id).await? else {
            return Ok(false);
        };
        let end = Finish::Failed(Reason::SendInterrupted);
        if !deps.table.finish(&msg, end, now, false).await? {
            return Ok(false);
        }
        finished(
            &msg,
            end,
            "message was claimed but never recorded: the SMS may or may not have left; not retried",
        );
        Ok(true)
    }

    /// Re-check, open, publish and record a claimed message, unless too little time is left
    /// before `deadline` to publish and record it ([`PUBLISH_MARGIN`]): then it goes back on
    /// the due queue, unsent.
    async fn deliver(
        &self,
        msg: &MessageItem,
        now: DateTime<Utc>,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Delivery, PortError> {
        let deps = self;
        let (number, account) = match deps.check(msg, now).await {
            Ok(Ready::Send { number, account }) => (number, account),
            Ok(Ready::Done(delivery)) => return Ok(delivery),
            // Nothing was sent: put it back with a backoff (case "a transient error before
            // Publish loses the SMS").
            Err(err) => return deps.retry_later(msg, now, err).await,
        };
        if deadline.is_some_and(|d| tokio::time::Instant::now() + PUBLISH_MARGIN >= d) {
            tracing::warn!(account_id = %msg.account_id, message_id = %msg.message_id, "too little time left before the Lambda deadline to publish and record: put back unsent");
            deps.table.release(msg, now, deps.due_shards).await?;
            return Ok(Delivery {
                message_id: msg.message_id.clone(),
                outcome: "retry",
                reason: "deadline",
            });
        }
        let base = account
            .booking_base_url
            .as_deref()
            .unwrap_or(&deps.public_base_url)
            .trim_end_matches('/');
        let link = format!("{base}/r/{}", msg.token);
        let optout = format!("{base}/o/{}", msg.token);
        let from = account.originator();
        let body = sms::render(
            account.template(),
            &sms::Fill {
                company: &account.company_name,
                link: &link,
                optout: &optout,
                short_code: account.short_code.as_deref().unwrap_or_default(),
            },
        );
        let sender_id = from.as_str();
        let segments = sms::segments(&body);
        let sns_message_id = match deps.sms.publish(&number, &from, &body).await {
            Ok(id) => id,
            Err(err) => {
                let end = match err.applied {
                    // Throttled: nothing left; try again later.
                    Applied::No => return deps.retry_later(msg, now, err).await,
                    // Refused (invalid number, ...): nothing left; the day is freed.
                    Applied::Refused => Finish::Failed(Reason::ProviderError),
                    // It may have left: keep the day, never send again, report.
                    Applied::Maybe => Finish::Failed(Reason::SendUncertain),
                };
                tracing::error!(message_id = %msg.message_id, error = %err, "SMS publish failed");
                return deps.end_message(msg, end, now, false).await;
            }
        };
        let reason = msg.reason.unwrap_or(Reason::InHours);
        let end = Finish::Sent {
            sns_message_id: &sns_message_id,
            reason,
        };
        // The SMS has left: record it, trying a little harder than usual (if this fails, a later
        // sweep reports the message as interrupted, which keeps the day).
        let mut attempt = 0;
        loop {
            match deps
                .table
                .finish(msg, end, now, account.shred_number_after_send)
                .await
            {
                Ok(_) => break,
                Err(err) if attempt < 2 && err.applied != Applied::Refused => {
                    attempt += 1;
                    tracing::warn!(message_id = %msg.message_id, error = %err, "cannot record a sent SMS yet; trying again");
                }
                Err(err) => return Err(err),
            }
        }
        finished(msg, end, "SMS sent");
        let call_id = msg
            .call_sk
            .strip_prefix(CALL_PREFIX)
            .and_then(|rest| rest.split_once('#'))
            .map(|(_, id)| id)
            .unwrap_or_default();
        let sent = rappel::events::SmsSent {
            account_id: msg.account_id.clone(),
            message_id: msg.message_id.clone(),
            call_id: call_id.to_string(),
            caller: msg.caller_masked.clone(),
            sender_id: sender_id.to_string(),
            sns_message_id: sns_message_id.clone(),
            segments: segments.count,
            encoding: segments.encoding,
            due_at: msg.due_at.clone(),
            sent_at: ts(now),
        };
        // Counted once the SMS has left and is recorded, whatever happens to the event.
        rappel::funnel::count(&msg.account_id, rappel::funnel::Step::SmsSent, None, now);
        rappel::events::publish(&deps.events, &sent).await?;
        Ok(Delivery {
            message_id: msg.message_id.clone(),
            outcome: "sent",
            reason: reason.as_str(),
        })
    }

    /// Record the end of a message that was not (or may not have been) sent.
    async fn end_message(
        &self,
        msg: &MessageItem,
        end: Finish<'static>,
        now: DateTime<Utc>,
        shred: bool,
    ) -> Result<Delivery, PortError> {
        let deps = self;
        deps.table.finish(msg, end, now, shred).await?;
        finished(msg, end, "message not sent");
        let (outcome, reason) = outcome_of(end);
        Ok(Delivery {
            message_id: msg.message_id.clone(),
            outcome,
            reason: reason.as_str(),
        })
    }

    /// Put a claimed message back on the due queue after a failure before Publish.
    async fn retry_later(
        &self,
        msg: &MessageItem,
        now: DateTime<Utc>,
        err: PortError,
    ) -> Result<Delivery, PortError> {
        let deps = self;
        let retry_at = now + retry_delay(msg.attempts);
        if err.is_unreadable() {
            tracing::error!(event = "unreadable_item", account_id = %msg.account_id, message_id = %msg.message_id, error = %err, "an item this message needs cannot be read: put back");
        } else {
            tracing::warn!(account_id = %msg.account_id, message_id = %msg.message_id, error = %err, retry_at = %ts(retry_at), "nothing sent: put back on the queue");
        }
        deps.table.release(msg, retry_at, deps.due_shards).await?;
        Ok(Delivery {
            message_id: msg.message_id.clone(),
            outcome: "retry",
            reason: "transient_error",
        })
    }

    /// The checks before Publish. `Err` only for failures where nothing was sent and a later
    /// attempt may succeed (the caller puts the message back).
    async fn check(&self, msg: &MessageItem, now: DateTime<Utc>) -> Result<Ready, PortError> {
        let deps = self;
        let done = |end: Finish<'static>| async move {
            deps.end_message(msg, end, now, false)
                .await
                .map(Ready::Done)
        };
        let account = match deps.table.get_account(&msg.account_id).await? {
            Some(account) if account.enabled => account,
            _ => return done(Finish::Cancelled(Reason::AccountDisabled)).await,
        };
        let send_before = DateTime::parse_from_rfc3339(&msg.send_before)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now);
        if now > send_before {
            return done(Finish::Expired(Reason::DeferralLimit)).await;
        }
        // Rule 4 again at send time: a late event, a retry or a backlog must not text at night.
        if let Some(next) = outside_window(msg.region.as_deref(), &account, now) {
            if next > send_before {
                return done(Finish::Expired(Reason::DeferralLimit)).await;
            }
            // The day reservation moves with the message (rule 3).
            let day = rules::recipient_calendar(msg.region.as_deref(), &account).local_date(next);
            let day_sk = day_sk(&msg.caller_hash, day);
            if !deps
                .table
                .reschedule(msg, next, &day_sk, deps.due_shards)
                .await?
            {
                return done(Finish::Cancelled(Reason::AlreadyTextedToday)).await;
            }
            tracing::info!(account_id = %msg.account_id, message_id = %msg.message_id, due_at = %ts(next), "outside the recipient's sending window: rescheduled");
            return Ok(Ready::Done(Delivery {
                message_id: msg.message_id.clone(),
                outcome: "scheduled",
                reason: Reason::QuietHours.as_str(),
            }));
        }
        // Rule 3 at send time: the send's local day is the one reserved. A message that waited
        // past midnight (a sweep down, retries) moves its reservation to today, or is cancelled
        // when today is already someone else's SMS day for this caller.
        let calendar = rules::recipient_calendar(msg.region.as_deref(), &account);
        let today = day_sk(&msg.caller_hash, calendar.local_date(now));
        if today != msg.day_sk {
            if !deps
                .table
                .reschedule(msg, now, &today, deps.due_shards)
                .await?
            {
                return done(Finish::Cancelled(Reason::AlreadyTextedToday)).await;
            }
            tracing::info!(account_id = %msg.account_id, message_id = %msg.message_id, "sent on another local day than planned: reservation moved, sent by the next pass");
            return Ok(Ready::Done(Delivery {
                message_id: msg.message_id.clone(),
                outcome: "scheduled",
                reason: Reason::QuietHours.as_str(),
            }));
        }
        // Opt-out and human contact since the call (rule 5, also for a message a cancellation
        // found already claimed), in one read.
        let caller = deps
            .table
            .caller_state(&msg.account_id, &msg.caller_hash)
            .await?;
        if caller.opted_out {
            return done(Finish::Cancelled(Reason::OptedOut)).await;
        }
        let happened = msg
            .call_happened_at
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        if let (Some(contact), Some(happened)) = (&caller.last_contact, happened) {
            if contact.at >= happened {
                let reason = match contact.reason {
                    Reason::CalledBack => Reason::CalledBack,
                    _ => Reason::AnsweredLater,
                };
                return done(Finish::Cancelled(reason)).await;
            }
        }
        let Some(sealed) = &msg.number else {
            return done(Finish::Failed(Reason::NumberUnavailable)).await;
        };
        let number = match deps.keys.open(&msg.account_id, sealed).await {
            Ok(number) => number,
            Err(err) if err.applied == Applied::Refused => {
                tracing::error!(message_id = %msg.message_id, error = %err, "cannot open the sealed number");
                return done(Finish::Failed(Reason::NumberUnavailable)).await;
            }
            Err(err) => return Err(err),
        };
        if deps.sms.is_opted_out(&number).await? {
            // A STOP reply reached the carrier: remember it for this account.
            deps.table
                .put_opt_out(&msg.account_id, &msg.caller_hash, "carrier", now)
                .await?;
            return done(Finish::Cancelled(Reason::OptedOut)).await;
        }
        Ok(Ready::Send { number, account })
    }
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
    use serde_json::json;

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
