//! Resolved secret values never reach the disk in clear: after builds that resolve Parameter Store and Secrets
//! Manager values (and `--secret` values in `kiln run`), whether they succeed, fail, time out or are stopped,
//! no file under the work area, the data directory or the output holds a value; while a build runs, its shell's
//! control files are readable by the build's user only and hold no value either.

// The helpers below are test code outside `#[test]` functions.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kiln_core::build::{PhaseType, StatusType};
use kiln_core::ports::secrets::SecretRef;
use kiln_executor::artifacts::Packaging;
use kiln_executor::env::{EnvValue, EnvVarSpec};
use kiln_executor::outputs::ArtifactTarget;
use kiln_executor::source::SourceSpec;
use kiln_executor::{BuildEvent, BuildRequest, BuildResult, BuildspecSource, CancellationToken, Ports};
use kiln_local::object_store::DirObjectStore;
use kiln_local::{FileLogSink, LocalSecrets};
use kiln_tests::kiln::{GitRepo, TestKiln, kiln_bin};
use serde_json::json;

const PARAMETER: &str = "kiln-parameter-value-7c1e";
const SECRET: &str = "kiln-secret-value-2b8d";
const OVERRIDE: &str = "kiln-override-value-91fa";

/// Every regular file under `dir` (links not followed) whose bytes hold one of `values`.
pub(crate) fn files_holding(dir: &Path, values: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            found.extend(files_holding(&path, values));
        } else if meta.is_file() {
            let bytes = std::fs::read(&path).unwrap_or_default();
            let holds = |value: &&str| bytes.windows(value.len()).any(|w| w == value.as_bytes());
            if values.iter().any(holds) {
                found.push(path);
            }
        }
    }
    found
}

