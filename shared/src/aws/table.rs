//! The DynamoDB table: every read and conditional write Rappel makes.
//!
//! Each write that must not happen twice is conditional; multi-item changes are one
//! `TransactWriteItems`, so nothing is ever half-written.

use super::{port_error, sdk_error};
use crate::account::{Account, Secrets};
use crate::items::*;
use crate::ports::{Applied, NumberProtector, PortError, SecretsVault};
use crate::rules::{Outcome, Reason};
use crate::store::{
    AccountStore, BookOutcome, CallStore, CallerState, Cancelled, Contact, DailyCap, DecisionStore,
    DuePage, Finish, Outbox, QueueEntry, ScheduleError,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
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

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) const SERVICE: &str = "dynamodb";

/// How long an account read is reused inside one execution environment, by default.
const ACCOUNT_CACHE_TTL: Duration = Duration::from_secs(30);

/// `ACCOUNT_CACHE_SECONDS` (0–300; 0 reads the account on every use), `None` when unset or out
/// of range: how long a function reuses an account it read. A changed account (settings,
/// secrets) reaches every warm function within that time.
pub fn account_cache_from_env() -> Option<Duration> {
    std::env::var("ACCOUNT_CACHE_SECONDS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|secs| *secs <= 300)
        .map(Duration::from_secs)
}

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn to_item<T: Serialize>(value: &T) -> Result<Item, PortError> {
    serde_dynamo::to_item(value).map_err(|e| PortError::new(SERVICE, format!("serialize: {e}")))
}

/// Read an item as `T`; an item this code cannot read is [`PortError::unreadable`], named by
/// its keys (never by its values).
pub(super) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, PortError> {
    let key = item_key(&item);
    serde_dynamo::from_item(item).map_err(|e| PortError::unreadable(SERVICE, &key, e))
}

/// `PK/SK` of an item, for logs.
fn item_key(item: &Item) -> String {
    let get = |name: &str| match item.get(name) {
        Some(AttributeValue::S(v)) => v.as_str(),
        _ => "?",
    };
    format!("{}/{}", get(PK), get(SK))
}

/// A string attribute of an item.
fn attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    }
}

/// A due-queue or in-flight entry: the message's keys, or the key of an item this code
/// cannot read as a message (skipped before it is claimed: GSI1 projects whole items).
fn queue_entry(item: &Item) -> QueueEntry {
    match serde_dynamo::from_item::<_, MessageItem>(item.clone()) {
        Ok(msg) => Ok((msg.account_id, msg.message_id)),
        Err(_) => Err(item_key(item)),
    }
}

/// The result of a sent request, its error classified by [`sdk_error`].
pub(super) fn sent<T, E>(r: Result<T, SdkError<E, HttpResponse>>) -> Result<T, PortError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    r.map_err(|e| sdk_error(SERVICE, e))
}

pub(super) fn build<T, E: std::error::Error>(r: Result<T, E>) -> Result<T, PortError> {
    r.map_err(|e| port_error(SERVICE, e))
}

