//! The server-side half of logged-in console sessions ([`ConsoleSessions`]: a [`SessionStore`] and the idle
//! period) and the sessions page: `GET /console/sessions` lists the live ones (a short handle, created, last
//! used, user agent) and `POST /console/sessions/revoke` ends any of them. A host without a store keeps
//! sessions in their signed cookies alone (they end only with their lifetime).

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use kiln_core::build::Timestamp;
use kiln_core::ports::sessions::{ConsoleSession, SessionError, SessionStore};
use sha2::{Digest, Sha256};

use super::ConsoleError;
use super::csrf::CsrfForm;
use maud::{Markup, html};

use super::html::{csrf_field, page, time};
use super::session::Session;
use crate::AppState;

/// How long a logged-in session may go unused by default before it ends.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(60 * 60);

/// Where logged-in sessions are kept, and how long one may sit unused.
#[derive(Clone)]
pub struct ConsoleSessions {
    /// The sessions themselves.
    pub store: Arc<dyn SessionStore>,
    /// A session unused this long has ended.
    pub idle: Duration,
}

impl ConsoleSessions {
    /// Sessions in `store` that end after [`DEFAULT_IDLE`] unused.
    pub fn new(store: Arc<dyn SessionStore>) -> ConsoleSessions {
        ConsoleSessions {
            store,
            idle: DEFAULT_IDLE,
        }
    }

    fn idle_since(&self, now: Timestamp) -> Timestamp {
        let idle = i64::try_from(self.idle.as_millis()).unwrap_or(i64::MAX);
        Timestamp::from_epoch_millis(now.epoch_millis().saturating_sub(idle))
    }
}

impl From<SessionError> for ConsoleError {
    fn from(err: SessionError) -> ConsoleError {
        ConsoleError::Internal(err.to_string())
    }
}

/// Records the session `id` just logged in, for `lifetime` at most.
pub(crate) async fn start(
    state: &AppState,
    id: &str,
    lifetime: Duration,
    user_agent: &str,
) -> Result<(), ConsoleError> {
    let Some(sessions) = &state.sessions else {
        return Ok(());
    };
    let now = state.now();
    let lifetime = i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX);
    let expires = Timestamp::from_epoch_millis(now.epoch_millis().saturating_add(lifetime));
    let session = ConsoleSession::new(id.to_owned(), now, expires, user_agent);
    Ok(sessions.store.create(&session).await?)
}

/// Whether the logged-in session `id` is still live (and marks it used); always true without a store.
pub(crate) async fn is_live(state: &AppState, id: &str) -> Result<bool, ConsoleError> {
    let Some(sessions) = &state.sessions else {
        return Ok(true);
    };
    let now = state.now();
    let used = sessions.store.touch(id, now, sessions.idle_since(now)).await?;
    Ok(used.is_some())
}

/// Ends session `id` on the server (logging out).
pub(crate) async fn end(state: &AppState, id: &str) -> Result<(), ConsoleError> {
    match &state.sessions {
        Some(sessions) => Ok(sessions.store.revoke(id).await?),
        None => Ok(()),
    }
}

/// The handle a session is shown and revoked by: 12 hex digits of a hash of its id, which does not reveal it.
pub(crate) fn handle(id: &str) -> String {
    let digest = Sha256::digest(format!("kiln console session handle:{id}").as_bytes());
    hex::encode(digest)[..12].to_owned()
}

/// `GET /console/sessions`: the live logged-in sessions, each with a Revoke button.
pub async fn list(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Markup, ConsoleError> {
    let Some(sessions) = state.sessions.as_ref().filter(|_| state.access.required()) else {
        let body = html! {
            h1 { "Sessions" }
            p { "Sessions are kept on the server only when the console asks for a login." }
        };
        return Ok(page("Sessions", body));
    };
    let now = state.now();
    let live = sessions.store.list(now, sessions.idle_since(now)).await?;
    let idle_minutes = sessions.idle.as_secs() / 60;
    let body = html! {
        h1 { "Sessions" }
        p { "Logged-in sessions end after " (idle_minutes) " minutes unused, or 12 hours after their login." }
        table class="sessions" {
            thead { tr {
                th scope="col" { "Session" } th scope="col" { "Created" } th scope="col" { "Last used" }
                th scope="col" { "User agent" } th scope="col" {}
            } }
            tbody {
                @for other in &live {
                    @let handle = handle(&other.id);
                    tr {
                        td { code { (handle) } @if other.id == session.id { " (this one)" } }
                        td { (time(Some(other.created))) }
                        td { (time(Some(other.last_used))) }
                        td { (other.user_agent) }
                        td {
                            form method="post" action="/console/sessions/revoke" {
                                (csrf_field(&session.csrf))
                                input type="hidden" name="session" value=(handle);
                                button type="submit" { "Revoke" }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Sessions", body))
}

/// `POST /console/sessions/revoke`: ends the live session whose handle the form names; revoking one's own
/// session goes to the login page.
pub async fn revoke(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    form: CsrfForm,
) -> Result<Response, ConsoleError> {
    let Some(sessions) = &state.sessions else {
        return Err(ConsoleError::NotFound(
            "sessions are not kept on this server".into(),
        ));
    };
    let wanted = form.field("session");
    let now = state.now();
    let live = sessions.store.list(now, sessions.idle_since(now)).await?;
    let Some(target) = live.iter().find(|s| handle(&s.id) == wanted) else {
        return Err(ConsoleError::NotFound(format!(
            "no live session {wanted:?}; it may have ended already"
        )));
    };
    sessions.store.revoke(&target.id).await?;
    let next = if target.id == session.id {
        "/console/login"
    } else {
        "/console/sessions"
    };
    Ok(Redirect::to(next).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_is_short_stable_and_not_the_id() {
        let id = "0b0e7a9c6c1c4c3a9a571d2e3f405162";
        assert_eq!(handle(id), handle(id));
        assert_eq!(handle(id).len(), 12);
        assert!(!id.contains(&handle(id)));
        assert_ne!(handle(id), handle("another"));
    }
}
