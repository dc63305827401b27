//! The engine's semantic rules, one test each, against real shells and real files.

use std::sync::Arc;
use std::time::Duration;

use kiln_core::build::{PhaseType, StatusType};
use kiln_local::{FileLogSink, LocalSecrets};
use tokio_util::sync::CancellationToken;

use crate::env::{EnvValue, EnvVarSpec};
use crate::record::{BuildEvent, BuildResult};
use crate::request::{BuildRequest, BuildspecSource, Ports};
use crate::source::SourceSpec;

struct Run {
    result: BuildResult,
    log: String,
    dir: tempfile::TempDir,
}

impl Run {
    fn phase(&self, phase: PhaseType) -> Option<StatusType> {
        self.result
            .phases
            .iter()
            .find(|p| p.phase_type == phase)
            .and_then(|p| p.phase_status)
    }

    fn exported(&self, name: &str) -> Option<&str> {
        let vars = &self.result.exported_environment_variables;
        vars.iter().find(|v| v.name == name).map(|v| v.value.as_str())
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join("src").join(name)).unwrap_or_default()
    }
}

async fn build_with(yaml: &str, tweak: impl FnOnce(&mut BuildRequest, &mut LocalSecrets)) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let mut request = BuildRequest::local(SourceSpec::Dir(src), dir.path().join("work"));
    request.buildspec = BuildspecSource::Inline(yaml.to_owned());
    request.timeout = Duration::from_secs(60);
    let mut secrets = LocalSecrets::new();
    tweak(&mut request, &mut secrets);
    let log_path = dir.path().join("build.log");
    let ports = Ports {
        source: crate::source::SourceFetcher::default(),
        log: Arc::new(FileLogSink::create(&log_path).unwrap()),
        secrets: Arc::new(secrets),
        terminal: None,
        artifacts: None,
        cache: None,
    };
    let result = crate::run(request, ports, None, CancellationToken::new()).await;
    let log = std::fs::read_to_string(&log_path).unwrap();
    Run { result, log, dir }
}

async fn build(yaml: &str) -> Run {
    build_with(yaml, |_, _| {}).await
}

#[tokio::test]
async fn one_shell_session_keeps_cd_export_and_assignments_across_commands_and_phases() {
    let run = build(
        "version: 0.2\nphases:\n  install:\n    commands:\n      - mkdir -p sub && cd sub\n      - export A=1\n      - B=2\n  build:\n    commands:\n      - echo \"$(basename \"$PWD\") $A $B\" > ../out.txt\n    finally:\n      - echo \"$A$B\" > ../finally.txt\n",
    )
    .await;
    assert_eq!(run.result.build_status, StatusType::Succeeded, "{}", run.log);
    assert_eq!(run.file("out.txt"), "sub 1 2\n");
    assert_eq!(run.file("finally.txt"), "12\n");
}

#[tokio::test]
async fn bash_is_used_when_env_shell_is_bash() {
    let run = build("version: 0.2\nenv:\n  shell: bash\nphases:\n  build:\n    commands:\n      - echo \"$BASH_VERSION\" > v.txt\n      - '[[ -n \"$BASH_VERSION\" ]]'\n").await;
    assert_eq!(run.result.build_status, StatusType::Succeeded, "{}", run.log);
    assert!(!run.file("v.txt").trim().is_empty());
}

#[tokio::test]
async fn a_failing_command_skips_the_rest_runs_finally_and_fails_the_phase() {
    let run = build("version: 0.2\nphases:\n  build:\n    commands:\n      - echo one >> trace\n      - 'false'\n      - echo skipped >> trace\n    finally:\n      - echo finally >> trace\n").await;
    assert_eq!(run.file("trace"), "one\nfinally\n");
    assert_eq!(run.phase(PhaseType::Build), Some(StatusType::Failed));
    assert_eq!(run.phase(PhaseType::PostBuild), Some(StatusType::Succeeded));
    assert_eq!(run.phase(PhaseType::UploadArtifacts), Some(StatusType::Succeeded));
    assert_eq!(run.result.build_status, StatusType::Failed);
    let build = run
        .result
        .phases
        .iter()
        .find(|p| p.phase_type == PhaseType::Build)
        .unwrap();
    assert_eq!(build.contexts[0].status_code, "COMMAND_EXECUTION_ERROR");
    assert_eq!(
        build.contexts[0].message,
        "Error while executing command: false. Reason: exit status 1"
    );
    assert!(run.log.contains("Phase context status code: COMMAND_EXECUTION_ERROR Message: Error while executing command: false. Reason: exit status 1"), "{}", run.log);
}

