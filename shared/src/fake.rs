//! In-memory fakes of every port, with fault injection (feature `test-support`).
//!
//! [`MemoryTable`] implements the table ports of [`crate::store`] with the same semantics as
//! the DynamoDB adapter: conditional writes, all-or-nothing transactions, the sparse GSI1
//! (due queue, in-flight index, undecided calls). Items are kept as JSON values, so a test can
//! store an item the code cannot read ([`MemoryTable::insert_raw`]).
//!
//! Every port call of every fake goes through one shared [`Faults`]: it numbers the calls and
//! can fail the k-th one in one of three ways ([`FaultMode`]): an error before it applies,
//! an error after it applied (the ambiguous case), or a crash after it applied (every later
//! call of that invocation fails without applying, as if the process had died there).
//! The crash-point matrices of the handler tests are built on it.

use crate::account::{Account, Secrets};
use crate::items::*;
use crate::phone::E164;
use crate::ports::{
    Applied, CallbackNumberSealer, EventPublisher, NumberOpener, NumberProtector, PortError,
    SecretsVault, SmsGateway,
};
use crate::rules::{Outcome, Reason};
use crate::store::*;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

// ------------------------------------------------------------------------------------ faults

/// How the planned call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultMode {
    /// An error before the call applies (throttling, connection refused): `Applied::No`.
    Before,
    /// The call applies, then its answer is lost (timeout, reset, 5xx): `Applied::Maybe`.
    After,
    /// The call applies, then the invocation dies: every later call fails without applying.
    Crash,
}

impl FaultMode {
    pub const ALL: [FaultMode; 3] = [FaultMode::Before, FaultMode::After, FaultMode::Crash];
}

#[derive(Default)]
struct FaultState {
    /// Every call made, in order, by operation name (`dynamodb.PutItem`...).
    calls: Vec<String>,
    /// Fail the call with this index (in `calls`) this way.
    plan: Option<(usize, FaultMode)>,
    /// Fail every call of operation `op` this way (chaos-style, repeated).
    always: Vec<(String, FaultMode)>,
    crashed: bool,
    /// Faults injected: (index, operation, mode).
    injected: Vec<(usize, String, FaultMode)>,
}

/// The fault plan shared by every fake of one test world.
#[derive(Default)]
pub struct Faults(Mutex<FaultState>);

/// What to do after the call applied.
#[must_use]
enum Gate {
    Pass,
    FailAfter(String),
    CrashAfter(String),
}

impl Faults {
    pub fn new() -> Arc<Faults> {
        Arc::new(Faults::default())
    }

    /// Fail the call numbered `index` (counting every call since the world was made, from 0)
    /// in `mode`.
    pub fn plan(&self, index: usize, mode: FaultMode) {
        self.0.lock().unwrap().plan = Some((index, mode));
    }

    /// Fail every call of operation `op` (`sns.Publish`...) in `mode` until [`Faults::clear`].
    pub fn always(&self, op: &str, mode: FaultMode) {
        self.0.lock().unwrap().always.push((op.to_string(), mode));
    }

    /// No more faults, and a crashed invocation is over: the next one starts afresh.
    pub fn clear(&self) {
        let mut state = self.0.lock().unwrap();
        state.plan = None;
        state.always.clear();
        state.crashed = false;
    }

    /// The next invocation starts: a crash does not outlive its invocation.
    pub fn restart(&self) {
        self.0.lock().unwrap().crashed = false;
    }

    /// Number of calls made so far.
    pub fn count(&self) -> usize {
        self.0.lock().unwrap().calls.len()
    }

    /// Operation names of the calls made so far.
    pub fn calls(&self) -> Vec<String> {
        self.0.lock().unwrap().calls.clone()
    }

    /// Faults injected so far: (call index, operation, mode).
    pub fn injected(&self) -> Vec<(usize, String, FaultMode)> {
        self.0.lock().unwrap().injected.clone()
    }

    pub fn crashed(&self) -> bool {
        self.0.lock().unwrap().crashed
    }

    fn enter(&self, op: &str) -> Result<Gate, PortError> {
        let service = service_of(op);
        let mut state = self.0.lock().unwrap();
        if state.crashed {
            return Err(PortError::new(
                service,
                format!("{op}: the invocation crashed"),
            ));
        }
        let index = state.calls.len();
        state.calls.push(op.to_string());
        let mode = match state.plan {
            Some((at, mode)) if at == index => Some(mode),
            _ => state
                .always
                .iter()
                .find(|(o, _)| o == op)
                .map(|(_, mode)| *mode),
        };
        let Some(mode) = mode else {
            return Ok(Gate::Pass);
        };
        state.injected.push((index, op.to_string(), mode));
        match mode {
            FaultMode::Before => Err(PortError::new(
                service,
                format!("{op}: injected throttling (not applied)"),
            )),
            FaultMode::After => Ok(Gate::FailAfter(op.to_string())),
            FaultMode::Crash => Ok(Gate::CrashAfter(op.to_string())),
        }
    }

    fn exit(&self, gate: Gate) -> Result<(), PortError> {
        match gate {
            Gate::Pass => Ok(()),
            Gate::FailAfter(op) => Err(PortError::new(
                service_of(&op),
                format!("{op}: injected lost answer (applied)"),
            )
            .applied(Applied::Maybe)),
            Gate::CrashAfter(op) => {
                self.0.lock().unwrap().crashed = true;
                Err(
                    PortError::new(service_of(&op), format!("{op}: injected crash (applied)"))
                        .applied(Applied::Maybe),
                )
            }
        }
    }

    /// Run `apply` as call `op`, under the plan.
    fn run<T>(
        &self,
        op: &str,
        apply: impl FnOnce() -> Result<T, PortError>,
    ) -> Result<T, PortError> {
        let gate = self.enter(op)?;
        let out = apply()?;
        self.exit(gate)?;
        Ok(out)
    }
}

fn service_of(op: &str) -> &'static str {
    match op.split('.').next() {
        Some("dynamodb") => "dynamodb",
        Some("kms") => "kms",
        Some("sns") => "sns",
        Some("eventbridge") => "eventbridge",
        _ => "fake",
    }
}

