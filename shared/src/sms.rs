//! SMS text: GSM 03.38 / UCS-2 segment counting, the message template and its validation.
//!
//! Segment sizes follow 3GPP TS 23.038 (alphabet, extension table) and TS 23.040
//! (concatenated SMS user-data header): GSM-7 160 / 153 septets, UCS-2 70 / 67 characters.
//!
//! A single SMS carries 140 octets of user data: 160 GSM-7 septets or 70 UCS-2 code units.
//! A concatenated message spends 6 octets per part on its user-data header
//! (TS 23.040 §9.2.3.24.1), leaving 153 septets or 67 code units per part. A part never
//! splits a GSM-7 escape sequence (TS 23.038 §6.2.1.1) nor a UTF-16 surrogate pair, so a
//! part may carry one unit less than the maximum.

use serde::Serialize;

/// How the text is encoded on the air interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
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

/// The default French template for an account sending from an alphanumeric sender ID, which
/// cannot receive replies in France: the opt-out is a link to the page's opt-out action.
/// Placeholders: `{company}`, `{link}`, `{optout}`.
pub const DEFAULT_TEMPLATE: &str = "{company} : nous avons manqué votre appel. Choisissez quand nous vous rappelons : {link} Stop SMS : {optout}";

/// The default template for an account with a `short_code` (`{short_code}` is filled in):
/// replies reach the inbound-sms function, so `STOP au <code>` works.
pub const DEFAULT_TEMPLATE_SHORT_CODE: &str = "{company} : nous avons manqué votre appel. Choisissez quand nous vous rappelons : {link} STOP au {short_code}";

/// The default template of earlier versions. Its `STOP au 36173` only works for an account
/// that has that short code, so a stored account carrying it is read as "no template set"
/// (the default that fits its sender applies).
pub const LEGACY_DEFAULT_TEMPLATE: &str = "{company} : nous avons manqué votre appel. Choisissez quand nous vous rappelons : {link} STOP au 36173";

/// Most SMS segments (parts) one message may take; longer templates are refused when the
/// account is saved. Two GSM-7 parts hold 306 septets, two UCS-2 parts 134 code units.
pub const MAX_SEGMENTS: usize = 2;

/// Length of the link assumed when validating a template: the longest link the sender
/// produces, e.g. `https://` (8) + host and path of up to 31 characters + `/r/` (3) + a
/// 22-character token. Links are plain ASCII, so they are GSM-7 one septet per character.
pub const LINK_LEN_FOR_VALIDATION: usize = 64;

/// GSM-7 septets in one SMS without a user-data header (TS 23.040: 140 octets × 8 / 7).
pub const GSM7_SINGLE: usize = 160;
/// GSM-7 septets per part of a concatenated SMS (6-octet UDH; TS 23.040 §9.2.3.24.1).
pub const GSM7_PART: usize = 153;
/// UCS-2 code units in one SMS without a user-data header (140 octets / 2).
pub const UCS2_SINGLE: usize = 70;
/// UCS-2 code units per part of a concatenated SMS ((140 − 6) / 2).
pub const UCS2_PART: usize = 67;

/// Escape to the extension table (position 0x1B of the default alphabet); not a character.
const ESC: char = '\u{1B}';

/// GSM 7-bit default alphabet, TS 23.038 §6.2.1, indexed by septet value (rows of 16 as in
/// the standard's table: 0x00–0x0F, 0x10–0x1F, ...). 0x1B is the escape to the extension
/// table, not a character.
#[rustfmt::skip]
const GSM7_BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
    // Δ _ Φ Γ Λ Ω Π Ψ Σ Θ Ξ ESC Æ æ ß É (Greek as code points, to rule out lookalikes).
    '\u{394}', '_', '\u{3A6}', '\u{393}', '\u{39B}', '\u{3A9}', '\u{3A0}', '\u{3A8}',
    '\u{3A3}', '\u{398}', '\u{39E}', ESC, 'Æ', 'æ', 'ß', 'É',
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
];

