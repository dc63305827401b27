//! Parsing the six fields of an EventBridge `cron(..)` expression into value sets and day rules.
//!
//! Grammar per field (EventBridge / Quartz flavour): a comma list of items, each `*`, `v`, `a-b`, `*/s`, `v/s`
//! or `a-b/s` (`v/s` runs from `v` to the field maximum). Day-of-month also takes `?`, `L`, `LW` and `nW`;
//! day-of-week takes `?`, `L` (Saturday), `nL` (last weekday-n of the month) and `n#k` (k-th weekday-n).
//!
//! Decisions where AWS documents less than we need (reference §8.1; tagged [I] there):
//! - `*/s` and `a-b/s` are accepted: users report `*/1` and `0-15/1` working on EventBridge and `*/60`
//!   rejected, so an increment must be 1 to the field's maximum (59, 23, 31, 12, 7; 229 for years).
//! - Ranges do not wrap (`FRI-MON`, `22-2` are rejected with a hint) and `?` must be a whole field.
//! - `L`, `LW`, `nW`, `nL` and `n#k` must be the whole field; so `#` appears at most once, as AWS requires.
//! - Month and weekday names are case-insensitive and print upper-case.
//! - An expression that can never fire (`cron(0 0 30 2 ? *)`) is accepted, as Quartz does; it has no fire time.

use super::bits::Bits;
use super::{Cron, Days};
use crate::schedule::error::{CronField, FieldRule, Problem};

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Bounds, names and the hint for one field.
struct Spec {
    field: CronField,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    allowed: &'static str,
}

const MINUTES: Spec = Spec {
    field: CronField::Minutes,
    min: 0,
    max: 59,
    names: &[],
    allowed: "0-59",
};
const HOURS: Spec = Spec {
    field: CronField::Hours,
    min: 0,
    max: 23,
    names: &[],
    allowed: "0-23",
};
const DAY_OF_MONTH: Spec = Spec {
    field: CronField::DayOfMonth,
    min: 1,
    max: 31,
    names: &[],
    allowed: "1-31, ?, L, LW or nW",
};
const MONTH: Spec = Spec {
    field: CronField::Month,
    min: 1,
    max: 12,
    names: MONTHS,
    allowed: "1-12 or JAN-DEC",
};
const DAY_OF_WEEK: Spec = Spec {
    field: CronField::DayOfWeek,
    min: 1,
    max: 7,
    names: WEEKDAYS,
    allowed: "1-7 (1 = Sunday) or SUN-SAT",
};
const YEAR: Spec = Spec {
    field: CronField::Year,
    min: 1970,
    max: 2199,
    names: &[],
    allowed: "1970-2199",
};

/// Parses the text between `cron(` and `)`.
pub(super) fn parse_cron(inner: &str) -> Result<Cron, Problem> {
    let tokens: Vec<String> = inner.split_whitespace().map(str::to_ascii_uppercase).collect();
    let [minute, hour, dom, month, dow, year] = tokens.as_slice() else {
        return Err(Problem::FieldCount(tokens.len()));
    };
    let field = |spec: &Spec, token: &str| list(spec, token).map_err(|rule| fail(spec, token, rule));
    let minutes = field(&MINUTES, minute)?;
    let hours = field(&HOURS, hour)?;
    let day_of_month = day_of_month(dom).map_err(|rule| fail(&DAY_OF_MONTH, dom, rule))?;
    let months = field(&MONTH, month)?;
    let day_of_week = day_of_week(dow).map_err(|rule| fail(&DAY_OF_WEEK, dow, rule))?;
    let years = field(&YEAR, year)?;
    let days = match (day_of_month, day_of_week) {
        (Some(days), None) | (None, Some(days)) => days,
        (None, None) => return Err(Problem::DaysBothAny),
        (Some(_), Some(_)) => return Err(Problem::DaysBothSet),
    };
    Ok(Cron {
        fields: tokens.join(" "),
        minutes,
        hours,
        days,
        months,
        years,
    })
}

fn fail(spec: &Spec, token: &str, rule: FieldRule) -> Problem {
    Problem::Field {
        field: spec.field,
        token: token.to_owned(),
        rule,
    }
}

/// A plain comma list; the values it allows, in any order.
fn values(spec: &Spec, token: &str) -> Result<Vec<u32>, FieldRule> {
    if token.contains('?') {
        return Err(FieldRule::MisplacedAny);
    }
    // Month and day-of-week names contain letters such as L and W; there a bad name reads better.
    let wildcards: &[char] = if spec.names.is_empty() {
        &['L', 'W', '#']
    } else {
        &['#']
    };
    if let Some(&wildcard) = wildcards.iter().find(|c| token.contains(**c)) {
        return Err(FieldRule::WildcardNotAllowed(wildcard));
    }
    let mut out = Vec::new();
    for item in token.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => (base, Some(parse_step(spec, step)?)),
            None => (item, None),
        };
        let (start, end) = match (base, base.split_once('-')) {
            ("", _) => return Err(FieldRule::EmptyItem),
            ("*", _) => (spec.min, spec.max),
            (_, Some((a, b))) if a.is_empty() || b.is_empty() => {
                return Err(FieldRule::BadValue {
                    value: base.to_owned(),
                    allowed: spec.allowed,
                });
            }
            (_, Some((a, b))) => {
                let (start, end) = (value(spec, a)?, value(spec, b)?);
                if start > end {
                    return Err(FieldRule::ReversedRange { start, end });
                }
                (start, end)
            }
            (single, None) => {
                let start = value(spec, single)?;
                (start, if step.is_some() { spec.max } else { start })
            }
        };
        out.extend((start..=end).step_by(step.unwrap_or(1) as usize));
    }
    Ok(out)
}

