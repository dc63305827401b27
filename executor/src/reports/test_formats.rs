//! Parsers for the XML test-report formats CodeBuild accepts: JUnit (pytest, Maven Surefire, Jest, Go's
//! go-junit-report), Visual Studio TRX (`dotnet test --logger trx`), NUnit 2 and NUnit 3, and TestNG. Each
//! counts test cases by outcome and collects failing names into a [`Tally`].

use super::error::ReportError;
use super::xml::{Ev, walk};
use super::{Outcome, Tally};

/// JUnit XML: `<testcase>` elements with `<failure>`, `<error>` or `<skipped>` children.
pub(super) fn junit(bytes: &[u8]) -> Result<Tally, ReportError> {
    let mut tally = Tally::default();
    let mut case: Option<(String, f64, Outcome)> = None;
    walk(bytes, |ev| match ev {
        Ev::Start(e) if e.name == "testcase" => {
            let name = match (e.attr("classname"), e.attr("name")) {
                (Some(class), Some(name)) if !class.is_empty() => format!("{class}.{name}"),
                (_, Some(name)) => name.to_owned(),
                (Some(class), None) => class.to_owned(),
                (None, None) => "(unnamed test case)".to_owned(),
            };
            case = Some((name, e.number("time"), Outcome::Passed));
        }
        Ev::Start(e) => {
            if let Some((_, _, outcome)) = case.as_mut() {
                let seen = match e.name.as_str() {
                    "error" => Outcome::Error,
                    "failure" => Outcome::Failed,
                    "skipped" => Outcome::Skipped,
                    _ => return,
                };
                *outcome = outcome.worst(seen);
            }
        }
        Ev::End("testcase") => {
            if let Some((name, time, outcome)) = case.take() {
                tally.record(name, outcome, time);
            }
        }
        Ev::End(_) => {}
    })?;
    Ok(tally)
}

/// Visual Studio TRX: `<UnitTestResult testName outcome duration="hh:mm:ss.fffffff">`.
pub(super) fn trx(bytes: &[u8]) -> Result<Tally, ReportError> {
    let mut tally = Tally::default();
    walk(bytes, |ev| {
        let Ev::Start(e) = ev else { return };
        if e.name != "UnitTestResult" {
            return;
        }
        let outcome = match e.attr("outcome").unwrap_or("").to_ascii_lowercase().as_str() {
            "passed" | "passedbutrunaborted" | "warning" | "completed" => Outcome::Passed,
            "failed" => Outcome::Failed,
            "error" | "timeout" | "aborted" => Outcome::Error,
            _ => Outcome::Skipped, // NotExecuted, Inconclusive, Pending, NotRunnable, Disconnected
        };
        let name = e.attr("testName").unwrap_or("(unnamed test)").to_owned();
        tally.record(name, outcome, e.attr("duration").map_or(0.0, timespan_seconds));
    })?;
    Ok(tally)
}

/// `hh:mm:ss.fffffff` as seconds.
fn timespan_seconds(value: &str) -> f64 {
    let mut seconds = 0.0;
    for part in value.trim().split(':') {
        seconds = seconds * 60.0 + part.parse::<f64>().unwrap_or(0.0);
    }
    seconds
}

/// NUnit 3 (`result="Passed|Failed|Skipped|Inconclusive"`, `label="Error"`) and NUnit 2 (`executed`,
/// `result="Success|Failure|Error|Ignored"`) `<test-case>` elements.
pub(super) fn nunit(bytes: &[u8]) -> Result<Tally, ReportError> {
    let mut tally = Tally::default();
    walk(bytes, |ev| {
        let Ev::Start(e) = ev else { return };
        if e.name != "test-case" {
            return;
        }
        let result = e.attr("result").unwrap_or("").to_ascii_lowercase();
        let label = e.attr("label").unwrap_or("").to_ascii_lowercase();
        let executed = e
            .attr("executed")
            .is_none_or(|x| !x.eq_ignore_ascii_case("false"));
        let outcome = match result.as_str() {
            _ if !executed => Outcome::Skipped,
            "failed" | "failure" if label == "error" => Outcome::Error,
            "failed" | "failure" if label == "cancelled" || label == "invalid" => Outcome::Error,
            "failed" | "failure" => Outcome::Failed,
            "error" | "notrunnable" => Outcome::Error,
            "passed" | "success" | "warning" => Outcome::Passed,
            _ => Outcome::Skipped, // Skipped, Ignored, Inconclusive, Cancelled
        };
        let name = e
            .attr("fullname")
            .or(e.attr("name"))
            .unwrap_or("(unnamed test case)")
            .to_owned();
        let seconds = if e.attr("duration").is_some() {
            e.number("duration")
        } else {
            e.number("time")
        };
        tally.record(name, outcome, seconds);
    })?;
    Ok(tally)
}

/// TestNG `testng-results.xml`: `<class name>` holding `<test-method status duration-ms>`; configuration
/// methods (`is-config="true"`) are not tests.
pub(super) fn testng(bytes: &[u8]) -> Result<Tally, ReportError> {
    let mut tally = Tally::default();
    let mut class = String::new();
    walk(bytes, |ev| {
        let Ev::Start(e) = ev else { return };
        match e.name.as_str() {
            "class" => class = e.attr("name").unwrap_or("").to_owned(),
            "test-method" if e.attr("is-config") != Some("true") => {
                let outcome = match e.attr("status").unwrap_or("") {
                    "PASS" => Outcome::Passed,
                    "FAIL" => Outcome::Failed,
                    _ => Outcome::Skipped,
                };
                let method = e.attr("name").unwrap_or("(unnamed method)");
                let name = if class.is_empty() {
                    method.to_owned()
                } else {
                    format!("{class}.{method}")
                };
                tally.record(name, outcome, e.number("duration-ms") / 1000.0);
            }
            _ => {}
        }
    })?;
    Ok(tally)
}