/// The modes and kinds of the shells' control directories under `work` and of their files (`stat` lines).
fn control_modes(work: &Path) -> String {
    if !work.is_dir() {
        return String::new();
    }
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("stat -c '%a %F %n' shell-* shell-*/* 2>/dev/null")
        .current_dir(work)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Checks `stat` lines of control directories: 0700 directories, 0600 files, only the three expected files.
fn assert_private(modes: &str) {
    assert!(!modes.trim().is_empty(), "no control directory was seen");
    for line in modes.lines() {
        let ok = line.starts_with("700 directory ")
            || ["/cmd", "/init.sh", "/status"]
                .iter()
                .any(|name| line.ends_with(name))
                && (line.starts_with("600 regular file ")
                    || line.starts_with("600 regular empty file ")
                    || line.starts_with("600 fifo "));
        assert!(ok, "unexpected control entry: {line}\n{modes}");
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Succeeded,
    Failed,
    TimedOut,
    Stopped,
}

/// A buildspec that resolves a Parameter Store and a Secrets Manager value (with a json-key), copies them into
/// an exported variable, ends its shell with `exit` (the state is handed to the next shell), switches users
/// when run as root, records its control files' modes, then ends as `ending` asks.
fn buildspec(ending: Ending) -> String {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let run_as = if root { "    run-as: nobody\n" } else { "" };
    let last = match ending {
        Ending::Succeeded => "test -n \"$COPY\"",
        Ending::Failed => "false",
        Ending::TimedOut | Ending::Stopped => "sleep 60",
    };
    format!(
        "version: 0.2\nenv:\n  exported-variables: [COPY]\n  parameter-store:\n    FROM_PARAMETER: /ci/parameter\n  \
         secrets-manager:\n    FROM_SECRET: ci/app:password\nphases:\n  install:\n    commands:\n      \
         - export COPY=\"$FROM_PARAMETER-$FROM_SECRET-$FROM_OVERRIDE\"\n      - exit 0\n      \
         - (cd ../work && stat -c '%a %F %n' shell-* shell-*/*) > ../modes.txt\n  pre_build:\n{run_as}    \
         commands:\n      - test -n \"$COPY\"\n  build:\n    commands:\n      - test -n \"$COPY\"\n      - {last}\n\
         artifacts:\n  name: build-$(echo $CODEBUILD_BUILD_NUMBER)\n  files: [app.txt]\n"
    )
}

/// Runs the buildspec for `ending` through the executor library, in a temp dir: `src/`, `work/`, `out/`, the log.
async fn run_ending(ending: Ending) -> (BuildResult, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("app.txt"), "app\n").unwrap();
    let mut request = BuildRequest::local(SourceSpec::Dir(src), dir.path().join("work"));
    request.buildspec = BuildspecSource::Inline(buildspec(ending));
    request.timeout = Duration::from_secs(if ending == Ending::TimedOut { 4 } else { 60 });
    request.override_env.push(EnvVarSpec {
        name: "FROM_OVERRIDE".into(),
        value: EnvValue::Secret(SecretRef::Parameter("/ci/override".into())),
    });
    let mut secrets = LocalSecrets::new();
    secrets.insert("/ci/parameter", PARAMETER);
    secrets.insert("ci/app", &json!({"password": SECRET, "user": "ci"}).to_string());
    secrets.insert("/ci/override", OVERRIDE);
    let ports = Ports {
        source: kiln_executor::source::SourceFetcher::default(),
        log: Arc::new(FileLogSink::create(dir.path().join("build.log")).unwrap()),
        secrets: Arc::new(secrets),
        terminal: None,
        artifacts: Some(ArtifactTarget {
            store: Arc::new(DirObjectStore::new(dir.path().join("out"))),
            key_prefix: "artifacts".into(),
            packaging: Packaging::None,
        }),
        cache: None,
    };
    let stop = CancellationToken::new();
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
    let run = tokio::spawn(kiln_executor::run(request, ports, Some(events), stop.clone()));
    while let Some(event) = received.recv().await {
        if ending == Ending::Stopped
            && event
                == (BuildEvent::PhaseStarted {
                    phase: PhaseType::Build,
                })
        {
            tokio::time::sleep(Duration::from_millis(500)).await;
            stop.cancel();
        }
    }
    (run.await.unwrap(), dir)
}

#[tokio::test]
async fn no_secret_value_is_left_on_disk_whether_the_build_succeeds_fails_times_out_or_is_stopped() {
    let values = [PARAMETER, SECRET, OVERRIDE];
    for (ending, status) in [
        (Ending::Succeeded, StatusType::Succeeded),
        (Ending::Failed, StatusType::Failed),
        (Ending::TimedOut, StatusType::TimedOut),
        (Ending::Stopped, StatusType::Stopped),
    ] {
        let (result, dir) = run_ending(ending).await;
        let log = std::fs::read_to_string(dir.path().join("build.log")).unwrap();
        assert_eq!(result.build_status, status, "{ending:?}: {log}");
        assert!(log.contains("Running command exit 0"), "{log}");
        assert_eq!(
            files_holding(dir.path(), &values),
            Vec::<PathBuf>::new(),
            "{ending:?}"
        );
        assert_private(&std::fs::read_to_string(dir.path().join("modes.txt")).unwrap());
        let left: Vec<_> = std::fs::read_dir(dir.path().join("work"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .filter(|name| name.to_string_lossy().starts_with("shell-"))
            .collect();
        assert!(left.is_empty(), "{ending:?}: control directories left: {left:?}");
        if ending == Ending::Succeeded {
            let copy = result
                .exported_environment_variables
                .iter()
                .find(|v| v.name == "COPY");
            assert!(copy.is_some_and(|v| v.value.contains("***")), "{copy:?}");
            assert!(dir.path().join("out/artifacts/build-1/app.txt").is_file());
        }
    }
}

#[test]
fn kiln_run_leaves_no_secret_value_in_its_work_area_or_output_even_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (src, tmp, out) = (
        dir.path().join("src"),
        dir.path().join("tmp"),
        dir.path().join("out"),
    );
    for sub in [&src, &tmp] {
        std::fs::create_dir_all(sub).unwrap();
    }
    std::fs::write(
        src.join("buildspec.yml"),
        "version: 0.2\nenv:\n  parameter-store:\n    TOKEN: /ci/token\nphases:\n  build:\n    commands:\n      \
         - export COPY=\"x$TOKEN\"\n      - exit 0\n      - test \"$COPY\" = \"x$TOKEN\"\n      \
         - grep -rl -D skip -- \"$TOKEN\" \"$TMPDIR\" > ../found.txt || true\n      - false\n",
    )
    .unwrap();
    let status = std::process::Command::new(kiln_bin())
        .arg("run")
        .arg(&src)
        .args(["--artifacts", out.to_str().unwrap()])
        .args(["--secret", &format!("/ci/token={PARAMETER}")])
        .env("TMPDIR", &tmp)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1), "the build fails at its last command");
    let log = std::fs::read_to_string(out.join("build.log")).unwrap();
    assert!(
        log.contains("Running command false"),
        "the state survived the exit: {log}"
    );
    let found = std::fs::read_to_string(dir.path().join("found.txt")).unwrap();
    assert_eq!(found, "", "files holding the value while the build ran");
    assert_eq!(files_holding(dir.path(), &[PARAMETER]), Vec::<PathBuf>::new());
}

