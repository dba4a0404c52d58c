//! Pure parts of the commands: checking an account file, redacting secrets, and turning
//! accounts and calls into rows for a text table or JSON. No I/O here.

use rappel::account::{Account, Secrets, TOKEN_LEN};
use rappel::items::CallItem;
use rappel::phone::LineType;
use rappel::sms::{self, Encoding, Segments};
use serde::Serialize;

/// What replaces every webhook secret in `get-account` output.
pub const REDACTED: &str = "<redacted>";

/// Shown in a text table for a value that is not (yet) known.
const NONE: &str = "-";

/// Parse and validate an account file's text (`Account::from_json`), then refuse secrets
/// that cannot be right: empty, or the `<redacted>` placeholder copied from `get-account`.
/// `source` names the file in the message (`account.json`, `standard input`).
pub fn parse_account(json: &str, source: &str) -> Result<Account, String> {
    let account =
        Account::from_json(json).map_err(|e| format!("{source} is not a valid account: {e}"))?;
    for (provider, secrets) in &account.webhook_secrets {
        let all = secrets.all();
        if all.is_empty() || all.iter().any(|s| s.trim().is_empty()) {
            return Err(format!(
                "{source} is not a valid account: webhook_secrets.{provider} must not be empty"
            ));
        }
        if all.contains(&REDACTED) {
            return Err(format!(
                "{source} is not a valid account: webhook_secrets.{provider} is {REDACTED:?} \
                 (copied from get-account?); put the provider's real secret"
            ));
        }
    }
    Ok(account)
}

/// Size of the account's SMS: the template rendered with its company name, short code and the
/// longest links it can produce, as [`Account::validate`] sizes it (base URL, or 64 characters
/// when absent, + `/r/` + token).
pub fn template_size(account: &Account) -> Segments {
    let base_len = account.booking_base_url.as_deref().map_or(64, str::len);
    let link = "x".repeat(base_len + 3 + TOKEN_LEN);
    sms::segments(&sms::render(
        account.template(),
        &sms::Fill {
            company: &account.company_name,
            link: &link,
            optout: &link,
            short_code: account.short_code.as_deref().unwrap_or_default(),
        },
    ))
}

/// Machine-readable result of `validate` / `put-account`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub account_id: String,
    /// The sender ID, or the short code when the account has one.
    pub sender_id: String,
    /// Whether `sender_id` is a short code (STOP replies reach Rappel).
    pub short_code: bool,
    pub segments: usize,
    /// `gsm7` or `ucs2`.
    pub encoding: Encoding,
    pub saved: bool,
}

impl Summary {
    pub fn new(account: &Account, saved: bool) -> Summary {
        let size = template_size(account);
        Summary {
            account_id: account.account_id.clone(),
            sender_id: account.originator().as_str().to_string(),
            short_code: account.short_code.is_some(),
            segments: size.count,
            encoding: size.encoding,
            saved,
        }
    }

    /// `account <id> saved (sender ID <X>, template: N segment(s) GSM-7|UCS-2)`, or
    /// `... is valid (...)` when not saved.
    pub fn line(&self) -> String {
        let verb = if self.saved { "saved" } else { "is valid" };
        let plural = if self.segments == 1 { "" } else { "s" };
        let encoding = match self.encoding {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        };
        let from = if self.short_code {
            "short code"
        } else {
            "sender ID"
        };
        format!(
            "account {} {verb} ({from} {}, template: {} segment{plural} {encoding})",
            self.account_id, self.sender_id, self.segments
        )
    }
}

/// The account with each webhook secret replaced by [`REDACTED`] (one per secret, so a
/// rotation in progress still shows two). Accounts read from the table carry no secret at
/// all (they are sealed with KMS; only intake opens them): their providers show one
/// [`REDACTED`].
pub fn redact(account: &Account) -> Account {
    let mut shown = account.clone();
    for secrets in shown.webhook_secrets.values_mut() {
        *secrets = match secrets {
            Secrets::One(_) => Secrets::One(REDACTED.into()),
            Secrets::Many(all) if all.is_empty() => Secrets::One(REDACTED.into()),
            Secrets::Many(all) => Secrets::Many(vec![REDACTED.into(); all.len()]),
        };
    }
    shown
}

