//! Accepting a webhook delivery for one project: verify the signature with the project's secret, normalise the
//! payload, match the project's filter groups and fork policy, then create the build — idempotently on the
//! delivery id, with trigger details and the `CODEBUILD_WEBHOOK_*` variables.

use serde_json::{Value, json};

use super::start::{Origin, StartBuildInput};
use super::{Services, UseCaseError};
use crate::build::{BuildId, ProjectName, Timestamp, TriggerDetails, TriggerProvider};
use crate::ports::secrets::SecretResolver;
use crate::project::Project;
use crate::trigger::{
    FilterDecision, FilterGroups, Headers, Outcome, Provider, TriggerEvent, WebhookSecret, initiator,
    parse_unverified, parse_webhook, trigger, webhook_variables,
};

/// What became of a delivery, for the edge to map to a status code.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// Builds created (or found, for a redelivery): HTTP 202.
    Accepted {
        build_ids: Vec<BuildId>,
        redelivery: bool,
    },
    /// A valid delivery that starts nothing: HTTP 200 with the reason.
    Ignored { reason: String },
    /// Bad or missing signature: HTTP 401, nothing stored.
    Unauthenticated { reason: String },
    /// Not the payload the headers announce: HTTP 400, nothing stored.
    Malformed { message: String },
    /// No such project, or it has no webhook: HTTP 404.
    UnknownProject { reason: String },
}

impl Delivery {
    /// The HTTP answer every edge gives (the local server and the `webhook` function alike): the status code
    /// and the JSON body.
    pub fn response(&self) -> (u16, Value) {
        match self {
            Delivery::Accepted {
                build_ids,
                redelivery,
            } => (202, json!({"buildIds": build_ids, "redelivery": redelivery})),
            Delivery::Ignored { reason } => (200, json!({"ignored": true, "reason": reason})),
            Delivery::Unauthenticated { reason } => (401, json!({"message": reason})),
            Delivery::Malformed { message } => (400, json!({"message": message})),
            Delivery::UnknownProject { reason } => (404, json!({"message": reason})),
        }
    }
}

fn provider(provider: Provider) -> TriggerProvider {
    match provider {
        Provider::GitHub => TriggerProvider::Github,
        Provider::GitLab => TriggerProvider::Gitlab,
        Provider::Bitbucket => TriggerProvider::Bitbucket,
        Provider::Gitea => TriggerProvider::Gitea,
        Provider::CodeCommit => TriggerProvider::Codecommit,
    }
}

/// The trigger details a webhook build records.
pub fn trigger_details(event: &TriggerEvent) -> TriggerDetails {
    let mut details = TriggerDetails::new(provider(event.provider));
    details.event = Some(event.event.as_str().to_owned());
    details.delivery_id = Some(event.delivery_id.as_str().to_owned());
    details.head_ref = Some(event.head_ref.as_str().to_owned());
    details.base_ref = event.base_ref.as_ref().map(|r| r.as_str().to_owned());
    details.head_sha = event.head_sha.clone();
    details.prev_commit = event.before_sha.clone();
    details.actor_id = event.actor.id.clone();
    details.actor_login = event.actor.login.clone();
    details.pr_number = event.pr_number;
    details.from_fork = Some(event.from_fork);
    details.webhook_trigger = Some(trigger(event));
    details
}

impl Services {
    /// Handles one delivery to project `name`'s webhook. `secrets` turns the project's secret reference into
    /// the secret (files and the environment locally, SSM and Secrets Manager on AWS).
    pub async fn accept_webhook(
        &self,
        name: &str,
        headers: &Headers,
        body: &[u8],
        secrets: &dyn SecretResolver,
        now: Timestamp,
    ) -> Result<Delivery, UseCaseError> {
        let unknown = || Delivery::UnknownProject {
            reason: format!("project {name:?} cannot be found"),
        };
        let Ok(project_name) = ProjectName::parse(name) else {
            return Ok(unknown());
        };
        let Some(stored) = self.projects.get_project(&project_name).await? else {
            return Ok(unknown());
        };
        let project = stored.project;
        let Some(webhook) = &project.webhook else {
            return Ok(Delivery::UnknownProject {
                reason: format!("project {name:?} has no webhook"),
            });
        };
        let outcome = match &webhook.secret {
            Some(reference) => {
                let secret = secrets.resolve_project_secret(reference).await?;
                parse_webhook(headers, body, &WebhookSecret::new(secret))
            }
            None if webhook.allow_unsigned => parse_unverified(headers, body),
            None => {
                return Ok(Delivery::Unauthenticated {
                    reason: format!(
                        "project {name:?}'s webhook has no secret, so its deliveries cannot be verified; set \
                         webhook.secret (CreateWebhook generates one), or webhook.allowUnsigned: true for a \
                         provider that cannot sign"
                    ),
                });
            }
        };
        let event = match outcome {
            Outcome::Unauthenticated { reason } => return Ok(Delivery::Unauthenticated { reason }),
            Outcome::Malformed { message } => return Ok(Delivery::Malformed { message }),
            Outcome::Ignored { reason } => return Ok(Delivery::Ignored { reason }),
            Outcome::Accepted(event) => event,
        };
        self.build_for_event(&project, &event, "webhook", now).await
    }

    /// Starts the build `event` asks of `project` unless its filter groups or fork policy refuse it;
    /// idempotent on `<kind>:<project>:<delivery id>`.
    pub(super) async fn build_for_event(
        &self,
        project: &Project,
        event: &TriggerEvent,
        kind: &str,
        now: Timestamp,
    ) -> Result<Delivery, UseCaseError> {
        if let Some(reason) = refusal(project, event)? {
            return Ok(Delivery::Ignored { reason });
        }
        let name = &project.name;
        let input = StartBuildInput {
            project_name: name.to_string(),
            source_version: Some(event.source_version.clone()),
            ..StartBuildInput::default()
        };
        let origin = Origin {
            initiator: Some(initiator(event)),
            trigger: Some(trigger_details(event)),
            key: Some(format!("{kind}:{name}:{}", event.delivery_id.as_str())),
            webhook_env: webhook_variables(event)
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v))
                .collect(),
        };
        let started = self.start_build(input, origin, now).await?;
        Ok(Delivery::Accepted {
            build_ids: vec![started.build.id().clone()],
            redelivery: started.existing,
        })
    }
}

/// Why the project's webhook filter groups or fork policy refuse `event`, if they do (a project without a
/// webhook, or without filter groups, builds every push and pull request).
fn refusal(project: &Project, event: &TriggerEvent) -> Result<Option<String>, UseCaseError> {
    let none = FilterGroups::default();
    let groups = project.webhook.as_ref().map_or(&none, |w| &w.filter_groups);
    let compiled = groups
        .compile()
        .map_err(|e| UseCaseError::Corrupt(format!("filter groups: {e}")))?;
    match compiled.evaluate(event) {
        FilterDecision::Build { .. } => {}
        FilterDecision::NoMatch { reason } => return Ok(Some(format!("no filter group matched: {reason}"))),
        FilterDecision::Skipped { reason } => return Ok(Some(format!("skipped: {reason}"))),
    }
    if !project.fork_pull_requests.allows_build(event.from_fork) {
        return Ok(Some(
            "pull requests from forks do not build in this project (forkPullRequests.build)".into(),
        ));
    }
    Ok(None)
}
