//! The SAM transform, run offline: `sam_transform.py` (embedded here) in the SAM CLI's Python expands
//! `AWS::LanguageExtensions` with the SAM CLI's own code and runs `AWS::Serverless-2016-10-31` with
//! samtranslator, the library CloudFormation's SAM transform is built from. What comes back is the plain
//! CloudFormation a deployment would create: `AWS::Lambda::Function`s with their environments,
//! `AWS::Lambda::EventSourceMapping`s, `AWS::Events::Rule`s, `AWS::Lambda::Url`s and the HTTP API's OpenAPI body.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;

/// The transform script, run with `python -c`.
const SCRIPT: &str = include_str!("../sam_transform.py");
/// The environment variable naming the Python that has samtranslator and the SAM CLI.
pub const PYTHON_VARIABLE: &str = "KILN_SAM_PYTHON";

/// Why the transform failed.
#[derive(Debug, thiserror::Error)]
pub enum SamError {
    #[error(
        "no Python with the SAM CLI was found (looked for {looked}); run scripts/setup, which installs it into \
         .venv-sam, or set {PYTHON_VARIABLE}"
    )]
    NoPython { looked: String },
    #[error("could not run {python}: {source}")]
    Spawn { python: String, source: std::io::Error },
    #[error("the SAM transform of {template} failed: {message}")]
    Failed { template: String, message: String },
    #[error("the SAM transform printed no JSON template: {0}")]
    Output(serde_json::Error),
}

/// The Python to run the transform with: `$KILN_SAM_PYTHON`, else `.venv-sam/bin/python` in the template's
/// directory or one of its parents.
pub fn find_python(template: &Path) -> Result<PathBuf, SamError> {
    if let Some(python) = std::env::var_os(PYTHON_VARIABLE).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(python));
    }
    let start = template
        .canonicalize()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let mut looked = Vec::new();
    for dir in start.ancestors() {
        let candidate = dir.join(".venv-sam").join("bin").join("python");
        if candidate.is_file() {
            return Ok(candidate);
        }
        looked.push(candidate.display().to_string());
    }
    Err(SamError::NoPython {
        looked: looked.join(", "),
    })
}

/// Transforms `template` with `parameters` (given and pseudo parameters, e.g. `AWS::Region`).
pub async fn transform(
    python: &Path,
    template: &Path,
    parameters: &BTreeMap<String, Value>,
    region: &str,
) -> Result<Value, SamError> {
    let output = tokio::process::Command::new(python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(template)
        .arg(Value::Object(parameters.clone().into_iter().collect()).to_string())
        .env("AWS_DEFAULT_REGION", region)
        .env("SAM_CLI_TELEMETRY", "0")
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|source| SamError::Spawn {
            python: python.display().to_string(),
            source,
        })?;
    if !output.status.success() {
        return Err(SamError::Failed {
            template: template.display().to_string(),
            message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    serde_json::from_slice(&output.stdout).map_err(SamError::Output)
}
