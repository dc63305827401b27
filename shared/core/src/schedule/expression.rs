//! The three EventBridge schedule expression kinds, `rate(..)`, `cron(..)` and `at(..)`, parsed and printed.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDateTime;

use super::cron::Cron;
use super::error::{Problem, ScheduleError};

/// A validated EventBridge / EventBridge Scheduler schedule expression, without its time zone.
///
/// Serialises as its canonical text (`rate(5 minutes)`, `cron(0 18 ? * MON-FRI *)`, `at(2026-03-01T09:30:00)`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ScheduleExpression {
    /// `rate(value unit)`: every `value` units of elapsed time.
    Rate(Rate),
    /// `cron(minutes hours day-of-month month day-of-week year)`, in the schedule's time zone.
    Cron(Box<Cron>),
    /// `at(yyyy-mm-ddThh:mm:ss)`: once, at this local time in the schedule's time zone.
    At(NaiveDateTime),
}

/// A `rate(..)` period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    value: u32,
    unit: RateUnit,
}

/// The unit of a `rate(..)` expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    /// 60 seconds.
    Minutes,
    /// 3,600 seconds.
    Hours,
    /// 86,400 seconds: elapsed time, not calendar days, so it drifts an hour against local time across DST.
    Days,
}

impl RateUnit {
    fn names(self) -> (&'static str, &'static str) {
        match self {
            RateUnit::Minutes => ("minute", "minutes"),
            RateUnit::Hours => ("hour", "hours"),
            RateUnit::Days => ("day", "days"),
        }
    }

    fn seconds(self) -> i64 {
        match self {
            RateUnit::Minutes => 60,
            RateUnit::Hours => 3_600,
            RateUnit::Days => 86_400,
        }
    }
}

impl Rate {
    /// The number of units.
    pub fn value(&self) -> u32 {
        self.value
    }

    /// The unit.
    pub fn unit(&self) -> RateUnit {
        self.unit
    }

    /// The period in seconds.
    pub fn period_seconds(&self) -> i64 {
        i64::from(self.value) * self.unit.seconds()
    }

    fn parse(inner: &str) -> Result<Self, Problem> {
        let parts: Vec<&str> = inner.split_whitespace().collect();
        let [value_text, unit_text] = parts.as_slice() else {
            return Err(Problem::RateShape);
        };
        let value = match value_text.parse::<u32>() {
            Ok(value) if value > 0 && value_text.bytes().all(|b| b.is_ascii_digit()) => value,
            _ => return Err(Problem::RateValue((*value_text).to_owned())),
        };
        let units = [RateUnit::Minutes, RateUnit::Hours, RateUnit::Days];
        let found = units.into_iter().find_map(|unit| {
            let (singular, plural) = unit.names();
            match *unit_text {
                text if text == singular => Some((unit, true)),
                text if text == plural => Some((unit, false)),
                _ => None,
            }
        });
        let Some((unit, singular)) = found else {
            return Err(Problem::RateUnit((*unit_text).to_owned()));
        };
        match (value == 1, singular) {
            (true, false) => Err(Problem::RateNeedsSingular {
                singular: unit.names().0,
            }),
            (false, true) => Err(Problem::RateNeedsPlural {
                value,
                plural: unit.names().1,
            }),
            (true, true) | (false, false) => Ok(Rate { value, unit }),
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (singular, plural) = self.unit.names();
        let unit = if self.value == 1 { singular } else { plural };
        write!(f, "rate({} {unit})", self.value)
    }
}

/// The one format `at(..)` accepts: `yyyy-mm-ddThh:mm:ss`.
const AT_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

fn parse_at(inner: &str) -> Result<NaiveDateTime, Problem> {
    let shape = "dddd-dd-ddTdd:dd:dd";
    let shaped = inner.len() == shape.len()
        && inner.bytes().zip(shape.bytes()).all(|(got, want)| match want {
            b'd' => got.is_ascii_digit(),
            other => got == other,
        });
    if !shaped {
        return Err(Problem::AtShape);
    }
    NaiveDateTime::parse_from_str(inner, AT_FORMAT).map_err(|_| Problem::AtInvalid(inner.to_owned()))
}

impl FromStr for ScheduleExpression {
    type Err = ScheduleError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = input.trim();
        let inner = |prefix: &str| text.strip_prefix(prefix).and_then(|rest| rest.strip_suffix(')'));
        let parsed = if let Some(inner) = inner("rate(") {
            Rate::parse(inner).map(ScheduleExpression::Rate)
        } else if let Some(inner) = inner("cron(") {
            Cron::parse(inner).map(|cron| ScheduleExpression::Cron(Box::new(cron)))
        } else if let Some(inner) = inner("at(") {
            parse_at(inner).map(ScheduleExpression::At)
        } else if ["rate(", "cron(", "at("]
            .iter()
            .any(|kind| text.starts_with(kind))
        {
            Err(Problem::Unclosed)
        } else {
            Err(Problem::UnknownKind)
        };
        parsed.map_err(|problem| ScheduleError::Expression {
            input: input.to_owned(),
            problem,
        })
    }
}

impl fmt::Display for ScheduleExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleExpression::Rate(rate) => rate.fmt(f),
            ScheduleExpression::Cron(cron) => cron.fmt(f),
            ScheduleExpression::At(at) => write!(f, "at({})", at.format(AT_FORMAT)),
        }
    }
}

impl TryFrom<String> for ScheduleExpression {
    type Error = ScheduleError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<ScheduleExpression> for String {
    fn from(expression: ScheduleExpression) -> Self {
        expression.to_string()
    }
}