/// `get-account` output: the redacted account, pretty JSON.
pub fn account_json(account: &Account) -> String {
    serde_json::to_string_pretty(&redact(account)).expect("account serializes")
}

/// One line of `list-accounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountRow {
    pub account_id: String,
    pub company_name: String,
    pub sender_id: String,
    pub enabled: bool,
    /// Providers with a webhook secret (the only ones whose webhooks are accepted).
    pub providers: Vec<String>,
}

impl AccountRow {
    pub fn new(account: &Account) -> AccountRow {
        AccountRow {
            account_id: account.account_id.clone(),
            company_name: account.company_name.clone(),
            sender_id: account.originator().as_str().to_string(),
            enabled: account.enabled,
            providers: account.webhook_secrets.keys().cloned().collect(),
        }
    }
}

/// `list-accounts` as a text table.
pub fn accounts_table(rows: &[AccountRow]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.account_id.clone(),
                r.company_name.clone(),
                r.sender_id.clone(),
                if r.enabled { "yes" } else { "no" }.into(),
                if r.providers.is_empty() {
                    NONE.into()
                } else {
                    r.providers.join(",")
                },
            ]
        })
        .collect();
    text_table(
        &["id", "company", "sender ID", "enabled", "providers"],
        &cells,
    )
}

/// One line of `calls`: a call and its decision, without the sealed number or the hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRow {
    pub received_at: String,
    pub provider: String,
    pub call_id: String,
    pub direction: String,
    pub status: String,
    /// Masked number (`+33 6•• •• •• 01`), or `withheld` / `invalid`.
    pub caller: String,
    /// `None` until eligibility has decided.
    pub outcome: Option<String>,
    pub reason: Option<String>,
    pub message_id: Option<String>,
    pub due_at: Option<String>,
    pub sent_at: Option<String>,
}

impl CallRow {
    pub fn new(call: &CallItem) -> CallRow {
        CallRow {
            received_at: call.received_at.clone(),
            provider: call.provider.clone(),
            call_id: call.call_id.clone(),
            direction: word(&call.direction),
            status: word(&call.status),
            caller: call
                .caller_masked
                .clone()
                .unwrap_or_else(|| call.caller.clone()),
            outcome: call.outcome.map(|o| o.as_str().to_string()),
            reason: call.reason.map(|r| r.as_str().to_string()),
            message_id: call.message_id.clone(),
            due_at: call.due_at.clone(),
            sent_at: call.sent_at.clone(),
        }
    }
}

/// The snake_case word a unit enum serializes to (`no_answer`, `inbound`).
pub(crate) fn word<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => NONE.into(),
    }
}

/// The header of `calls --caller`: `+33 6•• •• •• 01 (mobile, FR)`, from the masked number,
/// its line type and region (which explain `not_mobile` and `country_not_allowed`).
pub fn caller_description(masked: &str, line_type: LineType, region: Option<&str>) -> String {
    format!(
        "{masked} ({}, {})",
        word(&line_type),
        region.unwrap_or("unknown region")
    )
}

/// `calls` as a text table. A call without an outcome yet shows `undecided`.
pub fn calls_table(rows: &[CallRow]) -> String {
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| NONE.into());
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.received_at.clone(),
                r.provider.clone(),
                r.call_id.clone(),
                r.direction.clone(),
                r.status.clone(),
                r.caller.clone(),
                r.outcome.clone().unwrap_or_else(|| "undecided".into()),
                or_none(&r.reason),
                or_none(&r.message_id),
                or_none(&r.due_at),
                or_none(&r.sent_at),
            ]
        })
        .collect();
    text_table(
        &[
            "received_at",
            "provider",
            "call_id",
            "direction",
            "status",
            "caller",
            "outcome",
            "reason",
            "message_id",
            "due_at",
            "sent_at",
        ],
        &cells,
    )
}

