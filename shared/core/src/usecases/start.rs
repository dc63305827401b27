//! Starting builds: StartBuild (with CodeBuild's overrides), RetryBuild, and the shared step that turns a
//! project plus a request into a QUEUED build record, created idempotently under a key.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Services, UseCaseError, encode};
use crate::build::{
    Build, BuildId, FailureAction, PhaseType, ProjectName, StatusType, Timestamp, TriggerDetails,
};
use crate::ports::build_store::NewBuild;
use crate::project::{
    EnvironmentVariable, EnvironmentVariableType, FieldPath, RawSource, SourceType, buildspec_override,
    check_reference,
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

/// StartBuild's input, as the CodeBuild API names it (the members Kiln honours).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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

/// The result of starting: the record and whether an earlier call with the same key had made it.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    pub record: Value,
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

/// Checks `buildspecOverride` against the project's `source` as the project's own `buildspec` is checked: a
/// path stays inside the source, NO_SOURCE needs an inline buildspec, and an inline one is within the caps.
fn check_buildspec_override(source: &Value, spec: &str) -> Result<(), UseCaseError> {
    let corrupt = |e: String| UseCaseError::Corrupt(format!("the project's source: {e}"));
    let raw: RawSource = serde_json::from_value(source.clone()).map_err(|e| corrupt(e.to_string()))?;
    let kind = FieldPath::named("source")
        .key("type")
        .one_of(&raw.source_type, SourceType::OPTIONS)
        .map_err(|e| corrupt(e.to_string()))?;
    buildspec_override(kind, spec, &FieldPath::named("buildspecOverride"))
        .map_err(|e| UseCaseError::InvalidInput(e.to_string()))?;
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
            .get_project(name.as_str())
            .await?
            .ok_or_else(|| UseCaseError::ProjectNotFound(input.project_name.clone()))?;
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
        let mut source = project
            .get("source")
            .cloned()
            .unwrap_or_else(|| json!({"type": "NO_SOURCE"}));
        if let Some(spec) = &input.buildspec_override {
            check_buildspec_override(&source, spec)?;
            source["buildspec"] = json!(spec);
        }
        if let Some(location) = &input.source_location_override {
            source["location"] = json!(location);
        }
        let mut environment = project.get("environment").cloned().unwrap_or_else(|| json!({}));
        merge_env(&mut environment, &input.environment_variables_override);
        let details = Details {
            source,
            environment,
            source_version: input
                .source_version
                .clone()
                .or_else(|| project["sourceVersion"].as_str().map(str::to_owned)),
            timeout: timeout.or_else(|| minutes(&project["timeoutInMinutes"])),
            queued_timeout: queued.or_else(|| minutes(&project["queuedTimeoutInMinutes"])),
            initiator: origin.initiator.clone().or_else(|| Some("kiln".into())),
            trigger: origin.trigger.clone(),
            webhook_env: json!(
                origin
                    .webhook_env
                    .iter()
                    .map(|(n, v)| json!({"name": n, "value": v}))
                    .collect::<Vec<_>>()
            ),
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
            let start_ms = started.record["startTime"]
                .as_f64()
                .map_or(0, |s| (s * 1000.0).round() as i64);
            let expires = Timestamp::from_epoch_millis(start_ms).plus(TOKEN_VALIDITY);
            if now < expires {
                if started.record[FINGERPRINT].as_str() != Some(fingerprint) {
                    return Err(UseCaseError::IdempotentParameterMismatch(token.to_owned()));
                }
                return Ok(started);
            }
            let previous = started.record["id"].as_str().unwrap_or_default();
            key = format!("{key}@{previous}");
        }
        Err(UseCaseError::Corrupt(format!(
            "idempotencyToken {token:?} has too many expired builds"
        )))
    }

    /// RetryBuild: a new build with the settings of build `id`.
    pub async fn retry_build(
        &self,
        id: &str,
        token: Option<&str>,
        now: Timestamp,
    ) -> Result<Started, UseCaseError> {
        let old = self
            .builds
            .get(id)
            .await?
            .ok_or_else(|| UseCaseError::BuildNotFound(id.to_owned()))?;
        let name = ProjectName::parse(&old.project).map_err(|e| UseCaseError::Corrupt(e.to_string()))?;
        let record = &old.record;
        let details = Details {
            source: record["source"].clone(),
            environment: record["environment"].clone(),
            source_version: record["sourceVersion"].as_str().map(str::to_owned),
            timeout: minutes(&record["timeoutInMinutes"]),
            queued_timeout: minutes(&record["queuedTimeoutInMinutes"]),
            initiator: record["initiator"].as_str().map(str::to_owned),
            trigger: serde_json::from_value(record["trigger"].clone()).ok(),
            webhook_env: record.get("webhookVariables").cloned().unwrap_or(json!([])),
            fingerprint: None,
        };
        let key = token.map(|t| format!("retry:{id}:{t}"));
        self.create(&name, details, key, now).await
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
        let mut record = encode(&build, &Value::Null)?;
        details.apply(&mut record, &id);
        // The record must still read as a Build after the descriptive members were set.
        super::decode(&record)?;
        let new = NewBuild {
            id: id.to_string(),
            project: name.to_string(),
            record,
        };
        let created = self.builds.create(key.as_deref(), vec![new]).await?;
        let existing = created.existing;
        let Some(stored) = created.builds.into_iter().next() else {
            return Err(UseCaseError::Corrupt("the store created no build".into()));
        };
        if !existing {
            self.publish(None, &stored.record, now).await;
        }
        Ok(Started {
            record: stored.record,
            existing,
        })
    }
}

