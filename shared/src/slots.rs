//! Callback slots offered on the booking page, from the account's `callback_hours`
//! (rule 8, docs/architecture.md).
//!
//! Slots are computed in the account's local time zone (`chrono-tz`) and returned as UTC
//! instants with a French label in local time.

use crate::calendar::HolidayZone;
use chrono::{
    DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// How many local days ahead (today included) [`is_offered`] accepts a slot.
pub const OFFER_DAYS: u32 = 14;

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
    /// Callbacks the business can make in one slot (default 1, at most 100): a full slot is not
    /// offered, and a form that chose it cannot book it.
    #[serde(default = "default_slot_capacity")]
    pub slot_capacity: u32,
}

fn default_slot_minutes() -> u32 {
    30
}
fn default_slot_capacity() -> u32 {
    1
}

impl Default for CallbackHours {
    fn default() -> Self {
        let weekdays = vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ];
        let hm = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("valid time");
        CallbackHours {
            ranges: vec![
                CallbackRange {
                    days: weekdays.clone(),
                    start: hm(10, 0),
                    end: hm(13, 0),
                },
                CallbackRange {
                    days: weekdays,
                    start: hm(14, 0),
                    end: hm(20, 0),
                },
            ],
            slot_minutes: default_slot_minutes(),
            slot_capacity: default_slot_capacity(),
        }
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
///
/// - `now`: current instant (UTC); `lead_minutes`: minimum notice, minutes; a slot is kept
///   when its start is `>= now + lead_minutes`.
/// - `days`: number of local calendar days examined, starting with `now`'s local date
///   (`1` = today only).
/// - Each range is cut into consecutive `slot_minutes`-long slots from its start; a slot is
///   kept only when it ends within the range (wall-clock). Ranges with `start >= end` and
///   `slot_minutes == 0` yield nothing.
/// - DST: a slot whose local start does not exist (spring-forward gap) is dropped; one that
///   occurs twice (fall-back overlap) is offered once, at its first occurrence.
///
/// Returns slots sorted by start, without duplicates (overlapping ranges), labelled like
/// `"lundi 30 novembre, 10:00"` (`"1er"` for the first of the month).
pub fn upcoming_slots(
    hours: &CallbackHours,
    tz: Tz,
    holidays: HolidayZone,
    now: DateTime<Utc>,
    lead_minutes: i64,
    days: u32,
    max: usize,
) -> Vec<Slot> {
    let earliest = now + TimeDelta::minutes(lead_minutes);
    let today = now.with_timezone(&tz).date_naive();
    let mut slots = Vec::new();
    for offset in 0..days {
        if slots.len() >= max {
            // Later days only hold later slots.
            break;
        }
        let Some(day) = today.checked_add_days(Days::new(offset.into())) else {
            break;
        };
        if holidays.is_holiday(day) {
            continue;
        }
        let mut day_slots: Vec<Slot> = slot_starts(hours, day)
            .filter_map(|local| {
                let start = slot_instant(tz, local)?;
                (start >= earliest).then(|| Slot {
                    start,
                    label: french_label(local),
                })
            })
            .collect();
        day_slots.sort_by_key(|slot| slot.start);
        day_slots.dedup_by_key(|slot| slot.start);
        slots.extend(day_slots);
    }
    slots.truncate(max);
    slots
}

/// Whether `start` is the start of a slot `upcoming_slots` would offer at `now` (used to
/// validate a posted slot).
///
/// Precisely: whether `upcoming_slots(hours, tz, holidays, now, 0, OFFER_DAYS, usize::MAX)`
/// contains a slot starting at `start`, computed directly from `start`'s local time.
pub fn is_offered(
    hours: &CallbackHours,
    tz: Tz,
    holidays: HolidayZone,
    now: DateTime<Utc>,
    start: DateTime<Utc>,
) -> bool {
    if start < now {
        return false;
    }
    let local = start.with_timezone(&tz).naive_local();
    let day = local.date();
    let today = now.with_timezone(&tz).date_naive();
    let within_days = (0..i64::from(OFFER_DAYS)).contains(&(day - today).num_days());
    if !within_days || holidays.is_holiday(day) {
        return false;
    }
    let slot = slot_length(hours);
    let on_grid = |range: &CallbackRange| {
        let Some(slot) = slot else { return false };
        let range_start = day.and_time(range.start);
        let since_start = local - range_start;
        // Nanosecond precision: a slot start is an exact multiple of the slot length.
        let (Some(since), Some(step)) = (since_start.num_nanoseconds(), slot.num_nanoseconds())
        else {
            return false;
        };
        since >= 0 && since % step == 0 && local + slot <= day.and_time(range.end)
    };
    hours
        .ranges
        .iter()
        .any(|range| range.days.contains(&day.weekday()) && on_grid(range))
        // The first occurrence only, as `upcoming_slots` offers it.
        && slot_instant(tz, local) == Some(start)
}

/// The slot length, `None` when `slot_minutes` is 0.
fn slot_length(hours: &CallbackHours) -> Option<TimeDelta> {
    (hours.slot_minutes > 0).then(|| TimeDelta::minutes(hours.slot_minutes.into()))
}

/// Local start times of every slot on `day` (unsorted; may repeat when ranges overlap).
/// A range never crosses midnight: one ending at or before its start is empty.
fn slot_starts(hours: &CallbackHours, day: NaiveDate) -> impl Iterator<Item = NaiveDateTime> + '_ {
    let slot = slot_length(hours);
    hours
        .ranges
        .iter()
        .filter(move |range| range.days.contains(&day.weekday()))
        .flat_map(move |range| {
            let end = day.and_time(range.end);
            let first = slot.map(|_| day.and_time(range.start));
            std::iter::successors(first, move |&s| s.checked_add_signed(slot?)).take_while(
                move |&s| {
                    slot.and_then(|slot| s.checked_add_signed(slot))
                        .is_some_and(|slot_end| slot_end <= end)
                },
            )
        })
}