// ------------------------------------------------------------------------------------ table

type Key = (String, String);

/// The table, in memory (see the module documentation). Clones share the same items.
#[derive(Clone)]
pub struct MemoryTable {
    items: Arc<Mutex<BTreeMap<Key, Value>>>,
    /// Keys of items created, in order (what the table's stream reports as `INSERT`).
    inserted: Arc<Mutex<Vec<Key>>>,
    faults: Arc<Faults>,
}

fn to_value<T: Serialize>(item: &T) -> Value {
    serde_json::to_value(item).expect("items serialize")
}

fn key_of(item: &Value) -> Key {
    (
        item["PK"].as_str().unwrap_or_default().to_string(),
        item["SK"].as_str().unwrap_or_default().to_string(),
    )
}

fn read<T: DeserializeOwned>(item: &Value) -> Result<T, PortError> {
    serde_json::from_value(item.clone()).map_err(|e| {
        let (pk, sk) = key_of(item);
        PortError::unreadable("dynamodb", &format!("{pk}/{sk}"), e)
    })
}

fn str_of<'a>(item: &'a Value, name: &str) -> Option<&'a str> {
    item.get(name).and_then(Value::as_str)
}

/// A write of a transaction: applied only if every condition of the transaction holds.
enum Write {
    Put(Value),
    Delete(Key),
    Update(Key, Box<dyn FnOnce(&mut Value) + Send>),
    /// An update of an item that may be gone (a call past its TTL): skipped then, as the
    /// adapter records the rest of the transaction without it.
    UpdateIfExists(Key, Box<dyn FnOnce(&mut Value) + Send>),
}

impl MemoryTable {
    pub fn new(faults: Arc<Faults>) -> MemoryTable {
        MemoryTable {
            items: Arc::new(Mutex::new(BTreeMap::new())),
            inserted: Arc::new(Mutex::new(Vec::new())),
            faults,
        }
    }

    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }

    /// Store `account` as `rappel-admin put-account` would (no fault injected), with its
    /// webhook secrets sealed by `keys`.
    pub fn put_account(&self, account: &Account) {
        let mut settings = account.clone();
        let secrets = std::mem::take(&mut settings.webhook_secrets);
        let sealed = (!secrets.is_empty())
            .then(|| FakeKeys::seal_text(&serde_json::to_string(&secrets).unwrap()));
        let item = AccountItem {
            pk: account_pk(&account.account_id),
            sk: ACCOUNT_SK.into(),
            account_id: account.account_id.clone(),
            settings: serde_json::to_string(&settings).unwrap(),
            secret_providers: secrets.keys().cloned().collect(),
            webhook_secrets: sealed,
            updated_at: "2026-01-01T00:00:00Z".into(),
        };
        self.insert_raw(to_value(&item));
        if let Some(wrapped) = &account.caller_hash_key {
            self.insert_raw(to_value(&HashKeyItem {
                pk: account_pk(&account.account_id),
                sk: HASH_KEY_SK.into(),
                wrapped: wrapped.clone(),
                created_at: "2026-01-01T00:00:00Z".into(),
            }));
        }
        if let Some(code) = &account.short_code {
            self.insert_raw(to_value(&ReplyItem {
                pk: reply_pk(code),
                sk: account_pk(&account.account_id),
                account_id: account.account_id.clone(),
            }));
        }
    }

    /// Store any JSON item as it is (an item the code may not be able to read).
    pub fn insert_raw(&self, item: Value) {
        let key = key_of(&item);
        if self
            .items
            .lock()
            .unwrap()
            .insert(key.clone(), item)
            .is_none()
        {
            self.inserted.lock().unwrap().push(key);
        }
    }

    /// Keys of the items created since index `from` of the insert log (the stream's
    /// `INSERT` records), and the new end of the log.
    pub fn inserted_since(&self, from: usize) -> (Vec<(String, String)>, usize) {
        let log = self.inserted.lock().unwrap();
        (log[from.min(log.len())..].to_vec(), log.len())
    }

    /// The item `pk`/`sk` as stored.
    pub fn raw(&self, pk: &str, sk: &str) -> Option<Value> {
        self.items
            .lock()
            .unwrap()
            .get(&(pk.to_string(), sk.to_string()))
            .cloned()
    }

    /// Every item, in key order.
    pub fn all(&self) -> Vec<Value> {
        self.items.lock().unwrap().values().cloned().collect()
    }

    /// Every item whose SK starts with `prefix`, read as `T` (panics on unreadable items).
    pub fn of<T: DeserializeOwned>(&self, prefix: &str) -> Vec<T> {
        self.all()
            .iter()
            .filter(|i| str_of(i, "SK").is_some_and(|sk| sk.starts_with(prefix)))
            .map(|i| read(i).expect("readable item"))
            .collect()
    }

    /// The calls of all accounts.
    pub fn calls(&self) -> Vec<CallItem> {
        self.of(CALL_PREFIX)
    }

    /// The messages of all accounts.
    pub fn messages(&self) -> Vec<MessageItem> {
        self.of(MSG_PREFIX)
    }

    /// The day reservations (SKs).
    pub fn days(&self) -> Vec<String> {
        self.all()
            .iter()
            .filter_map(|i| {
                str_of(i, "SK")
                    .filter(|sk| sk.starts_with("DAY#"))
                    .map(str::to_string)
            })
            .collect()
    }

    /// `PutItem` unless the key is taken (one port call): `true` when written.
    fn put_if_absent(&self, item: Value) -> Result<bool, PortError> {
        self.faults.run("dynamodb.PutItem", || {
            let key = key_of(&item);
            Ok(self
                .transact(
                    |items| items.contains_key(&key).then_some(0),
                    vec![Write::Put(item)],
                )
                .is_ok())
        })
    }

    fn get(&self, pk: &str, sk: &str) -> Option<Value> {
        self.raw(pk, sk)
    }

    /// Check `conditions` (index, holds) in order; if all hold, apply `writes` atomically.
    /// Returns the index of the first failed condition.
    fn transact(
        &self,
        check: impl FnOnce(&BTreeMap<Key, Value>) -> Option<usize>,
        writes: Vec<Write>,
    ) -> Result<(), usize> {
        let mut items = self.items.lock().unwrap();
        if let Some(failed) = check(&items) {
            return Err(failed);
        }
        for write in writes {
            match write {
                Write::Put(item) => {
                    let key = key_of(&item);
                    if items.insert(key.clone(), item).is_none() {
                        self.inserted.lock().unwrap().push(key);
                    }
                }
                Write::Delete(key) => {
                    items.remove(&key);
                }
                Write::UpdateIfExists(key, f) => {
                    if let Some(item) = items.get_mut(&key) {
                        f(item);
                    }
                }
                Write::Update(key, f) => {
                    let item = items
                        .entry(key.clone())
                        .or_insert_with(|| json!({"PK": key.0, "SK": key.1}));
                    f(item);
                }
            }
        }
        Ok(())
    }

    fn gsi(&self, gsi1pk: &str, upto: &str, after: Option<&str>) -> Vec<Value> {
        let items = self.items.lock().unwrap();
        let mut found: Vec<Value> = items
            .values()
            .filter(|i| str_of(i, GSI1PK) == Some(gsi1pk))
            .filter(|i| {
                str_of(i, GSI1SK).is_some_and(|sk| sk <= upto && after.is_none_or(|a| sk > a))
            })
            .cloned()
            .collect();
        found.sort_by(|a, b| str_of(a, GSI1SK).cmp(&str_of(b, GSI1SK)));
        found
    }

    fn call_outcome_update(
        outcome: Outcome,
        reason: Reason,
        now: DateTime<Utc>,
        sent: Option<(DateTime<Utc>, bool)>,
    ) -> Box<dyn FnOnce(&mut Value) + Send> {
        Box::new(move |call: &mut Value| {
            call["outcome"] = json!(outcome.as_str());
            call["reason"] = json!(reason.as_str());
            call["decided_at"] = json!(ts(now));
            if let Some((at, shred)) = sent {
                call["sent_at"] = json!(ts(at));
                if shred {
                    call.as_object_mut().unwrap().remove("number");
                }
            }
        })
    }
}

