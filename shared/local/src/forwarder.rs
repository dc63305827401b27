//! Outbound HTTP notice targets: each project's `notifications` of type `HTTP` get every notice of that
//! project POSTed in order, signed with `X-Kiln-Signature-256: sha256=<hex HMAC-SHA256 of the body>` when the
//! target has a secret. A target's cursor is saved only after a 2xx, so nothing is lost across restarts
//! (delivery is at least once); failures back off exponentially per target, up to a minute.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sqlite::SqliteStore;
use kiln_core::project::NotificationType;
use kiln_core::trigger::{WebhookSecret, sign_hex};

use crate::webhook_secrets::SecretLookup;

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
    secrets: SecretLookup,
    http: reqwest::Client,
    backoff: HashMap<Target, (Instant, Duration)>,
}

impl Forwarder {
    /// A forwarder over the store's outbox and projects.
    pub fn new(store: Arc<SqliteStore>, secrets: SecretLookup) -> Forwarder {
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

    fn targets(&self) -> Vec<(Target, Option<String>)> {
        let mut targets = Vec::new();
        for name in self.store.project_names_sync().unwrap_or_default() {
            let Ok(Some(stored)) = self.store.get_project_sync(&name) else {
                continue;
            };
            for target in stored
                .project
                .notifications
                .into_iter()
                .filter(|t| t.target_type == NotificationType::Http)
            {
                let secret = target.secret.as_ref().and_then(|s| (self.secrets)(s).ok());
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
        for (target, secret) in self.targets() {
            if self
                .backoff
                .get(&target)
                .is_some_and(|(until, _)| Instant::now() < *until)
            {
                continue;
            }
            match self.deliver(&target, secret.as_deref()).await {
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

    async fn deliver(&self, target: &Target, secret: Option<&str>) -> Result<usize, String> {
        let name = target.cursor_name();
        let mut cursor = self.store.delivered_cursor(&name).map_err(|e| e.to_string())?;
        let mut delivered = 0;
        loop {
            let notices = self.store.notices_after(cursor, 100).map_err(|e| e.to_string())?;
            let Some(last) = notices.last().map(|n| n.cursor) else {
                return Ok(delivered);
            };
            for notice in notices.into_iter().filter(|n| n.project == target.project) {
                let body = serde_json::to_string(&notice.event).map_err(|e| e.to_string())?;
                let mut request = self
                    .http
                    .post(&target.url)
                    .header("Content-Type", "application/json")
                    .header("X-Kiln-Event-Cursor", notice.cursor.to_string());
                if let Some(secret) = secret {
                    let signature = sign_hex(&WebhookSecret::new(secret), body.as_bytes());
                    request = request.header("X-Kiln-Signature-256", format!("sha256={signature}"));
                }
                let response = request.body(body).send().await.map_err(|e| e.to_string())?;
                if !response.status().is_success() {
                    return Err(format!("HTTP {}", response.status()));
                }
                self.store
                    .set_delivered_cursor(&name, notice.cursor)
                    .map_err(|e| e.to_string())?;
                delivered += 1;
            }
            cursor = last;
            self.store
                .set_delivered_cursor(&name, cursor)
                .map_err(|e| e.to_string())?;
        }
    }
}
