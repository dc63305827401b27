//! `kiln validate` run as a real process: the fixtures pass, malformed files list every error with its
//! position, an unreadable file exits 2, and hostile files are refused with a specific error. For hostile
//! files the test prints wall time and peak RSS measured by GNU time (`/usr/bin/time -f '%e %M'`); it asserts
//! only the error and the exit code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kiln_tests::paths::workspace_root;

/// The `kiln` binary built by `cargo build` (the test command builds all targets first).
fn kiln() -> PathBuf {
    let binary = workspace_root().join("target").join("debug").join("kiln");
    assert!(
        binary.is_file(),
        "{} is missing; run `cargo build -p kiln` first",
        binary.display()
    );
    binary
}

/// `shared/fixtures`: `KILN_FIXTURES`, else the first ancestor of the workspace that holds it.
fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KILN_FIXTURES") {
        return PathBuf::from(dir);
    }
    let root = workspace_root();
    root.ancestors()
        .map(|dir| dir.join("shared").join("fixtures"))
        .find(|dir| dir.join("README.md").is_file() && dir.join("webhooks").is_dir())
        .unwrap_or_else(|| panic!("no shared/fixtures above {}; set KILN_FIXTURES", root.display()))
}

fn validate(file: &Path) -> Output {
    Command::new(kiln())
        .arg("validate")
        .arg(file)
        .output()
        .expect("kiln runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn kiln_validate_accepts_every_real_buildspec() {
    let dir = fixtures_dir().join("buildspecs");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("buildspec fixtures") {
        let path = entry.expect("entry").path();
        let output = validate(&path);
        let text = stdout(&output);
        assert_eq!(output.status.code(), Some(0), "{}:\n{text}", path.display());
        assert!(text.ends_with(&format!("{}: ok\n", path.display())), "{text}");
        checked += 1;
    }
    assert_eq!(checked, 28);
}

#[test]
fn kiln_validate_prints_warnings_before_ok() {
    let path = fixtures_dir()
        .join("buildspecs")
        .join("aws-amplify__amplify-category-api__codebuild_specs__e2e_workflow.yml");
    let output = validate(&path);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let name = path.display();
    assert!(
        text.starts_with(&format!(
            "{name}:5:3: warning: env.compute-type: \"compute-type\" is a project"
        )),
        "{text}"
    );
}

#[test]
fn kiln_validate_lists_every_error_as_file_line_column_path_message_and_exits_1() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("buildspec.yml");
    std::fs::write(&path, "version: 0.2\nphases:\n  build:\n    on-failure: STOP\n    commands: [make]\n  deploy:\n    commands: [x]\n")
        .expect("write");
    let output = validate(&path);
    let name = path.display();
    let expected = format!(
        "{name}:4:17: phases.build.on-failure: expected ABORT, CONTINUE or RETRY[-count][-regex], got \"STOP\"\n\
         {name}:6:3: phases.deploy: unknown key \"deploy\"; expected one of: install, pre_build, build, post_build\n\
         {name}: 2 errors\n"
    );
    assert_eq!(stdout(&output), expected);
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn kiln_validate_reads_buildspec_yml_in_the_current_directory_by_default() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("buildspec.yml"),
        "version: 0.2\nphases: {build: {commands: [make]}}\n",
    )
    .expect("write");
    let output = Command::new(kiln())
        .arg("validate")
        .current_dir(dir.path())
        .output()
        .expect("kiln runs");
    assert_eq!(stdout(&output), "buildspec.yml: ok\n");
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn kiln_validate_exits_2_when_the_file_cannot_be_read() {
    let output = validate(Path::new("/nonexistent/buildspec.yml"));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read /nonexistent/buildspec.yml"),
        "{stderr}"
    );
}

/// Runs `kiln validate` under GNU time; returns the output and prints `label: <seconds> s, <KiB> KiB peak RSS`.
fn validate_measured(label: &str, path: &Path) -> Output {
    let time = Path::new("/usr/bin/time");
    assert!(
        time.is_file(),
        "GNU time (/usr/bin/time) is needed to measure hostile inputs"
    );
    let figures = path.with_extension("time");
    let output = Command::new(time)
        .arg("-o")
        .arg(&figures)
        .args(["-f", "%e %M"])
        .arg(kiln())
        .arg("validate")
        .arg(path)
        .output()
        .expect("time runs kiln");
    let figures = std::fs::read_to_string(&figures).expect("time wrote its figures");
    // GNU time puts "Command exited with non-zero status N" before the figures.
    let mut fields = figures.lines().last().unwrap_or_default().split_whitespace();
    let (seconds, kib) = (fields.next().unwrap_or("?"), fields.next().unwrap_or("?"));
    eprintln!("hostile input {label}: {seconds} s, {kib} KiB peak RSS");
    output
}

#[test]
fn kiln_validate_refuses_hostile_files_with_a_specific_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut billion_laughs =
        String::from("version: 0.2\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..10 {
        let items = vec![format!("*a{}", level - 1); 10].join(", ");
        billion_laughs.push_str(&format!("a{level}: &a{level} [{items}]\n"));
    }
    billion_laughs.push_str("phases: {build: {commands: *a9}}\n");
    let big_commands: String = (0..100_000)
        .map(|i| format!("      - echo command number {i:08}\n"))
        .collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "20 MB file",
            vec![b'#'; 20 * 1024 * 1024],
            ":1:1: (document): the buildspec is 20971520 bytes, more than the 4194304-byte (4 MiB) limit",
        ),
        (
            "billion laughs",
            billion_laughs.into_bytes(),
            "aliases expand to more than 100000 nodes",
        ),
        (
            "flow nesting 10,000 deep",
            format!("version: 0.2\nx: {}{}\n", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
            "nesting is deeper than 64 levels",
        ),
        (
            "block nesting 10,000 deep",
            format!("version: 0.2\nx:\n{}a\n", "- ".repeat(10_000)).into_bytes(),
            "nesting is deeper than 64 levels",
        ),
        (
            "mapping nesting 10,000 deep",
            format!(
                "version: 0.2\nx: {}1{}\n",
                "{a: ".repeat(10_000),
                "}".repeat(10_000)
            )
            .into_bytes(),
            "nesting is deeper than 64 levels",
        ),
        (
            "4 MB flow list of 2,000,000 one-letter items",
            format!("version: 0.2\nx: [{}]\n", vec!["a"; 2_000_000].join(",")).into_bytes(),
            "the buildspec has more than 250000 values",
        ),
        (
            "3.7 MB of commands plus one bad key",
            format!("version: 0.2\nphases:\n  build:\n    commands:\n{big_commands}  bulid: {{}}\n")
                .into_bytes(),
            "phases.bulid: unknown key \"bulid\" (did you mean \"build\"?)",
        ),
    ];
    for (label, bytes, expected) in cases {
        let path = dir.path().join(format!("{}.yml", label.replace([' ', ','], "_")));
        std::fs::write(&path, &bytes).expect("write hostile file");
        let output = validate_measured(label, &path);
        let text = stdout(&output);
        assert_eq!(output.status.code(), Some(1), "{label}:\n{text}");
        assert!(
            text.contains(expected),
            "{label}: wanted {expected:?} in:\n{text}"
        );
    }
}
