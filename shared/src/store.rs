//! Ports for the table: what each function does with DynamoDB, as narrow traits.
//!
//! [`crate::aws::Table`] implements them with the SDK (feature `aws`); the in-memory fake
//! [`crate::fake::MemoryTable`] (feature `test-support`) implements the same semantics
//! (conditions, transactions, the sparse GSI) so that handlers are tested through their
//! `handle` without moto, and under injected faults. Every write that must not happen twice is
//! conditional, and every multi-item change is one transaction: docs/architecture.md lists
//! which write keeps which promise.

use crate::account::Account;
use crate::items::{CallItem, LegItem, LinkItem, MessageItem};
use crate::ports::PortError;
use crate::rules::{Outcome, Reason};
use chrono::{DateTime, Utc};
use std::future::Future;

/// Reading accounts (every function).
pub trait AccountStore: Send + Sync {
    /// The account `account_id`, validated; `None` when unknown. Its `webhook_secrets` hold
    /// the provider names only. Errors: [`PortError::unreadable`] for a stored account the
    /// code cannot read.
    fn get_account(
        &self,
        account_id: &str,
    ) -> impl Future<Output = Result<Option<Account>, PortError>> + Send;

    /// The account and its webhook secrets as stored: sealed under the secrets key, for
    /// intake to open.
    fn get_account_sealed(
        &self,
        account_id: &str,
    ) -> impl Future<Output = Result<Option<(Account, Option<String>)>, PortError>> + Send;
}

/// What webhook-intake writes: calls and remembered legs.
pub trait CallStore: Send + Sync {
    /// Store a call unless one with the same key exists (the provider's idempotency key).
    /// Returns `true` when stored, `false` on a redelivery (nothing changed).
    fn put_call(&self, call: &CallItem) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// Remember a call leg unless it is already known (first event wins).
    fn put_leg(&self, leg: &LegItem) -> impl Future<Output = Result<(), PortError>> + Send;

    /// A remembered call leg, if any.
    fn get_leg(
        &self,
        account_id: &str,
        provider: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<LegItem>, PortError>> + Send;

    /// Keep a call event that arrived before the earlier leg it needs (Vonage leg B, a Telnyx
    /// hangup before its `call.initiated`), as read so far, under `PENDING#{provider}#{key}`
    /// (its `sk`), on the undecided index: the leg completes it when it arrives, the re-decide
    /// sweep stores it as read if the leg never does. First one kept.
    fn put_pending(&self, pending: &CallItem)
    -> impl Future<Output = Result<(), PortError>> + Send;

    /// The pending event waiting for leg `key`, if any.
    fn get_pending(
        &self,
        account_id: &str,
        provider: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<CallItem>, PortError>> + Send;

    /// Forget a pending event (once its call is stored).
    fn delete_pending(
        &self,
        account_id: &str,
        pending_sk: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// What the table knows of a caller before a send: opt-out and last human contact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerState {
    pub opted_out: bool,
    pub last_contact: Option<Contact>,
}

/// The last human contact with a caller (rule 5): an answered inbound call or a call by the
/// business. A missed call that happened before it is not texted, whatever order the
/// webhooks arrive in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// When the contact happened (UTC).
    pub at: DateTime<Utc>,
    /// `answered_later` (the caller got through) or `called_back` (the business called).
    pub reason: Reason,
}

/// The account's daily SMS cap, checked in the scheduling transaction (case "a leaked
/// webhook secret texts any mobile in the business's name").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyCap {
    /// The account's local date of the send (`CAP#{date}`).
    pub day: chrono::NaiveDate,
    /// Most messages scheduled for that day.
    pub limit: u32,
}

/// Why scheduling a message was refused by its transaction (nothing was written).
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
    /// A human reached the caller after this call happened (rule 5).
    #[error("human contact after the call")]
    HumanContact,
    /// The account reached its daily SMS cap.
    #[error("account daily SMS cap reached")]
    DailyCap,
    #[error(transparent)]
    Port(#[from] PortError),
}

/// A message cancelled by [`DecisionStore::cancel_pending_before`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled {
    pub message_id: String,
    pub call_sk: String,
}