/// Left-aligned columns separated by two spaces, a header line first; widths count
/// characters (masked numbers contain `•`), lines carry no trailing spaces and end in `\n`.
pub fn text_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            line.extend(std::iter::repeat_n(
                ' ',
                width.saturating_sub(cell.chars().count()),
            ));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rappel::call::{CallStatus, Direction};
    use rappel::rules::{Outcome, Reason};

    const ACCOUNT: &str = r#"{
        "account_id": "plomberie-martin",
        "company_name": "Plomberie Martin",
        "webhook_secrets": {"twilio": "tok-secret-1", "generic": ["old-secret", "new-secret"]}
    }"#;

    fn account() -> Account {
        parse_account(ACCOUNT, "account.json").unwrap()
    }

    #[test]
    fn get_account_output_never_contains_a_secret() {
        let json = account_json(&account());
        for secret in ["tok-secret-1", "old-secret", "new-secret"] {
            assert!(!json.contains(secret), "{secret} leaked:\n{json}");
        }
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["webhook_secrets"]["twilio"], "<redacted>");
        assert_eq!(
            value["webhook_secrets"]["generic"],
            serde_json::json!(["<redacted>", "<redacted>"])
        );
        // Everything else is shown as stored.
        assert_eq!(value["account_id"], "plomberie-martin");
        assert_eq!(value["company_name"], "Plomberie Martin");
        assert_eq!(value["max_deferral_hours"], 72);
    }

    #[test]
    fn redacted_output_cannot_be_saved_back() {
        let redacted = account_json(&account());
        let err = parse_account(&redacted, "account.json").unwrap_err();
        assert!(err.contains("webhook_secrets.generic"), "{err}");
        assert!(err.contains("<redacted>"), "{err}");
        let empty = r#"{"account_id":"a","company_name":"Acme","webhook_secrets":{"twilio":" "}}"#;
        let err = parse_account(empty, "a.json").unwrap_err();
        assert!(err.contains("webhook_secrets.twilio"), "{err}");
        assert!(err.contains("empty"), "{err}");
        let none = r#"{"account_id":"a","company_name":"Acme","webhook_secrets":{"twilio":[]}}"#;
        assert!(parse_account(none, "a.json").is_err());
    }

    #[test]
    fn refusals_name_the_file_and_the_field_without_secrets() {
        let bad = r#"{"account_id":"a","company_name":"Acme","timezone":"Europe/Pariss","webhook_secrets":{"twilio":"tok-secret-1"}}"#;
        let err = parse_account(bad, "acme.json").unwrap_err();
        assert!(err.starts_with("acme.json is not a valid account"), "{err}");
        assert!(err.contains("Europe/Pariss"), "{err}");
        let no_stop =
            r#"{"account_id":"a","company_name":"Acme","message_template":"{company}: {link}"}"#;
        let err = parse_account(no_stop, "acme.json").unwrap_err();
        assert!(
            err.contains("message_template") && err.contains("STOP"),
            "{err}"
        );
    }

    #[test]
    fn summary_line_names_sender_and_template_size() {
        let summary = Summary::new(&account(), true);
        assert_eq!(
            summary.line(),
            "account plomberie-martin saved (sender ID PlomberieMa, template: 2 segments GSM-7)"
        );
        let ucs2 = parse_account(
            r#"{"account_id":"acme","company_name":"Acme","short_code":"36173","message_template":"{company} vous rappelle’ {link} STOP {short_code}"}"#,
            "acme.json",
        )
        .unwrap();
        assert!(
            Summary::new(&ucs2, false)
                .line()
                .ends_with("(short code 36173, template: 2 segments UCS-2)")
        );
        let gsm = parse_account(
            r#"{"account_id":"acme","company_name":"Acme","sender_id":"ACME","message_template":"{company}: {link} Stop: {optout}"}"#,
            "acme.json",
        )
        .unwrap();
        assert_eq!(
            Summary::new(&gsm, false).line(),
            "account acme is valid (sender ID ACME, template: 2 segments GSM-7)"
        );
        let json = serde_json::to_value(Summary::new(&gsm, false)).unwrap();
        assert_eq!(json["encoding"], "gsm7");
        assert_eq!(json["segments"], 2);
        assert_eq!(json["short_code"], false);
    }

    #[test]
    fn text_table_aligns_by_characters_and_trims() {
        let table = text_table(
            &["a", "caller", "c"],
            &[
                vec!["long value".into(), "+33 6•• •• •• 01".into(), "x".into()],
                vec!["v".into(), "withheld".into(), "".into()],
            ],
        );
        assert_eq!(
            table,
            "a           caller            c\n\
             long value  +33 6•• •• •• 01  x\n\
             v           withheld\n"
        );
        assert_eq!(text_table(&["id"], &[]), "id\n");
    }

    #[test]
    fn accounts_table_shows_providers() {
        let mut other = account();
        other.account_id = "acme".into();
        other.company_name = "Acme".into();
        other.enabled = false;
        other.webhook_secrets.clear();
        let rows = [AccountRow::new(&other), AccountRow::new(&account())];
        let table = accounts_table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "id                company           sender ID    enabled  providers"
        );
        assert_eq!(
            lines[1],
            "acme              Acme              Acme         no       -"
        );
        assert_eq!(
            lines[2],
            "plomberie-martin  Plomberie Martin  PlomberieMa  yes      generic,twilio"
        );
    }

    fn call(outcome: Option<Outcome>) -> CallItem {
        CallItem {
            pk: "ACCOUNT#plomberie-martin".into(),
            sk: "CALL#twilio#CA1".into(),
            account_id: "plomberie-martin".into(),
            provider: "twilio".into(),
            call_id: "CA1".into(),
            direction: Direction::Inbound,
            status: CallStatus::NoAnswer,
            provider_status: "no-answer".into(),
            caller: "number".into(),
            line_type: None,
            region: Some("FR".into()),
            caller_hash: Some("ab12".into()),
            caller_masked: Some("+33 6•• •• •• 01".into()),
            number: Some("sealed-ciphertext".into()),
            started_at: None,
            ended_at: None,
            ring_seconds: None,
            received_at: "2026-11-27T18:30:00Z".into(),
            happened_at: "2026-11-27T18:30:00Z".into(),
            outcome,
            reason: outcome.map(|_| Reason::QuietHours),
            message_id: outcome.map(|_| "msg_1".into()),
            due_at: outcome.map(|_| "2026-11-28T07:00:00Z".into()),
            sent_at: None,
            decided_at: None,
            gsi1pk: None,
            gsi1sk: None,
            expires_at: 0,
        }
    }

    #[test]
    fn call_rows_show_the_decision_without_number_or_hash() {
        let rows = [
            CallRow::new(&call(Some(Outcome::Scheduled))),
            CallRow::new(&call(None)),
        ];
        let table = calls_table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            [
                "2026-11-27T18:30:00Z",
                "twilio",
                "CA1",
                "inbound",
                "no_answer",
                "+33",
                "6••",
                "••",
                "••",
                "01",
                "scheduled",
                "quiet_hours",
                "msg_1",
                "2026-11-28T07:00:00Z",
                "-"
            ]
        );
        assert!(lines[2].contains("undecided"), "{}", lines[2]);
        let json = serde_json::to_string(&rows).unwrap();
        assert!(!json.contains("sealed-ciphertext") && !json.contains("ab12"));
        assert!(!table.contains("sealed-ciphertext") && !table.contains("ab12"));
        let mut withheld = call(None);
        withheld.caller = "withheld".into();
        withheld.caller_masked = None;
        assert_eq!(CallRow::new(&withheld).caller, "withheld");
    }

    #[test]
    fn caller_description_is_masked_with_line_type_and_region() {
        assert_eq!(
            caller_description("+33 6•• •• •• 01", LineType::Mobile, Some("FR")),
            "+33 6•• •• •• 01 (mobile, FR)"
        );
        assert_eq!(
            caller_description("+33 1•• •• •• 01", LineType::FixedLine, None),
            "+33 1•• •• •• 01 (fixed_line, unknown region)"
        );
    }
}
