//! libphonenumber's parsing and validation, ported from the reference implementation.
//!
//! The rules are those of libphonenumber's `PhoneNumberUtil` (`parse`, `isValidNumber`,
//! `getNumberType`, `getRegionCodeForNumber`), as Python `phonenumbers` implements them; the
//! data is libphonenumber's metadata, generated from that same release into
//! [`super::metadata`]. `shared/tests/numbering_corpus.rs` holds Rappel to the reference's
//! answers on thousands of numbers.
//!
//! Why not the `phonenumber` crate (0.3.10, metadata 9.0.33): it matched patterns as prefixes
//! (`+508 446 891 360`, a digit too long, came out a Saint-Pierre mobile), dropped the leading
//! zero of Italian numbers before typing them (Milan's `02…` matched mobile `3…` patterns once
//! shortened), did not read `0039…` as an international prefix, and its metadata was ten
//! releases old. Only what Rappel needs is here: no formatting, no carrier or geocoding data,
//! no alpha numbers, no extensions (callers are `+DIGITS` or `DIGITS` by the time they arrive).
//!
//! Patterns are compiled once per territory, on first use, into anchored regexes matched by
//! the `regex` crate's lazy DFA, ASCII only (`\d` is `[0-9]`, as in libphonenumber).

use super::metadata::{COUNT, TERRITORIES};
use regex::{Regex, RegexSet};
use std::sync::OnceLock;

/// A number type's pattern in a territory (libphonenumber `PhoneNumberDesc`).
pub struct Desc {
    /// `nationalNumberPattern`: a national significant number of this type matches it whole.
    pub pattern: &'static str,
    /// `possibleLength`: the national significant number's possible lengths (digits); empty
    /// means no length check.
    pub lengths: &'static [u8],
    /// `possibleLengthLocalOnly`: lengths dialable only inside an area.
    pub local: &'static [u8],
}

/// One territory's metadata (libphonenumber `PhoneMetadata`), as much as parsing and typing
/// need.
pub struct Territory {
    /// ISO 3166 region (`FR`), or `001` for a non-geographic calling code (`+800`...).
    pub id: &'static str,
    /// Country calling code (`33`).
    pub code: u16,
    /// International (IDD) prefix dialled from this territory (`00`), a regex.
    pub international_prefix: Option<&'static str>,
    /// What national dialling puts before the national significant number (`0`), a regex.
    pub national_prefix_for_parsing: Option<&'static str>,
    /// Replacement for `national_prefix_for_parsing`'s match (`${1}` group references).
    pub national_prefix_transform_rule: Option<&'static str>,
    /// Which national numbers belong to this territory when it shares its calling code.
    pub leading_digits: Option<&'static str>,
    /// Fixed lines and mobiles cannot be told apart (NANP).
    pub same_mobile_and_fixed_line_pattern: bool,
    pub general: Desc,
    pub premium_rate: Option<Desc>,
    pub toll_free: Option<Desc>,
    pub shared_cost: Option<Desc>,
    pub voip: Option<Desc>,
    pub personal_number: Option<Desc>,
    pub pager: Option<Desc>,
    pub uan: Option<Desc>,
    pub voicemail: Option<Desc>,
    pub fixed_line: Option<Desc>,
    pub mobile: Option<Desc>,
}

/// libphonenumber's number types (`PhoneNumberType`), those metadata can yield.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberType {
    PremiumRate,
    TollFree,
    SharedCost,
    Voip,
    PersonalNumber,
    Pager,
    Uan,
    Voicemail,
    FixedLine,
    Mobile,
    FixedLineOrMobile,
    Unknown,
}

/// Types tested before fixed line and mobile, in libphonenumber's order
/// (`getNumberTypeHelper`): the first that matches wins.
const SPECIAL_TYPES: [NumberType; 8] = [
    NumberType::PremiumRate,
    NumberType::TollFree,
    NumberType::SharedCost,
    NumberType::Voip,
    NumberType::PersonalNumber,
    NumberType::Pager,
    NumberType::Uan,
    NumberType::Voicemail,
];

