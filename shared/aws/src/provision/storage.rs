//! Tables, queues, topics, buckets and secrets.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use aws_sdk_sqs::types::QueueAttributeName;

use super::{ProvisionError, backend, invalid};
use crate::AwsClients;

/// A DynamoDB table as `AWS::DynamoDB::Table` declares it (on-demand billing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub name: String,
    /// Attribute name and type (`S`, `N` or `B`).
    pub attributes: Vec<(String, String)>,
    /// Attribute name and key type (`HASH`, `RANGE`).
    pub key: Vec<(String, String)>,
    pub indexes: Vec<IndexSpec>,
    /// The TTL attribute, when TTL is enabled.
    pub ttl_attribute: Option<String>,
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: String,
    pub key: Vec<(String, String)>,
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection: String,
}

/// A created queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRef {
    pub url: String,
    pub arn: String,
}

/// Creates the table (with its indexes) and turns TTL on; returns the table's ARN.
pub async fn create_table(clients: &AwsClients, spec: &TableSpec) -> Result<String, ProvisionError> {
    const ACTION: &str = "create table";
    let name = spec.name.as_str();
    let mut request = clients
        .dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(name, &spec.key)?));
    for (attribute, kind) in &spec.attributes {
        let definition = AttributeDefinition::builder()
            .attribute_name(attribute)
            .attribute_type(ScalarAttributeType::from(kind.as_str()))
            .build()
            .map_err(|e| invalid(ACTION, name, e))?;
        request = request.attribute_definitions(definition);
    }
    for index in &spec.indexes {
        let projection = Projection::builder()
            .projection_type(ProjectionType::from(index.projection.as_str()))
            .build();
        let index = GlobalSecondaryIndex::builder()
            .index_name(&index.name)
            .set_key_schema(Some(key_schema(name, &index.key)?))
            .projection(projection)
            .build()
            .map_err(|e| invalid(ACTION, name, e))?;
        request = request.global_secondary_indexes(index);
    }
    let output = request.send().await.map_err(backend(ACTION, name))?;
    if let Some(attribute) = &spec.ttl_attribute {
        let ttl = TimeToLiveSpecification::builder()
            .attribute_name(attribute)
            .enabled(true)
            .build()
            .map_err(|e| invalid(ACTION, name, e))?;
        clients
            .dynamodb
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(backend("enable TTL on table", name))?;
    }
    Ok(output
        .table_description()
        .and_then(|t| t.table_arn())
        .unwrap_or_default()
        .to_owned())
}

fn key_schema(table: &str, key: &[(String, String)]) -> Result<Vec<KeySchemaElement>, ProvisionError> {
    key.iter()
        .map(|(attribute, kind)| {
            KeySchemaElement::builder()
                .attribute_name(attribute)
                .key_type(KeyType::from(kind.as_str()))
                .build()
                .map_err(|e| invalid("create table", table, e))
        })
        .collect()
}

/// Creates a queue with `attributes` (SQS attribute names, e.g. `VisibilityTimeout`, `RedrivePolicy` as JSON).
pub async fn create_queue(
    clients: &AwsClients,
    name: &str,
    attributes: &[(String, String)],
) -> Result<QueueRef, ProvisionError> {
    let attributes: HashMap<QueueAttributeName, String> = attributes
        .iter()
        .map(|(k, v)| (QueueAttributeName::from(k.as_str()), v.clone()))
        .collect();
    let output = clients
        .sqs
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attributes))
        .send()
        .await
        .map_err(backend("create queue", name))?;
    let url = output.queue_url().unwrap_or_default().to_owned();
    let described = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(backend("read the ARN of queue", name))?;
    let arn = described
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| invalid("read the ARN of queue", name, "SQS answered no QueueArn"))?;
    Ok(QueueRef { url, arn })
}

/// Creates a topic; returns its ARN.
pub async fn create_topic(clients: &AwsClients, name: &str) -> Result<String, ProvisionError> {
    let output = clients
        .sns
        .create_topic()
        .name(name)
        .send()
        .await
        .map_err(backend("create topic", name))?;
    Ok(output.topic_arn().unwrap_or_default().to_owned())
}

/// Subscribes `endpoint` to a topic; returns the subscription's ARN.
pub async fn subscribe(
    clients: &AwsClients,
    topic_arn: &str,
    protocol: &str,
    endpoint: &str,
) -> Result<String, ProvisionError> {
    let output = clients
        .sns
        .subscribe()
        .topic_arn(topic_arn)
        .protocol(protocol)
        .endpoint(endpoint)
        .send()
        .await
        .map_err(backend("subscribe to topic", topic_arn))?;
    Ok(output.subscription_arn().unwrap_or_default().to_owned())
}

/// Creates a bucket in `region`.
pub async fn create_bucket(clients: &AwsClients, name: &str, region: &str) -> Result<(), ProvisionError> {
    let mut request = clients.s3.create_bucket().bucket(name);
    if region != "us-east-1" {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    request.send().await.map_err(backend("create bucket", name))?;
    Ok(())
}

/// Creates a Secrets Manager secret holding `value`; returns its ARN.
pub async fn create_secret(clients: &AwsClients, name: &str, value: &str) -> Result<String, ProvisionError> {
    let output = clients
        .secrets_manager
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .map_err(backend("create secret", name))?;
    Ok(output.arn().unwrap_or_default().to_owned())
}
