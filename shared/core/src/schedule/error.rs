//! The schedule module's typed errors: what was wrong with an expression, which field and which rule.

use std::fmt;

/// Why a schedule expression, time zone or date bound was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The expression text is malformed; `input` is quoted in the message.
    #[error("\"{input}\": {problem}")]
    Expression {
        /// The expression as given.
        input: String,
        /// The rule it breaks.
        problem: Problem,
    },
    /// The time zone is not an IANA name known to the bundled database.
    #[error("unknown time zone \"{name}\"; use an IANA name such as \"Europe/London\" or \"UTC\"")]
    UnknownTimeZone {
        /// The name as given.
        name: String,
    },
    /// A `startDate`/`endDate` bound is not an RFC 3339 date-time.
    #[error("{key} \"{value}\" is not an RFC 3339 date-time such as \"2026-01-01T00:00:00Z\"")]
    InvalidDate {
        /// Which key held it.
        key: &'static str,
        /// The value as given.
        value: String,
    },
    /// `endDate` lies before `startDate`.
    #[error("endDate \"{end}\" is before startDate \"{start}\"; swap them or drop one")]
    EndBeforeStart {
        /// The start bound as given.
        start: String,
        /// The end bound as given.
        end: String,
    },
    /// An `at(..)` local time falls in a daylight-saving gap of its time zone, so it never happens.
    #[error(
        "\"{input}\": {local} does not exist in {timezone} (the clocks skip it); pick a time outside the change"
    )]
    AtSkippedByDst {
        /// The expression as given.
        input: String,
        /// The local time, `yyyy-mm-ddThh:mm:ss`.
        local: String,
        /// The IANA zone name.
        timezone: String,
    },
}

/// The rule an expression breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// Not `rate(..)`, `cron(..)` or `at(..)`.
    #[error(
        "expected `rate(value unit)`, `cron(minutes hours day-of-month month day-of-week year)` or `at(yyyy-mm-ddThh:mm:ss)`"
    )]
    UnknownKind,
    /// `rate(`, `cron(` or `at(` without the closing parenthesis.
    #[error("missing the closing \")\"")]
    Unclosed,
    /// `rate(..)` does not hold exactly a value and a unit.
    #[error("expected `rate(value unit)` such as `rate(5 minutes)`")]
    RateShape,
    /// The rate value is not a positive integer.
    #[error("rate value \"{0}\" is not a positive integer")]
    RateValue(String),
    /// The rate unit is unknown.
    #[error("rate unit \"{0}\" is not one of minute, minutes, hour, hours, day, days")]
    RateUnit(String),
    /// A singular unit with a value other than 1 (EventBridge rejects `rate(5 minute)`).
    #[error("a value other than 1 needs the plural unit: write `rate({value} {plural})`")]
    RateNeedsPlural {
        /// The rate value.
        value: u32,
        /// The unit to use.
        plural: &'static str,
    },
    /// A plural unit with the value 1 (EventBridge rejects `rate(1 minutes)`).
    #[error("the value 1 needs the singular unit: write `rate(1 {singular})`")]
    RateNeedsSingular {
        /// The unit to use.
        singular: &'static str,
    },
    /// `cron(..)` does not have six fields.
    #[error(
        "cron needs six space-separated fields (minutes hours day-of-month month day-of-week year), found {0}"
    )]
    FieldCount(usize),
    /// One field breaks a rule.
    #[error("{field} \"{token}\": {rule}")]
    Field {
        /// The field.
        field: CronField,
        /// The field's text.
        token: String,
        /// The rule broken.
        rule: FieldRule,
    },
    /// Neither day field is `?`.
    #[error("day-of-month and day-of-week are both set; one of them must be \"?\"")]
    DaysBothSet,
    /// Both day fields are `?`.
    #[error("day-of-month and day-of-week are both \"?\"; only one of them may be \"?\"")]
    DaysBothAny,
    /// `at(..)` is not `at(yyyy-mm-ddThh:mm:ss)`.
    #[error("expected `at(yyyy-mm-ddThh:mm:ss)` such as `at(2026-03-01T09:30:00)`")]
    AtShape,
    /// `at(..)` names a date or time that does not exist on any calendar.
    #[error("\"{0}\" is not a real date and time")]
    AtInvalid(String),
}

/// The six fields of a cron expression, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CronField {
    /// 0–59.
    Minutes,
    /// 0–23.
    Hours,
    /// 1–31.
    DayOfMonth,
    /// 1–12 or JAN–DEC.
    Month,
    /// 1–7 (1 = Sunday) or SUN–SAT.
    DayOfWeek,
    /// 1970–2199.
    Year,
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CronField::Minutes => "minutes",
            CronField::Hours => "hours",
            CronField::DayOfMonth => "day-of-month",
            CronField::Month => "month",
            CronField::DayOfWeek => "day-of-week",
            CronField::Year => "year",
        })
    }
}

/// The rule one cron field breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldRule {
    /// An empty field or list item (`1,,2`).
    #[error("has an empty list item")]
    EmptyItem,
    /// A value that is neither a number nor an allowed name.
    #[error("\"{value}\" is not a valid value; use {allowed}")]
    BadValue {
        /// The offending value.
        value: String,
        /// What the field accepts.
        allowed: &'static str,
    },
    /// A number outside the field's range.
    #[error("{value} is out of range {min}-{max}")]
    OutOfRange {
        /// The number.
        value: u32,
        /// The field's minimum.
        min: u32,
        /// The field's maximum.
        max: u32,
    },
    /// `a-b` with `a > b`.
    #[error(
        "range {start}-{end} runs backwards; ranges do not wrap around, so write the smaller value first"
    )]
    ReversedRange {
        /// Range start.
        start: u32,
        /// Range end.
        end: u32,
    },
    /// An increment outside `1..=max`.
    #[error("increment \"{step}\" must be a whole number from 1 to {max}")]
    BadStep {
        /// The increment as written.
        step: String,
        /// Largest allowed increment.
        max: u32,
    },
    /// `?` outside the two day fields, or mixed into a list.
    #[error("\"?\" is allowed only as the whole day-of-month or day-of-week field, in exactly one of them")]
    MisplacedAny,
    /// A wildcard character the field does not support (`L`, `W`, `#`).
    #[error("\"{0}\" is not allowed in this field")]
    WildcardNotAllowed(char),
    /// `L`, `W` or `#` combined with a list, range or increment.
    #[error("\"{0}\" must stand alone in the field, not in a list, range or increment")]
    SpecialNotAlone(char),
    /// More than one `#` in day-of-week (`3#1,6#3`).
    #[error("\"#\" may appear only once in day-of-week")]
    HashTwice,
    /// `day#n` with `n` outside 1–5.
    #[error("the n in \"day#n\" must be 1 to 5, found \"{0}\"")]
    BadNth(String),
}
