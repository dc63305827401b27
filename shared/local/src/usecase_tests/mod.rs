//! Use-case tests against the real local adapters: a SQLite file in a temp dir and runners as real child
//! processes (`sh -c ...` standing in for `kiln runner`), with the clock passed in.

mod codecommit;
mod events;
mod launch;
mod overrides;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::launcher::ProcessLauncher;
use crate::sqlite::SqliteStore;
use kiln_core::build::{
    AccountContext, Build, BuildId, FailureAction, PhaseType, ProjectName, StatusType, Timestamp,
};
use kiln_core::ports::build_store::{ProjectStore, PutMode, SortOrder};
use kiln_core::project::StoredProject;
use kiln_core::usecases::Services;
use kiln_core::usecases::notices::NoticeSource;
use kiln_core::usecases::start::{EnvVar, Origin, StartBuildInput};

pub(super) struct Fixture {
    _dir: tempfile::TempDir,
    pub(super) store: Arc<SqliteStore>,
    pub(super) services: Services,
}

/// Services whose runners are `sh -c SCRIPT kiln --build-id ID`.
pub(super) async fn fixture(script: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("kiln.db")).unwrap());
    let launcher = ProcessLauncher::new(
        "sh".into(),
        vec!["-c".into(), script.into(), "kiln".into()],
        dir.path().join("runners"),
    );
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
    store
        .put_project(
            &stored_project(json!({
                "name": "web",
                "source": {"type": "NO_SOURCE", "buildspec": "version: 0.2\nphases:\n  build:\n    commands: [echo hi]\n"},
                "environment": {"type": "LINUX_CONTAINER", "image": "local", "computeType": "BUILD_GENERAL1_SMALL",
                                "environmentVariables": [{"name": "STAGE", "value": "dev", "type": "PLAINTEXT"}]},
                "artifacts": {"type": "NO_ARTIFACTS"},
                "concurrentBuildLimit": 1
            })),
            PutMode::Create,
        )
        .await
        .unwrap();
    Fixture {
        _dir: dir,
        store,
        services,
    }
}

pub(super) fn at(minutes: u64) -> Timestamp {
    Timestamp::from_epoch_millis(1_700_000_000_000).plus(Duration::from_secs(minutes * 60))
}

/// A project as the API or `kiln.yaml` would store it, from CodeBuild's JSON.
pub(super) fn stored_project(definition: Value) -> StoredProject {
    serde_json::from_value(definition).expect("a valid project")
}

/// The project `web`.
pub(super) fn web() -> ProjectName {
    ProjectName::parse("web").unwrap()
}

/// A notice's event as the JSON that leaves Kiln.
pub(super) fn json_of_event(notice: &crate::notifier::StoredNotice) -> Value {
    serde_json::to_value(&notice.event).unwrap()
}

/// A build's record as CodeBuild's JSON, as `BatchGetBuilds` shows it.
pub(super) fn json_of(build: &Build) -> Value {
    serde_json::to_value(build).unwrap()
}

/// The stored record of build `id` as JSON.
pub(super) fn record(f: &Fixture, id: &BuildId) -> Value {
    json_of(&f.store.get_sync(id).unwrap().unwrap().build)
}

/// Starts a build of `web` at minute 0; returns its id.
pub(super) async fn start(f: &Fixture) -> BuildId {
    id_of(
        &f.services
            .start_build(input(), Origin::default(), at(0))
            .await
            .unwrap()
            .build,
    )
}

pub(super) fn input() -> StartBuildInput {
    StartBuildInput {
        project_name: "web".into(),
        ..StartBuildInput::default()
    }
}

pub(super) fn status(f: &Fixture, id: &BuildId) -> (String, String) {
    let record = record(f, id);
    (
        record["buildStatus"].as_str().unwrap().to_owned(),
        record["currentPhase"].as_str().unwrap().to_owned(),
    )
}

pub(super) fn id_of(build: &Build) -> BuildId {
    build.id().clone()
}

