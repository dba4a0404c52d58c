//! The DynamoDB table: every read and conditional write Rappel makes.
//!
//! Each write that must not happen twice is conditional; multi-item changes are one
//! `TransactWriteItems`, so nothing is ever half-written.

use super::port_error;
use crate::account::{Account, Secrets};
use crate::items::*;
use crate::ports::{PortError, SecretsVault};
use crate::rules::{Outcome, Reason};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnValue, TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

type Item = HashMap<String, AttributeValue>;

const SERVICE: &str = "dynamodb";

/// How long an account read is reused inside one execution environment.
const ACCOUNT_CACHE_TTL: Duration = Duration::from_secs(30);

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn to_item<T: Serialize>(value: &T) -> Result<Item, PortError> {
    serde_dynamo::to_item(value).map_err(|e| PortError::new(SERVICE, format!("serialize: {e}")))
}

fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, PortError> {
    serde_dynamo::from_item(item).map_err(|e| PortError::new(SERVICE, format!("deserialize: {e}")))
}

fn build<T, E: std::error::Error>(r: Result<T, E>) -> Result<T, PortError> {
    r.map_err(|e| port_error(SERVICE, e))
}

/// Why scheduling a message was refused by its transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The caller already has a message reserved for that local day (rule 3).
    #[error("caller already texted (or scheduled) that day")]
    AlreadyTextedToday,
    /// The caller opted out of this account.
    #[error("caller opted out")]
    OptedOut,
    /// The call already carries a decision (stream redelivery).
    #[error("call already decided")]
    AlreadyDecided,
    #[error(transparent)]
    Port(#[from] PortError),
}

/// A message cancelled by [`Table::cancel_pending`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled {
    pub message_id: String,
    pub call_sk: String,
}

/// The Rappel table.
#[derive(Debug)]
pub struct Table {
    client: Client,
    name: String,
    accounts: Mutex<HashMap<String, (Instant, Account, Option<String>)>>,
    cache_ttl: Duration,
}

impl Table {
    pub fn new(client: Client, name: impl Into<String>) -> Table {
        Table {
            client,
            name: name.into(),
            accounts: Mutex::new(HashMap::new()),
            cache_ttl: ACCOUNT_CACHE_TTL,
        }
    }