/// libphonenumber's `MIN_LENGTH_FOR_NSN` and `MAX_LENGTH_FOR_NSN` (digits).
const MIN_NSN: usize = 2;
const MAX_NSN: usize = 17;

/// A parsed number: calling code and national significant number (digits, leading zeros
/// kept, as libphonenumber's `getNationalSignificantNumber` gives it).
#[derive(Clone, PartialEq, Eq)]
pub struct Parsed {
    pub code: u16,
    pub national: String,
}

impl std::fmt::Debug for Parsed {
    /// The digits are never printed, only how many there are.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parsed")
            .field("code", &self.code)
            .field("national_digits", &self.national.len())
            .finish()
    }
}

/// A valid number's territory and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Valid {
    /// ISO region (`FR`), or `None` for a non-geographic code.
    pub region: Option<&'static str>,
    pub number_type: NumberType,
}

/// The index in [`TERRITORIES`] of geographic region `id` (`FR`), if libphonenumber knows it.
pub fn region_index(id: &str) -> Option<usize> {
    static BY_ID: OnceLock<Vec<(&'static str, usize)>> = OnceLock::new();
    let by_id = BY_ID.get_or_init(|| {
        let mut v: Vec<_> = TERRITORIES
            .iter()
            .enumerate()
            .filter(|(_, t)| t.id != "001")
            .map(|(i, t)| (t.id, i))
            .collect();
        v.sort_unstable();
        v
    });
    by_id
        .binary_search_by(|(k, _)| (*k).cmp(id))
        .ok()
        .map(|at| by_id[at].1)
}

/// Indices of the territories sharing calling code `code`, main territory first (empty if
/// `code` is not a calling code).
fn territories_of(code: u16) -> std::ops::Range<usize> {
    let start = TERRITORIES.partition_point(|t| t.code < code);
    let end = TERRITORIES.partition_point(|t| t.code <= code);
    start..end
}

/// Whether `code` is a country calling code in use (`33`, `262`, `800`...).
pub fn is_calling_code(code: u16) -> bool {
    !territories_of(code).is_empty()
}

/// A territory's patterns, compiled.
struct Compiled {
    general: Regex,
    /// The type patterns (general, special types, fixed line, mobile) in one set, matched in
    /// one pass ([`number_type`]); [`TYPE_SLOTS`] order, absent types left out.
    types: RegexSet,
    /// Each slot's index in `types`, `None` for a type the territory does not have.
    slots: [Option<usize>; TYPE_SLOTS],
    /// Prefix matchers (anchored at the start only).
    leading_digits: Option<Regex>,
    national_prefix_for_parsing: Option<Regex>,
    international_prefix: Option<Regex>,
}

/// Territory `i`'s compiled patterns, compiled on first use.
fn compiled(i: usize) -> &'static Compiled {
    static COMPILED: [OnceLock<Compiled>; COUNT] = [const { OnceLock::new() }; COUNT];
    COMPILED[i].get_or_init(|| {
        let t = &TERRITORIES[i];
        let prefix = |p: Option<&str>| p.map(|p| anchored(p, false));
        let mut slots = [None; TYPE_SLOTS];
        let mut sources = Vec::new();
        for (slot, desc) in type_descs(t).into_iter().enumerate() {
            if let Some(desc) = desc {
                slots[slot] = Some(sources.len());
                sources.push(anchored_source(desc.pattern, true));
            }
        }
        Compiled {
            types: RegexSet::new(&sources).expect("libphonenumber metadata patterns compile"),
            slots,
            general: anchored(t.general.pattern, true),
            leading_digits: prefix(t.leading_digits),
            national_prefix_for_parsing: prefix(t.national_prefix_for_parsing),
            international_prefix: prefix(t.international_prefix),
        }
    })
}

