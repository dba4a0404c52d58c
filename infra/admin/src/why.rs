//! `rappel-admin why`: for one call, what Rappel decided and by which rules: the account's
//! rule profile, the window and days that applied in the recipient's calendar, the grace
//! delay, and the planned and actual send time. The decision and instants are the call's own
//! (stored when it was decided); the rules are the account's settings as they are now.

use crate::cli::Connection;
use crate::connect;
use crate::error::AdminError;
use crate::render::{CallRow, word};
use chrono::{DateTime, Utc};
use rappel::account::Account;
use rappel::aws::Table;
use rappel::items::CallItem;
use rappel::rules::recipient_calendar;
use serde::Serialize;

/// One call explained. Instants are UTC (RFC 3339) with the recipient's local reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Why {
    pub account_id: String,
    /// `provider#call_id`.
    pub call: String,
    pub direction: String,
    pub status: String,
    /// Masked number, or `withheld` / `invalid`.
    pub caller: String,
    pub line_type: Option<String>,
    pub region: Option<String>,
    pub happened_at: String,
    /// `None` until eligibility decided.
    pub outcome: Option<String>,
    pub reason: Option<String>,
    /// The account's rule profile (`strict`, `af2m-2024`, `af2m-2026`) and its widest window.
    pub profile: String,
    pub profile_window: String,
    /// The window that applies to this recipient: the account's (narrowed) window, in the
    /// recipient's zone, with its days.
    pub window: String,
    pub timezone: String,
    pub holidays: String,
    pub days: String,
    /// Grace delay before an in-hours SMS (seconds).
    pub send_delay_seconds: u32,
    /// When the SMS was planned (due), and when it left.
    pub planned_send: Option<String>,
    pub sent_at: Option<String>,
}