fn queue_entry(item: &Value) -> QueueEntry {
    match read::<MessageItem>(item) {
        Ok(msg) => Ok((msg.account_id, msg.message_id)),
        Err(_) => {
            let (pk, sk) = key_of(item);
            Err(format!("{pk}/{sk}"))
        }
    }
}

fn remove(item: &mut Value, names: &[&str]) {
    if let Some(map) = item.as_object_mut() {
        for name in names {
            map.remove(*name);
        }
    }
}

impl AccountStore for MemoryTable {
    async fn get_account(&self, account_id: &str) -> Result<Option<Account>, PortError> {
        Ok(self.get_account_sealed(account_id).await?.map(|(a, _)| a))
    }

    async fn get_account_sealed(
        &self,
        account_id: &str,
    ) -> Result<Option<(Account, Option<String>)>, PortError> {
        self.faults.run("dynamodb.GetItem", || {
            let Some(item) = self.get(&account_pk(account_id), ACCOUNT_SK) else {
                return Ok(None);
            };
            let item: AccountItem = read(&item)?;
            let key = format!("{}/{ACCOUNT_SK}", item.pk);
            let mut account = Account::from_stored_json(&item.settings)
                .map_err(|e| PortError::unreadable("dynamodb", &key, e))?;
            for provider in &item.secret_providers {
                account
                    .webhook_secrets
                    .insert(provider.clone(), Secrets::Many(Vec::new()));
            }
            account.caller_hash_key = self
                .get(&account_pk(account_id), HASH_KEY_SK)
                .and_then(|k| k["wrapped"].as_str().map(str::to_string));
            Ok(Some((account, item.webhook_secrets)))
        })
    }
}

impl CallStore for MemoryTable {
    async fn put_call(&self, call: &CallItem) -> Result<bool, PortError> {
        let item = to_value(call);
        self.put_if_absent(item)
    }

    async fn put_leg(&self, leg: &LegItem) -> Result<(), PortError> {
        let item = to_value(leg);
        let key = key_of(&item);
        let now = DateTime::parse_from_rfc3339(&leg.received_at).map_or(0, |t| t.timestamp());
        self.faults.run("dynamodb.PutItem", || {
            // Written unless a live leg holds the key (an expired one is replaced).
            let _ = self.transact(
                |items| {
                    items
                        .get(&key)
                        .is_some_and(|old| old["expires_at"].as_i64().is_none_or(|e| e > now))
                        .then_some(0)
                },
                vec![Write::Put(item.clone())],
            );
            Ok(())
        })
    }

    async fn get_leg(
        &self,
        account_id: &str,
        provider: &str,
        key: &str,
    ) -> Result<Option<LegItem>, PortError> {
        self.faults.run("dynamodb.GetItem", || {
            self.get(&account_pk(account_id), &leg_sk(provider, key))
                .map(|i| read(&i))
                .transpose()
        })
    }

    async fn put_pending(&self, pending: &CallItem) -> Result<(), PortError> {
        let item = to_value(pending);
        self.put_if_absent(item).map(drop)
    }

    async fn get_pending(
        &self,
        account_id: &str,
        provider: &str,
        key: &str,
    ) -> Result<Option<CallItem>, PortError> {
        self.faults.run("dynamodb.GetItem", || {
            self.get(&account_pk(account_id), &pending_sk(provider, key))
                .map(|i| read(&i))
                .transpose()
        })
    }

    async fn delete_pending(&self, account_id: &str, pending_sk: &str) -> Result<(), PortError> {
        let key = (account_pk(account_id), pending_sk.to_string());
        self.faults.run("dynamodb.DeleteItem", || {
            let _ = self.transact(|_| None, vec![Write::Delete(key)]);
            Ok(())
        })
    }
}

