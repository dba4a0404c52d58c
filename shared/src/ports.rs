//! Narrow ports the handlers depend on. The AWS adapters (feature `aws`) implement them with
//! the SDK; tests and the local runner wrap or fake them.

use crate::account::Account;
use crate::phone::E164;
use chrono::{DateTime, Utc};
use std::future::Future;

/// What a failed port call may have done, for the caller to choose between retrying,
/// giving up and reporting (docs/architecture.md, "Failure handling").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Applied {
    /// It certainly did not apply, and may succeed later: throttling, a connection that
    /// could not be made, a service error answered before any work (retry with a backoff).
    #[default]
    No,
    /// It certainly did not apply and will not on a retry: the service refused the request
    /// (invalid parameter, access denied, unknown key...).
    Refused,
    /// It may have applied: a timeout, a connection lost after the request was sent, a 5xx or
    /// an unreadable answer. A write seen this way must not be repeated blindly.
    Maybe,
}

/// An error from an adapter: which service failed, a message free of personal data (SDK
/// texts go through [`scrub`]), and whether the call may have applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{service}: {message}")]
pub struct PortError {
    pub service: &'static str,
    pub message: String,
    pub applied: Applied,
}

impl PortError {
    /// A port error that certainly did not apply ([`Applied::No`]); `message` is scrubbed.
    pub fn new(service: &'static str, message: impl Into<String>) -> PortError {
        PortError {
            service,
            message: scrub(&message.into()),
            applied: Applied::No,
        }
    }

    /// The same error, saying what the call may have done.
    pub fn applied(mut self, applied: Applied) -> PortError {
        self.applied = applied;
        self
    }

    /// An item exists but cannot be read by this version of the code (an unknown `reason`
    /// after a rollback, a hand-edited account). `key` names it (`PK`/`SK`, never a number).
    pub fn unreadable(
        service: &'static str,
        key: &str,
        detail: impl std::fmt::Display,
    ) -> PortError {
        PortError::new(service, format!("unreadable item {key}: {detail}"))
            .applied(Applied::Refused)
    }

    /// Whether this error says an item could not be read (see [`PortError::unreadable`]).
    pub fn is_unreadable(&self) -> bool {
        self.message.starts_with("unreadable item ")
    }
}