/// GSM 7-bit default alphabet extension table, TS 23.038 §6.2.1.1: characters sent as
/// ESC + septet, so 2 septets each. (0x0D, "CR2", and 0x1B, a second escape, have no
/// Unicode character.)
const GSM7_EXTENSION: [char; 10] = ['\u{C}', '^', '{', '}', '\\', '[', '~', ']', '|', '€'];

/// Septets `c` takes in GSM-7 (1, or 2 for the extension table), `None` if it has none.
fn gsm7_septets(c: char) -> Option<usize> {
    if c != ESC && GSM7_BASIC.contains(&c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(&c) {
        Some(2)
    } else {
        None
    }
}

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the template must contain {{company}} (the advertiser must be named)")]
    MissingCompany,
    #[error("the template must contain {{link}}")]
    MissingLink,
    #[error(
        "the template must offer a free opt-out that works: {{optout}} (a link to the opt-out page), or \"STOP au {{short_code}}\" for an account that has a short_code"
    )]
    MissingOptOut,
    #[error(
        "the template asks for STOP replies, but this account sends from an alphanumeric sender ID, which cannot receive replies in France: use {{optout}}, or set short_code to the short code that receives them"
    )]
    StopWithoutShortCode,
    #[error(
        "the template has an unknown placeholder {0:?}: only {{company}}, {{link}}, {{optout}} and {{short_code}} are filled in"
    )]
    UnknownPlaceholder(String),
    #[error("the template must contain {{link}} once")]
    RepeatedLink,
    #[error("the message needs {segments} SMS segments ({encoding:?}, {units} units); at most 2 are allowed{}", .forced_by.map(|c| format!(": character {c:?} (U+{:04X}) forces UCS-2", c as u32)).unwrap_or_default())]
    TooLong {
        segments: usize,
        units: usize,
        encoding: Encoding,
        forced_by: Option<char>,
    },
}

/// Count the segments of `text`.
///
/// GSM-7 when every character is in the default alphabet or its extension table
/// ([`first_non_gsm`] is `None`), else UCS-2. A text that fits one SMS (160 septets /
/// 70 code units) is one segment; a longer one is cut into parts of at most 153 septets /
/// 67 code units, never inside an escape sequence or a surrogate pair.
/// The empty text counts as 0 units and **1** segment: sending it would still cost one SMS.
pub fn segments(text: &str) -> Segments {
    let (encoding, single, part) = if first_non_gsm(text).is_none() {
        (Encoding::Gsm7, GSM7_SINGLE, GSM7_PART)
    } else {
        (Encoding::Ucs2, UCS2_SINGLE, UCS2_PART)
    };
    let width = |c: char| match encoding {
        Encoding::Gsm7 => gsm7_septets(c).unwrap_or(1),
        Encoding::Ucs2 => c.len_utf16(),
    };

    let units = text.chars().map(width).sum();
    let count = if units <= single {
        1
    } else {
        // Fill parts greedily; a character that does not fit whole starts the next part.
        let (full_parts, last) = text.chars().map(width).fold((0, 0), |(parts, used), w| {
            if used + w > part {
                (parts + 1, w)
            } else {
                (parts, used + w)
            }
        });
        full_parts + usize::from(last > 0)
    };
    Segments {
        encoding,
        units,
        count,
    }
}

/// The first character of `text` outside the GSM 03.38 alphabet and its extension table,
/// i.e. the one that forces UCS-2, if any.
pub fn first_non_gsm(text: &str) -> Option<char> {
    text.chars().find(|&c| gsm7_septets(c).is_none())
}

/// What fills a template's placeholders.
#[derive(Debug, Clone, Copy)]
pub struct Fill<'a> {
    pub company: &'a str,
    /// The booking link (`{link}`).
    pub link: &'a str,
    /// The opt-out link (`{optout}`).
    pub optout: &'a str,
    /// The account's short code (`{short_code}`), empty when it has none.
    pub short_code: &'a str,
}

