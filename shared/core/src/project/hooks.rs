//! What starts a project's builds and who hears about them: webhook, schedules, notification targets, the
//! fork pull-request policy, and secret references (never secret values, unless local config allows it).

use serde::{Deserialize, Serialize};

use super::environment::{EnvironmentVariable, check_references, check_variables};
use super::error::{FieldPath, Problem, ProjectError};
use crate::schedule::ScheduleError;
use crate::trigger::filter::FilterGroups;

/// Where a secret lives. Exactly one member is given: `{env: NAME}`, `{file: path}`, `{parameter: /ssm/name}`,
/// `{secretsManager: name-or-arn}`, or `{value: "..."}` — the last only when the config file sets
/// `allowInlineSecrets: true` (local development).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum SecretRef {
    /// An environment variable of the Kiln process.
    Env(String),
    /// A file readable by the Kiln process (trailing newline trimmed by the resolver).
    File(String),
    /// An SSM Parameter Store parameter (SecureString).
    Parameter(String),
    /// A Secrets Manager secret.
    SecretsManager(String),
    /// The secret itself, inline (only with `allowInlineSecrets`).
    Value(String),
}

impl SecretRef {
    fn check(&self, allow_inline: bool, path: &FieldPath) -> Result<(), ProjectError> {
        match self {
            SecretRef::Value(_) if !allow_inline => Err(path.invalid(
                "<inline secret>",
                "inline secrets are refused; use {env: NAME}, {file: path}, {parameter: name} or {secretsManager: name}, \
                 or set allowInlineSecrets: true for local development",
            )),
            SecretRef::Env(s) | SecretRef::File(s) | SecretRef::Parameter(s) | SecretRef::SecretsManager(s)
                if s.trim().is_empty() =>
            {
                Err(path.invalid(s, "the secret's name is empty"))
            }
            SecretRef::Env(_)
            | SecretRef::File(_)
            | SecretRef::Parameter(_)
            | SecretRef::SecretsManager(_)
            | SecretRef::Value(_) => Ok(()),
        }
    }
}

/// A project's webhook: filter groups and the secret the provider signs deliveries with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Webhook {
    /// OR across groups, AND within a group; empty means every push and pull request event.
    #[serde(default)]
    pub filter_groups: FilterGroups,
    /// The signing secret (GitHub/Gitea HMAC, GitLab token, Bitbucket HMAC). Without one, deliveries are
    /// refused unless `allow_unsigned` says otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretRef>,
    /// Accept unsigned deliveries when there is no `secret`: an explicit opt-in, for a provider that cannot
    /// sign. A secret, when set, is always checked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_unsigned: bool,
}

/// A schedule that starts builds (an EventBridge-style `rate(..)`, `cron(..)` or `at(..)` expression).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Schedule {
    /// Name, unique within the project: letters, digits, `-`, `_`, up to 64.
    pub name: String,
    /// `rate(1 hour)`, `cron(0 3 * * ? *)`; checked by [`crate::schedule`] when the project is validated.
    pub expression: String,
    /// IANA time zone for cron expressions (UTC when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Branch, tag or commit to build (the project's `sourceVersion` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// Variables merged over the project's for scheduled builds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment_variables_override: Vec<EnvironmentVariable>,
}

impl Schedule {
    /// The parsed expression in its time zone (UTC when none is given), ready for `next_after`.
    pub fn fire_schedule(&self) -> Result<crate::schedule::Schedule, ScheduleError> {
        crate::schedule::Schedule::parse(self.expression.trim(), self.timezone.as_deref().unwrap_or("UTC"))
    }
}

/// Where build state changes are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationType {
    Sqs,
    Sns,
    Http,
}

/// A notification target: an SQS queue (URL or ARN), an SNS topic ARN or an HTTP(S) URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationTarget {
    /// Kind of target.
    #[serde(rename = "type")]
    pub target_type: NotificationType,
    /// Queue URL/ARN, topic ARN or URL.
    pub target: String,
    /// HTTP only: the secret used to sign the body (`X-Kiln-Signature-256: sha256=<hmac>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretRef>,
}