impl DecisionStore for MemoryTable {
    async fn record_decision(
        &self,
        call: &CallItem,
        outcome: Outcome,
        reason: Reason,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let key = (call.pk.clone(), call.sk.clone());
        self.faults.run("dynamodb.UpdateItem", || {
            let check_key = key.clone();
            Ok(self
                .transact(
                    |items| match items.get(&check_key) {
                        Some(c) if c.get("outcome").is_none() => None,
                        _ => Some(0),
                    },
                    vec![Write::Update(
                        key,
                        Box::new(move |c| {
                            c["outcome"] = json!(outcome.as_str());
                            c["reason"] = json!(reason.as_str());
                            c["decided_at"] = json!(ts(now));
                            remove(c, &[GSI1PK, GSI1SK, "number"]);
                        }),
                    )],
                )
                .is_ok())
        })
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
        let pk = account_pk(&msg.account_id);
        let day = to_value(&DayItem::new(
            &pk,
            &msg.day_sk,
            &msg.message_id,
            msg.expires_at,
        ));
        let day_key = key_of(&day);
        let optout_key = (pk.clone(), optout_sk(&msg.caller_hash));
        let call_key = (call.pk.clone(), call.sk.clone());
        let contact_key = (pk.clone(), contact_sk(&msg.caller_hash));
        let cap_key = (pk.clone(), cap_sk(cap.day));
        let limit = u64::from(cap.limit);
        let happened = call.happened_at.clone();
        let (message_id, due_at) = (msg.message_id.clone(), msg.due_at.clone());
        let msg_value = to_value(msg);
        let link_value = to_value(link);
        let (msg_key, link_key) = (key_of(&msg_value), key_of(&link_value));
        let optout_link = to_value(&OptOutLinkItem::beside(link, msg.due_instant()));
        let cap_expires = crate::retention::after_day(cap.day, crate::retention::CAP_DAYS);
        let result = self.faults.run("dynamodb.TransactWriteItems", || {
            Ok(self.transact(
                |items| {
                    // A call already decided is reported first (as the adapter does).
                    match items.get(&call_key) {
                        Some(c) if c.get("outcome").is_none() => {}
                        _ => return Some(2),
                    }
                    if items.contains_key(&day_key) {
                        return Some(0);
                    }
                    if items.contains_key(&optout_key) {
                        return Some(1);
                    }
                    if items
                        .get(&contact_key)
                        .and_then(|c| str_of(c, "last_contact_at"))
                        .is_some_and(|at| at >= happened.as_str())
                    {
                        return Some(3);
                    }
                    if items
                        .get(&cap_key)
                        .and_then(|c| c["count"].as_u64())
                        .is_some_and(|n| n >= limit)
                    {
                        return Some(4);
                    }
                    if items.contains_key(&msg_key) {
                        return Some(5);
                    }
                    if items.contains_key(&link_key) {
                        return Some(6);
                    }
                    None
                },
                vec![
                    Write::Put(day),
                    Write::Update(
                        call_key.clone(),
                        Box::new(move |c| {
                            c["outcome"] = json!(Outcome::Scheduled.as_str());
                            c["reason"] = json!(reason.as_str());
                            c["decided_at"] = json!(ts(now));
                            c["message_id"] = json!(message_id);
                            c["due_at"] = json!(due_at);
                            remove(c, &[GSI1PK, GSI1SK, "number"]);
                        }),
                    ),
                    Write::Update(
                        cap_key.clone(),
                        Box::new(move |c| {
                            let n = c["count"].as_u64().unwrap_or(0);
                            c["count"] = json!(n + 1);
                            if c.get("expires_at").is_none() {
                                c["expires_at"] = json!(cap_expires);
                            }
                        }),
                    ),
                    Write::Put(msg_value),
                    Write::Put(link_value),
                    Write::Put(optout_link),
                ],
            ))
        })?;
        match result {
            Ok(()) => Ok(()),
            Err(0) => Err(ScheduleError::AlreadyTextedToday),
            Err(1) => Err(ScheduleError::OptedOut),
            Err(2) => Err(ScheduleError::AlreadyDecided),
            Err(3) => Err(ScheduleError::HumanContact),
            Err(4) => Err(ScheduleError::DailyCap),
            Err(_) => Err(ScheduleError::Port(PortError::new(
                "dynamodb",
                "message or link id already taken",
            ))),
        }
    }

    async fn record_contact(
        &self,
        account_id: &str,
        hash: &str,
        contact: &Contact,
    ) -> Result<(), PortError> {
        let key = (account_pk(account_id), contact_sk(hash));
        let at = ts(contact.at);
        let reason = contact.reason;
        let expires = (contact.at + chrono::Duration::days(CONTACT_RETENTION_DAYS)).timestamp();
        self.faults.run("dynamodb.UpdateItem", || {
            let check_key = key.clone();
            let check_at = at.clone();
            let _ = self.transact(
                |items| {
                    items
                        .get(&check_key)
                        .and_then(|c| str_of(c, "last_contact_at"))
                        .is_some_and(|known| known >= check_at.as_str())
                        .then_some(0)
                },
                vec![Write::Update(
                    key,
                    Box::new(move |c| {
                        c["last_contact_at"] = json!(at);
                        c["reason"] = json!(reason.as_str());
                        c["expires_at"] = json!(expires);
                    }),
                )],
            );
            Ok(())
        })
    }

    async fn last_contact(
        &self,
        account_id: &str,
        hash: &str,
    ) -> Result<Option<Contact>, PortError> {
        self.faults.run("dynamodb.GetItem", || {
            let Some(item) = self.get(&account_pk(account_id), &contact_sk(hash)) else {
                return Ok(None);
            };
            let item: ContactItem = read(&item)?;
            let at = DateTime::parse_from_rfc3339(&item.last_contact_at)
                .map_err(|e| PortError::unreadable("dynamodb", &item.sk, e))?
                .with_timezone(&Utc);
            Ok(Some(Contact {
                at,
                reason: item.reason,
            }))
        })
    }

