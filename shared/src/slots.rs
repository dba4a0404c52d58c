//! Callback slots offered on the booking page, from the account's `callback_hours`.

use crate::calendar::HolidayZone;
use chrono::{DateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// One opening range on given weekdays, local time `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRange {
    pub days: Vec<Weekday>,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// When the business calls back. Default: Mon–Fri 10:00–13:00 and 14:00–20:00, no holidays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackHours {
    pub ranges: Vec<CallbackRange>,
    /// Length of one slot, minutes (default 30).
    #[serde(default = "default_slot_minutes")]
    pub slot_minutes: u32,
}

fn default_slot_minutes() -> u32 {
    30
}

impl Default for CallbackHours {
    fn default() -> Self {
        todo!()
    }
}

/// A slot offered to the prospect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slot {
    /// Start instant (UTC); the form posts it back as RFC 3339.
    pub start: DateTime<Utc>,
    /// Human label in French local time, e.g. "lundi 30 novembre, 10:00".
    pub label: String,
}

/// The slots starting after `now` + `lead_minutes`, over the next `days` local days,
/// in zone `tz`, skipping holidays of `holidays`; at most `max` slots, sorted.
pub fn upcoming_slots(hours: &CallbackHours, tz: Tz, holidays: HolidayZone, now: DateTime<Utc>, lead_minutes: i64, days: u32, max: usize) -> Vec<Slot> {
    let _ = (hours, tz, holidays, now, lead_minutes, days, max);
    todo!()
}

/// Whether `start` is the start of a slot `upcoming_slots` would offer at `now` (used to
/// validate a posted slot).
pub fn is_offered(hours: &CallbackHours, tz: Tz, holidays: HolidayZone, now: DateTime<Utc>, start: DateTime<Utc>) -> bool {
    let _ = (hours, tz, holidays, now, start);
    todo!()
}