#[tokio::test]
async fn a_failing_finally_command_fails_the_phase() {
    let run = build("version: 0.2\nphases:\n  build:\n    commands:\n      - 'true'\n    finally:\n      - exit_with() { return $1; }; exit_with 4\n").await;
    assert_eq!(run.phase(PhaseType::Build), Some(StatusType::Failed));
}

#[tokio::test]
async fn a_command_that_calls_exit_fails_its_phase_without_killing_the_executor() {
    let run = build("version: 0.2\nphases:\n  build:\n    commands:\n      - export KEPT=yes; cd /tmp\n      - exit 3\n    finally:\n      - echo \"$KEPT $PWD\" > \"$CODEBUILD_SRC_DIR/after-exit.txt\"\n  post_build:\n    commands:\n      - echo \"$CODEBUILD_BUILD_SUCCEEDING\" > \"$CODEBUILD_SRC_DIR/post.txt\"\n").await;
    assert_eq!(
        run.phase(PhaseType::Build),
        Some(StatusType::Failed),
        "{}",
        run.log
    );
    assert!(run.log.contains("Reason: exit status 3"), "{}", run.log);
    assert_eq!(run.file("after-exit.txt"), "yes /tmp\n");
    assert_eq!(run.file("post.txt"), "0\n");
}

#[tokio::test]
async fn multi_line_block_scalars_are_one_command() {
    let run = build("version: 0.2\nphases:\n  build:\n    commands:\n      - |\n        for i in 1 2 3; do\n          echo $i >> lines\n        done\n").await;
    assert_eq!(run.file("lines"), "1\n2\n3\n");
    assert_eq!(run.log.matches("Running command").count(), 1, "{}", run.log);
}

#[tokio::test]
async fn codebuild_build_succeeding_is_1_then_0_after_a_failure() {
    let run = build("version: 0.2\nphases:\n  pre_build:\n    commands:\n      - echo $CODEBUILD_BUILD_SUCCEEDING >> s\n  build:\n    commands:\n      - 'false'\n    finally:\n      - echo $CODEBUILD_BUILD_SUCCEEDING >> s\n  post_build:\n    commands:\n      - echo $CODEBUILD_BUILD_SUCCEEDING >> s\n").await;
    assert_eq!(run.file("s"), "1\n0\n0\n");
}

#[tokio::test]
async fn on_failure_continue_runs_the_next_phase_and_abort_skips_to_the_end() {
    let run = build("version: 0.2\nphases:\n  install:\n    on-failure: CONTINUE\n    commands:\n      - 'false'\n  pre_build:\n    commands:\n      - touch pre\n").await;
    assert!(!run.file("pre").is_empty() || run.dir.path().join("src/pre").exists());
    assert_eq!(run.result.build_status, StatusType::Failed);
    let run = build("version: 0.2\nphases:\n  build:\n    on-failure: ABORT\n    commands:\n      - 'false'\n  post_build:\n    commands:\n      - touch post\n").await;
    assert!(!run.dir.path().join("src/post").exists());
    assert_eq!(run.phase(PhaseType::PostBuild), None);
    assert_eq!(run.phase(PhaseType::UploadArtifacts), Some(StatusType::Succeeded));
}

#[tokio::test]
async fn default_transitions_skip_to_finalizing_after_an_install_failure() {
    let run = build("version: 0.2\nphases:\n  install:\n    commands:\n      - 'false'\n  build:\n    commands:\n      - touch built\n").await;
    assert!(!run.dir.path().join("src/built").exists());
    let order: Vec<PhaseType> = run.result.phases.iter().map(|p| p.phase_type).collect();
    assert_eq!(
        order,
        vec![
            PhaseType::Submitted,
            PhaseType::Queued,
            PhaseType::Provisioning,
            PhaseType::DownloadSource,
            PhaseType::Install,
            PhaseType::Finalizing,
            PhaseType::Completed
        ]
    );
}

