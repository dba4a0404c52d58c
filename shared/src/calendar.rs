//! The recipient's calendar: time zones, French public holidays and quiet hours (rule 4, docs/architecture.md).
//!
//! Every instant going in or out of this module is UTC (`DateTime<Utc>`); local reasoning
//! (wall-clock time, calendar date, weekday) is done in the recipient's IANA zone with
//! `chrono-tz`, so daylight-saving changes are handled by the time zone database.
//!
//! OWNER: calendar helper. Public API below is the contract other modules use.

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// How many local days [`RecipientCalendar::next_allowed`] looks ahead before giving up.
///
/// With a non-empty window the longest run of closed days in any zone is three
/// (e.g. Sunday 25 December + Monday 26 December in Alsace-Moselle), so the search only
/// reaches this bound when the window itself is empty (`start >= end`).
pub const NEXT_ALLOWED_HORIZON_DAYS: u64 = 30;

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
    /// Guadeloupe, Saint-Martin and Saint-Barthélemy together: their numbers share +590, and
    /// libphonenumber's metadata cannot tell their mobiles apart (all +590 690…), so a +590
    /// recipient gets the union of the three calendars.
    #[serde(rename = "guadeloupe-saint-martin-saint-barthelemy")]
    Plus590,
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
    /// Sundays and public holidays are open days too (only under [`RuleProfile::Af2m2026`],
    /// when the account opts in).
    pub sundays_and_holidays: bool,
}

/// The industry rules an account sends under: the widest daily window and the days it allows
/// (DESIGN.md, "Where the regulation stands": the quiet hours are charters, not statute). An
/// account narrows its profile (`sending_hours`), never widens it. Serialized `strict`,
/// `af2m-2024`, `af2m-2026`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum RuleProfile {
    /// 08:00–20:00, Monday–Saturday, never on a public holiday: the older operators' charters.
    /// The default.
    #[default]
    #[serde(rename = "strict")]
    Strict,
    /// af2m Business Messaging charter (2024): 08:00–22:00 on working days (Monday–Saturday,
    /// not public holidays).
    #[serde(rename = "af2m-2024")]
    Af2m2024,
    /// af2m charter (2026): 08:00–21:30, Monday–Saturday. It tolerates Sundays and public
    /// holidays without recommending them: only an account that opts in
    /// (`send_on_sundays_and_holidays`) sends on those days.
    #[serde(rename = "af2m-2026")]
    Af2m2026,
}

impl RuleProfile {
    /// Every profile, strictest first.
    pub const ALL: [RuleProfile; 3] = [
        RuleProfile::Strict,
        RuleProfile::Af2m2024,
        RuleProfile::Af2m2026,
    ];

    /// The widest daily window of the profile, local time `[start, end)`.
    pub fn window(self) -> SendingHours {
        let hm = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("valid time");
        let end = match self {
            RuleProfile::Strict => hm(20, 0),
            RuleProfile::Af2m2024 => hm(22, 0),
            RuleProfile::Af2m2026 => hm(21, 30),
        };
        SendingHours {
            start: hm(8, 0),
            end,
        }
    }

    /// Whether an account under this profile may opt in to Sundays and public holidays.
    pub fn tolerates_sundays_and_holidays(self) -> bool {
        self == RuleProfile::Af2m2026
    }

    /// Whether this is the default, [`RuleProfile::Strict`] (not written in stored settings,
    /// so that a release without profiles still reads them).
    pub fn is_strict(&self) -> bool {
        *self == RuleProfile::Strict
    }

    /// The configuration name (`strict`, `af2m-2024`, `af2m-2026`).
    pub fn as_str(self) -> &'static str {
        match self {
            RuleProfile::Strict => "strict",
            RuleProfile::Af2m2024 => "af2m-2024",
            RuleProfile::Af2m2026 => "af2m-2026",
        }
    }
}

impl Default for SendingHours {
    /// 08:00–20:00, the legal maximum for commercial SMS in France.
    fn default() -> Self {
        SendingHours {
            start: NaiveTime::from_hms_opt(8, 0, 0).expect("valid time"),
            end: NaiveTime::from_hms_opt(20, 0, 0).expect("valid time"),
        }
    }
}

impl SendingHours {
    /// Whether local wall-clock time `t` lies in `[start, end)`. A window with
    /// `start >= end` is empty: it contains no time at all.
    pub fn contains(&self, t: NaiveTime) -> bool {
        self.start <= t && t < self.end
    }
}

/// Abolition-of-slavery day: loi n° 83-550 du 30 juin 1983, dates fixed per territory by
/// décret n° 83-1003 du 23 novembre 1983 (as amended, e.g. Mayotte and Saint-Martin).
const ABOLITION: &str = "Abolition de l'esclavage";
/// Saint-Martin's abolition day as observed since 2018 (28 May); the Code du travail
/// (art. L3422-2) still names 27 May, so both are kept closed.
const ABOLITION_OBSERVED: &str = "Abolition de l'esclavage (jour observé)";
/// Victor Schœlcher day (21 July): not a public holiday in law (only the commune of Schœlcher,
/// Martinique, observes it), kept as a closed day in Guadeloupe, Martinique and Saint-Martin
/// as a conservative choice (README, "Rules").
const SCHOELCHER: &str = "Fête Victor Schœlcher";

