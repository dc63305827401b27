//! The `reaper` function, run by an EventBridge schedule every five minutes (its event carries nothing it
//! needs): builds that waited past their queued timeout end TIMED_OUT ([`Services::expire_queued`], for
//! builds whose dispatch message was lost or dead-lettered); builds holding a slot whose task is gone end FAULT,
//! and builds past their build timeout end TIMED_OUT and get their task stopped (StopTask); builds whose launch
//! the dispatcher deferred (throttling, no Fargate capacity) are launched again
//! ([`Services::reconcile_with_grace`]).
//!
//! A claimed build with no task yet is left alone for [`LAUNCH_GRACE`]: its dispatcher may be between the
//! claim and RunTask.

use std::time::Duration;

use kiln_core::build::{BuildId, Timestamp};
use kiln_core::usecases::{Services, UseCaseError};

/// How long a claimed build may have no task before the reaper calls it FAULT.
pub const LAUNCH_GRACE: Duration = Duration::from_secs(5 * 60);

/// What one run of the reaper ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reaped {
    /// Waited past the queued timeout (now TIMED_OUT).
    pub expired: Vec<BuildId>,
    /// Their task was gone (now FAULT).
    pub faulted: Vec<BuildId>,
    /// Past their build timeout (now TIMED_OUT, task stopped).
    pub timed_out: Vec<BuildId>,
    /// Their deferred launch was tried again and started.
    pub relaunched: Vec<BuildId>,
}

/// One pass of the reaper at `now`.
pub async fn handle(services: &Services, now: Timestamp) -> Result<Reaped, UseCaseError> {
    let expired = services.expire_queued(now).await?;
    let reconciled = services.reconcile_with_grace(now, LAUNCH_GRACE).await?;
    let reaped = Reaped {
        expired,
        faulted: reconciled.faulted,
        timed_out: reconciled.timed_out,
        relaunched: reconciled.relaunched,
    };
    tracing::info!(
        expired = reaped.expired.len(),
        faulted = reaped.faulted.len(),
        timed_out = reaped.timed_out.len(),
        relaunched = reaped.relaunched.len(),
        "reaper pass done"
    );
    Ok(reaped)
}
