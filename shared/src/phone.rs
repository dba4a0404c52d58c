//! Caller numbers: E.164 normalisation, line type, region, withheld callers, masking.
//!
//! Classification uses libphonenumber metadata and libphonenumber's own parsing and typing
//! rules ([`numbering`], metadata generated from the reference release into [`metadata`]),
//! never hand-written prefix regexes (rule 2, docs/architecture.md). Clear numbers are
//! personal data (rule 7, docs/architecture.md): [`E164`] prints masked.
//!
//! [`classify`] never hands the raw provider string to the parser, only the digits it
//! extracted itself (`+DIGITS` / `DIGITS`).

#[rustfmt::skip]
pub mod metadata;
pub mod numbering;

use numbering::NumberType;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A number in E.164 form (`+33600000001`). Its `Debug` and `Display` are **masked**
/// (`+33 6•• •• •• 01`), so it cannot leak into logs by accident; use [`E164::expose`]
/// only where the clear number is needed (encryption, hashing, SNS).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct E164(String);

/// What kind of line a number is, from libphonenumber metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineType {
    Mobile,
    /// Metadata cannot tell fixed from mobile (e.g. some NANP numbers).
    FixedOrMobile,
    FixedLine,
    Voip,
    /// Premium, shared-cost, toll-free, UAN, pager, voicemail access...
    SpecialRate,
    Unknown,
}

/// A caller as the provider reported it, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No caller id: empty, `anonymous`, `restricted`, `private`, `unknown`, `unavailable`,
    /// `sip:anonymous@...`, or one of Twilio's keypad numbers (rule 2, docs/architecture.md).
    Withheld,
    /// Something that is not a valid phone number.
    Invalid,
    /// A valid number.
    Number {
        e164: E164,
        line_type: LineType,
        /// ISO 3166 region from metadata (`"FR"`, `"RE"`, `"YT"`, `"GP"`...), if known.
        region: Option<String>,
    },
}

/// Words providers put in the caller-id field (or a SIP URI's user part) when the caller
/// withheld their number. Compared case-insensitively.
pub const WITHHELD_WORDS: [&str; 7] = [
    "anonymous",
    "restricted",
    "private",
    "unknown",
    "unavailable",
    "withheld",
    "blocked",
];

/// Twilio's placeholder "numbers" for callers without caller id: the words `ANONYMOUS`,
/// `RESTRICTED`, `BLOCKED`, `UNKNOWN` and `UNAVAILABLE` spelled on a phone keypad
/// (`+266696687`, `+7378742833`, `+2562533`, `+8656696`, `+86282452253`).
/// Digits only; matched with or without the `+`.
pub const TWILIO_WITHHELD_DIGITS: [&str; 5] = [
    "266696687",
    "7378742833",
    "2562533",
    "8656696",
    "86282452253",
];

/// More digits than any dialable form of a number: libphonenumber's longest national
/// significant number (17), a 3-digit calling code and a 4-digit IDD (`0011`). A guard against
/// absurd input before parsing, not a validity rule.
const MAX_DIGITS: usize = 24;

impl E164 {
    /// Wrap a string that is already a normalised E.164 number, without parsing or
    /// validating it. For numbers that were classified before and come back from storage
    /// (e.g. decrypted by the sender); anything from a provider goes through [`classify`].
    pub fn from_e164_unchecked(s: impl Into<String>) -> E164 {
        E164(s.into())
    }

    /// The clear number. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Masked form for humans and logs: country code, first national digit, last two digits.
    ///
    /// `+33600000001` → `+33 6•• •• •• 01`, `+262692000001` → `+262 6•• •• •• 01`.
    /// The country calling code is found with libphonenumber metadata (calling codes are
    /// prefix-free). National digits are grouped in pairs from the right. Numbers with fewer
    /// than 6 national digits show only their first digit; a string that is not `+DIGITS`
    /// shows only its last two digits.
    pub fn masked(&self) -> String {
        let digits = self.0.strip_prefix('+').filter(|d| {
            !d.is_empty() && d.len() <= MAX_DIGITS && d.bytes().all(|b| b.is_ascii_digit())
        });
        let Some(digits) = digits else {
            return mask_unstructured(&self.0);
        };
        let code_len = (1..=3.min(digits.len())).find(|&len| {
            digits[..len]
                .parse::<u16>()
                .is_ok_and(numbering::is_calling_code)
        });
        let Some(code_len) = code_len else {
            return mask_unstructured(&self.0);
        };
        let (code, national) = digits.split_at(code_len);
        format!("+{code} {}", mask_national(national))
    }
}