#[tokio::test]
async fn a_started_build_is_queued_with_its_overrides_and_notices_of_submission() {
    let f = fixture("exit 0").await;
    let request = StartBuildInput {
        source_version: Some("main".into()),
        environment_variables_override: vec![EnvVar {
            name: "STAGE".into(),
            value: "prod".into(),
            var_type: "PLAINTEXT".into(),
        }],
        timeout_in_minutes_override: Some(30),
        ..input()
    };
    let started = f
        .services
        .start_build(request, Origin::default(), at(0))
        .await
        .unwrap();
    let record = &json_of(&started.build);
    assert_eq!(
        (record["buildStatus"].as_str(), record["currentPhase"].as_str()),
        (Some("IN_PROGRESS"), Some("QUEUED"))
    );
    assert_eq!(record["buildNumber"], 1);
    assert_eq!(record["timeoutInMinutes"], 30);
    assert_eq!(record["sourceVersion"], "main");
    assert_eq!(
        record["environment"]["environmentVariables"],
        json!([{"name": "STAGE", "value": "prod", "type": "PLAINTEXT"}])
    );
    let notices = f.store.notices_after(0, 10).await.unwrap();
    let kinds: Vec<_> = notices.iter().map(|n| n.event.detail_type.as_str()).collect();
    assert_eq!(
        kinds,
        [
            kiln_core::usecases::notices::PHASE_CHANGE,
            kiln_core::usecases::notices::STATE_CHANGE
        ]
    );
    assert_eq!(
        json_of_event(&notices[0])["detail"]["completed-phase"],
        "SUBMITTED"
    );
    assert_eq!(
        json_of_event(&notices[1])["detail"]["build-status"],
        "IN_PROGRESS"
    );
}

#[tokio::test]
async fn the_same_idempotency_token_returns_the_same_build_and_bad_input_is_refused() {
    let f = fixture("exit 0").await;
    let with_token = || StartBuildInput {
        idempotency_token: Some("tok-1".into()),
        ..input()
    };
    let first = f
        .services
        .start_build(with_token(), Origin::default(), at(0))
        .await
        .unwrap();
    let again = f
        .services
        .start_build(with_token(), Origin::default(), at(1))
        .await
        .unwrap();
    assert_eq!((id_of(&first.build), again.existing), (id_of(&again.build), true));
    let too_short = StartBuildInput {
        timeout_in_minutes_override: Some(1),
        ..input()
    };
    let err = f
        .services
        .start_build(too_short, Origin::default(), at(0))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("timeoutInMinutesOverride 1 is out of range"),
        "{err}"
    );
    let unknown = StartBuildInput {
        project_name: "nope".into(),
        ..input()
    };
    assert!(matches!(
        f.services.start_build(unknown, Origin::default(), at(0)).await,
        Err(kiln_core::usecases::UseCaseError::ProjectNotFound(_))
    ));
}

#[tokio::test]
async fn dispatch_holds_the_project_limit_and_stop_frees_the_slot() {
    let f = fixture("sleep 300").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(id_of(
            &f.services
                .start_build(input(), Origin::default(), at(0))
                .await
                .unwrap()
                .build,
        ));
    }
    let step = f.services.dispatch_step(at(0)).await.unwrap();
    assert_eq!(
        step.launched,
        [ids[0].clone()],
        "concurrentBuildLimit 1 lets one build run"
    );
    assert_eq!(status(&f, &ids[0]).1, "PROVISIONING");
    assert_eq!(status(&f, &ids[1]), ("IN_PROGRESS".into(), "QUEUED".into()));
    assert!(f.services.dispatch_step(at(0)).await.unwrap().launched.is_empty());

    let stopped = f.services.stop_build(&ids[0], at(1)).await.unwrap();
    assert_eq!(json_of(&stopped)["buildStatus"], "STOPPED");
    // The slot comes back once the stopped runner has exited.
    assert_eq!(dispatch_until_launched(&f, at(1)).await, [ids[1].clone()]);
    f.services.stop_build(&ids[1], at(2)).await.unwrap();
    f.services.stop_build(&ids[2], at(2)).await.unwrap();
    assert!(f.store.entries_sync().unwrap().is_empty());
    let listed = f
        .store
        .list_sync(Some(&web()), SortOrder::Descending, None, 10)
        .unwrap();
    assert_eq!(listed.ids.len(), 3);
}

