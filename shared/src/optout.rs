//! Opt-outs that arrive by SMS or from a carrier: the STOP keywords of a reply, the two-way
//! SMS message AWS delivers, and the carrier's list of numbers that replied STOP.
//!
//! The CNIL requires a free and simple way to object to SMS prospecting (CPCE art. L34-5;
//! CNIL, « La prospection commerciale par SMS »); the French operators' code of conduct
//! (AF2M) makes `STOP` the keyword and the short-code operator reports the numbers that sent it.

use crate::phone::{self, Caller, E164};
use serde::Deserialize;

/// Words that opt out when they appear in a reply, compared after folding case and accents:
/// `STOP` (also covers `STOP SMS`), `ARRET` / `ARRÊT`, `DESABONNER` / `DÉSABONNER`,
/// `UNSUBSCRIBE`.
pub const STOP_WORDS: [&str; 4] = ["stop", "arret", "desabonner", "unsubscribe"];

/// Whether an SMS reply asks to stop: one of [`STOP_WORDS`] as a whole word, in any case,
/// with or without accents, whatever surrounds it (`Stop svp`, `ARRÊT.`, `merci de me
/// désabonner`); `STOPPER` does not count. A reply is read generously: honouring an objection
/// that was not meant costs little, missing one breaks the law.
pub fn is_stop_request(body: &str) -> bool {
    let folded = fold(body);
    folded
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| STOP_WORDS.contains(&word))
}

/// Lower-case ASCII with French accents folded (`Ê` → `e`); other characters become spaces.
fn fold(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'à' | 'â' | 'ä' | 'À' | 'Â' | 'Ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
            'î' | 'ï' | 'Î' | 'Ï' => 'i',
            'ô' | 'ö' | 'Ô' | 'Ö' => 'o',
            'ù' | 'û' | 'ü' | 'Ù' | 'Û' | 'Ü' => 'u',
            'ç' | 'Ç' => 'c',
            c if c.is_ascii_alphanumeric() => c.to_ascii_lowercase(),
            _ => ' ',
        })
        .collect()
}

/// An inbound SMS as AWS End User Messaging SMS publishes it to the two-way SNS topic
/// (User Guide, "Two-way SMS messaging": `originationNumber`, `destinationNumber`,
/// `messageKeyword`, `messageBody`, `inboundMessageId`, `previousPublishedMessageId`).
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundSms {
    /// The prospect's number (E.164).
    pub origination_number: String,
    /// The short code or long number that received the reply.
    pub destination_number: String,
    pub message_body: String,
    #[serde(default)]
    pub inbound_message_id: Option<String>,
}

impl std::fmt::Debug for InboundSms {
    /// Never prints the number nor the text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundSms")
            .field("destination_number", &self.destination_number)
            .field("inbound_message_id", &self.inbound_message_id)
            .finish_non_exhaustive()
    }
}

/// One line of a carrier list that is not a number (1-based line number; the value is never
/// repeated, it may be personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedLine(pub usize);

/// Read a carrier STOP list: one number per line, or a CSV whose first column holding a
/// number is used (header line, `;` or `,` separators and quotes tolerated). National French
/// notation is read as French. Returns the numbers (deduplicated, in order) and the lines
/// that hold something else; blank lines and a header without digits are skipped.
pub fn parse_carrier_list(text: &str) -> (Vec<E164>, Vec<RejectedLine>) {
    let mut numbers: Vec<E164> = Vec::new();
    let mut rejected = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || !line.bytes().any(|b| b.is_ascii_digit()) {
            continue;
        }
        let found = line
            .split([';', ',', '\t'])
            .map(|field| field.trim().trim_matches('"').trim())
            .filter(|field| field.bytes().filter(u8::is_ascii_digit).count() >= 6)
            .find_map(|field| match phone::classify(field, "FR") {
                Caller::Number { e164, .. } => Some(e164),
                _ => None,
            });
        match found {
            Some(e164) if !numbers.contains(&e164) => numbers.push(e164),
            Some(_) => {}
            None => rejected.push(RejectedLine(i + 1)),
        }
    }
    (numbers, rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_in_any_case_with_or_without_accents_and_surrounding_text() {
        for yes in [
            "STOP",
            "stop",
            "Stop SMS",
            "STOP SMS",
            "ARRET",
            "Arrêt",
            "ARRÊT",
            "arrêt.",
            "DESABONNER",
            "Désabonner",
            "désabonner svp",
            "UNSUBSCRIBE",
            "Unsubscribe me",
            "  stop  ",
            "Merci de ne plus m'écrire. STOP!",
            "stop\n",
        ] {
            assert!(is_stop_request(yes), "{yes:?}");
        }
        for no in [
            "STOPPER",
            "Bonjour",
            "rappelez-moi demain",
            "arrete",
            "",
            "OK",
        ] {
            assert!(!is_stop_request(no), "{no:?}");
        }
    }

    #[test]
    fn the_aws_two_way_message_reads_and_never_prints_the_number() {
        let json = r#"{"originationNumber":"+33600000001","destinationNumber":"36173","messageKeyword":"KEYWORD_123","messageBody":"STOP","inboundMessageId":"m-1","previousPublishedMessageId":"p-1"}"#;
        let sms: InboundSms = serde_json::from_str(json).unwrap();
        assert_eq!(sms.destination_number, "36173");
        assert!(is_stop_request(&sms.message_body));
        let debug = format!("{sms:?}");
        assert!(
            !debug.contains("600000001") && !debug.contains("STOP"),
            "{debug}"
        );
    }

    #[test]
    fn carrier_lists_in_any_usual_shape() {
        let csv = "msisdn;date\n\
                   33600000001;2026-12-01\n\
                   \"+33 6 00 00 00 02\";2026-12-01\n\
                   06 00 00 00 03\n\
                   0600000001\n\
                   \n\
                   not a number 12\n\
                   +33600000004,2026-12-02\n";
        let (numbers, rejected) = parse_carrier_list(csv);
        let e164: Vec<&str> = numbers.iter().map(|n| n.expose()).collect();
        assert_eq!(
            e164,
            [
                "+33600000001",
                "+33600000002",
                "+33600000003",
                "+33600000004"
            ]
        );
        assert_eq!(rejected, vec![RejectedLine(7)]);
    }
}
