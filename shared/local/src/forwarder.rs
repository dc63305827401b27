//! Outbound HTTP notice targets: each project's `notifications` of type `HTTP` get every notice of that
//! project POSTed in order, signed with `X-Kiln-Signature-256: sha256=<hex HMAC-SHA256 of the body>` when the
//! target has a secret. A target's cursor is saved only after a 2xx, so nothing is lost across restarts
//! (delivery is at least once); failures back off exponentially per target, up to a minute. A target whose
//! secret cannot be resolved gets nothing (never an unsigned notice) and backs off like a failed delivery.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sqlite::SqliteStore;
use kiln_core::ports::build_store::{ProjectStore, StoreError};
use kiln_core::ports::secrets::{SecretError, SecretResolver};
use kiln_core::project::NotificationType;
use kiln_core::trigger::{WebhookSecret, sign_hex};

/// Why delivering to a target stopped; the target backs off and is tried again from its saved cursor.
#[derive(Debug, thiserror::Error)]
enum DeliveryError {
    /// The outbox or the target's cursor could not be read or saved.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The request did not get a response (connection, timeout, redirect loop).
    #[error(transparent)]
    Request(#[from] reqwest::Error),
    /// The target answered with a status other than 2xx.
    #[error("HTTP {0}")]
    Status(reqwest::StatusCode),
    /// A notice could not be written as JSON.
    #[error("the notice could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
    /// The target's signing secret could not be resolved (nothing is sent unsigned).
    #[error("the target's signing secret: {0}")]
    Secret(#[from] SecretError),
}

/// One HTTP target of one project.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Target {
    project: String,
    url: String,
}

impl Target {
    fn cursor_name(&self) -> String {
        format!("http:{}:{}", self.project, self.url)
    }
}

/// Delivers notices to HTTP targets; call [`Forwarder::step`] repeatedly.
pub struct Forwarder {
    store: Arc<SqliteStore>,
    secrets: Arc<dyn SecretResolver>,
    http: reqwest::Client,
    backoff: HashMap<Target, (Instant, Duration)>,
}

impl Forwarder {
    /// A forwarder over the store's outbox and projects; `secrets` resolves the targets' signing secrets.
    pub fn new(store: Arc<SqliteStore>, secrets: Arc<dyn SecretResolver>) -> Forwarder {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Forwarder {
            store,
            secrets,
            http,
            backoff: HashMap::new(),
        }
    }

    /// Every HTTP target of every project, with its signing secret if it has one.
    async fn targets(&self) -> Vec<(Target, Result<Option<String>, SecretError>)> {
        let mut targets = Vec::new();
        for name in self.store.project_names().await.unwrap_or_default() {
            let Ok(Some(stored)) = self.store.get_project(&name).await else {
                continue;
            };
            for target in stored
                .project
                .notifications
                .into_iter()
                .filter(|t| t.target_type == NotificationType::Http)
            {
                let secret = match &target.secret {
                    Some(reference) => self.secrets.resolve_project_secret(reference).await.map(Some),
                    None => Ok(None),
                };
                targets.push((
                    Target {
                        project: name.to_string(),
                        url: target.target,
                    },
                    secret,
                ));
            }
        }
        targets
    }

    /// Delivers what is pending to every target not backing off; returns how many notices were delivered.
    pub async fn step(&mut self) -> usize {
        let mut delivered = 0;
        for (target, secret) in self.targets().await {
            if self
                .backoff
                .get(&target)
                .is_some_and(|(until, _)| Instant::now() < *until)
            {
                continue;
            }
            let outcome = match secret {
                Ok(secret) => self.deliver(&target, secret.as_deref()).await,
                Err(err) => Err(DeliveryError::Secret(err)),
            };
            match outcome {
                Ok(n) => {
                    delivered += n;
                    self.backoff.remove(&target);
                }
                Err(reason) => {
                    let wait = self
                        .backoff
                        .get(&target)
                        .map_or(Duration::from_millis(500), |(_, d)| {
                            (*d * 2).min(Duration::from_secs(60))
                        });
                    tracing::warn!(project = %target.project, target = %target.url, retry_in_ms = wait.as_millis() as u64, reason = %reason, "notice delivery failed");
                    self.backoff.insert(target, (Instant::now() + wait, wait));
                }
            }
        }
        delivered
    }

    async fn deliver(&self, target: &Target, secret: Option<&str>) -> Result<usize, DeliveryError> {
        let name = target.cursor_name();
        let mut cursor = self.store.delivered_cursor(&name).await?;
        let mut delivered = 0;
        loop {
            let notices = self.store.notices_after(cursor, 100).await?;
            let Some(last) = notices.last().map(|n| n.cursor) else {
                return Ok(delivered);
            };
            for notice in notices.into_iter().filter(|n| n.project == target.project) {
                let body = serde_json::to_string(&notice.event)?;
                let mut request = self
                    .http
                    .post(&target.url)
                    .header("Content-Type", "application/json")
                    .header("X-Kiln-Event-Cursor", notice.cursor.to_string());
                if let Some(secret) = secret {
                    let signature = sign_hex(&WebhookSecret::new(secret), body.as_bytes());
                    request = request.header("X-Kiln-Signature-256", format!("sha256={signature}"));
                }
                let response = request.body(body).send().await?;
                if !response.status().is_success() {
                    return Err(DeliveryError::Status(response.status()));
                }
                self.store.set_delivered_cursor(&name, notice.cursor).await?;
                delivered += 1;
            }
            cursor = last;
            self.store.set_delivered_cursor(&name, cursor).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use kiln_core::build::{AccountContext, Build, BuildId, Timestamp};
    use kiln_core::ports::build_store::PutMode;
    use kiln_core::ports::notifier::Notifier;
    use kiln_core::usecases::notices::{NoticeSource, notices_for};
    use serde_json::json;

    use super::*;
    use crate::LocalSecrets;

    #[tokio::test]
    async fn a_target_whose_secret_cannot_be_resolved_gets_nothing_and_backs_off() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("kiln.db")).unwrap());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/notices", listener.local_addr().unwrap());
        let project = json!({"name": "web", "source": {"type": "NO_SOURCE", "buildspec": "version: 0.2"},
        "notifications": [
            {"type": "HTTP", "target": url, "secret": {"env": "KILN_TEST_NO_SUCH_SECRET_VARIABLE"}}
        ]});
        let project = serde_json::from_value(project).expect("a valid project");
        store.put_project(&project, PutMode::Create).await.unwrap();
        let id = BuildId::parse("web:0b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162").expect("id");
        let build = Build::new(id, 1, &AccountContext::local(), Timestamp::from_epoch_millis(0));
        let notice = notices_for(&NoticeSource::default(), None, &build, 0).remove(0);
        store.publish(&notice).await.unwrap();

        let mut forwarder = Forwarder::new(store.clone(), Arc::new(LocalSecrets::new()));
        assert_eq!(forwarder.step().await, 0);
        let connection = listener.accept();
        assert!(
            matches!(&connection, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "no notice may leave unsigned: {connection:?}"
        );
        let target = Target {
            project: "web".into(),
            url,
        };
        assert!(forwarder.backoff.contains_key(&target), "the target backs off");
        assert_eq!(
            store.delivered_cursor(&target.cursor_name()).await.unwrap(),
            0,
            "nothing delivered"
        );
    }
}