#[tokio::test]
async fn an_idempotency_token_refuses_other_parameters_and_expires_after_five_minutes() {
    let f = fixture("exit 0").await;
    let with = |version: &str| StartBuildInput {
        idempotency_token: Some("tok".into()),
        source_version: Some(version.into()),
        ..input()
    };
    let start = |request, when| f.services.start_build(request, Origin::default(), when);
    let first = start(with("main"), at(0)).await.unwrap();
    let err = start(with("dev"), at(4)).await.unwrap_err();
    assert!(
        matches!(&err, kiln_core::usecases::UseCaseError::IdempotentParameterMismatch(t) if t == "tok"),
        "{err}"
    );
    let repeat = start(with("main"), at(4)).await.unwrap();
    assert_eq!(
        (id_of(&repeat.build), repeat.existing),
        (id_of(&first.build), true)
    );
    // Past 5 minutes the token is free again: a new build, with other parameters too; then it holds anew.
    let second = start(with("dev"), at(6)).await.unwrap();
    assert!(!second.existing);
    assert_ne!(id_of(&second.build), id_of(&first.build));
    let second_again = start(with("dev"), at(7)).await.unwrap();
    assert_eq!(id_of(&second_again.build), id_of(&second.build));
    assert!(start(with("main"), at(7)).await.is_err());
    let third = start(with("main"), at(12)).await.unwrap();
    assert!(!third.existing);
    let listed = f
        .store
        .list_sync(Some(&web()), SortOrder::Descending, None, 10)
        .unwrap();
    assert_eq!(listed.ids.len(), 3);
}

/// Dispatches until something is launched (a runner that is exiting still holds its slot), for up to 5 s.
async fn dispatch_until_launched(f: &Fixture, now: Timestamp) -> Vec<BuildId> {
    for _ in 0..250 {
        let launched = f.services.dispatch_step(now).await.unwrap().launched;
        if !launched.is_empty() {
            return launched;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Vec::new()
}

#[tokio::test]
async fn a_finished_build_holds_its_slot_until_its_runner_process_has_exited() {
    // The runner records its final status and only then exits; until it is gone it counts against the limit.
    let gate = tempfile::tempdir().unwrap();
    let release = gate.path().join("release");
    let script = format!("while [ ! -e '{}' ]; do sleep 0.01; done", release.display());
    let f = fixture(&script).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(id_of(
            &f.services
                .start_build(input(), Origin::default(), at(0))
                .await
                .unwrap()
                .build,
        ));
    }
    assert_eq!(
        f.services.dispatch_step(at(0)).await.unwrap().launched,
        [ids[0].clone()]
    );
    let context = kiln_core::build::PhaseContext::new("", "finished by the test");
    let ended = f
        .services
        .finish_early(&ids[0], StatusType::Failed, context, at(0))
        .await
        .unwrap();
    assert_eq!(json_of(&ended)["buildStatus"], "FAILED");
    assert!(
        f.services.dispatch_step(at(0)).await.unwrap().launched.is_empty(),
        "the first build's runner is still running, so the limit of 1 is full"
    );
    std::fs::write(&release, "").unwrap();
    assert_eq!(dispatch_until_launched(&f, at(0)).await, [ids[1].clone()]);
    std::fs::remove_file(&release).unwrap();
    f.services.stop_build(&ids[1], at(1)).await.unwrap();
}

#[tokio::test]
async fn a_runner_that_dies_leaves_its_build_fault_with_the_reason() {
    let f = fixture("exit 3").await;
    let id = id_of(
        &f.services
            .start_build(input(), Origin::default(), at(0))
            .await
            .unwrap()
            .build,
    );
    f.services.dispatch_step(at(0)).await.unwrap();
    let mut faulted = Vec::new();
    for _ in 0..100 {
        faulted = f.services.reconcile(at(0)).await.unwrap().faulted;
        if !faulted.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(faulted, std::slice::from_ref(&id));
    let record = record(&f, &id);
    assert_eq!(record["buildStatus"], "FAULT");
    let provisioning = &record["phases"][2];
    assert_eq!(provisioning["phaseType"], "PROVISIONING");
    assert!(
        provisioning["contexts"][0]["message"]
            .as_str()
            .unwrap()
            .contains("runner process exited")
    );
}

#[tokio::test]
async fn queued_and_build_timeouts_end_builds_timed_out() {
    let f = fixture("sleep 300").await;
    let running = id_of(
        &f.services
            .start_build(input(), Origin::default(), at(0))
            .await
            .unwrap()
            .build,
    );
    let waiting = StartBuildInput {
        queued_timeout_in_minutes_override: Some(5),
        ..input()
    };
    let waiting = id_of(
        &f.services
            .start_build(waiting, Origin::default(), at(0))
            .await
            .unwrap()
            .build,
    );
    f.services.dispatch_step(at(0)).await.unwrap();
    assert_eq!(
        f.services.dispatch_step(at(4)).await.unwrap().expired,
        Vec::<BuildId>::new()
    );
    assert_eq!(
        f.services.dispatch_step(at(5)).await.unwrap().expired,
        std::slice::from_ref(&waiting)
    );
    assert_eq!(status(&f, &waiting), ("TIMED_OUT".into(), "COMPLETED".into()));
    assert!(f.services.reconcile(at(59)).await.unwrap().timed_out.is_empty());
    assert_eq!(
        f.services.reconcile(at(60)).await.unwrap().timed_out,
        std::slice::from_ref(&running)
    );
    assert_eq!(status(&f, &running).0, "TIMED_OUT");
}

#[tokio::test]
async fn recorded_phases_run_to_completion_and_a_finished_build_is_never_changed() {
    let f = fixture("sleep 300").await;
    let id = id_of(
        &f.services
            .start_build(input(), Origin::default(), at(0))
            .await
            .unwrap()
            .build,
    );
    f.services.dispatch_step(at(0)).await.unwrap();
    let phases = [
        PhaseType::Provisioning,
        PhaseType::DownloadSource,
        PhaseType::Install,
        PhaseType::PreBuild,
        PhaseType::Build,
        PhaseType::PostBuild,
        PhaseType::UploadArtifacts,
        PhaseType::Finalizing,
    ];
    for phase in phases {
        f.services
            .record_phase(
                &id,
                phase,
                StatusType::Succeeded,
                FailureAction::Default,
                vec![],
                at(1),
            )
            .await
            .unwrap();
    }
    assert_eq!(status(&f, &id), ("SUCCEEDED".into(), "COMPLETED".into()));
    let stopped = f.services.stop_build(&id, at(2)).await.unwrap();
    assert_eq!(
        json_of(&stopped)["buildStatus"],
        "SUCCEEDED",
        "a stop after the end changes nothing"
    );
    let notices = f.store.notices_after(0, 100).await.unwrap();
    let kinds: Vec<&str> = notices.iter().map(|n| n.event.detail_type.as_str()).collect();
    // One phase change per ended phase (SUBMITTED to FINALIZING), a state change at creation and at the end.
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == kiln_core::usecases::notices::PHASE_CHANGE)
            .count(),
        10
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == kiln_core::usecases::notices::STATE_CHANGE)
            .count(),
        2
    );
    assert_eq!(kinds.last(), Some(&kiln_core::usecases::notices::STATE_CHANGE));
    assert_eq!(
        json_of_event(notices.last().unwrap())["detail"]["build-status"],
        "SUCCEEDED"
    );
}