/// `list` with every number replaced by its keyed hash in `account` (`hash:…`), sorted and
/// without duplicates; entries already hashed are kept.
async fn hashed<K: NumberProtector>(
    keys: &K,
    account: &Account,
    list: &[String],
) -> Result<Vec<String>, PortError> {
    let mut out = Vec::with_capacity(list.len());
    for (index, entry) in list.iter().enumerate() {
        if crate::account::is_hash_entry(entry) {
            out.push(entry.clone());
            continue;
        }
        let crate::phone::Caller::Number { e164, .. } = crate::phone::classify(entry, "FR") else {
            return Err(PortError::new(
                SERVICE,
                format!("listed number {index} is not a phone number"),
            ));
        };
        out.push(format!(
            "{}{}",
            crate::account::HASH_PREFIX,
            keys.hash(account, &e164).await?
        ));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The Rappel table.
#[derive(Debug)]
pub struct Table {
    pub(super) client: Client,
    pub(super) name: String,
    accounts: Mutex<HashMap<String, (Instant, Account, Option<String>)>>,
    cache_ttl: Duration,
    /// Wrapped caller-hash keys by account, `None` for an account without one.
    hash_keys: Mutex<HashMap<String, Option<String>>>,
}

impl Table {
    pub fn new(client: Client, name: impl Into<String>) -> Table {
        Table {
            client,
            name: name.into(),
            accounts: Mutex::new(HashMap::new()),
            cache_ttl: ACCOUNT_CACHE_TTL,
            hash_keys: Mutex::new(HashMap::new()),
        }
    }

    /// Open the connection to DynamoDB at cold start ([`super::warm_up`]): a `GetItem` of a
    /// key no item has (`WARM-UP`), projected on its key: half a read unit, nothing read.
    pub async fn warm_up(&self) -> Result<(), PortError> {
        self.client
            .get_item()
            .table_name(&self.name)
            .key("PK", AttributeValue::S("WARM-UP".into()))
            .key("SK", AttributeValue::S("WARM-UP".into()))
            .projection_expression("PK")
            .send()
            .await
            .map(drop)
            .map_err(|e| sdk_error("dynamodb", e))
    }

    /// Disable the account cache (admin tools and tests that change accounts).
    pub fn without_cache(mut self) -> Table {
        self.cache_ttl = Duration::ZERO;
        self
    }

    /// Reuse an account read for `ttl` (zero: no cache); 30 s by default.
    pub fn with_account_cache(mut self, ttl: Duration) -> Table {
        self.cache_ttl = ttl;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub(super) async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, e))?;
        Ok(out.item)
    }

    /// Query one partition for sort keys starting with `prefix` (all pages).
    pub(super) async fn query_prefix(
        &self,
        pk: String,
        prefix: &str,
    ) -> Result<Vec<Item>, PortError> {
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
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error(SERVICE, e))?;
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
        let mut account = Account::from_stored_json(&item.settings).map_err(|e| {
            PortError::unreadable(
                SERVICE,
                &format!("{}/{ACCOUNT_SK}", account_pk(account_id)),
                e,
            )
        })?;
        for provider in &item.secret_providers {
            account
                .webhook_secrets
                .insert(provider.clone(), Secrets::Many(Vec::new()));
        }
        account.caller_hash_key = self.caller_hash_key(account_id).await?;
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

    /// The wrapped caller-hash key of `account_id` (its `HASHKEY` item), `None` for an account
    /// created before per-account keys. Read once per container and account: the key never
    /// changes, and an account that has none never gets one.
    pub async fn caller_hash_key(&self, account_id: &str) -> Result<Option<String>, PortError> {
        if let Some(known) = self
            .hash_keys
            .lock()
            .expect("hash key cache lock")
            .get(account_id)
        {
            return Ok(known.clone());
        }
        let wrapped = self
            .get(account_pk(account_id), HASH_KEY_SK)
            .await?
            .map(from_item::<HashKeyItem>)
            .transpose()?
            .map(|item| item.wrapped);
        self.hash_keys
            .lock()
            .expect("hash key cache lock")
            .insert(account_id.to_string(), wrapped.clone());
        Ok(wrapped)
    }

    /// Create or replace an account (validated first). Its webhook secrets are not stored in
    /// `settings`: pass them sealed (`sealed_secrets`, from [`crate::ports::SecretsVault`]);
    /// only the provider names are kept in clear.
    ///
    /// The caller-hash key is written with a new account (its `HASHKEY` item, when
    /// `account.caller_hash_key` is set; without one the account hashes with `GenerateMac`) in
    /// the same transaction, both only if absent, and never again. Replacing an account
    /// requires `account.caller_hash_key` to be the stored key ([`Table::get_account`] returns
    /// it): lists hashed under another key, or a creation that lost a race, are refused with
    /// nothing written. `internal_numbers` / `blocked_numbers` must already be hashes
    /// ([`Table::save_account`] hashes them): a number in clear is refused.
    pub async fn put_account(
        &self,
        account: &Account,
        sealed_secrets: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        account
            .validate()
            .map_err(|e| PortError::new(SERVICE, e.to_string()))?;
        if account
            .internal_numbers
            .iter()
            .chain(&account.blocked_numbers)
            .any(|entry| !crate::account::is_hash_entry(entry))
        {
            return Err(PortError::new(
                SERVICE,
                "internal_numbers and blocked_numbers must be stored as hashes (save_account hashes them)",
            )
            .applied(Applied::Refused));
        }
        let old = self.stored_account(&account.account_id).await?;
        if old.is_some() {
            let stored_key = self.caller_hash_key(&account.account_id).await?;
            if stored_key != account.caller_hash_key {
                return Err(PortError::new(
                    SERVICE,
                    format!(
                        "account {} has another caller-hash key than the one given: read it again (get_account) and retry",
                        account.account_id
                    ),
                )
                .applied(Applied::Refused));
            }
        }
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
        // The short code it sent from before (its reply index moves with it).
        let old_code = old
            .as_ref()
            .and_then(|old| serde_json::from_str::<serde_json::Value>(&old.settings).ok())
            .and_then(|v| v["short_code"].as_str().map(str::to_string));
        let creating = old.is_none();
        // The account and its short-code index change together: a STOP reply never finds an
        // account that says "STOP au <code>" missing from the index. A new account and its
        // key are created together, each only if absent.
        let mut writes = vec![put(
            &self.name,
            to_item(&item)?,
            creating.then_some("attribute_not_exists(PK)"),
        )?];
        if let (true, Some(wrapped)) = (creating, &account.caller_hash_key) {
            let key = HashKeyItem {
                pk: account_pk(&account.account_id),
                sk: HASH_KEY_SK.into(),
                wrapped: wrapped.clone(),
                created_at: ts(now),
            };
            writes.push(put(
                &self.name,
                to_item(&key)?,
                Some("attribute_not_exists(PK)"),
            )?);
        }
        writes.extend(self.short_code_writes(
            &account.account_id,
            old_code.as_deref(),
            account.short_code.as_deref(),
        )?);
        self.client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await
            .map_err(|e| {
                if creating && failed_conditions(&e).is_some() {
                    PortError::new(
                        SERVICE,
                        format!(
                            "account {} was created by someone else meanwhile; read it again and retry",
                            account.account_id
                        ),
                    )
                    .applied(Applied::Refused)
                } else {
                    transact_error(e)
                }
            })?;
        self.accounts
            .lock()
            .expect("account cache lock")
            .remove(&account.account_id);
        if creating {
            self.hash_keys
                .lock()
                .expect("hash key cache lock")
                .remove(&account.account_id);
        }
        Ok(())
    }

    /// The account item as stored (no cache).
    async fn stored_account(&self, account_id: &str) -> Result<Option<AccountItem>, PortError> {
        self.get(account_pk(account_id), ACCOUNT_SK)
            .await?
            .map(from_item::<AccountItem>)
            .transpose()
    }

    /// Validate `account`, seal its webhook secrets with `vault`, give a new account its
    /// caller-hash key ([`SecretsVault::new_caller_hash_key`]; an existing one keeps its own,
    /// or its lack of one), replace the numbers of `internal_numbers` and `blocked_numbers` by
    /// their keyed hashes (`hash:…`, under that key), and store it: what
    /// `rappel-admin account put` and the local stack do. No listed number is stored, logged
    /// or echoed in an error. Two creations of one account at once: one wins, the other gets
    /// an error and writes nothing.
    pub async fn save_account<V: SecretsVault + NumberProtector>(
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
        let mut account = account.clone();
        account.caller_hash_key = if self.stored_account(&account.account_id).await?.is_some() {
            self.hash_keys
                .lock()
                .expect("hash key cache lock")
                .remove(&account.account_id);
            self.caller_hash_key(&account.account_id).await?
        } else {
            Some(vault.new_caller_hash_key(&account.account_id).await?)
        };
        account.internal_numbers = hashed(vault, &account, &account.internal_numbers).await?;
        account.blocked_numbers = hashed(vault, &account, &account.blocked_numbers).await?;
        self.put_account(&account, sealed, now).await
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
                .map_err(|e| sdk_error(SERVICE, e))?;
            for item in out.items.unwrap_or_default() {
                let item: AccountItem = from_item(item)?;
                let mut account = Account::from_stored_json(&item.settings)
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
    pub(super) async fn put_if_absent(&self, item: Item) -> Result<bool, PortError> {
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
    /// (An expired leg DynamoDB has not deleted yet is replaced: it is no longer ours to use.)
    pub async fn put_leg(&self, leg: &LegItem) -> Result<(), PortError> {
        let now = DateTime::parse_from_rfc3339(&leg.received_at).map_or(0, |t| t.timestamp());
        let result = self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(to_item(leg)?))
            .condition_expression("attribute_not_exists(PK) OR expires_at <= :now")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        unless_condition_failed(result).map(drop)
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

    /// The outbox messages of an account (administration: `rappel-admin stuck`). Items that
    /// cannot be read are returned as their key.
    pub async fn messages(
        &self,
        account_id: &str,
    ) -> Result<Vec<Result<MessageItem, String>>, PortError> {
        Ok(self
            .query_prefix(account_pk(account_id), MSG_PREFIX)
            .await?
            .into_iter()
            .map(|item| {
                let key = item_key(&item);
                serde_dynamo::from_item(item).map_err(|_| key)
            })
            .collect())
    }

    /// Record a final decision on a call that has none yet, taking it off the undecided
    /// index. `false` if it already had one.
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
            // Decided: the call's sealed number has served (a scheduled message holds its own).
            .update_expression(
                "SET outcome = :o, reason = :r, decided_at = :t REMOVE GSI1PK, GSI1SK, #num",
            )
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(outcome)")
            .expression_attribute_names("#num", "number")
            .expression_attribute_values(":o", s(outcome.as_str()))
            .expression_attribute_values(":r", s(reason.as_str()))
            .expression_attribute_values(":t", s(ts(now)))
            .send()
            .await;
        Ok(unless_condition_failed(result)?.is_some())
    }

    // ---------------------------------------------------------------- outbox

    /// See [`DecisionStore::schedule`]: one `TransactWriteItems` of day reservation, opt-out
    /// check, last-contact check, daily cap counter, decision on the call, message and link.
    pub async fn schedule(
        &self,
        call: &CallItem,
        msg: &MessageItem,
        link: &LinkItem,
        reason: Reason,
        cap: &DailyCap,
        now: DateTime<Utc>,
    ) -> Result<(), ScheduleError> {
        let pk = account_pk(&msg.account_id);
        let day = DayItem::new(&pk, &msg.day_sk, &msg.message_id, msg.expires_at);
        let condition_check = |sk: String, condition: &str, values: Vec<(&str, AttributeValue)>| {
            let mut check = ConditionCheck::builder()
                .table_name(&self.name)
                .key(PK, s(&pk))
                .key(SK, s(sk))
                .condition_expression(condition);
            for (name, value) in values {
                check = check.expression_attribute_values(name, value);
            }
            Ok::<_, PortError>(
                TransactWriteItem::builder()
                    .condition_check(build(check.build())?)
                    .build(),
            )
        };
        let cap_expires = cap_expiry(cap);
        let items = vec![
            // 0: the day reservation
            put(&self.name, to_item(&day)?, Some("attribute_not_exists(PK)"))?,
            // 1: not opted out
            condition_check(optout_sk(&msg.caller_hash), "attribute_not_exists(PK)", vec![])?,
            // 2: the decision on the call (taken off the undecided index)
            TransactWriteItem::builder()
                .update(build(
                    Update::builder()
                        .table_name(&self.name)
                        .key(PK, s(&call.pk))
                        .key(SK, s(&call.sk))
                        // The message holds the sealed number the sender needs: the call's copy goes.
                        .update_expression("SET outcome = :o, reason = :r, decided_at = :t, message_id = :m, due_at = :d REMOVE GSI1PK, GSI1SK, #num")
                        .condition_expression("attribute_exists(PK) AND attribute_not_exists(outcome)")
                        .expression_attribute_names("#num", "number")
                        .expression_attribute_values(":o", s(Outcome::Scheduled.as_str()))
                        .expression_attribute_values(":r", s(reason.as_str()))
                        .expression_attribute_values(":t", s(ts(now)))
                        .expression_attribute_values(":m", s(&msg.message_id))
                        .expression_attribute_values(":d", s(&msg.due_at))
                        .build(),
                )?)
                .build(),
            // 3: no human contact since the call (rule 5, whatever order webhooks arrive in)
            condition_check(
                contact_sk(&msg.caller_hash),
                "attribute_not_exists(PK) OR last_contact_at < :happened",
                vec![(":happened", s(&call.happened_at))],
            )?,
            // 4: the account's daily cap
            TransactWriteItem::builder()
                .update(build(
                    Update::builder()
                        .table_name(&self.name)
                        .key(PK, s(&pk))
                        .key(SK, s(cap_sk(cap.day)))
                        .update_expression("ADD #count :one SET expires_at = if_not_exists(expires_at, :exp)")
                        .condition_expression("attribute_not_exists(#count) OR #count < :cap")
                        .expression_attribute_names("#count", "count")
                        .expression_attribute_values(":one", AttributeValue::N("1".into()))
                        .expression_attribute_values(":cap", AttributeValue::N(cap.limit.to_string()))
                        .expression_attribute_values(":exp", AttributeValue::N(cap_expires.to_string()))
                        .build(),
                )?)
                .build(),
            put(&self.name, to_item(msg)?, Some("attribute_not_exists(PK)"))?,
            put(&self.name, to_item(link)?, Some("attribute_not_exists(PK)"))?,
            // 7: the opt-out link, kept after the booking link expires
            put(&self.name, to_item(&OptOutLinkItem::beside(link, msg.due_instant()))?, None)?,
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
                // A call already decided first: a retried record must not read as a refusal.
                Some(failed) if failed.contains(&2) => ScheduleError::AlreadyDecided,
                Some([0, ..]) => ScheduleError::AlreadyTextedToday,
                Some([1, ..]) => ScheduleError::OptedOut,
                Some([3, ..]) => ScheduleError::HumanContact,
                Some([4, ..]) => ScheduleError::DailyCap,
                _ => ScheduleError::Port(transact_error(e)),
            }),
        }
    }

    /// See [`DecisionStore::record_contact`].
    pub async fn record_contact(
        &self,
        account_id: &str,
        hash: &str,
        contact: &Contact,
    ) -> Result<(), PortError> {
        let expires_at = (contact.at + chrono::Duration::days(CONTACT_RETENTION_DAYS)).timestamp();
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key(PK, s(account_pk(account_id)))
            .key(SK, s(contact_sk(hash)))
            .update_expression("SET last_contact_at = :t, reason = :r, expires_at = :e")
            .condition_expression("attribute_not_exists(last_contact_at) OR last_contact_at < :t")
            .expression_attribute_values(":t", s(ts(contact.at)))
            .expression_attribute_values(":r", s(contact.reason.as_str()))
            .expression_attribute_values(":e", AttributeValue::N(expires_at.to_string()))
            .send()
            .await;
        // A condition failure means a later contact is already recorded: nothing to do.
        unless_condition_failed(result).map(drop)
    }

    /// See [`DecisionStore::last_contact`].
    pub async fn last_contact(
        &self,
        account_id: &str,
        hash: &str,
    ) -> Result<Option<Contact>, PortError> {
        let Some(item) = self.get(account_pk(account_id), &contact_sk(hash)).await? else {
            return Ok(None);
        };
        let item: ContactItem = from_item(item)?;
        let at = DateTime::parse_from_rfc3339(&item.last_contact_at)
            .map_err(|e| PortError::unreadable(SERVICE, &item.sk, e))?
            .with_timezone(&Utc);
        Ok(Some(Contact {
            at,
            reason: item.reason,
        }))
    }

    /// See [`DecisionStore::undecided`].
    pub async fn undecided(
        &self,
        shard: u32,
        before: DateTime<Utc>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Result<CallItem, String>>, Option<String>), PortError> {
        let (items, next) = self
            .gsi_page(undecided_pk(shard), before, after, limit)
            .await?;
        let entries = items
            .into_iter()
            .map(|item| {
                let key = item_key(&item);
                serde_dynamo::from_item(item).map_err(|_| key)
            })
            .collect();
        Ok((entries, next))
    }

    /// See [`DecisionStore::promote_pending`].
    pub async fn promote_pending(
        &self,
        pending: &CallItem,
        shards: u32,
    ) -> Result<CallItem, PortError> {
        let call = call_from_pending(pending, shards);
        self.put_if_absent(to_item(&call)?).await?;
        self.delete_pending(&pending.account_id, &pending.sk)
            .await?;
        Ok(call)
    }

    /// See [`CallStore::put_pending`].
    pub async fn put_pending(&self, pending: &CallItem) -> Result<(), PortError> {
        self.put_if_absent(to_item(pending)?).await.map(drop)
    }

    /// See [`CallStore::get_pending`].
    pub async fn get_pending(
        &self,
        account_id: &str,
        provider: &str,
        key: &str,
    ) -> Result<Option<CallItem>, PortError> {
        self.get(account_pk(account_id), &pending_sk(provider, key))
            .await?
            .map(from_item)
            .transpose()
    }

    /// See [`CallStore::delete_pending`].
    pub async fn delete_pending(
        &self,
        account_id: &str,
        pending_sk: &str,
    ) -> Result<(), PortError> {
        sent(
            self.client
                .delete_item()
                .table_name(&self.name)
                .key(PK, s(account_pk(account_id)))
                .key(SK, s(pending_sk))
                .send()
                .await,
        )
        .map(drop)
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
            // Conditional on the message as read: still scheduled, still holding that day
            // (a reschedule in between moved it: the next human contact finds the new one).
            let cancel_msg = TransactWriteItem::builder()
                .update(build(
                    Update::builder()
                        .table_name(&self.name)
                        .key(PK, s(&pk))
                        .key(SK, s(&msg.sk))
                        // Never sent: its sealed number has no use left.
                        .update_expression(
                            "SET #st = :cancelled, reason = :r REMOVE GSI1PK, GSI1SK, #num",
                        )
                        .condition_expression("#st = :scheduled AND day_sk = :day")
                        .expression_attribute_names("#st", "status")
                        .expression_attribute_names("#num", "number")
                        .expression_attribute_values(
                            ":cancelled",
                            s(MessageStatus::Cancelled.as_str()),
                        )
                        .expression_attribute_values(
                            ":scheduled",
                            s(MessageStatus::Scheduled.as_str()),
                        )
                        .expression_attribute_values(":day", s(&msg.day_sk))
                        .expression_attribute_values(":r", s(reason.as_str()))
                        .build(),
                )?)
                .build();
            let mut items = vec![
                cancel_msg,
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
            let mut failed = self.transact_cancel(items.clone()).await?;
            if failed == Some(2) {
                // The call item is gone (TTL, erasure): cancel the message alone.
                items.pop();
                failed = self.transact_cancel(items).await?;
            }
            // Item 0 failing: claimed or moved by the sender in the meantime, too late here
            // (the sender's own check of the last contact and opt-out sees it).
            if failed.is_none() {
                cancelled.push(Cancelled {
                    message_id: msg.message_id,
                    call_sk: msg.call_sk,
                });
            }
        }
        Ok(cancelled)
    }

    /// Run a cancellation transaction: `Ok(None)` when it applied, `Ok(Some(i))` when the
    /// condition of item `i` failed.
    async fn transact_cancel(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Option<usize>, PortError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(None),
            Err(e) => match failed_conditions(&e) {
                Some(failed) => Ok(failed.first().copied()),
                None => Err(transact_error(e)),
            },
        }
    }

    /// See [`Outbox::due`].
    pub async fn due(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<DuePage, PortError> {
        let (items, next) = self.gsi_page(due_pk(shard), now, after, limit).await?;
        Ok(DuePage {
            entries: items.iter().map(queue_entry).collect(),
            next,
        })
    }

    /// See [`Outbox::stale_sending`].
    pub async fn stale_sending(
        &self,
        shard: u32,
        before: DateTime<Utc>,
    ) -> Result<Vec<QueueEntry>, PortError> {
        let (items, _) = self.gsi_page(sending_pk(shard), before, None, 100).await?;
        Ok(items.iter().map(queue_entry).collect())
    }

    /// Items of GSI1 partition `gsi1pk` with GSI1SK ≤ `at` (and > cursor `after`), in GSI1SK
    /// order, at most `limit`; and the cursor of the next page (the last GSI1SK returned) when
    /// there may be more.
    async fn gsi_page(
        &self,
        gsi1pk: String,
        at: DateTime<Utc>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Item>, Option<String>), PortError> {
        // '~' sorts after every message id character: includes all entries at `at`.
        let upto = format!("{}~", ts(at));
        let (condition, lower) = match after {
            Some(after) => (
                "GSI1PK = :pk AND GSI1SK BETWEEN :after AND :upto",
                Some(after),
            ),
            None => ("GSI1PK = :pk AND GSI1SK <= :upto", None),
        };
        let mut query = self
            .client
            .query()
            .table_name(&self.name)
            .index_name(GSI1)
            .key_condition_expression(condition)
            .expression_attribute_values(":pk", s(gsi1pk))
            .expression_attribute_values(":upto", s(upto))
            .limit(i32::try_from(limit + usize::from(after.is_some())).unwrap_or(i32::MAX));
        if let Some(lower) = lower {
            query = query.expression_attribute_values(":after", s(lower));
        }
        let out = query.send().await.map_err(|e| sdk_error(SERVICE, e))?;
        let mut items = out.items.unwrap_or_default();
        // BETWEEN is inclusive: drop the cursor's own entry.
        if let Some(after) = after {
            items.retain(|item| attr(item, GSI1SK) != Some(after));
        }
        items.truncate(limit);
        let more = out.last_evaluated_key.is_some_and(|k| !k.is_empty()) || items.len() == limit;
        let next = more
            .then(|| {
                items
                    .last()
                    .and_then(|i| attr(i, GSI1SK))
                    .map(str::to_string)
            })
            .flatten();
        Ok((items, next))
    }

    /// See [`Outbox::claim`]. A condition failure returns the item as it was
    /// (`ReturnValuesOnConditionCheckFailure`), so a claim the SDK retried after it applied is
    /// recognised by its token at no extra cost.
    pub async fn claim(
        &self,
        account_id: &str,
        message_id: &str,
        claim_token: &str,
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
                "SET #st = :sending, GSI1PK = :gpk, GSI1SK = :gsk, claimed_at = :now, claim_token = :tok",
            )
            .condition_expression("#st = :scheduled AND due_at <= :now")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":sending", s(MessageStatus::Sending.as_str()))
            .expression_attribute_values(":scheduled", s(MessageStatus::Scheduled.as_str()))
            .expression_attribute_values(":gpk", s(sending_pk(shard_of(message_id, shards))))
            .expression_attribute_values(":gsk", s(due_sk(now, message_id)))
            .expression_attribute_values(":now", s(ts(now)))
            .expression_attribute_values(":tok", s(claim_token))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        match result {
            Ok(out) => from_item(out.attributes.unwrap_or_default()).map(Some),
            Err(SdkError::ServiceError(err))
                if err.err().code() == Some("ConditionalCheckFailedException") =>
            {
                let old = match err.into_err() {
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(e) => e.item().cloned(),
                    _ => None,
                };
                // Ours already (the SDK retried a claim that had applied)?
                match old {
                    Some(item)
                        if attr(&item, "claim_token") == Some(claim_token)
                            && attr(&item, "status") == Some(MessageStatus::Sending.as_str()) =>
                    {
                        from_item(item).map(Some)
                    }
                    _ => Ok(None),
                }
            }
            Err(e) => Err(sdk_error(SERVICE, e)),
        }
    }

    /// See [`Outbox::finish`].
    pub async fn finish(
        &self,
        msg: &MessageItem,
        end: Finish<'_>,
        now: DateTime<Utc>,
        shred: bool,
    ) -> Result<bool, PortError> {
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
        // The sealed number goes with a message that ends unsent (it will never be sent), and
        // with a sent one when the account shreds numbers.
        let drop_number = sent_at.is_none() || shred;
        let remove = if drop_number {
            " REMOVE GSI1PK, GSI1SK, #num"
        } else {
            " REMOVE GSI1PK, GSI1SK"
        };
        if drop_number {
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
        if end.frees_day() {
            items.push(delete(&self.name, &pk, &msg.day_sk)?);
        }
        self.transact_unless_taken(items).await
    }

    /// Run a transaction whose first item is conditional on the message still being
    /// `sending`: `Ok(false)` when that condition failed (someone else recorded it first).
    /// The second item updates the message's call: when only that condition fails (the call
    /// item is gone: TTL, erasure), the message is recorded alone.
    async fn transact_unless_taken(
        &self,
        mut items: Vec<TransactWriteItem>,
    ) -> Result<bool, PortError> {
        loop {
            match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await
            {
                Ok(_) => return Ok(true),
                Err(e) => match failed_conditions(&e).as_deref() {
                    Some([0, ..]) => return Ok(false),
                    Some([1]) if items.len() >= 2 => {
                        items.remove(1);
                    }
                    _ => return Err(transact_error(e)),
                },
            }
        }
    }

    /// See [`Outbox::reschedule`].
    pub async fn reschedule(
        &self,
        msg: &MessageItem,
        due_at: DateTime<Utc>,
        day_sk: &str,
        shards: u32,
    ) -> Result<bool, PortError> {
        let pk = account_pk(&msg.account_id);
        let update_msg = build(
            Update::builder()
                .table_name(&self.name)
                .key(PK, s(&pk))
                .key(SK, s(&msg.sk))
                .update_expression(
                    "SET #st = :scheduled, due_at = :due, day_sk = :day, GSI1PK = :gpk, GSI1SK = :gsk",
                )
                .condition_expression("#st = :sending")
                .expression_attribute_names("#st", "status")
                .expression_attribute_values(":scheduled", s(MessageStatus::Scheduled.as_str()))
                .expression_attribute_values(":sending", s(MessageStatus::Sending.as_str()))
                .expression_attribute_values(":due", s(ts(due_at)))
                .expression_attribute_values(":day", s(day_sk))
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
        let mut items = vec![
            TransactWriteItem::builder().update(update_msg).build(),
            TransactWriteItem::builder().update(update_call).build(),
        ];
        if day_sk != msg.day_sk {
            // The reservation moves with the message (rule 3): the new day is taken in the
            // same transaction, or nothing changes.
            let day = DayItem::new(&pk, &day_sk, &msg.message_id, msg.expires_at);
            items.push(put(
                &self.name,
                to_item(&day)?,
                Some("attribute_not_exists(PK)"),
            )?);
            items.push(delete(&self.name, &pk, &msg.day_sk)?);
        }
        // Items: 0 the message (still claimed), 1 its call (may be gone: TTL, erasure),
        // 2 the new day (if it moves), 3 the old day's deletion.
        let mut call_gone = false;
        loop {
            let mut attempt = items.clone();
            if call_gone {
                attempt.remove(1);
            }
            let new_day = if call_gone { 1 } else { 2 };
            match self
                .client
                .transact_write_items()
                .set_transact_items(Some(attempt))
                .send()
                .await
            {
                Ok(_) => return Ok(true),
                Err(e) => match failed_conditions(&e).as_deref() {
                    Some([0, ..]) => {
                        return Err(PortError::new(SERVICE, "message no longer claimed")
                            .applied(Applied::Refused));
                    }
                    Some([1]) if !call_gone => call_gone = true,
                    Some([i]) if *i == new_day => return Ok(false),
                    Some(_) => {
                        return Err(
                            PortError::new(SERVICE, "reschedule refused").applied(Applied::Refused)
                        );
                    }
                    None => return Err(transact_error(e)),
                },
            }
        }
    }

    /// See [`Outbox::release`].
    pub async fn release(
        &self,
        msg: &MessageItem,
        retry_at: DateTime<Utc>,
        shards: u32,
    ) -> Result<bool, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key(PK, s(account_pk(&msg.account_id)))
            .key(SK, s(&msg.sk))
            .update_expression(
                "SET #st = :scheduled, due_at = :due, GSI1PK = :gpk, GSI1SK = :gsk ADD attempts :one",
            )
            .condition_expression("#st = :sending")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":scheduled", s(MessageStatus::Scheduled.as_str()))
            .expression_attribute_values(":sending", s(MessageStatus::Sending.as_str()))
            .expression_attribute_values(":due", s(ts(retry_at)))
            .expression_attribute_values(":gpk", s(due_pk(shard_of(&msg.message_id, shards))))
            .expression_attribute_values(":gsk", s(due_sk(retry_at, &msg.message_id)))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .send()
            .await;
        Ok(unless_condition_failed(result)?.is_some())
    }

    /// See [`Outbox::caller_state`]: one consistent `BatchGetItem` of `OPTOUT#{hash}` and
    /// `CONTACT#{hash}`.
    pub async fn caller_state(
        &self,
        account_id: &str,
        hash: &str,
    ) -> Result<CallerState, PortError> {
        let pk = account_pk(account_id);
        let key = |sk: String| HashMap::from([(PK.to_string(), s(&pk)), (SK.to_string(), s(sk))]);
        let keys = build(
            aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .keys(key(optout_sk(hash)))
                .keys(key(contact_sk(hash)))
                .consistent_read(true)
                .build(),
        )?;
        let mut request = HashMap::from([(self.name.clone(), keys)]);
        let mut items = Vec::new();
        // Unprocessed keys (throttling) are asked again, a few times.
        for _ in 0..4 {
            let out = sent(
                self.client
                    .batch_get_item()
                    .set_request_items(Some(request.clone()))
                    .send()
                    .await,
            )?;
            items.extend(
                out.responses
                    .unwrap_or_default()
                    .remove(&self.name)
                    .unwrap_or_default(),
            );
            match out.unprocessed_keys {
                Some(left) if !left.is_empty() => request = left,
                _ => {
                    let mut state = CallerState::default();
                    for item in items {
                        match attr(&item, SK) {
                            Some(sk) if sk.starts_with("OPTOUT#") => state.opted_out = true,
                            Some(sk) if sk.starts_with("CONTACT#") => {
                                let contact: ContactItem = from_item(item)?;
                                let at = DateTime::parse_from_rfc3339(&contact.last_contact_at)
                                    .map_err(|e| PortError::unreadable(SERVICE, &contact.sk, e))?
                                    .with_timezone(&Utc);
                                state.last_contact = Some(Contact {
                                    at,
                                    reason: contact.reason,
                                });
                            }
                            _ => {}
                        }
                    }
                    return Ok(state);
                }
            }
        }
        Err(PortError::new(
            SERVICE,
            "BatchGetItem left keys unprocessed (throttled)",
        ))
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
        let item = OptOutItem::new(account_id, hash, source, now);
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

    /// The opt-out link `token` (kept after its booking link), if it exists.
    pub async fn get_optout_link(&self, token: &str) -> Result<Option<OptOutLinkItem>, PortError> {
        self.get(link_pk(token), OPTOUT_LINK_SK)
            .await?
            .map(from_item)
            .transpose()
    }

    /// Book on link `token` unless it already has a booking, keeping `record` (the booking
    /// with its consent record, `BOOKING#{hash}#{id}`) and counting it in its slot
    /// (`SLOT#{start}`, below `capacity`), all in one transaction.
    pub async fn book(
        &self,
        token: &str,
        record: &BookingItem,
        number: Option<&CallbackNumberItem>,
        capacity: u32,
    ) -> Result<BookOutcome, PortError> {
        let booking = &record.booking;
        let value = serde_dynamo::to_attribute_value::<_, AttributeValue>(booking)
            .map_err(|e| PortError::new(SERVICE, format!("serialize: {e}")))?;
        let update = build(
            Update::builder()
                .table_name(&self.name)
                .key(PK, s(link_pk(token)))
                .key(SK, s(LINK_SK))
                .update_expression("SET booking = :b")
                .condition_expression("attribute_exists(PK) AND attribute_not_exists(booking)")
                .expression_attribute_values(":b", value)
                .build(),
        )?;
        let slot = self.slot_update(&record.pk, &booking.slot, 1, Some(capacity))?;
        let mut items = vec![
            TransactWriteItem::builder().update(update).build(),
            put(
                &self.name,
                to_item(record)?,
                Some("attribute_not_exists(PK)"),
            )?,
            slot,
        ];
        // Another number to call: written with the booking or not at all.
        if let Some(number) = number {
            items.push(put(
                &self.name,
                to_item(number)?,
                Some("attribute_not_exists(PK)"),
            )?);
        }
        // Two prospects booking the same slot at once write the same counter: DynamoDB cancels
        // one transaction for the conflict (nothing applied); it is tried again, then decided
        // by the capacity condition.
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            return match result {
                Ok(_) => Ok(BookOutcome::Booked(booking.clone())),
                Err(e) => match failed_conditions(&e).as_deref() {
                    Some(failed) if failed.contains(&0) => self
                        .get_link(token)
                        .await?
                        .and_then(|l| l.booking)
                        .map(BookOutcome::Held)
                        .ok_or_else(|| PortError::new(SERVICE, "link vanished while booking")),
                    Some([2]) => Ok(BookOutcome::SlotFull),
                    _ => {
                        let err = transact_error(e);
                        if err.applied == Applied::No && attempt < 3 {
                            attempt += 1;
                            continue;
                        }
                        Err(err)
                    }
                },
            };
        }
    }

    /// The update of slot `slot` (RFC 3339 UTC start) of partition `pk` by `delta`; with
    /// `capacity`, conditional on the slot staying at or below it.
    fn slot_update(
        &self,
        pk: &str,
        slot: &str,
        delta: i32,
        capacity: Option<u32>,
    ) -> Result<TransactWriteItem, PortError> {
        let start = DateTime::parse_from_rfc3339(slot)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| PortError::new(SERVICE, "booking slot is not an instant"))?;
        let mut update = Update::builder()
            .table_name(&self.name)
            .key(PK, s(pk))
            .key(SK, s(slot_sk(start)))
            .update_expression("ADD #count :d SET expires_at = if_not_exists(expires_at, :exp)")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":d", AttributeValue::N(delta.to_string()))
            .expression_attribute_values(
                ":exp",
                AttributeValue::N(
                    crate::retention::expires(start, crate::retention::SLOT_DAYS).to_string(),
                ),
            );
        if let Some(capacity) = capacity {
            update = update
                .condition_expression("attribute_not_exists(#count) OR #count < :cap")
                .expression_attribute_values(":cap", AttributeValue::N(capacity.to_string()));
        }
        Ok(TransactWriteItem::builder()
            .update(build(update.build())?)
            .build())
    }

    /// How many callbacks `account_id` booked in each slot starting in `[from, to]`.
    pub async fn slot_counts(
        &self,
        account_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, u32)>, PortError> {
        let out = self
            .client
            .query()
            .table_name(&self.name)
            .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(account_pk(account_id)))
            .expression_attribute_values(":from", s(slot_sk(from)))
            .expression_attribute_values(":to", s(slot_sk(to)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, e))?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(|item| {
                let slot: SlotItem = from_item(item)?;
                let start = slot
                    .sk
                    .strip_prefix("SLOT#")
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .ok_or_else(|| PortError::new(SERVICE, "slot key is not an instant"))?;
                Ok((start, u32::try_from(slot.count.max(0)).unwrap_or(u32::MAX)))
            })
            .collect()
    }

    /// Move the booking of `record` (as booked: its current slot) on link `token` to `slot`,
    /// in its record too, freeing the old slot's place and taking one in the new slot unless
    /// it holds `capacity` already; one transaction. `Held` when the booking is no longer the
    /// one read (moved or cancelled meanwhile).
    pub async fn reschedule_booking(
        &self,
        token: &str,
        record: &BookingItem,
        slot: DateTime<Utc>,
        capacity: u32,
        now: DateTime<Utc>,
    ) -> Result<BookOutcome, PortError> {
        let old = &record.booking;
        let new_slot = ts(slot);
        if new_slot == old.slot {
            // Nothing to move (and one transaction cannot touch the slot's counter twice).
            return Ok(BookOutcome::Held(old.clone()));
        }
        let link = build(
            Update::builder()
                .table_name(&self.name)
                .key(PK, s(link_pk(token)))
                .key(SK, s(LINK_SK))
                .update_expression("SET booking.slot = :new")
                .condition_expression("booking.booking_id = :id AND booking.slot = :old")
                .expression_attribute_values(":new", s(&new_slot))
                .expression_attribute_values(":id", s(&old.booking_id))
                .expression_attribute_values(":old", s(&old.slot))
                .build(),
        )?;
        let kept = build(
            Update::builder()
                .table_name(&self.name)
                .key(PK, s(&record.pk))
                .key(SK, s(&record.sk))
                .update_expression(
                    "SET booking.slot = :new, last_contact_at = :t, rescheduled_at = :t, expires_at = :e",
                )
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_values(":new", s(&new_slot))
                .expression_attribute_values(":t", s(ts(now)))
                .expression_attribute_values(
                    ":e",
                    AttributeValue::N(
                        crate::retention::expires(now, crate::retention::BOOKING_DAYS).to_string(),
                    ),
                )
                .build(),
        )?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(link).build())
            .transact_items(TransactWriteItem::builder().update(kept).build())
            .transact_items(self.slot_update(&record.pk, &old.slot, -1, None)?)
            .transact_items(self.slot_update(&record.pk, &new_slot, 1, Some(capacity))?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(BookOutcome::Booked(Booking {
                slot: new_slot,
                ..old.clone()
            })),
            Err(e) => match failed_conditions(&e).as_deref() {
                Some([3]) => Ok(BookOutcome::SlotFull),
                Some(failed) if failed.contains(&0) || failed.contains(&1) => {
                    Ok(BookOutcome::Held(old.clone()))
                }
                _ => Err(transact_error(e)),
            },
        }
    }

    /// Cancel the booking of `record` on link `token`: off the link (the prospect may book
    /// again), its slot's place freed, the record kept as evidence with `cancelled_at`; one
    /// transaction. `false` when that booking was no longer on the link.
    pub async fn cancel_booking(
        &self,
        token: &str,
        record: &BookingItem,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let link = build(
            Update::builder()
                .table_name(&self.name)
                .key(PK, s(link_pk(token)))
                .key(SK, s(LINK_SK))
                .update_expression("REMOVE booking")
                // The booking as read (same slot): a move in between keeps its place counted.
                .condition_expression("booking.booking_id = :id AND booking.slot = :slot")
                .expression_attribute_values(":id", s(&record.booking.booking_id))
                .expression_attribute_values(":slot", s(&record.booking.slot))
                .build(),
        )?;
        let kept = build(
            Update::builder()
                .table_name(&self.name)
                .key(PK, s(&record.pk))
                .key(SK, s(&record.sk))
                .update_expression("SET cancelled_at = :t, last_contact_at = :t, expires_at = :e")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_values(":t", s(ts(now)))
                .expression_attribute_values(
                    ":e",
                    AttributeValue::N(
                        crate::retention::expires(now, crate::retention::BOOKING_DAYS).to_string(),
                    ),
                )
                .build(),
        )?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(link).build())
            .transact_items(TransactWriteItem::builder().update(kept).build())
            .transact_items(self.slot_update(&record.pk, &record.booking.slot, -1, None)?)
            // Another number to call has no use left.
            .transact_items(delete(
                &self.name,
                &record.pk,
                &callback_number_sk(&record.caller_hash, &record.booking.booking_id),
            )?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if failed_conditions(&e).is_some_and(|f| f.contains(&0)) => Ok(false),
            Err(e) => Err(transact_error(e)),
        }
    }

    /// Remove the booking of `record` from link `token`, delete `record` and free its place in
    /// its slot (no other booking is touched).
    pub async fn unbook(&self, token: &str, record: &BookingItem) -> Result<(), PortError> {
        let update = build(
            Update::builder()
                .table_name(&self.name)
                .key(PK, s(link_pk(token)))
                .key(SK, s(LINK_SK))
                .update_expression("REMOVE booking")
                .condition_expression("booking.booking_id = :id AND booking.slot = :slot")
                .expression_attribute_values(":id", s(&record.booking.booking_id))
                .expression_attribute_values(":slot", s(&record.booking.slot))
                .build(),
        )?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(delete(&self.name, &record.pk, &record.sk)?)
            .transact_items(self.slot_update(&record.pk, &record.booking.slot, -1, None)?)
            .transact_items(delete(
                &self.name,
                &record.pk,
                &callback_number_sk(&record.caller_hash, &record.booking.booking_id),
            )?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if failed_conditions(&e).is_some_and(|f| f.contains(&0)) => Ok(()),
            Err(e) => Err(transact_error(e)),
        }
    }

    /// Count one form post on link `token` in the rate-limit window starting at `window`
    /// (`LINK#{token}` / `RATE#{window}`); the posts counted in that window so far.
    pub async fn rate_hit(&self, token: &str, window: DateTime<Utc>) -> Result<u32, PortError> {
        let expires = window + chrono::Duration::minutes(crate::items::RATE_WINDOW_MINUTES);
        let out = sent(
            self.client
                .update_item()
                .table_name(&self.name)
                .key(PK, s(link_pk(token)))
                .key(SK, s(format!("RATE#{}", ts(window))))
                .update_expression("ADD #count :one SET expires_at = if_not_exists(expires_at, :e)")
                .expression_attribute_names("#count", "count")
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .expression_attribute_values(
                    ":e",
                    AttributeValue::N(
                        crate::retention::expires(expires, crate::retention::RATE_DAYS).to_string(),
                    ),
                )
                .return_values(ReturnValue::UpdatedNew)
                .send()
                .await,
        )?;
        Ok(match out.attributes.as_ref().and_then(|a| a.get("count")) {
            Some(AttributeValue::N(n)) => n.parse().unwrap_or(u32::MAX),
            _ => 1,
        })
    }

    /// Record the first opening of message `message_id`'s link at `now`; `true` the first time.
    pub async fn mark_opened(
        &self,
        account_id: &str,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key(PK, s(account_pk(account_id)))
            .key(SK, s(msg_sk(message_id)))
            .update_expression("SET opened_at = :t")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(opened_at)")
            .expression_attribute_values(":t", s(ts(now)))
            .send()
            .await;
        Ok(unless_condition_failed(result)?.is_some())
    }

    /// The prospect `hash` of `account_id` was in contact at `now` (a visit of a link, a
    /// booking): each of their bookings is kept [`crate::retention::BOOKING_DAYS`] from now
    /// (CNIL: 3 years from the last contact). Returns how many bookings were touched.
    pub async fn touch_bookings(
        &self,
        account_id: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, PortError> {
        let expires_at = crate::retention::expires(now, crate::retention::BOOKING_DAYS);
        let items = self
            .query_prefix(account_pk(account_id), &booking_prefix(hash))
            .await?;
        for item in &items {
            let Some(sk) = attr(item, SK) else { continue };
            let result = self
                .client
                .update_item()
                .table_name(&self.name)
                .key(PK, s(account_pk(account_id)))
                .key(SK, s(sk))
                .update_expression("SET last_contact_at = :t, expires_at = :e")
                .condition_expression("attribute_exists(PK) AND last_contact_at < :t")
                .expression_attribute_values(":t", s(ts(now)))
                .expression_attribute_values(":e", AttributeValue::N(expires_at.to_string()))
                .send()
                .await;
            unless_condition_failed(result)?;
        }
        Ok(items.len())
    }

    /// Mark the links of `token` (the booking link and the opt-out link, whichever still
    /// exist) as used to opt out (first instant kept).
    pub async fn mark_link_opted_out(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        for sk in [LINK_SK, OPTOUT_LINK_SK] {
            let result = self
                .client
                .update_item()
                .table_name(&self.name)
                .key(PK, s(link_pk(token)))
                .key(SK, s(sk))
                .update_expression("SET opted_out_at = if_not_exists(opted_out_at, :t)")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_values(":t", s(ts(now)))
                .send()
                .await;
            // A link already deleted (TTL, erasure) has nothing to mark.
            unless_condition_failed(result)?;
        }
        Ok(())
    }
}

