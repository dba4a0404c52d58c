//! The table's privacy operations: opt-outs from every channel, the short-code index, and
//! data-subject requests (RGPD art. 15 access, art. 17 erasure).

use super::table::{Item, SERVICE, delete, from_item, put, s, sent, to_item};
use super::{Table, sdk_error};
use crate::items::*;
use crate::ports::PortError;
use crate::store::OptOutStore;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Everything the table holds about one number for one account, found by its keyed hash:
/// every item whose `caller_hash`, `PK` or `SK` carries it, expired or not (an expired item
/// DynamoDB has not deleted yet is still held). Items as stored (sealed numbers sealed).
#[derive(Debug, Clone, Default, Serialize)]
pub struct SubjectData {
    pub calls: Vec<serde_json::Value>,
    pub messages: Vec<serde_json::Value>,
    /// Booking links and opt-out links (`LINK#…`).
    pub links: Vec<serde_json::Value>,
    /// Bookings with their consent records.
    pub bookings: Vec<serde_json::Value>,
    pub opt_outs: Vec<serde_json::Value>,
    /// Day reservations, last contacts, remembered legs, pending events.
    pub other: Vec<serde_json::Value>,
}

impl SubjectData {
    /// Every item, in the order above.
    pub fn all_mut(&mut self) -> impl Iterator<Item = &mut serde_json::Value> {
        self.calls
            .iter_mut()
            .chain(self.messages.iter_mut())
            .chain(self.links.iter_mut())
            .chain(self.bookings.iter_mut())
            .chain(self.opt_outs.iter_mut())
            .chain(self.other.iter_mut())
    }

