//! Malformed buildspecs, table-driven: each must fail with the expected key path, position and message.

use crate::buildspec::{BuildspecErrors, parse};

struct Case {
    name: &'static str,
    yaml: &'static str,
    path: &'static str,
    line: usize,
    column: usize,
    message: &'static str,
}

const fn case(
    name: &'static str,
    yaml: &'static str,
    path: &'static str,
    (line, column): (usize, usize),
    message: &'static str,
) -> Case {
    Case {
        name,
        yaml,
        path,
        line,
        column,
        message,
    }
}

const CASES: &[Case] = &[
    case(
        "missing version",
        "phases:\n  build:\n    commands: [make]\n",
        "",
        (1, 1),
        "missing required key `version`",
    ),
    case(
        "version 0.1",
        "version: 0.1\nphases: {build: {commands: [make]}}\n",
        "version",
        (1, 10),
        "version \"0.1\" is not supported; kiln supports version 0.2",
    ),
    case(
        "version 1.0",
        "version: 1.0\nphases: {build: {commands: [make]}}\n",
        "version",
        (1, 10),
        "expected 0.2, got \"1.0\"",
    ),
    case(
        "version as a list",
        "version: [0.2]\nphases: {build: {commands: [make]}}\n",
        "version",
        (1, 10),
        "expected a string, got a list",
    ),
    case(
        "missing phases",
        "version: 0.2\nenv:\n  shell: bash\n",
        "",
        (1, 1),
        "missing required key `phases`",
    ),
    case(
        "unknown top-level key",
        "version: 0.2\nartefacts:\n  files: [a]\nphases: {build: {commands: [make]}}\n",
        "artefacts",
        (2, 1),
        "unknown key \"artefacts\" (did you mean \"artifacts\"?)",
    ),
    case(
        "unknown phase name",
        "version: 0.2\nphases:\n  prebuild:\n    commands: [make]\n",
        "phases.prebuild",
        (3, 3),
        "unknown key \"prebuild\" (did you mean \"pre_build\"?)",
    ),
    case(
        "unknown phase name with a hyphen",
        "version: 0.2\nphases:\n  post-build:\n    commands: [make]\n",
        "phases.post-build",
        (3, 3),
        "(did you mean \"post_build\"?)",
    ),
    case(
        "phase name far from any",
        "version: 0.2\nphases:\n  deploy:\n    commands: [make]\n",
        "phases.deploy",
        (3, 3),
        "expected one of: install, pre_build, build, post_build",
    ),
    case(
        "bad on-failure",
        "version: 0.2\nphases:\n  build:\n    on-failure: STOP\n    commands: [make]\n",
        "phases.build.on-failure",
        (4, 17),
        "expected ABORT, CONTINUE or RETRY[-count][-regex], got \"STOP\"",
    ),
    case(
        "lower-case on-failure",
        "version: 0.2\nphases:\n  build:\n    on-failure: abort\n    commands: [make]\n",
        "phases.build.on-failure",
        (4, 17),
        "(values are upper case: \"ABORT\")",
    ),
    case(
        "retry with zero count",
        "version: 0.2\nphases:\n  build:\n    on-failure: RETRY-0\n    commands: [make]\n",
        "phases.build.on-failure",
        (4, 17),
        "got \"RETRY-0\"",
    ),
    case(
        "retry with an empty regex",
        "version: 0.2\nphases:\n  build:\n    on-failure: RETRY-3-\n    commands: [make]\n",
        "phases.build.on-failure",
        (4, 17),
        "got \"RETRY-3-\"",
    ),
    case(
        "build phase without commands",
        "version: 0.2\nphases:\n  build:\n    finally: [echo done]\n",
        "phases.build",
        (4, 5),
        "missing required key `commands` (every declared build phase needs a `commands:` list)",
    ),
    case(
        "commands not a list",
        "version: 0.2\nphases:\n  build:\n    commands: make all\n",
        "phases.build.commands",
        (4, 15),
        "expected a list (write each entry on its own `- ` line), got \"make all\"",
    ),
    case(
        "command read as a mapping",
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo note: this breaks\n",
        "phases.build.commands[0]",
        (5, 9),
        "quote the command",
    ),
    case(
        "finally as a mapping",
        "version: 0.2\nphases:\n  build:\n    commands: [make]\n    finally:\n      cleanup: rm -rf x\n",
        "phases.build.finally",
        (6, 7),
        "expected a list",
    ),
    case(
        "runtime-versions outside install",
        "version: 0.2\nphases:\n  build:\n    runtime-versions:\n      java: corretto17\n    commands: [make]\n",
        "phases.build.runtime-versions",
        (4, 5),
        "unknown key \"runtime-versions\"",
    ),
    case(
        "empty runtime-versions",
        "version: 0.2\nphases:\n  install:\n    runtime-versions: {}\n",
        "phases.install.runtime-versions",
        (4, 23),
        "`runtime-versions` names no runtime",
    ),
    case(
        "null runtime-versions",
        "version: 0.2\nphases:\n  install:\n    runtime-versions:\n",
        "phases.install.runtime-versions",
        (4, 21),
        "`runtime-versions` names no runtime",
    ),
    case(
        "runtime without a version",
        "version: 0.2\nphases:\n  install:\n    runtime-versions:\n      java:\n",
        "phases.install.runtime-versions.java",
        (5, 7),
        "runtime \"java\" has no version",
    ),
    case(
        "phases as a list",
        "version: 0.2\nphases:\n  - build\n",
        "phases",
        (3, 3),
        "expected a mapping, got a list",
    ),
    case(
        "document is a list",
        "- version: 0.2\n",
        "",
        (1, 1),
        "expected a mapping, got a list",
    ),
    case(
        "document is a scalar",
        "just some text\n",
        "",
        (1, 1),
        "expected a mapping, got \"just some text\"",
    ),
    case(
        "duplicate top-level key",
        "version: 0.2\nphases: {build: {commands: [make]}}\nversion: 0.2\n",
        "version",
        (3, 1),
        "duplicate key \"version\" (first defined at line 1)",
    ),
    case(
        "duplicate phase",
        "version: 0.2\nphases:\n  build:\n    commands: [make]\n  build:\n    commands: [test]\n",
        "phases.build",
        (5, 3),
        "duplicate key \"build\"",
    ),
    case(
        "duplicate variable",
        "version: 0.2\nenv:\n  variables:\n    A: 1\n    A: 2\nphases: {build: {commands: [make]}}\n",
        "env.variables.A",
        (5, 5),
        "duplicate key \"A\" (first defined at line 4)",
    ),
    case(
        "tab in indentation",
        "version: 0.2\nphases:\n\tbuild:\n    commands: [make]\n",
        "",
        (3, 2),
        "invalid YAML: tabs disallowed within this context (block indentation); indent with spaces, not tabs",
    ),
    case(
        "unclosed flow sequence",
        "version: 0.2\nphases:\n  build:\n    commands: [make\n",
        "",
        (5, 1),
        "invalid YAML",
    ),
    case(
        "second document",
        "version: 0.2\nphases: {build: {commands: [make]}}\n---\nversion: 0.2\n",
        "",
        (3, 1),
        "a buildspec is a single YAML document",
    ),
    case(
        "unknown alias",
        "version: 0.2\nphases: {build: {commands: [*nothing]}}\n",
        "",
        (2, 29),
        "invalid YAML",
    ),
    case(
        "variables as a list",
        "version: 0.2\nenv:\n  variables:\n    - A=1\nphases: {build: {commands: [make]}}\n",
        "env.variables",
        (4, 5),
        "expected a mapping, got a list",
    ),
    case(
        "variable value a mapping",
        "version: 0.2\nenv:\n  variables:\n    A:\n      nested: 1\nphases: {build: {commands: [make]}}\n",
        "env.variables.A",
        (5, 7),
        "expected a string value, got a mapping",
    ),
    case(
        "unknown env key",
        "version: 0.2\nenv:\n  varibles:\n    A: 1\nphases: {build: {commands: [make]}}\n",
        "env.varibles",
        (3, 3),
        "(did you mean \"variables\"?)",
    ),
    case(
        "bad shell",
        "version: 0.2\nenv:\n  shell: zsh\nphases: {build: {commands: [make]}}\n",
        "env.shell",
        (3, 10),
        "expected bash, /bin/sh, powershell.exe or cmd.exe, got \"zsh\"",
    ),
    case(
        "git-credential-helper not a boolean",
        "version: 0.2\nenv:\n  git-credential-helper: sometimes\nphases: {build: {commands: [make]}}\n",
        "env.git-credential-helper",
        (3, 26),
        "expected a boolean (yes, no, true or false), got \"sometimes\"",
    ),
    case(
        "secret with stage and id",
        "version: 0.2\nenv:\n  secrets-manager:\n    TOKEN: my-secret:key:AWSCURRENT:0123abcd\nphases: {build: {commands: [make]}}\n",
        "env.secrets-manager.TOKEN",
        (4, 12),
        "set version-stage or version-id, not both",
    ),
    case(
        "secret with too many fields",
        "version: 0.2\nenv:\n  secrets-manager:\n    TOKEN: a:b:c:d:e\nphases: {build: {commands: [make]}}\n",
        "env.secrets-manager.TOKEN",
        (4, 12),
        "more than four fields",
    ),
    case(
        "secret ARN too short",
        "version: 0.2\nenv:\n  secrets-manager:\n    TOKEN: arn:aws:secretsmanager:us-east-1\nphases: {build: {commands: [make]}}\n",
        "env.secrets-manager.TOKEN",
        (4, 12),
        "a secret ARN has the form",
    ),
    case(
        "secret with empty id",
        "version: 0.2\nenv:\n  secrets-manager:\n    TOKEN: \":key\"\nphases: {build: {commands: [make]}}\n",
        "env.secrets-manager.TOKEN",
        (4, 12),
        "the secret id before the first colon is required",
    ),
    case(
        "empty parameter name",
        "version: 0.2\nenv:\n  parameter-store:\n    TOKEN:\nphases: {build: {commands: [make]}}\n",
        "env.parameter-store.TOKEN",
        (4, 10),
        "expected a parameter name or secret reference, got nothing",
    ),
    case(
        "exported-variables a scalar",
        "version: 0.2\nenv:\n  exported-variables: VERSION\nphases: {build: {commands: [make]}}\n",
        "env.exported-variables",
        (3, 23),
        "expected a list",
    ),
    case(
        "artifacts without files",
        "version: 0.2\nphases: {build: {commands: [make]}}\nartifacts:\n  name: out.zip\n",
        "artifacts",
        (4, 3),
        "missing required key `files`",
    ),
    case(
        "artifacts files not a list",
        "version: 0.2\nphases: {build: {commands: [make]}}\nartifacts:\n  files: '**/*'\n",
        "artifacts.files",
        (4, 10),
        "expected a list",
    ),
    case(
        "artifacts discard-paths not a boolean",
        "version: 0.2\nphases: {build: {commands: [make]}}\nartifacts:\n  files: [a]\n  discard-paths: maybe\n",
        "artifacts.discard-paths",
        (5, 18),
        "expected a boolean",
    ),
    case(
        "secondary artifact without files",
        "version: 0.2\nphases: {build: {commands: [make]}}\nartifacts:\n  files: [a]\n  secondary-artifacts:\n    docs:\n      name: docs\n",
        "artifacts.secondary-artifacts.docs",
        (7, 7),
        "missing required key `files`",
    ),
    case(
        "report without files",
        "version: 0.2\nphases: {build: {commands: [make]}}\nreports:\n  unit:\n    file-format: JUNITXML\n",
        "reports.unit",
        (5, 5),
        "missing required key `files`",
    ),
    case(
        "bad report format",
        "version: 0.2\nphases: {build: {commands: [make]}}\nreports:\n  unit:\n    files: [a.xml]\n    file-format: XUNIT\n",
        "reports.unit.file-format",
        (6, 18),
        "expected one of CUCUMBERJSON, JUNITXML",
    ),
    case(
        "cache without paths",
        "version: 0.2\nphases: {build: {commands: [make]}}\ncache:\n  key: k\n",
        "cache",
        (4, 3),
        "missing required key `paths`",
    ),
    case(
        "bad cache action",
        "version: 0.2\nphases: {build: {commands: [make]}}\ncache:\n  paths: [x]\n  action: upload\n",
        "cache.action",
        (5, 11),
        "expected restore or save, got \"upload\"",
    ),
    case(
        "proxy flag not a boolean",
        "version: 0.2\nproxy:\n  logs: [yes]\nphases: {build: {commands: [make]}}\n",
        "proxy.logs",
        (3, 9),
        "expected a string, got a list",
    ),
    case(
        "batch with two kinds",
        "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n  build-graph:\n    - identifier: b\n",
        "batch",
        (3, 3),
        "exactly one of build-list, build-graph or build-matrix, found build-list and build-graph",
    ),
    case(
        "batch build without identifier",
        "version: 0.2\nbatch:\n  build-list:\n    - buildspec: a.yml\n",
        "batch.build-list[0]",
        (4, 7),
        "missing required key `identifier`",
    ),
    case(
        "depend-on in a build-list",
        "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n      depend-on: [b]\n",
        "batch.build-list[0].depend-on",
        (5, 7),
        "unknown key \"depend-on\"",
    ),
    case(
        "depend-on an unknown build",
        "version: 0.2\nbatch:\n  build-graph:\n    - identifier: a\n      depend-on: [b]\n",
        "batch.build-graph.a.depend-on",
        (4, 7),
        "depends on \"b\", which is not an identifier",
    ),
    case(
        "depend-on cycle",
        "version: 0.2\nbatch:\n  build-graph:\n    - identifier: a\n      depend-on: [b]\n    - identifier: b\n      depend-on: [a]\n",
        "batch.build-graph",
        (4, 7),
        "part of a depend-on cycle",
    ),
    case(
        "duplicate batch identifier",
        "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n    - identifier: a\n",
        "batch.build-list[1].identifier",
        (5, 7),
        "identifier \"a\" is used by two builds",
    ),
    case(
        "step with run and uses",
        "version: 0.2\nphases:\n  build:\n    steps:\n      - run: make\n        uses: actions/checkout@v4\n",
        "phases.build.steps[0]",
        (5, 9),
        "exactly one of `run` or `uses`",
    ),
    case(
        "steps and commands together",
        "version: 0.2\nphases:\n  build:\n    commands: [make]\n    steps:\n      - run: make\n",
        "phases.build",
        (4, 5),
        "either `commands` or GitHub Actions `steps`",
    ),
    case(
        "unknown key in a phase",
        "version: 0.2\nphases:\n  build:\n    command: [make]\n",
        "phases.build.command",
        (4, 5),
        "(did you mean \"commands\"?)",
    ),
    case(
        "reserved CODEBUILD_ variable",
        "version: 0.2\nenv:\n  variables:\n    CODEBUILD_SRC_DIR: /tmp\nphases: {build: {commands: [make]}}\n",
        "env.variables.CODEBUILD_SRC_DIR",
        (4, 5),
        "reserved for built-in variables",
    ),
    case(
        "reserved CODEBUILD_ secret",
        "version: 0.2\nenv:\n  parameter-store:\n    CODEBUILD_X: /p\nphases: {build: {commands: [make]}}\n",
        "env.parameter-store.CODEBUILD_X",
        (4, 5),
        "starts with CODEBUILD_",
    ),
    case(
        "unquoted colon in a command",
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo a: b: c\n",
        "",
        (5, 18),
        "mapping values are not allowed in this context; a value containing `: ` must be quoted",
    ),
    case(
        "bad indentation",
        "version: 0.2\nphases:\n  build:\n    commands:\n      - make\n     - test\n",
        "",
        (6, 6),
        "did not find expected key; check the indentation",
    ),
    case(
        "matrix without dynamic",
        "version: 0.2\nbatch:\n  build-matrix:\n    static:\n      ignore-failure: yes\n",
        "batch.build-matrix",
        (4, 5),
        "missing required key `dynamic`",
    ),
    case(
        "step with an unknown key",
        "version: 0.2\nphases:\n  build:\n    steps:\n      - run: make\n        with-env: x\n",
        "phases.build.steps[0].with-env",
        (6, 9),
        "unknown key \"with-env\"",
    ),
];