/// `pattern` anchored at the start, and at the end too when `whole`. Metadata patterns are
/// checked by `tests::every_pattern_compiles`, so a failure here is a build defect.
fn anchored(pattern: &str, whole: bool) -> Regex {
    Regex::new(&anchored_source(pattern, whole)).expect("libphonenumber metadata pattern compiles")
}

/// The source of [`anchored`]. `(?-u)`: ASCII classes (the crate is built without Unicode
/// tables).
fn anchored_source(pattern: &str, whole: bool) -> String {
    if whole {
        format!("^(?-u:{pattern})$")
    } else {
        format!("^(?-u:{pattern})")
    }
}

/// Slots of a territory's type patterns: general, the 8 [`SPECIAL_TYPES`], fixed line, mobile.
const TYPE_SLOTS: usize = 11;
const GENERAL: usize = 0;
const FIXED_LINE: usize = 9;
const MOBILE: usize = 10;

fn type_descs(t: &Territory) -> [Option<&Desc>; TYPE_SLOTS] {
    let special = t.descs_special();
    [
        Some(&t.general),
        special[0].as_ref(),
        special[1].as_ref(),
        special[2].as_ref(),
        special[3].as_ref(),
        special[4].as_ref(),
        special[5].as_ref(),
        special[6].as_ref(),
        special[7].as_ref(),
        t.fixed_line.as_ref(),
        t.mobile.as_ref(),
    ]
}

impl Territory {
    fn descs_special(&self) -> [&Option<Desc>; 8] {
        [
            &self.premium_rate,
            &self.toll_free,
            &self.shared_cost,
            &self.voip,
            &self.personal_number,
            &self.pager,
            &self.uan,
            &self.voicemail,
        ]
    }
}

/// `getNumberTypeHelper`: the type of national significant number `national` in territory `i`.
/// Every type pattern is matched in one pass of the territory's set; each type then also needs
/// one of its possible lengths (`isNumberMatchingDesc`), in the reference's order.
fn number_type(i: usize, national: &str) -> NumberType {
    let t = &TERRITORIES[i];
    let c = compiled(i);
    let matched = c.types.matches(national);
    let descs = type_descs(t);
    let is = |slot: usize| match (descs[slot], c.slots[slot]) {
        (Some(desc), Some(at)) => {
            (desc.lengths.is_empty() || desc.lengths.contains(&(national.len() as u8)))
                && matched.matched(at)
        }
        _ => false,
    };
    if !is(GENERAL) {
        return NumberType::Unknown;
    }
    for (n, kind) in SPECIAL_TYPES.iter().enumerate() {
        if is(1 + n) {
            return *kind;
        }
    }
    if is(FIXED_LINE) {
        if t.same_mobile_and_fixed_line_pattern || is(MOBILE) {
            return NumberType::FixedLineOrMobile;
        }
        return NumberType::FixedLine;
    }
    if !t.same_mobile_and_fixed_line_pattern && is(MOBILE) {
        return NumberType::Mobile;
    }
    NumberType::Unknown
}

/// `getRegionCodeForNumber`: the territory a number belongs to. With one territory for the
/// code, that one; otherwise the first whose leading digits match, or (without leading
/// digits) whose types accept the number.
fn territory_of(number: &Parsed) -> Option<usize> {
    let range = territories_of(number.code);
    if range.len() == 1 {
        return Some(range.start);
    }
    range
        .into_iter()
        .find(|&i| match &compiled(i).leading_digits {
            Some(re) => re.is_match(&number.national),
            None => number_type(i, &number.national) != NumberType::Unknown,
        })
}

/// `isValidNumber` and `getNumberType` at once: `Some` when the number is valid.
pub fn validate(number: &Parsed) -> Option<Valid> {
    let i = territory_of(number)?;
    let number_type = number_type(i, &number.national);
    (number_type != NumberType::Unknown).then(|| Valid {
        region: Some(TERRITORIES[i].id).filter(|id| *id != "001"),
        number_type,
    })
}

