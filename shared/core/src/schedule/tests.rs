//! Table-driven tests of schedule parsing, printing, serde and fire times (DST, L/W/#, leap years, bounds).

mod proptests;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{CronField, FieldRule, Problem, Schedule, ScheduleError, ScheduleExpression, ScheduleSpec};

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

/// The next `count` fire times after `after`, as RFC 3339 strings (fewer if the schedule ends).
fn fires(expression: &str, timezone: &str, after: &str, count: usize) -> Vec<String> {
    let schedule = Schedule::parse(expression, timezone).unwrap();
    let mut t = utc(after);
    let mut out = Vec::new();
    while out.len() < count {
        let Some(next) = schedule.next_after(t) else { break };
        assert!(next > t, "{expression}: {next} is not after {t}");
        out.push(next.format("%Y-%m-%dT%H:%MZ").to_string());
        t = next;
    }
    out
}

#[test]
fn cron_examples_fire_at_the_expected_times() {
    // (expression, zone, after, next fire times)
    let cases: &[(&str, &str, &str, &[&str])] = &[
        // The reference's examples (section 8.1), UTC.
        (
            "cron(0 10 * * ? *)",
            "UTC",
            "2026-11-24T18:19:00Z",
            &["2026-11-25T10:00Z", "2026-11-26T10:00Z", "2026-11-27T10:00Z"],
        ),
        (
            "cron(15 12 * * ? *)",
            "UTC",
            "2026-11-24T12:15:00Z",
            &["2026-11-25T12:15Z", "2026-11-26T12:15Z"],
        ),
        (
            "cron(0 18 ? * MON-FRI *)",
            "UTC",
            "2026-11-27T18:00:00Z",
            &["2026-11-30T18:00Z", "2026-12-01T18:00Z", "2026-12-02T18:00Z"],
        ),
        (
            "cron(0 8 1 * ? *)",
            "UTC",
            "2026-11-24T18:19:00Z",
            &["2026-12-01T08:00Z", "2027-01-01T08:00Z", "2027-02-01T08:00Z"],
        ),
        (
            "cron(0/15 * * * ? *)",
            "UTC",
            "2026-11-24T18:19:30Z",
            &["2026-11-24T18:30Z", "2026-11-24T18:45Z", "2026-11-24T19:00Z"],
        ),
        (
            "cron(0/5 8-17 ? * MON-FRI *)",
            "UTC",
            "2026-11-27T17:55:00Z",
            &["2026-11-30T08:00Z", "2026-11-30T08:05Z"],
        ),
        // Increments, ranges with increments, `*/n`, lists, names in any case.
        (
            "cron(1/10 * * * ? *)",
            "UTC",
            "2026-11-24T10:51:00Z",
            &["2026-11-24T11:01Z", "2026-11-24T11:11Z"],
        ),
        (
            "cron(*/20 9 * * ? *)",
            "UTC",
            "2026-11-24T09:40:00Z",
            &["2026-11-25T09:00Z", "2026-11-25T09:20Z"],
        ),
        (
            "cron(0-15/5 12 * * ? *)",
            "UTC",
            "2026-11-24T12:10:00Z",
            &["2026-11-24T12:15Z", "2026-11-25T12:00Z"],
        ),
        (
            "cron(0 6,18 * * ? *)",
            "UTC",
            "2026-11-24T06:00:00Z",
            &["2026-11-24T18:00Z", "2026-11-25T06:00Z"],
        ),
        (
            "cron(0 0 1 jan,jul ? *)",
            "UTC",
            "2026-11-24T00:00:00Z",
            &["2027-01-01T00:00Z", "2027-07-01T00:00Z"],
        ),
        (
            "cron(0 0 ? * SUN *)",
            "UTC",
            "2026-11-24T00:00:00Z",
            &["2026-11-29T00:00Z", "2026-12-06T00:00Z"],
        ),
        (
            "cron(0 0 ? * 1 *)",
            "UTC",
            "2026-11-24T00:00:00Z",
            &["2026-11-29T00:00Z"],
        ),
        // L, LW, W, nL, #.
        (
            "cron(0 0 L * ? *)",
            "UTC",
            "2028-02-01T00:00:00Z",
            &["2028-02-29T00:00Z", "2028-03-31T00:00Z", "2028-04-30T00:00Z"],
        ),
        (
            "cron(0 0 L * ? *)",
            "UTC",
            "2027-02-01T00:00:00Z",
            &["2027-02-28T00:00Z"],
        ),
        (
            "cron(0 0 LW * ? *)",
            "UTC",
            "2026-01-01T00:00:00Z",
            &[
                "2026-01-30T00:00Z",
                "2026-02-27T00:00Z",
                "2026-03-31T00:00Z",
                "2026-04-30T00:00Z",
                "2026-05-29T00:00Z",
            ],
        ),
        (
            "cron(0 0 15W * ? *)",
            "UTC",
            "2026-08-01T00:00:00Z",
            &["2026-08-14T00:00Z", "2026-09-15T00:00Z"],
        ),
        (
            "cron(0 0 15W * ? *)",
            "UTC",
            "2026-11-01T00:00:00Z",
            &["2026-11-16T00:00Z"],
        ),
        (
            "cron(0 0 1W * ? *)",
            "UTC",
            "2026-07-31T00:00:00Z",
            &["2026-08-03T00:00Z"],
        ),
        (
            "cron(0 0 31W * ? *)",
            "UTC",
            "2026-04-01T00:00:00Z",
            &["2026-05-29T00:00Z", "2026-07-31T00:00Z"],
        ),
        (
            "cron(0 0 ? * 6L *)",
            "UTC",
            "2026-11-01T00:00:00Z",
            &["2026-11-27T00:00Z", "2026-12-25T00:00Z", "2027-01-29T00:00Z"],
        ),
        (
            "cron(0 0 ? * FRIL *)",
            "UTC",
            "2026-11-01T00:00:00Z",
            &["2026-11-27T00:00Z"],
        ),
        (
            "cron(0 0 ? * L *)",
            "UTC",
            "2026-11-24T00:00:00Z",
            &["2026-11-28T00:00Z", "2026-12-05T00:00Z"],
        ),
        (
            "cron(0 0 ? * 3#2 *)",
            "UTC",
            "2026-12-01T00:00:00Z",
            &["2026-12-08T00:00Z", "2027-01-12T00:00Z", "2027-02-09T00:00Z"],
        ),
        (
            "cron(0 0 ? * MON#5 *)",
            "UTC",
            "2026-09-01T00:00:00Z",
            &["2026-11-30T00:00Z", "2027-03-29T00:00Z", "2027-05-31T00:00Z"],
        ),
        // Leap years and days that some months lack.
        (
            "cron(0 12 29 2 ? *)",
            "UTC",
            "2026-01-01T00:00:00Z",
            &["2028-02-29T12:00Z", "2032-02-29T12:00Z", "2036-02-29T12:00Z"],
        ),
        (
            "cron(0 12 29 2 ? *)",
            "UTC",
            "2096-03-01T00:00:00Z",
            &["2104-02-29T12:00Z"],
        ),
        ("cron(0 0 30 2 ? *)", "UTC", "2026-01-01T00:00:00Z", &[]),
        ("cron(0 0 31 2,4,6,9,11 ? *)", "UTC", "2026-01-01T00:00:00Z", &[]),
        (
            "cron(0 0 31 * ? *)",
            "UTC",
            "2026-11-24T00:00:00Z",
            &["2026-12-31T00:00Z", "2027-01-31T00:00Z", "2027-03-31T00:00Z"],
        ),
        // Year bounds and year lists.
        (
            "cron(0 0 1 1 ? 2030/5)",
            "UTC",
            "2026-11-24T00:00:00Z",
            &["2030-01-01T00:00Z", "2035-01-01T00:00Z", "2040-01-01T00:00Z"],
        ),
        (
            "cron(59 23 31 12 ? 2199)",
            "UTC",
            "2199-06-01T00:00:00Z",
            &["2199-12-31T23:59Z"],
        ),
        (
            "cron(0 0 1 1 ? 1970)",
            "UTC",
            "1960-05-01T00:00:00Z",
            &["1970-01-01T00:00Z"],
        ),
        ("cron(0 0 * * ? 2020-2022)", "UTC", "2026-11-24T00:00:00Z", &[]),
        (
            "cron(* * * * ? *)",
            "UTC",
            "2199-12-31T23:58:00Z",
            &["2199-12-31T23:59Z"],
        ),
    ];
    for (expression, zone, after, expected) in cases {
        assert_eq!(
            fires(expression, zone, after, expected.len().max(1)),
            *expected,
            "{expression} after {after}"
        );
    }
}