/// Keep the first and the last two digits of a national significant number, mask the rest,
/// and group in pairs from the right (a leading odd digit joins the first pair: `6••`).
fn mask_national(national: &str) -> String {
    let n = national.len();
    let reveal_tail = n >= 6;
    let masked: Vec<char> = national
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 || (reveal_tail && i >= n - 2) {
                c
            } else {
                '•'
            }
        })
        .collect();
    let first_group = if n % 2 == 1 && n >= 3 { 3 } else { 2.min(n) };
    let mut out = String::with_capacity(n * 3 + n / 2);
    out.extend(&masked[..first_group]);
    for pair in masked[first_group..].chunks(2) {
        out.push(' ');
        out.extend(pair);
    }
    out
}

/// Fallback for strings that are not `+DIGITS`: every character masked but the last two
/// digits (when there are at least 6).
fn mask_unstructured(s: &str) -> String {
    let digits: Vec<char> = s.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len();
    let mut out = String::from("+");
    for (i, c) in digits.into_iter().enumerate() {
        out.push(if n >= 6 && i >= n - 2 { c } else { '•' });
    }
    out
}

impl fmt::Debug for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Classify a raw caller string as a provider sent it (`"+33600000001"`, `"33600000001"`,
/// `"+33 6 00 00 00 01"`, `"0600000001"`, `"anonymous"`, `"sip:+33600000001@host"`...).
/// National formats are read with `default_region` (ISO code, e.g. `"FR"`).
///
/// * Withheld: empty, one of [`WITHHELD_WORDS`] (alone or as a SIP/tel URI user part,
///   e.g. `sip:anonymous@anonymous.invalid`), or one of [`TWILIO_WITHHELD_DIGITS`].
/// * `sip:`/`sips:`/`tel:` schemes, `<...>` brackets, `@host`, `;params` and `?headers`
///   are stripped; spaces, dashes, dots, slashes and parentheses are ignored.
/// * `+…` is international; `0…` is national or IDD (`0033…`) in `default_region`;
///   digits without `+` (as Plivo sends them) are read as international when that gives a
///   valid number, else as national in `default_region`.
/// * Anything else (letters, other symbols, too many digits, invalid per metadata) is
///   [`Caller::Invalid`].
pub fn classify(raw: &str, default_region: &str) -> Caller {
    let user = user_part(raw);
    if user.is_empty() || WITHHELD_WORDS.iter().any(|w| user.eq_ignore_ascii_case(w)) {
        return Caller::Withheld;
    }

    let Some((plus, digits)) = canonical_digits(user) else {
        return Caller::Invalid;
    };
    if TWILIO_WITHHELD_DIGITS.contains(&digits.as_str()) {
        return Caller::Withheld;
    }
    if digits.is_empty() || digits.len() > MAX_DIGITS {
        return Caller::Invalid;
    }

    // Upper-cased on the stack (region ids are two ASCII letters): no allocation per call.
    let region = {
        let id = default_region.trim();
        let mut upper = [0u8; 3];
        match id.as_bytes() {
            bytes if bytes.len() <= upper.len() && bytes.is_ascii() => {
                upper[..bytes.len()].copy_from_slice(bytes);
                upper.make_ascii_uppercase();
                std::str::from_utf8(&upper[..bytes.len()])
                    .ok()
                    .and_then(numbering::region_index)
            }
            _ => None,
        }
    };
    let international = || parse_valid(&digits, true, region);
    let national = || parse_valid(&digits, false, region);
    let number = if plus {
        international()
    } else if digits.starts_with('0') {
        national()
    } else {
        international().or_else(national)
    };

    match number {
        Some((number, valid)) => Caller::Number {
            e164: E164(format!("+{}{}", number.code, number.national)),
            line_type: line_type(valid.number_type),
            region: valid.region.map(str::to_owned),
        },
        None => Caller::Invalid,
    }
}

/// The user part of a caller id: trimmed, without `<>`, URI scheme, host, parameters.
fn user_part(raw: &str) -> &str {
    let mut s = raw.trim();
    // `"Display Name" <sip:user@host>`: keep what is inside the brackets.
    if let (Some(open), Some(close)) = (s.find('<'), s.rfind('>'))
        && open < close
    {
        s = s[open + 1..close].trim();
    }
    for scheme in ["sip:", "sips:", "tel:"] {
        if let Some(rest) = strip_prefix_ignore_ascii_case(s, scheme) {
            s = rest;
            break;
        }
    }
    let end = s.find(['@', ';', '?']).unwrap_or(s.len());
    s[..end].trim()
}

/// `s` without `prefix` if it starts with it, ignoring ASCII case.
fn strip_prefix_ignore_ascii_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// `Some((has_plus, digits))` if `s` is made only of digits, visual separators and at most
/// one leading `+` (also written `%2B` in URIs); `None` otherwise.
fn canonical_digits(s: &str) -> Option<(bool, String)> {
    let (plus, rest) = if let Some(rest) = s.strip_prefix('+') {
        (true, rest)
    } else if let Some(rest) = strip_prefix_ignore_ascii_case(s, "%2b") {
        (true, rest)
    } else {
        (false, s)
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '/' | '(' | ')' | '\u{a0}' => {}
            _ => return None,
        }
    }
    Some((plus, digits))
}