fn errors_of(yaml: &str) -> BuildspecErrors {
    match parse(yaml.as_bytes()) {
        Ok(buildspec) => panic!("expected errors, parsed {buildspec:#?}"),
        Err(errors) => errors,
    }
}

#[test]
fn malformed_buildspecs_fail_with_the_expected_path_position_and_message() {
    let mut failures = Vec::new();
    for case in CASES {
        let errors = match parse(case.yaml.as_bytes()) {
            Ok(_) => {
                failures.push(format!("{}: parsed without errors", case.name));
                continue;
            }
            Err(errors) => errors,
        };
        let matched = errors.errors().iter().any(|error| {
            error.path == case.path
                && (error.line, error.column) == (case.line, case.column)
                && error.to_string().contains(case.message)
        });
        if !matched {
            failures.push(format!(
                "{}: wanted {} at {}:{} containing {:?}, got:\n  {}",
                case.name,
                case.path,
                case.line,
                case.column,
                case.message,
                errors.to_string().replace('\n', "\n  ")
            ));
        }
    }
    assert!(CASES.len() >= 40, "keep at least 40 malformed cases");
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn several_errors_in_one_file_are_all_reported_in_file_order() {
    let yaml = "version: 0.1\nenv:\n  shell: zsh\nphases:\n  prebuild:\n    commands: [a]\n  build:\n    on-failure: STOP\nartifacts:\n  name: x\n";
    let errors = errors_of(yaml);
    let found: Vec<(String, usize, usize)> = errors
        .errors()
        .iter()
        .map(|error| (error.path.clone(), error.line, error.column))
        .collect();
    let expected = [
        ("version", 1, 10),
        ("env.shell", 3, 10),
        ("phases.prebuild", 5, 3),
        ("phases.build", 8, 5),
        ("phases.build.on-failure", 8, 17),
        ("artifacts", 10, 3),
    ];
    let expected: Vec<(String, usize, usize)> = expected
        .iter()
        .map(|(path, line, column)| ((*path).to_owned(), *line, *column))
        .collect();
    assert_eq!(found, expected, "all errors:\n{errors}");
}

#[test]
fn the_display_form_names_path_message_and_position() {
    let errors = errors_of("version: 0.2\nphases:\n  build:\n    on-failure: STOP\n    commands: [make]\n");
    assert_eq!(
        errors.to_string(),
        "phases.build.on-failure: expected ABORT, CONTINUE or RETRY[-count][-regex], got \"STOP\" at line 4, column 17"
    );
}