/// What builds of pull requests from forks may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForkPullRequests {
    /// Whether such pull requests start builds at all (default yes).
    #[serde(default = "yes")]
    pub build: bool,
    /// Whether such builds get PARAMETER_STORE / SECRETS_MANAGER variables (default no).
    #[serde(default)]
    pub secrets: bool,
}

fn yes() -> bool {
    true
}

impl ForkPullRequests {
    /// Whether a build may start for an event; `from_fork` is whether it is a pull request from a fork.
    pub fn allows_build(&self, from_fork: bool) -> bool {
        !from_fork || self.build
    }

    /// Whether a build gets PARAMETER_STORE / SECRETS_MANAGER variables (and other secrets).
    pub fn allows_secrets(&self, from_fork: bool) -> bool {
        !from_fork || self.secrets
    }
}

impl Default for ForkPullRequests {
    fn default() -> Self {
        Self {
            build: true,
            secrets: false,
        }
    }
}

/// Validates the webhook, schedules and notification targets of one project.
pub(super) fn check_hooks(
    webhook: Option<&Webhook>,
    schedules: &[Schedule],
    notifications: &[NotificationTarget],
    allow_inline_secrets: bool,
    path: &FieldPath,
) -> Result<(), ProjectError> {
    if let Some(secret) = webhook.and_then(|w| w.secret.as_ref()) {
        secret.check(allow_inline_secrets, &path.key("webhook").key("secret"))?;
    }
    let mut names = std::collections::HashSet::new();
    for (i, schedule) in schedules.iter().enumerate() {
        check_schedule(schedule, &path.key("schedules").index(i))?;
        if !names.insert(schedule.name.as_str()) {
            return Err(path
                .key("schedules")
                .index(i)
                .key("name")
                .err(Problem::Duplicate(schedule.name.clone())));
        }
    }
    for (i, target) in notifications.iter().enumerate() {
        check_notification(target, allow_inline_secrets, &path.key("notifications").index(i))?;
    }
    Ok(())
}

fn check_schedule(schedule: &Schedule, path: &FieldPath) -> Result<(), ProjectError> {
    let name = &schedule.name;
    let name_ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !name_ok {
        return Err(path
            .key("name")
            .invalid(name, "use 1 to 64 letters, digits, '-' or '_'"));
    }
    if let Err(err) = schedule.fire_schedule() {
        let (key, value, reason) = match &err {
            ScheduleError::UnknownTimeZone { name } => ("timezone", name.clone(), err.to_string()),
            ScheduleError::Expression { problem, .. } => {
                ("expression", schedule.expression.clone(), problem.to_string())
            }
            _ => ("expression", schedule.expression.clone(), err.to_string()),
        };
        return Err(path.key(key).invalid(value, reason));
    }
    let overrides = path.key("environmentVariablesOverride");
    check_variables(&schedule.environment_variables_override, &overrides)?;
    check_references(&schedule.environment_variables_override, &overrides)
}

fn check_notification(
    target: &NotificationTarget,
    allow_inline: bool,
    path: &FieldPath,
) -> Result<(), ProjectError> {
    let t = target.target.as_str();
    let ok = match target.target_type {
        NotificationType::Sqs => {
            t.starts_with("https://") || t.starts_with("http://") || t.starts_with("arn:aws:sqs:")
        }
        NotificationType::Sns => t.starts_with("arn:aws:sns:"),
        NotificationType::Http => t.starts_with("https://") || t.starts_with("http://"),
    };
    if !ok {
        let reason =
            "SQS takes a queue URL or arn:aws:sqs:..., SNS a topic arn:aws:sns:..., HTTP an http(s):// URL";
        return Err(path.key("target").invalid(t, reason));
    }
    match (&target.secret, target.target_type) {
        (Some(secret), NotificationType::Http) => secret.check(allow_inline, &path.key("secret")),
        (Some(_), NotificationType::Sqs | NotificationType::Sns) => Err(path
            .key("secret")
            .invalid("<secret>", "only HTTP targets are signed; remove the secret")),
        (None, _) => Ok(()),
    }
}
