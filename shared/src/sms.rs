//! SMS text: GSM 03.38 / UCS-2 segment counting, the message template and its validation.
//!
//! Segment sizes follow 3GPP TS 23.038 (alphabet, extension table) and TS 23.040
//! (concatenated SMS user-data header): GSM-7 160 / 153 septets, UCS-2 70 / 67 characters.

use serde::Serialize;

/// How the text is encoded on the air interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// Size of a text as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Segments {
    pub encoding: Encoding,
    /// Septets (GSM-7, extension characters count 2) or UTF-16 code units (UCS-2).
    pub units: usize,
    /// Number of SMS parts billed.
    pub count: usize,
}

/// The default French template. Placeholders: `{company}`, `{link}`.
pub const DEFAULT_TEMPLATE: &str = "{company} : nous avons manqué votre appel. Choisissez quand nous vous rappelons : {link} STOP au 36173";

/// Longest link the sender can produce, used to size templates when validating
/// (`https://` + a 40-character host/path + `/r/` + a 22-character token).
pub const MAX_SEGMENTS: usize = 2;

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the template must contain {{company}} (the advertiser must be named)")]
    MissingCompany,
    #[error("the template must contain {{link}}")]
    MissingLink,
    #[error("the template must offer a free opt-out (the word STOP)")]
    MissingOptOut,
    #[error("the message needs {segments} SMS segments ({encoding:?}, {units} units); at most 2 are allowed{}", .forced_by.map(|c| format!(": character {c:?} (U+{:04X}) forces UCS-2", c as u32)).unwrap_or_default())]
    TooLong { segments: usize, units: usize, encoding: Encoding, forced_by: Option<char> },
}

/// Count the segments of `text`.
pub fn segments(text: &str) -> Segments {
    let _ = text;
    todo!()
}

/// The first character of `text` outside the GSM 03.38 alphabet and its extension table,
/// i.e. the one that forces UCS-2, if any.
pub fn first_non_gsm(text: &str) -> Option<char> {
    let _ = text;
    todo!()
}

/// Fill `{company}` and `{link}` in `template`.
pub fn render(template: &str, company: &str, link: &str) -> String {
    template.replace("{company}", company).replace("{link}", link)
}

/// Validate an account's template: names the company, has the link, offers STOP, and the
/// rendered text (with `company` and a link of `link_len` characters) fits in [`MAX_SEGMENTS`].
pub fn validate_template(template: &str, company: &str, link_len: usize) -> Result<Segments, TemplateError> {
    let _ = (template, company, link_len);
    todo!()
}