/// The UTC instant of a slot starting at local time `local`: `None` in a DST gap, the
/// first occurrence in an overlap.
fn slot_instant(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.to_utc())
}

const JOURS: [&str; 7] = [
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
];
const MOIS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// French label of a local slot start: `"lundi 30 novembre, 10:00"`, `"mardi 1er décembre, 14:30"`.
pub fn french_label(local: NaiveDateTime) -> String {
    let weekday = JOURS[local.weekday().num_days_from_monday() as usize];
    let month = MOIS[local.month0() as usize];
    let day = match local.day() {
        1 => "1er".to_owned(),
        d => d.to_string(),
    };
    format!("{weekday} {day} {month}, {}", local.format("%H:%M"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PARIS: Tz = Tz::Europe__Paris;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn paris(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        PARIS
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap()
            .to_utc()
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn labels(slots: &[Slot]) -> Vec<&str> {
        slots.iter().map(|s| s.label.as_str()).collect()
    }

    /// Friday 22 May 2026 15:10 Paris (UTC+2); Monday 25 May is Whit Monday.
    fn friday() -> DateTime<Utc> {
        paris(2026, 5, 22, 15, 10)
    }

    #[test]
    fn default_hours() {
        let h = CallbackHours::default();
        assert_eq!(h.slot_minutes, 30);
        assert_eq!(h.ranges.len(), 2);
        let weekdays = [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ];
        assert_eq!(h.ranges[0].days, weekdays);
        assert_eq!((h.ranges[0].start, h.ranges[0].end), (hm(10, 0), hm(13, 0)));
        assert_eq!(h.ranges[1].days, weekdays);
        assert_eq!((h.ranges[1].start, h.ranges[1].end), (hm(14, 0), hm(20, 0)));
        // `slot_minutes` defaults when absent from JSON.
        let json = r#"{"ranges":[{"days":["Mon"],"start":"09:00:00","end":"10:00:00"}]}"#;
        let parsed: CallbackHours = serde_json::from_str(json).unwrap();
        assert_eq!(parsed.slot_minutes, 30);
    }

    #[test]
    fn friday_afternoon_skips_weekend_and_whit_monday() {
        let slots = upcoming_slots(
            &CallbackHours::default(),
            PARIS,
            HolidayZone::Metropole,
            friday(),
            60,
            7,
            10,
        );
        assert_eq!(
            labels(&slots),
            [
                "vendredi 22 mai, 16:30",
                "vendredi 22 mai, 17:00",
                "vendredi 22 mai, 17:30",
                "vendredi 22 mai, 18:00",
                "vendredi 22 mai, 18:30",
                "vendredi 22 mai, 19:00",
                "vendredi 22 mai, 19:30",
                "mardi 26 mai, 10:00",
                "mardi 26 mai, 10:30",
                "mardi 26 mai, 11:00",
            ]
        );
        assert_eq!(slots[0].start, utc(2026, 5, 22, 14, 30));
        assert_eq!(slots[6].start, utc(2026, 5, 22, 17, 30));
        assert_eq!(slots[7].start, utc(2026, 5, 26, 8, 0));
        assert!(slots.windows(2).all(|w| w[0].start < w[1].start));
    }

    #[test]
    fn lead_time_is_inclusive() {
        let h = CallbackHours::default();
        // 16:00 + 30 min lead: the 16:30 slot is still offered.
        let now = paris(2026, 5, 22, 16, 0);
        let slots = upcoming_slots(&h, PARIS, HolidayZone::Metropole, now, 30, 1, 100);
        assert_eq!(slots[0].label, "vendredi 22 mai, 16:30");
        assert_eq!(slots.len(), 7);
        // One more minute and it is gone.
        let slots = upcoming_slots(&h, PARIS, HolidayZone::Metropole, now, 31, 1, 100);
        assert_eq!(slots[0].label, "vendredi 22 mai, 17:00");
        // No lead: a slot starting right now is offered.
        let slots = upcoming_slots(&h, PARIS, HolidayZone::Metropole, now, 0, 1, 100);
        assert_eq!(slots[0].label, "vendredi 22 mai, 16:00");
    }

    #[test]
    fn days_counts_local_days_from_today() {
        let h = CallbackHours::default();
        // Friday to Monday (a holiday): only Friday's 7 slots.
        let slots = upcoming_slots(&h, PARIS, HolidayZone::Metropole, friday(), 60, 4, 100);
        assert_eq!(slots.len(), 7);
        // Adding Tuesday: its full day, 6 morning + 12 afternoon slots, lunch skipped.
        let slots = upcoming_slots(&h, PARIS, HolidayZone::Metropole, friday(), 60, 5, 100);
        assert_eq!(slots.len(), 7 + 18);
        let tuesday = labels(&slots[7..]);
        assert_eq!(tuesday[5], "mardi 26 mai, 12:30");
        assert_eq!(tuesday[6], "mardi 26 mai, 14:00");
        assert_eq!(tuesday[17], "mardi 26 mai, 19:30");
        assert!(upcoming_slots(&h, PARIS, HolidayZone::Metropole, friday(), 60, 0, 100).is_empty());
        assert!(upcoming_slots(&h, PARIS, HolidayZone::Metropole, friday(), 60, 5, 0).is_empty());
    }

    #[test]
    fn labels_in_french() {
        let h = CallbackHours::default();
        // Sunday 29 November 2026 evening: next are Monday 30 November and Tuesday 1 December.
        let now = paris(2026, 11, 29, 21, 0);
        let slots = upcoming_slots(&h, PARIS, HolidayZone::Metropole, now, 60, 3, 100);
        assert_eq!(slots[0].label, "lundi 30 novembre, 10:00");
        assert_eq!(slots[0].start, utc(2026, 11, 30, 9, 0)); // UTC+1 in winter
        assert_eq!(slots[18].label, "mardi 1er décembre, 10:00");
        let d = |y, m, day, h, mi| {
            NaiveDate::from_ymd_opt(y, m, day)
                .unwrap()
                .and_time(hm(h, mi))
        };
        assert_eq!(french_label(d(2026, 8, 15, 9, 5)), "samedi 15 août, 09:05");
        assert_eq!(
            french_label(d(2026, 2, 4, 14, 30)),
            "mercredi 4 février, 14:30"
        );
        assert_eq!(
            french_label(d(2026, 1, 1, 0, 0)),
            "jeudi 1er janvier, 00:00"
        );
        assert_eq!(
            french_label(d(2026, 12, 27, 23, 59)),
            "dimanche 27 décembre, 23:59"
        );
    }

    #[test]
    fn overseas_zone_and_holidays() {
        // Réunion (UTC+4): Monday 20 December 2027 is a holiday there, not in Paris.
        let h = CallbackHours::default();
        let now = utc(2027, 12, 19, 12, 0); // Sunday
        let re = upcoming_slots(&h, Tz::Indian__Reunion, HolidayZone::Reunion, now, 0, 7, 1);
        assert_eq!(labels(&re), ["mardi 21 décembre, 10:00"]);
        assert_eq!(re[0].start, utc(2027, 12, 21, 6, 0));
        let fr = upcoming_slots(&h, PARIS, HolidayZone::Metropole, now, 0, 7, 1);
        assert_eq!(labels(&fr), ["lundi 20 décembre, 10:00"]);
    }

    #[test]
    fn dst_days_drop_missing_slots_and_offer_repeated_ones_once() {
        let sunday_night = CallbackHours {
            ranges: vec![CallbackRange {
                days: vec![Weekday::Sun],
                start: hm(1, 0),
                end: hm(4, 0),
            }],
            slot_minutes: 30,
            slot_capacity: 1,
        };
        // Spring forward, 28 March 2027: 02:00 and 02:30 do not exist.
        let now = paris(2027, 3, 27, 12, 0);
        let slots = upcoming_slots(&sunday_night, PARIS, HolidayZone::Metropole, now, 0, 2, 100);
        assert_eq!(
            labels(&slots),
            [
                "dimanche 28 mars, 01:00",
                "dimanche 28 mars, 01:30",
                "dimanche 28 mars, 03:00",
                "dimanche 28 mars, 03:30"
            ]
        );
        assert_eq!(slots[2].start, utc(2027, 3, 28, 1, 0));
        // Fall back, 25 October 2026: 02:00 and 02:30 happen twice, offered once (first).
        let now = paris(2026, 10, 24, 12, 0);
        let slots = upcoming_slots(&sunday_night, PARIS, HolidayZone::Metropole, now, 0, 2, 100);
        let starts: Vec<_> = slots.iter().map(|s| s.start).collect();
        assert_eq!(
            starts,
            [
                utc(2026, 10, 24, 23, 0),
                utc(2026, 10, 24, 23, 30),
                utc(2026, 10, 25, 0, 0),
                utc(2026, 10, 25, 0, 30),
                utc(2026, 10, 25, 2, 0),
                utc(2026, 10, 25, 2, 30),
            ]
        );
        assert!(is_offered(
            &sunday_night,
            PARIS,
            HolidayZone::Metropole,
            now,
            utc(2026, 10, 25, 0, 30)
        ));
        // Second 02:30 (CET) is not a slot.
        assert!(!is_offered(
            &sunday_night,
            PARIS,
            HolidayZone::Metropole,
            now,
            utc(2026, 10, 25, 1, 30)
        ));
    }

    #[test]
    fn overlapping_ranges_and_odd_lengths() {
        let hours = CallbackHours {
            ranges: vec![
                CallbackRange {
                    days: vec![Weekday::Fri],
                    start: hm(16, 0),
                    end: hm(17, 10),
                },
                CallbackRange {
                    days: vec![Weekday::Fri],
                    start: hm(16, 30),
                    end: hm(17, 0),
                },
            ],
            slot_minutes: 30,
            slot_capacity: 1,
        };
        let slots = upcoming_slots(&hours, PARIS, HolidayZone::Metropole, friday(), 0, 1, 100);
        // 16:30–17:00 from both ranges, once; 17:00–17:30 would overrun 17:10.
        assert_eq!(
            labels(&slots),
            ["vendredi 22 mai, 16:00", "vendredi 22 mai, 16:30"]
        );
        let zero = CallbackHours {
            slot_minutes: 0,
            slot_capacity: 1,
            ..hours
        };
        assert!(
            upcoming_slots(&zero, PARIS, HolidayZone::Metropole, friday(), 0, 7, 100).is_empty()
        );
        assert!(!is_offered(
            &zero,
            PARIS,
            HolidayZone::Metropole,
            friday(),
            paris(2026, 5, 22, 16, 0)
        ));
    }

    #[test]
    fn is_offered_validates_posted_slots() {
        let h = CallbackHours::default();
        let z = HolidayZone::Metropole;
        let now = friday();
        assert!(is_offered(&h, PARIS, z, now, paris(2026, 5, 22, 15, 30)));
        assert!(is_offered(&h, PARIS, z, now, paris(2026, 5, 22, 19, 30)));
        assert!(is_offered(&h, PARIS, z, now, paris(2026, 5, 26, 10, 0)));
        assert!(!is_offered(&h, PARIS, z, now, paris(2026, 5, 22, 15, 0))); // past
        assert!(!is_offered(&h, PARIS, z, now, paris(2026, 5, 22, 15, 45))); // off grid
        assert!(!is_offered(
            &h,
            PARIS,
            z,
            now,
            paris(2026, 5, 22, 15, 30) + TimeDelta::seconds(1)
        ));
        assert!(!is_offered(&h, PARIS, z, now, paris(2026, 5, 22, 20, 0))); // range end
        assert!(!is_offered(&h, PARIS, z, now, paris(2026, 5, 26, 13, 0))); // lunch
        assert!(!is_offered(&h, PARIS, z, now, paris(2026, 5, 23, 10, 0))); // Saturday
        assert!(!is_offered(&h, PARIS, z, now, paris(2026, 5, 25, 10, 0))); // Whit Monday
        // Within 14 local days (22 May .. 4 June), not after.
        assert!(is_offered(&h, PARIS, z, now, paris(2026, 6, 4, 19, 30)));
        assert!(!is_offered(&h, PARIS, z, now, paris(2026, 6, 5, 10, 0)));
        // Same slot, viewed from Réunion's calendar: 10:00 Paris is 12:00 there, on grid,
        // but 25 May is a holiday in Réunion too.
        assert!(!is_offered(
            &h,
            Tz::Indian__Reunion,
            HolidayZone::Reunion,
            now,
            paris(2026, 5, 25, 10, 0)
        ));
    }

    proptest! {
        #[test]
        fn is_offered_agrees_with_upcoming_slots(
            // 2026-01-01 .. 2028-01-01, on a 5-minute grid.
            five_minutes in 5_889_888i64..7_941_888,
            tz in proptest::sample::select(vec![PARIS, Tz::Indian__Reunion, Tz::America__Miquelon]),
            sunday_night in any::<bool>(),
            // Candidate starts, 15-minute steps from `now`'s hour over 16 days.
            probes in proptest::collection::vec(0i64..1536, 20),
        ) {
            let now = DateTime::from_timestamp(five_minutes * 300, 0).unwrap();
            let hours = if sunday_night {
                CallbackHours {
                    ranges: vec![CallbackRange { days: vec![Weekday::Sun, Weekday::Mon], start: hm(0, 0), end: hm(4, 0) }],
                    slot_minutes: 30,
                    slot_capacity: 1,
                }
            } else {
                CallbackHours::default()
            };
            let z = HolidayZone::Metropole;
            let slots = upcoming_slots(&hours, tz, z, now, 0, OFFER_DAYS, usize::MAX);
            prop_assert!(slots.windows(2).all(|w| w[0].start < w[1].start));
            for slot in &slots {
                prop_assert!(slot.start >= now);
                prop_assert!(is_offered(&hours, tz, z, now, slot.start), "{}", slot.label);
            }
            let hour = DateTime::from_timestamp(now.timestamp() / 3600 * 3600, 0).unwrap();
            for k in probes {
                let start = hour + TimeDelta::minutes(15 * k);
                let listed = slots.iter().any(|s| s.start == start);
                prop_assert_eq!(is_offered(&hours, tz, z, now, start), listed, "{}", start);
            }
        }
    }
}