#[tokio::test]
async fn on_failure_retry_reruns_the_phase_up_to_its_count() {
    let run = build("version: 0.2\nphases:\n  build:\n    on-failure: RETRY-2\n    commands:\n      - echo try >> tries; test $(wc -l < tries) -ge 3\n").await;
    assert_eq!(run.file("tries").lines().count(), 3);
    assert_eq!(
        run.phase(PhaseType::Build),
        Some(StatusType::Succeeded),
        "{}",
        run.log
    );
    let run = build("version: 0.2\nphases:\n  build:\n    on-failure: RETRY-5\n    commands:\n      - echo try >> tries; false\n").await;
    assert_eq!(run.file("tries").lines().count(), 6);
    assert_eq!(run.phase(PhaseType::Build), Some(StatusType::Failed));
}

#[tokio::test]
async fn on_failure_retry_with_a_pattern_retries_only_when_the_output_matches() {
    let run = build("version: 0.2\nphases:\n  build:\n    on-failure: RETRY-3-flaky.*network\n    commands:\n      - echo try >> tries; echo 'fatal broken'; false\n").await;
    assert_eq!(run.file("tries").lines().count(), 1, "{}", run.log);
    let run = build("version: 0.2\nphases:\n  build:\n    on-failure: RETRY-2-flaky.*network\n    commands:\n      - echo try >> tries; echo 'flaky test network'; false\n").await;
    assert_eq!(run.file("tries").lines().count(), 3, "{}", run.log);
}

#[tokio::test]
async fn buildspec_errors_fail_download_source_with_yaml_file_error() {
    let run = build("version: 0.2\nphases:\n  build:\n    comands: [x]\n").await;
    let phase = run
        .result
        .phases
        .iter()
        .find(|p| p.phase_type == PhaseType::DownloadSource)
        .unwrap();
    assert_eq!(phase.phase_status, Some(StatusType::Failed));
    assert_eq!(phase.contexts[0].status_code, "YAML_FILE_ERROR");
    assert!(
        phase.contexts[0].message.contains("comands"),
        "{}",
        phase.contexts[0].message
    );
    assert_eq!(run.result.build_status, StatusType::Failed);
    assert!(
        run.log.contains("Phase context status code: YAML_FILE_ERROR"),
        "{}",
        run.log
    );
}

#[tokio::test]
async fn built_in_variables_have_local_values_and_precedence_is_override_project_buildspec() {
    let yaml = "version: 0.2\nenv:\n  variables:\n    A: spec\n    B: spec\n    C: spec\n    LIT: $HOME/x\nphases:\n  build:\n    commands:\n      - env | grep -E '^(CODEBUILD_|AWS_|A=|B=|C=|LIT=)' | sort > env.txt\n";
    let run = build_with(yaml, |req, _| {
        req.project = "proj".into();
        req.build_number = 7;
        req.project_env = vec![
            EnvVarSpec::plain("B", "project"),
            EnvVarSpec::plain("C", "project"),
        ];
        req.override_env = vec![EnvVarSpec::plain("C", "override")];
        req.webhook_env = vec![("CODEBUILD_WEBHOOK_TRIGGER".into(), "branch/main".into())];
    })
    .await;
    let env = run.file("env.txt");
    for expected in [
        "A=spec",
        "B=project",
        "C=override",
        "LIT=$HOME/x",
        "CODEBUILD_BUILD_NUMBER=7",
        "CODEBUILD_BUILD_SUCCEEDING=1",
        "CODEBUILD_CI=true",
        "CODEBUILD_WEBHOOK_TRIGGER=branch/main",
        "AWS_REGION=",
        "AWS_DEFAULT_REGION=",
        "CODEBUILD_PROJECT_ARN=arn:aws:codebuild:",
        "CODEBUILD_START_TIME=",
        "CODEBUILD_LOG_PATH=",
        "CODEBUILD_INITIATOR=",
    ] {
        assert!(env.contains(expected), "{expected} missing in\n{env}");
    }
    assert!(env.contains(&format!("CODEBUILD_BUILD_ID={}", run.result.id)));
    assert!(run.result.id.starts_with("proj:"));
    assert!(env.contains(&format!(
            "CODEBUILD_SRC_DIR={}",
            std::fs::canonicalize(run.dir.path().join("src"))
                .unwrap()
                .display()
        )));
}

