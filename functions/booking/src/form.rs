//! The booking form: the posted fields, their checks, and the messages a prospect reads.

use crate::lang::Lang;
use chrono::{DateTime, Utc};
use rappel::account::Account;
use rappel::phone::{self, Caller, E164, LineType};
use rappel::slots;

/// Longest accepted name, in characters (Unicode scalar values) after trimming.
pub const NAME_MAX: usize = 100;
/// Longest accepted message, in characters after trimming (line breaks count one).
pub const MESSAGE_MAX: usize = 500;
/// Longest accepted "another number" field, in characters (the widest notation of an E.164
/// number: `+` or `00`, 15 digits, separators).
pub const PHONE_MAX: usize = 32;

// ------------------------------------------------------------------------------- the form

/// The posted fields, as sent (first occurrence of each). `Debug` never prints the other
/// number.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RawForm {
    pub slot: Option<String>,
    pub name: Option<String>,
    pub message: Option<String>,
    /// Another number to call (optional).
    pub phone: Option<String>,
    /// The language of the page that was shown (`fr`, `en`): the consent line recorded is
    /// the one it showed.
    pub lang: Option<String>,
}

impl std::fmt::Debug for RawForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawForm")
            .field("slot", &self.slot)
            .field("name", &self.name)
            .field("message", &self.message)
            .field("phone", &self.phone.as_ref().map(|_| "<redacted>"))
            .field("lang", &self.lang)
            .finish()
    }
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
            phone: field("phone"),
            lang: field("lang"),
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
    /// Another number to call instead of the caller's: valid, callable, in an allowed country.
    pub callback_number: Option<E164>,
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
    #[error("other number not a valid phone number")]
    PhoneInvalid,
    #[error("other number of a kind or country that is not called back")]
    PhoneNotCallable,
    #[error("already booked: another number cannot be added or changed")]
    AlreadyBooked,
}

impl FormError {
    /// The message shown above the form, in `lang`.
    pub fn message(self, lang: Lang) -> &'static str {
        let t = lang.texts();
        match self {
            FormError::Slot => t.error_slot,
            FormError::SlotNotOffered => t.error_slot_not_offered,
            FormError::SlotTaken => t.error_slot_taken,
            FormError::NameTooLong => t.error_name_too_long,
            FormError::MessageTooLong => t.error_message_too_long,
            FormError::PhoneInvalid => t.error_phone_invalid,
            FormError::PhoneNotCallable => t.error_phone_not_callable,
            FormError::AlreadyBooked => t.error_already_booked,
        }
    }

    /// Whether the error is about the slot (the choice is not shown again).
    pub fn is_about_slot(self) -> bool {
        matches!(
            self,
            FormError::Slot | FormError::SlotNotOffered | FormError::SlotTaken
        )
    }
}

/// Check a posted form against the account's callback hours at `now`
/// ([`slots::is_offered`]), the slots at capacity (`full`), the length limits (after
/// trimming; empty means absent) and, for another number to call, [`callback_number`] with
/// `region` (the prospect's) for national notations.
pub fn validate(
    raw: &RawForm,
    account: &Account,
    now: DateTime<Utc>,
    full: &[DateTime<Utc>],
    region: &str,
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
    let callback_number = match raw.phone.as_deref().and_then(|p| clean(p, false)) {
        Some(typed) => Some(callback_number(&typed, account, region)?),
        None => None,
    };
    Ok(BookingForm {
        slot,
        name,
        message,
        callback_number,
    })
}

/// Another number a prospect gives to be called on, validated like a caller's number
/// (libphonenumber metadata through [`phone::classify`], national notations read in `region`):
/// a valid number ([`FormError::PhoneInvalid`] otherwise, withheld words included; a national
/// notation invalid in `region` is read in the first of the account's other `allowed_countries`,
/// in their order, where it is valid) of a line
/// a person answers — mobile, fixed, VoIP — in one of the account's `allowed_countries`
/// ([`FormError::PhoneNotCallable`] otherwise: premium-rate and shared-cost numbers cost the
/// business, toll-free, UAN, voicemail-access and other special numbers do not reach the
/// person; décret 2022-1313 frames calls to consumers in France).
pub fn callback_number(typed: &str, account: &Account, region: &str) -> Result<E164, FormError> {
    if typed.chars().count() > PHONE_MAX {
        return Err(FormError::PhoneInvalid);
    }
    let national = typed.trim_start().starts_with('0') && !typed.trim_start().starts_with("00");
    let caller = match phone::classify(typed, region) {
        // A national notation of another zone the account calls (the overseas departments
        // have their own country codes: a mainland mobile typed by a Réunion caller, a
        // Réunion one typed by a mainland caller): the first allowed country, in the account's
        // order (France first by default), where it is valid.
        Caller::Invalid if national => account
            .allowed_countries
            .iter()
            .filter(|c| c.as_str() != region)
            .map(|c| phone::classify(typed, c))
            .find(|c| matches!(c, Caller::Number { .. }))
            .unwrap_or(Caller::Invalid),
        other => other,
    };
    match caller {
        Caller::Number {
            e164,
            line_type,
            region,
        } => {
            let callable = matches!(
                line_type,
                LineType::Mobile | LineType::FixedOrMobile | LineType::FixedLine | LineType::Voip
            );
            let allowed = region
                .as_deref()
                .is_some_and(|r| account.allowed_countries.iter().any(|c| c == r));
            if callable && allowed {
                Ok(e164)
            } else {
                Err(FormError::PhoneNotCallable)
            }
        }
        Caller::Withheld | Caller::Invalid => Err(FormError::PhoneInvalid),
    }
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