    /// Disable the account cache (admin tools and tests that change accounts).
    pub fn without_cache(mut self) -> Table {
        self.cache_ttl = Duration::ZERO;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(SERVICE, e))?;
        Ok(out.item)
    }

    /// Query one partition for sort keys starting with `prefix` (all pages).
    async fn query_prefix(&self, pk: String, prefix: &str) -> Result<Vec<Item>, PortError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.name)
                .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":prefix", s(prefix))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| port_error(SERVICE, e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    // ---------------------------------------------------------------- accounts

    /// The account `account_id`, validated; `None` when unknown. Its `webhook_secrets` hold
    /// the provider names only (no secret: those are sealed, see [`Table::get_account_sealed`]).
    /// Cached for 30 s per execution environment (one read per warm container per half-minute).
    pub async fn get_account(&self, account_id: &str) -> Result<Option<Account>, PortError> {
        Ok(self
            .get_account_sealed(account_id)
            .await?
            .map(|(account, _)| account))
    }

    /// The account and its webhook secrets as stored: sealed under the secrets KMS key
    /// ([`crate::ports::SecretsVault`]), to be opened by intake only.
    pub async fn get_account_sealed(
        &self,
        account_id: &str,
    ) -> Result<Option<(Account, Option<String>)>, PortError> {
        if !self.cache_ttl.is_zero() {
            let cache = self.accounts.lock().expect("account cache lock");
            if let Some((at, account, sealed)) = cache.get(account_id) {
                if at.elapsed() < self.cache_ttl {
                    return Ok(Some((account.clone(), sealed.clone())));
                }
            }
        }
        let Some(item) = self.get(account_pk(account_id), ACCOUNT_SK).await? else {
            return Ok(None);
        };
        let item: AccountItem = from_item(item)?;
        let mut account = Account::from_json(&item.settings).map_err(|e| {
            PortError::new(SERVICE, format!("account {account_id} is invalid: {e}"))
        })?;
        for provider in &item.secret_providers {
            account
                .webhook_secrets
                .insert(provider.clone(), Secrets::Many(Vec::new()));
        }
        if !self.cache_ttl.is_zero() {
            self.accounts.lock().expect("account cache lock").insert(
                account_id.to_string(),
                (
                    Instant::now(),
                    account.clone(),
                    item.webhook_secrets.clone(),
                ),
            );
        }
        Ok(Some((account, item.webhook_secrets)))
    }

    /// Create or replace an account (validated first). Its webhook secrets are not stored in
    /// `settings`: pass them sealed (`sealed_secrets`, from [`crate::ports::SecretsVault`]);
    /// only the provider names are kept in clear.
    pub async fn put_account(
        &self,
        account: &Account,
        sealed_secrets: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        account
            .validate()
            .map_err(|e| PortError::new(SERVICE, e.to_string()))?;
        let mut settings = account.clone();
        let secret_providers: Vec<String> = std::mem::take(&mut settings.webhook_secrets)
            .into_keys()
            .collect();
        let item = AccountItem {
            pk: account_pk(&account.account_id),
            sk: ACCOUNT_SK.into(),
            account_id: account.account_id.clone(),
            settings: serde_json::to_string(&settings).expect("account serializes"),
            secret_providers,
            webhook_secrets: sealed_secrets,
            updated_at: ts(now),
        };
        build(
            self.client
                .put_item()
                .table_name(&self.name)
                .set_item(Some(to_item(&item)?))
                .send()
                .await,
        )?;
        self.accounts
            .lock()
            .expect("account cache lock")
            .remove(&account.account_id);
        Ok(())
    }

    /// Validate `account`, seal its webhook secrets with `vault`, and store it: what
    /// `rappel-admin put-account` and the local stack do.
    pub async fn save_account<V: SecretsVault>(
        &self,
        vault: &V,
        account: &Account,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        account
            .validate()
            .map_err(|e| PortError::new(SERVICE, e.to_string()))?;
        let sealed = if account.webhook_secrets.is_empty() {
            None
        } else {
            let json = serde_json::to_string(&account.webhook_secrets).expect("secrets serialize");
            Some(vault.seal_secrets(&account.account_id, &json).await?)
        };
        self.put_account(account, sealed, now).await
    }

    /// Every account (a scan: for administration, not for the call path).
    pub async fn list_accounts(&self) -> Result<Vec<Account>, PortError> {
        let mut accounts = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.name)
                .filter_expression("SK = :sk")
                .expression_attribute_values(":sk", s(ACCOUNT_SK))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| port_error(SERVICE, e))?;
            for item in out.items.unwrap_or_default() {
                let item: AccountItem = from_item(item)?;
                let mut account = Account::from_json(&item.settings)
                    .map_err(|e| PortError::new(SERVICE, e.to_string()))?;
                for provider in item.secret_providers {
                    account
                        .webhook_secrets
                        .insert(provider, Secrets::Many(Vec::new()));
                }
                accounts.push(account);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        accounts.sort_by(|a, b| a.account_id.cmp(&b.account_id));
        Ok(accounts)
    }

    // ---------------------------------------------------------------- calls

    /// Store a call unless one with the same key exists (the provider's idempotency key).
    /// Returns `true` when stored, `false` on a redelivery (nothing changed).
    pub async fn put_call(&self, call: &CallItem) -> Result<bool, PortError> {
        self.put_if_absent(to_item(call)?).await
    }

    /// `PutItem` unless an item with the same key exists: `true` when written, `false` when
    /// the key was taken (the first write wins; nothing is changed).
    async fn put_if_absent(&self, item: Item) -> Result<bool, PortError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        Ok(unless_condition_failed(result)?.is_some())
    }

    /// Remember a call leg unless it is already known (first event wins).
    pub async fn put_leg(&self, leg: &LegItem) -> Result<(), PortError> {
        self.put_if_absent(to_item(leg)?).await.map(drop)
    }

    /// A remembered call leg, if any.
    pub async fn get_leg(
        &self,
        account_id: &str,
        provider: &str,
        key: &str,
    ) -> Result<Option<LegItem>, PortError> {
        self.get(account_pk(account_id), &leg_sk(provider, key))
            .await?
            .map(from_item)
            .transpose()
    }

    /// The calls of an account, oldest first by key (administration and the local stack).
    pub async fn calls(&self, account_id: &str) -> Result<Vec<CallItem>, PortError> {
        let mut calls: Vec<CallItem> = self
            .query_prefix(account_pk(account_id), CALL_PREFIX)
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        calls.sort_by(|a, b| a.received_at.cmp(&b.received_at).then(a.sk.cmp(&b.sk)));
        Ok(calls)
    }

    /// Record a final decision on a call that has none yet. `false` if it already had one.
    pub async fn record_decision(
        &self,
        call: &CallItem,
        outcome: Outcome,
        reason: Reason,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key(PK, s(&call.pk))
            .key(SK, s(&call.sk))
            .update_expression("SET outcome = :o, reason = :r, decided_at = :t")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(outcome)")
            .expression_attribute_values(":o", s(outcome.as_str()))
            .expression_attribute_values(":r", s(reason.as_str()))
            .expression_attribute_values(":t", s(ts(now)))
            .send()
            .await;
        Ok(unless_condition_failed(result)?.is_some())
    }

    // ---------------------------------------------------------------- outbox

    /// Schedule an SMS in one transaction: reserve the caller's day (rule 3), check the
    /// caller has not opted out (rule 6), write the message (on the due queue) and its link,
    /// and record the decision on the call. Any condition failing leaves nothing written.
    pub async fn schedule(
        &self,
        call: &CallItem,
        msg: &MessageItem,
        link: &LinkItem,
        reason: Reason,
        now: DateTime<Utc>,
    ) -> Result<(), ScheduleError> {
        let pk = account_pk(&msg.account_id);
        let day = DayItem {
            pk: pk.clone(),
            sk: msg.day_sk.clone(),
            message_id: msg.message_id.clone(),
            expires_at: msg.expires_at,
        };
        let items = vec![
            // 0: the day reservation
            put(&self.name, to_item(&day)?, Some("attribute_not_exists(PK)"))?,
            // 1: not opted out
            TransactWriteItem::builder()
                .condition_check(build(
                    ConditionCheck::builder()
                        .table_name(&self.name)
                        .key(PK, s(&pk))
                        .key(SK, s(optout_sk(&msg.caller_hash)))
                        .condition_expression("attribute_not_exists(PK)")
                        .build(),
                )?)
                .build(),
            // 2: the decision on the call
            TransactWriteItem::builder()
                .update(build(
                    Update::builder()
                        .table_name(&self.name)
                        .key(PK, s(&call.pk))
                        .key(SK, s(&call.sk))
                        .update_expression("SET outcome = :o, reason = :r, decided_at = :t, message_id = :m, due_at = :d")
                        .condition_expression("attribute_exists(PK) AND attribute_not_exists(outcome)")
                        .expression_attribute_values(":o", s(Outcome::Scheduled.as_str()))
                        .expression_attribute_values(":r", s(reason.as_str()))
                        .expression_attribute_values(":t", s(ts(now)))
                        .expression_attribute_values(":m", s(&msg.message_id))
                        .expression_attribute_values(":d", s(&msg.due_at))
                        .build(),
                )?)
                .build(),
            put(&self.name, to_item(msg)?, Some("attribute_not_exists(PK)"))?,
            put(&self.name, to_item(link)?, Some("attribute_not_exists(PK)"))?,
        ];
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(match failed_conditions(&e).as_deref() {
                Some([0, ..]) => ScheduleError::AlreadyTextedToday,
                Some([1, ..]) => ScheduleError::OptedOut,
                Some([2, ..]) => ScheduleError::AlreadyDecided,
                _ => ScheduleError::Port(port_error(SERVICE, e)),
            }),
        }
    }

    /// Cancel every scheduled message to caller `hash` of `account_id` (rule 5, opt-out):
    /// each message → `cancelled`, its day reservation freed, its call → `cancelled`/`reason`.
    /// Messages already claimed by the sender are left alone. Returns what was cancelled.
    pub async fn cancel_pending(
        &self,
        account_id: &str,
        hash: &str,
        reason: Reason,
        now: DateTime<Utc>,
    ) -> Result<Vec<Cancelled>, PortError> {
        self.cancel_pending_before(account_id, hash, reason, DateTime::<Utc>::MAX_UTC, now)
            .await
    }

    /// [`Table::cancel_pending`] for human contact at `contact_at` (UTC): only messages whose
    /// call happened before that contact are cancelled (rule 5). A late-delivered answered call
    /// from earlier in the day does not cancel the SMS of a missed call that came after it.
    pub async fn cancel_pending_before(
        &self,
        account_id: &str,
        hash: &str,
        reason: Reason,
        contact_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Cancelled>, PortError> {
        let pk = account_pk(account_id);
        let mut cancelled = Vec::new();
        for day in self.query_prefix(pk.clone(), &day_prefix(hash)).await? {
            let day: DayItem = from_item(day)?;
            let Some(msg) = self.get(pk.clone(), &msg_sk(&day.message_id)).await? else {
                continue;
            };
            let msg: MessageItem = from_item(msg)?;
            if msg.status != MessageStatus::Scheduled {
                continue;
            }
            let call_happened_at = msg
                .call_happened_at
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            if call_happened_at.is_some_and(|at| at > contact_at) {
                continue;
            }
            let items = vec![
                TransactWriteItem::builder()
                    .update(build(
                        Update::builder()
                            .table_name(&self.name)
                            .key(PK, s(&pk))
                            .key(SK, s(&msg.sk))
                            .update_expression(
                                "SET #st = :cancelled, reason = :r REMOVE GSI1PK, GSI1SK",
                            )
                            .condition_expression("#st = :scheduled")
                            .expression_attribute_names("#st", "status")
                            .expression_attribute_values(
                                ":cancelled",
                                s(MessageStatus::Cancelled.as_str()),
                            )
                            .expression_attribute_values(
                                ":scheduled",
                                s(MessageStatus::Scheduled.as_str()),
                            )
                            .expression_attribute_values(":r", s(reason.as_str()))
                            .build(),
                    )?)
                    .build(),
                delete(&self.name, &pk, &msg.day_sk)?,
                set_call_outcome(
                    &self.name,
                    &pk,
                    &msg.call_sk,
                    Outcome::Cancelled,
                    reason,
                    now,
                    None,
                )?,
            ];
            match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
            {
                Ok(_) => cancelled.push(Cancelled {
                    message_id: msg.message_id,
                    call_sk: msg.call_sk,
                }),
                // Claimed by the sender in the meantime: too late to cancel.
                Err(e) if failed_conditions(&e).is_some() => {}
                Err(e) => return Err(port_error(SERVICE, e)),
            }
        }
        Ok(cancelled)
    }

    /// Message ids on the due queue of `shard` whose due instant is at or before `now`.
    pub async fn due(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        limit: i32,
    ) -> Result<Vec<(String, String)>, PortError> {
        self.gsi_before(due_pk(shard), now, limit).await
    }

    /// Messages claimed (status `sending`) before `before` in `shard`: a sender died between
    /// claim and record.
    pub async fn stale_sending(
        &self,
        shard: u32,
        before: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, PortError> {
        self.gsi_before(sending_pk(shard), before, 100).await
    }

    /// `(account_id, message_id)` pairs from GSI1 partition `gsi1pk` with GSI1SK ≤ `at`.
    async fn gsi_before(
        &self,
        gsi1pk: String,
        at: DateTime<Utc>,
        limit: i32,
    ) -> Result<Vec<(String, String)>, PortError> {
        let out = self
            .client
            .query()
            .table_name(&self.name)
            .index_name(GSI1)
            .key_condition_expression("GSI1PK = :pk AND GSI1SK <= :upto")
            .expression_attribute_values(":pk", s(gsi1pk))
            // '~' sorts after every message id character: includes all entries at `at`.
            .expression_attribute_values(":upto", s(format!("{}~", ts(at))))
            .limit(limit)
            .send()
            .await
            .map_err(|e| port_error(SERVICE, e))?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(|item| {
                let msg: MessageItem = from_item(item)?;
                Ok((msg.account_id, msg.message_id))
            })
            .collect()
    }

    /// Claim a scheduled message that is due at `now`: status → `sending`, moved from the due
    /// queue to the in-flight index. `None` if it is not (or no longer) scheduled and due:
    /// another sender has it, or it was cancelled. Exactly one claimer ever wins.
    pub async fn claim(
        &self,
        account_id: &str,
        message_id: &str,
        shards: u32,
        now: DateTime<Utc>,
    ) -> Result<Option<MessageItem>, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key(PK, s(account_pk(account_id)))
            .key(SK, s(msg_sk(message_id)))
            .update_expression(
                "SET #st = :sending, GSI1PK = :gpk, GSI1SK = :gsk, claimed_at = :now",
            )
            .condition_expression("#st = :scheduled AND due_at <= :now")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":sending", s(MessageStatus::Sending.as_str()))
            .expression_attribute_values(":scheduled", s(MessageStatus::Scheduled.as_str()))
            .expression_attribute_values(":gpk", s(sending_pk(shard_of(message_id, shards))))
            .expression_attribute_values(":gsk", s(due_sk(now, message_id)))
            .expression_attribute_values(":now", s(ts(now)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        unless_condition_failed(result)?
            .map(|out| from_item(out.attributes.unwrap_or_default()))
            .transpose()
    }

    /// Record the end of a claimed message and of its call, atomically: `Sent` (with the SNS
    /// id), or `Cancelled`/`Expired`/`Failed` with `reason`. Cancelled and expired messages
    /// free their day reservation (rule 3). `shred` removes the sealed number from both.
    pub async fn finish(
        &self,
        msg: &MessageItem,
        end: Finish<'_>,
        now: DateTime<Utc>,
        shred: bool,
    ) -> Result<(), PortError> {
        let pk = account_pk(&msg.account_id);
        let (status, outcome) = match end {
            Finish::Sent { .. } => (MessageStatus::Sent, Outcome::Sent),
            Finish::Cancelled(_) => (MessageStatus::Cancelled, Outcome::Cancelled),
            Finish::Expired(_) => (MessageStatus::Expired, Outcome::Expired),
            Finish::Failed(_) => (MessageStatus::Failed, Outcome::Failed),
        };
        let reason = match end {
            Finish::Sent { reason, .. }
            | Finish::Cancelled(reason)
            | Finish::Expired(reason)
            | Finish::Failed(reason) => reason,
        };
        let mut set = String::from("SET #st = :st, reason = :r, finished_at = :now");
        let mut update = Update::builder()
            .table_name(&self.name)
            .key(PK, s(&pk))
            .key(SK, s(&msg.sk))
            .condition_expression("#st = :sending")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":st", s(status.as_str()))
            .expression_attribute_values(":sending", s(MessageStatus::Sending.as_str()))
            .expression_attribute_values(":r", s(reason.as_str()))
            .expression_attribute_values(":now", s(ts(now)));
        let sent_at = if let Finish::Sent { sns_message_id, .. } = end {
            set.push_str(", sent_at = :now, sns_message_id = :sns");
            update = update.expression_attribute_values(":sns", s(sns_message_id));
            Some(now)
        } else {
            None
        };
        let remove = if shred && sent_at.is_some() {
            " REMOVE GSI1PK, GSI1SK, #num"
        } else {
            " REMOVE GSI1PK, GSI1SK"
        };
        if shred && sent_at.is_some() {
            update = update.expression_attribute_names("#num", "number");
        }
        update = update.update_expression(format!("{set}{remove}"));
        let mut items = vec![
            TransactWriteItem::builder()
                .update(build(update.build())?)
                .build(),
            set_call_outcome(
                &self.name,
                &pk,
                &msg.call_sk,
                outcome,
                reason,
                now,
                sent_at.map(|t| (t, shred)),
            )?,
        ];
        // Nothing left: the day is not used up (a message that may have left keeps it).
        let unsent = matches!(
            end,
            Finish::Cancelled(_)
                | Finish::Expired(_)
                | Finish::Failed(Reason::ProviderError | Reason::NumberUnavailable)
        );
        if unsent {
            items.push(delete(&self.name, &pk, &msg.day_sk)?);
        }
        build(
            self.client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await,
        )?;
        Ok(())
    }

    /// Put a claimed message back on the due queue at `due_at` (UTC), and show the new due
    /// instant on its call: used when the sender finds it outside the recipient's sending
    /// window (rule 4 re-checked at send time). Conditional on the message still being claimed.
    pub async fn reschedule(
        &self,
        msg: &MessageItem,
        due_at: DateTime<Utc>,
        shards: u32,
    ) -> Result<(), PortError> {
        let pk = account_pk(&msg.account_id);
        let update_msg = build(
            Update::builder()
                .table_name(&self.name)
                .key(PK, s(&pk))
                .key(SK, s(&msg.sk))
                .update_expression(
                    "SET #st = :scheduled, due_at = :due, GSI1PK = :gpk, GSI1SK = :gsk",
                )
                .condition_expression("#st = :sending")
                .expression_attribute_names("#st", "status")
                .expression_attribute_values(":scheduled", s(MessageStatus::Scheduled.as_str()))
                .expression_attribute_values(":sending", s(MessageStatus::Sending.as_str()))
                .expression_attribute_values(":due", s(ts(due_at)))
                .expression_attribute_values(":gpk", s(due_pk(shard_of(&msg.message_id, shards))))
                .expression_attribute_values(":gsk", s(due_sk(due_at, &msg.message_id)))
                .build(),
        )?;
        let update_call = build(
            Update::builder()
                .table_name(&self.name)
                .key(PK, s(&pk))
                .key(SK, s(&msg.call_sk))
                .update_expression("SET due_at = :due")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_values(":due", s(ts(due_at)))
                .build(),
        )?;
        let items = vec![
            TransactWriteItem::builder().update(update_msg).build(),
            TransactWriteItem::builder().update(update_call).build(),
        ];
        build(
            self.client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await,
        )?;
        Ok(())
    }

    /// Whether caller `hash` opted out of `account_id`.
    pub async fn is_opted_out(&self, account_id: &str, hash: &str) -> Result<bool, PortError> {
        Ok(self
            .get(account_pk(account_id), &optout_sk(hash))
            .await?
            .is_some())
    }

    /// Record an opt-out (idempotent: the first one is kept).
    pub async fn put_opt_out(
        &self,
        account_id: &str,
        hash: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let item = OptOutItem {
            pk: account_pk(account_id),
            sk: optout_sk(hash),
            caller_hash: hash.to_string(),
            source: source.to_string(),
            opted_out_at: ts(now),
        };
        self.put_if_absent(to_item(&item)?).await.map(drop)
    }

    // ---------------------------------------------------------------- links and bookings

    /// The booking link `token`, if it exists.
    pub async fn get_link(&self, token: &str) -> Result<Option<LinkItem>, PortError> {
        self.get(link_pk(token), LINK_SK)
            .await?
            .map(from_item)
            .transpose()
    }

    /// The message `message_id` of `account_id`.
    pub async fn get_message(
        &self,
        account_id: &str,
        message_id: &str,
    ) -> Result<Option<MessageItem>, PortError> {
        self.get(account_pk(account_id), &msg_sk(message_id))
            .await?
            .map(from_item)
            .transpose()
    }

    /// Book on link `token` unless it already has a booking; returns the booking that holds
    /// (the new one, or the earlier one on a resubmission).
    pub async fn book(&self, token: &str, booking: &Booking) -> Result<Booking, PortError> {
        let value = serde_dynamo::to_attribute_value::<_, AttributeValue>(booking)
            .map_err(|e| PortError::new(SERVICE, format!("serialize: {e}")))?;
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key(PK, s(link_pk(token)))
            .key(SK, s(LINK_SK))
            .update_expression("SET booking = :b")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(booking)")
            .expression_attribute_values(":b", value)
            .send()
            .await;
        match unless_condition_failed(result)? {
            Some(_) => Ok(booking.clone()),
            None => self
                .get_link(token)
                .await?
                .and_then(|l| l.booking)
                .ok_or_else(|| PortError::new(SERVICE, "link vanished while booking")),
        }
    }

    /// Remove booking `booking_id` from link `token` (no other booking is touched).
    pub async fn unbook(&self, token: &str, booking_id: &str) -> Result<(), PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key(PK, s(link_pk(token)))
            .key(SK, s(LINK_SK))
            .update_expression("REMOVE booking")
            .condition_expression("booking.booking_id = :id")
            .expression_attribute_values(":id", s(booking_id))
            .send()
            .await;
        unless_condition_failed(result).map(drop)
    }

    /// Mark link `token` as used to opt out (first instant kept).
    pub async fn mark_link_opted_out(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        build(
            self.client
                .update_item()
                .table_name(&self.name)
                .key(PK, s(link_pk(token)))
                .key(SK, s(LINK_SK))
                .update_expression("SET opted_out_at = if_not_exists(opted_out_at, :t)")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_values(":t", s(ts(now)))
                .send()
                .await,
        )?;
        Ok(())
    }
}

