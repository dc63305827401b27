//! Launch failures: a passing one (throttling, no capacity) keeps the build's slot and the reconciler launches
//! it again; any other ends the build FAULT; a deferred launch that runs out of time ends TIMED_OUT.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Fixture, at, fixture, start, status};
use crate::launcher::ProcessLauncher;
use kiln_core::build::BuildId;
use kiln_core::ports::BoxFuture;
use kiln_core::ports::launcher::{LaunchError, TaskLauncher};
use kiln_core::usecases::dispatch::LAUNCH_RETRY;

/// A launcher whose first `failures` launches fail (`retryable` or not), then starts runners as `inner` does.
struct FlakyLauncher {
    inner: ProcessLauncher,
    failures: AtomicUsize,
    retryable: bool,
}

impl TaskLauncher for FlakyLauncher {
    fn launch<'a>(&'a self, build_id: &'a BuildId) -> BoxFuture<'a, Result<String, LaunchError>> {
        Box::pin(async move {
            let failing = self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if failing {
                return Err(LaunchError::Backend {
                    message: "RunTask on FARGATE started no task: RESOURCE:FARGATE Capacity is unavailable"
                        .into(),
                    retryable: self.retryable,
                });
            }
            self.inner.launch(build_id).await
        })
    }

    fn stop<'a>(&'a self, task: &'a str) -> BoxFuture<'a, Result<(), LaunchError>> {
        self.inner.stop(task)
    }

    fn is_alive<'a>(&'a self, task: &'a str) -> BoxFuture<'a, Result<bool, LaunchError>> {
        self.inner.is_alive(task)
    }

    fn live_builds(&self) -> BoxFuture<'_, Result<Vec<BuildId>, LaunchError>> {
        self.inner.live_builds()
    }
}

/// A fixture whose launcher fails `failures` times first (`retryable` or not), then starts `sleep 300` runners
/// under the returned directory.
async fn flaky_fixture(failures: usize, retryable: bool) -> (Fixture, tempfile::TempDir) {
    let mut f = fixture("sleep 300").await;
    let runners = tempfile::tempdir().unwrap();
    let inner = ProcessLauncher::new(
        "sh".into(),
        vec!["-c".into(), "sleep 300".into(), "kiln".into()],
        runners.path().to_path_buf(),
    )
    .with_grace(std::time::Duration::from_millis(100));
    f.services.launcher = Arc::new(FlakyLauncher {
        inner,
        failures: AtomicUsize::new(failures),
        retryable,
    });
    (f, runners)
}

#[tokio::test]
async fn a_launch_that_fails_for_a_passing_reason_keeps_its_slot_and_is_launched_again() {
    let (f, _runners) = flaky_fixture(2, true).await;
    let first = start(&f).await;
    let second = start(&f).await;

    let step = f.services.dispatch_step(at(0)).await.unwrap();
    assert_eq!(step.deferred, std::slice::from_ref(&first));
    assert!(step.failed.is_empty() && step.launched.is_empty(), "{step:?}");
    assert_eq!(status(&f, &first), ("IN_PROGRESS".into(), "PROVISIONING".into()));
    let record = super::record(&f, &first);
    assert_eq!(record[LAUNCH_RETRY]["attempts"], 1);
    assert!(
        record[LAUNCH_RETRY]["lastError"]
            .as_str()
            .unwrap()
            .contains("Capacity is unavailable")
    );
    // The deferred build keeps its project's only slot: the next build waits.
    assert!(f.services.dispatch_step(at(0)).await.unwrap().launched.is_empty());
    assert_eq!(status(&f, &second).1, "QUEUED");

    // Each reconciliation pass tries again: the second failure counts, the third attempt starts the runner.
    let pass = f.services.reconcile(at(1)).await.unwrap();
    assert!(pass.relaunched.is_empty() && pass.faulted.is_empty(), "{pass:?}");
    let record = super::record(&f, &first);
    assert_eq!(record[LAUNCH_RETRY]["attempts"], 2);
    // The Lambda reaper's grace (for a dispatcher between claim and launch) does not hold a deferred launch.
    let grace = std::time::Duration::from_secs(5 * 60);
    let pass = f.services.reconcile_with_grace(at(2), grace).await.unwrap();
    assert_eq!(pass.relaunched, std::slice::from_ref(&first));
    assert_eq!(status(&f, &first), ("IN_PROGRESS".into(), "PROVISIONING".into()));
    // Now running: later passes leave it alone.
    let pass = f.services.reconcile(at(3)).await.unwrap();
    assert!(pass.relaunched.is_empty() && pass.faulted.is_empty(), "{pass:?}");
    f.services.stop_build(&first, at(4)).await.unwrap();
}

#[tokio::test]
async fn a_launch_that_fails_for_good_ends_the_build_fault_with_the_reason() {
    let (f, _runners) = flaky_fixture(1, false).await;
    let id = start(&f).await;
    let step = f.services.dispatch_step(at(0)).await.unwrap();
    assert_eq!(step.failed, std::slice::from_ref(&id));
    let record = super::record(&f, &id);
    assert_eq!(record["buildStatus"], "FAULT");
    let provisioning = &record["phases"][2];
    assert_eq!(provisioning["phaseType"], "PROVISIONING");
    let message = provisioning["contexts"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("could not start the runner:") && message.contains("Capacity"),
        "{message}"
    );
    assert!(record[LAUNCH_RETRY].is_null());
}

#[tokio::test]
async fn a_deferred_launch_ends_timed_out_at_the_build_timeout() {
    let (f, _runners) = flaky_fixture(usize::MAX, true).await;
    let id = start(&f).await;
    assert_eq!(
        f.services.dispatch_step(at(0)).await.unwrap().deferred,
        std::slice::from_ref(&id)
    );
    // The project's default build timeout is 60 minutes, counted from PROVISIONING.
    let pass = f.services.reconcile(at(59)).await.unwrap();
    assert!(pass.timed_out.is_empty() && pass.faulted.is_empty(), "{pass:?}");
    assert_eq!(
        f.services.reconcile(at(60)).await.unwrap().timed_out,
        std::slice::from_ref(&id)
    );
    let record = super::record(&f, &id);
    assert_eq!(record["buildStatus"], "TIMED_OUT");
    assert_eq!(
        record[LAUNCH_RETRY]["attempts"], 2,
        "one try at dispatch, one at the pass before the timeout"
    );
}
