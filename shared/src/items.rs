//! The single DynamoDB table: key names, key builders and one struct per item type.
//!
//! Keys (docs/architecture.md, "The table"): `PK`/`SK`; sparse `GSI1` (`GSI1PK`/`GSI1SK`) holds the due queue
//! (`DUE#{shard}` / `{due_at}#{message_id}`) and in-flight sends (`SENDING#{shard}`);
//! `expires_at` (epoch seconds) is the TTL attribute. Instants are RFC 3339 UTC strings, which
//! sort lexicographically in time order (always written with [`ts`]).

use crate::call::{CallStatus, Direction};
use crate::phone::LineType;
use crate::rules::{CallFacts, CallerFacts, Outcome, Reason};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const EXPIRES_AT: &str = "expires_at";

pub const ACCOUNT_SK: &str = "ACCOUNT";
pub const LINK_SK: &str = "LINK";
pub const CALL_PREFIX: &str = "CALL#";
pub const MSG_PREFIX: &str = "MSG#";

/// How long call and message items are kept ([`crate::retention::CALL_DAYS`]).
pub const RETENTION_DAYS: i64 = crate::retention::CALL_DAYS;
/// How long a booking link books after the SMS is due ([`crate::retention::LINK_VALID_DAYS`]).
pub const LINK_VALID_DAYS: i64 = crate::retention::LINK_VALID_DAYS;
/// Length of a form-post rate-limit window on one link, minutes.
pub const RATE_WINDOW_MINUTES: i64 = 10;
/// Form posts allowed on one link per window: a person changing their mind a few times stays
/// far below; a script hammering one token is stopped (429).
pub const RATE_LIMIT: u32 = 20;
/// Sort key of the opt-out link kept beside a booking link (`LINK#{token}` / `OPTOUT`).
pub const OPTOUT_LINK_SK: &str = "OPTOUT";
pub const BOOKING_PREFIX: &str = "BOOKING#";
/// Sort-key prefix of [`CallbackNumberItem`]s.
pub const CALLBACK_NUMBER_PREFIX: &str = "NUMBER#";

/// An instant as stored: RFC 3339, UTC, whole seconds, `Z` suffix.
pub fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn account_pk(account_id: &str) -> String {
    format!("ACCOUNT#{account_id}")
}
pub fn call_sk(provider: &str, call_id: &str) -> String {
    format!("{CALL_PREFIX}{provider}#{call_id}")
}
pub fn msg_sk(message_id: &str) -> String {
    format!("{MSG_PREFIX}{message_id}")
}
/// Daily dedup reservation of one caller (rule 3): `DAY#{hash}#{local date of the send}`.
pub fn day_sk(hash: &str, day: NaiveDate) -> String {
    format!("DAY#{hash}#{day}")
}
pub fn day_prefix(hash: &str) -> String {
    format!("DAY#{hash}#")
}
/// A remembered call leg ([`crate::providers::Leg`]): `LEG#{provider}#{key}`.
pub fn leg_sk(provider: &str, key: &str) -> String {
    format!("LEG#{provider}#{key}")
}
pub fn optout_sk(hash: &str) -> String {
    format!("OPTOUT#{hash}")
}
pub fn link_pk(token: &str) -> String {
    format!("LINK#{token}")
}
/// A booking and its consent record: `BOOKING#{hash}#{booking_id}` in the account's partition.
pub fn booking_sk(hash: &str, booking_id: &str) -> String {
    format!("{BOOKING_PREFIX}{hash}#{booking_id}")
}
/// Sort key of another number to call for booking `booking_id` ([`CallbackNumberItem`]).
pub fn callback_number_sk(hash: &str, booking_id: &str) -> String {
    format!("{CALLBACK_NUMBER_PREFIX}{hash}#{booking_id}")
}
pub fn booking_prefix(hash: &str) -> String {
    format!("{BOOKING_PREFIX}{hash}#")
}
/// An account's callbacks booked in one slot: `SLOT#{start, RFC 3339 UTC}`.
pub fn slot_sk(start: DateTime<Utc>) -> String {
    format!("SLOT#{}", ts(start))
}