/// How long an API idempotency token holds (CodeBuild: 5 minutes).
pub const TOKEN_VALIDITY: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// The record member holding the fingerprint of the request made under an idempotency token.
const FINGERPRINT: &str = "idempotencyFingerprint";

/// SHA-256 of the request as JSON (its members in a fixed order), to tell a repeat from a different request.
fn fingerprint(input: &StartBuildInput) -> String {
    use sha2::Digest;
    let text = serde_json::to_string(input).unwrap_or_default();
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// The descriptive members of a new build.
#[derive(Clone)]
struct Details {
    source: Value,
    environment: Value,
    source_version: Option<String>,
    timeout: Option<u32>,
    queued_timeout: Option<u32>,
    initiator: Option<String>,
    trigger: Option<TriggerDetails>,
    webhook_env: Value,
    /// The request fingerprint, for builds made under an API idempotency token.
    fingerprint: Option<String>,
}

impl Details {
    fn apply(self, record: &mut Value, id: &BuildId) {
        let Some(obj) = record.as_object_mut() else { return };
        obj.insert("source".into(), self.source);
        obj.insert("environment".into(), self.environment);
        if let Some(v) = self.source_version {
            obj.insert("sourceVersion".into(), json!(v));
        }
        if let Some(t) = self.timeout {
            obj.insert("timeoutInMinutes".into(), json!(t));
        }
        if let Some(t) = self.queued_timeout {
            obj.insert("queuedTimeoutInMinutes".into(), json!(t));
        }
        if let Some(i) = self.initiator {
            obj.insert("initiator".into(), json!(i));
        }
        if self.webhook_env.as_array().is_some_and(|vars| !vars.is_empty()) {
            obj.insert("webhookVariables".into(), self.webhook_env);
        }
        if let Some(t) = self.trigger.and_then(|t| serde_json::to_value(t).ok()) {
            obj.insert("trigger".into(), t);
        }
        if let Some(f) = self.fingerprint {
            obj.insert(FINGERPRINT.into(), json!(f));
        }
        let project = id.project();
        obj.insert(
            "logs".into(),
            json!({"groupName": format!("/aws/codebuild/{project}"), "streamName": id.uuid()}),
        );
    }
}

fn minutes(value: &Value) -> Option<u32> {
    value.as_u64().and_then(|v| u32::try_from(v).ok())
}

/// Merges overrides into `environment.environmentVariables` by name (later wins), as CodeBuild does.
fn merge_env(environment: &mut Value, overrides: &[EnvVar]) {
    if overrides.is_empty() {
        return;
    }
    let mut vars: Vec<Value> = environment["environmentVariables"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for var in overrides {
        vars.retain(|v| v["name"].as_str() != Some(var.name.as_str()));
        vars.push(json!({"name": var.name, "value": var.value, "type": var.var_type}));
    }
    environment["environmentVariables"] = Value::Array(vars);
}
