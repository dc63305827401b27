//! The signing instant: SigV4's `YYYYMMDDTHHMMSSZ` timestamp, converted to and from Unix seconds without
//! reading any clock (callers pass the time in).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar (Hinnant's `days_from_civil`).
const DAYS_0000_03_01_TO_EPOCH: i64 = 719_468;
const DAYS_PER_ERA: i64 = 146_097;
const SECONDS_PER_DAY: u64 = 86_400;
/// 9999-12-31T23:59:59Z: the last instant a four-digit year can spell.
const MAX_UNIX_SECONDS: u64 = 253_402_300_799;

/// A UTC instant with one-second precision, as SigV4 writes it (`20150830T123600Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AmzDate {
    unix_seconds: u64,
}

impl AmzDate {
    /// The instant `secs` seconds after 1970-01-01T00:00:00Z; `None` past the year 9999.
    pub fn from_unix_seconds(secs: u64) -> Option<Self> {
        (secs <= MAX_UNIX_SECONDS).then_some(Self { unix_seconds: secs })
    }

    /// The given system time truncated to whole seconds; `None` before 1970 or past the year 9999.
    pub fn from_system_time(time: SystemTime) -> Option<Self> {
        let since_epoch = time.duration_since(UNIX_EPOCH).ok()?;
        Self::from_unix_seconds(since_epoch.as_secs())
    }

    /// Parses the ISO 8601 basic form SigV4 uses, `YYYYMMDDTHHMMSSZ`; `None` if it is not exactly that.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> Option<u64> {
            let digits = bytes.get(range)?;
            digits.iter().try_fold(0u64, |acc, &b| {
                b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
            })
        };
        let (year, month, day) = (number(0..4)?, number(4..6)?, number(6..8)?);
        let (hour, minute, second) = (number(9..11)?, number(11..13)?, number(13..15)?);
        let month_ok = (1..=12).contains(&month);
        if !month_ok
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return None;
        }
        let days = u64::try_from(days_from_civil(year as i64, month, day)).ok()?;
        Self::from_unix_seconds(days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second)
    }

    /// Seconds since 1970-01-01T00:00:00Z.
    pub fn unix_seconds(self) -> u64 {
        self.unix_seconds
    }

    /// The same instant as a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.unix_seconds)
    }

    /// The credential-scope date, `YYYYMMDD`.
    pub fn date_stamp(self) -> String {
        self.basic_format()[..8].to_owned()
    }

    /// `YYYYMMDDTHHMMSS` without the trailing `Z` (CodeCommit's git password signs this form).
    pub(crate) fn basic_format(self) -> String {
        let days = (self.unix_seconds / SECONDS_PER_DAY) as i64;
        let secs_of_day = self.unix_seconds % SECONDS_PER_DAY;
        let (year, month, day) = civil_from_days(days);
        format!(
            "{year:04}{month:02}{day:02}T{:02}{:02}{:02}",
            secs_of_day / 3600,
            (secs_of_day % 3600) / 60,
            secs_of_day % 60
        )
    }

    /// Whole seconds between two instants, in either direction.
    pub fn abs_diff_seconds(self, other: Self) -> u64 {
        self.unix_seconds.abs_diff(other.unix_seconds)
    }
}

impl fmt::Display for AmzDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}Z", self.basic_format())
    }
}

fn is_leap(year: u64) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u64, day: u64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month as i64 + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day as i64 - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * DAYS_PER_ERA + day_of_era - DAYS_0000_03_01_TO_EPOCH
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let z = days + DAYS_0000_03_01_TO_EPOCH;
    let era = z.div_euclid(DAYS_PER_ERA);
    let day_of_era = z - era * DAYS_PER_ERA;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u64;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u64;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_known_instants() {
        let cases = [
            (0, "19700101T000000Z"),
            (1_440_938_160, "20150830T123600Z"),
            (951_782_400, "20000229T000000Z"),
            (1_795_523_696, "20261124T123456Z"),
            (MAX_UNIX_SECONDS, "99991231T235959Z"),
        ];
        for (secs, text) in cases {
            let date = AmzDate::from_unix_seconds(secs).expect("in range");
            assert_eq!(date.to_string(), text);
            assert_eq!(AmzDate::parse(text), Some(date), "{text}");
        }
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        for day in (0..146_097u64 * 2).step_by(7) {
            let date = AmzDate::from_unix_seconds(day * SECONDS_PER_DAY + 3599).expect("in range");
            assert_eq!(AmzDate::parse(&date.to_string()), Some(date));
        }
    }

    #[test]
    fn rejects_anything_but_the_basic_format() {
        for bad in [
            "",
            "20150830T123600",
            "2015-08-30T12:36:00Z",
            "20150230T123600Z",
            "20150830T243600Z",
            "20151301T000000Z",
            "2015083OT123600Z",
            "20150830t123600z",
            "+0150830T123600Z",
        ] {
            assert_eq!(AmzDate::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn system_time_conversions_truncate_to_seconds() {
        let time = UNIX_EPOCH + Duration::from_millis(1_440_938_160_999);
        let date = AmzDate::from_system_time(time).expect("after 1970");
        assert_eq!(date.to_string(), "20150830T123600Z");
        assert_eq!(
            date.to_system_time(),
            UNIX_EPOCH + Duration::from_secs(1_440_938_160)
        );
        assert_eq!(date.date_stamp(), "20150830");
    }
}
