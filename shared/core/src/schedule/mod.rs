//! EventBridge schedule expressions: `rate(..)`, `cron(..)` and `at(..)` with time zones, and their fire times.
//!
//! [`ScheduleExpression`] is the validated expression text; [`Schedule`] adds the IANA time zone (default UTC)
//! and optional start/end bounds, and answers [`Schedule::next_after`]. Semantics follow EventBridge Scheduler:
//!
//! - `cron(..)` is evaluated on local wall-clock time in the zone. A local time that a daylight-saving jump
//!   skips does not fire that day; a local time that happens twice when clocks go back fires once, at its
//!   first occurrence.
//! - `rate(n unit)` is elapsed time: fire times are `anchor + k × period`, where the anchor is the schedule's
//!   start bound if given, otherwise the Unix epoch (1970-01-01T00:00:00Z). The epoch anchor makes fire times a
//!   pure function of the expression (every process agrees on them, which keeps idempotency keys stable), so
//!   `rate(1 day)` fires at 00:00 UTC and `rate(15 minutes)` on the quarter hours. Time zones do not affect it.
//! - `at(..)` is one local time in the zone; start/end bounds do not apply to it (as in Scheduler).
//!
//! ```
//! use chrono::{DateTime, Utc};
//! use kiln_core::schedule::Schedule;
//!
//! let schedule = Schedule::parse("cron(0 18 ? * MON-FRI *)", "Europe/London")?;
//! let friday_evening: DateTime<Utc> = "2026-11-27T18:00:00Z".parse()?;
//! let monday_evening: DateTime<Utc> = "2026-11-30T18:00:00Z".parse()?;
//! assert_eq!(schedule.next_after(friday_evening), Some(monday_evening));
//! assert_eq!(schedule.describe(), "cron(0 18 ? * MON-FRI *) in Europe/London");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cron;
mod error;
mod expression;
mod spec;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, LocalResult, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

pub use self::cron::Cron;
pub use self::error::{CronField, FieldRule, Problem, ScheduleError};
pub use self::expression::{Rate, RateUnit, ScheduleExpression};
pub use self::spec::ScheduleSpec;

/// A schedule expression with its time zone and optional bounds: what an EventBridge Scheduler schedule holds.
///
/// (De)serialises through [`ScheduleSpec`], or from a bare expression string (then UTC, unbounded).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "spec::RawSchedule", into = "ScheduleSpec")]
pub struct Schedule {
    expression: ScheduleExpression,
    timezone: Tz,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    /// For `at(..)`: the instant, resolved once against the zone.
    once: Option<DateTime<Utc>>,
}

impl Schedule {
    /// A schedule of `expression` in `timezone`, unbounded.
    ///
    /// Fails only for an `at(..)` time that the zone's daylight-saving change skips.
    pub fn new(expression: ScheduleExpression, timezone: Tz) -> Result<Self, ScheduleError> {
        let once = match &expression {
            ScheduleExpression::At(local) => Some(match timezone.from_local_datetime(local) {
                LocalResult::Single(instant) | LocalResult::Ambiguous(instant, _) => instant.to_utc(),
                LocalResult::None => {
                    return Err(ScheduleError::AtSkippedByDst {
                        input: expression.to_string(),
                        local: local.format("%Y-%m-%dT%H:%M:%S").to_string(),
                        timezone: timezone.name().to_owned(),
                    });
                }
            }),
            ScheduleExpression::Rate(_) | ScheduleExpression::Cron(_) => None,
        };
        Ok(Schedule {
            expression,
            timezone,
            start: None,
            end: None,
            once,
        })
    }

    /// Parses `expression` and looks up the IANA `timezone` name.
    pub fn parse(expression: &str, timezone: &str) -> Result<Self, ScheduleError> {
        let zone = timezone
            .parse::<Tz>()
            .map_err(|_| ScheduleError::UnknownTimeZone {
                name: timezone.to_owned(),
            })?;
        Schedule::new(expression.parse()?, zone)
    }

    /// The same schedule, firing no earlier than `start` (also the `rate(..)` anchor).
    pub fn starting_at(mut self, start: DateTime<Utc>) -> Self {
        self.start = Some(start);
        self
    }

    /// The same schedule, firing no later than `end`.
    pub fn ending_at(mut self, end: DateTime<Utc>) -> Self {
        self.end = Some(end);
        self
    }

    /// The expression.
    pub fn expression(&self) -> &ScheduleExpression {
        &self.expression
    }

    /// The time zone the expression is read in.
    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    /// The start bound, if any.
    pub fn start(&self) -> Option<DateTime<Utc>> {
        self.start
    }

    /// The end bound, if any.
    pub fn end(&self) -> Option<DateTime<Utc>> {
        self.end
    }

    /// A one-line description: the canonical expression and its zone, e.g. `cron(0 10 * * ? *) in Europe/London`.
    pub fn describe(&self) -> String {
        format!("{} in {}", self.expression, self.timezone.name())
    }

    /// The first fire time strictly after `t`, or `None` when the schedule never fires again.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if let Some(once) = self.once {
            return (once > t).then_some(once);
        }
        // Fire times are whole seconds; searching after start - 1ns yields times at or after start.
        let after = match self.start {
            Some(start) if start > t => start - TimeDelta::nanoseconds(1),
            Some(_) | None => t,
        };
        let next = match &self.expression {
            ScheduleExpression::Rate(rate) => self.next_rate(rate, after),
            ScheduleExpression::Cron(cron) => self.next_cron(cron, after),
            ScheduleExpression::At(_) => None,
        }?;
        match self.end {
            Some(end) if next > end => None,
            Some(_) | None => Some(next),
        }
    }

    fn next_rate(&self, rate: &Rate, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let anchor = self.start.unwrap_or(DateTime::UNIX_EPOCH);
        if t < anchor {
            return Some(anchor);
        }
        let period = rate.period_seconds();
        let periods = (t - anchor).num_seconds() / period + 1;
        anchor.checked_add_signed(TimeDelta::try_seconds(periods.checked_mul(period)?)?)
    }

    fn next_cron(&self, cron: &Cron, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.timezone).naive_local();
        let mut from = local.with_second(0)?.with_nanosecond(0)?;
        loop {
            let candidate = cron.next_local_match(from)?;
            match self.timezone.from_local_datetime(&candidate) {
                // A repeated local time fires at its first occurrence only.
                LocalResult::Single(instant) | LocalResult::Ambiguous(instant, _) if instant.to_utc() > t => {
                    return Some(instant.to_utc());
                }
                // Already past, or skipped by a daylight-saving jump.
                LocalResult::Single(_) | LocalResult::Ambiguous(..) | LocalResult::None => {}
            }
            from = candidate.checked_add_signed(TimeDelta::minutes(1))?;
        }
    }
}

impl fmt::Display for Schedule {
    /// The canonical expression text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expression.fmt(f)
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    /// Parses an expression as a UTC, unbounded schedule.
    fn from_str(expression: &str) -> Result<Self, Self::Err> {
        Schedule::new(expression.parse()?, Tz::UTC)
    }
}
