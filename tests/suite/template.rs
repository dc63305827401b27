//! The SAM template passes both linters, run offline from the test venvs the test command installs.

use std::path::Path;
use std::process::Command;

use kiln_tests::paths::workspace_root;

fn lint_tool(venv: &str, tool: &str) -> std::path::PathBuf {
    let path = workspace_root().join(venv).join("bin").join(tool);
    assert!(
        path.is_file(),
        "{} is missing: run ./scripts/test (or ./scripts/setup), which installs it",
        path.display()
    );
    path
}

fn run_offline(program: &Path, args: &[&str]) -> std::process::Output {
    Command::new(program)
        .args(args)
        .current_dir(workspace_root())
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("SAM_CLI_TELEMETRY", "0")
        .output()
        .unwrap_or_else(|err| panic!("could not run {}: {err}", program.display()))
}

#[test]
fn the_template_passes_cfn_lint() {
    let out = run_offline(&lint_tool(".venv", "cfn-lint"), &["template.yaml"]);
    assert!(
        out.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_template_passes_sam_validate_lint() {
    let out = run_offline(
        &lint_tool(".venv-sam", "sam"),
        &["validate", "--lint", "--template", "template.yaml"],
    );
    assert!(
        out.status.success(),
        "sam validate --lint failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