#[test]
fn daylight_saving_changes_skip_missing_times_and_fire_repeated_times_once() {
    let cases: &[(&str, &str, &str, &[&str])] = &[
        // London: 2026-03-29 01:00 GMT jumps to 02:00 BST; 2026-10-25 02:00 BST falls back to 01:00 GMT.
        (
            "cron(30 1 * * ? *)",
            "Europe/London",
            "2026-03-28T00:00:00Z",
            &["2026-03-28T01:30Z", "2026-03-30T00:30Z"],
        ),
        (
            "cron(0 * * * ? *)",
            "Europe/London",
            "2026-03-29T00:00:00Z",
            &["2026-03-29T01:00Z", "2026-03-29T02:00Z"],
        ),
        (
            "cron(30 1 * * ? *)",
            "Europe/London",
            "2026-10-24T12:00:00Z",
            &["2026-10-25T00:30Z", "2026-10-26T01:30Z"],
        ),
        (
            "cron(30 1 * * ? *)",
            "Europe/London",
            "2026-10-25T00:30:00Z",
            &["2026-10-26T01:30Z"],
        ),
        (
            "cron(30 1 * * ? *)",
            "Europe/London",
            "2026-10-25T01:00:00Z",
            &["2026-10-26T01:30Z"],
        ),
        (
            "cron(0 10 * * ? *)",
            "Europe/London",
            "2026-03-28T12:00:00Z",
            &["2026-03-29T09:00Z", "2026-03-30T09:00Z"],
        ),
        // New York: 2026-03-08 02:00 EST jumps to 03:00 EDT; 2026-11-01 02:00 EDT falls back to 01:00 EST.
        (
            "cron(30 2 * * ? *)",
            "America/New_York",
            "2026-03-07T12:00:00Z",
            &["2026-03-09T06:30Z", "2026-03-10T06:30Z"],
        ),
        (
            "cron(30 1 * * ? *)",
            "America/New_York",
            "2026-10-31T12:00:00Z",
            &["2026-11-01T05:30Z", "2026-11-02T06:30Z"],
        ),
        (
            "cron(0/30 * * * ? *)",
            "America/New_York",
            "2026-11-01T04:45:00Z",
            &["2026-11-01T05:00Z", "2026-11-01T05:30Z", "2026-11-01T07:00Z"],
        ),
        (
            "cron(0/30 * * * ? *)",
            "America/New_York",
            "2026-03-08T06:45:00Z",
            &["2026-03-08T07:00Z", "2026-03-08T07:30Z"],
        ),
        // rate(..) is elapsed time: 00:00 UTC every day, whatever the zone's clocks do.
        (
            "rate(1 day)",
            "Europe/London",
            "2026-03-28T12:00:00Z",
            &["2026-03-29T00:00Z", "2026-03-30T00:00Z"],
        ),
    ];
    for (expression, zone, after, expected) in cases {
        assert_eq!(
            fires(expression, zone, after, expected.len()),
            *expected,
            "{expression} in {zone} after {after}"
        );
    }
}