/// Fill `{company}`, `{link}`, `{optout}` and `{short_code}` in `template`.
pub fn render(template: &str, fill: &Fill) -> String {
    template
        .replace("{company}", fill.company)
        .replace("{link}", fill.link)
        .replace("{optout}", fill.optout)
        .replace("{short_code}", fill.short_code)
}

/// Whether a template offers an opt-out that works for its sender: the `{optout}` link, or
/// STOP replies to the account's `short_code` (`{short_code}` or the code itself, next to the
/// word STOP). A STOP mention without a short code is refused: an alphanumeric sender ID
/// cannot receive replies in France (ARCEP; AWS End User Messaging SMS, "France").
pub fn check_opt_out(template: &str, short_code: Option<&str>) -> Result<(), TemplateError> {
    if template.contains("{optout}") {
        return Ok(());
    }
    let stop = contains_word_ignore_case(template, "stop");
    match short_code {
        Some(code) if stop && (template.contains("{short_code}") || template.contains(code)) => {
            Ok(())
        }
        None if stop => Err(TemplateError::StopWithoutShortCode),
        _ => Err(TemplateError::MissingOptOut),
    }
}

/// Validate an account's template: names the company, has the link, offers an opt-out that
/// works for the account's sender ([`check_opt_out`]), and the rendered text (with `company`,
/// links of `link_len` characters and the short code) fits in [`MAX_SEGMENTS`].
///
/// Checks run in that order and the first failure is returned. `STOP` is matched as a
/// whole word, ignoring case (`Stop`, `STOP au 36173`, but not `STOPPER`). Each link used is
/// `link_len` × `x` (see [`LINK_LEN_FOR_VALIDATION`]). When the text is too long,
/// `forced_by` names the first character that forced UCS-2, if any: usually the fix.
/// Returns the rendered size on success.
pub fn validate_template(
    template: &str,
    company: &str,
    link_len: usize,
    short_code: Option<&str>,
) -> Result<Segments, TemplateError> {
    if !template.contains("{company}") {
        return Err(TemplateError::MissingCompany);
    }
    if !template.contains("{link}") {
        return Err(TemplateError::MissingLink);
    }
    check_opt_out(template, short_code)?;
    if template.matches("{link}").count() > 1 {
        return Err(TemplateError::RepeatedLink);
    }
    // Any other `{word}` would be sent literally.
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if !after[..close].contains('{') => {
                let name = &after[..close];
                if !matches!(name, "company" | "link" | "optout" | "short_code") {
                    return Err(TemplateError::UnknownPlaceholder(format!("{{{name}}}")));
                }
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }

    let link = "x".repeat(link_len);
    let rendered = render(
        template,
        &Fill {
            company,
            link: &link,
            optout: &link,
            short_code: short_code.unwrap_or_default(),
        },
    );
    let size = segments(&rendered);
    if size.count > MAX_SEGMENTS {
        return Err(TemplateError::TooLong {
            segments: size.count,
            units: size.units,
            encoding: size.encoding,
            forced_by: first_non_gsm(&rendered),
        });
    }
    Ok(size)
}

#[cfg(test)]
mod placeholder_tests {
    use super::*;

    #[test]
    fn unknown_or_repeated_placeholders_are_refused() {
        let ok = "{company} : rappel {link} STOP 36173";
        assert!(validate_template(ok, "Acme", 40, Some("36173")).is_ok());
        assert_eq!(
            validate_template("{company} {prenom} {link} {optout}", "Acme", 40, None),
            Err(TemplateError::UnknownPlaceholder("{prenom}".into()))
        );
        assert_eq!(
            validate_template("{company} {link} {link} {optout}", "Acme", 40, None),
            Err(TemplateError::RepeatedLink)
        );
        // A lone brace is text, not a placeholder.
        assert!(validate_template("{company} :-{ {link} Stop {optout}", "Acme", 40, None).is_ok());
    }

