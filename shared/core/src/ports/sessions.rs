//! The console-session port: the server-side half of a logged-in console session, so that logging out, an idle
//! period or a revocation from the sessions page ends it even for someone holding a copy of its cookie.
//!
//! The cookie names a session by its id; the store keeps when it was created, when it was last used, when it
//! ends at the latest and the browser's user agent. Locally the sessions are a SQLite table; on AWS they are
//! items in the stack's one DynamoDB table, which its time-to-live removes after they end.

use super::BoxFuture;
use crate::build::Timestamp;

/// One logged-in console session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// The random id the cookie carries (a bearer secret: never shown, never logged).
    pub id: String,
    /// When the login happened.
    pub created: Timestamp,
    /// The last request that used it.
    pub last_used: Timestamp,
    /// When it ends whatever its use (the absolute lifetime).
    pub expires: Timestamp,
    /// The browser's `User-Agent` at login, cut to [`USER_AGENT_MAX`] characters.
    pub user_agent: String,
}

/// The most of a user agent a session keeps.
pub const USER_AGENT_MAX: usize = 256;

impl ConsoleSession {
    /// A session starting `now` that ends at `expires`, for a browser saying `user_agent`.
    pub fn new(id: String, now: Timestamp, expires: Timestamp, user_agent: &str) -> ConsoleSession {
        ConsoleSession {
            id,
            created: now,
            last_used: now,
            expires,
            user_agent: user_agent.chars().take(USER_AGENT_MAX).collect(),
        }
    }

    /// Whether it is still usable `now`: before its end and used since `idle_since`.
    pub fn is_live(&self, now: Timestamp, idle_since: Timestamp) -> bool {
        self.expires > now && self.last_used >= idle_since
    }
}

/// Why the session store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("session store error: {message}")]
    Backend { message: String, retryable: bool },
}

/// Where logged-in console sessions live.
pub trait SessionStore: Send + Sync {
    /// Records a new session.
    fn create<'a>(&'a self, session: &'a ConsoleSession) -> BoxFuture<'a, Result<(), SessionError>>;

    /// Marks session `id` used `now` and returns it, if it is live (see [`ConsoleSession::is_live`]); `None` for
    /// an unknown, revoked, ended or idle one, which stays unusable.
    fn touch<'a>(
        &'a self,
        id: &'a str,
        now: Timestamp,
        idle_since: Timestamp,
    ) -> BoxFuture<'a, Result<Option<ConsoleSession>, SessionError>>;

    /// The live sessions, most recently used first.
    fn list(
        &self,
        now: Timestamp,
        idle_since: Timestamp,
    ) -> BoxFuture<'_, Result<Vec<ConsoleSession>, SessionError>>;

    /// Ends session `id`; ending one that is not there is not an error.
    fn revoke<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), SessionError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_live_until_its_end_and_while_used_recently() {
        let at = Timestamp::from_epoch_millis;
        let session = ConsoleSession::new("id".into(), at(1_000), at(10_000), &"x".repeat(1_000));
        assert_eq!(session.user_agent.len(), USER_AGENT_MAX);
        let cases = [
            (at(2_000), at(0), true),
            (at(2_000), at(1_000), true),
            (at(2_000), at(1_001), false),
            (at(10_000), at(0), false),
            (at(9_999), at(0), true),
        ];
        for (now, idle_since, live) in cases {
            assert_eq!(session.is_live(now, idle_since), live, "{now:?} {idle_since:?}");
        }
    }
}