/// Parse digits as libphonenumber does (`plus`: they followed a `+`; national notations read
/// in territory `region`); `Some` only if the number is valid.
fn parse_valid(
    digits: &str,
    plus: bool,
    region: Option<usize>,
) -> Option<(numbering::Parsed, numbering::Valid)> {
    let number = numbering::parse(digits, plus, region)?;
    let valid = numbering::validate(&number)?;
    Some((number, valid))
}

/// Map libphonenumber's number type onto the types the rules care about.
fn line_type(t: NumberType) -> LineType {
    match t {
        NumberType::Mobile => LineType::Mobile,
        NumberType::FixedLineOrMobile => LineType::FixedOrMobile,
        NumberType::FixedLine => LineType::FixedLine,
        NumberType::Voip => LineType::Voip,
        NumberType::PremiumRate
        | NumberType::TollFree
        | NumberType::SharedCost
        | NumberType::Uan
        | NumberType::Pager
        | NumberType::Voicemail
        | NumberType::PersonalNumber => LineType::SpecialRate,
        NumberType::Unknown => LineType::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn number(raw: &str) -> (String, LineType, Option<String>) {
        match classify(raw, "FR") {
            Caller::Number {
                e164,
                line_type,
                region,
            } => (e164.expose().to_owned(), line_type, region),
            other => panic!("{raw:?}: expected a number, got {other:?}"),
        }
    }

    fn assert_number(raw: &str, e164: &str, line_type: LineType, region: &str) {
        assert_eq!(
            number(raw),
            (e164.to_owned(), line_type, Some(region.to_owned())),
            "{raw:?}"
        );
    }

    #[test]
    fn french_mobiles() {
        assert_number("+33600000001", "+33600000001", LineType::Mobile, "FR");
        assert_number("+33 6 00 00 12 34", "+33600001234", LineType::Mobile, "FR");
        assert_number("+33 7 50 00 12 34", "+33750001234", LineType::Mobile, "FR");
    }

    #[test]
    fn accepted_spellings_of_one_number() {
        for raw in [
            "+33 6 00 00 00 01",
            "+33600000001",
            "33600000001",
            "0033600000001",
            "0600000001",
            "06 00 00 00 01",
            "06.00.00.00.01",
            "06-00-00-00-01",
            "+33 (0)6 00 00 00 01",
            "  +33600000001\n",
            "sip:+33600000001@sip.example.com",
            "sip:+33600000001@sip.example.com;user=phone",
            "SIP:0600000001@10.0.0.1:5060",
            "sips:+33600000001@example.com",
            "tel:+33600000001",
            "tel:+33-6-00-00-00-01;phone-context=example.com",
            "\"Jean\" <sip:+33600000001@example.com>",
            "sip:%2B33600000001@example.com",
        ] {
            assert_number(raw, "+33600000001", LineType::Mobile, "FR");
        }
    }

    #[test]
    fn national_numbers_use_the_default_region() {
        assert_number("06 00 00 00 01", "+33600000001", LineType::Mobile, "FR");
        // Lower-case region codes are accepted.
        assert_eq!(classify("0600000001", "fr"), classify("0600000001", "FR"));
        // Same national digits in another region mean another number.
        let (e164, _, region) = match classify("0692000001", "RE") {
            Caller::Number {
                e164,
                line_type,
                region,
            } => (e164.expose().to_owned(), line_type, region),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            (e164.as_str(), region.as_deref()),
            ("+262692000001", Some("RE"))
        );
        // Without a usable default region, a national number cannot be read.
        assert_eq!(classify("0600000001", "??"), Caller::Invalid);
    }

    #[test]
    fn digits_without_plus_are_international_when_valid_that_way() {
        // Plivo sends E.164 without the `+`.
        assert_number("33600000001", "+33600000001", LineType::Mobile, "FR");
        assert_number("262692000001", "+262692000001", LineType::Mobile, "RE");
        assert_number("447400123456", "+447400123456", LineType::Mobile, "GB");
        // Not valid as international: national significant number in the default region.
        assert_number("600000001", "+33600000001", LineType::Mobile, "FR");
    }

    #[test]
    fn landline_voip_special_rate() {
        assert_number(
            "+33 1 44 00 12 34",
            "+33144001234",
            LineType::FixedLine,
            "FR",
        );
        assert_number("01 44 00 12 34", "+33144001234", LineType::FixedLine, "FR");
        assert_number("+33 9 73 00 00 01", "+33973000001", LineType::Voip, "FR");
        assert_number("09 73 00 00 01", "+33973000001", LineType::Voip, "FR");
        assert_number(
            "+33 8 92 00 00 01",
            "+33892000001",
            LineType::SpecialRate,
            "FR",
        );
        assert_number(
            "08 99 00 00 01",
            "+33899000001",
            LineType::SpecialRate,
            "FR",
        );
        // Toll-free counts as special rate too.
        assert_number(
            "08 00 00 00 01",
            "+33800000001",
            LineType::SpecialRate,
            "FR",
        );
    }

    #[test]
    fn overseas_regions_come_from_metadata() {
        assert_number("+262 692 00 12 34", "+262692001234", LineType::Mobile, "RE");
        assert_number("+590 690 00 12 34", "+590690001234", LineType::Mobile, "GP");
        // +262 is shared by Réunion and Mayotte; 639 is Mayotte's mobile range.
        assert_number("+262 639 00 12 34", "+262639001234", LineType::Mobile, "YT");
        assert_number("+594 694 00 00 01", "+594694000001", LineType::Mobile, "GF");
        assert_number("+596 696 00 00 01", "+596696000001", LineType::Mobile, "MQ");
        assert_number("+508 55 12 34", "+508551234", LineType::Mobile, "PM");
    }

    #[test]
    fn other_countries() {
        assert_number(
            "+1 520 878 2491",
            "+15208782491",
            LineType::FixedOrMobile,
            "US",
        );
        assert_number("+44 7400 123456", "+447400123456", LineType::Mobile, "GB");
        // Italian numbers keep their leading zero: Rome's 06 is a fixed line, in national
        // notation too, and Italy's 03xx areas are not mobiles.
        assert_number(
            "+39 06 1234 5678",
            "+390612345678",
            LineType::FixedLine,
            "IT",
        );
        assert_number(
            "0039 06 1234 5678",
            "+390612345678",
            LineType::FixedLine,
            "IT",
        );
        assert_number(
            "+39 0331 123456",
            "+390331123456",
            LineType::FixedLine,
            "IT",
        );
        assert_eq!(
            classify("06 1234 5678", "IT"),
            classify("+39 06 1234 5678", "FR")
        );
        // One digit too many is not a number, however well its start matches.
        assert_eq!(classify("+508 446 891 360", "FR"), Caller::Invalid);
    }

    #[test]
    fn invalid_numbers() {
        for raw in [
            // The old "fiction" range: 0639 now belongs to Mayotte, so invalid in France.
            "+33 6 39 98 00 00",
            "+33639980001",
            "06 39 98 00 00",
            "+3361",
            "+33 6 00 00 00 0",
            "+33 6 00 00 00 001",
            "+999 1234 5678",
            "+",
            "123",
            "0",
            "+33 6 00 00 00 0x",
            "06 00 00 00 01 ext. 12",
            "1-800-FLOWERS",
            "+33600000001+",
            "++33600000001",
            "sip:bob@example.com",
            "+٣٣٦٠٠٠٠٠٠٠١",
            "00000000000000000000000000000000000000000",
            "+123456789012345678901234567890",
        ] {
            assert_eq!(classify(raw, "FR"), Caller::Invalid, "{raw:?}");
        }
    }

    #[test]
    fn withheld_callers() {
        for raw in [
            "",
            "   ",
            "anonymous",
            "Anonymous",
            "ANONYMOUS",
            "restricted",
            "Restricted",
            "private",
            "PRIVATE",
            "unknown",
            "Unknown",
            "unavailable",
            "withheld",
            "blocked",
            " anonymous ",
            "sip:anonymous@anonymous.invalid",
            "SIP:Anonymous@anonymous.invalid",
            "sip:anonymous@anonymous.invalid;tag=1234",
            "\"Anonymous\" <sip:anonymous@anonymous.invalid>",
            "sips:restricted@example.com",
            "sip:unknown@10.0.0.1",
            "sip:private@example.com",
            "sip:@example.com",
            "tel:anonymous",
            "anonymous@anonymous.invalid",
            // Twilio keypad "numbers", with and without `+`, with separators.
            "+266696687",
            "266696687",
            "+7378742833",
            "7378742833",
            "+2562533",
            "2562533",
            "+8656696",
            "8656696",
            "+86282452253",
            "86282452253",
            "+7 378 742 833",
            "sip:+266696687@example.com",
        ] {
            assert_eq!(classify(raw, "FR"), Caller::Withheld, "{raw:?}");
        }
    }

    #[test]
    fn masked_output() {
        let m = |s: &str| E164::from_e164_unchecked(s).masked();
        assert_eq!(m("+33600000001"), "+33 6•• •• •• 01");
        assert_eq!(m("+33750001234"), "+33 7•• •• •• 34");
        assert_eq!(m("+262692001234"), "+262 6•• •• •• 34");
        assert_eq!(m("+590690001234"), "+590 6•• •• •• 34");
        assert_eq!(m("+447400123456"), "+44 7• •• •• •• 56");
        assert_eq!(m("+15208782491"), "+1 5• •• •• •• 91");
        assert_eq!(m("+508551234"), "+508 5• •• 34");
        // Short or malformed: reveal less, never panic.
        assert_eq!(m("+3312345"), "+33 1•• ••");
        assert_eq!(m("+331"), "+33 1");
        assert_eq!(m("0600000001"), "+••••••••01");
        assert_eq!(m("+999600000001"), "+••••••••••01");
        assert_eq!(m(""), "+");
        assert_eq!(m("+"), "+");
    }

    #[test]
    fn debug_and_display_are_masked() {
        let caller = classify("+33600001234", "FR");
        let debug = format!("{caller:?}");
        assert!(debug.contains("+33 6•• •• •• 34"), "{debug}");
        assert!(!debug.contains("600001234"), "{debug}");
        let Caller::Number { e164, .. } = caller else {
            unreachable!()
        };
        assert_eq!(e164.to_string(), "+33 6•• •• •• 34");
        assert_eq!(format!("{e164:?}"), "+33 6•• •• •• 34");
        assert_eq!(e164.expose(), "+33600001234");
        assert_eq!(E164::from_e164_unchecked("+33600001234"), e164);
    }

    #[test]
    fn line_types_serialize_in_snake_case() {
        assert_eq!(
            serde_json::to_string(&LineType::FixedOrMobile).unwrap(),
            "\"fixed_or_mobile\""
        );
        assert_eq!(
            serde_json::from_str::<LineType>("\"special_rate\"").unwrap(),
            LineType::SpecialRate
        );
    }

    proptest! {
        #[test]
        fn classify_never_panics(raw in any::<String>(), region in "[A-Za-z?]{0,3}") {
            let _ = classify(&raw, &region);
        }

        #[test]
        fn classify_never_panics_on_digit_soup(raw in "[+0-9 ()./-]{0,40}", region in "(FR|RE|YT|GP|US|IT|GB|XX)") {
            let _ = classify(&raw, &region);
            let _ = classify(&format!("sip:{raw}@host"), &region);
        }

        #[test]
        fn masked_never_panics(raw in any::<String>()) {
            let _ = E164::from_e164_unchecked(raw).masked();
        }

        #[test]
        fn debug_of_a_french_mobile_hides_the_number(first in "[67]", rest in "[0-9]{8}") {
            let nsn = format!("{first}{rest}");
            let caller = classify(&format!("+33{nsn}"), "FR");
            if let Caller::Number { line_type, .. } = &caller {
                prop_assume!(*line_type == LineType::Mobile);
            } else {
                prop_assume!(false);
            }
            let debug = format!("{caller:?}");
            prop_assert!(!debug.contains(&nsn), "{}", debug);
            prop_assert!(!debug.contains(&rest[..6]), "{}", debug);
            // Also for the national spelling.
            let national = classify(&format!("0{nsn}"), "FR");
            prop_assert_eq!(&national, &caller);
            let national_debug = format!("{national:?}");
            prop_assert!(!national_debug.contains(&nsn), "{}", national_debug);
        }
    }
}
