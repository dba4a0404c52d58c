//! The eligibility rules (rules 1–5 (docs/architecture.md)) as a pure function of facts, account and clock.
//!
//! [`decide`] never sees a phone number: it works on the caller's line type, region and keyed
//! hash, recorded at intake. Side effects (day reservation, outbox, cancellation) are the
//! eligibility function's job; this module only says what should happen and why.

use crate::account::Account;
use crate::calendar::{HolidayZone, RecipientCalendar, zone_for_region};
use crate::call::{CallStatus, Direction};
use crate::phone::LineType;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A call arriving later than this after it ended is not texted (`too_old`): the prospect has
/// moved on, and a late redelivery must not surprise them.
pub const MAX_CALL_AGE: Duration = Duration::hours(24);

/// What intake knew about the prospect's number (never the number itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "caller", rename_all = "snake_case")]
pub enum CallerFacts {
    Withheld,
    Invalid,
    Number {
        line_type: LineType,
        region: Option<String>,
        /// Keyed hash (KMS HMAC) of account id + E.164, for dedup, opt-out and cancellation.
        hash: String,
    },
}

/// The facts a decision is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFacts {
    pub direction: Direction,
    pub status: CallStatus,
    pub caller: CallerFacts,
    /// When the call ended (or started, or was received, whichever is known first), UTC.
    pub happened_at: DateTime<Utc>,
    /// How long it rang (seconds), when the provider says.
    pub ring_seconds: Option<u32>,
}

/// Final state of a call's decision, as shown by `/_local/calls` and `rappel-admin calls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Sent,
    Scheduled,
    Skipped,
    Cancelled,
    Expired,
    Failed,
    Ignored,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Scheduled => "scheduled",
            Outcome::Skipped => "skipped",
            Outcome::Cancelled => "cancelled",
            Outcome::Expired => "expired",
            Outcome::Failed => "failed",
            Outcome::Ignored => "ignored",
        }
    }
}

/// Stable reason codes (snake_case), documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    // ignored
    Answered,
    Outbound,
    NotFinal,
    VoicemailNotMissed,
    /// Rang less than the account's `min_ring_seconds`: a misdial or a robot.
    RingTooShort,
    /// From one of the account's own numbers (`internal_numbers`).
    InternalNumber,
    // skipped
    /// On the account's block list (`blocked_numbers`).
    BlockedNumber,
    Anonymous,
    InvalidNumber,
    NotMobile,
    CountryNotAllowed,
    OptedOut,
    AlreadyTextedToday,
    AccountDisabled,
    TooOld,
    DailyCap,
    // sent / scheduled
    InHours,
    QuietHours,
    // expired
    DeferralLimit,
    // cancelled
    AnsweredLater,
    CalledBack,
    // failed
    SendInterrupted,
    ProviderError,
    NumberUnavailable,
    SendUncertain,
}

impl Reason {
    /// The snake_case code.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Answered => "answered",
            Reason::Outbound => "outbound",
            Reason::NotFinal => "not_final",
            Reason::VoicemailNotMissed => "voicemail_not_missed",
            Reason::RingTooShort => "ring_too_short",
            Reason::InternalNumber => "internal_number",
            Reason::BlockedNumber => "blocked_number",
            Reason::Anonymous => "anonymous",
            Reason::InvalidNumber => "invalid_number",
            Reason::NotMobile => "not_mobile",
            Reason::CountryNotAllowed => "country_not_allowed",
            Reason::OptedOut => "opted_out",
            Reason::AlreadyTextedToday => "already_texted_today",
            Reason::AccountDisabled => "account_disabled",
            Reason::TooOld => "too_old",
            Reason::DailyCap => "daily_cap",
            Reason::InHours => "in_hours",
            Reason::QuietHours => "quiet_hours",
            Reason::DeferralLimit => "deferral_limit",
            Reason::AnsweredLater => "answered_later",
            Reason::CalledBack => "called_back",
            Reason::SendInterrupted => "send_interrupted",
            Reason::ProviderError => "provider_error",
            Reason::NumberUnavailable => "number_unavailable",
            Reason::SendUncertain => "send_uncertain",
        }
    }
}

