//! How long each item type is kept, and why (README, "Retention").
//!
//! Every item that holds personal data carries `expires_at` (epoch seconds, the table's TTL
//! attribute) computed here from an anchor instant. DynamoDB deletes an expired item up to a
//! few days late, so every reader that acts on an item also checks [`is_live`]: an expired
//! item that is still stored is treated as absent. `rappel-admin subject export` is the one
//! exception: it reports everything still held, expired or not.
//!
//! The README's table is checked against [`TABLE`] by a test (`shared/tests/retention_doc.rs`),
//! and the durations the code writes are checked against [`TABLE`] by the promises harness.

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// Call facts and the decision (keyed hash, masked number, outcome), from receipt: long
/// enough for "why did this caller (not) get an SMS?" over a monthly billing period.
pub const CALL_DAYS: i64 = 30;
/// A remembered call leg (Vonage / Telnyx), from receipt: a later event of the same call
/// arrives within minutes; 2 days covers provider retries.
pub const LEG_DAYS: i64 = 2;
/// An event waiting for its earlier leg, from receipt (the re-decide sweep stores it as read
/// after 10 minutes).
pub const PENDING_DAYS: i64 = 2;
/// An outbox message, from its due instant (same reason as calls).
pub const MESSAGE_DAYS: i64 = 30;
/// A day reservation (rule 3), after the day it reserves: it only has to outlive that local
/// day.
pub const DAY_DAYS: i64 = 2;
/// The last human contact (rule 5), from the contact: longer than a call can wait for its
/// decision plus the longest deferral.
pub const CONTACT_DAYS: i64 = 9;
/// An account's daily SMS counter (no personal data), after the day it counts.
pub const CAP_DAYS: i64 = 2;
/// A link's count of form posts in one rate-limit window (no personal data), after the window.
pub const RATE_DAYS: i64 = 1;
/// An account's count of callbacks booked in one slot (no personal data), after the slot.
pub const SLOT_DAYS: i64 = 2;
/// How long a booking link books, from the SMS's due instant.
pub const LINK_VALID_DAYS: i64 = 7;
/// The booking link item, from its due instant: one day beyond [`LINK_VALID_DAYS`] so that a
/// late visitor sees "expired" rather than "unknown".
pub const LINK_DAYS: i64 = LINK_VALID_DAYS + 1;
/// The opt-out link (`{optout}`, `/o/{token}`), from the SMS's due instant: an SMS is acted
/// on long after its booking link expired; a year covers a person finding it again. It holds
/// only the account and the keyed hash.
pub const OPTOUT_LINK_DAYS: i64 = 365;
/// A booking and its consent record, from the prospect's last contact (a booking, or a visit
/// of the link): the CNIL's reference for prospect data is 3 years from the last contact
/// (référentiel « gestion des activités commerciales », 2021).
pub const BOOKING_DAYS: i64 = 3 * 365;

/// Another number a prospect asked to be called on, after the last instant its booking can
/// start (the link's `valid_until`): a week to make the call, then it goes; the booking keeps
/// only its masked form.
pub const CALLBACK_NUMBER_DAYS: i64 = 7;
/// One row of the retention table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Item type as the README names it (its sort-key prefix).
    pub item: &'static str,
    /// Days kept after the anchor; `None`: kept until erased (no TTL).
    pub days: Option<i64>,
}

/// Every item type and how long it is kept (README, "Retention", in this order).
pub const TABLE: &[Retention] = &[
    Retention {
        item: "CALL#",
        days: Some(CALL_DAYS),
    },
    Retention {
        item: "LEG#",
        days: Some(LEG_DAYS),
    },
    Retention {
        item: "PENDING#",
        days: Some(PENDING_DAYS),
    },
    Retention {
        item: "MSG#",
        days: Some(MESSAGE_DAYS),
    },
    Retention {
        item: "DAY#",
        days: Some(DAY_DAYS),
    },
    Retention {
        item: "CONTACT#",
        days: Some(CONTACT_DAYS),
    },
    Retention {
        item: "CAP#",
        days: Some(CAP_DAYS),
    },
    Retention {
        item: "SLOT#",
        days: Some(SLOT_DAYS),
    },
    Retention {
        item: "LINK#",
        days: Some(LINK_DAYS),
    },
    Retention {
        item: "LINK# / OPTOUT",
        days: Some(OPTOUT_LINK_DAYS),
    },
    Retention {
        item: "LINK# / RATE#",
        days: Some(RATE_DAYS),
    },
    Retention {
        item: "BOOKING#",
        days: Some(BOOKING_DAYS),
    },
    Retention {
        item: "NUMBER#",
        days: Some(CALLBACK_NUMBER_DAYS),
    },
    Retention {
        item: "OPTOUT#",
        days: None,
    },
    Retention {
        item: "ACCOUNT",
        days: None,
    },
    Retention {
        item: "HASHKEY",
        days: None,
    },
    Retention {
        item: "REPLY#",
        days: None,
    },
];

/// The TTL value (epoch seconds) of an item kept `days` after `anchor`.
pub fn expires(anchor: DateTime<Utc>, days: i64) -> i64 {
    (anchor + Duration::days(days)).timestamp()
}

/// The TTL value of an item about local day `day`, kept `days` after that day: midnight UTC
/// `days + 1` days after its start (a local day ends at most 14 hours after UTC midnight
/// anywhere Rappel texts, so this is never before the day is over).
pub fn after_day(day: NaiveDate, days: i64) -> i64 {
    let start = day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    (start + Duration::days(days + 1)).timestamp()
}

/// Whether an item with TTL `expires_at` (epoch seconds) is still to be acted on at `now`.
/// DynamoDB deletes expired items up to a few days late: readers must not use them.
pub fn is_live(expires_at: i64, now: DateTime<Utc>) -> bool {
    expires_at > now.timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn an_item_is_dead_from_its_expiry_second() {
        let at = Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap();
        let exp = expires(at, DAY_DAYS);
        assert_eq!(exp - at.timestamp(), 2 * 86_400);
        assert!(is_live(exp, at + Duration::days(2) - Duration::seconds(1)));
        assert!(!is_live(exp, at + Duration::days(2)));
    }

    #[test]
    fn every_item_type_is_listed_once() {
        let mut names: Vec<_> = TABLE.iter().map(|r| r.item).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), TABLE.len());
        assert!(LINK_DAYS > LINK_VALID_DAYS && OPTOUT_LINK_DAYS > LINK_DAYS);
    }
}
