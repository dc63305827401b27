//! The dispatch signal on one machine: [`WakeDispatcher`] wakes the dispatch loop of `kiln serve` when a build
//! is queued, so it claims and launches the build now instead of at its next timed pass.

use kiln_core::build::BuildId;
use kiln_core::ports::BoxFuture;
use kiln_core::ports::dispatch_signal::{DispatchSignal, SignalError};
use tokio::sync::Notify;

/// Wakes the dispatch loop; a signal sent while the loop is busy is kept until it next waits, so none is lost.
#[derive(Debug, Default)]
pub struct WakeDispatcher {
    notify: Notify,
}

impl WakeDispatcher {
    /// A signal nobody waits on yet.
    pub fn new() -> WakeDispatcher {
        WakeDispatcher::default()
    }

    /// Returns once a build has been queued since the last return (at once if one was queued meanwhile).
    pub async fn woken(&self) {
        self.notify.notified().await;
    }
}

impl DispatchSignal for WakeDispatcher {
    fn queued<'a>(&'a self, _ids: &'a [BuildId]) -> BoxFuture<'a, Result<(), SignalError>> {
        self.notify.notify_one();
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn ids() -> Vec<BuildId> {
        vec![BuildId::parse("web:0b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162").expect("a build id")]
    }

    #[tokio::test]
    async fn a_queued_build_wakes_the_waiting_dispatcher() {
        let wake = Arc::new(WakeDispatcher::new());
        let waiting = tokio::spawn({
            let wake = wake.clone();
            async move { wake.woken().await }
        });
        tokio::task::yield_now().await;
        wake.queued(&ids()).await.expect("a local signal never fails");
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the dispatcher wakes")
            .expect("the waiting task ends");
    }

    #[tokio::test]
    async fn a_signal_sent_while_the_dispatcher_is_busy_wakes_its_next_wait() {
        let wake = WakeDispatcher::new();
        wake.queued(&ids()).await.expect("a local signal never fails");
        tokio::time::timeout(Duration::from_secs(5), wake.woken())
            .await
            .expect("the earlier signal is kept");
        let idle = tokio::time::timeout(Duration::from_millis(50), wake.woken()).await;
        assert!(idle.is_err(), "one signal wakes one wait");
    }
}