    async fn cancel_pending_before(
        &self,
        account_id: &str,
        hash: &str,
        reason: Reason,
        contact_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Cancelled>, PortError> {
        let pk = account_pk(account_id);
        let prefix = day_prefix(hash);
        let days: Vec<Value> = self.faults.run("dynamodb.Query", || {
            Ok(self
                .all()
                .into_iter()
                .filter(|i| {
                    str_of(i, "PK") == Some(pk.as_str())
                        && str_of(i, "SK").is_some_and(|sk| sk.starts_with(&prefix))
                })
                .collect())
        })?;
        let mut cancelled = Vec::new();
        for day in days {
            let day: DayItem = read(&day)?;
            let msg = self.faults.run("dynamodb.GetItem", || {
                self.get(&pk, &msg_sk(&day.message_id))
                    .map(|m| read::<MessageItem>(&m))
                    .transpose()
            })?;
            let Some(msg) = msg else { continue };
            if msg.status != MessageStatus::Scheduled {
                continue;
            }
            let happened = msg
                .call_happened_at
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            if happened.is_some_and(|at| at > contact_at) {
                continue;
            }
            let msg_key = (pk.clone(), msg.sk.clone());
            let check_key = msg_key.clone();
            let done = self.faults.run("dynamodb.TransactWriteItems", || {
                Ok(self
                    .transact(
                        |items| {
                            let current = items.get(&check_key);
                            (current.and_then(|m| str_of(m, "status"))
                                != Some(MessageStatus::Scheduled.as_str())
                                || current.and_then(|m| str_of(m, "day_sk"))
                                    != Some(msg.day_sk.as_str()))
                            .then_some(0)
                        },
                        vec![
                            Write::Update(
                                msg_key,
                                Box::new(move |m| {
                                    m["status"] = json!(MessageStatus::Cancelled.as_str());
                                    m["reason"] = json!(reason.as_str());
                                    remove(m, &[GSI1PK, GSI1SK, "number"]);
                                }),
                            ),
                            Write::Delete((pk.clone(), msg.day_sk.clone())),
                            Write::UpdateIfExists(
                                (pk.clone(), msg.call_sk.clone()),
                                MemoryTable::call_outcome_update(
                                    Outcome::Cancelled,
                                    reason,
                                    now,
                                    None,
                                ),
                            ),
                        ],
                    )
                    .is_ok())
            })?;
            if done {
                cancelled.push(Cancelled {
                    message_id: msg.message_id,
                    call_sk: msg.call_sk,
                });
            }
        }
        Ok(cancelled)
    }

    async fn undecided(
        &self,
        shard: u32,
        before: DateTime<Utc>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Result<CallItem, String>>, Option<String>), PortError> {
        self.faults.run("dynamodb.Query", || {
            let found = self.gsi(&undecided_pk(shard), &format!("{}~", ts(before)), after);
            let more = found.len() > limit;
            let page: Vec<Value> = found.into_iter().take(limit).collect();
            let next = (more || page.len() == limit)
                .then(|| {
                    page.last()
                        .and_then(|i| str_of(i, GSI1SK))
                        .map(str::to_string)
                })
                .flatten();
            let entries = page
                .iter()
                .map(|i| {
                    read(i).map_err(|_| {
                        let (pk, sk) = key_of(i);
                        format!("{pk}/{sk}")
                    })
                })
                .collect();
            Ok((entries, next))
        })
    }

    async fn promote_pending(
        &self,
        pending: &CallItem,
        shards: u32,
    ) -> Result<CallItem, PortError> {
        let call = call_from_pending(pending, shards);
        let item = to_value(&call);
        self.put_if_absent(item).map(drop)?;
        CallStore::delete_pending(self, &pending.account_id, &pending.sk).await?;
        Ok(call)
    }
}

impl Outbox for MemoryTable {
    async fn due(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<DuePage, PortError> {
        self.faults.run("dynamodb.Query", || {
            let found = self.gsi(&due_pk(shard), &format!("{}~", ts(now)), after);
            let more = found.len() > limit;
            let page: Vec<Value> = found.into_iter().take(limit).collect();
            let next = if more || page.len() == limit {
                page.last()
                    .and_then(|i| str_of(i, GSI1SK))
                    .map(str::to_string)
            } else {
                None
            };
            Ok(DuePage {
                entries: page.iter().map(queue_entry).collect(),
                next,
            })
        })
    }

    async fn stale_sending(
        &self,
        shard: u32,
        before: DateTime<Utc>,
    ) -> Result<Vec<QueueEntry>, PortError> {
        self.faults.run("dynamodb.Query", || {
            Ok(self
                .gsi(&sending_pk(shard), &format!("{}~", ts(before)), None)
                .iter()
                .take(100)
                .map(queue_entry)
                .collect())
        })
    }

    async fn claim(
        &self,
        account_id: &str,
        message_id: &str,
        claim_token: &str,
        shards: u32,
        now: DateTime<Utc>,
    ) -> Result<Option<MessageItem>, PortError> {
        let key = (account_pk(account_id), msg_sk(message_id));
        let token = claim_token.to_string();
        let gpk = sending_pk(shard_of(message_id, shards));
        let gsk = due_sk(now, message_id);
        self.faults.run("dynamodb.UpdateItem", || {
            let mut items = self.items.lock().unwrap();
            let Some(item) = items.get_mut(&key) else {
                return Ok(None);
            };
            let status = str_of(item, "status").unwrap_or_default();
            let due = str_of(item, "due_at").unwrap_or_default();
            if status == MessageStatus::Scheduled.as_str() && due <= ts(now).as_str() {
                item["status"] = json!(MessageStatus::Sending.as_str());
                item[GSI1PK] = json!(gpk);
                item[GSI1SK] = json!(gsk);
                item["claimed_at"] = json!(ts(now));
                item["claim_token"] = json!(token);
                return read(item).map(Some);
            }
            if status == MessageStatus::Sending.as_str()
                && str_of(item, "claim_token") == Some(token.as_str())
            {
                return read(item).map(Some);
            }
            Ok(None)
        })
    }

    async fn get_message(
        &self,
        account_id: &str,
        message_id: &str,
    ) -> Result<Option<MessageItem>, PortError> {
        self.faults.run("dynamodb.GetItem", || {
            self.get(&account_pk(account_id), &msg_sk(message_id))
                .map(|m| read(&m))
                .transpose()
        })
    }

    async fn finish(
        &self,
        msg: &MessageItem,
        end: Finish<'_>,
        now: DateTime<Utc>,
        shred: bool,
    ) -> Result<bool, PortError> {
        let pk = account_pk(&msg.account_id);
        let (status, outcome, reason, sns) = match end {
            Finish::Sent {
                sns_message_id,
                reason,
            } => (
                MessageStatus::Sent,
                Outcome::Sent,
                reason,
                Some(sns_message_id.to_string()),
            ),
            Finish::Cancelled(r) => (MessageStatus::Cancelled, Outcome::Cancelled, r, None),
            Finish::Expired(r) => (MessageStatus::Expired, Outcome::Expired, r, None),
            Finish::Failed(r) => (MessageStatus::Failed, Outcome::Failed, r, None),
        };
        let sent = sns.is_some();
        let msg_key = (pk.clone(), msg.sk.clone());
        let check_key = msg_key.clone();
        let mut writes = vec![
            Write::Update(
                msg_key,
                Box::new(move |m| {
                    m["status"] = json!(status.as_str());
                    m["reason"] = json!(reason.as_str());
                    m["finished_at"] = json!(ts(now));
                    if let Some(sns) = sns {
                        m["sent_at"] = json!(ts(now));
                        m["sns_message_id"] = json!(sns);
                        if shred {
                            remove(m, &["number"]);
                        }
                    } else {
                        // Ends unsent: the sealed number has no use left.
                        remove(m, &["number"]);
                    }
                    remove(m, &[GSI1PK, GSI1SK]);
                }),
            ),
            Write::Update(
                (pk.clone(), msg.call_sk.clone()),
                MemoryTable::call_outcome_update(
                    outcome,
                    reason,
                    now,
                    sent.then_some((now, shred)),
                ),
            ),
        ];
        if end.frees_day() {
            writes.push(Write::Delete((pk, msg.day_sk.clone())));
        }
        self.faults.run("dynamodb.TransactWriteItems", || {
            Ok(self
                .transact(
                    |items| {
                        (items.get(&check_key).and_then(|m| str_of(m, "status"))
                            != Some(MessageStatus::Sending.as_str()))
                        .then_some(0)
                    },
                    writes,
                )
                .is_ok())
        })
    }

    async fn reschedule(
        &self,
        msg: &MessageItem,
        due_at: DateTime<Utc>,
        day_sk: &str,
        shards: u32,
    ) -> Result<bool, PortError> {
        let pk = account_pk(&msg.account_id);
        let msg_key = (pk.clone(), msg.sk.clone());
        let check_key = msg_key.clone();
        let new_day_key = (pk.clone(), day_sk.to_string());
        let moves = day_sk != msg.day_sk;
        let due = ts(due_at);
        let (gpk, gsk) = (
            due_pk(shard_of(&msg.message_id, shards)),
            due_sk(due_at, &msg.message_id),
        );
        let new_day = day_sk.to_string();
        let due_for_call = due.clone();
        let mut writes = vec![
            Write::Update(
                msg_key,
                Box::new(move |m| {
                    m["status"] = json!(MessageStatus::Scheduled.as_str());
                    m["due_at"] = json!(due);
                    m["day_sk"] = json!(new_day);
                    m[GSI1PK] = json!(gpk);
                    m[GSI1SK] = json!(gsk);
                }),
            ),
            Write::UpdateIfExists(
                (pk.clone(), msg.call_sk.clone()),
                Box::new(move |c| c["due_at"] = json!(due_for_call)),
            ),
        ];
        if moves {
            writes.push(Write::Put(to_value(&DayItem::new(
                &pk,
                &day_sk,
                &msg.message_id,
                msg.expires_at,
            ))));
            writes.push(Write::Delete((pk, msg.day_sk.clone())));
        }
        let result = self.faults.run("dynamodb.TransactWriteItems", || {
            Ok(self.transact(
                |items| {
                    if items.get(&check_key).and_then(|m| str_of(m, "status"))
                        != Some(MessageStatus::Sending.as_str())
                    {
                        return Some(0);
                    }
                    (moves && items.contains_key(&new_day_key)).then_some(2)
                },
                writes,
            ))
        })?;
        match result {
            Ok(()) => Ok(true),
            Err(2) => Ok(false),
            Err(_) => {
                Err(PortError::new("dynamodb", "message no longer claimed")
                    .applied(Applied::Refused))
            }
        }
    }

    async fn release(
        &self,
        msg: &MessageItem,
        retry_at: DateTime<Utc>,
        shards: u32,
    ) -> Result<bool, PortError> {
        let key = (account_pk(&msg.account_id), msg.sk.clone());
        let check_key = key.clone();
        let due = ts(retry_at);
        let (gpk, gsk) = (
            due_pk(shard_of(&msg.message_id, shards)),
            due_sk(retry_at, &msg.message_id),
        );
        self.faults.run("dynamodb.UpdateItem", || {
            Ok(self
                .transact(
                    |items| {
                        (items.get(&check_key).and_then(|m| str_of(m, "status"))
                            != Some(MessageStatus::Sending.as_str()))
                        .then_some(0)
                    },
                    vec![Write::Update(
                        key,
                        Box::new(move |m| {
                            m["status"] = json!(MessageStatus::Scheduled.as_str());
                            m["due_at"] = json!(due);
                            m[GSI1PK] = json!(gpk);
                            m[GSI1SK] = json!(gsk);
                            let n = m["attempts"].as_u64().unwrap_or(0);
                            m["attempts"] = json!(n + 1);
                        }),
                    )],
                )
                .is_ok())
        })
    }

    async fn caller_state(&self, account_id: &str, hash: &str) -> Result<CallerState, PortError> {
        self.faults.run("dynamodb.BatchGetItem", || {
            let pk = account_pk(account_id);
            let last_contact = match self.get(&pk, &contact_sk(hash)) {
                Some(item) => {
                    let item: ContactItem = read(&item)?;
                    let at = DateTime::parse_from_rfc3339(&item.last_contact_at)
                        .map_err(|e| PortError::unreadable("dynamodb", &item.sk, e))?
                        .with_timezone(&Utc);
                    Some(Contact {
                        at,
                        reason: item.reason,
                    })
                }
                None => None,
            };
            Ok(CallerState {
                opted_out: self.get(&pk, &optout_sk(hash)).is_some(),
                last_contact,
            })
        })
    }

    async fn put_opt_out(
        &self,
        account_id: &str,
        hash: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let item = to_value(&OptOutItem::new(account_id, hash, source, now));
        self.put_if_absent(item).map(drop)
    }
}

impl OptOutStore for MemoryTable {
    async fn reply_accounts(&self, short_code: &str) -> Result<Vec<String>, PortError> {
        self.faults.run("dynamodb.Query", || {
            let pk = reply_pk(short_code);
            let mut ids: Vec<String> = self
                .all()
                .into_iter()
                .filter(|item| item[PK] == pk.as_str())
                .filter_map(|item| item["account_id"].as_str().map(str::to_string))
                .collect();
            ids.sort();
            Ok(ids)
        })
    }

