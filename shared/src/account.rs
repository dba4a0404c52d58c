//! Account settings: what a business configures, with their defaults, validated when saved
//! or loaded (a bad account is refused with a message that names the field).

use crate::calendar::{HolidayZone, RuleProfile, SendingHours};
use crate::slots::CallbackHours;
use crate::sms;
use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Length of a booking token in the SMS link (16 random bytes, base64url without padding).
pub const TOKEN_LEN: usize = 22;

/// The regions texted by default: metropolitan France and the overseas departments and
/// collectivities that share the French numbering plan.
pub const DEFAULT_ALLOWED_COUNTRIES: [&str; 9] =
    ["FR", "GP", "MQ", "GF", "RE", "YT", "BL", "MF", "PM"];

/// One secret or several (several are valid at once during a rotation).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Secrets {
    One(String),
    Many(Vec<String>),
}

impl Secrets {
    /// All currently valid secrets.
    pub fn all(&self) -> Vec<&str> {
        match self {
            Secrets::One(s) => vec![s.as_str()],
            Secrets::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

impl std::fmt::Debug for Secrets {
    /// Secrets are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} redacted)", self.all().len())
    }
}

/// A business using Rappel (README, "Account settings"). JSON field names are the public
/// configuration format read by `rappel-admin` and the local stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub account_id: String,
    /// Advertiser name, shown in every SMS and on the booking page.
    pub company_name: String,
    /// Alphanumeric sender ID (3–11 characters, at least one letter). Derived from
    /// `company_name` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_id: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The business's zone (callback slots; recipients' zone when their number has no known one).
    #[serde(default = "paris")]
    pub timezone: Tz,
    /// Holidays for metropolitan recipients: `metropole` or `alsace-moselle`.
    #[serde(default = "metropole")]
    pub holiday_zone: HolidayZone,
    /// The industry rules the account sends under ([`RuleProfile`]): `strict` (08:00–20:00,
    /// Monday–Saturday, no public holidays) by default, `af2m-2024` or `af2m-2026`.
    #[serde(default, skip_serializing_if = "RuleProfile::is_strict")]
    pub rule_profile: RuleProfile,
    /// Local sending window; may narrow the profile's window, never widen it. Absent: the
    /// profile's window ([`Account::sending_window`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sending_hours: Option<SendingHours>,
    /// Send on Sundays and public holidays too. Only under `af2m-2026`, which tolerates them
    /// without recommending them; refused under any other profile.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub send_on_sundays_and_holidays: bool,
    /// Grace delay before an in-hours SMS, in seconds (0–900, default 0): a business that
    /// calls the prospect back within it cancels the SMS (rule 5). A deferred SMS is not
    /// delayed further (it goes at the opening of the next allowed window).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub send_delay_seconds: u32,
    /// ISO 3166 regions that may be texted.
    #[serde(default = "default_countries")]
    pub allowed_countries: Vec<String>,
    /// A message deferred beyond this many hours after the call expires instead.
    #[serde(default = "default_deferral")]
    pub max_deferral_hours: u32,
    /// SMS text with `{company}`, `{link}` and an opt-out that works for the sender used:
    /// `{optout}` (a link to the opt-out page) or, with a `short_code`, `STOP au {short_code}`.
    /// The default that fits the sender when absent ([`Account::template`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "legacy_default_is_none"
    )]
    pub message_template: Option<String>,
    /// The French SMS short code the account sends from and receives replies on (5 digits,
    /// 3xxxx–8xxxx, ARCEP numbering plan). With it, SMS go out from the short code, `STOP au
    /// <code>` is a working opt-out and STOP replies reach the inbound-sms function. Without
    /// it, SMS go out from the alphanumeric sender ID, which cannot receive replies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_code: Option<String>,
    /// Base URL of the booking page (`https://rappel.example.fr`); the deployment's public
    /// URL when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booking_base_url: Option<String>,
    #[serde(default)]
    pub callback_hours: CallbackHours,
    /// Destroy the decryptable number as soon as the SMS is sent.
    #[serde(default)]
    pub shred_number_after_send: bool,
    /// Most SMS scheduled per local day of the account (reason `daily_cap` beyond): a leaked
    /// webhook secret cannot text every mobile in the business's name, nor use up the
    /// deployment's SNS spend limit for every tenant. 1–100 000.
    #[serde(default = "default_daily_cap")]
    pub daily_sms_cap: u32,
    /// Whether a call that ended in voicemail counts as missed (rule 1, docs/architecture.md).
    #[serde(default = "yes")]
    pub voicemail_is_missed: bool,
    /// Shortest ring of a missed call worth an SMS, in seconds (0–60, default 0: any). When
    /// the provider reports how long it rang, a shorter call is `ignored`/`ring_too_short`: a
    /// misdial or a robot, not a prospect.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min_ring_seconds: u32,
    /// The business's own numbers (its lines, its staff's mobiles): a call from one is
    /// `ignored`/`internal_number`. Stored as keyed hashes (`hash:` + 64 hex, under the
    /// account's caller-hash key); an account file may list numbers, which
    /// `rappel-admin account put` hashes before anything is stored. At most 1,000.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub internal_numbers: Vec<String>,
    /// Callers never texted (`skipped`/`blocked_number`), in the same form as
    /// `internal_numbers`. At most 1,000.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_numbers: Vec<String>,
    /// Provider name → webhook secret(s) (Twilio auth token, HMAC secret...).
    #[serde(default)]
    pub webhook_secrets: BTreeMap<String, Secrets>,
    /// Provider name → the provider account its webhooks must name: Twilio `AccountSid`,
    /// Vonage `application_id` (a claim of the signed JWT), Telnyx `connection_id` (the Call
    /// Control application). A correctly signed webhook that names another one, or none, is
    /// refused (403 `not-bound`): a secret shared by mistake between two accounts, or one
    /// provider account pointed at the wrong Rappel account, cannot file calls under this one.
    /// Aircall, Plivo, Ringover and generic webhooks do not name their provider account in
    /// what their signature covers: bind those with `tracked_numbers`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provider_accounts: BTreeMap<String, String>,
    /// The account's tracked numbers (the business's numbers the provider reports calls on).
    /// When set, a call event that has none of them as caller or callee is refused (403
    /// `not-bound`). Business lines, not prospects' numbers: stored as given. At most 1,000.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tracked_numbers: Vec<String>,
    /// The account's caller-hash key as stored: 32 random bytes wrapped by KMS under the
    /// secrets key (context `account_id` + `purpose=caller-hash-key`, base64 of the
    /// `CiphertextBlob`), created with the account and never changed, so hashes stay the same
    /// for its life. `None` for an account created before per-account keys: its callers are
    /// hashed by KMS `GenerateMac` under the deployment's HMAC key. Not part of the
    /// configuration format: its own item (`HASHKEY`, [`crate::items::HashKeyItem`]), which
    /// the table reads with the account.
    #[serde(skip)]
    pub caller_hash_key: Option<String>,
}