/// `testNumberLength` against the territory's general lengths, for number type UNKNOWN.
#[derive(Debug, PartialEq, Eq)]
enum Length {
    Possible,
    LocalOnly,
    TooShort,
    Invalid,
    TooLong,
}

fn test_length(i: usize, national: &str) -> Length {
    let general = &TERRITORIES[i].general;
    let n = national.len() as u8;
    if general.local.contains(&n) {
        return Length::LocalOnly;
    }
    let (Some(&min), Some(&max)) = (general.lengths.first(), general.lengths.last()) else {
        return Length::Invalid;
    };
    if n == min {
        Length::Possible
    } else if n < min {
        Length::TooShort
    } else if n > max {
        Length::TooLong
    } else if general.lengths[1..].contains(&n) {
        Length::Possible
    } else {
        Length::Invalid
    }
}

/// `maybeStripNationalPrefixAndCarrierCode`: `number` without territory `i`'s national
/// prefix, or `None` if it has none (or stripping it would make a viable number unviable).
fn strip_national_prefix(i: usize, number: &str) -> Option<String> {
    let c = compiled(i);
    let re = c.national_prefix_for_parsing.as_ref()?;
    let caps = re.captures(number)?;
    let end = caps.get(0)?.end();
    let viable = c.general.is_match(number);
    let last_group = caps.len() - 1;
    let stripped = match TERRITORIES[i].national_prefix_transform_rule {
        Some(rule) if last_group > 0 && caps.get(last_group).is_some() => {
            let mut out = String::with_capacity(number.len() + 4);
            caps.expand(rule, &mut out);
            out.push_str(&number[end..]);
            out
        }
        _ => number[end..].to_owned(),
    };
    if viable && !c.general.is_match(&stripped) {
        return None;
    }
    Some(stripped)
}

/// The calling code at the start of `digits` and the rest (`extractCountryCode`). Calling
/// codes are prefix-free, so the first that exists is the one.
fn split_calling_code(digits: &str) -> Option<(u16, &str)> {
    if digits.starts_with('0') {
        return None;
    }
    (1..=3.min(digits.len())).find_map(|len| {
        let code: u16 = digits[..len].parse().ok()?;
        is_calling_code(code).then(|| (code, &digits[len..]))
    })
}

/// Parse `digits` (ASCII digits only; `plus`: they followed a `+`) as libphonenumber's
/// `parse(number, default_region)` does. `default` is the default region's index
/// ([`region_index`]); without one only international notations parse. `None` is any of the
/// reference's parse errors (invalid country code, too short, too long). A parsed number is
/// not necessarily valid: see [`validate`].
pub fn parse(digits: &str, plus: bool, default: Option<usize>) -> Option<Parsed> {
    match extract_calling_code(digits, plus, default) {
        Extracted::Code(code, rest) => finish(code, rest, None),
        Extracted::Default => {
            let i = default?;
            finish(TERRITORIES[i].code, digits.to_owned(), Some(i))
        }
        // The reference retries a number after `+` without it (`+0033…` is `0033…`).
        Extracted::InvalidCode if plus => match extract_calling_code(digits, false, default) {
            Extracted::Code(code, rest) => finish(code, rest, None),
            _ => None,
        },
        Extracted::InvalidCode => None,
    }
}

enum Extracted {
    /// A calling code, and the digits after it.
    Code(u16, String),
    /// No calling code: a national number of the default region.
    Default,
    InvalidCode,
}

/// `maybeExtractCountryCode`.
fn extract_calling_code(digits: &str, plus: bool, default: Option<usize>) -> Extracted {
    let international = if plus {
        Some(digits)
    } else {
        default.and_then(|i| strip_idd(i, digits))
    };
    if let Some(rest) = international {
        if rest.len() <= MIN_NSN {
            return Extracted::InvalidCode;
        }
        return match split_calling_code(rest) {
            Some((code, national)) => Extracted::Code(code, national.to_owned()),
            None => Extracted::InvalidCode,
        };
    }
    let Some(i) = default else {
        return Extracted::InvalidCode;
    };
    // The default region's own code without `+` (`33600000001` read in France).
    let code = TERRITORIES[i].code;
    if let Some(after) = digits.strip_prefix(code.to_string().as_str()) {
        let general = &compiled(i).general;
        let potential = strip_national_prefix(i, after).unwrap_or_else(|| after.to_owned());
        if (!general.is_match(digits) && general.is_match(&potential))
            || test_length(i, digits) == Length::TooLong
        {
            return Extracted::Code(code, potential);
        }
    }
    Extracted::Default
}

