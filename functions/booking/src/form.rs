//! The booking form: the posted fields, their checks, and the messages a prospect reads.

use chrono::{DateTime, Utc};
use rappel::account::Account;
use rappel::slots;

/// Longest accepted name, in characters (Unicode scalar values) after trimming.
pub const NAME_MAX: usize = 100;
/// Longest accepted message, in characters after trimming (line breaks count one).
pub const MESSAGE_MAX: usize = 500;

// ------------------------------------------------------------------------------- the form

/// The posted fields, as sent (first occurrence of each).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawForm {
    pub slot: Option<String>,
    pub name: Option<String>,
    pub message: Option<String>,
}

impl RawForm {
    /// Parse an `application/x-www-form-urlencoded` body. Unknown fields are ignored; a body
    /// that does not parse yields an empty form (then refused for its missing slot).
    pub fn parse(body: &[u8]) -> RawForm {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        let field = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        RawForm {
            slot: field("slot"),
            name: field("name"),
            message: field("message"),
        }
    }
}

/// A valid booking request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingForm {
    /// Start of an offered slot (UTC).
    pub slot: DateTime<Utc>,
    pub name: Option<String>,
    pub message: Option<String>,
}

/// Why a posted form is refused (answered 422 with the form again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("slot missing or not an RFC 3339 instant")]
    Slot,
    #[error("slot not offered")]
    SlotNotOffered,
    #[error("slot filled meanwhile")]
    SlotTaken,
    #[error("name longer than {NAME_MAX} characters")]
    NameTooLong,
    #[error("message longer than {MESSAGE_MAX} characters")]
    MessageTooLong,
}

impl FormError {
    /// The message shown above the form.
    pub fn french(self) -> &'static str {
        match self {
            FormError::Slot => "Choisissez un créneau de rappel dans la liste.",
            FormError::SlotNotOffered => {
                "Ce créneau n'est plus disponible. Choisissez-en un autre dans la liste."
            }
            FormError::SlotTaken => {
                "Ce créneau vient d'être pris. Choisissez-en un autre dans la liste."
            }
            FormError::NameTooLong => "Votre nom ne doit pas dépasser 100 caractères.",
            FormError::MessageTooLong => "Votre message ne doit pas dépasser 500 caractères.",
        }
    }
}

/// Check a posted form against the account's callback hours at `now`
/// ([`slots::is_offered`]) and the length limits (after trimming; empty means absent).
pub fn validate(
    raw: &RawForm,
    account: &Account,
    now: DateTime<Utc>,
    full: &[DateTime<Utc>],
) -> Result<BookingForm, FormError> {
    let slot = raw
        .slot
        .as_deref()
        .and_then(parse_instant)
        .ok_or(FormError::Slot)?;
    if !slots::is_offered(
        &account.callback_hours,
        account.timezone,
        account.holiday_zone,
        now,
        slot,
    ) {
        return Err(FormError::SlotNotOffered);
    }
    // At capacity (a stale or forged form): not offered either.
    if full.contains(&slot) {
        return Err(FormError::SlotTaken);
    }
    let name = raw.name.as_deref().and_then(|n| clean(n, false));
    if name.as_ref().is_some_and(|n| n.chars().count() > NAME_MAX) {
        return Err(FormError::NameTooLong);
    }
    let message = raw.message.as_deref().and_then(|m| clean(m, true));
    if message
        .as_ref()
        .is_some_and(|m| m.chars().count() > MESSAGE_MAX)
    {
        return Err(FormError::MessageTooLong);
    }
    Ok(BookingForm {
        slot,
        name,
        message,
    })
}

/// Normalize free text: line breaks to `\n` (kept only when `multiline`, else a space),
/// other control characters dropped (tabs become spaces), trimmed; `None` when empty.
pub(crate) fn clean(text: &str, multiline: bool) -> Option<String> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let cleaned: String = text
        .chars()
        .filter_map(|c| match c {
            '\n' if multiline => Some('\n'),
            '\n' | '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    let trimmed = cleaned.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// An RFC 3339 instant as UTC, `None` when it is not one.
pub(crate) fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