pub(super) fn put(
    table: &str,
    item: Item,
    condition: Option<&str>,
) -> Result<TransactWriteItem, PortError> {
    let put = build(
        Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_string))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

pub(super) fn delete(table: &str, pk: &str, sk: &str) -> Result<TransactWriteItem, PortError> {
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
fn unless_condition_failed<T, E>(
    result: Result<T, SdkError<E, HttpResponse>>,
) -> Result<Option<T>, PortError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(out) => Ok(Some(out)),
        Err(e)
            if e.as_service_error().and_then(ProvideErrorMetadata::code)
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(None)
        }
        Err(e) => Err(sdk_error(SERVICE, e)),
    }
}

/// A failed transaction as a [`PortError`]: a transaction cancelled only for conflicts or
/// throttling did not apply and can be retried ([`Applied::No`]); other errors are classified
/// by [`sdk_error`].
fn transact_error(err: SdkError<TransactWriteItemsError, HttpResponse>) -> PortError {
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) =
        err.as_service_error()
    {
        let retryable = cancel.cancellation_reasons().iter().all(|r| {
            matches!(
                r.code(),
                None | Some(
                    "None"
                        | "TransactionConflict"
                        | "ThrottlingError"
                        | "ProvisionedThroughputExceeded"
                )
            )
        });
        if retryable {
            return PortError::new(SERVICE, "transaction cancelled by a conflict or throttling");
        }
    }
    sdk_error(SERVICE, err)
}

