//! The template's Lambda functions against the crates in `functions/`: every binary has its
//! `AWS::Serverless::Function`, built by cargo-lambda for the stack's `Architecture` on `provided.al2023`, and
//! SQS event sources report partial batch failures; and every function builds a binary some crate has.

use std::path::Path;

use serde_json::Value;

/// The binaries of each crate under `dir` (`functions/*/Cargo.toml`): its `[[bin]]` names, else the package name
/// when it has a `src/main.rs` (a library crate such as `functions/common` builds no binary).
pub fn function_binaries(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut manifests: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path().join("Cargo.toml"))
        .filter(|p| p.is_file())
        .collect();
    manifests.sort();
    for manifest in manifests {
        let text = std::fs::read_to_string(&manifest).unwrap_or_default();
        let has_main = manifest.with_file_name("src/main.rs").is_file();
        out.extend(binary_names(&text, has_main));
    }
    out
}

/// `[[bin]]` names of a manifest, or its `[package]` name when it declares none and `has_main`.
pub fn binary_names(manifest: &str, has_main: bool) -> Vec<String> {
    let mut section = "";
    let (mut package, mut bins) = (None, Vec::new());
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        let Some(value) = line
            .strip_prefix("name")
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix('='))
        else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_owned();
        match section {
            "[package]" => package = Some(value),
            "[[bin]]" => bins.push(value),
            _ => {}
        }
    }
    if bins.is_empty() {
        package.into_iter().filter(|_| has_main).collect()
    } else {
        bins
    }
}

/// Every way the template's functions differ from how Kiln builds and runs them, one line each; `binaries`
/// are the function crates' binaries, each of which needs a function.
pub fn function_violations(template: &Value, binaries: &[String]) -> Vec<String> {
    let globals = &template["Globals"]["Function"];
    let mut out = Vec::new();
    let mut built = Vec::new();
    let functions = template["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function");
    for (name, function) in functions {
        let at = format!("Resources.{name}");
        let props = &function["Properties"];
        let get = |key: &str| {
            props
                .get(key)
                .or_else(|| globals.get(key))
                .unwrap_or(&Value::Null)
        };
        if get("Runtime") != "provided.al2023" {
            out.push(format!("{at}: Runtime {} is not provided.al2023", get("Runtime")));
        }
        if get("Handler") != "bootstrap" {
            out.push(format!("{at}: Handler {} is not bootstrap", get("Handler")));
        }
        if get("Architectures") != &serde_json::json!([{"Ref": "Architecture"}]) {
            out.push(format!(
                "{at}: Architectures {} is not [!Ref Architecture]",
                get("Architectures")
            ));
        }
        let metadata = &function["Metadata"];
        if metadata["BuildMethod"] != "rust-cargolambda" {
            out.push(format!("{at}: Metadata.BuildMethod is not rust-cargolambda"));
        }
        match metadata["BuildProperties"]["Binary"].as_str() {
            Some(binary) if binaries.iter().any(|b| b == binary) => built.push(binary.to_owned()),
            Some(binary) => {
                built.push(binary.to_owned());
                out.push(format!(
                    "{at}: Metadata.BuildProperties.Binary {binary:?} is no [[bin]] of a crate in functions/"
                ));
            }
            None => out.push(format!("{at}: Metadata.BuildProperties.Binary names no binary")),
        }
        for (event, spec) in props["Events"].as_object().into_iter().flatten() {
            let reports = spec["Properties"]["FunctionResponseTypes"]
                .as_array()
                .is_some_and(|types| types.iter().any(|t| t == "ReportBatchItemFailures"));
            if spec["Type"] == "SQS" && !reports {
                out.push(format!(
                    "{at}.Events.{event}: SQS source without ReportBatchItemFailures"
                ));
            }
        }
    }
    for binary in binaries.iter().filter(|b| !built.contains(b)) {
        out.push(format!(
            "functions/: binary {binary} has no AWS::Serverless::Function building it"
        ));
    }
    out
}
