//! The recipient's calendar: time zones, French public holidays and quiet hours.
//!
//! OWNER: calendar helper. Public API below is the contract other modules use.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Which set of public holidays applies (Code du travail L3133-1 plus local days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HolidayZone {
    Metropole,
    AlsaceMoselle,
    Guadeloupe,
    Martinique,
    Guyane,
    Reunion,
    Mayotte,
    SaintMartin,
    SaintBarthelemy,
    SaintPierreEtMiquelon,
}

/// A daily sending window in local time, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendingHours {
    /// First allowed local time (inclusive), e.g. 08:00.
    pub start: NaiveTime,
    /// First forbidden local time (exclusive), e.g. 20:00.
    pub end: NaiveTime,
}

/// Where and when a recipient may be texted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecipientCalendar {
    pub tz: Tz,
    pub holidays: HolidayZone,
    pub hours: SendingHours,
}

impl Default for SendingHours {
    /// 08:00–20:00, the legal maximum for commercial SMS in France.
    fn default() -> Self {
        todo!()
    }
}

impl HolidayZone {
    /// The holiday zone of a recipient whose number belongs to ISO region `region`
    /// (`"FR"`, `"GP"`, `"RE"`, ...). Metropolitan numbers (`FR`) take `metropolitan`
    /// (the account's `holiday_zone`, `Metropole` or `AlsaceMoselle`); overseas regions take their own.
    pub fn for_region(region: &str, metropolitan: HolidayZone) -> HolidayZone {
        let _ = (region, metropolitan);
        todo!()
    }

    /// Public holidays of `year` in this zone, sorted, with a French name each.
    pub fn holidays(self, year: i32) -> Vec<(NaiveDate, &'static str)> {
        let _ = year;
        todo!()
    }

    /// Whether `date` (a local calendar date) is a public holiday in this zone.
    pub fn is_holiday(self, date: NaiveDate) -> bool {
        let _ = date;
        todo!()
    }
}

/// IANA time zone of a recipient in ISO region `region`; `None` when the region is not one
/// Rappel knows (the caller then uses the account's zone).
pub fn zone_for_region(region: &str) -> Option<Tz> {
    let _ = region;
    todo!()
}

/// Easter Sunday (Gregorian) of `year`.
pub fn easter_sunday(year: i32) -> NaiveDate {
    let _ = year;
    todo!()
}

impl RecipientCalendar {
    /// Whether an SMS may be sent at instant `at` (UTC): inside `hours` local time,
    /// not a Sunday, not a public holiday of `holidays`.
    pub fn is_allowed(&self, at: DateTime<Utc>) -> bool {
        let _ = at;
        todo!()
    }

    /// The first allowed instant at or after `from` (returns `from` itself when allowed).
    /// Handles DST gaps/overlaps (a window start that does not exist locally moves to the
    /// first existing instant after it).
    pub fn next_allowed(&self, from: DateTime<Utc>) -> DateTime<Utc> {
        let _ = from;
        todo!()
    }

    /// The recipient's local calendar date at instant `at`.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.tz).date_naive()
    }
}