/// How a claimed message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish<'a> {
    Sent {
        sns_message_id: &'a str,
        reason: Reason,
    },
    Cancelled(Reason),
    Expired(Reason),
    Failed(Reason),
}

fn put(table: &str, item: Item, condition: Option<&str>) -> Result<TransactWriteItem, PortError> {
    let put = build(
        Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_string))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn delete(table: &str, pk: &str, sk: &str) -> Result<TransactWriteItem, PortError> {
    let delete = build(
        Delete::builder()
            .table_name(table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// Update a call's outcome after its message moved on (sent, cancelled, ...). `sent` carries
/// the send instant and whether to shred the sealed number.
fn set_call_outcome(
    table: &str,
    pk: &str,
    call_sk: &str,
    outcome: Outcome,
    reason: Reason,
    now: DateTime<Utc>,
    sent: Option<(DateTime<Utc>, bool)>,
) -> Result<TransactWriteItem, PortError> {
    let mut expression = String::from("SET outcome = :o, reason = :r, decided_at = :t");
    let mut update = Update::builder()
        .table_name(table)
        .key(PK, s(pk))
        .key(SK, s(call_sk))
        .condition_expression("attribute_exists(PK)")
        .expression_attribute_values(":o", s(outcome.as_str()))
        .expression_attribute_values(":r", s(reason.as_str()))
        .expression_attribute_values(":t", s(ts(now)));
    if let Some((sent_at, shred)) = sent {
        expression.push_str(", sent_at = :sent");
        update = update.expression_attribute_values(":sent", s(ts(sent_at)));
        if shred {
            expression.push_str(" REMOVE #num");
            update = update.expression_attribute_names("#num", "number");
        }
    }
    let update = build(update.update_expression(expression).build())?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// `Some(output)`, or `None` when the write's condition failed (the item was not in the
/// expected state: someone else got there first); any other error is a [`PortError`].
fn unless_condition_failed<T, E, R>(
    result: Result<T, SdkError<E, R>>,
) -> Result<Option<T>, PortError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(out) => Ok(Some(out)),
        Err(e)
            if e.as_service_error().and_then(ProvideErrorMetadata::code)
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(None)
        }
        Err(e) => Err(port_error(SERVICE, e)),
    }
}

/// Indexes of the transaction items whose condition failed, when the transaction was
/// cancelled for conditions only; `None` for any other error.
fn failed_conditions<R>(err: &SdkError<TransactWriteItemsError, R>) -> Option<Vec<usize>> {
    let TransactWriteItemsError::TransactionCanceledException(cancel) = err.as_service_error()?
    else {
        return None;
    };
    let failed: Vec<usize> = cancel
        .cancellation_reasons()
        .iter()
        .enumerate()
        .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
        .map(|(i, _)| i)
        .collect();
    (!failed.is_empty()).then_some(failed)
}
