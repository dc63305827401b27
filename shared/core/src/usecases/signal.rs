//! Telling the dispatcher about the builds a request started, through the [`DispatchSignal`] port: every build
//! of a new request, and for a repeated request (a redelivered webhook, a schedule fired again) those still
//! QUEUED, in case the first attempt died between storing a build and signalling it.

use super::Services;
use crate::build::BuildId;
use crate::ports::build_store::BuildState;
use crate::ports::dispatch_signal::{DispatchSignal, SignalError};

impl Services {
    /// Signals the builds `ids` a request started; `repeated` when an earlier request with the same key had
    /// started them. A build whose state cannot be read is signalled anyway (a signal too many is harmless).
    pub async fn signal_started(
        &self,
        signal: &dyn DispatchSignal,
        ids: &[BuildId],
        repeated: bool,
    ) -> Result<(), SignalError> {
        if !repeated {
            return signal.queued(ids).await;
        }
        let mut queued = Vec::new();
        for id in ids {
            match self.builds.get(id).await {
                Ok(Some(stored)) if stored.state == BuildState::Queued => queued.push(id.clone()),
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(build = %id, error = %err, "cannot tell whether the build is still queued; signalling it");
                    queued.push(id.clone());
                }
            }
        }
        if queued.is_empty() {
            return Ok(());
        }
        signal.queued(&queued).await
    }
}