    async fn record_opt_out(
        &self,
        account_id: &str,
        hash: &str,
        source: OptOutSource,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let item = to_value(&OptOutItem::new(account_id, hash, source.as_str(), now));
        // One PutItem, as the adapter (put_if_absent is that call).
        self.put_if_absent(item)
    }
}

// ------------------------------------------------------------------------------------ KMS

/// Number sealing, hashing and secrets, in memory: a reversible, non-clear encoding (not
/// cryptography: a fake), and an HMAC-SHA-256 hash keyed per account.
#[derive(Clone)]
pub struct FakeKeys {
    faults: Arc<Faults>,
}

impl FakeKeys {
    pub fn new(faults: Arc<Faults>) -> FakeKeys {
        FakeKeys { faults }
    }

    /// The fake's sealed form of a text: `fake:` + hex of its bytes XOR 0x5A.
    pub fn seal_text(text: &str) -> String {
        format!(
            "fake:{}",
            hex::encode(text.bytes().map(|b| b ^ 0x5A).collect::<Vec<u8>>())
        )
    }

    fn open_text(sealed: &str) -> Option<String> {
        let bytes = hex::decode(sealed.strip_prefix("fake:")?).ok()?;
        String::from_utf8(bytes.into_iter().map(|b| b ^ 0x5A).collect()).ok()
    }
}

impl NumberProtector for FakeKeys {
    async fn seal(&self, _account_id: &str, number: &E164) -> Result<String, PortError> {
        self.faults.run("kms.GenerateDataKey", || {
            Ok(FakeKeys::seal_text(number.expose()))
        })
    }

