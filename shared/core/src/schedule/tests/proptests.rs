//! Property tests: `next_after` agrees with a brute-force, minute-by-minute evaluation.
//!
//! The brute force here is deliberately independent of the production code: expressions are generated as
//! structured values, printed to text for the parser, and matched by a plain predicate over each local minute
//! (walking UTC minutes, so times skipped by a DST jump never occur; a repeated local time counts only at its
//! first occurrence, detected by looking back over the zone's previous offset).

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

use crate::schedule::{Schedule, ScheduleExpression};

#[derive(Debug, Clone)]
enum Item {
    All,
    Value(u32),
    Range(u32, u32),
    Step(u32, u32),
    AllStep(u32),
    RangeStep(u32, u32, u32),
}

#[derive(Debug, Clone)]
enum Days {
    Dom(Vec<Item>),
    Last,
    LastWeekday,
    Nearest(u32),
    Dow(Vec<Item>),
    Saturday,
    LastOf(u32),
    Nth(u32, u32),
}

#[derive(Debug, Clone)]
struct Expr {
    minutes: Vec<Item>,
    hours: Vec<Item>,
    days: Days,
    months: Vec<Item>,
    years: Vec<Item>,
}

struct List<'a>(&'a [Item]);

impl fmt::Display for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, item) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            match item {
                Item::All => write!(f, "*")?,
                Item::Value(a) => write!(f, "{a}")?,
                Item::Range(a, b) => write!(f, "{a}-{b}")?,
                Item::Step(a, s) => write!(f, "{a}/{s}")?,
                Item::AllStep(s) => write!(f, "*/{s}")?,
                Item::RangeStep(a, b, s) => write!(f, "{a}-{b}/{s}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (dom, dow) = match &self.days {
            Days::Dom(items) => (List(items).to_string(), "?".to_owned()),
            Days::Last => ("L".to_owned(), "?".to_owned()),
            Days::LastWeekday => ("LW".to_owned(), "?".to_owned()),
            Days::Nearest(n) => (format!("{n}W"), "?".to_owned()),
            Days::Dow(items) => ("?".to_owned(), List(items).to_string()),
            Days::Saturday => ("?".to_owned(), "L".to_owned()),
            Days::LastOf(d) => ("?".to_owned(), format!("{d}L")),
            Days::Nth(d, n) => ("?".to_owned(), format!("{d}#{n}")),
        };
        let (minutes, hours, months, years) = (
            List(&self.minutes),
            List(&self.hours),
            List(&self.months),
            List(&self.years),
        );
        write!(f, "cron({minutes} {hours} {dom} {months} {dow} {years})")
    }
}

fn item_matches(items: &[Item], value: u32, min: u32) -> bool {
    items.iter().any(|item| match *item {
        Item::All => true,
        Item::Value(a) => value == a,
        Item::Range(a, b) => a <= value && value <= b,
        Item::Step(a, s) => value >= a && (value - a).is_multiple_of(s),
        Item::AllStep(s) => (value - min).is_multiple_of(s),
        Item::RangeStep(a, b, s) => a <= value && value <= b && (value - a).is_multiple_of(s),
    })
}

fn month_length(date: NaiveDate) -> u32 {
    (28..=31)
        .rev()
        .find(|d| date.with_day(*d).is_some())
        .unwrap_or(28)
}

fn is_weekday(date: NaiveDate) -> bool {
    (2..=6).contains(&date.weekday().number_from_sunday())
}

fn day_matches(days: &Days, date: NaiveDate) -> bool {
    let (day, length, weekday) = (
        date.day(),
        month_length(date),
        date.weekday().number_from_sunday(),
    );
    let weekdays = || {
        (1..=length)
            .filter_map(|d| date.with_day(d))
            .filter(|d| is_weekday(*d))
    };
    match days {
        Days::Dom(items) => item_matches(items, day, 1),
        Days::Last => day == length,
        Days::LastWeekday => is_weekday(date) && weekdays().all(|other| other.day() <= day),
        Days::Nearest(n) => {
            *n <= length
                && is_weekday(date)
                && weekdays().all(|other| other.day().abs_diff(*n) >= day.abs_diff(*n))
        }
        Days::Dow(items) => item_matches(items, weekday, 1),
        Days::Saturday => weekday == 7,
        Days::LastOf(d) => weekday == *d && day + 7 > length,
        Days::Nth(d, n) => weekday == *d && (day - 1) / 7 + 1 == *n,
    }
}

impl Expr {
    fn matches(&self, local: NaiveDateTime) -> bool {
        item_matches(&self.minutes, local.minute(), 0)
            && item_matches(&self.hours, local.hour(), 0)
            && item_matches(&self.months, local.month(), 1)
            && item_matches(&self.years, local.year() as u32, 1970)
            && day_matches(&self.days, local.date())
    }
}

/// Whether the local time shown at `instant` was already shown earlier (clocks went back within 3 hours).
fn is_repeat(zone: Tz, instant: DateTime<Utc>) -> bool {
    let offset = |at: DateTime<Utc>| at.with_timezone(&zone).naive_local() - at.naive_utc();
    let (now, before) = (offset(instant), offset(instant - TimeDelta::hours(3)));
    let earlier = instant - (before - now);
    before > now && earlier < instant && offset(earlier) == before
}

/// Every fire time in `(after, until]`, by walking UTC minutes.
fn brute_force(expr: &Expr, zone: Tz, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut instant = after.with_second(0).unwrap().with_nanosecond(0).unwrap() + TimeDelta::minutes(1);
    let mut out = Vec::new();
    while instant <= until {
        let local = instant.with_timezone(&zone).naive_local();
        if expr.matches(local) && !is_repeat(zone, instant) {
            out.push(instant);
        }
        instant += TimeDelta::minutes(1);
    }
    out
}

