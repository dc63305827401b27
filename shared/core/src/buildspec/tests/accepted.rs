//! Valid but unusual buildspecs: the values each must produce.

use crate::buildspec::env::secret_ref;
use crate::buildspec::phases::parse_on_failure;
use crate::buildspec::{BatchKind, OnFailure, PhaseName, parse};
use crate::ports::secrets::SecretRef;

fn secret(id: &str, key: Option<&str>, stage: Option<&str>, version: Option<&str>) -> SecretRef {
    SecretRef::Secret {
        secret_id: id.to_owned(),
        json_key: key.map(str::to_owned),
        version_stage: stage.map(str::to_owned),
        version_id: version.map(str::to_owned),
    }
}

#[test]
fn secrets_manager_references_split_into_their_four_fields() {
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf";
    let cases = [
        ("TestSecret", secret("TestSecret", None, None, None)),
        (
            "TestSecret:MY_KEY",
            secret("TestSecret", Some("MY_KEY"), None, None),
        ),
        (
            "s:k:AWSPREVIOUS",
            secret("s", Some("k"), Some("AWSPREVIOUS"), None),
        ),
        ("s:k::v-123", secret("s", Some("k"), None, Some("v-123"))),
        ("s::AWSCURRENT", secret("s", None, Some("AWSCURRENT"), None)),
        (arn, secret(arn, None, None, None)),
        (
            &format!("{arn}:password"),
            secret(arn, Some("password"), None, None),
        ),
        (
            &format!("{arn}:password::v-9"),
            secret(arn, Some("password"), None, Some("v-9")),
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(secret_ref(text), Ok(expected), "reference {text:?}");
    }
}

#[test]
fn on_failure_accepts_every_retry_form() {
    let retry = |count: Option<u32>, pattern: Option<&str>| OnFailure::Retry {
        count,
        pattern: pattern.map(str::to_owned),
    };
    let cases = [
        ("ABORT", Some(OnFailure::Abort)),
        ("CONTINUE", Some(OnFailure::Continue)),
        ("RETRY", Some(retry(None, None))),
        ("RETRY-3", Some(retry(Some(3), None))),
        ("RETRY-timed out.*", Some(retry(None, Some("timed out.*")))),
        (
            "RETRY-2-^Error: throttl",
            Some(retry(Some(2), Some("^Error: throttl"))),
        ),
        ("RETRY-3x", Some(retry(None, Some("3x")))),
        ("RETRY-0", None),
        ("RETRY-", None),
        ("RETRY-5-", None),
        ("retry", None),
        ("STOP", None),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_on_failure(text), expected, "on-failure {text:?}");
    }
}

#[test]
fn yaml_1_1_booleans_and_numeric_commands_are_accepted() {
    let yaml = "version: 0.2\nenv:\n  git-credential-helper: yes\nproxy:\n  logs: On\n  upload-artifacts: FALSE\n\
                phases:\n  build:\n    commands:\n      - 1.10\n      - true\n      - 0x1F\nartifacts:\n  files: [a]\n  discard-paths: no\n  enable-symlinks: True\n";
    let buildspec = parse(yaml.as_bytes()).unwrap_or_else(|errors| panic!("{errors}"));
    assert!(buildspec.env.git_credential_helper);
    assert!(buildspec.proxy.logs && !buildspec.proxy.upload_artifacts);
    let build = buildspec.phase(PhaseName::Build).expect("build phase");
    assert_eq!(build.commands, ["1.10", "true", "0x1F"]);
    let artifacts = buildspec.artifacts.expect("artifacts");
    assert!(!artifacts.primary.discard_paths && artifacts.primary.enable_symlinks);
}

#[test]
fn phases_come_out_in_execution_order_whatever_the_file_order() {
    let yaml = "version: 0.2\nphases:\n  post_build: {commands: [c]}\n  build: {commands: [b]}\n  install: {}\n  pre_build: {commands: [a]}\n";
    let buildspec = parse(yaml.as_bytes()).unwrap_or_else(|errors| panic!("{errors}"));
    let names: Vec<PhaseName> = buildspec.phases.iter().map(|phase| phase.name).collect();
    assert_eq!(names, PhaseName::ALL);
}

#[test]
fn null_commands_are_an_empty_list_with_a_warning() {
    let yaml = "version: 0.2\nphases:\n  build:\n    commands:\n";
    let buildspec = parse(yaml.as_bytes()).unwrap_or_else(|errors| panic!("{errors}"));
    assert!(
        buildspec
            .phase(PhaseName::Build)
            .expect("build")
            .commands
            .is_empty()
    );
    assert_eq!(buildspec.warnings.len(), 1);
    assert_eq!(buildspec.warnings[0].path, "phases.build.commands");
}

#[test]
fn a_batch_only_buildspec_needs_no_phases_and_keeps_its_graph() {
    let yaml = "version: 0.2\nbatch:\n  fast-fail: yes\n  build-graph:\n  - identifier: a\n  - identifier: b\n    depend-on: [a]\n    ignore-failure: true\n    env:\n      privileged-mode: yes\n";
    let buildspec = parse(yaml.as_bytes()).unwrap_or_else(|errors| panic!("{errors}"));
    let batch = buildspec.batch.expect("batch");
    assert!(batch.fast_fail);
    let BatchKind::Graph(builds) = batch.kind else {
        panic!("expected a build-graph")
    };
    assert_eq!(builds[1].depend_on, ["a"]);
    assert!(builds[1].ignore_failure);
    assert_eq!(builds[1].env.privileged_mode, Some(true));
}

#[test]
fn anchors_and_aliases_within_budget_are_expanded() {
    let yaml = "version: 0.2\nphases:\n  build:\n    commands: &cmds [make, make test]\n  post_build:\n    commands: *cmds\n";
    let buildspec = parse(yaml.as_bytes()).unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(
        buildspec
            .phase(PhaseName::PostBuild)
            .expect("post_build")
            .commands,
        ["make", "make test"]
    );
}

#[test]
fn a_byte_order_mark_is_ignored() {
    let yaml = "\u{feff}version: 0.2\nphases: {build: {commands: [make]}}\n";
    assert!(parse(yaml.as_bytes()).is_ok());
}

#[test]
fn exporting_an_aws_variable_is_accepted_with_a_warning() {
    let yaml = "version: 0.2\nenv:\n  exported-variables: [AWS_REGION, VERSION]\nphases: {build: {commands: [make]}}\n";
    let buildspec = parse(yaml.as_bytes()).unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(buildspec.env.exported_variables, ["AWS_REGION", "VERSION"]);
    let [warning] = buildspec.warnings.as_slice() else {
        panic!("{:?}", buildspec.warnings)
    };
    assert_eq!(
        (warning.path.as_str(), warning.line, warning.column),
        ("env.exported-variables", 3, 23)
    );
    assert!(
        warning.message.contains("\"AWS_REGION\" starts with AWS_"),
        "{}",
        warning.message
    );
}