/// What eligibility does with the table.
pub trait DecisionStore: Send + Sync {
    /// Record a final decision on a call that has none yet (and take it off the undecided
    /// index). `false` if it already had one.
    fn record_decision(
        &self,
        call: &CallItem,
        outcome: Outcome,
        reason: Reason,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// Schedule an SMS in one transaction: reserve the caller's day (rule 3), check the
    /// caller has not opted out (rule 6) and had no human contact since the call (rule 5),
    /// count it against the account's daily cap, write the message (on the due queue) and
    /// its link, and record the decision on the call. Any condition failing leaves nothing
    /// written and says which (the first in that order).
    fn schedule(
        &self,
        call: &CallItem,
        msg: &MessageItem,
        link: &LinkItem,
        reason: Reason,
        cap: &DailyCap,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), ScheduleError>> + Send;

    /// Record human contact with caller `hash` at `contact.at` (kept if later than the one
    /// stored; an earlier one changes nothing).
    fn record_contact(
        &self,
        account_id: &str,
        hash: &str,
        contact: &Contact,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// The last human contact with caller `hash`, if any.
    fn last_contact(
        &self,
        account_id: &str,
        hash: &str,
    ) -> impl Future<Output = Result<Option<Contact>, PortError>> + Send;

    /// Cancel the scheduled messages to caller `hash` whose call happened before
    /// `contact_at` (rule 5, opt-out): each message → `cancelled`, its day reservation freed,
    /// its call → `cancelled`/`reason`. Messages already claimed by the sender are left alone.
    fn cancel_pending_before(
        &self,
        account_id: &str,
        hash: &str,
        reason: Reason,
        contact_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<Cancelled>, PortError>> + Send;

    /// Stored calls (and pending events) of `shard` without an outcome, received at or
    /// before `before` (UTC), oldest first, after cursor `after`, at most `limit`: what the
    /// re-decide sweep takes (promise 2); and the cursor of the next page. An item that cannot
    /// be read is returned as `Err` with its key, never fatal to its neighbours.
    fn undecided(
        &self,
        shard: u32,
        before: DateTime<Utc>,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<(Vec<Result<CallItem, String>>, Option<String>), PortError>> + Send;

    /// Store a pending event whose leg never came as the call it reads as (unless that call
    /// exists), and forget the pending item. Returns the call as stored.
    fn promote_pending(
        &self,
        pending: &CallItem,
        shards: u32,
    ) -> impl Future<Output = Result<CallItem, PortError>> + Send;
}

/// One entry of the due queue or the in-flight index: the message's keys, or the key of an
/// item that cannot be read (skipped, logged and counted: never fatal to its neighbours).
pub type QueueEntry = Result<(String, String), String>;

/// A page of the due queue: entries, and the cursor to pass for the next page (`None` at the
/// end).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DuePage {
    pub entries: Vec<QueueEntry>,
    pub next: Option<String>,
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

impl Finish<'_> {
    /// Whether the day reservation is freed: nothing left, so the day is not used up.
    /// A message that may have left (`send_interrupted`, `send_uncertain`) keeps it.
    pub fn frees_day(&self) -> bool {
        matches!(
            self,
            Finish::Cancelled(_)
                | Finish::Expired(_)
                | Finish::Failed(Reason::ProviderError | Reason::NumberUnavailable)
        )
    }
}

/// What the sender does with the table.
pub trait Outbox: Send + Sync {
    /// Entries of the due queue of `shard` due at or before `now`, after cursor `after`,
    /// at most `limit`.
    fn due(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<DuePage, PortError>> + Send;

    /// Messages claimed (status `sending`) before `before` in `shard`: a sender died between
    /// claim and record.
    fn stale_sending(
        &self,
        shard: u32,
        before: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<QueueEntry>, PortError>> + Send;

    /// Claim a scheduled message that is due at `now`: status → `sending` with `claim_token`,
    /// moved from the due queue to the in-flight index. `None` if it is not (or no longer)
    /// scheduled and due. Exactly one claimer wins; a claim whose answer was lost after it
    /// applied is recognised by its token.
    fn claim(
        &self,
        account_id: &str,
        message_id: &str,
        claim_token: &str,
        shards: u32,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<MessageItem>, PortError>> + Send;

    /// The message `message_id` of `account_id`.
    fn get_message(
        &self,
        account_id: &str,
        message_id: &str,
    ) -> impl Future<Output = Result<Option<MessageItem>, PortError>> + Send;

    /// Record the end of a claimed message and of its call, atomically; frees the day
    /// reservation when [`Finish::frees_day`]. `shred` removes the sealed number from both.
    /// `Ok(false)` when the message was no longer `sending` (already recorded).
    fn finish(
        &self,
        msg: &MessageItem,
        end: Finish<'_>,
        now: DateTime<Utc>,
        shred: bool,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// Put a claimed message back on the due queue at `due_at` (UTC) for local send day
    /// `day_sk`, in one transaction with its call's `due_at`. When `day_sk` differs from the
    /// message's, the reservation moves with it (old day freed, new day taken): `Ok(false)`
    /// and nothing changed when the new day is already taken (rule 3).
    fn reschedule(
        &self,
        msg: &MessageItem,
        due_at: DateTime<Utc>,
        day_sk: &str,
        shards: u32,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// Put a claimed message back on the due queue at `retry_at` after a failure before
    /// Publish (nothing was sent), counting the attempt. `Ok(false)` if it was no longer
    /// `sending`.
    fn release(
        &self,
        msg: &MessageItem,
        retry_at: DateTime<Utc>,
        shards: u32,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// Whether caller `hash` opted out of `account_id`, and their last human contact, read
    /// together (one consistent read of both items).
    fn caller_state(
        &self,
        account_id: &str,
        hash: &str,
    ) -> impl Future<Output = Result<CallerState, PortError>> + Send;

    /// Record an opt-out (idempotent: the first one is kept).
    fn put_opt_out(
        &self,
        account_id: &str,
        hash: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Opt-outs recorded outside the pipeline (STOP replies, carrier lists, operators), and the
/// short-code index that finds the accounts a reply concerns.
pub trait OptOutStore: Send + Sync {
    /// The accounts that send from `short_code` (`REPLY#{code}`), sorted.
    fn reply_accounts(
        &self,
        short_code: &str,
    ) -> impl Future<Output = Result<Vec<String>, PortError>> + Send;

    /// Record the opt-out tombstone `OPTOUT#{hash}` (idempotent: the first one is kept);
    /// `true` when it is new. The sender checks it before every send, including messages
    /// already deferred.
    fn record_opt_out(
        &self,
        account_id: &str,
        hash: &str,
        source: crate::items::OptOutSource,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
}

/// What booking a slot on a link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookOutcome {
    /// The new booking holds.
    Booked(crate::items::Booking),
    /// The link already had this booking (a resubmission, a concurrent tab): nothing changed.
    Held(crate::items::Booking),
    /// The slot reached its capacity meanwhile: nothing changed.
    SlotFull,
}
