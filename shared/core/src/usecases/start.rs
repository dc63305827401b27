//! Starting builds: StartBuild (with CodeBuild's overrides), RetryBuild, and the shared step that turns a
//! project plus a request into a QUEUED build record, created idempotently under a key.

use serde::{Deserialize, Serialize};

use super::{Services, UseCaseError};
use crate::build::{
    Build, BuildId, FailureAction, LogsLocation, PhaseType, ProjectName, StatusType, Timestamp,
    TriggerDetails, WebhookVariable,
};
use crate::project::{
    EnvironmentVariable, EnvironmentVariableType, FieldPath, ProjectEnvironment, ProjectSource,
    RawEnvironment, RawSource, buildspec_override, check_reference,
};

/// One environment variable override (`environmentVariablesOverride` item).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    pub name: String,
    #[serde(default)]
    pub value: String,
    #[serde(default = "plaintext", rename = "type")]
    pub var_type: String,
}

fn plaintext() -> String {
    "PLAINTEXT".into()
}

/// StartBuild's input, as the CodeBuild API names it (the members Kiln honours; any other member is refused, the
/// API naming those CodeBuild has and Kiln does not support yet).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartBuildInput {
    pub project_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment_variables_override: Vec<EnvVar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buildspec_override: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_location_override: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_in_minutes_override: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_timeout_in_minutes_override: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_token: Option<String>,
}

/// Who or what starts a build, beyond the request itself.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// `initiator` on the record (a user name, a webhook's user agent, `kiln-schedule/<name>`).
    pub initiator: Option<String>,
    /// Trigger details for webhook and schedule builds.
    pub trigger: Option<TriggerDetails>,
    /// The idempotency key, already namespaced (`api:..`, `webhook:..`, `schedule:..`).
    pub key: Option<String>,
    /// `CODEBUILD_WEBHOOK_*` variables, kept on the record as `webhookVariables` (names starting with
    /// `CODEBUILD_` are reserved in the environment).
    pub webhook_env: Vec<(String, String)>,
}

/// The result of starting: the build and whether an earlier call with the same key had made it.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    pub build: Build,
    pub existing: bool,
}

fn in_range(name: &str, value: Option<i64>, min: i64, max: i64) -> Result<Option<u32>, UseCaseError> {
    match value {
        None => Ok(None),
        Some(v) if (min..=max).contains(&v) => Ok(u32::try_from(v).ok()),
        Some(v) => Err(UseCaseError::InvalidInput(format!(
            "{name} {v} is out of range; use {min} to {max} minutes"
        ))),
    }
}

/// Checks the members the project's own validation would refuse (each refusal names the member): every
/// `environmentVariablesOverride` has a known type, and a SECRETS_MANAGER one a reference CodeBuild accepts.
fn check_input(input: &StartBuildInput) -> Result<(), UseCaseError> {
    let invalid = |e: crate::project::ProjectError| UseCaseError::InvalidInput(e.to_string());
    let path = FieldPath::named("environmentVariablesOverride");
    for (i, var) in input.environment_variables_override.iter().enumerate() {
        let at = path.index(i);
        let variable_type = at
            .key("type")
            .one_of(&var.var_type, EnvironmentVariableType::OPTIONS)
            .map_err(invalid)?;
        let typed = EnvironmentVariable {
            name: var.name.clone(),
            value: var.value.clone(),
            variable_type,
        };
        check_reference(&typed, &at).map_err(invalid)?;
    }
    Ok(())
}

