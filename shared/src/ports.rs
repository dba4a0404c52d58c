//! Narrow ports the handlers depend on. The AWS adapters (feature `aws`) implement them with
//! the SDK; tests and the local runner wrap or fake them.

use crate::phone::E164;
use chrono::{DateTime, Utc};
use std::future::Future;

/// An error from an adapter: which service failed and a message free of personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{service}: {message}")]
pub struct PortError {
    pub service: &'static str,
    pub message: String,
}

impl PortError {
    pub fn new(service: &'static str, message: impl Into<String>) -> PortError {
        PortError {
            service,
            message: message.into(),
        }
    }
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

/// Protecting a number at intake: envelope encryption and keyed hash (DESIGN rule 7).
pub trait NumberProtector: Send + Sync {
    /// Seal `number` for `account_id` (KMS `GenerateDataKey` with encryption context
    /// `account_id`, then AES-256-GCM). Returns [`crate::crypto::Sealed::encode`]'s string.
    fn seal(
        &self,
        account_id: &str,
        number: &E164,
    ) -> impl Future<Output = Result<String, PortError>> + Send;
    /// Keyed hash of `account_id` + number (KMS `GenerateMac`, HMAC-SHA-256), hex. The same
    /// person gets different hashes in different accounts.
    fn hash(
        &self,
        account_id: &str,
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

/// Sealing and opening an account's webhook secrets (KMS envelope under the secrets key,
/// encryption context `account_id` + `purpose=webhook-secrets`). Admin tools seal; only
/// intake opens.
pub trait SecretsVault: Send + Sync {
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
    /// Publish one transactional SMS from `sender_id`; returns the provider's message id.
    fn publish(
        &self,
        to: &E164,
        sender_id: &str,
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
    pub const OPTED_OUT: &str = "OptedOut";
    pub const MESSAGE_CANCELLED: &str = "MessageCancelled";
}

/// The `source` of every Rappel event.
pub const EVENT_SOURCE: &str = "rappel";