fn yes() -> bool {
    true
}
fn is_zero(n: &u32) -> bool {
    *n == 0
}
fn listed(list: &[String], hash: &str) -> bool {
    list.iter()
        .any(|entry| entry.strip_prefix(HASH_PREFIX) == Some(hash))
}

/// Prefix of a stored entry of `internal_numbers` / `blocked_numbers`: a keyed hash.
pub const HASH_PREFIX: &str = "hash:";

/// Most entries in `internal_numbers` or `blocked_numbers`.
pub const MAX_LISTED_NUMBERS: usize = 1000;

/// Whether `entry` is a stored keyed hash (`hash:` + 64 lower-case hex).
pub fn is_hash_entry(entry: &str) -> bool {
    entry.strip_prefix(HASH_PREFIX).is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Longest grace delay ([`Account::send_delay_seconds`]): 15 minutes, beyond which a
/// text-back is no longer an answer to the call.
pub const MAX_SEND_DELAY_SECONDS: u32 = 900;
fn paris() -> Tz {
    chrono_tz::Europe::Paris
}
fn metropole() -> HolidayZone {
    HolidayZone::Metropole
}
fn default_countries() -> Vec<String> {
    DEFAULT_ALLOWED_COUNTRIES
        .iter()
        .map(|c| c.to_string())
        .collect()
}
fn default_deferral() -> u32 {
    72
}
/// Default [`Account::daily_sms_cap`]: far above what one business's missed calls make in a
/// day, far below what an abuser would send.
pub const DEFAULT_DAILY_SMS_CAP: u32 = 500;
fn default_daily_cap() -> u32 {
    DEFAULT_DAILY_SMS_CAP
}
/// A stored template equal to the old default (`STOP au 36173`) reads as no template.
fn legacy_default_is_none<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let template = Option::<String>::deserialize(deserializer)?;
    Ok(template.filter(|t| t != sms::LEGACY_DEFAULT_TEMPLATE))
}