/// Successive `next_after` calls from `after` up to `until`, checking that each is strictly later.
fn chained(schedule: &Schedule, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut t = after;
    while let Some(next) = schedule.next_after(t) {
        assert!(next > t, "{schedule}: {next} is not after {t}");
        if next > until {
            break;
        }
        out.push(next);
        t = next;
    }
    out
}

/// Checks the canonical text parses back, compares the two searches over `days` days, and returns how many
/// fire times they found.
fn check(expr: &Expr, zone: Tz, after: DateTime<Utc>, days: i64) -> usize {
    let text = expr.to_string();
    let schedule = Schedule::parse(&text, zone.name()).unwrap();
    let canonical = schedule.expression().to_string();
    assert_eq!(
        canonical.parse::<ScheduleExpression>().as_ref(),
        Ok(schedule.expression()),
        "{text}"
    );
    let until = after + TimeDelta::days(days);
    let expected = brute_force(expr, zone, after, until);
    let got = chained(&schedule, after, until);
    assert_eq!(got, expected, "{text} in {zone} after {after}");
    got.len()
}

fn item(min: u32, max: u32, max_step: u32) -> impl Strategy<Value = Item> {
    let ordered = move |(a, b): (u32, u32)| (a.min(b), a.max(b));
    prop_oneof![
        Just(Item::All),
        (min..=max).prop_map(Item::Value),
        (min..=max, min..=max).prop_map(move |pair| {
            let (a, b) = ordered(pair);
            Item::Range(a, b)
        }),
        (min..=max, 1..=max_step).prop_map(|(a, s)| Item::Step(a, s)),
        (1..=max_step).prop_map(Item::AllStep),
        (min..=max, min..=max, 1..=max_step).prop_map(move |(a, b, s)| {
            let (a, b) = ordered((a, b));
            Item::RangeStep(a, b, s)
        }),
    ]
}

fn items(min: u32, max: u32, max_step: u32) -> impl Strategy<Value = Vec<Item>> {
    prop::collection::vec(item(min, max, max_step), 1..=3)
}

fn days() -> impl Strategy<Value = Days> {
    prop_oneof![
        items(1, 31, 31).prop_map(Days::Dom),
        Just(Days::Last),
        Just(Days::LastWeekday),
        (1..=31u32).prop_map(Days::Nearest),
        items(1, 7, 7).prop_map(Days::Dow),
        Just(Days::Saturday),
        (1..=7u32).prop_map(Days::LastOf),
        (1..=7u32, 1..=5u32).prop_map(|(d, n)| Days::Nth(d, n)),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    // Years near the start times, or every year, so that most expressions fire inside the horizon.
    let years = prop_oneof![3 => Just(vec![Item::All]), 1 => items(2024, 2030, 3)];
    (
        items(0, 59, 59),
        items(0, 23, 23),
        days(),
        items(1, 12, 12),
        years,
    )
        .prop_map(|(minutes, hours, days, months, years)| Expr {
            minutes,
            hours,
            days,
            months,
            years,
        })
}

const ZONES: &[Tz] = &[
    Tz::UTC,
    Tz::Europe__London,
    Tz::America__New_York,
    Tz::Australia__Lord_Howe,
    Tz::America__Santiago,
    Tz::Asia__Kolkata,
];

fn start() -> impl Strategy<Value = DateTime<Utc>> {
    // 2025-01-01 .. 2028-01-01, to the second; DST changes fall inside a 45-day window about a quarter of the time.
    (1_735_689_600i64..1_830_297_600).prop_map(|seconds| DateTime::from_timestamp(seconds, 0).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn next_after_matches_a_minute_by_minute_search_over_45_days(
        expr in expr(),
        zone in prop::sample::select(ZONES),
        after in start(),
    ) {
        let _fire_times = check(&expr, zone, after, 45);
    }
}

fn every(step: u32) -> Vec<Item> {
    vec![Item::AllStep(step)]
}

#[test]
fn next_after_matches_a_minute_by_minute_search_over_a_full_year_for_dst_sensitive_expressions() {
    let at = |minute: u32, hour: u32, days: Days| Expr {
        minutes: vec![Item::Value(minute)],
        hours: vec![Item::Value(hour)],
        days,
        months: vec![Item::All],
        years: vec![Item::All],
    };
    let cases = [
        (at(30, 1, Days::Dom(vec![Item::All])), Tz::Europe__London),
        (at(0, 2, Days::Nth(1, 2)), Tz::America__New_York),
        (
            at(45, 1, Days::Dow(vec![Item::Range(1, 2)])),
            Tz::America__New_York,
        ),
        (at(0, 0, Days::LastWeekday), Tz::America__Santiago),
        (at(15, 2, Days::Nearest(1)), Tz::Australia__Lord_Howe),
        (
            Expr {
                minutes: every(15),
                hours: vec![Item::Range(0, 3)],
                days: Days::Dow(vec![Item::Value(1)]),
                months: vec![Item::All],
                years: vec![Item::All],
            },
            Tz::Europe__London,
        ),
    ];
    let after = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .to_utc();
    for (expr, zone) in cases {
        let fire_times = check(&expr, zone, after, 366);
        // 11, not 12: `cron(0 2 ? * 1#2 *)` in New York falls in the March gap (second Sunday, 02:00).
        assert!(
            fire_times >= 11,
            "{expr} in {zone} fired only {fire_times} times in a year"
        );
    }
}
