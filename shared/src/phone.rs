//! Caller numbers: E.164 normalisation, line type, region, withheld callers, masking.
//!
//! Classification uses libphonenumber metadata (crate `phonenumber`), never prefix regexes.

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
    /// `sip:anonymous@...`, or one of Twilio's keypad numbers (DESIGN rule 2).
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

impl E164 {
    /// The clear number. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Masked form for humans and logs: country code, first national digit, last two digits.
    pub fn masked(&self) -> String {
        todo!()
    }
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
pub fn classify(raw: &str, default_region: &str) -> Caller {
    let _ = (raw, default_region);
    todo!()
}
