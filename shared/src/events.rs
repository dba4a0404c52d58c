//! Every event Rappel puts on its EventBridge bus (source `rappel`), typed and serialised in
//! one place ([`publish`]). Each has a JSON Schema in `events/schemas/{DetailType}.json`,
//! generated from these types and checked against them by a test (regenerate with
//! `RAPPEL_WRITE_SCHEMAS=1 cargo test -p rappel-shared --lib events`); the end-to-end tests
//! validate every event the local stack emits against its schema.
//!
//! The schemas forbid properties the types do not declare (`additionalProperties: false`), so
//! a field added in code without its schema fails the end-to-end validation.
//!
//! No event carries a phone number in clear: callers appear masked (`+33 6•• •• •• 01`) and
//! by the provider's call id. The bus is shared by every account of a deployment: a consumer's
//! rule must filter on `detail.account_id`. Instants are RFC 3339 UTC strings.

use crate::ports::{EventPublisher, PortError};
use crate::sms::Encoding;
use serde::Serialize;

/// An event type: its detail-type on the bus.
pub trait Event: Serialize {
    const DETAIL_TYPE: &'static str;
}

/// Put `event` on the bus with its detail-type.
pub async fn publish<P: EventPublisher, E: Event>(bus: &P, event: &E) -> Result<(), PortError> {
    let detail = serde_json::to_value(event)
        .map_err(|e| PortError::new("eventbridge", format!("serialize: {e}")))?;
    bus.put(E::DETAIL_TYPE, detail).await
}

/// An SMS is due now (eligibility → sender).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MessageDue {
    pub account_id: String,
    pub message_id: String,
    pub due_at: String,
}

/// An SMS left (SNS accepted it).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SmsSent {
    pub account_id: String,
    pub message_id: String,
    /// The provider's id of the call that caused it.
    pub call_id: String,
    /// The masked recipient (`+33 6•• •• •• 01`).
    pub caller: Option<String>,
    /// The sender ID or short code it came from.
    pub sender_id: String,
    pub sns_message_id: String,
    /// SMS parts billed.
    pub segments: usize,
    pub encoding: Encoding,
    pub due_at: String,
    pub sent_at: String,
}

/// A scheduled SMS was cancelled before it left because a human reached the caller.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MessageCancelled {
    pub account_id: String,
    pub message_id: String,
    /// `answered_later` or `called_back`.
    pub reason: String,
    /// The call (provider's id) that was the human contact.
    pub by_call: String,
}

/// Where the evidence of a callback request is kept: the booking record holds the consent line
/// as shown, the language and the page version (`rappel-admin subject export` shows it).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ConsentReference {
    /// SHA-256 (first 16 hex characters) of the page's templates.
    pub page_version: String,
    pub language: String,
}

/// A prospect booked a callback on the page.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CallbackRequested {
    pub booking_id: String,
    pub account_id: String,
    /// Slot start, UTC instant.
    pub slot: String,
    /// Slot start in the business's zone (`lundi 30 novembre, 10:00`).
    pub slot_local: Option<String>,
    /// The business's zone (IANA name).
    pub timezone: String,
    /// What the prospect typed (free text).
    pub name: Option<String>,
    pub message: Option<String>,
    pub message_id: String,
    pub provider: Option<String>,
    pub call_id: Option<String>,
    /// The masked caller.
    pub caller: Option<String>,
    /// Another number the prospect asked to be called on instead of the caller's, if any.
    pub callback_number: Option<CallbackNumber>,
    pub booked_at: String,
    pub consent: ConsentReference,
}

/// Another number to call, never in clear: masked for people, sealed for the program that
/// places the call. `sealed` is `v1.<encrypted data key>.<nonce>.<ciphertext>` (base64
/// parts): KMS `Decrypt` of the data key with encryption context `{"account_id": …,
/// "purpose": "callback-number"}` (a principal given `CallbackNumberReaderRoleArn`), then
/// AES-256-GCM with `{account_id}\0callback-number` as associated data
/// (docs/architecture.md, "Another number to call").
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CallbackNumber {
    /// `+33 6•• •• •• 12`.
    pub masked: String,
    /// The E.164 number, envelope-encrypted with NumberKey under the account.
    pub sealed: String,
}

/// A prospect moved their booking to another slot.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CallbackRescheduled {
    pub booking_id: String,
    pub account_id: String,
    /// The new slot start, UTC instant.
    pub slot: String,
    pub slot_local: Option<String>,
    pub timezone: String,
    /// The slot it was booked for before, UTC instant.
    pub previous_slot: String,
    pub message_id: String,
    pub provider: Option<String>,
    pub call_id: Option<String>,
    pub at: String,
}