/// The accounts that send from (and receive STOP replies on) a short code: `REPLY#{code}`
/// partition, one `ACCOUNT#{id}` item per account.
pub fn reply_pk(short_code: &str) -> String {
    format!("REPLY#{short_code}")
}
/// An event waiting for the earlier leg it needs: `PENDING#{provider}#{key}`.
pub fn pending_sk(provider: &str, key: &str) -> String {
    format!("{PENDING_PREFIX}{provider}#{key}")
}
pub const PENDING_PREFIX: &str = "PENDING#";

/// The call a pending event reads as: its own key, on the undecided index.
pub fn call_from_pending(pending: &CallItem, shards: u32) -> CallItem {
    let mut call = pending.clone();
    call.sk = call_sk(&call.provider, &call.call_id);
    call.gsi1pk = Some(undecided_pk(shard_of(&call.sk, shards)));
    call.gsi1sk = Some(undecided_sk(&call.received_at, &call.sk));
    // Kept as a call from when it was received (a pending event is kept less long).
    if let Ok(received) = DateTime::parse_from_rfc3339(&call.received_at) {
        call.expires_at =
            crate::retention::expires(received.with_timezone(&Utc), crate::retention::CALL_DAYS);
    }
    call
}

/// Last human contact with a caller (rule 5): `CONTACT#{hash}`.
pub fn contact_sk(hash: &str) -> String {
    format!("CONTACT#{hash}")
}
/// An account's SMS counter for one of its local days: `CAP#{date}`.
pub fn cap_sk(day: NaiveDate) -> String {
    format!("CAP#{day}")
}
/// Stored calls without an outcome (sparse GSI1): `UNDECIDED#{shard}`.
pub fn undecided_pk(shard: u32) -> String {
    format!("UNDECIDED#{shard}")
}
/// Undecided-index sort key: `{received_at}#{call SK}`.
pub fn undecided_sk(received_at: &str, call_sk: &str) -> String {
    format!("{received_at}#{call_sk}")
}
pub fn due_pk(shard: u32) -> String {
    format!("DUE#{shard}")
}
pub fn sending_pk(shard: u32) -> String {
    format!("SENDING#{shard}")
}
/// Due-queue sort key: `{due_at}#{message_id}`.
pub fn due_sk(due_at: DateTime<Utc>, message_id: &str) -> String {
    format!("{}#{message_id}", ts(due_at))
}
/// The due-queue shard of a message (stable, spreads writes over `shards` partitions).
pub fn shard_of(message_id: &str, shards: u32) -> u32 {
    let sum = message_id.bytes().fold(0u32, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u32::from(b))
    });
    sum % shards.max(1)
}

/// An account's settings (the validated JSON of [`crate::account::Account`], without its
/// webhook secrets) and its webhook secrets, sealed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub account_id: String,
    pub settings: String,
    /// Providers with a webhook secret (names only).
    #[serde(default)]
    pub secret_providers: Vec<String>,
    /// The `webhook_secrets` JSON, KMS envelope-sealed under the secrets key with encryption
    /// context `account_id` + `purpose=webhook-secrets` ([`crate::crypto::Sealed::encode`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secrets: Option<String>,
    pub updated_at: String,
}

/// Sort key of an account's caller-hash key item (`ACCOUNT#{id}` / `HASHKEY`).
pub const HASH_KEY_SK: &str = "HASHKEY";

/// An account's caller-hash key, wrapped by KMS under the secrets key
/// ([`crate::account::Account::caller_hash_key`]). Its own item, written once with the
/// account's creation (both or neither) and never again: writing the account's settings,
/// by any version of any tool, cannot drop or change it. Absent for accounts created before
/// per-account keys. Kept until the account is deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HashKeyItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    /// Base64 of the KMS `CiphertextBlob` (context `account_id` + `purpose=caller-hash-key`).
    pub wrapped: String,
    pub created_at: String,
}