/// Why an account was refused. Messages name the field and never contain a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("invalid account JSON: {0}")]
    Json(String),
    #[error("account_id must be 1–64 characters of a-z, 0-9, '-' or '_'")]
    AccountId,
    #[error("company_name must not be empty")]
    CompanyName,
    #[error("sender_id {0:?} is invalid: 3–11 characters A-Z, a-z, 0-9 with at least one letter")]
    SenderId(String),
    #[error(
        "sending_hours {start}–{end} must lie within the {profile} profile's {max_start}–{max_end} and start before they end (a profile is narrowed, never widened)"
    )]
    SendingHours {
        start: NaiveTime,
        end: NaiveTime,
        profile: &'static str,
        max_start: NaiveTime,
        max_end: NaiveTime,
    },
    #[error(
        "send_on_sundays_and_holidays needs rule_profile af2m-2026 (the only charter that tolerates them); this account is {0}"
    )]
    SundaysNeedAf2m2026(&'static str),
    #[error("send_delay_seconds must be 0–900 (15 minutes)")]
    SendDelay,
    #[error("min_ring_seconds must be 0–60")]
    MinRing,
    #[error(
        "{field}[{index}] is neither a phone number nor a stored hash (hash: and 64 hex digits)"
    )]
    ListedNumber { field: &'static str, index: usize },
    #[error("{0} lists more than 1,000 numbers")]
    TooManyListed(&'static str),
    #[error(
        "holiday_zone must be metropole or alsace-moselle (overseas recipients get their own zone automatically)"
    )]
    HolidayZone,
    #[error("allowed_countries contains {0:?}, not an upper-case ISO 3166 alpha-2 code")]
    Country(String),
    #[error(
        "allowed_countries contains {0:?}: Rappel knows the time zone and the public holidays of France and its overseas departments and collectivities only (FR, GP, MQ, GF, RE, YT, BL, MF, PM), so it cannot keep quiet hours and holidays elsewhere"
    )]
    CountryWithoutCalendar(String),
    #[error("max_deferral_hours must be between 1 and 168")]
    MaxDeferral,
    #[error("daily_sms_cap must be between 1 and 100000")]
    DailyCap,
    #[error("short_code {0:?} is not a French SMS short code (5 digits, first digit 3 to 8)")]
    ShortCode(String),
    #[error("message_template: {0}")]
    Template(#[from] sms::TemplateError),
    #[error(
        "booking_base_url must be an https:// (or http://127.0.0.1 / localhost) URL without query"
    )]
    BookingUrl,
    #[error("callback_hours: {0}")]
    CallbackHours(String),
    #[error(
        "webhook_secrets.{0}: Rappel has no such provider (twilio, generic, vonage, telnyx, aircall, plivo, ringover)"
    )]
    UnknownProvider(String),
    #[error("webhook_secrets.{0}: give one secret, or two during a rotation, none empty")]
    SecretCount(String),
    #[error(
        "provider_accounts.{0}: only twilio (AccountSid), vonage (application_id) and telnyx (connection_id) webhooks name their provider account; bind the others with tracked_numbers"
    )]
    ProviderAccountUnsupported(String),
    #[error(
        "provider_accounts.{0} must be 1–128 printable ASCII characters (the identifier as the provider's console shows it)"
    )]
    ProviderAccount(String),
    #[error("tracked_numbers[{0}] is not a valid phone number")]
    TrackedNumber(usize),
    #[error(
        "tracked_numbers cannot bind {0} webhooks (their deciding events follow an earlier leg of the call): set provider_accounts.{0} too"
    )]
    TrackedNumbersCannotBind(&'static str),
}

impl Account {
    /// Parse and validate an account from its JSON settings (what is saved: every rule).
    pub fn from_json(json: &str) -> Result<Account, AccountError> {
        let account: Account =
            serde_json::from_str(json).map_err(|e| AccountError::Json(e.to_string()))?;
        account.validate()?;
        Ok(account)
    }

    /// Read an account as stored. Every rule of [`Account::validate`] holds except one an
    /// account saved by an earlier version may break: a template asking for STOP replies
    /// without a `short_code` (earlier versions accepted the word STOP alone). Such an
    /// account keeps working as it was (its calls are not refused because of its text); the
    /// next `put-account` asks for `{optout}` or a short code.
    pub fn from_stored_json(json: &str) -> Result<Account, AccountError> {
        let account: Account =
            serde_json::from_str(json).map_err(|e| AccountError::Json(e.to_string()))?;
        match account.validate() {
            Err(AccountError::Template(sms::TemplateError::StopWithoutShortCode)) => {
                tracing::warn!(
                    account_id = %account.account_id,
                    "stored message_template asks for STOP replies without a short_code: save the account again with {{optout}} or a short_code"
                );
                Ok(account)
            }
            other => other.map(|()| account),
        }
    }

    /// The sender ID used for SMS: `sender_id`, or one derived from `company_name`
    /// (accents folded, non-alphanumerics dropped, first 11 characters).
    pub fn sender_id(&self) -> String {
        self.sender_id
            .clone()
            .unwrap_or_else(|| derive_sender_id(&self.company_name))
    }

    /// The SMS template in use: `message_template`, else the default for the account's sender
    /// ([`sms::DEFAULT_TEMPLATE_SHORT_CODE`] with a short code, [`sms::DEFAULT_TEMPLATE`]).
    pub fn template(&self) -> &str {
        match (&self.message_template, &self.short_code) {
            (Some(template), _) => template,
            (None, Some(_)) => sms::DEFAULT_TEMPLATE_SHORT_CODE,
            (None, None) => sms::DEFAULT_TEMPLATE,
        }
    }

    /// Who the SMS comes from: the short code when the account has one, else the sender ID.
    pub fn originator(&self) -> Originator {
        match &self.short_code {
            Some(code) => Originator::ShortCode(code.clone()),
            None => Originator::SenderId(self.sender_id()),
        }
    }

    /// The secrets valid for `provider`'s webhooks (empty when none is configured).
    pub fn secrets_for(&self, provider: &str) -> Vec<&str> {
        self.webhook_secrets
            .get(provider)
            .map(Secrets::all)
            .unwrap_or_default()
    }