impl HolidayZone {
    /// Every zone, in declaration order.
    pub const ALL: [HolidayZone; 11] = [
        HolidayZone::Metropole,
        HolidayZone::AlsaceMoselle,
        HolidayZone::Guadeloupe,
        HolidayZone::Martinique,
        HolidayZone::Guyane,
        HolidayZone::Reunion,
        HolidayZone::Mayotte,
        HolidayZone::SaintMartin,
        HolidayZone::SaintBarthelemy,
        HolidayZone::SaintPierreEtMiquelon,
        HolidayZone::Plus590,
    ];

    /// The holiday zone of a recipient whose number belongs to ISO region `region`
    /// (`"FR"`, `"GP"`, `"RE"`, ...). Metropolitan numbers (`FR`) take `metropolitan`
    /// (the account's `holiday_zone`, `Metropole` or `AlsaceMoselle`); overseas regions take their own.
    ///
    /// Any region other than the eight overseas ones below also takes `metropolitan`.
    pub fn for_region(region: &str, metropolitan: HolidayZone) -> HolidayZone {
        match region {
            // +590 numbers: Guadeloupe, Saint-Martin or Saint-Barthélemy, whatever region the
            // metadata names.
            "GP" | "MF" | "BL" => HolidayZone::Plus590,
            "MQ" => HolidayZone::Martinique,
            "GF" => HolidayZone::Guyane,
            "RE" => HolidayZone::Reunion,
            "YT" => HolidayZone::Mayotte,
            "PM" => HolidayZone::SaintPierreEtMiquelon,
            _ => metropolitan,
        }
    }

    /// The kebab-case name used in account settings and JSON (`"metropole"`,
    /// `"alsace-moselle"`, `"saint-pierre-et-miquelon"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            HolidayZone::Metropole => "metropole",
            HolidayZone::AlsaceMoselle => "alsace-moselle",
            HolidayZone::Guadeloupe => "guadeloupe",
            HolidayZone::Martinique => "martinique",
            HolidayZone::Guyane => "guyane",
            HolidayZone::Reunion => "reunion",
            HolidayZone::Mayotte => "mayotte",
            HolidayZone::SaintMartin => "saint-martin",
            HolidayZone::SaintBarthelemy => "saint-barthelemy",
            HolidayZone::SaintPierreEtMiquelon => "saint-pierre-et-miquelon",
            HolidayZone::Plus590 => "guadeloupe-saint-martin-saint-barthelemy",
        }
    }

    /// Inverse of [`HolidayZone::as_str`] (exact, case-sensitive); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|zone| zone.as_str() == s)
    }

    /// Public holidays of `year` in this zone, sorted, with a French name each.
    ///
    /// Sources:
    /// - every zone: the 11 days of Code du travail art. L3133-1 (1 January, Easter Monday,
    ///   1 May, 8 May, Ascension = Easter + 39, Whit Monday = Easter + 50, 14 July, 15 August,
    ///   1 November, 11 November, 25 December);
    /// - Alsace-Moselle: Good Friday and 26 December (Code du travail art. L3134-13);
    /// - overseas: the abolition-of-slavery day (loi n° 83-550 du 30 juin 1983, décret
    ///   n° 83-1003 du 23 novembre 1983 as amended): Mayotte 27 April, Martinique 22 May,
    ///   Guadeloupe 27 May, Saint-Martin 27 May (Code du travail L3422-2) and 28 May (the day
    ///   observed since 2018: both closed), Guyane 10 June, Saint-Barthélemy 9 October, Réunion
    ///   20 December; plus Victor Schœlcher day (21 July) in Guadeloupe, Martinique and
    ///   Saint-Martin, not a public holiday in law but kept closed (conservative).
    ///   Saint-Pierre-et-Miquelon has the national days only; [`HolidayZone::Plus590`] the
    ///   union of Guadeloupe, Saint-Martin and Saint-Barthélemy.
    ///
    /// Returns an empty list for a year outside chrono's date range.
    pub fn holidays(self, year: i32) -> Vec<(NaiveDate, &'static str)> {
        if self == HolidayZone::Plus590 {
            let mut union: Vec<_> = [
                HolidayZone::Guadeloupe,
                HolidayZone::SaintMartin,
                HolidayZone::SaintBarthelemy,
            ]
            .into_iter()
            .flat_map(|zone| zone.holidays(year))
            .collect();
            union.sort_by_key(|&(date, _)| date);
            union.dedup();
            return union;
        }
        let Some(easter) = checked_easter_sunday(year) else {
            return Vec::new();
        };
        let fixed = |month, day, name| NaiveDate::from_ymd_opt(year, month, day).map(|d| (d, name));
        let from_easter = |days: i64, name| {
            easter
                .checked_add_signed(TimeDelta::days(days))
                .map(|d| (d, name))
        };

        // Code du travail L3133-1: the national days.
        let mut days = vec![
            fixed(1, 1, "Jour de l'an"),
            from_easter(1, "Lundi de Pâques"),
            fixed(5, 1, "Fête du Travail"),
            fixed(5, 8, "Victoire 1945"),
            from_easter(39, "Ascension"),
            from_easter(50, "Lundi de Pentecôte"),
            fixed(7, 14, "Fête nationale"),
            fixed(8, 15, "Assomption"),
            fixed(11, 1, "Toussaint"),
            fixed(11, 11, "Armistice 1918"),
            fixed(12, 25, "Noël"),
        ];
        match self {
            HolidayZone::Metropole | HolidayZone::SaintPierreEtMiquelon => {}
            // Code du travail L3134-13.
            HolidayZone::AlsaceMoselle => {
                days.push(from_easter(-2, "Vendredi saint"));
                days.push(fixed(12, 26, "Saint-Étienne"));
            }
            // Loi 83-550 / décret 83-1003 (abolition), plus 21 July where applicable.
            HolidayZone::Guadeloupe => {
                days.push(fixed(5, 27, ABOLITION));
                days.push(fixed(7, 21, SCHOELCHER));
            }
            HolidayZone::Martinique => {
                days.push(fixed(5, 22, ABOLITION));
                days.push(fixed(7, 21, SCHOELCHER));
            }
            HolidayZone::SaintMartin => {
                days.push(fixed(5, 27, ABOLITION));
                days.push(fixed(5, 28, ABOLITION_OBSERVED));
                days.push(fixed(7, 21, SCHOELCHER));
            }
            HolidayZone::Guyane => days.push(fixed(6, 10, ABOLITION)),
            HolidayZone::Reunion => days.push(fixed(12, 20, ABOLITION)),
            HolidayZone::Mayotte => days.push(fixed(4, 27, ABOLITION)),
            HolidayZone::SaintBarthelemy => days.push(fixed(10, 9, ABOLITION)),
            HolidayZone::Plus590 => unreachable!("answered above"),
        }
        let mut days: Vec<_> = days.into_iter().flatten().collect();
        // Stable sort: when two holidays coincide (e.g. Ascension on 8 May 2024), both
        // entries are kept, national one first.
        days.sort_by_key(|&(date, _)| date);
        days
    }

    /// Whether `date` (a local calendar date) is a public holiday in this zone.
    pub fn is_holiday(self, date: NaiveDate) -> bool {
        // The last zone and year asked on this thread, kept: deciding a call asks the same
        // ones for every day it looks at (the hot path computed them each time: `make bench`).
        thread_local! {
            static LAST: std::cell::RefCell<Option<(HolidayZone, i32, Vec<NaiveDate>)>> =
                const { std::cell::RefCell::new(None) };
        }
        LAST.with_borrow_mut(|last| {
            let year = date.year();
            if !matches!(last, Some((zone, y, _)) if *zone == self && *y == year) {
                let days = self.holidays(year).into_iter().map(|(d, _)| d).collect();
                *last = Some((self, year, days));
            }
            last.as_ref()
                .is_some_and(|(_, _, days)| days.contains(&date))
        })
    }
}

