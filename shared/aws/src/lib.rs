//! The AWS adapters: S3, DynamoDB, ECS, SQS, SNS, SSM and Secrets Manager implementations of the
//! [`kiln_core::ports`] traits. This is the only crate that imports `aws_sdk_*` crates; every client is built in
//! [`config::AwsClients`], and [`retry::is_retryable`] is the one place that decides which SDK errors are worth
//! retrying. [`provision`] creates a stack's resources call by call where no CloudFormation runs (the box).

pub mod config;
pub mod credentials;
pub mod dispatch_signal;
pub mod dynamodb;
pub mod ecs;
pub mod keyring;
pub mod notifier;
pub mod provision;
pub mod retry;
pub mod s3;
pub mod scheduler;
pub mod secrets;
pub mod settings;
pub mod sqs;
#[cfg(feature = "stack")]
pub mod stack;

pub use config::AwsClients;
pub use dispatch_signal::{DispatchMessage, SqsDispatchSignal};
pub use dynamodb::{DynamoBuildStore, DynamoKeyStore, DynamoSessionStore};
pub use ecs::{Capacity, EcsLauncher, EcsSettings, TaskRequest, TaskSize};
pub use notifier::AwsNotifier;
pub use s3::{S3LogReader, S3LogSink, S3ObjectStore};
pub use scheduler::{ScheduleGroup, SchedulerSync};
pub use secrets::{AwsSecretResolver, SECRET_TTL};
pub use settings::{AwsSettings, SettingsError};
pub use sqs::SqsQueue;
