//! The AWS deployment's settings, read once from the environment the SAM template sets (`KILN_TABLE`, the
//! queue URLs, the topic, the ECS cluster and network, the bucket names), and the one place that turns them into
//! adapters and a [`Services`].
//!
//! Only `KILN_TABLE` and the region are needed by every process; the rest is optional here because each
//! process needs a different part (the runner needs no cluster, the functions no buckets). Accessors such as
//! [`AwsSettings::cluster`] fail with an error naming the missing variable when a process needs it.

use std::sync::Arc;

use super::config::AwsClients;
use super::dispatch_signal::SqsDispatchSignal;
use super::dynamodb::{DynamoBuildStore, DynamoKeyStore, DynamoSessionStore};
use super::ecs::{Capacity, EcsLauncher, EcsSettings, TaskSize};
use super::notifier::AwsNotifier;
use super::sqs::SqsQueue;
use kiln_core::build::{AccountContext, BuildId};
use kiln_core::ports::BoxFuture;
use kiln_core::ports::launcher::{LaunchError, TaskLauncher};
use kiln_core::usecases::Services;
use kiln_core::usecases::notices::NoticeSource;

/// Every environment variable [`AwsSettings::from_env`] reads.
pub const VARIABLES: &[&str] = &[
    "KILN_TABLE",
    "KILN_DISPATCH_QUEUE_URL",
    "KILN_NOTICE_QUEUE_URL",
    "KILN_NOTICE_TOPIC_ARN",
    "KILN_CLUSTER",
    "KILN_TASK_DEFINITION",
    "KILN_CONTAINER",
    "KILN_SUBNETS",
    "KILN_SECURITY_GROUPS",
    "KILN_ASSIGN_PUBLIC_IP",
    "KILN_ARTIFACTS_BUCKET",
    "KILN_LOGS_BUCKET",
    "KILN_CACHE_BUCKET",
    "KILN_SECRETS_PREFIX",
    "KILN_CAPACITY",
    "KILN_GLOBAL_LIMIT",
    "KILN_ACCOUNT_ID",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
];

/// The global concurrency limit when `KILN_GLOBAL_LIMIT` is not set.
pub const DEFAULT_GLOBAL_LIMIT: usize = 50;
/// The runner container's name in the task definition when `KILN_CONTAINER` is not set (the template's).
pub const DEFAULT_CONTAINER: &str = "runner";
/// The account id in ARNs when neither `KILN_ACCOUNT_ID` nor an ARN in the settings gives one.
pub const UNKNOWN_ACCOUNT: &str = "000000000000";

