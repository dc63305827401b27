//! The serialised form of a [`Schedule`]: a bare expression string or a `ScheduleSpec` map.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{Schedule, ScheduleError};

/// The serialised form of a [`Schedule`]: `{"expression": "...", "timezone": "Europe/London", ...}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleSpec {
    /// `rate(..)`, `cron(..)` or `at(..)`.
    pub expression: String,
    /// IANA time zone name; UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// RFC 3339 instant before which the schedule does not fire; also the `rate(..)` anchor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// RFC 3339 instant after which the schedule does not fire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
}

/// What a config may hold for a schedule: a bare expression (UTC, unbounded) or a full spec.
pub(super) enum RawSchedule {
    Expression(String),
    Spec(ScheduleSpec),
}

impl<'de> Deserialize<'de> for RawSchedule {
    /// Hand-written rather than `untagged` so that a spec's own errors (an unknown key) reach the user.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RawVisitor;

        impl<'de> Visitor<'de> for RawVisitor {
            type Value = RawSchedule;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a schedule expression string or a map with `expression` and optional `timezone`")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawSchedule, E> {
                Ok(RawSchedule::Expression(text.to_owned()))
            }

            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<RawSchedule, M::Error> {
                ScheduleSpec::deserialize(de::value::MapAccessDeserializer::new(map)).map(RawSchedule::Spec)
            }
        }

        deserializer.deserialize_any(RawVisitor)
    }
}

impl TryFrom<RawSchedule> for Schedule {
    type Error = ScheduleError;

    fn try_from(raw: RawSchedule) -> Result<Self, Self::Error> {
        match raw {
            RawSchedule::Expression(expression) => expression.parse(),
            RawSchedule::Spec(spec) => spec.try_into(),
        }
    }
}

fn parse_date(key: &'static str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ScheduleError> {
    let Some(text) = value else { return Ok(None) };
    DateTime::parse_from_rfc3339(text)
        .map(|date| Some(date.to_utc()))
        .map_err(|_| ScheduleError::InvalidDate {
            key,
            value: text.to_owned(),
        })
}

impl TryFrom<ScheduleSpec> for Schedule {
    type Error = ScheduleError;

    fn try_from(spec: ScheduleSpec) -> Result<Self, Self::Error> {
        let mut schedule = Schedule::parse(&spec.expression, spec.timezone.as_deref().unwrap_or("UTC"))?;
        let start = parse_date("startDate", spec.start_date.as_deref())?;
        let end = parse_date("endDate", spec.end_date.as_deref())?;
        if let (Some(start), Some(end)) = (start, end)
            && end < start
        {
            return Err(ScheduleError::EndBeforeStart {
                start: spec.start_date.unwrap_or_default(),
                end: spec.end_date.unwrap_or_default(),
            });
        }
        if let Some(start) = start {
            schedule = schedule.starting_at(start);
        }
        if let Some(end) = end {
            schedule = schedule.ending_at(end);
        }
        Ok(schedule)
    }
}

impl From<Schedule> for ScheduleSpec {
    fn from(schedule: Schedule) -> Self {
        let date =
            |instant: Option<DateTime<Utc>>| instant.map(|i| i.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        let timezone = schedule.timezone();
        ScheduleSpec {
            expression: schedule.expression().to_string(),
            timezone: (timezone != Tz::UTC).then(|| timezone.name().to_owned()),
            start_date: date(schedule.start()),
            end_date: date(schedule.end()),
        }
    }
}