    /// How many items were found.
    pub fn len(&self) -> usize {
        self.calls.len()
            + self.messages.len()
            + self.links.len()
            + self.bookings.len()
            + self.opt_outs.len()
            + self.other.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What `subject erase` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SubjectErased {
    /// Items deleted (with them, every sealed number: the data key that opened it was stored
    /// only inside the item, so deleting the item crypto-shreds the number).
    pub deleted: usize,
    /// Whether the opt-out tombstone was kept (it holds the hash only, so the opt-out holds).
    pub opt_out_kept: bool,
    /// Day reservations still in force kept until they expire (≤ 3 days, hash only), so that
    /// a new call the same day cannot bring a second SMS (promise 1). None when the person
    /// opted out: no SMS will be sent anyway.
    pub day_reservations_kept: usize,
}

impl Table {
    /// The account ids indexed under `short_code`.
    pub async fn reply_accounts(&self, short_code: &str) -> Result<Vec<String>, PortError> {
        let mut ids: Vec<String> = self
            .query_prefix(reply_pk(short_code), "ACCOUNT#")
            .await?
            .into_iter()
            .map(from_item::<ReplyItem>)
            .map(|r| r.map(|r| r.account_id))
            .collect::<Result<_, _>>()?;
        ids.sort();
        Ok(ids)
    }

    /// The writes that index `account_id` under short code `new` and out of `old` (when the
    /// short code changed), to run in the account's own transaction.
    pub(super) fn short_code_writes(
        &self,
        account_id: &str,
        old: Option<&str>,
        new: Option<&str>,
    ) -> Result<Vec<TransactWriteItem>, PortError> {
        let mut writes = Vec::new();
        if let Some(code) = new {
            let item = ReplyItem {
                pk: reply_pk(code),
                sk: account_pk(account_id),
                account_id: account_id.to_string(),
            };
            writes.push(put(&self.name, to_item(&item)?, None)?);
        }
        if let Some(code) = old.filter(|old| Some(*old) != new) {
            writes.push(delete(
                &self.name,
                &reply_pk(code),
                &account_pk(account_id),
            )?);
        }
        Ok(writes)
    }

    /// Record an opt-out tombstone; `true` when it is new (the first one is kept).
    pub async fn record_opt_out(
        &self,
        account_id: &str,
        hash: &str,
        source: OptOutSource,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let item = OptOutItem::new(account_id, hash, source.as_str(), now);
        self.put_if_absent(to_item(&item)?).await
    }

    /// Remove an opt-out tombstone (the person asked to receive SMS again); `true` when one
    /// existed.
    pub async fn remove_opt_out(&self, account_id: &str, hash: &str) -> Result<bool, PortError> {
        let out = sent(
            self.client
                .delete_item()
                .table_name(&self.name)
                .key(PK, s(account_pk(account_id)))
                .key(SK, s(optout_sk(hash)))
                .return_values(ReturnValue::AllOld)
                .send()
                .await,
        )?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    /// The account's booking records (with consent, cancelled ones included).
    pub async fn bookings(&self, account_id: &str) -> Result<Vec<BookingItem>, PortError> {
        self.query_prefix(account_pk(account_id), BOOKING_PREFIX)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    /// The account's opt-outs (hashes, sources and dates; never a number).
    pub async fn opt_outs(&self, account_id: &str) -> Result<Vec<OptOutItem>, PortError> {
        self.query_prefix(account_pk(account_id), "OPTOUT#")
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    /// Every item about `hash` in `account_id` (see [`SubjectData`]). A full, paged scan: a
    /// data-subject request is rare, and only a scan is sure to find every copy (an opt-out
    /// link outlives the message that created it).
    pub async fn subject_data(
        &self,
        account_id: &str,
        hash: &str,
    ) -> Result<SubjectData, PortError> {
        let mut data = SubjectData::default();
        for item in self.subject_items(account_id, hash).await? {
            let sk = match item.get(SK) {
                Some(AttributeValue::S(sk)) => sk.clone(),
                _ => String::new(),
            };
            let value: serde_json::Value = serde_dynamo::from_item(item)
                .map_err(|e| PortError::new(SERVICE, format!("item: {e}")))?;
            let bucket = if sk.starts_with(CALL_PREFIX) {
                &mut data.calls
            } else if sk.starts_with(MSG_PREFIX) {
                &mut data.messages
            } else if sk == LINK_SK || sk == OPTOUT_LINK_SK {
                &mut data.links
            } else if sk.starts_with(BOOKING_PREFIX) || sk.starts_with(CALLBACK_NUMBER_PREFIX) {
                &mut data.bookings
            } else if sk.starts_with("OPTOUT#") {
                &mut data.opt_outs
            } else {
                &mut data.other
            };
            bucket.push(value);
        }
        Ok(data)
    }

    /// Delete every item about `hash` in `account_id` except its opt-out tombstone and, when
    /// there is none, its day reservations still in force at `now` (see [`SubjectErased`]).
    /// Each item is one `DeleteItem`: an interrupted erase is finished by running it again.
    pub async fn erase_subject(
        &self,
        account_id: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<SubjectErased, PortError> {
        let tombstone = optout_sk(hash);
        let items = self.subject_items(account_id, hash).await?;
        let opted_out = items
            .iter()
            .any(|i| matches!(i.get(SK), Some(AttributeValue::S(sk)) if *sk == tombstone));
        let mut erased = SubjectErased::default();
        for item in items {
            let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) =
                (item.get(PK), item.get(SK))
            else {
                continue;
            };
            if *sk == tombstone {
                erased.opt_out_kept = true;
                continue;
            }
            let live = match item.get(EXPIRES_AT) {
                Some(AttributeValue::N(n)) => {
                    n.parse().is_ok_and(|e| crate::retention::is_live(e, now))
                }
                _ => false,
            };
            if sk.starts_with("DAY#") && !opted_out && live {
                erased.day_reservations_kept += 1;
                continue;
            }
            sent(
                self.client
                    .delete_item()
                    .table_name(&self.name)
                    .key(PK, s(pk))
                    .key(SK, s(sk))
                    .send()
                    .await,
            )?;
            erased.deleted += 1;
        }
        Ok(erased)
    }

    /// Scan for items of `account_id` carrying `hash` (in `caller_hash`, `PK` or `SK`).
    async fn subject_items(&self, account_id: &str, hash: &str) -> Result<Vec<Item>, PortError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.name)
                .filter_expression(
                    "(caller_hash = :h OR contains(SK, :h) OR contains(PK, :h)) \
                     AND (account_id = :a OR PK = :pk)",
                )
                .expression_attribute_values(":h", s(hash))
                .expression_attribute_values(":a", s(account_id))
                .expression_attribute_values(":pk", s(account_pk(account_id)))
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
}

impl OptOutStore for Table {
    async fn reply_accounts(&self, short_code: &str) -> Result<Vec<String>, PortError> {
        Table::reply_accounts(self, short_code).await
    }
    async fn record_opt_out(
        &self,
        account_id: &str,
        hash: &str,
        source: OptOutSource,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        Table::record_opt_out(self, account_id, hash, source, now).await
    }
}
