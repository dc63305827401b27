//! EventBridge `cron(..)` expressions: the parsed fields and the search for the next matching local minute.
//!
//! The search walks field by field (year → month → day → hour → minute), jumping to the next allowed value of
//! each and resetting the smaller fields, so it never steps minute by minute. It works on local wall-clock
//! time (chrono's calendar, month lengths from [`crate::time`]); turning a local minute into an instant (and the
//! daylight-saving rules) is the caller's job.

mod bits;
mod parse;

use std::fmt;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

use self::bits::Bits;
use super::error::Problem;
use crate::time::month_length;

/// The first and last years a cron expression can name.
pub(crate) const YEARS: (i32, i32) = (1970, 2199);

/// A validated six-field cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    /// The canonical field text: upper-case, single spaces.
    fields: String,
    minutes: Bits,
    hours: Bits,
    days: Days,
    months: Bits,
    /// Offsets from 1970.
    years: Bits,
}

/// The day rule: whichever of day-of-month and day-of-week is not `?` (the parser enforces exactly one).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Days {
    /// Day-of-month list, range, increment or `*`.
    OfMonth(Bits),
    /// Day-of-month `L`: the last day of the month.
    LastOfMonth,
    /// Day-of-month `LW`: the last weekday (Monday–Friday) of the month.
    LastWeekdayOfMonth,
    /// Day-of-month `nW`: the weekday nearest day n, within the same month.
    NearestWeekday(u32),
    /// Day-of-week list, range, increment, `*` or `L` (Saturday); 1 = Sunday … 7 = Saturday.
    OfWeek(Bits),
    /// Day-of-week `nL`: the last weekday n of the month.
    LastOfWeek(u32),
    /// Day-of-week `d#n`: the n-th weekday d of the month.
    NthOfWeek { day: u32, n: u32 },
}

impl Cron {
    /// Parses the text between `cron(` and `)`.
    pub(crate) fn parse(inner: &str) -> Result<Self, Problem> {
        parse::parse_cron(inner)
    }

    /// The earliest local minute at or after `from` (seconds ignored) that matches every field.
    pub(crate) fn next_local_match(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut at = Cursor {
            year: from.year(),
            month: from.month(),
            day: from.day(),
            hour: from.hour(),
            minute: from.minute(),
        };
        if at.year < YEARS.0 {
            at = Cursor::new_year(YEARS.0);
        }
        loop {
            if at.year > YEARS.1 {
                return None;
            }
            let year = self.years.next_at_or_after((at.year - YEARS.0) as u32)? as i32 + YEARS.0;
            if year != at.year {
                at = Cursor::new_year(year);
            }
            let Some(month) = self.months.next_at_or_after(at.month) else {
                at = Cursor::new_year(at.year + 1);
                continue;
            };
            if month != at.month {
                at.set_month(month);
            }
            let days = self.day_mask(at.year, at.month)?;
            let Some(day) = next_bit(days, at.day) else {
                at.next_month();
                continue;
            };
            if day != at.day {
                at.set_day(day);
            }
            let Some(hour) = self.hours.next_at_or_after(at.hour) else {
                at.set_day(at.day + 1);
                continue;
            };
            if hour != at.hour {
                at.hour = hour;
                at.minute = 0;
            }
            let Some(minute) = self.minutes.next_at_or_after(at.minute) else {
                at.hour += 1;
                at.minute = 0;
                continue;
            };
            return NaiveDate::from_ymd_opt(at.year, at.month, at.day)?.and_hms_opt(at.hour, minute, 0);
        }
    }

    /// The days of `year`-`month` that match the day fields, as bits 1..=31.
    fn day_mask(&self, year: i32, month: u32) -> Option<u32> {
        let length = month_length(year, month)?;
        // Weekday of the 1st, 1 = Sunday.
        let first = NaiveDate::from_ymd_opt(year, month, 1)?
            .weekday()
            .num_days_from_sunday()
            + 1;
        let weekday = |day: u32| (first - 1 + day - 1) % 7 + 1;
        let all_days = (1..=length).fold(0u32, |mask, day| mask | 1 << day);
        let single = |day: u32| {
            if (1..=length).contains(&day) {
                1u32 << day
            } else {
                0
            }
        };
        let mask = match &self.days {
            Days::OfMonth(days) => {
                all_days & (1..=31).filter(|d| days.contains(*d)).fold(0, |m, d| m | 1 << d)
            }
            Days::LastOfMonth => single(length),
            Days::LastWeekdayOfMonth => single(match weekday(length) {
                7 => length - 1,
                1 => length - 2,
                _ => length,
            }),
            Days::NearestWeekday(day) if *day > length => 0,
            Days::NearestWeekday(day) => single(match weekday(*day) {
                7 if *day == 1 => 3,
                7 => day - 1,
                1 if *day == length => day - 2,
                1 => day + 1,
                _ => *day,
            }),
            Days::OfWeek(days) => (1..=length)
                .filter(|d| days.contains(weekday(*d)))
                .fold(0, |m, d| m | 1 << d),
            Days::LastOfWeek(target) => single(length - (weekday(length) + 7 - target) % 7),
            Days::NthOfWeek { day, n } => single(1 + (day + 7 - first) % 7 + 7 * (n - 1)),
        };
        Some(mask)
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cron({})", self.fields)
    }
}

/// A position in local calendar time that may overflow its day/month, normalised by the search loop.
struct Cursor {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
}

impl Cursor {
    fn new_year(year: i32) -> Self {
        Cursor {
            year,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
        }
    }

    fn set_month(&mut self, month: u32) {
        self.month = month;
        self.set_day(1);
    }

    fn next_month(&mut self) {
        if self.month == 12 {
            *self = Cursor::new_year(self.year + 1);
        } else {
            self.set_month(self.month + 1);
        }
    }

    /// Sets the day and resets the time; a day past the month's end is caught by the next day search.
    fn set_day(&mut self, day: u32) {
        self.day = day;
        self.hour = 0;
        self.minute = 0;
    }
}

/// The lowest set bit at or above `from` in a day mask.
fn next_bit(mask: u32, from: u32) -> Option<u32> {
    let rest = mask.checked_shr(from)?.checked_shl(from)?;
    (rest != 0).then(|| rest.trailing_zeros())
}