/// When a daily cap counter may go: two days after the end of its day (UTC, generous for
/// any zone), so it outlives every message scheduled for that day.
fn cap_expiry(cap: &DailyCap) -> i64 {
    crate::retention::after_day(cap.day, crate::retention::CAP_DAYS)
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

impl AccountStore for Table {
    async fn get_account(&self, account_id: &str) -> Result<Option<Account>, PortError> {
        Table::get_account(self, account_id).await
    }
    async fn get_account_sealed(
        &self,
        account_id: &str,
    ) -> Result<Option<(Account, Option<String>)>, PortError> {
        Table::get_account_sealed(self, account_id).await
    }
}

impl CallStore for Table {
    async fn put_call(&self, call: &CallItem) -> Result<bool, PortError> {
        Table::put_call(self, call).await
    }
    async fn put_leg(&self, leg: &LegItem) -> Result<(), PortError> {
        Table::put_leg(self, leg).await
    }
    async fn get_leg(
        &self,
        account_id: &str,
        provider: &str,
        key: &str,
    ) -> Result<Option<LegItem>, PortError> {
        Table::get_leg(self, account_id, provider, key).await
    }
    async fn put_pending(&self, pending: &CallItem) -> Result<(), PortError> {
        Table::put_pending(self, pending).await
    }
    async fn get_pending(
        &self,
        account_id: &str,
        provider: &str,
        key: &str,
    ) -> Result<Option<CallItem>, PortError> {
        Table::get_pending(self, account_id, provider, key).await
    }
    async fn delete_pending(&self, account_id: &str, pending_sk: &str) -> Result<(), PortError> {
        Table::delete_pending(self, account_id, pending_sk).await
    }
}

impl DecisionStore for Table {
    async fn record_decision(
        &self,
        call: &CallItem,
        outcome: Outcome,
        reason: Reason,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        Table::record_decision(self, call, outcome, reason, now).await
    }
    async fn schedule(
        &self,
        call: &CallItem,
        msg: &MessageItem,
        link: &LinkItem,
        reason: Reason,
        cap: &DailyCap,
        now: DateTime<Utc>,
    ) -> Result<(), ScheduleError> {
        Table::schedule(self, call, msg, link, reason, cap, now).await
    }
    async fn record_contact(
        &self,
        account_id: &str,
        hash: &str,
        contact: &Contact,
    ) -> Result<(), PortError> {
        Table::record_contact(self, account_id, hash, contact).await
    }
    async fn last_contact(
        &self,
        account_id: &str,
        hash: &str,
    ) -> Result<Option<Contact>, PortError> {
        Table::last_contact(self, account_id, hash).await
    }
    async fn cancel_pending_before(
        &self,
        account_id: &str,
        hash: &str,
        reason: Reason,
        contact_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Cancelled>, PortError> {
        Table::cancel_pending_before(self, account_id, hash, reason, contact_at, now).await
    }
    async fn undecided(
        &self,
        shard: u32,
        before: DateTime<Utc>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Result<CallItem, String>>, Option<String>), PortError> {
        Table::undecided(self, shard, before, after, limit).await
    }
    async fn promote_pending(
        &self,
        pending: &CallItem,
        shards: u32,
    ) -> Result<CallItem, PortError> {
        Table::promote_pending(self, pending, shards).await
    }
}

impl Outbox for Table {
    async fn due(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<DuePage, PortError> {
        Table::due(self, shard, now, after, limit).await
    }
    async fn stale_sending(
        &self,
        shard: u32,
        before: DateTime<Utc>,
    ) -> Result<Vec<QueueEntry>, PortError> {
        Table::stale_sending(self, shard, before).await
    }
    async fn claim(
        &self,
        account_id: &str,
        message_id: &str,
        claim_token: &str,
        shards: u32,
        now: DateTime<Utc>,
    ) -> Result<Option<MessageItem>, PortError> {
        Table::claim(self, account_id, message_id, claim_token, shards, now).await
    }
    async fn get_message(
        &self,
        account_id: &str,
        message_id: &str,
    ) -> Result<Option<MessageItem>, PortError> {
        Table::get_message(self, account_id, message_id).await
    }
    async fn finish(
        &self,
        msg: &MessageItem,
        end: Finish<'_>,
        now: DateTime<Utc>,
        shred: bool,
    ) -> Result<bool, PortError> {
        Table::finish(self, msg, end, now, shred).await
    }
    async fn reschedule(
        &self,
        msg: &MessageItem,
        due_at: DateTime<Utc>,
        day_sk: &str,
        shards: u32,
    ) -> Result<bool, PortError> {
        Table::reschedule(self, msg, due_at, day_sk, shards).await
    }
    async fn release(
        &self,
        msg: &MessageItem,
        retry_at: DateTime<Utc>,
        shards: u32,
    ) -> Result<bool, PortError> {
        Table::release(self, msg, retry_at, shards).await
    }
    async fn caller_state(&self, account_id: &str, hash: &str) -> Result<CallerState, PortError> {
        Table::caller_state(self, account_id, hash).await
    }
    async fn put_opt_out(
        &self,
        account_id: &str,
        hash: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        Table::put_opt_out(self, account_id, hash, source, now).await
    }
}
