//! `report`: an account's funnel over a period, from the table.

use crate::cli::Connection;
use crate::error::AdminError;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rappel::items::ts;
use rappel::rules::Outcome;
use serde::Serialize;
use std::collections::BTreeMap;

/// The funnel of one account over `[from, to]` (instants RFC 3339 UTC).
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Funnel {
    pub account_id: String,
    pub from: String,
    pub to: String,
    /// Calls received.
    pub calls: usize,
    /// Calls that got no SMS, by reason code.
    pub skipped: BTreeMap<String, usize>,
    pub sms_sent: usize,
    pub links_opened: usize,
    pub slots_booked: usize,
    pub rescheduled: usize,
    pub cancelled: usize,
    pub opted_out: usize,
}

/// Parse `--from` / `--to`: a date (its start, or for `--to` its end) or an RFC 3339 instant.
fn instant(value: &str, end_of_day: bool) -> Result<DateTime<Utc>, AdminError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
        AdminError::Invalid(format!(
            "{value:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 instant"
        ))
    })?;
    let start = day.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    Ok(if end_of_day {
        start + Duration::days(1) - Duration::seconds(1)
    } else {
        start
    })
}

/// Run `report`.
pub async fn report(
    connection: &Connection,
    account_id: &str,
    from: Option<String>,
    to: Option<String>,
    json: bool,
) -> Result<(), AdminError> {
    let now = Utc::now();
    let from = match from {
        Some(f) => instant(&f, false)?,
        None => now - Duration::days(30),
    };
    let to = match to {
        Some(t) => instant(&t, true)?,
        None => now,
    };
    let config = crate::connect::sdk_config(connection.local).await;
    let table = rappel::aws::Table::new(aws_sdk_dynamodb::Client::new(&config), &connection.table)
        .without_cache();
    crate::commands::find_account(&table, account_id).await?;
    let within = |at: Option<&str>| {
        at.and_then(|a| DateTime::parse_from_rfc3339(a).ok())
            .is_some_and(|a| (from..=to).contains(&a.with_timezone(&Utc)))
    };
    let mut funnel = Funnel {
        account_id: account_id.to_string(),
        from: ts(from),
        to: ts(to),
        ..Funnel::default()
    };
    for call in table.calls(account_id).await? {
        if !within(Some(&call.received_at)) {
            continue;
        }
        funnel.calls += 1;
        if let (Some(Outcome::Skipped), Some(reason)) = (call.outcome, call.reason) {
            *funnel
                .skipped
                .entry(reason.as_str().to_string())
                .or_default() += 1;
        }
    }
    for msg in table.messages(account_id).await?.into_iter().flatten() {
        funnel.sms_sent += usize::from(within(msg.sent_at.as_deref()));
        funnel.links_opened += usize::from(within(msg.opened_at.as_deref()));
    }
    for booking in table.bookings(account_id).await? {
        funnel.slots_booked += usize::from(within(Some(&booking.booking.booked_at)));
        funnel.rescheduled += usize::from(within(booking.rescheduled_at.as_deref()));
        funnel.cancelled += usize::from(within(booking.cancelled_at.as_deref()));
    }
    for opt_out in table.opt_outs(account_id).await? {
        funnel.opted_out += usize::from(within(Some(&opt_out.opted_out_at)));
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&funnel).expect("report serializes")
        );
    } else {
        print!("{}", text(&funnel));
    }
    Ok(())
}

/// The funnel as text, one step per line.
pub fn text(f: &Funnel) -> String {
    let pct = |n: usize, of: usize| {
        if of == 0 {
            String::new()
        } else {
            format!("  ({:.0} %)", 100.0 * n as f64 / of as f64)
        }
    };
    let mut out = format!("account {}, {} to {}\n", f.account_id, f.from, f.to);
    out += &format!("  calls received   {:>6}\n", f.calls);
    let skipped: usize = f.skipped.values().sum();
    out += &format!("  skipped          {:>6}\n", skipped);
    for (reason, n) in &f.skipped {
        out += &format!("    {reason:<22} {n:>6}\n");
    }
    out += &format!("  SMS sent         {:>6}\n", f.sms_sent);
    out += &format!(
        "  links opened     {:>6}{}\n",
        f.links_opened,
        pct(f.links_opened, f.sms_sent)
    );
    out += &format!(
        "  slots booked     {:>6}{}\n",
        f.slots_booked,
        pct(f.slots_booked, f.sms_sent)
    );
    out += &format!("  rescheduled      {:>6}\n", f.rescheduled);
    out += &format!("  cancelled        {:>6}\n", f.cancelled);
    out += &format!("  opted out        {:>6}\n", f.opted_out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_read_as_days_or_instants() {
        assert_eq!(
            ts(instant("2026-11-01", false).unwrap()),
            "2026-11-01T00:00:00Z"
        );
        assert_eq!(
            ts(instant("2026-11-30", true).unwrap()),
            "2026-11-30T23:59:59Z"
        );
        assert_eq!(
            ts(instant("2026-11-30T09:00:00+01:00", true).unwrap()),
            "2026-11-30T08:00:00Z"
        );
        assert!(matches!(
            instant("30/11/2026", false),
            Err(AdminError::Invalid(_))
        ));
    }

    #[test]
    fn the_text_shows_each_step_and_the_rates() {
        let f = Funnel {
            account_id: "demo".into(),
            from: "2026-11-01T00:00:00Z".into(),
            to: "2026-11-30T23:59:59Z".into(),
            calls: 10,
            skipped: BTreeMap::from([("not_mobile".into(), 3), ("opted_out".into(), 1)]),
            sms_sent: 6,
            links_opened: 3,
            slots_booked: 2,
            rescheduled: 1,
            cancelled: 0,
            opted_out: 1,
        };
        let text = text(&f);
        assert!(
            text.contains("  skipped               4\n    not_mobile                  3\n"),
            "{text}"
        );
        assert!(text.contains("links opened          3  (50 %)"), "{text}");
        assert!(text.contains("slots booked          2  (33 %)"), "{text}");
    }
}