#[tokio::test]
async fn secrets_are_resolved_masked_in_the_log_even_when_split_and_never_recorded() {
    let yaml = "version: 0.2\nenv:\n  parameter-store:\n    TOKEN: /ci/token\n  secrets-manager:\n    DB_USER: app-db:user\n  exported-variables:\n    - TOKEN\n    - COPY\nphases:\n  build:\n    commands:\n      - echo \"token is $TOKEN and user $DB_USER\"\n      - printf 'sp'; printf 'lit-s3cr3t-v'; printf 'alue\\n'\n      - export COPY=\"x$TOKEN\"\n";
    let run = build_with(yaml, |_, secrets| {
        secrets.insert("/ci/token", "split-s3cr3t-value");
        secrets.insert("app-db", r#"{"user":"dbadmin-name"}"#);
    })
    .await;
    assert_eq!(run.result.build_status, StatusType::Succeeded, "{}", run.log);
    assert!(run.log.contains("token is *** and user ***"), "{}", run.log);
    assert!(!run.log.contains("split-s3cr3t-value"), "{}", run.log);
    assert!(run.log.contains("printf 'alue\\n'\n***\n"), "{}", run.log);
    assert!(!run.log.contains("dbadmin"), "{}", run.log);
    let record = serde_json::to_string(&run.result).unwrap();
    assert!(!record.contains("s3cr3t"), "{record}");
    assert_eq!(run.exported("TOKEN"), None);
    assert_eq!(run.exported("COPY"), Some("x***"));
}

#[tokio::test]
async fn aws_credentials_in_the_environment_are_masked_like_secrets() {
    let run = build_with(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo \"key $AWS_ACCESS_KEY_ID\"\n",
        |req, _| req.override_env = vec![EnvVarSpec::plain("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEY123456")],
    )
    .await;
    assert!(run.log.contains("key ***"), "{}", run.log);
    assert!(!run.log.contains("AKIAEXAMPLEKEY123456"));
}

#[tokio::test]
async fn exported_variables_are_captured_at_the_end_of_post_build() {
    let yaml = "version: 0.2\nenv:\n  variables:\n    STAGE: one\n  exported-variables:\n    - STAGE\n    - VERSION\n    - UNSET\n    - AWS_SECRET_THING\nphases:\n  build:\n    commands:\n      - export VERSION=1.2.3\n  post_build:\n    commands:\n      - STAGE=final\n";
    let run = build_with(yaml, |req, _| {
        req.override_env = vec![EnvVarSpec::plain("AWS_SECRET_THING", "x")]
    })
    .await;
    assert_eq!(run.exported("STAGE"), Some("final"));
    assert_eq!(run.exported("VERSION"), Some("1.2.3"));
    assert_eq!(run.exported("UNSET"), None);
    assert_eq!(run.exported("AWS_SECRET_THING"), None);
}

#[tokio::test]
async fn an_unresolvable_secret_fails_download_source_with_its_name() {
    let run = build("version: 0.2\nenv:\n  parameter-store:\n    X: /missing\nphases:\n  build:\n    commands:\n      - 'true'\n").await;
    let phase = run
        .result
        .phases
        .iter()
        .find(|p| p.phase_type == PhaseType::DownloadSource)
        .unwrap();
    assert_eq!(phase.phase_status, Some(StatusType::Failed));
    assert!(phase.contexts[0].message.contains("/missing"));
    let _ = EnvValue::Plain(String::new());
}

fn marker_processes(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(marker))
                .unwrap_or(false)
        })
        .collect()
}

#[tokio::test]
async fn build_timeout_kills_the_whole_process_group_and_ends_timed_out() {
    let marker = format!("kiln-timeout-marker-{}", std::process::id());
    let yaml = format!(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - sh -c 'sleep 1000; true {marker}-bg' &\n      - setsid sh -c 'sleep 1000; true {marker}-setsid' &\n      - sh -c 'sh -c \"sleep 1000; true {marker}-grandchild\"; true'\n  post_build:\n    commands:\n      - touch post\n"
    );
    let run = build_with(&yaml, |req, _| req.timeout = Duration::from_secs(2)).await;
    assert_eq!(run.result.build_status, StatusType::TimedOut, "{}", run.log);
    assert_eq!(run.phase(PhaseType::Build), Some(StatusType::TimedOut));
    assert!(!run.dir.path().join("src/post").exists());
    assert_eq!(marker_processes(&marker), Vec::<u32>::new());
}