/// One call as stored by intake and decided by eligibility. Never holds a number in clear:
/// `number` is the sealed envelope, `caller_hash` the keyed hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub account_id: String,
    pub provider: String,
    pub call_id: String,
    pub direction: Direction,
    pub status: CallStatus,
    pub provider_status: String,
    /// `withheld`, `invalid` or `number`.
    pub caller: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_type: Option<LineType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_hash: Option<String>,
    /// Masked number for humans (`+33 6•• •• •• 01`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_masked: Option<String>,
    /// Sealed number ([`crate::crypto::Sealed::encode`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring_seconds: Option<u32>,
    pub received_at: String,
    /// When the call happened (ended, else started, else received), RFC 3339 UTC.
    pub happened_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// `UNDECIDED#{shard}` while the call has no outcome (removed with the decision): the
    /// re-decide sweep finds calls a failed stream batch left behind (promise 2).
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    /// `{received_at}#{SK}` while undecided.
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    pub expires_at: i64,
}

impl CallItem {
    /// The facts [`crate::rules::decide`] needs.
    pub fn facts(&self) -> CallFacts {
        let caller = match (self.caller.as_str(), &self.caller_hash) {
            ("number", Some(hash)) => CallerFacts::Number {
                line_type: self.line_type.unwrap_or(LineType::Unknown),
                region: self.region.clone(),
                hash: hash.clone(),
            },
            ("withheld", _) => CallerFacts::Withheld,
            _ => CallerFacts::Invalid,
        };
        let happened_at = DateTime::parse_from_rfc3339(&self.happened_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        CallFacts {
            direction: self.direction,
            status: self.status,
            caller,
            happened_at,
            ring_seconds: self.ring_seconds,
        }
    }
}

/// Status of an outbox message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Scheduled,
    Sending,
    Sent,
    Cancelled,
    Expired,
    Failed,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Scheduled => "scheduled",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Cancelled => "cancelled",
            MessageStatus::Expired => "expired",
            MessageStatus::Failed => "failed",
        }
    }
}

/// One SMS to send (the outbox). Written with its day reservation and link in one transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub account_id: String,
    pub message_id: String,
    pub status: MessageStatus,
    /// SK of the call that caused it.
    pub call_sk: String,
    pub caller_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_masked: Option<String>,
    /// Sealed number; removed after sending when the account shreds numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// SK of the day reservation (deleted if the message is cancelled or expires).
    pub day_sk: String,
    /// Recipient's region (`FR`, `RE`...): the sender re-checks their sending window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// When the call that caused it happened (RFC 3339 UTC): human contact before that
    /// instant does not cancel it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_happened_at: Option<String>,
    pub token: String,
    pub due_at: String,
    pub send_before: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sns_message_id: Option<String>,
    /// When the prospect first opened its booking link (RFC 3339 UTC): the funnel's step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// Failed attempts before Publish (each put back on the queue with a backoff).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// The token of the sender that claimed it (recognises a claim whose answer was lost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_token: Option<String>,
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    pub expires_at: i64,
}

impl MessageItem {
    /// The instant the message is due (`due_at`); the Unix epoch if unreadable.
    pub fn due_instant(&self) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&self.due_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A booking made on the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    pub booking_id: String,
    /// Chosen slot start, RFC 3339 UTC.
    pub slot: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Another number the prospect asked to be called on, masked (`+33 6•• •• •• 12`); the
    /// number itself is sealed in its own item ([`CallbackNumberItem`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_number: Option<String>,
    pub booked_at: String,
}

/// The booking link sent in the SMS: `LINK#{token}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub account_id: String,
    pub message_id: String,
    pub call_sk: String,
    pub caller_hash: String,
    /// Instant after which the page answers 410 (RFC 3339 UTC).
    pub valid_until: String,
    /// The prospect's region (`FR`, `RE`...): the page shows slots in its zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booking: Option<Booking>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opted_out_at: Option<String>,
    pub expires_at: i64,
}