impl Services {
    /// StartBuild: a new QUEUED build of `input.projectName` with the overrides applied.
    pub async fn start_build(
        &self,
        input: StartBuildInput,
        origin: Origin,
        now: Timestamp,
    ) -> Result<Started, UseCaseError> {
        let name =
            ProjectName::parse(&input.project_name).map_err(|e| UseCaseError::InvalidInput(e.to_string()))?;
        check_input(&input)?;
        let project = self
            .projects
            .get_project(&name)
            .await?
            .ok_or_else(|| UseCaseError::ProjectNotFound(input.project_name.clone()))?
            .project;
        let timeout = in_range(
            "timeoutInMinutesOverride",
            input.timeout_in_minutes_override,
            5,
            2160,
        )?;
        let queued = in_range(
            "queuedTimeoutInMinutesOverride",
            input.queued_timeout_in_minutes_override,
            5,
            480,
        )?;
        let (key, fingerprint) = match (&origin.key, &input.idempotency_token) {
            (Some(key), _) => (Some(key.clone()), None),
            (None, Some(token)) => (Some(format!("api:{name}:{token}")), Some(fingerprint(&input))),
            (None, None) => (None, None),
        };
        let details = Details {
            source: overridden_source(&project.source, &input)?,
            environment: overridden_environment(&project.environment, &input.environment_variables_override)?,
            source_version: input
                .source_version
                .clone()
                .or_else(|| project.source_version.clone()),
            timeout: timeout.unwrap_or(project.timeout_in_minutes),
            queued_timeout: queued.unwrap_or(project.queued_timeout_in_minutes),
            initiator: origin.initiator.clone().or_else(|| Some("kiln".into())),
            trigger: origin.trigger.clone(),
            webhook_variables: origin
                .webhook_env
                .iter()
                .map(|(name, value)| WebhookVariable {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            fingerprint: fingerprint.clone(),
        };
        match (key, fingerprint, &input.idempotency_token) {
            (Some(key), Some(fingerprint), Some(token)) => {
                self.create_under_token(&name, details, key, &fingerprint, token, now)
                    .await
            }
            (key, _, _) => self.create(&name, details, key, now).await,
        }
    }

    /// Creates under an API idempotency token, as CodeBuild honours one: for 5 minutes the same request
    /// returns the same build and different parameters are refused; after that the token starts a new build.
    /// An expired key leads to the next key in a chain (`<key>@<build id>`), so concurrent repeats after the
    /// expiry still agree on one build.
    async fn create_under_token(
        &self,
        name: &ProjectName,
        details: Details,
        key: String,
        fingerprint: &str,
        token: &str,
        now: Timestamp,
    ) -> Result<Started, UseCaseError> {
        let mut key = key;
        for _ in 0..10_000 {
            let started = self.create(name, details.clone(), Some(key.clone()), now).await?;
            if !started.existing {
                return Ok(started);
            }
            let expires = started.build.start_time().plus(TOKEN_VALIDITY);
            if now < expires {
                if started.build.idempotency_fingerprint.as_deref() != Some(fingerprint) {
                    return Err(UseCaseError::IdempotentParameterMismatch(token.to_owned()));
                }
                return Ok(started);
            }
            key = format!("{key}@{}", started.build.id());
        }
        Err(UseCaseError::Corrupt(format!(
            "idempotencyToken {token:?} has too many expired builds"
        )))
    }

    /// RetryBuild: a new build with the settings of build `id`.
    pub async fn retry_build(
        &self,
        id: &BuildId,
        token: Option<&str>,
        now: Timestamp,
    ) -> Result<Started, UseCaseError> {
        let old = self.build(id).await?.build;
        let details = Details {
            source: old.source.clone(),
            environment: old.environment.clone(),
            source_version: old.source_version.clone(),
            timeout: old.timeout_in_minutes,
            queued_timeout: old.queued_timeout_in_minutes,
            initiator: old.initiator.clone(),
            trigger: old.trigger.clone(),
            webhook_variables: old.webhook_variables.clone(),
            fingerprint: None,
        };
        let key = token.map(|t| format!("retry:{id}:{t}"));
        self.create(old.project_name(), details, key, now).await
    }

    async fn create(
        &self,
        name: &ProjectName,
        details: Details,
        key: Option<String>,
        now: Timestamp,
    ) -> Result<Started, UseCaseError> {
        let id = BuildId::new(name);
        let mut build = Build::new(id.clone(), 0, &self.account, now);
        build
            .end_phase(
                PhaseType::Submitted,
                StatusType::Succeeded,
                FailureAction::Default,
                vec![],
                now,
            )
            .map_err(|source| UseCaseError::Transition {
                id: id.to_string(),
                source,
            })?;
        details.apply(&mut build);
        let created = self.builds.create(key.as_deref(), vec![build]).await?;
        let existing = created.existing;
        let Some(stored) = created.builds.into_iter().next() else {
            return Err(UseCaseError::Corrupt("the store created no build".into()));
        };
        if !existing {
            self.publish(None, &stored.build, now).await;
        }
        Ok(Started {
            build: stored.build,
            existing,
        })
    }
}

/// How long an API idempotency token holds (CodeBuild: 5 minutes).
pub const TOKEN_VALIDITY: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// SHA-256 of the request as JSON (its members in a fixed order), to tell a repeat from a different request.
fn fingerprint(input: &StartBuildInput) -> String {
    use sha2::Digest;
    let text = serde_json::to_string(input).unwrap_or_default();
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// The descriptive members of a new build.
#[derive(Clone)]
struct Details {
    source: Option<ProjectSource>,
    environment: Option<ProjectEnvironment>,
    source_version: Option<String>,
    timeout: u32,
    queued_timeout: u32,
    initiator: Option<String>,
    trigger: Option<TriggerDetails>,
    webhook_variables: Vec<WebhookVariable>,
    /// The request fingerprint, for builds made under an API idempotency token.
    fingerprint: Option<String>,
}

impl Details {
    fn apply(self, build: &mut Build) {
        let id = build.id().clone();
        build.source = self.source;
        build.environment = self.environment;
        build.source_version = self.source_version;
        build.timeout_in_minutes = self.timeout;
        build.queued_timeout_in_minutes = self.queued_timeout;
        build.initiator = self.initiator;
        build.webhook_variables = self.webhook_variables;
        build.trigger = self.trigger;
        build.idempotency_fingerprint = self.fingerprint;
        build.logs = Some(LogsLocation {
            group_name: Some(format!("/aws/codebuild/{}", id.project())),
            stream_name: Some(id.uuid().to_owned()),
            ..LogsLocation::default()
        });
    }
}

/// The project's source with StartBuild's `buildspecOverride` and `sourceLocationOverride`, checked again.
fn overridden_source(
    source: &ProjectSource,
    input: &StartBuildInput,
) -> Result<Option<ProjectSource>, UseCaseError> {
    if input.buildspec_override.is_none() && input.source_location_override.is_none() {
        return Ok(Some(source.clone()));
    }
    let invalid = |e: crate::project::ProjectError| UseCaseError::InvalidInput(e.to_string());
    let mut raw = RawSource::from(source.clone());
    if let Some(spec) = &input.buildspec_override {
        // Checked as the project's own `buildspec` is: a path stays inside the source, NO_SOURCE needs an
        // inline buildspec, and an inline one is within the caps on hostile input.
        buildspec_override(source.source_type, spec, &FieldPath::named("buildspecOverride"))
            .map_err(invalid)?;
        raw.buildspec = Some(spec.clone());
    }
    if let Some(location) = &input.source_location_override {
        raw.location = Some(location.clone());
    }
    // The stored project was valid when it was saved: a source that no longer is was made so by the request's
    // overrides, the caller's mistake.
    ProjectSource::validate(raw, &FieldPath::named("source"))
        .map(Some)
        .map_err(|e| UseCaseError::InvalidInput(format!("the overrides make an invalid source: {e}")))
}

/// The project's environment with the overrides merged into `environmentVariables` by name (later wins, at
/// the end), as CodeBuild does, checked again.
fn overridden_environment(
    environment: &ProjectEnvironment,
    overrides: &[EnvVar],
) -> Result<Option<ProjectEnvironment>, UseCaseError> {
    if overrides.is_empty() {
        return Ok(Some(environment.clone()));
    }
    let mut raw = RawEnvironment::from(environment.clone());
    for var in overrides {
        raw.environment_variables.retain(|v| v.name != var.name);
        let variable_type = EnvironmentVariableType::OPTIONS
            .iter()
            .find(|(name, _)| *name == var.var_type)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                UseCaseError::Corrupt(format!(
                    "unknown environment variable type {:?}; expected PLAINTEXT, PARAMETER_STORE or SECRETS_MANAGER",
                    var.var_type
                ))
            })?;
        raw.environment_variables.push(EnvironmentVariable {
            name: var.name.clone(),
            value: var.value.clone(),
            variable_type,
        });
    }
    ProjectEnvironment::validate(raw, &FieldPath::named("environment"))
        .map(Some)
        .map_err(|e| UseCaseError::Corrupt(e.to_string()))
}
