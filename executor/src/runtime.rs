//! `install.runtime-versions`: CodeBuild installs the requested runtimes in its images; `kiln run` cannot
//! install anything, so it records each request, looks for the runtime's tool on the build's `PATH`, and logs
//! what it found or a warning naming the missing tool. A missing runtime does not fail the phase (the commands
//! that need it will, with their own error).

use std::path::Path;

use crate::record::RuntimeRecord;

/// The command that proves a runtime is present, for CodeBuild's runtime names.
pub fn tool_for(runtime: &str) -> &str {
    match runtime {
        "nodejs" => "node",
        "python" => "python3",
        "java" | "android" => "java",
        "golang" => "go",
        "dotnet" => "dotnet",
        "php" => "php",
        "ruby" => "ruby",
        "docker" => "docker",
        other => other,
    }
}

/// Looks for the runtime's tool on `path` (a `PATH` value) and asks it for its version.
pub async fn probe(runtime: &str, requested: &str, path: &str) -> RuntimeRecord {
    let tool = tool_for(runtime);
    let found = match std::env::split_paths(path)
        .map(|dir| dir.join(tool))
        .find(|p| executable(p))
    {
        Some(binary) => Some(
            version_of(&binary)
                .await
                .unwrap_or_else(|| binary.display().to_string()),
        ),
        None => None,
    };
    RuntimeRecord {
        runtime: runtime.to_owned(),
        requested: requested.to_owned(),
        found,
    }
}

/// The log line for a probed runtime.
pub fn describe(record: &RuntimeRecord) -> String {
    match &record.found {
        Some(version) => format!(
            "Runtime version selection: {} {} requested; using what is installed: {version}",
            record.runtime, record.requested
        ),
        None => format!(
            "WARNING: runtime {} {} requested but {} was not found on this machine; kiln run does not install runtimes",
            record.runtime,
            record.requested,
            tool_for(&record.runtime)
        ),
    }
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

async fn version_of(binary: &Path) -> Option<String> {
    let run = tokio::process::Command::new(binary)
        .arg(if binary.ends_with("java") {
            "-version"
        } else {
            "--version"
        })
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(10), run)
        .await
        .ok()?
        .ok()?;
    let text = if output.stdout.is_empty() {
        output.stderr
    } else {
        output.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .map(|l| l.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_runtime_is_reported_not_ignored() {
        let record = probe("nodejs", "18", "/nonexistent").await;
        assert_eq!(record.found, None);
        assert!(describe(&record).contains("node was not found"));
        let sh = probe("sh", "any", "/bin:/usr/bin").await;
        assert!(sh.found.is_some());
    }
}