/// Remove anything that looks like a phone number from a text that came from outside
/// (an SDK or service error message) before it is logged or stored (promise 3). SNS, for one,
/// answers `Invalid parameter: PhoneNumber Reason: +33… is not valid to publish to`.
///
/// Every run of 6 or more digits, possibly with a leading `+` or `00` and separated by spaces,
/// dots, dashes, slashes or parentheses, becomes `[number]`; URL-encoded `%2B` counts as `+`.
/// Shorter digit runs (HTTP status codes, counts, years) are kept.
pub fn scrub(text: &str) -> String {
    let text = text.replace("%2B", "+").replace("%2b", "+");
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() || (c == '+' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            // Extend over digits and separators; count digits.
            let mut j = i;
            let mut digits = 0;
            let mut last_digit = i;
            while j < chars.len() {
                let d = chars[j];
                if d.is_ascii_digit() {
                    digits += 1;
                    last_digit = j;
                } else if !(matches!(d, ' ' | '.' | '-' | '/' | '(' | ')') || (d == '+' && j == i))
                {
                    break;
                }
                j += 1;
            }
            if digits >= 6 {
                out.push_str("[number]");
                i = last_digit + 1;
                continue;
            }
            out.extend(&chars[i..=last_digit.max(i)]);
            i = last_digit.max(i) + 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Current instant (UTC). Injected so decisions are testable and the local stack can simulate time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Protecting a number at intake: envelope encryption and keyed hash (rule 7, docs/architecture.md).
pub trait NumberProtector: Send + Sync {
    /// Seal `number` for `account_id` (KMS `GenerateDataKey` with encryption context
    /// `account_id`, then AES-256-GCM). Returns [`crate::crypto::Sealed::encode`]'s string.
    fn seal(
        &self,
        account_id: &str,
        number: &E164,
    ) -> impl Future<Output = Result<String, PortError>> + Send;
    /// Keyed hash of a caller in `account`: HMAC-SHA-256 over `account_id` NUL E.164, lower-case
    /// hex ([`crate::crypto::caller_hash`]). Under the account's own caller-hash key
    /// ([`Account::caller_hash_key`], opened once per container: no KMS call per number), or
    /// KMS `GenerateMac` under the deployment's HMAC key for an account created before those
    /// keys. The same person gets different hashes in different accounts, and the same hash
    /// in one account for its whole life.
    fn hash(
        &self,
        account: &Account,
        number: &E164,
    ) -> impl Future<Output = Result<String, PortError>> + Send;
}

/// Opening a sealed number (sender only: the one function allowed to `kms:Decrypt`).
pub trait NumberOpener: Send + Sync {
    fn open(
        &self,
        account_id: &str,
        sealed: &str,
    ) -> impl Future<Output = Result<E164, PortError>> + Send;
}

/// Sealing another number a prospect asks to be called on (booking only): KMS envelope under
/// the number key with encryption context `account_id` + `purpose=callback-number`
/// ([`crate::crypto::CALLBACK_NUMBER_PURPOSE`]), associated data `{account_id}\0callback-number`,
/// so that the role placing callbacks can open these and no caller's number.
pub trait CallbackNumberSealer: Send + Sync {
    fn seal_callback_number(
        &self,
        account_id: &str,
        number: &E164,
    ) -> impl Future<Output = Result<String, PortError>> + Send;
}

/// Sealing and opening an account's webhook secrets (KMS envelope under the secrets key,
/// encryption context `account_id` + `purpose=webhook-secrets`), and creating its caller-hash
/// key. Admin tools seal and create; only intake opens secrets.
pub trait SecretsVault: Send + Sync {
    /// A new caller-hash key for `account_id`, as the account item keeps it (KMS
    /// `GenerateDataKey` AES_256 under the secrets key, context `account_id` +
    /// `purpose=caller-hash-key`; base64 of the wrapped key: the plaintext is dropped).
    fn new_caller_hash_key(
        &self,
        account_id: &str,
    ) -> impl Future<Output = Result<String, PortError>> + Send;
    fn seal_secrets(
        &self,
        account_id: &str,
        plaintext: &str,
    ) -> impl Future<Output = Result<String, PortError>> + Send;
    fn open_secrets(
        &self,
        account_id: &str,
        sealed: &str,
    ) -> impl Future<Output = Result<String, PortError>> + Send;
}

/// Sending SMS (SNS).
pub trait SmsGateway: Send + Sync {
    /// Whether the carrier reports the number as opted out (a STOP reply).
    fn is_opted_out(&self, to: &E164) -> impl Future<Output = Result<bool, PortError>> + Send;
    /// Publish one transactional SMS from `from` (sender ID or short code); returns the
    /// provider's message id.
    fn publish(
        &self,
        to: &E164,
        from: &crate::account::Originator,
        body: &str,
    ) -> impl Future<Output = Result<String, PortError>> + Send;
}

/// Putting events on the Rappel bus (source `rappel`).
pub trait EventPublisher: Send + Sync {
    fn put(
        &self,
        detail_type: &str,
        detail: serde_json::Value,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Event detail-types Rappel emits.
pub mod detail_type {
    pub const MESSAGE_DUE: &str = "MessageDue";
    pub const SMS_SENT: &str = "SmsSent";
    pub const CALLBACK_REQUESTED: &str = "CallbackRequested";
    pub const CALLBACK_RESCHEDULED: &str = "CallbackRescheduled";
    pub const CALLBACK_CANCELLED: &str = "CallbackCancelled";
    pub const OPTED_OUT: &str = "OptedOut";
    pub const MESSAGE_CANCELLED: &str = "MessageCancelled";
}

/// The `source` of every Rappel event.
pub const EVENT_SOURCE: &str = "rappel";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_numbers_in_every_notation_and_keeps_short_figures() {
        let sns = "InvalidParameter: Invalid parameter: PhoneNumber Reason: +33600000001 is not valid to publish to";
        assert_eq!(
            scrub(sns),
            "InvalidParameter: Invalid parameter: PhoneNumber Reason: [number] is not valid to publish to"
        );
        for notation in [
            "+33600000001",
            "+33 6 00 00 00 01",
            "06 00 00 00 01",
            "0600000001",
            "33600000001",
            "%2B33600000001",
            "06.00.00.00.01",
            "+33 (0)6-00-00-00-01",
            "0033600000001",
            "+262692000001",
        ] {
            let text = format!("error for {notation}: refused");
            assert_eq!(scrub(&text), "error for [number]: refused", "{notation}");
        }
        let kept = "status 500 after 3 attempts in 2026, request 4f2a-11";
        assert_eq!(scrub(kept), kept);
        assert_eq!(scrub("+33"), "+33");
        assert_eq!(scrub(""), "");
        assert_eq!(scrub("é 12345 ü"), "é 12345 ü");
    }

    #[test]
    fn port_errors_are_scrubbed_when_made() {
        let err = PortError::new("sns", "bad number +33750000002");
        assert_eq!(err.to_string(), "sns: bad number [number]");
        assert_eq!(err.applied, Applied::No);
        assert_eq!(err.clone().applied(Applied::Maybe).applied, Applied::Maybe);
        let unreadable = PortError::unreadable("dynamodb", "ACCOUNT#a/MSG#m", "unknown variant");
        assert!(unreadable.is_unreadable());
        assert_eq!(unreadable.applied, Applied::Refused);
    }
}