/// The IDD prefix of territory `i` stripped from `digits` (`parsePrefixAsIdd`), unless what
/// follows starts with `0` (no calling code does).
fn strip_idd(i: usize, digits: &str) -> Option<&str> {
    let re = compiled(i).international_prefix.as_ref()?;
    let end = re.find(digits)?.end();
    let rest = &digits[end..];
    (!rest.starts_with('0')).then_some(rest)
}

/// The end of `parse`: strip the national prefix when what is left has a possible length,
/// then check the national significant number's length. The prefix is the default region's
/// (`default`) for a national notation, else the code's main territory's.
fn finish(code: u16, national: String, default: Option<usize>) -> Option<Parsed> {
    let range = territories_of(code);
    if range.is_empty() || national.len() < MIN_NSN {
        return None;
    }
    let i = default.unwrap_or(range.start);
    let national = match strip_national_prefix(i, &national) {
        Some(stripped)
            if !matches!(
                test_length(i, &stripped),
                Length::TooShort | Length::LocalOnly | Length::Invalid
            ) =>
        {
            stripped
        }
        _ => national,
    };
    (MIN_NSN..=MAX_NSN)
        .contains(&national.len())
        .then_some(Parsed { code, national })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        for i in 0..COUNT {
            let _ = compiled(i);
        }
    }

    #[test]
    fn territories_are_sorted_by_calling_code() {
        assert!(TERRITORIES.windows(2).all(|w| w[0].code <= w[1].code));
        assert_eq!(
            territories_of(262)
                .map(|i| TERRITORIES[i].id)
                .collect::<Vec<_>>(),
            ["RE", "YT"]
        );
        assert_eq!(TERRITORIES[region_index("FR").unwrap()].code, 33);
        assert_eq!(region_index("ZZ"), None);
        assert!(is_calling_code(508) && !is_calling_code(999));
    }

    fn valid(digits: &str, plus: bool, region: &str) -> Option<Valid> {
        validate(&parse(digits, plus, region_index(region))?)
    }

    #[test]
    fn the_whole_number_must_match_not_a_prefix() {
        // Saint-Pierre-et-Miquelon numbers have 6 digits: `+508 41 12 34` is a fixed line,
        // the same with 3 more digits (issue 10's `+508 446 891 360`) is no number at all.
        assert_eq!(
            valid("508411234", true, "FR").map(|v| v.number_type),
            Some(NumberType::FixedLine)
        );
        assert_eq!(valid("508446891360", true, "FR"), None);
        assert_eq!(
            valid("508551234", true, "FR").map(|v| v.number_type),
            Some(NumberType::Mobile)
        );
    }

    #[test]
    fn italian_leading_zero_is_part_of_the_number() {
        let milan = parse("390212345678", true, None).unwrap();
        assert_eq!(milan.national, "0212345678");
        assert_eq!(validate(&milan).unwrap().number_type, NumberType::FixedLine);
        // The IDD from France.
        assert_eq!(
            parse("00390212345678", false, region_index("FR")),
            Some(milan)
        );
    }

    #[test]
    fn national_prefix_is_stripped() {
        let n = parse("0600000001", false, region_index("FR")).unwrap();
        assert_eq!((n.code, n.national.as_str()), (33, "600000001"));
        // `+33 0 6…`: the reference strips the national prefix after the code too.
        let n = parse("330600000001", true, region_index("FR")).unwrap();
        assert_eq!(n.national, "600000001");
    }
}