#[test]
fn kiln_serve_leaves_no_secret_value_in_its_data_directory() {
    let repo = GitRepo::with_buildspec(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - export COPY=\"$FROM_PARAMETER-$FROM_SECRET\"\n      \
         - exit 0\n      - test -n \"$COPY\"\n      - if [ \"$MODE\" = sleep ]; then sleep 60; fi\n      \
         - test \"$MODE\" != fail\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let secrets_file = dir.path().join("secrets.json");
    std::fs::write(
        &secrets_file,
        json!({"/ci/parameter": PARAMETER, "ci/app": SECRET}).to_string(),
    )
    .unwrap();
    let config = format!(
        "projects:\n  - name: app\n    source:\n      type: GIT\n      location: {}\n    artifacts:\n      \
         type: NO_ARTIFACTS\n    environment:\n      environmentVariables:\n        \
         - {{name: FROM_PARAMETER, value: /ci/parameter, type: PARAMETER_STORE}}\n        \
         - {{name: FROM_SECRET, value: ci/app, type: SECRETS_MANAGER}}\n",
        repo.url()
    );
    let kiln = TestKiln::spawn_with(&config, &["--secrets-file", secrets_file.to_str().unwrap()]);
    let values = [PARAMETER, SECRET];
    let start = |mode: &str| {
        let (status, body) = kiln.api(
            "StartBuild",
            json!({"projectName": "app", "environmentVariablesOverride": [{"name": "MODE", "value": mode}]}),
        );
        assert_eq!(status, 200, "{body}");
        body["build"]["id"].as_str().unwrap().to_owned()
    };
    for (mode, status) in [("pass", "SUCCEEDED"), ("fail", "FAILED")] {
        let id = start(mode);
        let build = kiln.wait_for(&id, "TERMINAL");
        assert_eq!(build["buildStatus"], status, "{build}");
    }
    let sleeping = start("sleep");
    let work = kiln
        .data_dir()
        .join("work")
        .join(sleeping.rsplit(':').next().unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !control_modes(&work).contains("shell-2/cmd") {
        assert!(
            std::time::Instant::now() < deadline,
            "the build never reached its second shell"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_private(&control_modes(&work));
    assert_eq!(
        files_holding(&kiln.data_dir(), &values),
        Vec::<PathBuf>::new(),
        "while it runs"
    );
    let (status, body) = kiln.api("StopBuild", json!({"id": sleeping}));
    assert_eq!(status, 200, "{body}");
    let stopped = kiln.wait_for(&sleeping, "TERMINAL");
    assert_eq!(stopped["buildStatus"], "STOPPED", "{stopped}");
    // The runner removes the control directory as it ends, which may be just after the record says STOPPED.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !kiln.runner_pids().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the runner did not end");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(control_modes(&work), "", "the control directories are gone");
    assert_eq!(files_holding(&kiln.data_dir(), &values), Vec::<PathBuf>::new());
}