fn hm(t: chrono::NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

/// `2026-12-03T07:00:00Z (Thursday 08:00 Europe/Paris)`; the raw value when unreadable.
fn local(instant: &str, tz: chrono_tz::Tz) -> String {
    match DateTime::parse_from_rfc3339(instant) {
        Ok(at) => {
            let at = at.with_timezone(&Utc).with_timezone(&tz);
            format!("{instant} ({} {tz})", at.format("%A %d %B %H:%M:%S"))
        }
        Err(_) => instant.to_string(),
    }
}

impl Why {
    /// Explain `call` under `account`'s current settings.
    pub fn new(account: &Account, call: &CallItem) -> Why {
        let calendar = recipient_calendar(call.region.as_deref(), account);
        let window = account.sending_window();
        let widest = account.rule_profile.window();
        let narrowed = window != widest;
        // The call's own columns, as `calls` shows them.
        let row = CallRow::new(call);
        Why {
            account_id: account.account_id.clone(),
            call: format!("{}#{}", row.provider, row.call_id),
            direction: row.direction,
            status: row.status,
            caller: row.caller,
            line_type: call.line_type.map(|t| word(&t)),
            region: call.region.clone(),
            happened_at: local(&call.happened_at, calendar.tz),
            outcome: row.outcome,
            reason: row.reason,
            profile: account.rule_profile.as_str().to_string(),
            profile_window: format!("{}–{}", hm(widest.start), hm(widest.end)),
            window: format!(
                "{}–{}{}",
                hm(window.start),
                hm(window.end),
                if narrowed {
                    " (narrowed by sending_hours)"
                } else {
                    ""
                }
            ),
            timezone: calendar.tz.to_string(),
            holidays: calendar.holidays.as_str().to_string(),
            days: if calendar.sundays_and_holidays {
                "every day, Sundays and public holidays included (opted in)".into()
            } else {
                "Monday–Saturday, not on public holidays".into()
            },
            send_delay_seconds: account.send_delay_seconds,
            planned_send: row.due_at.as_deref().map(|d| local(d, calendar.tz)),
            sent_at: row.sent_at.as_deref().map(|d| local(d, calendar.tz)),
        }
    }

    /// The text form: one `label  value` line each.
    pub fn render(&self) -> String {
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let decision = match (&self.outcome, &self.reason) {
            (Some(o), Some(r)) => format!("{o} / {r}"),
            _ => "not decided yet".into(),
        };
        let lines = [
            (
                "call",
                format!("{} (account {})", self.call, self.account_id),
            ),
            ("direction", format!("{}, {}", self.direction, self.status)),
            (
                "caller",
                format!(
                    "{} ({}, {})",
                    self.caller,
                    dash(&self.line_type),
                    dash(&self.region)
                ),
            ),
            ("happened", self.happened_at.clone()),
            ("decision", decision),
            (
                "profile",
                format!("{} (widest window {})", self.profile, self.profile_window),
            ),
            (
                "window",
                format!(
                    "{} {}, holidays {}",
                    self.window, self.timezone, self.holidays
                ),
            ),
            ("days", self.days.clone()),
            ("grace delay", format!("{} s", self.send_delay_seconds)),
            ("planned send", dash(&self.planned_send)),
            ("sent", dash(&self.sent_at)),
        ];
        let mut out = String::new();
        for (label, value) in lines {
            out.push_str(&format!("{label:<13} {value}\n"));
        }
        out.push_str("(the rules shown are the account's current settings)\n");
        out
    }
}

/// `rappel-admin why --account A CALL`: `CALL` is `provider#call_id`, or a call id that only
/// one provider used. Exit 1 when the account or the call is unknown, 2 when the call id is
/// ambiguous.
pub async fn why(
    connection: &Connection,
    account_id: &str,
    call_ref: &str,
    json: bool,
) -> Result<(), AdminError> {
    let config = connect::sdk_config(connection.local).await;
    let table =
        Table::new(aws_sdk_dynamodb::Client::new(&config), &connection.table).without_cache();
    let account = crate::commands::find_account(&table, account_id).await?;
    let (provider, call_id) = match call_ref.split_once('#') {
        Some((p, id)) => (Some(p), id),
        None => (None, call_ref),
    };
    let calls = table.calls(account_id).await?;
    let found: Vec<&CallItem> = calls
        .iter()
        .filter(|c| c.call_id == call_id && provider.is_none_or(|p| c.provider == p))
        .collect();
    let call = match found.as_slice() {
        [one] => *one,
        [] => {
            return Err(AdminError::NotFound(format!(
                "account {account_id} has no call {call_ref} (calls are kept 30 days)"
            )));
        }
        many => {
            let names: Vec<String> = many
                .iter()
                .map(|c| format!("{}#{}", c.provider, c.call_id))
                .collect();
            return Err(AdminError::Invalid(format!(
                "several calls are named {call_id}: give one of {}",
                names.join(", ")
            )));
        }
    };
    let why = Why::new(&account, call);
    if json {
        crate::commands::print_json(&why);
    } else {
        print!("{}", why.render());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rappel::items::{CallItem, account_pk, call_sk};

    fn call() -> CallItem {
        serde_json::from_value(serde_json::json!({
            "PK": account_pk("late26"), "SK": call_sk("generic", "w-2130"), "account_id": "late26",
            "provider": "generic", "call_id": "w-2130", "direction": "inbound", "status": "no_answer",
            "provider_status": "no_answer", "caller": "number", "line_type": "mobile", "region": "RE",
            "caller_masked": "+262 6•• •• •• 04", "received_at": "2026-12-02T17:30:00Z",
            "happened_at": "2026-12-02T17:30:00Z", "outcome": "scheduled", "reason": "quiet_hours",
            "due_at": "2026-12-03T04:00:00Z", "expires_at": 0
        }))
        .unwrap()
    }

    #[test]
    fn a_reunion_caller_is_explained_in_their_own_zone_under_the_accounts_profile() {
        let account = Account::from_json(
            r#"{"account_id":"late26","company_name":"Acme","rule_profile":"af2m-2026","send_delay_seconds":60}"#,
        )
        .unwrap();
        let why = Why::new(&account, &call());
        assert_eq!(why.profile, "af2m-2026");
        assert_eq!(why.profile_window, "08:00–21:30");
        assert_eq!(why.window, "08:00–21:30");
        assert_eq!(why.timezone, "Indian/Reunion");
        assert_eq!(why.holidays, "reunion");
        assert_eq!(why.days, "Monday–Saturday, not on public holidays");
        assert_eq!(
            why.happened_at,
            "2026-12-02T17:30:00Z (Wednesday 02 December 21:30:00 Indian/Reunion)"
        );
        assert_eq!(
            why.planned_send.as_deref(),
            Some("2026-12-03T04:00:00Z (Thursday 03 December 08:00:00 Indian/Reunion)")
        );
        assert_eq!(
            (why.outcome.as_deref(), why.reason.as_deref()),
            (Some("scheduled"), Some("quiet_hours"))
        );
        let text = why.render();
        assert!(
            text.contains("profile       af2m-2026 (widest window 08:00–21:30)"),
            "{text}"
        );
        assert!(text.contains("grace delay   60 s"), "{text}");
        assert!(text.contains("+262 6•• •• •• 04 (mobile, RE)"), "{text}");
    }

    #[test]
    fn a_narrowed_window_and_opted_in_sundays_say_so() {
        let account = Account::from_json(
            r#"{"account_id":"late26","company_name":"Acme","rule_profile":"af2m-2026","send_on_sundays_and_holidays":true,"sending_hours":{"start":"09:00:00","end":"19:00:00"}}"#,
        )
        .unwrap();
        let why = Why::new(&account, &call());
        assert_eq!(why.window, "09:00–19:00 (narrowed by sending_hours)");
        assert_eq!(
            why.days,
            "every day, Sundays and public holidays included (opted in)"
        );
    }
}
