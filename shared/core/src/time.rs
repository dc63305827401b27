//! Every calendar conversion Kiln makes, on chrono, so no code elsewhere works out years, months or days by
//! hand: SigV4's `YYYYMMDDTHHMMSSZ` instant ([`AmzDate`]) and the request-time skew window around it
//! ([`AmzDate::skew`]), CodeBuild's `[Container]` log timestamp ([`container_timestamp`]), ZIP's MS-DOS date
//! and time fields ([`dos_date_time`]) and month lengths for the cron search ([`month_length`]). Nothing here
//! reads the clock: callers pass the time in. (`build::Timestamp` is the build record's epoch-seconds JSON
//! form; it has no calendar in it.)

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};

/// 9999-12-31T23:59:59Z: the last instant a four-digit year can spell.
const MAX_UNIX_SECONDS: u64 = 253_402_300_799;
/// SigV4's ISO 8601 basic form without the trailing `Z`.
const AMZ_BASIC: &str = "%Y%m%dT%H%M%S";
/// 1980-01-01T00:00:00Z, the first instant MS-DOS dates can hold.
const DOS_EPOCH_UNIX_SECONDS: u64 = 315_532_800;

/// A UTC instant with one-second precision, as SigV4 writes it (`20150830T123600Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AmzDate {
    unix_seconds: u64,
}

/// Where a request's signing time falls against the window allowed around the server's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skew {
    /// Within the window (its edges included).
    Within,
    /// Too old: before `earliest`, the window's start.
    TooOld { earliest: AmzDate },
    /// Too far ahead: after `latest`, the window's end.
    TooNew { latest: AmzDate },
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
        let digits_where_due = bytes
            .iter()
            .enumerate()
            .all(|(at, b)| matches!(at, 8 | 15) || b.is_ascii_digit());
        if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' || !digits_where_due {
            return None;
        }
        let parsed = NaiveDateTime::parse_from_str(&text[..15], AMZ_BASIC).ok()?;
        // chrono reads a second of 60 as a leap second; SigV4 has none.
        if parsed.nanosecond() != 0 {
            return None;
        }
        let secs = u64::try_from(parsed.and_utc().timestamp()).ok()?;
        Self::from_unix_seconds(secs)
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
        self.utc().format("%Y%m%d").to_string()
    }

    /// `YYYYMMDDTHHMMSS` without the trailing `Z` (CodeCommit's git password signs this form).
    pub(crate) fn basic_format(self) -> String {
        self.utc().format(AMZ_BASIC).to_string()
    }

    /// Whether `self`, a request's signing time, lies within `max_seconds` of `now` either way; outside, the
    /// window's edge it missed (`now` itself when that edge is past the year 9999).
    pub fn skew(self, now: AmzDate, max_seconds: u64) -> Skew {
        if self.unix_seconds.abs_diff(now.unix_seconds) <= max_seconds {
            return Skew::Within;
        }
        let edge = |secs: u64| Self::from_unix_seconds(secs).unwrap_or(now);
        if self < now {
            Skew::TooOld {
                earliest: edge(now.unix_seconds.saturating_sub(max_seconds)),
            }
        } else {
            Skew::TooNew {
                latest: edge(now.unix_seconds.saturating_add(max_seconds)),
            }
        }
    }

    fn utc(self) -> DateTime<Utc> {
        // Every AmzDate is between 1970 and 9999, which chrono represents.
        i64::try_from(self.unix_seconds)
            .ok()
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .unwrap_or_default()
    }
}

impl fmt::Display for AmzDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}Z", self.utc().format(AMZ_BASIC))
    }
}

/// `time` as CodeBuild dates its `[Container]` lines: `2026/11/24 12:00:00.123456` (UTC, microseconds); a
/// time before 1970 is written as the epoch.
pub fn container_timestamp(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut out = String::with_capacity("2026/11/24 12:00:00.123456".len());
    // The executor writes a line per command: the date and time of day change at most once a second, so each
    // thread keeps the last second's text and formats only the microseconds when the second repeats.
    LAST_SECOND.with_borrow_mut(|(second, text)| {
        if *second == Some(since.as_secs()) {
            out.push_str(text);
            return;
        }
        let at = utc(time);
        let _ = write!(
            out,
            "{:04}/{:02}/{:02} {:02}:{:02}:{:02}",
            at.year(),
            at.month(),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        );
        text.clear();
        text.push_str(&out);
        *second = Some(since.as_secs());
    });
    let _ = write!(out, ".{:06}", since.subsec_micros());
    out
}

thread_local! {
    /// The whole second [`container_timestamp`] last formatted on this thread, and its text.
    static LAST_SECOND: RefCell<(Option<u64>, String)> = const { RefCell::new((None, String::new())) };
}

/// The MS-DOS `(time, date)` fields a ZIP entry stores for `time` (UTC, two-second resolution); times before
/// 1980 are written as 1980-01-01 00:00:00, years past 2107 as 2107 with the right month and day.
pub fn dos_date_time(time: SystemTime) -> (u16, u16) {
    let earliest = UNIX_EPOCH + Duration::from_secs(DOS_EPOCH_UNIX_SECONDS);
    let at = utc(time.max(earliest));
    let dos_time = (at.hour() << 11) | (at.minute() << 5) | (at.second() / 2);
    let years_since_1980 = (at.year() - 1980).clamp(0, 127) as u32;
    let dos_date = (years_since_1980 << 9) | (at.month() << 5) | at.day();
    (dos_time as u16, dos_date as u16)
}