/// IANA time zone of a recipient in ISO region `region`; `None` when the region is not one
/// Rappel knows (the caller then uses the account's zone).
///
/// `FR` (metropolitan France, including Corsica and Alsace-Moselle) is `Europe/Paris`; the
/// overseas regions have their own zones.
pub fn zone_for_region(region: &str) -> Option<Tz> {
    Some(match region {
        "FR" => Tz::Europe__Paris,
        "GP" => Tz::America__Guadeloupe,
        "MQ" => Tz::America__Martinique,
        "GF" => Tz::America__Cayenne,
        "RE" => Tz::Indian__Reunion,
        "YT" => Tz::Indian__Mayotte,
        "MF" => Tz::America__Marigot,
        "BL" => Tz::America__St_Barthelemy,
        "PM" => Tz::America__Miquelon,
        _ => return None,
    })
}

/// Easter Sunday (Gregorian) of `year`.
///
/// Anonymous Gregorian algorithm (Meeus/Jones/Butcher), proleptic for years before 1583.
///
/// # Panics
/// If the date is outside chrono's range (|year| > ~262 000).
pub fn easter_sunday(year: i32) -> NaiveDate {
    checked_easter_sunday(year).expect("year within chrono's date range")
}

/// [`easter_sunday`], `None` when the year is outside chrono's date range.
fn checked_easter_sunday(year: i32) -> Option<NaiveDate> {
    let y = i64::from(year);
    let a = y.rem_euclid(19);
    let b = y.div_euclid(100);
    let c = y.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let n = h + l - 7 * m + 114;
    let month = u32::try_from(n / 31).ok()?; // 3 or 4
    let day = u32::try_from(n % 31 + 1).ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

impl RecipientCalendar {
    /// Whether an SMS may be sent at instant `at` (UTC): inside `hours` local time, not a
    /// Sunday, not a public holiday of `holidays` (unless `sundays_and_holidays`).
    ///
    /// The window is wall-clock based: on a fall-back night a local time that occurs twice
    /// is judged the same way both times.
    pub fn is_allowed(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.tz).naive_local();
        self.hours.contains(local.time()) && self.is_open_day(local.date())
    }

    /// The first allowed instant at or after `from` (returns `from` itself when allowed).
    /// Handles DST gaps/overlaps (a window start that does not exist locally moves to the
    /// first existing instant after it).
    ///
    /// The search covers [`NEXT_ALLOWED_HORIZON_DAYS`] local days; if it finds nothing
    /// (only possible when `hours.start >= hours.end`), it returns `from` plus that many days,
    /// which is not an allowed instant and is later than any sensible deferral limit.
    /// Use [`RecipientCalendar::try_next_allowed`] to get `None` instead.
    pub fn next_allowed(&self, from: DateTime<Utc>) -> DateTime<Utc> {
        self.try_next_allowed(from)
            .unwrap_or_else(|| from + TimeDelta::days(NEXT_ALLOWED_HORIZON_DAYS as i64))
    }

    /// [`RecipientCalendar::next_allowed`], or `None` when no instant is allowed within
    /// [`NEXT_ALLOWED_HORIZON_DAYS`] local days of `from`.
    pub fn try_next_allowed(&self, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.is_allowed(from) {
            return Some(from);
        }
        // The allowed instants form half-open UTC intervals; since `from` is not allowed, the
        // answer is the left end of the next interval. Allowedness can only switch on where
        // the local clock reaches `hours.start` (one instant, two on a fall-back overlap) or
        // where it jumps (a DST transition). Collect those candidates day by day, from the
        // day before `from`'s local date (a transition may move the clock back a day).
        let first_day = self.local_date(from).pred_opt()?;
        for offset in 0..=NEXT_ALLOWED_HORIZON_DAYS + 1 {
            let day = first_day.checked_add_days(Days::new(offset))?;
            if !self.is_open_day(day) {
                continue;
            }
            let mut candidates = local_instants(self.tz, day.and_time(self.hours.start));
            candidates.extend(transition_during(self.tz, day));
            if let Some(found) = candidates
                .into_iter()
                .filter(|&c| c > from && self.is_allowed(c))
                .min()
            {
                return Some(found);
            }
        }
        None
    }

    /// The recipient's local calendar date at instant `at`.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.tz).date_naive()
    }

    /// Whether local date `day` may carry SMS at all: not a Sunday, not a holiday (any day
    /// when `sundays_and_holidays`).
    fn is_open_day(&self, day: NaiveDate) -> bool {
        self.sundays_and_holidays
            || (day.weekday() != Weekday::Sun && !self.holidays.is_holiday(day))
    }
}