    #[test]
    fn the_opt_out_must_work_for_the_sender_used() {
        let stop = "{company} : rappel {link} STOP au 36173";
        // An alphanumeric sender ID cannot receive the STOP reply.
        assert_eq!(
            check_opt_out(stop, None),
            Err(TemplateError::StopWithoutShortCode)
        );
        assert!(
            TemplateError::StopWithoutShortCode
                .to_string()
                .contains("{optout}")
        );
        // With that short code it works; with another code the mention is false.
        assert_eq!(check_opt_out(stop, Some("36173")), Ok(()));
        assert_eq!(
            check_opt_out(stop, Some("38000")),
            Err(TemplateError::MissingOptOut)
        );
        assert_eq!(
            check_opt_out("{company} {link} STOP au {short_code}", Some("38000")),
            Ok(())
        );
        assert_eq!(
            check_opt_out("{company} {link} Stop SMS : {optout}", None),
            Ok(())
        );
        assert_eq!(
            check_opt_out("{company} {link}", Some("38000")),
            Err(TemplateError::MissingOptOut)
        );
        // The defaults are valid for their sender, and fit two segments with 64-character links.
        assert!(validate_template(DEFAULT_TEMPLATE, "Plomberie Martin", 64, None).is_ok());
        assert!(
            validate_template(
                DEFAULT_TEMPLATE_SHORT_CODE,
                "Plomberie Martin",
                64,
                Some("36173")
            )
            .is_ok()
        );
        let fill = Fill {
            company: "Acme",
            link: "L",
            optout: "O",
            short_code: "36173",
        };
        assert_eq!(
            render("{company} {link} {optout} {short_code}", &fill),
            "Acme L O 36173"
        );
    }
}