#[tokio::test]
async fn schedules_fire_once_per_fire_time_and_missed_fires_are_not_replayed() {
    let f = fixture("exit 0").await;
    let mut project = f.store.get_project_sync(&web()).unwrap().unwrap();
    project.project.schedules = serde_json::from_value(json!(
        [{"name": "every-5", "expression": "rate(5 minutes)", "sourceVersion": "main"}]
    ))
    .unwrap();
    f.store.put_project(&project, PutMode::Update).await.unwrap();
    // at(0) is 1_700_000_000 s; rate(5 minutes) fires on multiples of 300 s: +100 s, +400 s, +700 s, ...
    let first = f.services.fire_schedules(at(0), at(2)).await.unwrap();
    assert_eq!(first.fired.len(), 1, "{first:?}");
    assert_eq!(first.fired[0].at, "2023-11-14T22:15:00+00:00");
    let again = f.services.fire_schedules(at(0), at(2)).await.unwrap();
    assert_eq!(
        again.fired[0].build_id, first.fired[0].build_id,
        "the same fire time gives the same build"
    );
    let later = f.services.fire_schedules(at(2), at(12)).await.unwrap();
    assert_eq!(
        later.missed.len(),
        1,
        "the fire at +400 s is missed, not replayed: {later:?}"
    );
    assert_eq!(later.fired[0].at, "2023-11-14T22:25:00+00:00");
    assert!(
        f.services
            .fire_schedules(at(12), at(13))
            .await
            .unwrap()
            .fired
            .is_empty()
    );
    let ids = f
        .store
        .list_sync(Some(&web()), SortOrder::Ascending, None, 10)
        .unwrap()
        .ids;
    assert_eq!(ids.len(), 2);
    let build = record(&f, &ids[0]);
    assert_eq!(build["initiator"], "kiln-schedule/every-5");
    assert_eq!(build["trigger"]["scheduleName"], "every-5");
    assert_eq!(build["sourceVersion"], "main");
}