/// What to do with a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Text the caller at `due_at` (now when in hours). `day` is the recipient's local date of
    /// the send: the dedup key (rule 3). `send_before` is the deferral deadline.
    Send {
        due_at: DateTime<Utc>,
        day: NaiveDate,
        reason: Reason,
        send_before: DateTime<Utc>,
    },
    /// No SMS, and nothing else to do.
    Skip { outcome: Outcome, reason: Reason },
    /// A human reached the prospect: cancel their pending messages (rule 5).
    /// `reason` is what the cancelled messages' calls record (`answered_later` / `called_back`).
    CancelPending {
        hash: String,
        reason: Reason,
        own_reason: Reason,
    },
}

/// The recipient's calendar: their own zone and holidays for overseas numbers (rule 4), the
/// account's zone and `holiday_zone` otherwise, the account's sending window (its profile's,
/// or narrower) and whether Sundays and holidays are open (an `af2m-2026` account that opts in).
pub fn recipient_calendar(region: Option<&str>, account: &Account) -> RecipientCalendar {
    let tz = region.and_then(zone_for_region).unwrap_or(account.timezone);
    let holidays = region.map_or(account.holiday_zone, |r| {
        HolidayZone::for_region(r, account.holiday_zone)
    });
    RecipientCalendar {
        tz,
        holidays,
        hours: account.sending_window(),
        sundays_and_holidays: account.send_on_sundays_and_holidays
            && account.rule_profile.tolerates_sundays_and_holidays(),
    }
}