    /// Whether the caller with keyed hash `hash` is one of the business's own numbers.
    pub fn is_internal(&self, hash: &str) -> bool {
        listed(&self.internal_numbers, hash)
    }

    /// Whether the caller with keyed hash `hash` is on the block list.
    pub fn is_blocked(&self, hash: &str) -> bool {
        listed(&self.blocked_numbers, hash)
    }

    /// The daily window SMS go out in, local time: `sending_hours` when set, else the
    /// profile's window.
    pub fn sending_window(&self) -> SendingHours {
        self.sending_hours
            .unwrap_or_else(|| self.rule_profile.window())
    }

    /// Whether the raw number `raw` (as a provider sent it) is one of `tracked_numbers`,
    /// compared in E.164 (national notations read as French).
    pub fn is_tracked(&self, raw: &str) -> bool {
        let e164 = |raw: &str| match crate::phone::classify(raw, "FR") {
            crate::phone::Caller::Number { e164, .. } => Some(e164),
            _ => None,
        };
        let Some(number) = e164(raw) else {
            return false;
        };
        // Entries written in E.164 (the usual case) compare as text; others are classified.
        self.tracked_numbers
            .iter()
            .any(|listed| listed == number.expose() || e164(listed).as_ref() == Some(&number))
    }

    /// Check every rule of README, "Account settings" and rule 6 (template names the company,
    /// offers STOP, fits in 2 segments with the longest link this account can produce).
    pub fn validate(&self) -> Result<(), AccountError> {
        let id_ok = !self.account_id.is_empty()
            && self.account_id.len() <= 64
            && self
                .account_id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(AccountError::AccountId);
        }
        if self.company_name.trim().is_empty() {
            return Err(AccountError::CompanyName);
        }
        let sender = self.sender_id();
        if !is_valid_sender_id(&sender) {
            return Err(AccountError::SenderId(sender));
        }
        let widest = self.rule_profile.window();
        if let Some(hours) = self.sending_hours {
            if hours.start < widest.start || hours.end > widest.end || hours.start >= hours.end {
                return Err(AccountError::SendingHours {
                    start: hours.start,
                    end: hours.end,
                    profile: self.rule_profile.as_str(),
                    max_start: widest.start,
                    max_end: widest.end,
                });
            }
        }
        if self.send_on_sundays_and_holidays && !self.rule_profile.tolerates_sundays_and_holidays()
        {
            return Err(AccountError::SundaysNeedAf2m2026(
                self.rule_profile.as_str(),
            ));
        }
        if self.send_delay_seconds > MAX_SEND_DELAY_SECONDS {
            return Err(AccountError::SendDelay);
        }
        if self.min_ring_seconds > 60 {
            return Err(AccountError::MinRing);
        }
        for (field, list) in [
            ("internal_numbers", &self.internal_numbers),
            ("blocked_numbers", &self.blocked_numbers),
        ] {
            if list.len() > MAX_LISTED_NUMBERS {
                return Err(AccountError::TooManyListed(field));
            }
            if let Some(index) = list.iter().position(|entry| {
                !is_hash_entry(entry)
                    && !matches!(
                        crate::phone::classify(entry, "FR"),
                        crate::phone::Caller::Number { .. }
                    )
            }) {
                return Err(AccountError::ListedNumber { field, index });
            }
        }
        if !matches!(
            self.holiday_zone,
            HolidayZone::Metropole | HolidayZone::AlsaceMoselle
        ) {
            return Err(AccountError::HolidayZone);
        }
        if let Some(bad) = self
            .allowed_countries
            .iter()
            .find(|c| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(AccountError::Country(bad.clone()));
        }
        // Quiet hours and holidays are kept in the recipient's zone and calendar: only
        // countries Rappel has both for can be texted.
        if let Some(bad) = self
            .allowed_countries
            .iter()
            .find(|c| crate::calendar::zone_for_region(c).is_none())
        {
            return Err(AccountError::CountryWithoutCalendar(bad.clone()));
        }
        if !(1..=168).contains(&self.max_deferral_hours) {
            return Err(AccountError::MaxDeferral);
        }
        if !(1..=100_000).contains(&self.daily_sms_cap) {
            return Err(AccountError::DailyCap);
        }
        if let Some(url) = &self.booking_base_url {
            let ok = url::Url::parse(url).is_ok_and(|u| {
                let local = matches!(u.host_str(), Some("127.0.0.1" | "localhost"));
                (u.scheme() == "https" || (u.scheme() == "http" && local)) && u.query().is_none()
            });
            if !ok {
                return Err(AccountError::BookingUrl);
            }
        }
        for range in &self.callback_hours.ranges {
            if range.start >= range.end || range.days.is_empty() {
                return Err(AccountError::CallbackHours(format!(
                    "range {}–{} must start before it ends and name at least one day",
                    range.start, range.end
                )));
            }
        }
        if self.callback_hours.slot_minutes < 5 || self.callback_hours.slot_minutes > 240 {
            return Err(AccountError::CallbackHours(
                "slot_minutes must be between 5 and 240".into(),
            ));
        }
        if !(1..=100).contains(&self.callback_hours.slot_capacity) {
            return Err(AccountError::CallbackHours(
                "slot_capacity must be between 1 and 100".into(),
            ));
        }
        for (provider, secrets) in &self.webhook_secrets {
            if crate::providers::by_name(provider).is_none() {
                return Err(AccountError::UnknownProvider(provider.clone()));
            }
            let all = secrets.all();
            // An empty list is how a stored account shows providers whose secrets are sealed.
            let sealed_view = matches!(secrets, Secrets::Many(v) if v.is_empty());
            if !sealed_view && (all.len() > 2 || all.iter().any(|s| s.trim().is_empty())) {
                return Err(AccountError::SecretCount(provider.clone()));
            }
        }
        for (provider, id) in &self.provider_accounts {
            let names_account = crate::providers::by_name(provider)
                .is_some_and(crate::providers::Provider::names_its_account);
            if !names_account {
                return Err(AccountError::ProviderAccountUnsupported(provider.clone()));
            }
            if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(AccountError::ProviderAccount(provider.clone()));
            }
        }
        // Telnyx hangups and Vonage connect legs are completed by an earlier leg and carry no
        // tracked number of their own to check: those providers are bound by their account.
        if !self.tracked_numbers.is_empty()
            && let Some(provider) = ["telnyx", "vonage"].into_iter().find(|p| {
                self.webhook_secrets.contains_key(*p) && !self.provider_accounts.contains_key(*p)
            })
        {
            return Err(AccountError::TrackedNumbersCannotBind(provider));
        }
        if self.tracked_numbers.len() > MAX_LISTED_NUMBERS {
            return Err(AccountError::TooManyListed("tracked_numbers"));
        }
        if let Some(index) = self.tracked_numbers.iter().position(|n| {
            !matches!(
                crate::phone::classify(n, "FR"),
                crate::phone::Caller::Number { .. }
            )
        }) {
            return Err(AccountError::TrackedNumber(index));
        }
        if let Some(code) = &self.short_code
            && !is_short_code(code)
        {
            return Err(AccountError::ShortCode(code.clone()));
        }
        // Size the SMS with the longest links it can carry: base URL + "/r/" + token.
        let base_len = self.booking_base_url.as_deref().map_or(64, str::len);
        sms::validate_template(
            self.template(),
            &self.company_name,
            base_len + 3 + TOKEN_LEN,
            self.short_code.as_deref(),
        )?;
        Ok(())
    }
}