    /// HMAC-SHA-256 under a fixed fake key. An account with a caller-hash key hashes locally
    /// (no fault point: no KMS call on a warm container); one without goes through the
    /// `kms.GenerateMac` fault point.
    async fn hash(&self, account: &Account, number: &E164) -> Result<String, PortError> {
        use hmac::Mac;
        let account_id = account.account_id.as_str();
        let fault = if account.caller_hash_key.is_some() {
            "kms.hash-local"
        } else {
            "kms.GenerateMac"
        };
        self.faults.run(fault, || {
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"fake hash key")
                .expect("any key length");
            mac.update(account_id.as_bytes());
            mac.update(b"|");
            mac.update(number.expose().as_bytes());
            Ok(hex::encode(mac.finalize().into_bytes()))
        })
    }
}

impl NumberOpener for FakeKeys {
    async fn open(&self, _account_id: &str, sealed: &str) -> Result<E164, PortError> {
        self.faults.run("kms.Decrypt", || {
            FakeKeys::open_text(sealed)
                .map(E164::from_e164_unchecked)
                .ok_or_else(|| {
                    PortError::new("kms", "InvalidCiphertextException").applied(Applied::Refused)
                })
        })
    }
}

impl CallbackNumberSealer for FakeKeys {
    async fn seal_callback_number(
        &self,
        _account_id: &str,
        number: &E164,
    ) -> Result<String, PortError> {
        self.faults.run("kms.GenerateDataKey", || {
            Ok(format!("cb-{}", FakeKeys::seal_text(number.expose())))
        })
    }
}

impl SecretsVault for FakeKeys {
    async fn new_caller_hash_key(&self, account_id: &str) -> Result<String, PortError> {
        self.faults.run("kms.GenerateDataKey", || {
            Ok(FakeKeys::seal_text(&format!("hash-key:{account_id}")))
        })
    }

    async fn seal_secrets(&self, _account_id: &str, plaintext: &str) -> Result<String, PortError> {
        self.faults
            .run("kms.GenerateDataKey", || Ok(FakeKeys::seal_text(plaintext)))
    }

    async fn open_secrets(&self, _account_id: &str, sealed: &str) -> Result<String, PortError> {
        self.faults.run("kms.Decrypt", || {
            FakeKeys::open_text(sealed).ok_or_else(|| {
                PortError::new("kms", "InvalidCiphertextException").applied(Applied::Refused)
            })
        })
    }
}

// ------------------------------------------------------------------------------------ SNS

/// An SMS the fake carrier accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSms {
    /// When it was accepted (the fake clock).
    pub at: DateTime<Utc>,
    /// E.164 (test numbers only).
    pub to: String,
    pub sender_id: String,
    pub body: String,
    pub message_id: String,
}

/// SMS in memory: records what was published; numbers in [`FakeSms::opt_out`] (and, like
/// moto, numbers ending in `99`) are opted out at the carrier.
#[derive(Clone)]
pub struct FakeSms {
    faults: Arc<Faults>,
    clock: FakeClock,
    sent: Arc<Mutex<Vec<SentSms>>>,
    opted_out: Arc<Mutex<BTreeSet<String>>>,
    /// The next Publish is refused with this service message (e.g. SNS's
    /// `Invalid parameter: PhoneNumber Reason: +33… is not valid to publish to`).
    refuse_next: Arc<Mutex<Option<String>>>,
}

