//! The table operations the booking page uses, as a port ([`BookingStore`]) implemented by the
//! DynamoDB adapter and faked in tests.

use chrono::{DateTime, Utc};
use rappel::account::Account;
use rappel::aws::Table;
use rappel::items::{BookingItem, CallbackNumberItem, LinkItem, OptOutLinkItem, OptOutSource};
use rappel::ports::PortError;
use rappel::rules::Reason;
use rappel::store::BookOutcome;
use std::future::Future;

// ------------------------------------------------------------------------------- storage port

/// The table operations this function uses (implemented by [`Table`]; faked in tests).
pub trait BookingStore: Send + Sync {
    /// The link `token`, `None` when unknown.
    fn link(&self, token: &str)
    -> impl Future<Output = Result<Option<LinkItem>, PortError>> + Send;
    /// The validated account, `None` when unknown.
    fn account(
        &self,
        account_id: &str,
    ) -> impl Future<Output = Result<Option<Account>, PortError>> + Send;
    /// The masked caller number of message `message_id` (`+33 6•• •• •• 01`), if known.
    fn caller_masked(
        &self,
        account_id: &str,
        message_id: &str,
    ) -> impl Future<Output = Result<Option<String>, PortError>> + Send;
    /// The opt-out link `token` (kept a year after the booking link), `None` when unknown.
    fn optout_link(
        &self,
        token: &str,
    ) -> impl Future<Output = Result<Option<OptOutLinkItem>, PortError>> + Send;
    /// Whether caller `hash` opted out of `account_id`.
    fn is_opted_out(
        &self,
        account_id: &str,
        hash: &str,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
    /// Book unless already booked, keeping `record` (booking + consent record) and `number`
    /// (another number to call, sealed) and counting it in its slot unless the slot holds
    /// `capacity` callbacks already: all of it or nothing.
    fn book(
        &self,
        token: &str,
        record: &BookingItem,
        number: Option<&CallbackNumberItem>,
        capacity: u32,
    ) -> impl Future<Output = Result<BookOutcome, PortError>> + Send;
    /// Callbacks booked per slot start of `account_id`, for slots starting in `[from, to]`.
    fn slot_counts(
        &self,
        account_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<(DateTime<Utc>, u32)>, PortError>> + Send;
    /// Move the booking of `record` (its current slot) to `slot` unless that slot holds
    /// `capacity` callbacks already.
    fn reschedule_booking(
        &self,
        token: &str,
        record: &BookingItem,
        slot: DateTime<Utc>,
        capacity: u32,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<BookOutcome, PortError>> + Send;
    /// Cancel the booking of `record` (kept as evidence, without its other number to call);
    /// `false` when it was no longer there.
    fn cancel_booking(
        &self,
        token: &str,
        record: &BookingItem,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
    /// Withdraw `record` from link `token` (only that booking, with its other number to call):
    /// used when the business could not be told, so that the prospect's retry books and
    /// tells again.
    fn unbook(
        &self,
        token: &str,
        record: &BookingItem,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Record the first opening of message `message_id`'s link; `true` the first time.
    fn mark_opened(
        &self,
        account_id: &str,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
    /// Count one form post on link `token` in the window starting at `window`; the posts
    /// counted in that window so far.
    fn rate_hit(
        &self,
        token: &str,
        window: DateTime<Utc>,
    ) -> impl Future<Output = Result<u32, PortError>> + Send;
    /// The prospect was in contact at `now` (a visit of the link): their bookings are kept 3
    /// years from now. Returns how many.
    fn touch_bookings(
        &self,
        account_id: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<usize, PortError>> + Send;
    /// Record the opt-out of caller `hash` (source `link`; idempotent); `true` when new.
    fn put_opt_out(
        &self,
        account_id: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
    /// Mark the link as used to opt out (first instant kept).
    fn mark_link_opted_out(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Cancel the caller's scheduled messages (reason `opted_out`); returns how many.
    fn cancel_pending(
        &self,
        account_id: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<usize, PortError>> + Send;
}

impl BookingStore for Table {
    async fn link(&self, token: &str) -> Result<Option<LinkItem>, PortError> {
        self.get_link(token).await
    }
    async fn account(&self, account_id: &str) -> Result<Option<Account>, PortError> {
        self.get_account(account_id).await
    }
    async fn caller_masked(
        &self,
        account_id: &str,
        message_id: &str,
    ) -> Result<Option<String>, PortError> {
        Ok(self
            .get_message(account_id, message_id)
            .await?
            .and_then(|m| m.caller_masked))
    }
    async fn optout_link(&self, token: &str) -> Result<Option<OptOutLinkItem>, PortError> {
        self.get_optout_link(token).await
    }
    async fn is_opted_out(&self, account_id: &str, hash: &str) -> Result<bool, PortError> {
        Table::is_opted_out(self, account_id, hash).await
    }
    async fn book(
        &self,
        token: &str,
        record: &BookingItem,
        number: Option<&CallbackNumberItem>,
        capacity: u32,
    ) -> Result<BookOutcome, PortError> {
        Table::book(self, token, record, number, capacity).await
    }
    async fn slot_counts(
        &self,
        account_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, u32)>, PortError> {
        Table::slot_counts(self, account_id, from, to).await
    }
    async fn unbook(&self, token: &str, record: &BookingItem) -> Result<(), PortError> {
        Table::unbook(self, token, record).await
    }
    async fn reschedule_booking(
        &self,
        token: &str,
        record: &BookingItem,
        slot: DateTime<Utc>,
        capacity: u32,
        now: DateTime<Utc>,
    ) -> Result<BookOutcome, PortError> {
        Table::reschedule_booking(self, token, record, slot, capacity, now).await
    }
    async fn cancel_booking(
        &self,
        token: &str,
        record: &BookingItem,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        Table::cancel_booking(self, token, record, now).await
    }
    async fn rate_hit(&self, token: &str, window: DateTime<Utc>) -> Result<u32, PortError> {
        Table::rate_hit(self, token, window).await
    }
    async fn touch_bookings(
        &self,
        account_id: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, PortError> {
        Table::touch_bookings(self, account_id, hash, now).await
    }
    async fn mark_opened(
        &self,
        account_id: &str,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        Table::mark_opened(self, account_id, message_id, now).await
    }
    async fn put_opt_out(
        &self,
        account_id: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        Table::record_opt_out(self, account_id, hash, OptOutSource::Link, now).await
    }
    async fn mark_link_opted_out(&self, token: &str, now: DateTime<Utc>) -> Result<(), PortError> {
        Table::mark_link_opted_out(self, token, now).await
    }
    async fn cancel_pending(
        &self,
        account_id: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, PortError> {
        Ok(
            Table::cancel_pending(self, account_id, hash, Reason::OptedOut, now)
                .await?
                .len(),
        )
    }
}