/// The UTC instants at which the clock of `tz` shows `local`: one normally, two on a
/// fall-back overlap (earliest first), and, when `local` falls in a spring-forward gap,
/// the first existing instant after it (the transition itself).
fn local_instants(tz: Tz, local: NaiveDateTime) -> Vec<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => vec![t.to_utc()],
        LocalResult::Ambiguous(a, b) => vec![a.to_utc(), b.to_utc()],
        LocalResult::None => {
            // UTC offsets lie within ±14 h, so a ±26 h bracket around `local` read as UTC
            // contains the gap's transition (and no other: transitions are months apart).
            let around = local.and_utc();
            first_offset_change(
                tz,
                around - TimeDelta::hours(26),
                around + TimeDelta::hours(26),
            )
            .into_iter()
            .collect()
        }
    }
}

/// The first instant at or after `local` on the clock of `tz` (earliest of an overlap, the
/// end of a gap); `None` only outside chrono's range.
fn first_instant_at_or_after(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    local_instants(tz, local).into_iter().min()
}

/// The DST/offset transition whose instant has local date `day` (or falls at its start), if any.
fn transition_during(tz: Tz, day: NaiveDate) -> Option<DateTime<Utc>> {
    let start = first_instant_at_or_after(tz, day.and_time(NaiveTime::MIN))?;
    let next = first_instant_at_or_after(tz, day.succ_opt()?.and_time(NaiveTime::MIN))?;
    first_offset_change(tz, start - TimeDelta::seconds(1), next)
}

