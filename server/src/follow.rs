//! The one log-follow stream, behind the API's `GET /builds/{id}/logs/stream` ([`crate::logs`]) and the
//! console's `GET /console/builds/{id}/log/stream` ([`crate::console::log`]): each reads a build's log in its own
//! pages ([`Pages`]: raw chunks for the API, rendered complete lines for the console) and this stream decides
//! when to read, when to wait and when it is over.
//!
//! Each step reads the build's state first and then the log, so a line written just before the build ended is
//! read before the end is announced. While the build runs, a following stream ([`AppState::follow`]) polls every
//! [`POLL`]; a buffered one (a Lambda response cannot stay open) ends instead, after sending what there is
//! ([`Buffered::WhatThereIs`]) or nothing until the build has ended ([`Buffered::OnlyOnceEnded`], for a client
//! that asks again from the same place).

use std::time::Duration;

use futures_util::stream::{self, Stream};
use kiln_core::build::BuildId;
use kiln_core::ports::BoxFuture;
use kiln_core::ports::build_store::StoreError;
use kiln_core::ports::logs::LogReader;

use crate::AppState;

/// How often a following stream looks for new lines while the build runs.
pub const POLL: Duration = Duration::from_millis(200);

/// What a log-follow stream yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Followed<P> {
    /// A new page of the log.
    Page(P),
    /// The build has ended with this status and its whole log was sent; the stream is over.
    End(String),
}

/// What a buffered stream sends while the build runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buffered {
    /// The log as far as it is written.
    WhatThereIs,
    /// Nothing until the build has ended.
    OnlyOnceEnded,
}

/// Reads a build's log in pages, remembering where the next one starts.
pub trait Pages: Send + 'static {
    /// One page of the log.
    type Page: Send + 'static;

    /// The next page of build `id`'s log, or `None` when nothing new is there; `ended` says the build has
    /// ended, so the log is complete.
    fn next<'a>(
        &'a mut self,
        logs: &'a dyn LogReader,
        id: &'a BuildId,
        ended: bool,
    ) -> BoxFuture<'a, Option<Self::Page>>;
}

/// Why a build's log cannot be followed (or read).
#[derive(Debug, thiserror::Error)]
pub enum LogBuildError {
    #[error(transparent)]
    BadId(#[from] kiln_core::build::IdError),
    #[error("build {0:?} cannot be found")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The build a log request names, and whether it has ended.
pub async fn log_build(state: &AppState, id: &str) -> Result<(BuildId, bool), LogBuildError> {
    let build_id = BuildId::parse(id)?;
    let stored = state
        .services
        .builds
        .get(&build_id)
        .await?
        .ok_or_else(|| LogBuildError::NotFound(id.to_owned()))?;
    let complete = stored.build.is_complete();
    Ok((build_id, complete))
}

/// The final status of build `id` once it has ended (`None` while it runs, or when it cannot be read now).
async fn final_status(state: &AppState, id: &BuildId) -> Option<String> {
    let build = state.services.builds.get(id).await.ok().flatten()?.build;
    build
        .is_complete()
        .then(|| build.build_status().as_str().to_owned())
}

struct Follow<P> {
    state: AppState,
    id: BuildId,
    pages: P,
    buffered: Buffered,
    done: bool,
}

impl<P: Pages> Follow<P> {
    async fn step(&mut self) -> Option<Followed<P::Page>> {
        if self.done {
            return None;
        }
        loop {
            let status = final_status(&self.state, &self.id).await;
            if !self.state.follow && status.is_none() && self.buffered == Buffered::OnlyOnceEnded {
                return None;
            }
            let logs = self.state.logs.as_ref();
            if let Some(page) = self.pages.next(logs, &self.id, status.is_some()).await {
                return Some(Followed::Page(page));
            }
            if let Some(status) = status {
                self.done = true;
                return Some(Followed::End(status));
            }
            if !self.state.follow {
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Follows build `id`'s log page by page until the build has ended (or, buffered, as `buffered` says).
pub fn follow<P: Pages>(
    state: AppState,
    id: BuildId,
    pages: P,
    buffered: Buffered,
) -> impl Stream<Item = Followed<P::Page>> + Send + 'static {
    let start = Follow {
        state,
        id,
        pages,
        buffered,
        done: false,
    };
    stream::unfold(start, |mut follow| async move {
        let item = follow.step().await?;
        Some((item, follow))
    })
}