/// Whether `text` contains the ASCII `word` as a whole word (not next to a letter, digit or
/// `_`), ignoring ASCII case.
fn contains_word_ignore_case(text: &str, word: &str) -> bool {
    let is_word_char = |c: char| c.is_alphanumeric() || c == '_';
    text.char_indices().any(|(i, _)| {
        let Some(candidate) = text.get(i..i + word.len()) else {
            return false;
        };
        candidate.eq_ignore_ascii_case(word)
            && !text[..i].chars().next_back().is_some_and(is_word_char)
            && !text[i + word.len()..]
                .chars()
                .next()
                .is_some_and(is_word_char)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seg(encoding: Encoding, units: usize, count: usize) -> Segments {
        Segments {
            encoding,
            units,
            count,
        }
    }

    #[test]
    fn alphabet_tables_have_the_standard_sizes() {
        let all = || (0..=0x10FFFF_u32).filter_map(char::from_u32);
        assert_eq!(all().filter(|&c| gsm7_septets(c) == Some(1)).count(), 127);
        assert_eq!(all().filter(|&c| gsm7_septets(c) == Some(2)).count(), 10);
        // The Greek capitals are the real ones (U+0394...), not lookalikes.
        for c in "ΔΦΓΛΩΠΨΣΘΞ".chars() {
            assert_eq!(gsm7_septets(c), Some(1), "{c}");
        }
        assert_eq!(gsm7_septets('\u{2126}'), None, "OHM SIGN is not GSM");
        assert_eq!(gsm7_septets(ESC), None);
    }

    #[test]
    fn gsm_characters() {
        let basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                     ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
        assert_eq!(basic.chars().count(), 127);
        assert_eq!(first_non_gsm(basic), None);
        assert_eq!(segments(basic), seg(Encoding::Gsm7, 127, 1));

        let extension = "^{}\\[~]|€\u{C}";
        assert_eq!(first_non_gsm(extension), None);
        assert_eq!(segments(extension), seg(Encoding::Gsm7, 20, 1));
    }

    #[test]
    fn french_characters_outside_gsm() {
        // é è ù à É Ç are GSM; these common French characters are not and force UCS-2.
        for c in [
            'ê', 'â', 'ç', 'î', 'ô', 'û', 'ë', 'ï', 'œ', '’', '\u{A0}', '«', '»', 'È', 'À',
        ] {
            let text = format!("Merci {c} bientôt");
            assert_eq!(first_non_gsm(&text), Some(c), "{c}");
            assert_eq!(segments(&text).encoding, Encoding::Ucs2, "{c}");
        }
        assert_eq!(first_non_gsm("à bientôt"), Some('ô'));
        assert_eq!(first_non_gsm("Ça a été reçu"), Some('ç'));
        assert_eq!(first_non_gsm("Ça a été reçu à l'heure"), Some('ç'));
        assert_eq!(first_non_gsm("Ça a été vu, où ? à 9h"), None);
    }

    #[test]
    fn empty_text_is_one_segment() {
        assert_eq!(segments(""), seg(Encoding::Gsm7, 0, 1));
        assert_eq!(first_non_gsm(""), None);
    }

    #[test]
    fn gsm_boundaries() {
        let a = |n: usize| "a".repeat(n);
        assert_eq!(segments(&a(160)), seg(Encoding::Gsm7, 160, 1));
        assert_eq!(segments(&a(161)), seg(Encoding::Gsm7, 161, 2));
        assert_eq!(segments(&a(153 * 2)), seg(Encoding::Gsm7, 306, 2));
        assert_eq!(segments(&a(153 * 2 + 1)), seg(Encoding::Gsm7, 307, 3));
        assert_eq!(segments(&a(153 * 3)), seg(Encoding::Gsm7, 459, 3));
    }

    #[test]
    fn extension_characters_count_two_and_are_not_split() {
        // 80 × € = 160 septets: still one SMS.
        assert_eq!(segments(&"€".repeat(80)), seg(Encoding::Gsm7, 160, 1));
        assert_eq!(segments(&"€".repeat(81)), seg(Encoding::Gsm7, 162, 2));
        // 152 septets then €: the escape sequence would straddle parts 1 and 2, so € moves to
        // part 2 (152 + 2 + 152 = 306 septets, yet 3 parts).
        let straddling = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(segments(&straddling), seg(Encoding::Gsm7, 306, 3));
        // Same total with € wholly inside part 1: 2 parts.
        let inside = format!("{}€{}", "a".repeat(151), "a".repeat(153));
        assert_eq!(segments(&inside), seg(Encoding::Gsm7, 306, 2));
        // € exactly filling part 1's last two septets.
        let filling = format!("{}€{}", "a".repeat(151), "a".repeat(10));
        assert_eq!(segments(&filling), seg(Encoding::Gsm7, 163, 2));
    }

    #[test]
    fn ucs2_boundaries() {
        let e = |n: usize| "ê".repeat(n);
        assert_eq!(segments(&e(70)), seg(Encoding::Ucs2, 70, 1));
        assert_eq!(segments(&e(71)), seg(Encoding::Ucs2, 71, 2));
        assert_eq!(segments(&e(67 * 2)), seg(Encoding::Ucs2, 134, 2));
        assert_eq!(segments(&e(67 * 2 + 1)), seg(Encoding::Ucs2, 135, 3));
        // One non-GSM character turns the whole text into UCS-2.
        let mixed = format!("{}’", "a".repeat(69));
        assert_eq!(segments(&mixed), seg(Encoding::Ucs2, 70, 1));
        let mixed = format!("{}’", "a".repeat(70));
        assert_eq!(segments(&mixed), seg(Encoding::Ucs2, 71, 2));
        // GSM extension characters are one code unit in UCS-2.
        let euro = format!("{}ê", "€".repeat(69));
        assert_eq!(segments(&euro), seg(Encoding::Ucs2, 70, 1));
    }

    #[test]
    fn emoji_surrogate_pairs() {
        assert_eq!(first_non_gsm("Merci 😀"), Some('😀'));
        assert_eq!(segments("😀"), seg(Encoding::Ucs2, 2, 1));
        assert_eq!(segments(&"😀".repeat(35)), seg(Encoding::Ucs2, 70, 1));
        assert_eq!(segments(&"😀".repeat(36)), seg(Encoding::Ucs2, 72, 2));
        // 66 units then an emoji: the pair cannot straddle parts, so it starts part 2.
        let straddling = format!("{}😀{}", "ê".repeat(66), "ê".repeat(66));
        assert_eq!(segments(&straddling), seg(Encoding::Ucs2, 134, 3));
        let inside = format!("{}😀{}", "ê".repeat(65), "ê".repeat(67));
        assert_eq!(segments(&inside), seg(Encoding::Ucs2, 134, 2));
        // 67 emoji (134 units): 33 per part, 3 parts.
        assert_eq!(segments(&"😀".repeat(67)), seg(Encoding::Ucs2, 134, 3));
    }

    #[test]
    fn default_template_fits() {
        assert_eq!(first_non_gsm(DEFAULT_TEMPLATE), None, "é is GSM");
        let x50 = "x".repeat(50);
        let fill = Fill {
            company: "Plomberie Martin",
            link: &x50,
            optout: &x50,
            short_code: "",
        };
        let rendered = render(DEFAULT_TEMPLATE, &fill);
        assert_eq!(
            rendered,
            format!(
                "Plomberie Martin : nous avons manqué votre appel. Choisissez quand nous vous \
                 rappelons : {x50} Stop SMS : {x50}"
            )
        );
        assert_eq!(segments(&rendered), seg(Encoding::Gsm7, 201, 2));
        assert_eq!(
            validate_template(DEFAULT_TEMPLATE, "Plomberie Martin", 50, None),
            Ok(seg(Encoding::Gsm7, 201, 2))
        );
        assert_eq!(
            validate_template(
                DEFAULT_TEMPLATE,
                "Plomberie Martin",
                LINK_LEN_FOR_VALIDATION,
                None
            ),
            Ok(seg(Encoding::Gsm7, 229, 2))
        );
        // With a short code, the STOP reply replaces the second link: one segment.
        assert_eq!(
            validate_template(
                DEFAULT_TEMPLATE_SHORT_CODE,
                "Plomberie Martin",
                50,
                Some("36173")
            ),
            Ok(seg(Encoding::Gsm7, 153, 1))
        );
    }

    #[test]
    fn curly_apostrophe_is_named_when_too_long() {
        let template = "{company} : nous n’avons pas pu répondre. Choisissez quand nous vous \
                        rappelons : {link} STOP au 36173";
        let err = validate_template(
            template,
            "Plomberie Martin",
            LINK_LEN_FOR_VALIDATION,
            Some("36173"),
        )
        .unwrap_err();
        assert_eq!(
            err,
            TemplateError::TooLong {
                segments: 3,
                units: 166,
                encoding: Encoding::Ucs2,
                forced_by: Some('’'),
            }
        );
        let message = err.to_string();
        assert!(message.contains("U+2019"), "{message}");
        assert!(message.contains("3 SMS segments"), "{message}");
        // The same text with a straight apostrophe is GSM and fits.
        let fixed = template.replace('’', "'");
        assert_eq!(
            validate_template(
                &fixed,
                "Plomberie Martin",
                LINK_LEN_FOR_VALIDATION,
                Some("36173")
            ),
            Ok(seg(Encoding::Gsm7, 166, 2))
        );
    }

    #[test]
    fn company_name_can_force_ucs2() {
        let err =
            validate_template(DEFAULT_TEMPLATE, "Crêperie Chez Gaëlle", 64, None).unwrap_err();
        assert!(
            matches!(
                err,
                TemplateError::TooLong {
                    forced_by: Some('ê'),
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn too_long_in_gsm_names_no_character() {
        let template = format!("{{company}} {} {{link}} {{optout}}", "a".repeat(300));
        let err = validate_template(&template, "ACME", 64, None).unwrap_err();
        assert_eq!(
            err,
            TemplateError::TooLong {
                segments: 3,
                units: 435,
                encoding: Encoding::Gsm7,
                forced_by: None,
            }
        );
        assert!(!err.to_string().contains("forces UCS-2"));
    }

    #[test]
    fn required_parts() {
        assert_eq!(
            validate_template("Rappel : {link} STOP au 36173", "ACME", 64, Some("36173")),
            Err(TemplateError::MissingCompany)
        );
        assert_eq!(
            validate_template(
                "{company} vous rappelle. STOP au 36173",
                "ACME",
                64,
                Some("36173")
            ),
            Err(TemplateError::MissingLink)
        );
        assert_eq!(
            validate_template("{company} vous rappelle : {link}", "ACME", 64, None),
            Err(TemplateError::MissingOptOut)
        );
        // Company is checked first.
        assert_eq!(
            validate_template("", "ACME", 64, None),
            Err(TemplateError::MissingCompany)
        );
        // A company called "Stop" does not provide the opt-out: the template must.
        assert_eq!(
            validate_template("{company} : {link}", "Stop Fuites", 64, None),
            Err(TemplateError::MissingOptOut)
        );
    }

    #[test]
    fn stop_is_a_whole_word_in_any_case() {
        for ok in [
            "STOP",
            "Stop",
            "stop",
            "(STOP)",
            "STOP au 36173",
            "Répondez STOP.",
            "«STOP»",
        ] {
            let template = format!("{{company}} {{link}} {ok} {{short_code}}");
            assert!(
                validate_template(&template, "ACME", 20, Some("36173")).is_ok(),
                "{ok}"
            );
        }
        for missing in [
            "STOPPER", "nonstop", "STOP2", "ÉSTOP", "STOPé", "S T O P", "_STOP",
        ] {
            let template = format!("{{company}} {{link}} {missing} {{short_code}}");
            assert_eq!(
                validate_template(&template, "ACME", 20, Some("36173")),
                Err(TemplateError::MissingOptOut),
                "{missing}"
            );
        }
    }

    proptest! {
        #[test]
        fn counts_are_consistent(text in any::<String>()) {
            let s = segments(&text);
            let (single, part) = match s.encoding {
                Encoding::Gsm7 => (GSM7_SINGLE, GSM7_PART),
                Encoding::Ucs2 => (UCS2_SINGLE, UCS2_PART),
            };
            prop_assert_eq!(s.encoding == Encoding::Gsm7, first_non_gsm(&text).is_none());
            prop_assert!(s.count >= 1);
            if s.units <= single {
                prop_assert_eq!(s.count, 1);
            } else {
                // At least the naive count, at most one lost unit per part.
                prop_assert!(s.count >= s.units.div_ceil(part));
                prop_assert!(s.count <= s.units.div_ceil(part - 1));
            }
        }

        #[test]
        fn gsm_text_counts(text in "[a-z€{}\\[\\]^~|é ]{0,500}") {
            let s = segments(&text);
            prop_assert_eq!(s.encoding, Encoding::Gsm7);
            let septets: usize = text.chars().map(|c| if "€{}[]^~|".contains(c) { 2 } else { 1 }).sum();
            prop_assert_eq!(s.units, septets);
        }

        #[test]
        fn validate_never_panics(template in any::<String>(), company in any::<String>(), len in 0usize..400) {
            let _ = validate_template(&template, &company, len, None);
            let _ = validate_template(&template, &company, len, Some("36173"));
        }
    }
}
