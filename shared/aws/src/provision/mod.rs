//! Creating a stack's resources one API call at a time, for "AWS in a box" (`kiln-box` over moto), where no
//! CloudFormation runs: a DynamoDB table with its keys, indexes and TTL; SQS queues with their attributes; SNS
//! topics and subscriptions; S3 buckets; an ECS cluster, its capacity providers and a task definition; Secrets
//! Manager secrets. The box reads each resource's properties from the transformed template and passes them here
//! as plain values; this module only speaks the SDK. Watching and stopping the tasks moto records is in
//! [`tasks`].

mod ecs;
mod storage;
pub mod tasks;

pub use ecs::{
    ContainerSpec, TaskDefinitionSpec, create_cluster, put_capacity_providers, register_task_definition,
};
pub use storage::{
    IndexSpec, QueueRef, TableSpec, create_bucket, create_queue, create_secret, create_table, create_topic,
    subscribe,
};

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::retry::describe;

/// Why a resource could not be created (or a task read or stopped).
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("{action} {resource:?}: {message}")]
    Backend {
        action: &'static str,
        resource: String,
        message: String,
    },
    #[error("{action} {resource:?}: {reason}")]
    Invalid {
        action: &'static str,
        resource: String,
        reason: String,
    },
}

fn backend<E>(
    action: &'static str,
    resource: &str,
) -> impl FnOnce(SdkError<E, HttpResponse>) -> ProvisionError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    move |err| ProvisionError::Backend {
        action,
        resource: resource.to_owned(),
        message: describe(&err),
    }
}

fn invalid(action: &'static str, resource: &str, reason: impl ToString) -> ProvisionError {
    ProvisionError::Invalid {
        action,
        resource: resource.to_owned(),
        reason: reason.to_string(),
    }
}