/// The field's values as a set; years are stored as offsets from 1970 so that they fit in 256 bits.
fn list(spec: &Spec, token: &str) -> Result<Bits, FieldRule> {
    let offset = if spec.field == CronField::Year {
        spec.min
    } else {
        0
    };
    let mut bits = Bits::default();
    for value in values(spec, token)? {
        bits.insert(value - offset);
    }
    Ok(bits)
}

fn parse_step(spec: &Spec, step: &str) -> Result<u32, FieldRule> {
    let max = if spec.field == CronField::Year {
        spec.max - spec.min
    } else {
        spec.max
    };
    match digits(step) {
        Some(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(FieldRule::BadStep {
            step: step.to_owned(),
            max,
        }),
    }
}

fn value(spec: &Spec, text: &str) -> Result<u32, FieldRule> {
    let number = match digits(text) {
        Some(n) => n,
        None => match spec.names.iter().position(|name| *name == text) {
            Some(index) => return Ok(spec.min + index as u32),
            None => {
                return Err(FieldRule::BadValue {
                    value: text.to_owned(),
                    allowed: spec.allowed,
                });
            }
        },
    };
    if (spec.min..=spec.max).contains(&number) {
        Ok(number)
    } else {
        Err(FieldRule::OutOfRange {
            value: number,
            min: spec.min,
            max: spec.max,
        })
    }
}

/// A non-empty run of ASCII digits that fits in `u32` (no sign, no spaces).
fn digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The day-of-month rule, or `None` for `?`.
fn day_of_month(token: &str) -> Result<Option<Days>, FieldRule> {
    if token == "?" {
        return Ok(None);
    }
    if token.contains('#') {
        return Err(FieldRule::WildcardNotAllowed('#'));
    }
    let special = ['L', 'W'].into_iter().find(|c| token.contains(*c));
    let Some(special) = special else {
        return list(&DAY_OF_MONTH, token).map(|days| Some(Days::OfMonth(days)));
    };
    match token {
        "L" => Ok(Some(Days::LastOfMonth)),
        "LW" => Ok(Some(Days::LastWeekdayOfMonth)),
        _ if token.contains([',', '-', '/', '*']) => Err(FieldRule::SpecialNotAlone(special)),
        _ => match token.strip_suffix('W') {
            Some(day) if !day.is_empty() && !day.contains('L') => {
                value(&DAY_OF_MONTH, day).map(|day| Some(Days::NearestWeekday(day)))
            }
            _ => Err(FieldRule::BadValue {
                value: token.to_owned(),
                allowed: DAY_OF_MONTH.allowed,
            }),
        },
    }
}

/// The day-of-week rule, or `None` for `?`.
fn day_of_week(token: &str) -> Result<Option<Days>, FieldRule> {
    if token == "?" {
        return Ok(None);
    }
    if token.contains('W') && !token.contains("WED") {
        return Err(FieldRule::WildcardNotAllowed('W'));
    }
    if token.matches('#').count() > 1 {
        return Err(FieldRule::HashTwice);
    }
    let special = if token.contains('#') {
        Some('#')
    } else if token.ends_with('L') || token.contains("L,") {
        Some('L')
    } else {
        None
    };
    let Some(special) = special else {
        return list(&DAY_OF_WEEK, token).map(|days| Some(Days::OfWeek(days)));
    };
    if token.contains([',', '-', '/', '*']) {
        return Err(FieldRule::SpecialNotAlone(special));
    }
    if token == "L" {
        // `L` alone is the last day of the week: every Saturday.
        let mut saturday = Bits::default();
        saturday.insert(7);
        return Ok(Some(Days::OfWeek(saturday)));
    }
    match token.split_once('#') {
        Some((day, nth)) => {
            let day = value(&DAY_OF_WEEK, day)?;
            match digits(nth) {
                Some(n @ 1..=5) => Ok(Some(Days::NthOfWeek { day, n })),
                _ => Err(FieldRule::BadNth(nth.to_owned())),
            }
        }
        None => {
            let day = token.strip_suffix('L').unwrap_or(token);
            value(&DAY_OF_WEEK, day).map(|day| Some(Days::LastOfWeek(day)))
        }
    }
}
