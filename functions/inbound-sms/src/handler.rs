//! STOP replies become opt-outs (issue "opt-outs from every channel").
//!
//! AWS End User Messaging SMS publishes each SMS received on a two-way short code to an SNS
//! topic; this function is subscribed to it. A reply that asks to stop
//! ([`rappel::optout::is_stop_request`]) records an opt-out tombstone for every account that
//! sends from that short code (the `REPLY#{code}` index `rappel-admin put-account` keeps):
//! each of them may have texted the person, and a STOP to a short code means "no more SMS
//! from this code" (AF2M code of conduct). The sender checks the tombstone before every send,
//! so a message already deferred is not sent either.
//!
//! Nothing of the reply is logged but its ids and the short code. A record that cannot be
//! read is logged and skipped (retrying cannot fix it); an AWS error, or a STOP to a short
//! code no account sends from, fails the invocation, which Lambda retries twice before the
//! on-failure queue keeps it (template.yaml).

use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use rappel::items::{OptOutSource, ts};
use rappel::optout::{InboundSms, is_stop_request};
use rappel::phone::{self, Caller};
use rappel::ports::{Clock, EventPublisher, NumberProtector, PortError};
use rappel::store::{AccountStore, OptOutStore};
use serde_json::{Value, json};

/// What the function needs, built once per cold start by `main`.
pub struct Deps<T: OptOutStore + AccountStore, K: NumberProtector, E: EventPublisher, C: Clock> {
    pub table: T,
    pub keys: K,
    pub events: E,
    pub clock: C,
}

/// What one invocation did (its answer, for logs and tests).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// SNS records received.
    pub records: usize,
    /// Replies that asked to stop.
    pub stop_requests: usize,
    /// Opt-outs recorded (one per account that sends from the code), new or already there.
    pub opt_outs: usize,
    /// Records skipped: unreadable, or a reply from something that is not a number.
    pub skipped: usize,
}

/// Handle one SNS event (`{"Records": [{"Sns": {"Message": "<two-way SMS JSON>"}}]}`).
///
/// Returns the [`Summary`] as JSON. Errors: a [`PortError`] from DynamoDB, KMS or EventBridge
/// (scrubbed of numbers) as the invocation's error; Lambda retries the whole event, and
/// recording is idempotent.
pub async fn handle<
    T: OptOutStore + AccountStore,
    K: NumberProtector,
    E: EventPublisher,
    C: Clock,
>(
    deps: &Deps<T, K, E, C>,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let now = deps.clock.now();
    let mut summary = Summary::default();
    let records = event.payload["Records"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for record in &records {
        summary.records += 1;
        let sns_id = record["Sns"]["MessageId"].as_str().unwrap_or("?");
        let Some(sms) = record["Sns"]["Message"]
            .as_str()
            .and_then(|m| serde_json::from_str::<InboundSms>(m).ok())
        else {
            tracing::warn!(
                sns_message_id = sns_id,
                "inbound SMS record unreadable: skipped"
            );
            summary.skipped += 1;
            continue;
        };
        if let Some(accounts) = on_reply(deps, &sms, now).await? {
            summary.stop_requests += 1;
            summary.opt_outs += accounts;
            if accounts == 0 {
                summary.skipped += 1;
            }
        }
    }
    tracing::info!(
        records = summary.records,
        stop_requests = summary.stop_requests,
        opt_outs = summary.opt_outs,
        skipped = summary.skipped,
        "inbound SMS handled"
    );
    Ok(json!({
        "records": summary.records,
        "stop_requests": summary.stop_requests,
        "opt_outs": summary.opt_outs,
        "skipped": summary.skipped,
    }))
}

/// One reply: `None` when it does not ask to stop, else the number of accounts it opted out of.
/// A STOP to a short code no account is indexed under is an error (it must not be lost).
async fn on_reply<
    T: OptOutStore + AccountStore,
    K: NumberProtector,
    E: EventPublisher,
    C: Clock,
>(
    deps: &Deps<T, K, E, C>,
    sms: &InboundSms,
    now: DateTime<Utc>,
) -> Result<Option<usize>, PortError> {
    let message_id = sms.inbound_message_id.as_deref().unwrap_or("?");
    if !is_stop_request(&sms.message_body) {
        tracing::info!(
            inbound_message_id = message_id,
            short_code = %sms.destination_number,
            "inbound SMS is not an opt-out keyword: ignored"
        );
        return Ok(None);
    }
    let Caller::Number { e164, .. } = phone::classify(&sms.origination_number, "FR") else {
        tracing::warn!(
            inbound_message_id = message_id,
            "STOP reply from something that is not a number: skipped"
        );
        return Ok(Some(0));
    };
    let code = sms.destination_number.trim().trim_start_matches('+');
    let accounts = deps.table.reply_accounts(code).await?;
    if accounts.is_empty() {
        // Not dropped: the invocation fails, Lambda retries it, then the on-failure queue keeps
        // it and the errors alarm says so (runbook: record the opt-out by hand).
        tracing::error!(
            inbound_message_id = message_id,
            short_code = code,
            "STOP reply to a short code no account sends from: check the accounts' short_code"
        );
        return Err(PortError::new(
            "inbound-sms",
            format!("STOP reply to short code {code}, which no account sends from"),
        ));
    }
    let mut opted_out = 0;
    for account_id in &accounts {
        let Some(account) = deps.table.get_account(account_id).await? else {
            // The index outlived its account (deleted by hand): nothing left to opt out of.
            tracing::warn!(
                inbound_message_id = message_id,
                account_id = account_id.as_str(),
                "STOP reply: the short-code index names an account that no longer exists"
            );
            continue;
        };
        let hash = deps.keys.hash(&account, &e164).await?;
        let new = deps
            .table
            .record_opt_out(account_id, &hash, OptOutSource::SmsReply, now)
            .await?;
        // Told every time (a retry after a failed put tells again, with `new: false`):
        // consumers are idempotent on (account_id, inbound_message_id).
        let event = rappel::events::OptedOut {
            account_id: account_id.clone(),
            source: OptOutSource::SmsReply.as_str().to_string(),
            message_id: None,
            inbound_message_id: Some(message_id.to_string()),
            cancelled: None,
            new: Some(new),
            at: ts(now),
        };
        rappel::events::publish(&deps.events, &event).await?;
        if new {
            rappel::funnel::count(account_id, rappel::funnel::Step::OptedOut, None, now);
        }
        tracing::info!(%account_id, inbound_message_id = message_id, new, "opted out by STOP reply");
        opted_out += 1;
    }
    Ok(Some(opted_out))
}