#[test]
fn rate_schedules_count_whole_periods_from_the_epoch_or_the_start_date() {
    assert_eq!(
        fires("rate(15 minutes)", "UTC", "2026-11-24T18:19:59Z", 2),
        ["2026-11-24T18:30Z", "2026-11-24T18:45Z"]
    );
    assert_eq!(
        fires("rate(1 hour)", "UTC", "2026-11-24T18:00:00Z", 1),
        ["2026-11-24T19:00Z"]
    );
    let schedule: Schedule = serde_json::from_str(
        r#"{"expression": "rate(2 hours)", "startDate": "2026-01-01T00:30:00Z", "endDate": "2026-01-01T05:00:00Z"}"#,
    )
    .unwrap();
    let next = |after: &str| schedule.next_after(utc(after));
    assert_eq!(next("2025-12-01T00:00:00Z"), Some(utc("2026-01-01T00:30:00Z")));
    assert_eq!(next("2026-01-01T00:30:00Z"), Some(utc("2026-01-01T02:30:00Z")));
    assert_eq!(next("2026-01-01T03:00:00Z"), Some(utc("2026-01-01T04:30:00Z")));
    assert_eq!(next("2026-01-01T04:30:00Z"), None);
}

#[test]
fn start_and_end_dates_bound_cron_schedules() {
    let schedule = Schedule::parse("cron(0 10 * * ? *)", "UTC")
        .unwrap()
        .starting_at(utc("2026-12-01T10:00:00Z"))
        .ending_at(utc("2026-12-02T10:00:00Z"));
    assert_eq!(
        schedule.next_after(utc("2026-11-24T00:00:00Z")),
        Some(utc("2026-12-01T10:00:00Z"))
    );
    assert_eq!(
        schedule.next_after(utc("2026-12-01T10:00:00Z")),
        Some(utc("2026-12-02T10:00:00Z"))
    );
    assert_eq!(schedule.next_after(utc("2026-12-02T10:00:00Z")), None);
}