/// A caller who opted out of an account's SMS. Kept without TTL (a tombstone honoured for as
/// long as the account exists, and kept by `subject erase`): only the keyed hash is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptOutItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub caller_hash: String,
    /// Where it came from: [`OptOutSource`] as a string (`link`, `sms_reply`, `carrier_list`,
    /// `carrier`, `admin`).
    pub source: String,
    pub opted_out_at: String,
}

impl OptOutItem {
    /// The tombstone of `hash` in `account_id`, recorded at `now` from `source`.
    pub fn new(account_id: &str, hash: &str, source: &str, now: DateTime<Utc>) -> OptOutItem {
        OptOutItem {
            pk: account_pk(account_id),
            sk: optout_sk(hash),
            caller_hash: hash.to_string(),
            source: source.to_string(),
            opted_out_at: ts(now),
        }
    }
}

/// Where an opt-out came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptOutSource {
    /// The booking page or the `{optout}` link.
    Link,
    /// A STOP reply received by the inbound-sms function.
    SmsReply,
    /// A carrier STOP list imported with `rappel-admin opt-out import`.
    CarrierList,
    /// The carrier reported the number opted out when the sender checked it (SNS).
    Carrier,
    /// Recorded by an operator (`rappel-admin opt-out add`).
    Admin,
}

impl OptOutSource {
    pub fn as_str(self) -> &'static str {
        match self {
            OptOutSource::Link => "link",
            OptOutSource::SmsReply => "sms_reply",
            OptOutSource::CarrierList => "carrier_list",
            OptOutSource::Carrier => "carrier",
            OptOutSource::Admin => "admin",
        }
    }
}

/// The opt-out link of one SMS (`LINK#{token}` / `OPTOUT`): what the `{optout}` page needs
/// once the booking link has expired, and nothing more. Kept
/// [`crate::retention::OPTOUT_LINK_DAYS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptOutLinkItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub account_id: String,
    pub message_id: String,
    pub caller_hash: String,
    /// When it was first used to opt out (RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opted_out_at: Option<String>,
    pub expires_at: i64,
}

impl OptOutLinkItem {
    /// The opt-out link beside booking link `link`, kept from `due_at`.
    pub fn beside(link: &LinkItem, due_at: DateTime<Utc>) -> OptOutLinkItem {
        OptOutLinkItem {
            pk: link.pk.clone(),
            sk: OPTOUT_LINK_SK.into(),
            account_id: link.account_id.clone(),
            message_id: link.message_id.clone(),
            caller_hash: link.caller_hash.clone(),
            opted_out_at: None,
            expires_at: crate::retention::expires(due_at, crate::retention::OPTOUT_LINK_DAYS),
        }
    }
}

/// What the page showed when a prospect asked to be called back: the evidence of their
/// request (loi n° 2025-594, art. 3: prior consent to telephone canvassing must be provable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    /// The consent line as shown, word for word.
    pub text: String,
    /// Language of the page (`fr`, `en`).
    pub language: String,
    /// SHA-256 (hex, first 16 characters) of the page template that was shown.
    pub page_version: String,
}

/// A booking kept with its consent record (`BOOKING#{hash}#{booking_id}`), for
/// [`crate::retention::BOOKING_DAYS`] after the prospect's last contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub account_id: String,
    pub caller_hash: String,
    pub message_id: String,
    pub call_sk: String,
    pub booking: Booking,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentRecord>,
    /// The prospect's last contact (RFC 3339 UTC): the booking or a later visit of a link.
    pub last_contact_at: String,
    /// When the prospect cancelled it (RFC 3339 UTC); the record is kept as evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<String>,
    /// When the prospect last moved it to another slot (RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescheduled_at: Option<String>,
    pub expires_at: i64,
}