impl FakeSms {
    pub fn new(faults: Arc<Faults>, clock: FakeClock) -> FakeSms {
        FakeSms {
            faults,
            clock,
            sent: Arc::default(),
            opted_out: Arc::default(),
            refuse_next: Arc::default(),
        }
    }

    pub fn sent(&self) -> Vec<SentSms> {
        self.sent.lock().unwrap().clone()
    }

    pub fn opt_out(&self, e164: &str) {
        self.opted_out.lock().unwrap().insert(e164.to_string());
    }

    pub fn refuse_next(&self, service_message: &str) {
        *self.refuse_next.lock().unwrap() = Some(service_message.to_string());
    }
}

impl SmsGateway for FakeSms {
    async fn is_opted_out(&self, to: &E164) -> Result<bool, PortError> {
        self.faults.run("sns.CheckIfPhoneNumberIsOptedOut", || {
            Ok(to.expose().ends_with("99") || self.opted_out.lock().unwrap().contains(to.expose()))
        })
    }

    async fn publish(
        &self,
        to: &E164,
        from: &crate::account::Originator,
        body: &str,
    ) -> Result<String, PortError> {
        self.faults.run("sns.Publish", || {
            if let Some(message) = self.refuse_next.lock().unwrap().take() {
                return Err(
                    PortError::new("sns", format!("InvalidParameter: {message}"))
                        .applied(Applied::Refused),
                );
            }
            let mut sent = self.sent.lock().unwrap();
            let message_id = format!("sns-{}", sent.len() + 1);
            sent.push(SentSms {
                at: crate::ports::Clock::now(&self.clock),
                to: to.expose().to_string(),
                sender_id: from.as_str().to_string(),
                body: body.to_string(),
                message_id: message_id.clone(),
            });
            Ok(message_id)
        })
    }
}

// ------------------------------------------------------------------------------------ events

/// Events in memory.
#[derive(Clone)]
pub struct FakeEvents {
    faults: Arc<Faults>,
    events: Arc<Mutex<Vec<(String, Value)>>>,
}

impl FakeEvents {
    pub fn new(faults: Arc<Faults>) -> FakeEvents {
        FakeEvents {
            faults,
            events: Arc::default(),
        }
    }

    /// (detail-type, detail) of every event put, in order.
    pub fn all(&self) -> Vec<(String, Value)> {
        self.events.lock().unwrap().clone()
    }

    /// The details of the events of `detail_type`.
    pub fn of(&self, detail_type: &str) -> Vec<Value> {
        self.all()
            .into_iter()
            .filter(|(t, _)| t == detail_type)
            .map(|(_, d)| d)
            .collect()
    }

    /// Take the `MessageDue` events put so far (what the EventBridge rule would deliver).
    pub fn take_due(&self) -> Vec<Value> {
        let mut events = self.events.lock().unwrap();
        let mut due = Vec::new();
        for (t, d) in events.iter_mut() {
            if t == crate::ports::detail_type::MESSAGE_DUE {
                due.push(d.clone());
                *t = format!("{t} (delivered)");
            }
        }
        due
    }
}

impl EventPublisher for FakeEvents {
    async fn put(&self, detail_type: &str, detail: Value) -> Result<(), PortError> {
        self.faults.run("eventbridge.PutEvents", || {
            self.events
                .lock()
                .unwrap()
                .push((detail_type.to_string(), detail));
            Ok(())
        })
    }
}

// ------------------------------------------------------------------------------------ clock

/// A clock tests move by hand. Clones share the same instant.
#[derive(Clone)]
pub struct FakeClock(Arc<Mutex<DateTime<Utc>>>);

impl FakeClock {
    pub fn at(start: DateTime<Utc>) -> FakeClock {
        FakeClock(Arc::new(Mutex::new(start)))
    }
    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap() = to;
    }
    pub fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl crate::ports::Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

// ------------------------------------------------------------------------------------ checks

/// Every notation a number may take in a text: E.164, digits only, national with and without
/// spaces, international with spaces, URL-encoded. For "no number in clear" scans (promise 3).
pub fn notations(e164: &str) -> Vec<String> {
    let digits = e164.trim_start_matches('+').to_string();
    let mut out = vec![e164.to_string(), digits.clone(), format!("%2B{digits}")];
    if let Some(national) = digits.strip_prefix("33") {
        let national = format!("0{national}");
        let spaced: Vec<String> = national
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        out.push(spaced.join(" "));
        out.push(national);
        out.push(format!("+33 {} {}", &digits[2..3], spaced[1..].join(" ")));
    }
    out
}

/// The first notation of one of `numbers` found in `text`, if any.
pub fn find_number<'a>(text: &str, numbers: &'a [&'a str]) -> Option<(&'a str, String)> {
    numbers.iter().find_map(|n| {
        notations(n)
            .into_iter()
            .find(|form| text.contains(form.as_str()))
            .map(|form| (*n, form))
    })
}

/// Log lines written while the returned guard lives on this thread (JSON, as on Lambda).
///
/// One global subscriber (installed on first use, every level) writes each line to the buffer
/// of the thread that logged it, if that thread is capturing: a per-thread default subscriber
/// would let a test running at the same time without one cache "disabled" for a log site.
pub fn capture_logs() -> (LogBuffer, CaptureGuard) {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(|| ThreadWriter)
            .finish();
        // A test binary that installed its own global subscriber keeps it.
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
    let buffer = LogBuffer::default();
    let previous = CAPTURE.with(|c| c.replace(Some(buffer.clone())));
    (buffer, CaptureGuard { previous })
}

thread_local! {
    static CAPTURE: std::cell::RefCell<Option<LogBuffer>> = const { std::cell::RefCell::new(None) };
}

/// Stops [`capture_logs`] on this thread when dropped.
pub struct CaptureGuard {
    previous: Option<LogBuffer>,
}

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CAPTURE.with(|c| *c.borrow_mut() = previous);
    }
}

/// Writes to the capturing buffer of the current thread, if any.
struct ThreadWriter;

impl std::io::Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some(buffer) = c.borrow_mut().as_mut() {
                buffer.write_all(buf)?;
            }
            Ok(buf.len())
        })
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A shared buffer of log output.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
