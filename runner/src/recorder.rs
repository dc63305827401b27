//! The executor's phase events recorded as they happen, each through the `record_phase` use case; FINALIZING's
//! end is held back for [`crate::finish`], since it completes the build, after which nothing may change it.

use kiln_core::build::{BuildId, PhaseContext, PhaseType, StatusType};
use kiln_core::usecases::Services;
use kiln_executor::BuildEvent;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

use crate::now;

/// FINALIZING's end, held back until the result's members are recorded.
pub type Finalizing = Option<(StatusType, Vec<PhaseContext>)>;

/// Records each phase the executor ends as it happens; the task returns FINALIZING's end.
pub fn spawn(
    services: Services,
    id: BuildId,
    mut received: UnboundedReceiver<BuildEvent>,
) -> JoinHandle<Finalizing> {
    tokio::spawn(async move {
        let mut finalizing = None;
        while let Some(event) = received.recv().await {
            // Each phase record carries the on-failure action that chose the next phase, so the store's state
            // machine follows the executor's; if they ever disagree, `finish` ends the build with the
            // executor's status.
            let BuildEvent::PhaseEnded(phase) = event else {
                continue;
            };
            let Some(status) = phase.phase_status else {
                continue;
            };
            let contexts: Vec<PhaseContext> = phase
                .contexts
                .iter()
                .map(|c| PhaseContext::new(&c.status_code, &c.message))
                .collect();
            if phase.phase_type == PhaseType::Finalizing {
                finalizing = Some((status, contexts));
                continue;
            }
            let recorded = services
                .record_phase(&id, phase.phase_type, status, phase.action, contexts, now())
                .await;
            if let Err(err) = recorded {
                tracing::warn!(build_id = %id, error = %err, "phase not recorded");
            }
        }
        finalizing
    })
}
