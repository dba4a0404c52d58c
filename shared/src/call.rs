//! The normalized call: what every provider's webhook becomes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who placed the call, seen from the tracked number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A prospect called the tracked number.
    Inbound,
    /// The business called someone.
    Outbound,
}

/// How the call ended, in the field's vocabulary, after provider mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    /// A human answered (for outbound: the prospect picked up).
    Answered,
    NoAnswer,
    Busy,
    Failed,
    /// The caller hung up before anyone answered (canceled / abandoned).
    Canceled,
    Rejected,
    /// The call went to voicemail.
    Voicemail,
    /// Not a final status (ringing, in progress...) or one that says nothing about a human:
    /// stored as `ignored`.
    Other,
}

impl CallStatus {
    /// Whether this final status means nobody answered (rule 1, docs/architecture.md; voicemail is decided
    /// by the account's `voicemail_is_missed`).
    pub fn is_missed(self) -> bool {
        matches!(
            self,
            Self::NoAnswer | Self::Busy | Self::Failed | Self::Canceled | Self::Rejected
        )
    }
}

/// One call as a provider reported it, normalized. Numbers are raw strings exactly as the
/// provider sent them; intake classifies and encrypts them and never stores them in clear.
#[derive(Clone, PartialEq, Eq)]
pub struct CallEvent {
    /// Provider name as in the route (`twilio`, `generic`, ...).
    pub provider: &'static str,
    /// The provider's idempotency key for this call (e.g. Twilio `CallSid`, plus a suffix when
    /// one call yields several decisive callbacks).
    pub call_id: String,
    pub direction: Direction,
    pub status: CallStatus,
    /// Provider's own status word, kept for the audit trail (`no-answer`, `busy`...).
    pub provider_status: String,
    /// Calling party, raw.
    pub from: String,
    /// Called party, raw.
    pub to: String,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Seconds the call rang before it ended or was answered, when known.
    pub ring_seconds: Option<u32>,
}

impl CallEvent {
    /// The prospect's raw number: the caller for inbound calls, the callee for outbound ones.
    pub fn counterpart(&self) -> &str {
        match self.direction {
            Direction::Inbound => &self.from,
            Direction::Outbound => &self.to,
        }
    }
}

impl std::fmt::Debug for CallEvent {
    /// Numbers are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallEvent")
            .field("provider", &self.provider)
            .field("call_id", &self.call_id)
            .field("direction", &self.direction)
            .field("status", &self.status)
            .field("provider_status", &self.provider_status)
            .field("started_at", &self.started_at)
            .field("ended_at", &self.ended_at)
            .field("ring_seconds", &self.ring_seconds)
            .finish_non_exhaustive()
    }
}