/// Where an SMS comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Originator {
    /// An alphanumeric sender ID (SNS `AWS.SNS.SMS.SenderID`): cannot receive replies.
    SenderId(String),
    /// A short code (SNS `AWS.MM.SMS.OriginationNumber`): receives STOP replies.
    ShortCode(String),
}

impl Originator {
    /// The sender ID or the short code, as shown on the phone.
    pub fn as_str(&self) -> &str {
        match self {
            Originator::SenderId(s) | Originator::ShortCode(s) => s,
        }
    }
}

/// Whether `code` is a French SMS short code: 5 digits, the first from 3 to 8 (ARCEP,
/// décision n° 2007-0213 on SMS+ short numbers).
pub fn is_short_code(code: &str) -> bool {
    code.len() == 5
        && code.bytes().all(|b| b.is_ascii_digit())
        && (b'3'..=b'8').contains(&code.as_bytes()[0])
}

/// Whether `id` is an alphanumeric sender ID: 3–11 ASCII letters/digits, at least one letter
/// (AWS End User Messaging SMS sender ID rules).
pub fn is_valid_sender_id(id: &str) -> bool {
    (3..=11).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric())
        && id.bytes().any(|b| b.is_ascii_alphabetic())
}

/// Derive a sender ID from a company name: fold French accents, keep ASCII letters and
/// digits, cut at 11 characters. May still be invalid (e.g. "123"): validation reports it.
pub fn derive_sender_id(company: &str) -> String {
    company
        .chars()
        .filter_map(|c| {
            let folded = match c {
                'à' | 'â' | 'ä' | 'á' | 'ã' => 'a',
                'À' | 'Â' | 'Ä' | 'Á' | 'Ã' => 'A',
                'é' | 'è' | 'ê' | 'ë' => 'e',
                'É' | 'È' | 'Ê' | 'Ë' => 'E',
                'î' | 'ï' | 'í' => 'i',
                'Î' | 'Ï' | 'Í' => 'I',
                'ô' | 'ö' | 'ó' | 'õ' => 'o',
                'Ô' | 'Ö' | 'Ó' | 'Õ' => 'O',
                'ù' | 'û' | 'ü' | 'ú' => 'u',
                'Ù' | 'Û' | 'Ü' | 'Ú' => 'U',
                'ç' => 'c',
                'Ç' => 'C',
                'ÿ' => 'y',
                other => other,
            };
            folded.is_ascii_alphanumeric().then_some(folded)
        })
        .take(11)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> &'static str {
        r#"{"account_id":"plomberie-martin","company_name":"Plomberie Martin"}"#
    }

    #[test]
    fn defaults_follow_design() {
        let a = Account::from_json(minimal()).unwrap();
        assert!(a.enabled);
        assert_eq!(a.timezone, chrono_tz::Europe::Paris);
        assert_eq!(a.holiday_zone, HolidayZone::Metropole);
        assert_eq!(a.max_deferral_hours, 72);
        assert_eq!(
            a.allowed_countries,
            vec!["FR", "GP", "MQ", "GF", "RE", "YT", "BL", "MF", "PM"]
        );
        assert_eq!(a.sender_id(), "PlomberieMa");
        assert!(!a.shred_number_after_send);
        assert!(a.voicemail_is_missed);
        assert_eq!(a.rule_profile, RuleProfile::Strict);
        assert_eq!(a.sending_hours, None);
        assert_eq!(
            a.sending_window().start,
            NaiveTime::from_hms_opt(8, 0, 0).unwrap()
        );
        assert_eq!(
            a.sending_window().end,
            NaiveTime::from_hms_opt(20, 0, 0).unwrap()
        );
        assert!(!a.send_on_sundays_and_holidays);
        assert_eq!(a.send_delay_seconds, 0);
    }

    #[test]
    fn a_profile_is_narrowed_never_widened() {
        let with = |extra: &str| {
            Account::from_json(&format!(
                r#"{{"account_id":"a","company_name":"Acme"{extra}}}"#
            ))
        };
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        let window = |a: Account| (a.sending_window().start, a.sending_window().end);
        assert_eq!(
            window(with(r#","rule_profile":"af2m-2024""#).unwrap()),
            (t(8, 0), t(22, 0))
        );
        assert_eq!(
            window(with(r#","rule_profile":"af2m-2026""#).unwrap()),
            (t(8, 0), t(21, 30))
        );
        // 21:00 is inside af2m-2024's window, outside strict's.
        let late = r#","sending_hours":{"start":"09:00:00","end":"21:00:00"}"#;
        assert!(with(&format!(r#","rule_profile":"af2m-2024"{late}"#)).is_ok());
        let err = with(late).unwrap_err();
        assert!(
            matches!(
                err,
                AccountError::SendingHours {
                    profile: "strict",
                    ..
                }
            ),
            "{err}"
        );
        let err = with(
            r#","rule_profile":"af2m-2026","sending_hours":{"start":"08:00:00","end":"22:00:00"}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("af2m-2026 profile's 08:00:00–21:30:00"),
            "{err}"
        );
        // Sundays and holidays: only an af2m-2026 account that opts in.
        assert!(with(r#","rule_profile":"af2m-2026","send_on_sundays_and_holidays":true"#).is_ok());
        for profile in ["strict", "af2m-2024"] {
            let err = with(&format!(
                r#","rule_profile":"{profile}","send_on_sundays_and_holidays":true"#
            ))
            .unwrap_err();
            assert_eq!(
                err,
                AccountError::SundaysNeedAf2m2026(if profile == "strict" {
                    "strict"
                } else {
                    "af2m-2024"
                })
            );
        }
        assert!(with(r#","rule_profile":"lenient""#).is_err());
        assert!(with(r#","min_ring_seconds":60"#).is_ok());
        assert_eq!(
            with(r#","min_ring_seconds":61"#).unwrap_err(),
            AccountError::MinRing
        );
        // Listed numbers: numbers in any usual form, or stored hashes; the error names the
        // entry by its index, never its value.
        let hash = format!("hash:{}", "0".repeat(64));
        assert!(
            with(&format!(
                r#","internal_numbers":["+33144000001","06 00 00 04 20","{hash}"]"#
            ))
            .is_ok()
        );
        let err = with(r#","blocked_numbers":["+33600000420","123"]"#).unwrap_err();
        assert_eq!(
            err,
            AccountError::ListedNumber {
                field: "blocked_numbers",
                index: 1
            }
        );
        assert!(!err.to_string().contains("600000420"));
        assert!(with(r#","internal_numbers":["hash:ABC"]"#).is_err());
        assert!(with(r#","send_delay_seconds":900"#).is_ok());
        assert_eq!(
            with(r#","send_delay_seconds":901"#).unwrap_err(),
            AccountError::SendDelay
        );
    }

    #[test]
    fn sender_id_is_derived_with_accents_folded() {
        assert_eq!(derive_sender_id("Élec' Sécurité & Fils"), "ElecSecurit");
        assert_eq!(derive_sender_id("A&B"), "AB");
        assert!(!is_valid_sender_id("AB"));
        assert!(!is_valid_sender_id("12345"));
        assert!(is_valid_sender_id("Rappel"));
        assert!(!is_valid_sender_id("TwelveChars1"));
    }

    #[test]
    fn allows_only_countries_with_a_known_calendar() {
        let be = r#"{"account_id":"a","company_name":"Acme","allowed_countries":["FR","BE"]}"#;
        let err = Account::from_json(be).unwrap_err();
        assert_eq!(err, AccountError::CountryWithoutCalendar("BE".into()));
        assert!(err.to_string().contains("\"BE\"") && err.to_string().contains("public holidays"));
        let overseas =
            r#"{"account_id":"a","company_name":"Acme","allowed_countries":["RE","YT","PM"]}"#;
        assert_eq!(
            Account::from_json(overseas).unwrap().allowed_countries,
            vec!["RE", "YT", "PM"]
        );
        let lower = r#"{"account_id":"a","company_name":"Acme","allowed_countries":["fr"]}"#;
        assert_eq!(
            Account::from_json(lower).unwrap_err(),
            AccountError::Country("fr".into())
        );
    }

    #[test]
    fn refuses_widened_sending_hours() {
        let json = r#"{"account_id":"a","company_name":"Acme","sending_hours":{"start":"07:30:00","end":"20:00:00"}}"#;
        let err = Account::from_json(json).unwrap_err();
        assert!(matches!(err, AccountError::SendingHours { .. }), "{err}");
        let narrowed = r#"{"account_id":"a","company_name":"Acme","sending_hours":{"start":"09:00:00","end":"18:30:00"}}"#;
        assert!(Account::from_json(narrowed).is_ok());
    }

    #[test]
    fn refuses_bad_timezone_and_unknown_fields() {
        let tz = r#"{"account_id":"a","company_name":"Acme","timezone":"Europe/Pariss"}"#;
        assert!(
            Account::from_json(tz)
                .unwrap_err()
                .to_string()
                .contains("Europe/Pariss")
        );
        let extra = r#"{"account_id":"a","company_name":"Acme","sendng_hours":{}}"#;
        assert!(
            Account::from_json(extra)
                .unwrap_err()
                .to_string()
                .contains("sendng_hours")
        );
    }

    #[test]
    fn refuses_template_without_stop_or_company() {
        let no_stop =
            r#"{"account_id":"a","company_name":"Acme","message_template":"{company}: {link}"}"#;
        assert!(matches!(
            Account::from_json(no_stop),
            Err(AccountError::Template(sms::TemplateError::MissingOptOut))
        ));
        let no_company = r#"{"account_id":"a","company_name":"Acme","short_code":"36173","message_template":"Rappel: {link} STOP 36173"}"#;
        assert!(matches!(
            Account::from_json(no_company),
            Err(AccountError::Template(sms::TemplateError::MissingCompany))
        ));
    }

    #[test]
    fn refuses_template_forced_to_ucs2_beyond_two_segments_naming_the_character() {
        let long = format!(
            r#"{{"account_id":"a","company_name":"Acme","short_code":"36173","message_template":"{{company}} vous rappelle’ {} {{link}} STOP 36173"}}"#,
            "x".repeat(100)
        );
        let err = Account::from_json(&long).unwrap_err().to_string();
        assert!(err.contains("U+2019"), "{err}");
    }

    #[test]
    fn the_opt_out_mention_matches_the_sender() {
        // No short code: the default carries the {optout} link and SMS come from the sender ID.
        let a = Account::from_json(minimal()).unwrap();
        assert_eq!(a.template(), sms::DEFAULT_TEMPLATE);
        assert_eq!(a.originator(), Originator::SenderId("PlomberieMa".into()));
        // A STOP reply cannot reach an alphanumeric sender ID: refused, saying why.
        let stop = r#"{"account_id":"a","company_name":"Acme","message_template":"{company}: {link} STOP au 36173"}"#;
        let err = Account::from_json(stop).unwrap_err().to_string();
        assert!(
            err.contains("cannot receive replies") && err.contains("short_code"),
            "{err}"
        );
        // With the short code, STOP au <code> is the default and works.
        let coded = r#"{"account_id":"a","company_name":"Acme","short_code":"36173"}"#;
        let a = Account::from_json(coded).unwrap();
        assert_eq!(a.template(), sms::DEFAULT_TEMPLATE_SHORT_CODE);
        assert_eq!(a.originator(), Originator::ShortCode("36173".into()));
        for bad in ["3617", "06173", "9999x", "361730"] {
            let json =
                format!(r#"{{"account_id":"a","company_name":"Acme","short_code":"{bad}"}}"#);
            assert_eq!(
                Account::from_json(&json),
                Err(AccountError::ShortCode(bad.into()))
            );
        }
        // A stored account with the old default reads as the default that fits its sender.
        let legacy = serde_json::json!({
            "account_id": "a", "company_name": "Acme", "message_template": sms::LEGACY_DEFAULT_TEMPLATE
        });
        let a = Account::from_json(&legacy.to_string()).unwrap();
        assert_eq!(a.message_template, None);
        assert_eq!(a.template(), sms::DEFAULT_TEMPLATE);
    }

    #[test]
    fn a_stored_account_with_an_earlier_stop_template_still_reads() {
        let stored = r#"{"account_id":"a","company_name":"Acme","message_template":"{company} : rappel {link} STOP 36173"}"#;
        assert!(matches!(
            Account::from_json(stored),
            Err(AccountError::Template(
                sms::TemplateError::StopWithoutShortCode
            ))
        ));
        let a = Account::from_stored_json(stored).unwrap();
        assert_eq!(a.template(), "{company} : rappel {link} STOP 36173");
        // Anything else wrong is still refused.
        let bad =
            r#"{"account_id":"a","company_name":"Acme","message_template":"{company} : rappel"}"#;
        assert!(Account::from_stored_json(bad).is_err());
    }

    #[test]
    fn secrets_accept_one_or_many_and_never_print() {
        let json = r#"{"account_id":"a","company_name":"Acme","webhook_secrets":{"twilio":"tok1","generic":["old","new"]}}"#;
        let a = Account::from_json(json).unwrap();
        assert_eq!(a.secrets_for("twilio"), vec!["tok1"]);
        assert_eq!(a.secrets_for("generic"), vec!["old", "new"]);
        assert!(a.secrets_for("vonage").is_empty());
        let debug = format!("{a:?}");
        assert!(
            !debug.contains("tok1") && !debug.contains("new\""),
            "{debug}"
        );
    }

    #[test]
    fn provider_accounts_and_tracked_numbers_are_checked_when_saved() {
        let with = |extra: &str| {
            Account::from_json(&format!(
                r#"{{"account_id":"a","company_name":"Acme"{extra}}}"#
            ))
        };
        let bound = with(
            r#","provider_accounts":{"twilio":"AC5f1e","vonage":"aaaaaaaa-bbbb","telnyx":"1684641123236054244"},"tracked_numbers":["+33 1 44 00 00 00","01 44 00 00 09"]"#,
        )
        .unwrap();
        assert!(bound.is_tracked("+33144000000") && bound.is_tracked("33144000009"));
        assert!(!bound.is_tracked("+33144000001") && !bound.is_tracked("anonymous"));
        // Providers whose webhooks do not name their account cannot be bound to one.
        for provider in ["aircall", "plivo", "ringover", "generic", "nope"] {
            assert_eq!(
                with(&format!(r#","provider_accounts":{{"{provider}":"x"}}"#)).unwrap_err(),
                AccountError::ProviderAccountUnsupported(provider.into())
            );
        }
        for bad in ["", "has space", &"x".repeat(129)] {
            assert_eq!(
                with(&format!(r#","provider_accounts":{{"twilio":"{bad}"}}"#)).unwrap_err(),
                AccountError::ProviderAccount("twilio".into())
            );
        }
        assert_eq!(
            with(r#","tracked_numbers":["+33144000000","0144"]"#).unwrap_err(),
            AccountError::TrackedNumber(1)
        );
        // Telnyx and Vonage need their provider account bound too.
        let telnyx = r#","webhook_secrets":{"telnyx":"k"},"tracked_numbers":["+33144000000"]"#;
        assert_eq!(
            with(telnyx).unwrap_err(),
            AccountError::TrackedNumbersCannotBind("telnyx")
        );
        assert!(
            with(&format!(
                r#"{telnyx},"provider_accounts":{{"telnyx":"1684"}}"#
            ))
            .is_ok()
        );
        // Not written when unset.
        let plain = with("").unwrap();
        let json = serde_json::to_string(&plain).unwrap();
        assert!(!json.contains("provider_accounts") && !json.contains("tracked_numbers"));
    }

    #[test]
    fn the_three_providers_that_name_their_account_are_read() {
        use crate::providers::{WebhookRequest, by_name};
        let now = chrono::Utc::now();
        let read = |provider: &str, headers: &http::HeaderMap, body: &str| {
            by_name(provider)
                .unwrap()
                .account_identity(&WebhookRequest {
                    public_url: "https://x.test/",
                    headers,
                    body: body.as_bytes(),
                    now,
                })
        };
        let none = http::HeaderMap::new();
        assert_eq!(
            read(
                "twilio",
                &none,
                "CallSid=CA1&AccountSid=AC5f1e&To=%2B33144000000"
            )
            .as_deref(),
            Some("AC5f1e")
        );
        assert_eq!(read("twilio", &none, "CallSid=CA1"), None);
        assert_eq!(
            read(
                "telnyx",
                &none,
                r#"{"data":{"payload":{"connection_id":"1684641123236054244"}}}"#
            )
            .as_deref(),
            Some("1684641123236054244")
        );
        let body = r#"{"status":"timeout"}"#;
        let token = crate::providers::vonage::sign("secret", body.as_bytes(), now.timestamp());
        let mut vonage = http::HeaderMap::new();
        vonage.insert("authorization", format!("Bearer {token}").parse().unwrap());
        assert_eq!(
            read("vonage", &vonage, body).as_deref(),
            Some("aaaaaaaa-bbbb-cccc-dddd-0123456789ab")
        );
        for provider in ["aircall", "plivo", "ringover", "generic"] {
            assert!(!by_name(provider).unwrap().names_its_account());
        }
    }
}
