//! Coverage reports: the line (or statement) coverage of Cobertura, JaCoCo, Clover and SimpleCov files, read
//! from their summary attributes. Files from several tools are combined by summing covered and total lines.

use super::error::ReportError;
use super::xml::{Ev, walk};

/// Covered and total lines found in one coverage file.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) struct Lines {
    pub covered: f64,
    pub total: f64,
}

/// Cobertura: the root `<coverage lines-covered lines-valid line-rate>`.
pub(super) fn cobertura(bytes: &[u8]) -> Result<Lines, ReportError> {
    let mut found = None;
    walk(bytes, |ev| {
        if let Ev::Start(e) = ev
            && e.name == "coverage"
            && found.is_none()
        {
            found = Some(if e.attr("lines-valid").is_some() {
                Lines {
                    covered: e.number("lines-covered"),
                    total: e.number("lines-valid"),
                }
            } else {
                Lines {
                    covered: e.number("line-rate") * 100.0,
                    total: 100.0,
                }
            });
        }
    })?;
    found.ok_or(ReportError::NoCoverageSummary {
        expected: "<coverage> element",
    })
}

/// JaCoCo: the report-level `<counter type="LINE" missed covered>` (a direct child of `<report>`).
pub(super) fn jacoco(bytes: &[u8]) -> Result<Lines, ReportError> {
    let mut depth = 0usize;
    let mut found = None;
    walk(bytes, |ev| match ev {
        Ev::Start(e) => {
            depth += 1;
            if depth == 2 && e.name == "counter" && e.attr("type") == Some("LINE") {
                let covered = e.number("covered");
                found = Some(Lines {
                    covered,
                    total: covered + e.number("missed"),
                });
            }
        }
        Ev::End(_) => depth = depth.saturating_sub(1),
    })?;
    found.ok_or(ReportError::NoCoverageSummary {
        expected: "report-level LINE counter",
    })
}

/// Clover: the project's `<metrics statements coveredstatements>`.
pub(super) fn clover(bytes: &[u8]) -> Result<Lines, ReportError> {
    let mut in_project = false;
    let mut found = None;
    walk(bytes, |ev| match ev {
        Ev::Start(e) if e.name == "project" => in_project = true,
        Ev::Start(e) if in_project && e.name == "metrics" && found.is_none() => {
            found = Some(Lines {
                covered: e.number("coveredstatements"),
                total: e.number("statements"),
            });
        }
        Ev::Start(_) | Ev::End(_) => {}
    })?;
    found.ok_or(ReportError::NoCoverageSummary {
        expected: "project <metrics> element",
    })
}

/// SimpleCov JSON (`coverage.json` of simplecov's JSON formatter, or `.last_run.json`).
pub(super) fn simplecov(bytes: &[u8]) -> Result<Lines, ReportError> {
    let json: serde_json::Value = serde_json::from_slice(bytes).map_err(ReportError::InvalidJson)?;
    let metrics = &json["metrics"];
    if let (Some(covered), Some(total)) = (metrics["covered_lines"].as_f64(), metrics["total_lines"].as_f64())
    {
        return Ok(Lines { covered, total });
    }
    let percent = json["result"]["line"]
        .as_f64()
        .or(json["result"]["covered_percent"].as_f64())
        .or(metrics["covered_percent"].as_f64());
    percent
        .map(|p| Lines {
            covered: p,
            total: 100.0,
        })
        .ok_or(ReportError::NoCoverageSummary {
            expected: "line coverage summary (metrics.covered_lines or result.line)",
        })
}