/// Apply rules 1–5 (docs/architecture.md) to `facts` for `account` at instant `now` (UTC).
///
/// Order matters and is part of the contract: human contact first (it cancels), then
/// "not a missed inbound call" (ignored), account switch, caller checks (withheld, invalid,
/// landline, country), age, and finally the calendar (quiet hours → deferral, or expiry past
/// `max_deferral_hours` counted from the call). Opt-out and the daily dedup need the table and
/// are applied by the caller of this function, atomically with the reservation.
pub fn decide(facts: &CallFacts, account: &Account, now: DateTime<Utc>) -> Decision {
    let skip = |outcome, reason| Decision::Skip { outcome, reason };
    let hash = match &facts.caller {
        CallerFacts::Number { hash, .. } => Some(hash.clone()),
        _ => None,
    };

    // Rule 5: human contact cancels pending messages to that person.
    match (facts.direction, facts.status) {
        (Direction::Inbound, CallStatus::Answered) => {
            return match hash {
                Some(hash) => Decision::CancelPending {
                    hash,
                    reason: Reason::AnsweredLater,
                    own_reason: Reason::Answered,
                },
                None => skip(Outcome::Ignored, Reason::Answered),
            };
        }
        (Direction::Outbound, CallStatus::Answered) => {
            return match hash {
                Some(hash) => Decision::CancelPending {
                    hash,
                    reason: Reason::CalledBack,
                    own_reason: Reason::Outbound,
                },
                None => skip(Outcome::Ignored, Reason::Outbound),
            };
        }
        (Direction::Outbound, _) => return skip(Outcome::Ignored, Reason::Outbound),
        _ => {}
    }

    // Rule 1: only missed inbound calls.
    match facts.status {
        s if s.is_missed() => {}
        CallStatus::Voicemail if account.voicemail_is_missed => {}
        CallStatus::Voicemail => return skip(Outcome::Ignored, Reason::VoicemailNotMissed),
        _ => return skip(Outcome::Ignored, Reason::NotFinal),
    }

    // The account's missed-call qualifier: not a prospect's call, or not one to text.
    if facts
        .ring_seconds
        .is_some_and(|ring| ring < account.min_ring_seconds)
    {
        return skip(Outcome::Ignored, Reason::RingTooShort);
    }
    if let CallerFacts::Number { hash, .. } = &facts.caller {
        if account.is_internal(hash) {
            return skip(Outcome::Ignored, Reason::InternalNumber);
        }
        if account.is_blocked(hash) {
            return skip(Outcome::Skipped, Reason::BlockedNumber);
        }
    }

    if !account.enabled {
        return skip(Outcome::Skipped, Reason::AccountDisabled);
    }

    // Rule 2: mobiles only, never withheld callers; allowed countries only.
    let region = match &facts.caller {
        CallerFacts::Withheld => return skip(Outcome::Skipped, Reason::Anonymous),
        CallerFacts::Invalid => return skip(Outcome::Skipped, Reason::InvalidNumber),
        CallerFacts::Number {
            line_type, region, ..
        } => {
            if *line_type != LineType::Mobile {
                return skip(Outcome::Skipped, Reason::NotMobile);
            }
            match region {
                Some(r) if account.allowed_countries.iter().any(|c| c == r) => r.as_str(),
                _ => return skip(Outcome::Skipped, Reason::CountryNotAllowed),
            }
        }
    };

    if now - facts.happened_at > MAX_CALL_AGE {
        return skip(Outcome::Skipped, Reason::TooOld);
    }

    // Rule 4: quiet hours in the recipient's calendar; defer, or expire past the limit. An
    // in-hours SMS first waits the account's grace delay (a callback within it cancels it);
    // if the delay ends outside the window, the SMS goes at the next opening like any
    // deferred one.
    let calendar = recipient_calendar(Some(region), account);
    let grace = Duration::seconds(i64::from(account.send_delay_seconds));
    // The delay counts from the call: a call decided late (the re-decide schedule) does not
    // wait again.
    let in_hours = calendar.is_allowed(now);
    let held_until = (facts.happened_at + grace).max(now);
    let due_at = if in_hours {
        calendar.next_allowed(held_until)
    } else {
        calendar.next_allowed(now)
    };
    let send_before = facts.happened_at + Duration::hours(i64::from(account.max_deferral_hours));
    if due_at > send_before {
        return skip(Outcome::Expired, Reason::DeferralLimit);
    }
    let reason = if in_hours && due_at == held_until {
        Reason::InHours
    } else {
        Reason::QuietHours
    };
    Decision::Send {
        due_at,
        day: calendar.local_date(due_at),
        reason,
        send_before,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn account() -> Account {
        Account::from_json(r#"{"account_id":"acme","company_name":"Acme"}"#).unwrap()
    }

    fn paris(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        chrono_tz::Europe::Paris
            .with_ymd_and_hms(y, m, d, h, min, s)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn missed(region: &str, at: DateTime<Utc>) -> CallFacts {
        CallFacts {
            direction: Direction::Inbound,
            status: CallStatus::NoAnswer,
            caller: CallerFacts::Number {
                line_type: LineType::Mobile,
                region: Some(region.into()),
                hash: "h1".into(),
            },
            happened_at: at,
            ring_seconds: Some(20),
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn in_hours_sends_now_and_reserves_today() {
        // Friday 27 Nov 2026, 19:59:59 Paris.
        let now = paris(2026, 11, 27, 19, 59, 59);
        let d = decide(&missed("FR", now), &account(), now);
        assert_eq!(
            d,
            Decision::Send {
                due_at: now,
                day: date(2026, 11, 27),
                reason: Reason::InHours,
                send_before: now + Duration::hours(72)
            }
        );
    }

    fn with(extra: &str) -> Account {
        Account::from_json(&format!(
            r#"{{"account_id":"acme","company_name":"Acme"{extra}}}"#
        ))
        .unwrap()
    }

    /// (due_at, reason) of a French mobile's missed call at `now` for `account`.
    fn planned(account: &Account, now: DateTime<Utc>) -> (DateTime<Utc>, Reason) {
        match decide(&missed("FR", now), account, now) {
            Decision::Send { due_at, reason, .. } => (due_at, reason),
            other => panic!("expected a send, got {other:?}"),
        }
    }

    #[test]
    fn each_profile_at_the_edges_of_its_window() {
        // Wednesday 2 December 2026 (a working day), then Sunday 6 December.
        let af2m_2026 = with(r#","rule_profile":"af2m-2026""#);
        let af2m_2024 = with(r#","rule_profile":"af2m-2024""#);
        let thursday_8 = paris(2026, 12, 3, 8, 0, 0);
        let at = paris(2026, 12, 2, 21, 29, 59);
        assert_eq!(planned(&af2m_2026, at), (at, Reason::InHours));
        assert_eq!(
            planned(&af2m_2026, paris(2026, 12, 2, 21, 30, 0)),
            (thursday_8, Reason::QuietHours)
        );
        let at = paris(2026, 12, 2, 21, 59, 59);
        assert_eq!(planned(&af2m_2024, at), (at, Reason::InHours));
        assert_eq!(
            planned(&af2m_2024, paris(2026, 12, 2, 22, 0, 0)),
            (thursday_8, Reason::QuietHours)
        );
        assert_eq!(
            planned(&account(), paris(2026, 12, 2, 20, 0, 0)),
            (thursday_8, Reason::QuietHours)
        );
        // A Sunday: closed under every profile, unless an af2m-2026 account opted in.
        let sunday = paris(2026, 12, 6, 11, 0, 0);
        let monday_8 = paris(2026, 12, 7, 8, 0, 0);
        for a in [&account(), &af2m_2024, &af2m_2026] {
            assert_eq!(
                planned(a, sunday),
                (monday_8, Reason::QuietHours),
                "{:?}",
                a.rule_profile
            );
        }
        let sundays = with(r#","rule_profile":"af2m-2026","send_on_sundays_and_holidays":true"#);
        assert_eq!(planned(&sundays, sunday), (sunday, Reason::InHours));
        // Christmas Day too, but never outside the daily window.
        let christmas = paris(2026, 12, 25, 10, 0, 0);
        assert_eq!(planned(&sundays, christmas), (christmas, Reason::InHours));
        assert_eq!(
            planned(&sundays, paris(2026, 12, 6, 21, 45, 0)),
            (monday_8, Reason::QuietHours)
        );
        // A narrowed af2m-2024 account keeps its own, narrower, window.
        let narrowed = with(
            r#","rule_profile":"af2m-2024","sending_hours":{"start":"09:00:00","end":"21:00:00"}"#,
        );
        assert_eq!(
            planned(&narrowed, paris(2026, 12, 2, 21, 0, 0)),
            (paris(2026, 12, 3, 9, 0, 0), Reason::QuietHours)
        );
    }

    #[test]
    fn the_qualifier_ignores_short_rings_and_own_numbers_and_skips_blocked_callers() {
        let own = format!("hash:{}", "a".repeat(64));
        let blocked = format!("hash:{}", "b".repeat(64));
        let account = with(&format!(
            r#","min_ring_seconds":3,"internal_numbers":["{own}"],"blocked_numbers":["{blocked}"]"#
        ));
        let now = paris(2026, 12, 2, 10, 0, 0);
        let call = |hash: &str, ring: Option<u32>| CallFacts {
            caller: CallerFacts::Number {
                line_type: LineType::Mobile,
                region: Some("FR".into()),
                hash: hash.into(),
            },
            ring_seconds: ring,
            ..missed("FR", now)
        };
        let skip = |outcome, reason| Decision::Skip { outcome, reason };
        let c = "c".repeat(64);
        assert_eq!(
            decide(&call(&c, Some(2)), &account, now),
            skip(Outcome::Ignored, Reason::RingTooShort)
        );
        assert!(matches!(
            decide(&call(&c, Some(3)), &account, now),
            Decision::Send { .. }
        ));
        // A provider that does not say how long it rang: not ignored for that.
        assert!(matches!(
            decide(&call(&c, None), &account, now),
            Decision::Send { .. }
        ));
        assert_eq!(
            decide(&call(&"a".repeat(64), Some(20)), &account, now),
            skip(Outcome::Ignored, Reason::InternalNumber)
        );
        assert_eq!(
            decide(&call(&"b".repeat(64), Some(20)), &account, now),
            skip(Outcome::Skipped, Reason::BlockedNumber)
        );
        // Defaults: any ring, no list.
        assert!(matches!(
            decide(&call(&c, Some(1)), &with(""), now),
            Decision::Send { .. }
        ));
    }

    #[test]
    fn the_grace_delay_holds_an_in_hours_sms_and_leaves_a_deferred_one_alone() {
        let delayed = with(r#","send_delay_seconds":60"#);
        let now = paris(2026, 12, 2, 10, 0, 0);
        assert_eq!(
            planned(&delayed, now),
            (now + Duration::seconds(60), Reason::InHours)
        );
        // The delay would end after 20:00: the SMS goes at the next opening, as deferred.
        assert_eq!(
            planned(&delayed, paris(2026, 12, 2, 19, 59, 30)),
            (paris(2026, 12, 3, 8, 0, 0), Reason::QuietHours)
        );
        // Decided two minutes after the call (re-decide): the delay is over, it goes now.
        let late = paris(2026, 12, 2, 10, 2, 0);
        let call = missed("FR", paris(2026, 12, 2, 10, 0, 0));
        match decide(&call, &delayed, late) {
            Decision::Send { due_at, reason, .. } => {
                assert_eq!((due_at, reason), (late, Reason::InHours))
            }
            other => panic!("{other:?}"),
        }
        // Deferred: at the opening, not a minute after it.
        assert_eq!(
            planned(&delayed, paris(2026, 12, 2, 22, 0, 0)),
            (paris(2026, 12, 3, 8, 0, 0), Reason::QuietHours)
        );
    }

    #[test]
    fn saturday_20h_defers_to_monday_08h() {
        let now = paris(2026, 11, 28, 20, 0, 0);
        match decide(&missed("FR", now), &account(), now) {
            Decision::Send {
                due_at,
                day,
                reason,
                ..
            } => {
                assert_eq!(due_at, paris(2026, 11, 30, 8, 0, 0));
                assert_eq!(day, date(2026, 11, 30));
                assert_eq!(reason, Reason::QuietHours);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deferral_past_the_limit_expires() {
        let mut a = account();
        a.max_deferral_hours = 12;
        let now = paris(2026, 11, 28, 21, 0, 0); // Saturday evening → Monday 08:00 is 35 h away (limit 12 h)
        assert_eq!(
            decide(&missed("FR", now), &a, now),
            Decision::Skip {
                outcome: Outcome::Expired,
                reason: Reason::DeferralLimit
            }
        );
    }

    #[test]
    fn overseas_caller_uses_own_zone() {
        // 19:00 Paris on Mon 30 Nov 2026 is 22:00 in Réunion: deferred to 08:00 Réunion (05:00 Paris).
        let now = paris(2026, 11, 30, 19, 0, 0);
        match decide(&missed("RE", now), &account(), now) {
            Decision::Send { due_at, day, .. } => {
                assert_eq!(
                    due_at,
                    chrono_tz::Indian::Reunion
                        .with_ymd_and_hms(2026, 12, 1, 8, 0, 0)
                        .unwrap()
                        .with_timezone(&Utc)
                );
                assert_eq!(day, date(2026, 12, 1));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn caller_checks_give_their_reason() {
        let now = paris(2026, 11, 27, 10, 0, 0);
        let a = account();
        let with = |caller| CallFacts {
            caller,
            ..missed("FR", now)
        };
        let skipped = |reason| Decision::Skip {
            outcome: Outcome::Skipped,
            reason,
        };
        assert_eq!(
            decide(&with(CallerFacts::Withheld), &a, now),
            skipped(Reason::Anonymous)
        );
        assert_eq!(
            decide(&with(CallerFacts::Invalid), &a, now),
            skipped(Reason::InvalidNumber)
        );
        let landline = CallerFacts::Number {
            line_type: LineType::FixedLine,
            region: Some("FR".into()),
            hash: "h".into(),
        };
        assert_eq!(decide(&with(landline), &a, now), skipped(Reason::NotMobile));
        let voip = CallerFacts::Number {
            line_type: LineType::Voip,
            region: Some("FR".into()),
            hash: "h".into(),
        };
        assert_eq!(decide(&with(voip), &a, now), skipped(Reason::NotMobile));
        let belgian = CallerFacts::Number {
            line_type: LineType::Mobile,
            region: Some("BE".into()),
            hash: "h".into(),
        };
        assert_eq!(
            decide(&with(belgian), &a, now),
            skipped(Reason::CountryNotAllowed)
        );
        let mut off = account();
        off.enabled = false;
        assert_eq!(
            decide(&missed("FR", now), &off, now),
            skipped(Reason::AccountDisabled)
        );
        let old = missed("FR", now - Duration::hours(25));
        assert_eq!(decide(&old, &a, now), skipped(Reason::TooOld));
    }

    #[test]
    fn human_contact_cancels_and_other_calls_are_ignored() {
        let now = paris(2026, 11, 27, 10, 0, 0);
        let a = account();
        let answered = CallFacts {
            status: CallStatus::Answered,
            ..missed("FR", now)
        };
        assert_eq!(
            decide(&answered, &a, now),
            Decision::CancelPending {
                hash: "h1".into(),
                reason: Reason::AnsweredLater,
                own_reason: Reason::Answered
            }
        );
        let outbound = CallFacts {
            direction: Direction::Outbound,
            status: CallStatus::Answered,
            ..missed("FR", now)
        };
        assert_eq!(
            decide(&outbound, &a, now),
            Decision::CancelPending {
                hash: "h1".into(),
                reason: Reason::CalledBack,
                own_reason: Reason::Outbound
            }
        );
        let unanswered_outbound = CallFacts {
            direction: Direction::Outbound,
            ..missed("FR", now)
        };
        assert_eq!(
            decide(&unanswered_outbound, &a, now),
            Decision::Skip {
                outcome: Outcome::Ignored,
                reason: Reason::Outbound
            }
        );
        let other = CallFacts {
            status: CallStatus::Other,
            ..missed("FR", now)
        };
        assert_eq!(
            decide(&other, &a, now),
            Decision::Skip {
                outcome: Outcome::Ignored,
                reason: Reason::NotFinal
            }
        );
        let mut no_vm = account();
        no_vm.voicemail_is_missed = false;
        let voicemail = CallFacts {
            status: CallStatus::Voicemail,
            ..missed("FR", now)
        };
        assert!(matches!(decide(&voicemail, &a, now), Decision::Send { .. }));
        assert_eq!(
            decide(&voicemail, &no_vm, now),
            Decision::Skip {
                outcome: Outcome::Ignored,
                reason: Reason::VoicemailNotMissed
            }
        );
    }

    #[test]
    fn night_call_and_early_morning_call_share_the_send_day() {
        // Rule 3: 21:00 Tuesday (deferred to Wednesday 08:00) and 07:30 Wednesday: same day key.
        let a = account();
        let night = paris(2026, 12, 1, 21, 0, 0);
        let morning = paris(2026, 12, 2, 7, 30, 0);
        let day = |now| match decide(&missed("FR", now), &a, now) {
            Decision::Send { day, due_at, .. } => (day, due_at),
            other => panic!("{other:?}"),
        };
        assert_eq!(day(night), day(morning));
        assert_eq!(day(night).0, date(2026, 12, 2));
    }
}