#[tokio::test]
async fn a_stop_request_ends_the_build_stopped_and_leaves_no_process() {
    let marker = format!("kiln-stop-marker-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let mut request = BuildRequest::local(SourceSpec::Dir(src), dir.path().join("work"));
    request.buildspec = BuildspecSource::Inline(format!(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - sh -c 'sleep 1000; true {marker}' &\n      - sleep 1000\n"
    ));
    let ports = Ports {
        source: crate::source::SourceFetcher::default(),
        log: Arc::new(FileLogSink::create(dir.path().join("log")).unwrap()),
        secrets: Arc::new(LocalSecrets::new()),
        terminal: None,
        artifacts: None,
        cache: None,
    };
    let stop = CancellationToken::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = tokio::spawn(crate::run(request, ports, Some(tx), stop.clone()));
    while let Some(event) = rx.recv().await {
        if event
            == (BuildEvent::PhaseStarted {
                phase: PhaseType::Build,
            })
        {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.cancel();
    let result = handle.await.unwrap();
    assert_eq!(result.build_status, StatusType::Stopped);
    assert_eq!(marker_processes(&marker), Vec::<u32>::new());
}

#[tokio::test]
async fn runtime_versions_are_recorded_and_a_missing_runtime_is_reported() {
    let run = build("version: 0.2\nphases:\n  install:\n    runtime-versions:\n      nosuchruntime: 1.x\n      sh: any\n  build:\n    commands:\n      - 'true'\n").await;
    assert_eq!(run.result.runtime_versions.len(), 2);
    assert_eq!(run.result.runtime_versions[0].found, None);
    assert!(
        run.log
            .contains("WARNING: runtime nosuchruntime 1.x requested but nosuchruntime was not found"),
        "{}",
        run.log
    );
    assert_eq!(run.result.build_status, StatusType::Succeeded);
}

#[tokio::test]
async fn run_as_runs_commands_as_that_user_when_root() {
    let run = build("version: 0.2\nphases:\n  install:\n    commands:\n      - export CARRIED=yes\n  build:\n    run-as: nobody\n    commands:\n      - id -un; pwd; id -un | grep -qx nobody && test \"$CARRIED\" = yes\n  post_build:\n    commands:\n      - id -u > uid.txt\n").await;
    if nix::unistd::geteuid().is_root() {
        assert_eq!(
            run.phase(PhaseType::Build),
            Some(StatusType::Succeeded),
            "{}",
            run.log
        );
        assert_eq!(run.file("uid.txt"), "0\n");
        assert!(run.log.contains("Running command id -un; pwd;"), "{}", run.log);
    } else {
        let phase = run
            .result
            .phases
            .iter()
            .find(|p| p.phase_type == PhaseType::Build)
            .unwrap();
        assert!(phase.contexts[0].message.contains("needs kiln to run as root"));
    }
}

#[tokio::test]
async fn log_lines_follow_codebuild_format_with_output_in_order() {
    let run = build("version: 0.2\nphases:\n  build:\n    commands:\n      - echo out; echo err >&2; echo out2\n      - printf 'no newline'\n      - echo next\n").await;
    let lines: Vec<&str> = run.log.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.ends_with("Running command echo out; echo err >&2; echo out2"))
        .unwrap();
    assert!(lines[at].starts_with("[Container] 20"));
    assert_eq!(&lines[at + 1..at + 4], &["out", "err", "out2"]);
    assert_eq!(lines[at + 5], "no newline");
    assert!(lines[at + 6].ends_with("Running command echo next"));
    assert_eq!(lines[at + 7], "next");
    assert!(run.log.contains("Entering phase BUILD"));
    assert!(run.log.contains("Phase complete: BUILD State: SUCCEEDED"));
}

#[tokio::test]
async fn a_sandboxed_build_cannot_write_outside_its_tree() {
    if crate::sandbox::find_bwrap().is_err() {
        let run = build_with(
            "version: 0.2\nphases:\n  build:\n    commands:\n      - 'true'\n",
            |req, _| req.sandbox = Some(crate::sandbox::SandboxConfig { no_network: false }),
        )
        .await;
        assert_eq!(run.phase(PhaseType::Provisioning), Some(StatusType::Failed));
        return;
    }
    let outside = tempfile::tempdir().unwrap();
    let probe = format!("/root/kiln-sandbox-probe-{}", std::process::id());
    let yaml = format!(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - touch inside.txt\n      - touch {probe} || echo root-blocked >> inside.txt\n      - touch {out}/escape || echo tmp-blocked >> inside.txt\n      - exit 0\n  post_build:\n    commands:\n      - echo after-exit >> inside.txt\n",
        out = outside.path().display()
    );
    let run = build_with(&yaml, |req, _| {
        req.sandbox = Some(crate::sandbox::SandboxConfig { no_network: true })
    })
    .await;
    assert_eq!(run.result.build_status, StatusType::Succeeded, "{}", run.log);
    assert_eq!(run.file("inside.txt"), "root-blocked\ntmp-blocked\nafter-exit\n");
    assert!(!std::path::Path::new(&probe).exists());
    assert!(!outside.path().join("escape").exists());
}

#[tokio::test]
async fn a_git_source_is_cloned_at_the_requested_version_and_its_commit_resolved() {
    let repo = tempfile::tempdir().unwrap();
    let script = "git init -q -b main . && printf 'version: 0.2\\nphases:\\n  build:\\n    commands:\\n      - echo \"$CODEBUILD_SOURCE_VERSION $CODEBUILD_RESOLVED_SOURCE_VERSION\" > v.txt\\n' > buildspec.yml \
        && git add . && git -c user.name=t -c user.email=t@t commit -q -m one && git rev-parse HEAD";
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(repo.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sha = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let run = build_with("", |req, _| {
        req.buildspec = BuildspecSource::Default;
        req.source = SourceSpec::classify(&format!("file://{}", repo.path().display()), Some("main"), 1);
    })
    .await;
    assert_eq!(run.result.build_status, StatusType::Succeeded, "{}", run.log);
    assert_eq!(run.result.resolved_source_version.as_deref(), Some(sha.as_str()));
    assert_eq!(run.result.source_version.as_deref(), Some("main"));
    let written = std::fs::read_to_string(run.dir.path().join("work/src/v.txt")).unwrap();
    assert_eq!(written, format!("main {sha}\n"));
}

fn dir_store(path: &std::path::Path) -> Arc<kiln_local::object_store::DirObjectStore> {
    Arc::new(kiln_local::object_store::DirObjectStore::new(path))
}

#[tokio::test]
async fn artifacts_are_uploaded_with_their_evaluated_name_and_sha256_and_reports_summarised() {
    let store_dir = tempfile::tempdir().unwrap();
    let yaml = "version: 0.2\nphases:\n  build:\n    commands:\n      - mkdir -p dist/sub reports && echo a > dist/a.txt && echo b > dist/sub/b.txt\n      - printf '<testsuite tests=\"2\"><testcase name=\"ok\"/><testcase name=\"bad\"><failure/></testcase></testsuite>' > reports/junit.xml\nreports:\n  unit:\n    files:\n      - 'reports/*.xml'\nartifacts:\n  name: app-$CODEBUILD_BUILD_NUMBER\n  base-directory: dist\n  files:\n    - '**/*'\n";
    let store = dir_store(store_dir.path());
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let mut request = BuildRequest::local(SourceSpec::Dir(src), dir.path().join("work"));
    request.buildspec = BuildspecSource::Inline(yaml.into());
    request.build_number = 9;
    let ports = Ports {
        source: crate::source::SourceFetcher::default(),
        log: Arc::new(FileLogSink::create(dir.path().join("log")).unwrap()),
        secrets: Arc::new(LocalSecrets::new()),
        terminal: None,
        artifacts: Some(crate::outputs::ArtifactTarget {
            store,
            key_prefix: "local".into(),
            packaging: crate::artifacts::Packaging::Zip,
        }),
        cache: None,
    };
    let result = crate::run(request, ports, None, CancellationToken::new()).await;
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
    assert_eq!(result.build_status, StatusType::Succeeded, "{log}");
    assert_eq!(result.artifacts.len(), 1);
    assert_eq!(result.artifacts[0].key, "local/app-9.zip");
    assert_eq!(result.artifacts[0].files, 2);
    assert_eq!(result.artifacts[0].sha256sum.len(), 64);
    assert!(store_dir.path().join("local/app-9.zip").exists());
    assert_eq!(result.reports.len(), 1);
    assert_eq!((result.reports[0].total, result.reports[0].failed), (2, 1));
}

#[tokio::test]
async fn an_artifact_pattern_that_matches_nothing_fails_upload_artifacts() {
    let store_dir = tempfile::tempdir().unwrap();
    let run = build_with("version: 0.2\nphases:\n  build:\n    commands:\n      - 'true'\nartifacts:\n  files:\n    - 'missing/**/*'\n", |_, _| {}).await;
    // Without an artifact target the upload is skipped with a log line.
    assert_eq!(run.phase(PhaseType::UploadArtifacts), Some(StatusType::Succeeded));
    assert!(run.log.contains("Skipping artifact upload"));
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let mut request = BuildRequest::local(SourceSpec::Dir(src), dir.path().join("work"));
    request.buildspec = BuildspecSource::Inline("version: 0.2\nphases:\n  build:\n    commands:\n      - 'true'\nartifacts:\n  files:\n    - 'missing/**/*'\n".into());
    let ports = Ports {
        source: crate::source::SourceFetcher::default(),
        log: Arc::new(FileLogSink::create(dir.path().join("log")).unwrap()),
        secrets: Arc::new(LocalSecrets::new()),
        terminal: None,
        artifacts: Some(crate::outputs::ArtifactTarget {
            store: dir_store(store_dir.path()),
            key_prefix: String::new(),
            packaging: crate::artifacts::Packaging::Zip,
        }),
        cache: None,
    };
    let result = crate::run(request, ports, None, CancellationToken::new()).await;
    let upload = result
        .phases
        .iter()
        .find(|p| p.phase_type == PhaseType::UploadArtifacts)
        .unwrap();
    assert_eq!(upload.phase_status, Some(StatusType::Failed));
    assert!(
        upload.contexts[0]
            .message
            .contains("no matching artifact paths found"),
        "{:?}",
        upload.contexts
    );
    assert_eq!(result.build_status, StatusType::Failed);
}

#[tokio::test]
async fn the_cache_is_restored_before_install_and_saved_after_a_successful_post_build() {
    let cache_dir = tempfile::tempdir().unwrap();
    let yaml = "version: 0.2\nphases:\n  install:\n    commands:\n      - if [ -f deps/lib.txt ]; then echo hit > status.txt; else echo miss > status.txt; mkdir -p deps; echo lib > deps/lib.txt; fi\ncache:\n  key: deps-$KEY_PART\n  paths:\n    - 'deps/**/*'\n";
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        let mut request = BuildRequest::local(SourceSpec::Dir(src.clone()), dir.path().join("work"));
        request.buildspec = BuildspecSource::Inline(yaml.into());
        request.override_env = vec![EnvVarSpec::plain("KEY_PART", "v1")];
        let ports = Ports {
            source: crate::source::SourceFetcher::default(),
            log: Arc::new(FileLogSink::create(dir.path().join("log")).unwrap()),
            secrets: Arc::new(LocalSecrets::new()),
            terminal: None,
            artifacts: None,
            cache: Some(crate::outputs::CacheTarget {
                store: dir_store(cache_dir.path()),
                location: crate::cache::CacheLocation::new("cache", "local"),
            }),
        };
        let result = crate::run(request, ports, None, CancellationToken::new()).await;
        let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
        assert_eq!(result.build_status, StatusType::Succeeded, "{log}");
        statuses.push(std::fs::read_to_string(src.join("status.txt")).unwrap());
    }
    assert_eq!(statuses, vec!["miss\n", "hit\n"]);
}

#[tokio::test]
async fn the_result_becomes_a_codebuild_build_record_through_the_core_state_machine() {
    let run = build("version: 0.2\nenv:\n  exported-variables: [V]\nphases:\n  install:\n    on-failure: CONTINUE\n    commands:\n      - 'false'\n  build:\n    commands:\n      - export V=1\n").await;
    let record = crate::build_record::to_build(&run.result, "us-east-1", "000000000000").unwrap();
    let json = serde_json::to_value(&record).unwrap();
    assert_eq!(json["buildStatus"], "FAILED");
    assert_eq!(json["currentPhase"], "COMPLETED");
    assert_eq!(json["buildComplete"], true);
    let phases: Vec<&str> = json["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phaseType"].as_str().unwrap())
        .collect();
    assert_eq!(
        phases,
        [
            "SUBMITTED",
            "QUEUED",
            "PROVISIONING",
            "DOWNLOAD_SOURCE",
            "INSTALL",
            "PRE_BUILD",
            "BUILD",
            "POST_BUILD",
            "UPLOAD_ARTIFACTS",
            "FINALIZING",
            "COMPLETED"
        ]
    );
    assert_eq!(
        json["phases"][4]["contexts"][0]["statusCode"],
        "COMMAND_EXECUTION_ERROR"
    );
    assert_eq!(json["exportedEnvironmentVariables"][0]["value"], "1");
}