/// The number of days in `month` (1–12) of `year`; `None` for a month or year chrono cannot represent.
pub fn month_length(year: i32, month: u32) -> Option<u32> {
    Some(u32::from(
        NaiveDate::from_ymd_opt(year, month, 1)?.num_days_in_month(),
    ))
}

/// `time` in UTC, with times before 1970 (or too far ahead for chrono) as the epoch.
fn utc(time: SystemTime) -> DateTime<Utc> {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_secs())
        .ok()
        .and_then(|secs| DateTime::from_timestamp(secs, since.subsec_nanos()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECONDS_PER_DAY: u64 = 86_400;

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
        assert_eq!(AmzDate::from_unix_seconds(MAX_UNIX_SECONDS + 1), None);
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
            "20150830T123660Z",
            "20150830T235960Z",
            "19691231T235959Z",
            "20150830T12360\u{e9}",
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
        assert_eq!(date.basic_format(), "20150830T123600");
        assert_eq!(
            AmzDate::from_system_time(UNIX_EPOCH - Duration::from_secs(1)),
            None
        );
    }

    #[test]
    fn the_skew_window_includes_its_edges_and_names_the_edge_missed() {
        let at = |secs| AmzDate::from_unix_seconds(secs).expect("in range");
        let now = at(10_000);
        assert_eq!(at(9_100).skew(now, 900), Skew::Within);
        assert_eq!(at(10_900).skew(now, 900), Skew::Within);
        assert_eq!(at(9_099).skew(now, 900), Skew::TooOld { earliest: at(9_100) });
        assert_eq!(at(10_901).skew(now, 900), Skew::TooNew { latest: at(10_900) });
        assert_eq!(at(20_000).skew(at(100), 900), Skew::TooNew { latest: at(1_000) });
        assert_eq!(at(0).skew(at(100), 50), Skew::TooOld { earliest: at(50) });
        let last = at(MAX_UNIX_SECONDS);
        assert_eq!(
            at(0).skew(last, 900),
            Skew::TooOld {
                earliest: at(MAX_UNIX_SECONDS - 900)
            }
        );
        assert_eq!(
            last.skew(at(MAX_UNIX_SECONDS - 1000), 900),
            Skew::TooNew {
                latest: at(MAX_UNIX_SECONDS - 100)
            }
        );
        assert_eq!(last.skew(at(0), u64::MAX), Skew::Within);
    }

    #[test]
    fn container_timestamps_have_microseconds_and_start_at_the_epoch() {
        let t = UNIX_EPOCH + Duration::from_micros(1_795_521_600_123_456);
        assert_eq!(container_timestamp(t), "2026/11/24 12:00:00.123456");
        assert_eq!(container_timestamp(UNIX_EPOCH), "1970/01/01 00:00:00.000000");
        assert_eq!(
            container_timestamp(UNIX_EPOCH - Duration::from_secs(5)),
            "1970/01/01 00:00:00.000000"
        );
        let leap_day =
            UNIX_EPOCH + Duration::from_secs(951_782_400 + 86_399) + Duration::from_nanos(999_999_999);
        assert_eq!(container_timestamp(leap_day), "2000/02/29 23:59:59.999999");
    }

    #[test]
    fn container_timestamps_change_with_the_second_and_within_it() {
        let base = UNIX_EPOCH + Duration::from_secs(1_795_521_599);
        let expected = [
            (0, "2026/11/24 11:59:59.000000"),
            (999_999, "2026/11/24 11:59:59.999999"),
            (1_000_000, "2026/11/24 12:00:00.000000"),
            (1_000_001, "2026/11/24 12:00:00.000001"),
            (0, "2026/11/24 11:59:59.000000"),
            (86_400_000_000, "2026/11/25 11:59:59.000000"),
        ];
        for (micros, text) in expected {
            assert_eq!(container_timestamp(base + Duration::from_micros(micros)), text);
        }
    }

    #[test]
    fn dos_fields_pack_the_civil_date_and_clamp_to_their_range() {
        let fields = |secs| dos_date_time(UNIX_EPOCH + Duration::from_secs(secs));
        // 2026-11-24 12:34:56: hour 12, minute 34, 28 two-second units; year 46, month 11, day 24.
        assert_eq!(
            fields(1_795_523_696),
            ((12 << 11) | (34 << 5) | 28, (46 << 9) | (11 << 5) | 24)
        );
        let first = (0, (1 << 5) | 1);
        assert_eq!(fields(0), first);
        assert_eq!(fields(DOS_EPOCH_UNIX_SECONDS), first);
        // 2000-02-29 23:59:59 rounds down to an even second.
        assert_eq!(
            fields(951_868_799),
            ((23 << 11) | (59 << 5) | 29, (20 << 9) | (2 << 5) | 29)
        );
        // 2200-03-01: the year saturates at 1980 + 127.
        assert_eq!(fields(7_263_216_000), (0, (127 << 9) | (3 << 5) | 1));
    }

    #[test]
    fn month_lengths_follow_the_gregorian_calendar() {
        let cases = [
            (2024, 2, Some(29)),
            (2100, 2, Some(28)),
            (2000, 2, Some(29)),
            (2026, 4, Some(30)),
            (2026, 12, Some(31)),
            (2026, 13, None),
            (2026, 0, None),
        ];
        for (year, month, expected) in cases {
            assert_eq!(month_length(year, month), expected, "{year}-{month}");
        }
    }
}
