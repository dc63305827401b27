//! [`run_build`] over the local adapters (SQLite in a temp dir, a log file), with a deployment's extras: the
//! same library both `kiln runner` modes call, driven directly.

use std::sync::Arc;

use kiln_core::build::{AccountContext, BuildId, EstimatedCost, LogsLocation};
use kiln_core::ports::build_store::{ProjectStore, PutMode};
use kiln_core::ports::logs::LogSink;
use kiln_core::usecases::Services;
use kiln_core::usecases::notices::NoticeSource;
use kiln_core::usecases::start::{Origin, StartBuildInput};
use kiln_executor::CancellationToken;
use kiln_executor::source::SourceFetcher;
use kiln_local::FileLogSink;
use kiln_local::launcher::ProcessLauncher;
use kiln_local::secrets::LocalSecrets;
use kiln_local::sqlite::SqliteStore;
use serde_json::{Value, json};

use crate::{Extras, Outcome, RunnerError, RunnerPorts, now, run_build};

struct Deployment {
    dir: tempfile::TempDir,
    services: Services,
}

/// A store with project `web` (NO_SOURCE, `buildspec` inline), whose launcher starts nothing.
async fn deployment(buildspec: &str) -> Deployment {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("kiln.db")).unwrap());
    let launcher = ProcessLauncher::new("true".into(), Vec::new(), dir.path().join("runners"));
    let services = Services {
        builds: store.clone(),
        queue: store.clone(),
        projects: store.clone(),
        launcher: Arc::new(launcher),
        notifier: store.clone(),
        account: AccountContext::local(),
        notice_source: NoticeSource::default(),
        global_limit: 8,
    };
    let project = json!({
        "name": "web",
        "source": {"type": "NO_SOURCE", "buildspec": buildspec},
        "environment": {"type": "LINUX_CONTAINER", "image": "local", "computeType": "BUILD_GENERAL1_SMALL"},
        "artifacts": {"type": "NO_ARTIFACTS"},
    });
    store
        .put_project(
            &serde_json::from_value(project).expect("a valid project"),
            PutMode::Create,
        )
        .await
        .unwrap();
    Deployment { dir, services }
}

impl Deployment {
    /// Starts and dispatches a build of `web`.
    async fn queue(&self) -> BuildId {
        let input = StartBuildInput {
            project_name: "web".into(),
            ..StartBuildInput::default()
        };
        let started = self
            .services
            .start_build(input, Origin::default(), now())
            .await
            .unwrap();
        let id = started.build.id().clone();
        self.services.dispatch_step(now()).await.unwrap();
        id
    }

    fn ports(&self, extras: Extras) -> RunnerPorts {
        let log_path = self.dir.path().join("build.log");
        RunnerPorts {
            services: self.services.clone(),
            log: Box::new(move || Ok(Arc::new(FileLogSink::create(&log_path)?) as Arc<dyn LogSink>)),
            secrets: Arc::new(LocalSecrets::new()),
            terminal: None,
            artifacts: None,
            cache: None,
            source: SourceFetcher::default(),
            work_dir: self.dir.path().join("work"),
            extras,
        }
    }

    async fn record(&self, id: &BuildId) -> Value {
        self.services
            .builds
            .get(id)
            .await
            .unwrap()
            .map(|stored| serde_json::to_value(stored.build).unwrap())
            .unwrap()
    }
}

#[tokio::test]
async fn a_queued_build_runs_to_its_end_with_phases_result_and_the_deployments_extras_recorded() {
    let buildspec = "version: 0.2\nenv:\n  exported-variables: [STAGE]\nphases:\n  build:\n    commands:\n      \
                     - export STAGE=done\n      - echo built > \"$CODEBUILD_SRC_DIR/out.txt\"\n";
    let kiln = deployment(buildspec).await;
    let id = kiln.queue().await;
    let extras = Extras {
        logs: Some(LogsLocation {
            group_name: Some("/kiln/builds".into()),
            ..LogsLocation::default()
        }),
        cost: Some(Box::new(|build, _| EstimatedCost {
            amount: 0.25,
            currency: "USD".into(),
            basis: format!("test {}", build.build_number()),
        })),
    };
    let outcome = run_build(&id, kiln.ports(extras), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Ended);

    let record = kiln.record(&id).await;
    assert_eq!(record["buildStatus"], "SUCCEEDED", "{record:#}");
    let phases: Vec<(&str, &str)> = record["phases"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| Some((p["phaseType"].as_str()?, p["phaseStatus"].as_str()?)))
        .collect();
    for phase in ["DOWNLOAD_SOURCE", "BUILD", "FINALIZING"] {
        assert!(phases.contains(&(phase, "SUCCEEDED")), "{phase} in {phases:?}");
    }
    assert_eq!(
        record["exportedEnvironmentVariables"],
        json!([{"name": "STAGE", "value": "done"}])
    );
    assert_eq!(
        record["logs"]["groupName"], "/kiln/builds",
        "the extra replaces the build's own"
    );
    assert_eq!(record["logs"]["streamName"], id.uuid(), "and keeps the rest");
    assert_eq!(record["estimatedCost"]["basis"], "test 1");
    // NO_SOURCE: an empty source directory in the work directory.
    let written = std::fs::read_to_string(kiln.dir.path().join("work/src/out.txt")).unwrap();
    assert_eq!(written, "built\n");
    assert!(
        std::fs::read_to_string(kiln.dir.path().join("build.log"))
            .unwrap()
            .contains("echo built")
    );
}

#[tokio::test]
async fn an_ended_build_is_left_alone_and_its_log_never_opened() {
    let kiln = deployment("version: 0.2\nphases:\n  build:\n    commands: [echo hi]\n").await;
    let id = kiln.queue().await;
    run_build(&id, kiln.ports(Extras::default()), CancellationToken::new())
        .await
        .unwrap();
    let before = kiln.record(&id).await;
    let mut ports = kiln.ports(Extras::default());
    ports.log =
        Box::new(|| panic!("the log of an ended build is not opened (a log file would be truncated)"));
    let outcome = run_build(&id, ports, CancellationToken::new()).await.unwrap();
    assert_eq!(outcome, Outcome::Ended);
    assert_eq!(kiln.record(&id).await, before);
}

#[tokio::test]
async fn a_runner_failure_ends_the_build_fault_with_the_reason_and_a_missing_build_is_an_error() {
    let kiln = deployment("arn:aws:s3:::specs/buildspec.yml").await;
    let id = kiln.queue().await;
    let outcome = run_build(&id, kiln.ports(Extras::default()), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Ended);
    let record = kiln.record(&id).await;
    assert_eq!(record["buildStatus"], "FAULT", "{record:#}");
    assert!(
        record
            .to_string()
            .contains("the runner failed: buildspec \\\"arn:aws:s3:::specs/buildspec.yml\\\""),
        "{record:#}"
    );

    let missing = BuildId::parse("web:0b6c2c56-5f1a-4a49-9a39-0c2d2b4f9f10").unwrap();
    let err = run_build(&missing, kiln.ports(Extras::default()), CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, RunnerError::NotFound(_)), "{err}");
}