/// The first instant in `(lo, hi]` whose UTC offset in `tz` differs from the offset at `lo`,
/// to the second (transitions are on whole seconds); `None` if the offset at `hi` is the same.
fn first_offset_change(tz: Tz, lo: DateTime<Utc>, hi: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let offset_at = |t: i64| {
        DateTime::from_timestamp(t, 0).map(|u| tz.offset_from_utc_datetime(&u.naive_utc()).fix())
    };
    let (mut lo, mut hi) = (lo.timestamp(), hi.timestamp());
    let before = offset_at(lo)?;
    if offset_at(hi)? == before {
        return None;
    }
    // Invariant: offset(lo) == before, offset(hi) != before.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if offset_at(mid)? == before {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    DateTime::from_timestamp(hi, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    /// An unambiguous local time in `tz`, as UTC.
    fn local(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        tz.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .unwrap()
            .to_utc()
    }

    fn paris(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        local(Tz::Europe__Paris, y, mo, d, h, mi, s)
    }

    fn cal(tz: Tz, holidays: HolidayZone) -> RecipientCalendar {
        RecipientCalendar {
            tz,
            holidays,
            hours: SendingHours::default(),
            sundays_and_holidays: false,
        }
    }

    fn metropole() -> RecipientCalendar {
        cal(Tz::Europe__Paris, HolidayZone::Metropole)
    }

    fn alsace() -> RecipientCalendar {
        cal(Tz::Europe__Paris, HolidayZone::AlsaceMoselle)
    }

    fn dates(zone: HolidayZone, year: i32) -> Vec<NaiveDate> {
        zone.holidays(year).into_iter().map(|(d, _)| d).collect()
    }

    // ---- holidays -------------------------------------------------------------------

    #[test]
    fn default_sending_hours_are_8_to_20() {
        let h = SendingHours::default();
        assert_eq!((h.start, h.end), (hm(8, 0), hm(20, 0)));
    }

    #[test]
    fn easter_sunday_known_years() {
        for (year, m, d) in [
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2038, 4, 25),
            (2000, 4, 23),
            (2019, 4, 21),
            (1818, 3, 22), // earliest possible date
            (1943, 4, 25), // latest possible date
            (2285, 3, 22),
        ] {
            assert_eq!(easter_sunday(year), date(year, m, d), "{year}");
        }
    }

    #[test]
    fn national_holidays_2027() {
        let expected = [
            (date(2027, 1, 1), "Jour de l'an"),
            (date(2027, 3, 29), "Lundi de Pâques"),
            (date(2027, 5, 1), "Fête du Travail"),
            (date(2027, 5, 6), "Ascension"),
            (date(2027, 5, 8), "Victoire 1945"),
            (date(2027, 5, 17), "Lundi de Pentecôte"),
            (date(2027, 7, 14), "Fête nationale"),
            (date(2027, 8, 15), "Assomption"),
            (date(2027, 11, 1), "Toussaint"),
            (date(2027, 11, 11), "Armistice 1918"),
            (date(2027, 12, 25), "Noël"),
        ];
        assert_eq!(HolidayZone::Metropole.holidays(2027), expected);
        assert_eq!(HolidayZone::SaintPierreEtMiquelon.holidays(2027), expected);
    }

    #[test]
    fn easter_based_holidays_2026() {
        let days = dates(HolidayZone::Metropole, 2026);
        assert!(days.contains(&date(2026, 4, 6))); // Easter Monday
        assert!(days.contains(&date(2026, 5, 14))); // Ascension
        assert!(days.contains(&date(2026, 5, 25))); // Whit Monday
        assert!(!days.contains(&date(2026, 4, 3))); // Good Friday: not national
    }

    #[test]
    fn coinciding_holidays_are_both_listed_and_sorted() {
        // 2024: Ascension is 9 May, the day after 8 May; 2008: Ascension on 1 May.
        let h = HolidayZone::Metropole.holidays(2008);
        assert_eq!(h.len(), 11);
        assert!(h.windows(2).all(|w| w[0].0 <= w[1].0));
        assert_eq!(h[1], (date(2008, 3, 24), "Lundi de Pâques"));
        assert_eq!(h[2], (date(2008, 5, 1), "Fête du Travail"));
        assert_eq!(h[3], (date(2008, 5, 1), "Ascension"));
    }

    #[test]
    fn alsace_moselle_adds_good_friday_and_26_december() {
        let national = dates(HolidayZone::Metropole, 2027);
        let alsace = dates(HolidayZone::AlsaceMoselle, 2027);
        assert_eq!(alsace.len(), 13);
        assert!(alsace.contains(&date(2027, 3, 26)));
        assert!(alsace.contains(&date(2027, 12, 26)));
        assert!(national.iter().all(|d| alsace.contains(d)));
        assert!(HolidayZone::AlsaceMoselle.is_holiday(date(2026, 4, 3)));
        assert!(!HolidayZone::Metropole.is_holiday(date(2026, 4, 3)));
        assert!(!HolidayZone::Metropole.is_holiday(date(2026, 12, 26)));
    }

    #[test]
    fn overseas_local_days() {
        use HolidayZone::*;
        let cases: [(HolidayZone, &[(u32, u32)]); 7] = [
            (Mayotte, &[(4, 27)]),
            (Martinique, &[(5, 22), (7, 21)]),
            (Guadeloupe, &[(5, 27), (7, 21)]),
            (SaintMartin, &[(5, 27), (5, 28), (7, 21)]),
            (Guyane, &[(6, 10)]),
            (SaintBarthelemy, &[(10, 9)]),
            (Reunion, &[(12, 20)]),
        ];
        let national = dates(Metropole, 2027);
        for (zone, extra) in cases {
            let mut expected = national.clone();
            expected.extend(extra.iter().map(|&(m, d)| date(2027, m, d)));
            expected.sort();
            assert_eq!(dates(zone, 2027), expected, "{zone:?}");
        }
        assert!(Reunion.is_holiday(date(2027, 12, 20)));
        assert!(!Metropole.is_holiday(date(2027, 12, 20)));
        assert!(!Guyane.is_holiday(date(2027, 7, 21)));
        let names: Vec<_> = Guadeloupe
            .holidays(2027)
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        assert!(names.contains(&"Abolition de l'esclavage"));
        assert!(names.contains(&"Fête Victor Schœlcher"));
        // +590: the union of Guadeloupe, Saint-Martin and Saint-Barthélemy, each day once.
        let mut expected = national.clone();
        expected.extend([(5, 27), (5, 28), (7, 21), (10, 9)].map(|(m, d)| date(2027, m, d)));
        expected.sort();
        assert_eq!(dates(Plus590, 2027), expected);
    }

    #[test]
    fn regions_map_to_zones_and_time_zones() {
        use HolidayZone::*;
        for (region, zone, tz) in [
            ("GP", Plus590, Tz::America__Guadeloupe),
            ("MQ", Martinique, Tz::America__Martinique),
            ("GF", Guyane, Tz::America__Cayenne),
            ("RE", Reunion, Tz::Indian__Reunion),
            ("YT", Mayotte, Tz::Indian__Mayotte),
            ("MF", Plus590, Tz::America__Marigot),
            ("BL", Plus590, Tz::America__St_Barthelemy),
            ("PM", SaintPierreEtMiquelon, Tz::America__Miquelon),
        ] {
            assert_eq!(HolidayZone::for_region(region, AlsaceMoselle), zone);
            assert_eq!(zone_for_region(region), Some(tz));
        }
        assert_eq!(HolidayZone::for_region("FR", AlsaceMoselle), AlsaceMoselle);
        assert_eq!(HolidayZone::for_region("FR", Metropole), Metropole);
        assert_eq!(HolidayZone::for_region("BE", Metropole), Metropole);
        assert_eq!(zone_for_region("FR"), Some(Tz::Europe__Paris));
        assert_eq!(zone_for_region("BE"), None);
        assert_eq!(zone_for_region("fr"), None);
    }

    #[test]
    fn zone_names_round_trip_and_match_serde() {
        for zone in HolidayZone::ALL {
            assert_eq!(HolidayZone::parse(zone.as_str()), Some(zone));
            let json = serde_json::to_string(&zone).unwrap();
            assert_eq!(json, format!("\"{}\"", zone.as_str()));
            assert_eq!(serde_json::from_str::<HolidayZone>(&json).unwrap(), zone);
        }
        assert_eq!(
            HolidayZone::parse("alsace-moselle"),
            Some(HolidayZone::AlsaceMoselle)
        );
        assert_eq!(HolidayZone::parse("Metropole"), None);
        assert_eq!(HolidayZone::parse(""), None);
    }

    // ---- is_allowed -----------------------------------------------------------------

    #[test]
    fn window_edges_in_winter() {
        let c = metropole();
        // Thursday 15 January 2026, Paris is UTC+1.
        assert!(!c.is_allowed(utc(2026, 1, 15, 6, 59, 59))); // 07:59:59
        assert!(c.is_allowed(utc(2026, 1, 15, 7, 0, 0))); // 08:00
        assert!(c.is_allowed(utc(2026, 1, 15, 18, 59, 59))); // 19:59:59
        assert!(!c.is_allowed(utc(2026, 1, 15, 19, 0, 0))); // 20:00
    }

    #[test]
    fn window_edges_in_summer() {
        let c = metropole();
        // Thursday 16 July 2026, Paris is UTC+2.
        assert!(!c.is_allowed(utc(2026, 7, 16, 5, 59, 0))); // 07:59
        assert!(c.is_allowed(utc(2026, 7, 16, 6, 0, 0))); // 08:00
        assert!(c.is_allowed(utc(2026, 7, 16, 17, 59, 59))); // 19:59:59
        assert!(!c.is_allowed(utc(2026, 7, 16, 18, 0, 0))); // 20:00
    }

    #[test]
    fn sundays_and_holidays_are_closed() {
        let c = metropole();
        assert!(!c.is_allowed(paris(2026, 1, 18, 12, 0, 0))); // Sunday
        assert!(!c.is_allowed(paris(2027, 3, 29, 10, 0, 0))); // Easter Monday
        assert!(!c.is_allowed(paris(2027, 5, 6, 10, 0, 0))); // Ascension
        assert!(!c.is_allowed(paris(2027, 5, 17, 10, 0, 0))); // Whit Monday
        assert!(c.is_allowed(paris(2027, 5, 18, 10, 0, 0)));
    }

    #[test]
    fn good_friday_only_in_alsace_moselle() {
        let at = paris(2027, 3, 26, 10, 0, 0);
        assert!(metropole().is_allowed(at));
        assert!(!alsace().is_allowed(at));
        // Alsace: Saturday 27 March 08:00 (CET, UTC+1).
        assert_eq!(alsace().next_allowed(at), utc(2027, 3, 27, 7, 0, 0));
    }

    // ---- next_allowed ---------------------------------------------------------------

    #[test]
    fn allowed_instant_is_returned_unchanged() {
        // Saturday 17 January 2026 19:00 Paris.
        let at = paris(2026, 1, 17, 19, 0, 0);
        assert!(metropole().is_allowed(at));
        assert_eq!(metropole().next_allowed(at), at);
        let at = utc(2026, 1, 17, 18, 59, 59) + TimeDelta::milliseconds(999);
        assert_eq!(metropole().next_allowed(at), at);
    }

    #[test]
    fn saturday_evening_goes_to_monday_morning() {
        let at = paris(2026, 1, 17, 20, 30, 0);
        assert_eq!(metropole().next_allowed(at), utc(2026, 1, 19, 7, 0, 0));
        let at = paris(2026, 1, 17, 20, 0, 0);
        assert_eq!(metropole().next_allowed(at), utc(2026, 1, 19, 7, 0, 0));
    }

    #[test]
    fn sunday_goes_to_monday_morning() {
        let at = paris(2026, 1, 18, 12, 0, 0);
        assert_eq!(metropole().next_allowed(at), utc(2026, 1, 19, 7, 0, 0));
    }

    #[test]
    fn early_morning_goes_to_same_day_start() {
        let at = paris(2026, 7, 16, 3, 12, 7);
        assert_eq!(metropole().next_allowed(at), utc(2026, 7, 16, 6, 0, 0));
        let at = utc(2026, 7, 16, 5, 59, 59);
        assert_eq!(metropole().next_allowed(at), utc(2026, 7, 16, 6, 0, 0));
    }

    #[test]
    fn spring_forward_weekend_2027() {
        let c = metropole();
        // Saturday 27 March 2027 07:00 CET → 08:00 CET.
        let at = paris(2027, 3, 27, 7, 0, 0);
        assert_eq!(c.next_allowed(at), utc(2027, 3, 27, 7, 0, 0));
        // Saturday 21:00 CET → Sunday 28 (DST starts, also Easter) and Monday 29 (Easter
        // Monday) are closed → Tuesday 30 March 08:00 CEST = 06:00 UTC.
        let at = paris(2027, 3, 27, 21, 0, 0);
        assert_eq!(c.next_allowed(at), utc(2027, 3, 30, 6, 0, 0));
        // During the skipped hour itself (02:00–03:00 does not exist: 01:00–02:00 UTC).
        assert_eq!(
            c.next_allowed(utc(2027, 3, 28, 1, 30, 0)),
            utc(2027, 3, 30, 6, 0, 0)
        );
    }

    #[test]
    fn fall_back_weekend_2026() {
        let c = metropole();
        // Saturday 24 October 2026 07:00 CEST → 08:00 CEST = 06:00 UTC.
        let at = paris(2026, 10, 24, 7, 0, 0);
        assert_eq!(c.next_allowed(at), utc(2026, 10, 24, 6, 0, 0));
        // Saturday 20:30 CEST → Monday 26 October 08:00 CET = 07:00 UTC.
        let at = paris(2026, 10, 24, 20, 30, 0);
        assert_eq!(c.next_allowed(at), utc(2026, 10, 26, 7, 0, 0));
        // From inside the repeated hour (02:30 CET, second pass).
        assert_eq!(
            c.next_allowed(utc(2026, 10, 25, 1, 30, 0)),
            utc(2026, 10, 26, 7, 0, 0)
        );
    }

    #[test]
    fn christmas_eve_2026() {
        // Thursday 24 December 2026 21:00 Paris; 25 (Fri) is Christmas, 27 is a Sunday.
        let at = paris(2026, 12, 24, 21, 0, 0);
        assert_eq!(metropole().next_allowed(at), utc(2026, 12, 26, 7, 0, 0));
        // 26 December is a holiday in Alsace-Moselle → Monday 28.
        assert_eq!(alsace().next_allowed(at), utc(2026, 12, 28, 7, 0, 0));
    }

    #[test]
    fn easter_monday_ascension_and_whit_monday_2027() {
        let c = metropole();
        // Easter Monday 29 March 10:00 → Tuesday 30 08:00 CEST.
        assert_eq!(
            c.next_allowed(paris(2027, 3, 29, 10, 0, 0)),
            utc(2027, 3, 30, 6, 0, 0)
        );
        // Ascension Thursday 6 May → Friday 7 May 08:00 CEST.
        assert_eq!(
            c.next_allowed(paris(2027, 5, 6, 10, 0, 0)),
            utc(2027, 5, 7, 6, 0, 0)
        );
        // Saturday 15 May 20:30 → Sunday, Whit Monday 17 → Tuesday 18 May 08:00 CEST.
        assert_eq!(
            c.next_allowed(paris(2027, 5, 15, 20, 30, 0)),
            utc(2027, 5, 18, 6, 0, 0)
        );
    }

    #[test]
    fn reunion_uses_its_own_zone_and_holidays() {
        let c = cal(
            zone_for_region("RE").unwrap(),
            HolidayZone::for_region("RE", HolidayZone::Metropole),
        );
        // Monday 20 December 2027 14:00 Réunion (UTC+4): abolition day.
        let at = local(Tz::Indian__Reunion, 2027, 12, 20, 14, 0, 0);
        assert!(!c.is_allowed(at));
        assert!(metropole().is_allowed(at)); // 11:00 in Paris, not a holiday there
        assert_eq!(c.next_allowed(at), utc(2027, 12, 21, 4, 0, 0));
        // Friday 17 December 19:00 Paris = 22:00 Réunion → Saturday 08:00 Réunion.
        let at = paris(2027, 12, 17, 19, 0, 0);
        assert!(metropole().is_allowed(at));
        assert!(!c.is_allowed(at));
        assert_eq!(c.next_allowed(at), utc(2027, 12, 18, 4, 0, 0));
        // Saturday 18 December 19:00 Paris → Sunday, then 20 Dec holiday → Tuesday 21.
        let at = paris(2027, 12, 18, 19, 0, 0);
        assert_eq!(c.next_allowed(at), utc(2027, 12, 21, 4, 0, 0));
    }

    #[test]
    fn guadeloupe_27_may_and_21_july() {
        let c = cal(Tz::America__Guadeloupe, HolidayZone::Guadeloupe);
        // Thursday 27 May 2027 12:00 Guadeloupe (UTC−4) → Friday 28 May 08:00 = 12:00 UTC.
        let at = local(Tz::America__Guadeloupe, 2027, 5, 27, 12, 0, 0);
        assert!(!c.is_allowed(at));
        assert_eq!(c.next_allowed(at), utc(2027, 5, 28, 12, 0, 0));
        // A +590 number (Guadeloupe, Saint-Martin or Saint-Barthélemy): 28 May is Saint-Martin's
        // observed day too → Saturday 29 May 08:00.
        let plus590 = cal(Tz::America__Guadeloupe, HolidayZone::Plus590);
        assert_eq!(plus590.next_allowed(at), utc(2027, 5, 29, 12, 0, 0));
        assert!(!plus590.is_allowed(local(Tz::America__Guadeloupe, 2027, 10, 9, 12, 0, 0)));
        // Wednesday 21 July 2027 → Thursday 22 July 08:00.
        let at = local(Tz::America__Guadeloupe, 2027, 7, 21, 12, 0, 0);
        assert!(!c.is_allowed(at));
        assert_eq!(c.next_allowed(at), utc(2027, 7, 22, 12, 0, 0));
        // Not holidays in Guyane.
        let guyane = cal(Tz::America__Cayenne, HolidayZone::Guyane);
        assert!(guyane.is_allowed(local(Tz::America__Cayenne, 2027, 7, 21, 12, 0, 0)));
    }

    #[test]
    fn local_instants_in_gap_and_overlap() {
        let tz = Tz::Europe__Paris;
        // 28 March 2027 02:30 does not exist: first existing instant is 03:00 CEST.
        let gap = date(2027, 3, 28).and_time(hm(2, 30));
        assert_eq!(local_instants(tz, gap), [utc(2027, 3, 28, 1, 0, 0)]);
        // 25 October 2026 02:30 happens twice.
        let overlap = date(2026, 10, 25).and_time(hm(2, 30));
        assert_eq!(
            local_instants(tz, overlap),
            [utc(2026, 10, 25, 0, 30, 0), utc(2026, 10, 25, 1, 30, 0)]
        );
        assert_eq!(
            first_instant_at_or_after(tz, overlap),
            Some(utc(2026, 10, 25, 0, 30, 0))
        );
    }

    #[test]
    fn window_start_in_a_dst_gap_moves_to_the_gap_end() {
        // Iran switched clocks at midnight on weekdays (tzdb): Monday 22 March 2021
        // 00:00 → 01:00 (+03:30 → +04:30).
        let tz = Tz::Asia__Tehran;
        assert!(
            tz.from_local_datetime(&date(2021, 3, 22).and_time(hm(0, 30)))
                .single()
                .is_none()
        );
        let c = RecipientCalendar {
            tz,
            holidays: HolidayZone::Metropole,
            sundays_and_holidays: false,
            hours: SendingHours {
                start: hm(0, 30),
                end: hm(20, 0),
            },
        };
        // Sunday 21 March 22:00 local (18:30 UTC): next start would be 00:30, which does not
        // exist → 01:00 +04:30 = 20:30 UTC on the 21st.
        let from = utc(2021, 3, 21, 18, 30, 0);
        assert!(!c.is_allowed(from));
        assert_eq!(c.next_allowed(from), utc(2021, 3, 21, 20, 30, 0));
        assert!(c.is_allowed(utc(2021, 3, 21, 20, 30, 0)));
        assert!(!c.is_allowed(utc(2021, 3, 21, 20, 29, 59)));
    }

    #[test]
    fn clock_going_back_into_the_window_reopens_it() {
        // Tuesday 21 September 2021, Tehran: 24:00 (+04:30) → 23:00 (+03:30), i.e. at
        // 19:30 UTC; local 23:00–24:00 happens twice.
        let tz = Tz::Asia__Tehran;
        let until = |start, end| RecipientCalendar {
            tz,
            holidays: HolidayZone::Metropole,
            hours: SendingHours { start, end },
            sundays_and_holidays: false,
        };
        // Window ends at 23:30: closed from 23:30 (+04:30) = 19:00 UTC, open again at the
        // transition (23:00 +03:30 = 19:30 UTC).
        let c = until(hm(8, 0), hm(23, 30));
        assert!(!c.is_allowed(utc(2021, 9, 21, 19, 10, 0)));
        assert_eq!(
            c.next_allowed(utc(2021, 9, 21, 19, 10, 0)),
            utc(2021, 9, 21, 19, 30, 0)
        );
        // Window starts at 23:15: its second occurrence is 23:15 +03:30 = 19:45 UTC.
        let c = until(hm(23, 15), hm(23, 45));
        assert!(c.is_allowed(utc(2021, 9, 21, 18, 45, 0)));
        assert_eq!(
            c.next_allowed(utc(2021, 9, 21, 19, 20, 0)),
            utc(2021, 9, 21, 19, 45, 0)
        );
    }

    #[test]
    fn empty_window_finds_nothing_but_terminates() {
        let c = RecipientCalendar {
            hours: SendingHours {
                start: hm(20, 0),
                end: hm(8, 0),
            },
            ..metropole()
        };
        let from = paris(2026, 1, 15, 10, 0, 0);
        assert!(!c.is_allowed(from));
        assert_eq!(c.try_next_allowed(from), None);
        assert_eq!(c.next_allowed(from), from + TimeDelta::days(30));
    }

    fn any_calendar() -> impl Strategy<Value = RecipientCalendar> {
        let zones = [
            (Tz::Europe__Paris, HolidayZone::Metropole),
            (Tz::Europe__Paris, HolidayZone::AlsaceMoselle),
            (Tz::America__Guadeloupe, HolidayZone::Guadeloupe),
            (Tz::America__Cayenne, HolidayZone::Guyane),
            (Tz::Indian__Reunion, HolidayZone::Reunion),
            (Tz::Indian__Mayotte, HolidayZone::Mayotte),
            (Tz::America__Miquelon, HolidayZone::SaintPierreEtMiquelon),
        ];
        let hours = prop_oneof![
            Just(SendingHours::default()),
            Just(SendingHours {
                start: hm(9, 30),
                end: hm(18, 0)
            }),
            // Touches the DST transitions of Paris and Miquelon.
            Just(SendingHours {
                start: hm(2, 30),
                end: hm(3, 30)
            }),
        ];
        (proptest::sample::select(zones.to_vec()), hours).prop_map(|((tz, holidays), hours)| {
            RecipientCalendar {
                tz,
                holidays,
                hours,
                sundays_and_holidays: false,
            }
        })
    }

    proptest! {
        #[test]
        fn next_allowed_is_the_first_allowed_instant(
            c in any_calendar(),
            // 2024-01-01 .. 2040-01-01, to the second.
            secs in 1_704_067_200i64..2_208_988_800,
        ) {
            let from = DateTime::from_timestamp(secs, 0).unwrap();
            let next = c.next_allowed(from);
            prop_assert!(next >= from);
            prop_assert!(c.is_allowed(next), "{next} not allowed");
            prop_assert!(next - from < TimeDelta::days(5), "{from} → {next}");
            // No allowed instant in between: every minute, and the last second before.
            let mut t = from;
            while t < next {
                prop_assert!(!c.is_allowed(t), "{t} allowed, before {next}");
                t += TimeDelta::minutes(1);
            }
            prop_assert!(next == from || !c.is_allowed(next - TimeDelta::seconds(1)));
        }
    }
}
