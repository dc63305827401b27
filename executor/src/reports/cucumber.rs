//! Cucumber JSON (`--format json`): an array of features whose `elements` are scenarios made of steps. A
//! scenario fails when a step failed, is skipped when a step was skipped, pending or undefined, and passes
//! otherwise; `background` elements are not scenarios. Step durations are nanoseconds.

use serde_json::Value;

use super::error::ReportError;
use super::{Outcome, Tally};

/// Tallies the scenarios of a Cucumber JSON report.
pub(super) fn cucumber(bytes: &[u8]) -> Result<Tally, ReportError> {
    let features: Value = serde_json::from_slice(bytes).map_err(ReportError::InvalidJson)?;
    let Some(features) = features.as_array() else {
        return Err(ReportError::NotFeatureArray);
    };
    let mut tally = Tally::default();
    for feature in features {
        let feature_name = feature["name"].as_str().unwrap_or("");
        for element in feature["elements"].as_array().into_iter().flatten() {
            if element["type"].as_str() == Some("background") {
                continue;
            }
            let (outcome, nanos) = scenario(element);
            let name = element["name"].as_str().unwrap_or("(unnamed scenario)");
            let name = if feature_name.is_empty() {
                name.to_owned()
            } else {
                format!("{feature_name}: {name}")
            };
            tally.record(name, outcome, nanos / 1e9);
        }
    }
    Ok(tally)
}

fn scenario(element: &Value) -> (Outcome, f64) {
    let mut outcome = Outcome::Passed;
    let mut nanos = 0.0;
    let hooks = ["before", "steps", "after"];
    for step in hooks.iter().filter_map(|k| element[*k].as_array()).flatten() {
        let result = &step["result"];
        nanos += result["duration"].as_f64().unwrap_or(0.0);
        let seen = match result["status"].as_str().unwrap_or("") {
            "passed" => Outcome::Passed,
            "failed" | "ambiguous" => Outcome::Failed,
            _ => Outcome::Skipped, // skipped, pending, undefined
        };
        outcome = outcome.worst(seen);
    }
    (outcome, nanos)
}
