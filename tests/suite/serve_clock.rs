//! `kiln serve` with its clock moved by the test (the hidden `--test-clock-file` knob): build and queued
//! timeouts end builds TIMED_OUT, and a schedule fires once, even when a restart and a clock set back replay
//! its fire time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kiln_tests::kiln::{GitRepo, TestKiln};
use serde_json::{Value, json};

const SLEEPY: &str = "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 300\n";

/// A server whose clock is the real one shifted by the seconds written to the returned file.
fn spawn_with_clock(config: &str) -> (TestKiln, tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("test setup");
    let file = dir.path().join("clock-offset");
    std::fs::write(&file, "0").expect("test setup");
    let kiln = TestKiln::spawn_with(config, &["--test-clock-file", file.to_str().expect("test setup")]);
    (kiln, dir, file)
}

fn set_offset(file: &Path, seconds: i64) {
    std::fs::write(file, seconds.to_string()).expect("test setup");
}

fn project(repo: &GitRepo, extra: &str) -> String {
    format!(
        "projects:\n  - name: web\n    source:\n      type: GIT\n      location: {}\n    artifacts:\n      type: \
         NO_ARTIFACTS\n{extra}",
        repo.url()
    )
}

fn wait_until(mut check: impl FnMut() -> bool, what: &str) {
    for _ in 0..600 {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting: {what}");
}

fn build_ids(kiln: &TestKiln) -> Vec<Value> {
    let (status, body) = kiln.api("ListBuildsForProject", json!({"projectName": "web"}));
    assert_eq!(status, 200, "{body}");
    body["ids"].as_array().cloned().unwrap_or_default()
}

fn phase_types(build: &Value) -> Vec<String> {
    build["phases"]
        .as_array()
        .map(|phases| {
            phases
                .iter()
                .filter_map(|p| p["phaseType"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_running_build_past_its_timeout_and_a_queued_build_past_its_queued_timeout_end_timed_out() {
    let repo = GitRepo::with_buildspec(SLEEPY);
    let extra = "    timeoutInMinutes: 5\n    queuedTimeoutInMinutes: 5\n    concurrentBuildLimit: 1\n";
    let (kiln, _clock_dir, clock) = spawn_with_clock(&project(&repo, extra));
    let running = kiln.start_build("web");
    wait_until(
        || kiln.build(&running).is_some_and(|b| b["currentPhase"] == "BUILD"),
        "the first build runs its sleep",
    );
    let queued = kiln.start_build("web");
    assert_eq!(kiln.build(&queued).unwrap()["currentPhase"], "QUEUED");

    set_offset(&clock, 6 * 60);
    let timed_out = kiln.wait_for(&running, "TIMED_OUT");
    let build_phase = timed_out["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phaseType"] == "BUILD")
        .cloned()
        .unwrap();
    assert_eq!(build_phase["phaseStatus"], "TIMED_OUT", "{timed_out}");
    let expired = kiln.wait_for(&queued, "TIMED_OUT");
    assert!(
        !phase_types(&expired).contains(&"PROVISIONING".to_owned()),
        "the queued build never started: {expired}"
    );
    assert!(
        expired
            .to_string()
            .contains("Build timed out while waiting in the queue"),
        "{expired}"
    );
    wait_until(
        || kiln.runner_pids().is_empty(),
        "the timed-out build's runner is killed",
    );
}

#[test]
fn a_schedule_fires_once_and_a_restart_with_the_clock_set_back_does_not_fire_it_again() {
    let repo =
        GitRepo::with_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - echo scheduled\n");
    let fire_at = std::time::SystemTime::now() + Duration::from_secs(30 * 60);
    let fire_at = kiln_core::build::Timestamp::from(fire_at).epoch_millis() / 1000;
    let expression = format!("at({})", utc_text(fire_at));
    let extra = format!("    schedules:\n      - name: nightly\n        expression: \"{expression}\"\n");
    let (mut kiln, _clock_dir, clock) = spawn_with_clock(&project(&repo, &extra));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(build_ids(&kiln).is_empty(), "nothing fires before its time");

    set_offset(&clock, 31 * 60);
    wait_until(|| build_ids(&kiln).len() == 1, "the schedule fires");
    let id = build_ids(&kiln)[0].as_str().unwrap().to_owned();
    let build = kiln.wait_for(&id, "SUCCEEDED");
    assert_eq!(build["initiator"], "kiln-schedule/nightly", "{build}");

    // Restart with the clock before the fire time, then move it past again: the scheduler watches the same
    // fire time a second time, and its idempotency key keeps it to one build.
    set_offset(&clock, 0);
    kiln.restart();
    std::thread::sleep(Duration::from_millis(1500));
    set_offset(&clock, 31 * 60);
    std::thread::sleep(Duration::from_millis(3000));
    assert_eq!(build_ids(&kiln), [json!(id)], "fired once in all");
}

/// `yyyy-mm-ddThh:mm:ss` in UTC for epoch seconds (days-from-civil, so the suite needs no date crate).
fn utc_text(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[test]
fn api_tokens_expire_after_five_minutes_and_listings_page_and_sort() {
    let repo = GitRepo::with_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n");
    let (kiln, _clock_dir, clock) = spawn_with_clock(&project(&repo, ""));
    let start = |version: &str| {
        kiln.api(
            "StartBuild",
            json!({"projectName": "web", "idempotencyToken": "tok", "sourceVersion": version}),
        )
    };
    let (status, first) = start("main");
    assert_eq!(status, 200, "{first}");
    let first = first["build"]["id"].as_str().unwrap().to_owned();
    let (status, refused) = start("HEAD");
    assert_eq!(
        (status, refused["__type"].as_str()),
        (400, Some("IdempotentParameterMismatchException")),
        "{refused}"
    );
    set_offset(&clock, 6 * 60);
    let (status, second) = start("HEAD");
    assert_eq!(status, 200, "{second}");
    let second = second["build"]["id"].as_str().unwrap().to_owned();
    assert_ne!(second, first, "an expired token starts a new build");
    for id in [&first, &second] {
        kiln.wait_for(id, "SUCCEEDED");
    }
    for (operation, input) in [
        ("ListBuilds", json!({})),
        ("ListBuildsForProject", json!({"projectName": "web"})),
    ] {
        let list = |order: &str| {
            let mut input = input.clone();
            input["sortOrder"] = json!(order);
            kiln.api(operation, input).1["ids"].clone()
        };
        assert_eq!(list("ASCENDING"), json!([first, second]), "{operation}");
        assert_eq!(list("DESCENDING"), json!([second, first]), "{operation}");
    }

    let environment =
        json!({"type": "LINUX_CONTAINER", "image": "local", "computeType": "BUILD_GENERAL1_SMALL"});
    for n in 0..105 {
        let (status, body) = kiln.api(
            "CreateProject",
            json!({"name": format!("p{n:03}"), "source": {"type": "NO_SOURCE", "buildspec": "version: 0.2"},
                   "artifacts": {"type": "NO_ARTIFACTS"}, "environment": environment,
                   "serviceRole": "arn:aws:iam::000000000000:role/kiln"}),
        );
        assert_eq!(status, 200, "{body}");
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut input = json!({"sortBy": "NAME", "sortOrder": "ASCENDING"});
        if let Some(t) = &token {
            input["nextToken"] = json!(t);
        }
        let (status, page) = kiln.api("ListProjects", input);
        assert_eq!(status, 200, "{page}");
        pages += 1;
        seen.extend(
            page["projects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_owned()),
        );
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    let mut expected: Vec<String> = (0..105).map(|n| format!("p{n:03}")).collect();
    expected.push("web".into());
    assert_eq!((pages, seen), (2, expected));
    let (_, newest) = kiln.api(
        "ListProjects",
        json!({"sortBy": "CREATED_TIME", "sortOrder": "DESCENDING"}),
    );
    assert_eq!(newest["projects"][0], "p104", "{newest}");
    let (status, bad) = kiln.api("ListProjects", json!({"nextToken": "nonsense"}));
    assert_eq!(
        (status, bad["__type"].as_str()),
        (400, Some("InvalidInputException"))
    );
}