#[test]
fn at_schedules_fire_once_at_their_local_time() {
    let cases = [
        ("at(2026-03-01T09:30:00)", "Europe/London", "2026-03-01T09:30:00Z"),
        ("at(2026-07-01T09:30:00)", "Europe/London", "2026-07-01T08:30:00Z"),
        (
            "at(2026-07-01T09:30:00)",
            "America/New_York",
            "2026-07-01T13:30:00Z",
        ),
        // A repeated local time means its first occurrence.
        ("at(2026-10-25T01:30:00)", "Europe/London", "2026-10-25T00:30:00Z"),
    ];
    for (expression, zone, instant) in cases {
        let schedule = Schedule::parse(expression, zone).unwrap();
        assert_eq!(
            schedule.next_after(utc("2026-01-01T00:00:00Z")),
            Some(utc(instant)),
            "{expression}"
        );
        assert_eq!(schedule.next_after(utc(instant)), None, "{expression}");
    }
}

#[test]
fn an_at_time_skipped_by_daylight_saving_is_rejected() {
    let error = Schedule::parse("at(2026-03-29T01:30:00)", "Europe/London").unwrap_err();
    assert!(matches!(error, ScheduleError::AtSkippedByDst { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "\"at(2026-03-29T01:30:00)\": 2026-03-29T01:30:00 does not exist in Europe/London (the clocks skip it); pick a time outside the change"
    );
}

#[test]
fn expressions_print_in_canonical_form_and_parse_back_to_the_same_value() {
    let cases = [
        ("cron(0 18 ? * mon-fri *)", "cron(0 18 ? * MON-FRI *)"),
        ("  cron(0   10 * *  ? *) ", "cron(0 10 * * ? *)"),
        ("cron(0 0 15w * ? *)", "cron(0 0 15W * ? *)"),
        ("rate(5 minutes)", "rate(5 minutes)"),
        ("rate(1 day)", "rate(1 day)"),
        ("rate(007 hours)", "rate(7 hours)"),
        ("at(2026-03-01T09:30:00)", "at(2026-03-01T09:30:00)"),
    ];
    for (input, canonical) in cases {
        let parsed: ScheduleExpression = input.parse().unwrap();
        assert_eq!(parsed.to_string(), canonical);
        assert_eq!(canonical.parse::<ScheduleExpression>().unwrap(), parsed);
    }
    let schedule = Schedule::parse("cron(0 10 * * ? *)", "Europe/London").unwrap();
    assert_eq!(schedule.to_string(), "cron(0 10 * * ? *)");
    assert_eq!(schedule.describe(), "cron(0 10 * * ? *) in Europe/London");
}

#[test]
fn schedules_deserialise_from_a_bare_expression_or_a_spec_and_serialise_as_a_spec() {
    let bare: Schedule = serde_json::from_str(r#""rate(1 hour)""#).unwrap();
    assert_eq!(bare.timezone(), Tz::UTC);
    assert_eq!(
        serde_json::to_string(&bare).unwrap(),
        r#"{"expression":"rate(1 hour)"}"#
    );

    let json = r#"{"expression":"cron(0 10 * * ? *)","timezone":"Europe/London","startDate":"2026-01-01T00:00:00Z"}"#;
    let spec: Schedule = serde_json::from_str(json).unwrap();
    assert_eq!(spec.timezone(), Tz::Europe__London);
    assert_eq!(spec.start(), Some(utc("2026-01-01T00:00:00Z")));
    assert_eq!(serde_json::to_string(&spec).unwrap(), json);
    assert_eq!(serde_json::from_str::<Schedule>(json).unwrap(), spec);

    let expression: ScheduleExpression = serde_json::from_str(r#""cron(0 8 1 * ? *)""#).unwrap();
    assert_eq!(
        serde_json::to_string(&expression).unwrap(),
        r#""cron(0 8 1 * ? *)""#
    );
}

#[test]
fn bad_specs_name_the_key_and_quote_the_value() {
    let spec =
        |expression: &str, timezone: Option<&str>, start: Option<&str>, end: Option<&str>| ScheduleSpec {
            expression: expression.to_owned(),
            timezone: timezone.map(str::to_owned),
            start_date: start.map(str::to_owned),
            end_date: end.map(str::to_owned),
        };
    let cases = [
        (
            spec("rate(1 day)", Some("Mars/Olympus"), None, None),
            "unknown time zone \"Mars/Olympus\"; use an IANA name such as \"Europe/London\" or \"UTC\"",
        ),
        (
            spec("rate(1 day)", None, Some("yesterday"), None),
            "startDate \"yesterday\" is not an RFC 3339 date-time such as \"2026-01-01T00:00:00Z\"",
        ),
        (
            spec(
                "rate(1 day)",
                None,
                Some("2026-02-01T00:00:00Z"),
                Some("2026-01-01T00:00:00Z"),
            ),
            "endDate \"2026-01-01T00:00:00Z\" is before startDate \"2026-02-01T00:00:00Z\"; swap them or drop one",
        ),
        (
            spec("rate(5 minute)", None, None, None),
            "\"rate(5 minute)\": a value other than 1 needs the plural unit: write `rate(5 minutes)`",
        ),
    ];
    for (spec, message) in cases {
        assert_eq!(Schedule::try_from(spec).unwrap_err().to_string(), message);
    }
    let unknown_key = serde_json::from_str::<ScheduleSpec>(r#"{"expression":"rate(1 day)","tz":"UTC"}"#);
    assert!(
        unknown_key
            .unwrap_err()
            .to_string()
            .contains("unknown field `tz`")
    );
}

fn field(field: CronField, token: &str, rule: FieldRule) -> Problem {
    Problem::Field {
        field,
        token: token.to_owned(),
        rule,
    }
}

fn out_of_range(value: u32, min: u32, max: u32) -> FieldRule {
    FieldRule::OutOfRange { value, min, max }
}

fn bad_value(value: &str, allowed: &'static str) -> FieldRule {
    FieldRule::BadValue {
        value: value.to_owned(),
        allowed,
    }
}

fn bad_step(step: &str, max: u32) -> FieldRule {
    FieldRule::BadStep {
        step: step.to_owned(),
        max,
    }
}

#[test]
fn invalid_expressions_are_rejected_with_the_rule_they_break() {
    use CronField::{DayOfMonth, DayOfWeek, Hours, Minutes, Month, Year};
    const DOM: &str = "1-31, ?, L, LW or nW";
    const DOW: &str = "1-7 (1 = Sunday) or SUN-SAT";
    let cases: Vec<(&str, Problem)> = vec![
        ("cron(0 0 W * ? *)", field(DayOfMonth, "W", bad_value("W", DOM))),
        (
            "cron(0 0 ? * FRI-MON *)",
            field(
                DayOfWeek,
                "FRI-MON",
                FieldRule::ReversedRange { start: 6, end: 2 },
            ),
        ),
        (
            "cron(0 22-2 * * ? *)",
            field(Hours, "22-2", FieldRule::ReversedRange { start: 22, end: 2 }),
        ),
        ("cron(0 10 * * * *)", Problem::DaysBothSet),
        ("cron(0 10 1 * MON *)", Problem::DaysBothSet),
        ("cron(0 10 ? * ? *)", Problem::DaysBothAny),
        ("cron(0 10 * * ?)", Problem::FieldCount(5)),
        ("cron(0 10 * * ? * *)", Problem::FieldCount(7)),
        ("cron()", Problem::FieldCount(0)),
        (
            "cron(60 * * * ? *)",
            field(Minutes, "60", out_of_range(60, 0, 59)),
        ),
        ("cron(0 24 * * ? *)", field(Hours, "24", out_of_range(24, 0, 23))),
        (
            "cron(0 0 0 * ? *)",
            field(DayOfMonth, "0", out_of_range(0, 1, 31)),
        ),
        (
            "cron(0 0 32 * ? *)",
            field(DayOfMonth, "32", out_of_range(32, 1, 31)),
        ),
        ("cron(0 0 1 13 ? *)", field(Month, "13", out_of_range(13, 1, 12))),
        (
            "cron(0 0 1 FOO ? *)",
            field(Month, "FOO", bad_value("FOO", "1-12 or JAN-DEC")),
        ),
        ("cron(0 0 ? * 0 *)", field(DayOfWeek, "0", out_of_range(0, 1, 7))),
        ("cron(0 0 ? * 8 *)", field(DayOfWeek, "8", out_of_range(8, 1, 7))),
        (
            "cron(0 0 ? * MON-FRX *)",
            field(DayOfWeek, "MON-FRX", bad_value("FRX", DOW)),
        ),
        (
            "cron(0 0 * * ? 1969)",
            field(Year, "1969", out_of_range(1969, 1970, 2199)),
        ),
        (
            "cron(0 0 * * ? 2200)",
            field(Year, "2200", out_of_range(2200, 1970, 2199)),
        ),
        ("cron(*/60 * * * ? *)", field(Minutes, "*/60", bad_step("60", 59))),
        ("cron(0/0 * * * ? *)", field(Minutes, "0/0", bad_step("0", 59))),
        (
            "cron(0 0 ? * 1-7/8 *)",
            field(DayOfWeek, "1-7/8", bad_step("8", 7)),
        ),
        (
            "cron(5-1 * * * ? *)",
            field(Minutes, "5-1", FieldRule::ReversedRange { start: 5, end: 1 }),
        ),
        (
            "cron(1,,2 * * * ? *)",
            field(Minutes, "1,,2", FieldRule::EmptyItem),
        ),
        (
            "cron(-5 * * * ? *)",
            field(Minutes, "-5", bad_value("-5", "0-59")),
        ),
        ("cron(? * * * ? *)", field(Minutes, "?", FieldRule::MisplacedAny)),
        (
            "cron(0 0 ?,1 * ? *)",
            field(DayOfMonth, "?,1", FieldRule::MisplacedAny),
        ),
        (
            "cron(0 L * * ? *)",
            field(Hours, "L", FieldRule::WildcardNotAllowed('L')),
        ),
        (
            "cron(0 0 1#2 * ? *)",
            field(DayOfMonth, "1#2", FieldRule::WildcardNotAllowed('#')),
        ),
        (
            "cron(0 0 ? * 2W *)",
            field(DayOfWeek, "2W", FieldRule::WildcardNotAllowed('W')),
        ),
        (
            "cron(0 0 L,15 * ? *)",
            field(DayOfMonth, "L,15", FieldRule::SpecialNotAlone('L')),
        ),
        (
            "cron(0 0 32W * ? *)",
            field(DayOfMonth, "32W", out_of_range(32, 1, 31)),
        ),
        ("cron(0 0 XW * ? *)", field(DayOfMonth, "XW", bad_value("X", DOM))),
        (
            "cron(0 0 ? * 3#1,6#3 *)",
            field(DayOfWeek, "3#1,6#3", FieldRule::HashTwice),
        ),
        (
            "cron(0 0 ? * 3#6 *)",
            field(DayOfWeek, "3#6", FieldRule::BadNth("6".to_owned())),
        ),
        (
            "cron(0 0 ? * 3#0 *)",
            field(DayOfWeek, "3#0", FieldRule::BadNth("0".to_owned())),
        ),
        (
            "cron(0 0 ? * MON-FRI#2 *)",
            field(DayOfWeek, "MON-FRI#2", FieldRule::SpecialNotAlone('#')),
        ),
        (
            "cron(0 0 ? * 9L *)",
            field(DayOfWeek, "9L", out_of_range(9, 1, 7)),
        ),
        (
            "rate(5 minute)",
            Problem::RateNeedsPlural {
                value: 5,
                plural: "minutes",
            },
        ),
        (
            "rate(2 day)",
            Problem::RateNeedsPlural {
                value: 2,
                plural: "days",
            },
        ),
        (
            "rate(1 minutes)",
            Problem::RateNeedsSingular { singular: "minute" },
        ),
        ("rate(0 minutes)", Problem::RateValue("0".to_owned())),
        ("rate(-5 minutes)", Problem::RateValue("-5".to_owned())),
        ("rate(1.5 hours)", Problem::RateValue("1.5".to_owned())),
        (
            "rate(99999999999 minutes)",
            Problem::RateValue("99999999999".to_owned()),
        ),
        ("rate(5 weeks)", Problem::RateUnit("weeks".to_owned())),
        ("rate(5)", Problem::RateShape),
        ("every 5 minutes", Problem::UnknownKind),
        ("cron(0 10 * * ? *", Problem::Unclosed),
        ("CRON(0 10 * * ? *)", Problem::UnknownKind),
        ("at(2026-03-01 09:30:00)", Problem::AtShape),
        ("at(2026-03-01T09:30)", Problem::AtShape),
        (
            "at(2026-02-30T09:30:00)",
            Problem::AtInvalid("2026-02-30T09:30:00".to_owned()),
        ),
        (
            "at(2026-03-01T24:00:00)",
            Problem::AtInvalid("2026-03-01T24:00:00".to_owned()),
        ),
    ];
    assert!(cases.len() >= 30);
    let mut messages = String::new();
    for (input, problem) in cases {
        let error = input.parse::<ScheduleExpression>().unwrap_err();
        let expected = ScheduleError::Expression {
            input: input.to_owned(),
            problem,
        };
        assert_eq!(error, expected, "{input}");
        messages.push_str(&format!("{error}\n"));
    }
    insta::assert_snapshot!("invalid_expression_messages", messages);
}

#[test]
fn the_both_days_set_message_matches_the_documented_example() {
    let error = "cron(0 10 * * * *)".parse::<ScheduleExpression>().unwrap_err();
    assert_eq!(
        error.to_string(),
        "\"cron(0 10 * * * *)\": day-of-month and day-of-week are both set; one of them must be \"?\""
    );
}

/// The shape a project definition is expected to use.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectSchedule {
    name: String,
    schedule: Schedule,
}

#[test]
fn a_project_config_holds_schedules_directly_and_reports_bad_ones_with_their_position() {
    let json = r#"[
        {"name": "nightly", "schedule": "cron(0 2 * * ? *)"},
        {"name": "weekly", "schedule": {"expression": "cron(0 9 ? * MON *)", "timezone": "Europe/London"}}
    ]"#;
    let schedules: Vec<ProjectSchedule> = serde_json::from_str(json).unwrap();
    assert_eq!(schedules[0].name, "nightly");
    assert_eq!(
        schedules[1].schedule.describe(),
        "cron(0 9 ? * MON *) in Europe/London"
    );

    let errors = [
        (
            r#"{"name": "n", "schedule": "rate(5 minute)"}"#,
            "\"rate(5 minute)\": a value other than 1 needs the plural unit: write `rate(5 minutes)` at line 1 column 43",
        ),
        (
            r#"{"name": "n", "schedule": {"expression": "rate(1 day)", "tz": "UTC"}}"#,
            "unknown field `tz`, expected one of `expression`, `timezone`, `startDate`, `endDate` at line 1 column 60",
        ),
        (
            r#"{"name": "n", "schedule": 5}"#,
            "invalid type: integer `5`, expected a schedule expression string or a map with `expression` and optional `timezone` at line 1 column 27",
        ),
    ];
    for (json, message) in errors {
        assert_eq!(
            serde_json::from_str::<ProjectSchedule>(json)
                .unwrap_err()
                .to_string(),
            message
        );
    }
}
