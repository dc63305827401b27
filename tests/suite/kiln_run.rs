//! `kiln run` as a user runs it: a real process, stopped by a signal like Ctrl-C or `kill`.

// The helper below is test code outside `#[test]` functions.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use kiln_tests::kiln::kiln_bin;

/// `kiln run SRC --artifacts OUT` with stdout piped to the test (stderr discarded).
fn spawn_kiln_run(src: &std::path::Path, out: &std::path::Path) -> std::process::Child {
    Command::new(kiln_bin())
        .arg("run")
        .arg(src)
        .arg("--artifacts")
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Starts `kiln run` on a buildspec whose BUILD phase sleeps, waits until that command runs, sends `signal`,
/// and returns the exit code, the build record and whether the sleeper survived.
fn stop_kiln_run_with(signal: &str) -> (Option<i32>, serde_json::Value, bool) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&src).unwrap();
    let marker = format!("kiln-run-stop-{}-{signal}", std::process::id());
    std::fs::write(
        src.join("buildspec.yml"),
        format!(
            "version: 0.2\nphases:\n  build:\n    commands:\n      - echo started\n      - \"sh -c 'sleep 300; true {marker}'\"\n"
        ),
    )
    .unwrap();
    let mut child = spawn_kiln_run(&src, &out);
    let stdout = child.stdout.take().unwrap();
    // Keep draining stdout after the command shows up, as a terminal would.
    let (seen_tx, seen_rx) = std::sync::mpsc::channel();
    let drain = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if line.unwrap_or_default().contains("Running command sh -c") {
                let _ = seen_tx.send(());
            }
        }
    });
    assert!(
        seen_rx.recv_timeout(Duration::from_secs(120)).is_ok(),
        "kiln run never reached the sleeping command"
    );
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let code = child.wait().unwrap().code();
    drain.join().unwrap();
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("build.json")).expect("build.json is written"))
            .unwrap();
    let survivor = std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .map(|cmd| String::from_utf8_lossy(&cmd).contains(&marker))
            .unwrap_or(false)
    });
    (code, record, survivor)
}

#[test]
fn sigterm_to_kiln_run_ends_the_build_stopped_and_leaves_no_process_behind() {
    let (code, record, survivor) = stop_kiln_run_with("TERM");
    assert_eq!(code, Some(5), "exit code 5 means STOPPED");
    assert_eq!(record["buildStatus"], "STOPPED", "{record}");
    assert!(!survivor, "the build's sleeping command survived");
}

#[test]
fn sigint_to_kiln_run_ends_the_build_stopped_and_leaves_no_process_behind() {
    let (code, record, survivor) = stop_kiln_run_with("INT");
    assert_eq!(code, Some(5), "exit code 5 means STOPPED");
    assert_eq!(record["buildStatus"], "STOPPED", "{record}");
    assert!(!survivor, "the build's sleeping command survived");
}

#[test]
fn kiln_run_piped_into_a_reader_that_goes_away_still_exits_with_the_build_status() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("buildspec.yml"),
        "version: 0.2\nphases:\n  build:\n    commands:\n      - seq 1 20000\n",
    )
    .unwrap();
    let mut child = spawn_kiln_run(&src, &out);
    // Like `kiln run | head -1`: read one line, then close the pipe.
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("[Container]"), "{first}");
    let code = child.wait().unwrap().code();
    assert_eq!(
        code,
        Some(0),
        "a closed stdout must not turn a SUCCEEDED build into a failure"
    );
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("build.json")).unwrap()).unwrap();
    assert_eq!(record["buildStatus"], "SUCCEEDED");
}