/// Another number a prospect asked to be called back on (`NUMBER#{hash}#{booking_id}`):
/// sealed with NumberKey under the account (like a caller's number), kept
/// [`crate::retention::CALLBACK_NUMBER_DAYS`] after the last instant its booking's slot can
/// start (the link's `valid_until`), deleted with a cancelled or withdrawn booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackNumberItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub account_id: String,
    pub caller_hash: String,
    pub booking_id: String,
    /// The sealed number ([`crate::crypto::Sealed::encode`]).
    pub number: String,
    /// The masked number, as the page and the event show it.
    pub masked: String,
    pub expires_at: i64,
}

/// How many callbacks an account booked in one slot (`SLOT#{start}`); no personal data. Kept
/// [`crate::retention::SLOT_DAYS`] after the slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    /// Signed: a booking made before counters existed, cancelled, takes it below zero (read
    /// as zero).
    pub count: i64,
    pub expires_at: i64,
}

/// An account that sends from a short code (`REPLY#{code}` / `ACCOUNT#{id}`): how a STOP
/// reply to that code finds the accounts it opts out of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub account_id: String,
}

/// The protected facts of a prospect's number, as intake computes them: what a call item and a
/// remembered leg both carry. Never the number in clear.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallerFields {
    /// `withheld`, `invalid` or `number`.
    pub caller: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_type: Option<LineType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_masked: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
}

impl CallerFields {
    /// The same facts without the sealed number: what a marker of several legs may carry.
    pub fn without_number(&self) -> CallerFields {
        CallerFields {
            number: None,
            ..self.clone()
        }
    }
}

/// A call leg remembered by intake for a later event of the same call (Vonage connect legs,
/// Telnyx hangups). Kept 2 days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub direction: Direction,
    #[serde(flatten)]
    pub caller: CallerFields,
    /// An outbound leg forwarding an inbound call of the same group: not decided on its own.
    #[serde(default)]
    pub forwarded: bool,
    /// The provider's group of legs this leg belongs to (Telnyx `call_session_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub received_at: String,
    pub expires_at: i64,
}

/// A day reservation (rule 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub message_id: String,
    pub expires_at: i64,
}

impl DayItem {
    /// The reservation `day_sk` (`DAY#{hash}#{date}`) for `message_id`, kept
    /// [`crate::retention::DAY_DAYS`] after its date (`fallback` TTL if the key has no date).
    pub fn new(pk: &str, day_sk: &str, message_id: &str, fallback: i64) -> DayItem {
        let expires_at = day_sk
            .rsplit('#')
            .next()
            .and_then(|d| d.parse::<NaiveDate>().ok())
            .map_or(fallback, |d| {
                crate::retention::after_day(d, crate::retention::DAY_DAYS)
            });
        DayItem {
            pk: pk.to_string(),
            sk: day_sk.to_string(),
            message_id: message_id.to_string(),
            expires_at,
        }
    }
}

/// The last human contact with a caller (rule 5), kept [`CONTACT_RETENTION_DAYS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    /// RFC 3339 UTC instant of the contact.
    pub last_contact_at: String,
    /// `answered_later` or `called_back`.
    pub reason: Reason,
    pub expires_at: i64,
}

/// How long a last-contact record is kept ([`crate::retention::CONTACT_DAYS`]).
pub const CONTACT_RETENTION_DAYS: i64 = crate::retention::CONTACT_DAYS;

/// An account's count of messages scheduled for one of its local days (`CAP#{date}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub count: u32,
    pub expires_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn keys_and_instants_have_stable_shapes() {
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 18, 30, 0).unwrap();
        assert_eq!(ts(at), "2026-11-27T18:30:00Z");
        assert_eq!(call_sk("twilio", "CA1#dial"), "CALL#twilio#CA1#dial");
        assert_eq!(
            day_sk("abc", NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()),
            "DAY#abc#2026-11-30"
        );
        assert_eq!(due_sk(at, "msg_1"), "2026-11-27T18:30:00Z#msg_1");
        assert!(shard_of("msg_0123", 4) < 4);
        assert_eq!(shard_of("msg_0123", 4), shard_of("msg_0123", 4));
        assert_eq!(shard_of("x", 0), 0);
    }
}