/// Why the settings could not be read, or lack what a process needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "environment variable {name} is not set; {needed_for} (the SAM template sets what each process needs)"
    )]
    Missing {
        name: &'static str,
        needed_for: &'static str,
    },
    #[error("environment variable {name} is {value:?}: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// The deployment's resource names and knobs, as the template passes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// `KILN_TABLE`: the single DynamoDB table.
    pub table: String,
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`).
    pub region: String,
    /// `AWS_ENDPOINT_URL`: send every request there (moto, LocalStack, VPC endpoints).
    pub endpoint_url: Option<String>,
    /// `KILN_ACCOUNT_ID`, else the account of the topic or task-definition ARN, else `000000000000`.
    pub account_id: String,
    /// The partition of the topic or task-definition ARN (`aws` by default).
    pub partition: String,
    pub dispatch_queue_url: Option<String>,
    pub notice_queue_url: Option<String>,
    pub notice_topic_arn: Option<String>,
    pub cluster: Option<String>,
    pub task_definition: Option<String>,
    /// `KILN_CONTAINER`, default [`DEFAULT_CONTAINER`].
    pub container: String,
    /// `KILN_SUBNETS`, comma-separated.
    pub subnets: Vec<String>,
    /// `KILN_SECURITY_GROUPS`, comma-separated.
    pub security_groups: Vec<String>,
    /// `KILN_ASSIGN_PUBLIC_IP`: `ENABLED`/`DISABLED` (or true/false), default disabled.
    pub assign_public_ip: bool,
    pub artifacts_bucket: Option<String>,
    pub logs_bucket: Option<String>,
    pub cache_bucket: Option<String>,
    pub secrets_prefix: Option<String>,
    /// `KILN_CAPACITY`: `FARGATE` (default) or `FARGATE_SPOT` (falling back to FARGATE without Spot capacity).
    pub capacity: Capacity,
    /// `KILN_GLOBAL_LIMIT`, default [`DEFAULT_GLOBAL_LIMIT`].
    pub global_limit: usize,
}

impl AwsSettings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<AwsSettings, SettingsError> {
        AwsSettings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests); empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<AwsSettings, SettingsError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let table = get("KILN_TABLE").ok_or(SettingsError::Missing {
            name: "KILN_TABLE",
            needed_for: "every Kiln process reads builds from the table",
        })?;
        let region =
            get("AWS_REGION")
                .or_else(|| get("AWS_DEFAULT_REGION"))
                .ok_or(SettingsError::Missing {
                    name: "AWS_REGION",
                    needed_for: "the region of the table, queues and buckets",
                })?;
        let notice_topic_arn = get("KILN_NOTICE_TOPIC_ARN");
        let task_definition = get("KILN_TASK_DEFINITION");
        let arn = notice_topic_arn
            .as_deref()
            .into_iter()
            .chain(task_definition.as_deref())
            .find_map(arn_parts);
        let account_id = get("KILN_ACCOUNT_ID")
            .or_else(|| arn.map(|(_, account)| account.to_owned()))
            .unwrap_or_else(|| UNKNOWN_ACCOUNT.to_owned());
        Ok(AwsSettings {
            table,
            region,
            endpoint_url: get("AWS_ENDPOINT_URL"),
            partition: arn.map_or("aws", |(partition, _)| partition).to_owned(),
            account_id,
            dispatch_queue_url: get("KILN_DISPATCH_QUEUE_URL"),
            notice_queue_url: get("KILN_NOTICE_QUEUE_URL"),
            notice_topic_arn,
            cluster: get("KILN_CLUSTER"),
            task_definition,
            container: get("KILN_CONTAINER").unwrap_or_else(|| DEFAULT_CONTAINER.to_owned()),
            subnets: list(get("KILN_SUBNETS")),
            security_groups: list(get("KILN_SECURITY_GROUPS")),
            assign_public_ip: parse_public_ip(get("KILN_ASSIGN_PUBLIC_IP"))?,
            artifacts_bucket: get("KILN_ARTIFACTS_BUCKET"),
            logs_bucket: get("KILN_LOGS_BUCKET"),
            cache_bucket: get("KILN_CACHE_BUCKET"),
            secrets_prefix: get("KILN_SECRETS_PREFIX"),
            capacity: parse_capacity(get("KILN_CAPACITY"))?,
            global_limit: parse_limit(get("KILN_GLOBAL_LIMIT"))?,
        })
    }

    /// `KILN_CLUSTER`, for processes that start or stop tasks.
    pub fn cluster(&self) -> Result<&str, SettingsError> {
        need(
            &self.cluster,
            "KILN_CLUSTER",
            "starting and stopping build tasks needs the ECS cluster",
        )
    }

    /// `KILN_TASK_DEFINITION`, for processes that start tasks.
    pub fn task_definition(&self) -> Result<&str, SettingsError> {
        need(
            &self.task_definition,
            "KILN_TASK_DEFINITION",
            "starting build tasks needs the runner task definition",
        )
    }

    /// `KILN_DISPATCH_QUEUE_URL`, for processes that enqueue or dispatch builds.
    pub fn dispatch_queue_url(&self) -> Result<&str, SettingsError> {
        need(
            &self.dispatch_queue_url,
            "KILN_DISPATCH_QUEUE_URL",
            "enqueueing builds needs the dispatch queue",
        )
    }

    /// `KILN_ARTIFACTS_BUCKET`, for the runner (uploads) and the API (downloads).
    pub fn artifacts_bucket(&self) -> Result<&str, SettingsError> {
        need(
            &self.artifacts_bucket,
            "KILN_ARTIFACTS_BUCKET",
            "build artifacts are stored in the artifacts bucket",
        )
    }

    /// `KILN_LOGS_BUCKET`, for the runner (writes) and the API (reads).
    pub fn logs_bucket(&self) -> Result<&str, SettingsError> {
        need(
            &self.logs_bucket,
            "KILN_LOGS_BUCKET",
            "build logs are stored in the logs bucket",
        )
    }

    /// `KILN_CACHE_BUCKET`, for the runner's S3 cache.
    pub fn cache_bucket(&self) -> Result<&str, SettingsError> {
        need(
            &self.cache_bucket,
            "KILN_CACHE_BUCKET",
            "the build cache is stored in the cache bucket",
        )
    }

    /// Region and account for ARNs.
    pub fn account(&self) -> AccountContext {
        AccountContext::new(&self.partition, &self.region, &self.account_id)
    }

    /// The envelope fields of notices (`aws.codebuild`, this account and region).
    pub fn notice_source(&self) -> NoticeSource {
        NoticeSource {
            account: self.account_id.clone(),
            region: self.region.clone(),
            ..NoticeSource::default()
        }
    }

    /// Every client, from the environment's credentials, honouring `AWS_ENDPOINT_URL`.
    pub async fn clients(&self) -> AwsClients {
        AwsClients::from_env(self.endpoint_url.as_deref()).await
    }

    /// The build, queue and project store on `KILN_TABLE`.
    pub fn store(&self, clients: &AwsClients) -> DynamoBuildStore {
        DynamoBuildStore::new(clients.dynamodb.clone(), &self.table)
    }

    /// The console sessions on `KILN_TABLE` (items beside the builds').
    pub fn sessions(&self, clients: &AwsClients) -> DynamoSessionStore {
        DynamoSessionStore::new(clients.dynamodb.clone(), &self.table)
    }

    /// The Kiln access keys on `KILN_TABLE` (items beside the builds').
    pub fn keys(&self, clients: &AwsClients) -> DynamoKeyStore {
        DynamoKeyStore::new(clients.dynamodb.clone(), &self.table)
    }

    /// Where and how build tasks run; needs `KILN_CLUSTER` and `KILN_TASK_DEFINITION`.
    pub fn ecs_settings(&self) -> Result<EcsSettings, SettingsError> {
        Ok(EcsSettings {
            cluster: self.cluster()?.to_owned(),
            task_definition: self.task_definition()?.to_owned(),
            container: self.container.clone(),
            subnets: self.subnets.clone(),
            security_groups: self.security_groups.clone(),
            assign_public_ip: self.assign_public_ip,
            capacity: self.capacity,
            size: TaskSize::for_compute_type("BUILD_GENERAL1_SMALL").unwrap_or(TaskSize {
                cpu: 2048,
                memory_mib: 4096,
            }),
            environment: Vec::new(),
        })
    }

    /// The notifier on the notice queue and topic (either may be absent).
    pub fn notifier(&self, clients: &AwsClients) -> AwsNotifier {
        AwsNotifier::new(
            clients.sqs.clone(),
            clients.sns.clone(),
            self.notice_queue_url.clone(),
            self.notice_topic_arn.clone(),
        )
    }

    /// The dispatch signal: one message per queued build on `KILN_DISPATCH_QUEUE_URL`.
    pub fn dispatch_signal(&self, clients: &AwsClients) -> Result<SqsDispatchSignal, SettingsError> {
        let url = self.dispatch_queue_url()?;
        Ok(SqsDispatchSignal::new(SqsQueue::new(clients.sqs.clone(), url)))
    }

    /// The use-case services on AWS: the DynamoDB store (builds, queue, projects), the ECS launcher (or, without
    /// `KILN_CLUSTER`, a launcher that refuses with an error naming it), and the SQS/SNS notifier.
    pub fn services(&self, clients: &AwsClients) -> Result<Services, SettingsError> {
        let store = Arc::new(self.store(clients));
        let launcher: Arc<dyn TaskLauncher> = match self.cluster {
            Some(_) => Arc::new(EcsLauncher::new(clients.ecs.clone(), self.ecs_settings()?)),
            None => Arc::new(NoCluster),
        };
        Ok(Services {
            builds: store.clone(),
            queue: store.clone(),
            projects: store,
            launcher,
            notifier: Arc::new(self.notifier(clients)),
            account: self.account(),
            notice_source: self.notice_source(),
            global_limit: self.global_limit,
        })
    }
}

/// The launcher of a process configured without `KILN_CLUSTER` (the runner): every call fails, naming it.
#[derive(Debug, Clone, Copy)]
struct NoCluster;

impl NoCluster {
    fn error() -> LaunchError {
        LaunchError::Backend {
            message: "KILN_CLUSTER is not set in this process, so it cannot start or stop build tasks"
                .to_owned(),
            retryable: false,
        }
    }
}

impl TaskLauncher for NoCluster {
    fn launch<'a>(
        &'a self,
        _build_id: &'a kiln_core::build::BuildId,
    ) -> BoxFuture<'a, Result<String, LaunchError>> {
        Box::pin(async { Err(NoCluster::error()) })
    }

    fn stop<'a>(&'a self, _task: &'a str) -> BoxFuture<'a, Result<(), LaunchError>> {
        Box::pin(async { Err(NoCluster::error()) })
    }

    fn is_alive<'a>(&'a self, _task: &'a str) -> BoxFuture<'a, Result<bool, LaunchError>> {
        Box::pin(async { Err(NoCluster::error()) })
    }
}

/// The key of a build's log object in the logs bucket: `<project>/<uuid>.log` ([`super::s3::log_key`] under
/// [`super::s3::LOG_PREFIX`], so the runner writes where the `api` function reads).
pub fn log_key(id: &BuildId) -> String {
    super::s3::log_key(super::s3::LOG_PREFIX, id)
}

fn need<'a>(
    value: &'a Option<String>,
    name: &'static str,
    needed_for: &'static str,
) -> Result<&'a str, SettingsError> {
    value
        .as_deref()
        .ok_or(SettingsError::Missing { name, needed_for })
}

fn list(value: Option<String>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// `(partition, account)` of an ARN such as `arn:aws:sns:eu-west-1:123456789012:topic`.
fn arn_parts(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.split(':');
    let (Some("arn"), Some(partition), Some(_service), Some(_region), Some(account)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let valid = !partition.is_empty() && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    valid.then_some((partition, account))
}

fn parse_public_ip(value: Option<String>) -> Result<bool, SettingsError> {
    match value.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("DISABLED" | "FALSE" | "0") => Ok(false),
        Some("ENABLED" | "TRUE" | "1") => Ok(true),
        Some(_) => Err(SettingsError::Invalid {
            name: "KILN_ASSIGN_PUBLIC_IP",
            value: value.unwrap_or_default(),
            reason: "expected ENABLED or DISABLED".to_owned(),
        }),
    }
}

fn parse_capacity(value: Option<String>) -> Result<Capacity, SettingsError> {
    match value.as_deref() {
        None | Some("FARGATE") => Ok(Capacity::OnDemand),
        Some("FARGATE_SPOT") => Ok(Capacity::Spot { fallback: true }),
        Some(other) => Err(SettingsError::Invalid {
            name: "KILN_CAPACITY",
            value: other.to_owned(),
            reason: "expected FARGATE or FARGATE_SPOT".to_owned(),
        }),
    }
}

fn parse_limit(value: Option<String>) -> Result<usize, SettingsError> {
    let Some(text) = value else {
        return Ok(DEFAULT_GLOBAL_LIMIT);
    };
    match text.parse::<usize>() {
        Ok(limit) if limit > 0 => Ok(limit),
        _ => Err(SettingsError::Invalid {
            name: "KILN_GLOBAL_LIMIT",
            value: text,
            reason: "expected a whole number of builds, at least 1".to_owned(),
        }),
    }
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