/// A prospect cancelled their booking (before its slot started).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CallbackCancelled {
    pub booking_id: String,
    pub account_id: String,
    /// The slot that was booked, UTC instant.
    pub slot: String,
    pub slot_local: Option<String>,
    pub timezone: String,
    pub message_id: String,
    pub provider: Option<String>,
    pub call_id: Option<String>,
    pub at: String,
}

/// A prospect opted out of an account's SMS.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct OptedOut {
    pub account_id: String,
    /// `link` (the page or the `{optout}` link) or `sms_reply` (a STOP reply).
    pub source: String,
    /// The SMS whose link was used (`link`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The reply's id at AWS End User Messaging SMS (`sms_reply`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inbound_message_id: Option<String>,
    /// Deferred messages cancelled at once (`link`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<usize>,
    /// Whether the opt-out was new (`sms_reply`; a redelivery says `false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<bool>,
    pub at: String,
}

/// Audit: `rappel-admin opt-out import|add` recorded opt-outs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct OptOutsRecorded {
    pub account_id: String,
    /// `carrier_list` or `admin`.
    pub source: String,
    /// Numbers given.
    pub numbers: usize,
    /// Opt-outs that were not recorded yet.
    pub new: usize,
    pub at: String,
}

/// Audit: `rappel-admin opt-out remove`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct OptOutRemoved {
    pub account_id: String,
    pub removed: bool,
    pub at: String,
}

/// Audit: `rappel-admin subject export` (never the number).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SubjectExported {
    pub account_id: String,
    pub items: usize,
    pub at: String,
}

/// Audit: `rappel-admin subject erase` (never the number).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SubjectErased {
    pub account_id: String,
    pub deleted: usize,
    pub opt_out_kept: bool,
    pub day_reservations_kept: usize,
    pub at: String,
}

macro_rules! detail_types {
    ($($t:ident),* $(,)?) => {
        $(impl Event for $t { const DETAIL_TYPE: &'static str = stringify!($t); })*
        /// Every detail-type Rappel emits.
        pub const DETAIL_TYPES: &[&str] = &[$(stringify!($t)),*];
        #[cfg(test)]
        fn schemas() -> Vec<(&'static str, schemars::Schema)> {
            vec![$((stringify!($t), schemars::schema_for!($t))),*]
        }
    };
}

detail_types!(
    MessageDue,
    SmsSent,
    MessageCancelled,
    CallbackRequested,
    CallbackRescheduled,
    CallbackCancelled,
    OptedOut,
    OptOutsRecorded,
    OptOutRemoved,
    SubjectExported,
    SubjectErased,
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events/schemas")
    }

    #[test]
    fn each_event_has_its_schema_in_the_repository() {
        let write = std::env::var("RAPPEL_WRITE_SCHEMAS").as_deref() == Ok("1");
        let mut stale = Vec::new();
        for (name, schema) in schemas() {
            let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
            let path = dir().join(format!("{name}.json"));
            if write {
                std::fs::create_dir_all(dir()).unwrap();
                std::fs::write(&path, &text).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(name);
            }
        }
        assert!(
            stale.is_empty(),
            "events/schemas out of date for {stale:?}: RAPPEL_WRITE_SCHEMAS=1 cargo test -p rappel-shared --lib events"
        );
        // No schema for an event that no longer exists.
        let mut files: Vec<String> = std::fs::read_dir(dir())
            .unwrap()
            .map(|e| {
                e.unwrap()
                    .file_name()
                    .to_string_lossy()
                    .trim_end_matches(".json")
                    .to_string()
            })
            .collect();
        files.sort();
        let mut known: Vec<String> = DETAIL_TYPES.iter().map(|s| s.to_string()).collect();
        known.sort();
        assert_eq!(files, known);
    }

    #[test]
    fn detail_types_are_the_ones_the_bus_rules_match() {
        assert_eq!(
            MessageDue::DETAIL_TYPE,
            crate::ports::detail_type::MESSAGE_DUE
        );
        assert_eq!(SmsSent::DETAIL_TYPE, crate::ports::detail_type::SMS_SENT);
        assert_eq!(OptedOut::DETAIL_TYPE, crate::ports::detail_type::OPTED_OUT);
        assert_eq!(
            CallbackRequested::DETAIL_TYPE,
            crate::ports::detail_type::CALLBACK_REQUESTED
        );
    }
}
