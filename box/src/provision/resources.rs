//! One resource type at a time: its properties read into the values `kiln_aws::provision` takes, created in
//! moto, and its `Ref` and `Fn::GetAtt` answers; or, for what is stood in for, the answers alone.

use kiln_aws::ScheduleGroup;
use kiln_aws::provision::{self, ContainerSpec, IndexSpec, ProvisionError, TableSpec, TaskDefinitionSpec};
use serde_json::Value;

use super::{Named, Outcome, Target, text};
use crate::template::Attributes;

/// The types the box creates in moto.
pub(super) const CREATED: &[&str] = &[
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::SNS::Subscription",
    "AWS::S3::Bucket",
    "AWS::ECS::Cluster",
    "AWS::ECS::ClusterCapacityProviderAssociations",
    "AWS::ECS::TaskDefinition",
    "AWS::SecretsManager::Secret",
    "AWS::Scheduler::ScheduleGroup",
];

/// Why a type is stood in for rather than created, or `None` when it is not.
pub(super) fn stand_in_reason(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "AWS::IAM::Role" | "AWS::IAM::Policy" => {
            "moto does not enforce IAM; tests/suite/template checks the policies"
        }
        "AWS::S3::BucketPolicy" => "bucket policies are not enforced by moto",
        "AWS::CloudWatch::Alarm" => "no metrics on this machine",
        "AWS::Logs::LogGroup" => "build task output goes to the box's task log files",
        "AWS::ECR::Repository" => "build tasks run the local kiln binary, not an image",
        _ => return None,
    })
}

pub(super) enum MakeError {
    Provision(ProvisionError),
    Unsupported(String),
}

impl From<ProvisionError> for MakeError {
    fn from(err: ProvisionError) -> Self {
        MakeError::Provision(err)
    }
}

/// The answers of a stood-in resource.
pub(super) fn stand_in(r: &Named<'_>) -> Attributes {
    match r.kind {
        "AWS::IAM::Role" => {
            let name = r.name("RoleName");
            let arn = r.arn("iam", false, &format!("role/{name}"));
            Attributes::new(
                &name,
                &[("Arn", arn), ("RoleId", format!("AROA{}", r.id.to_uppercase()))],
            )
        }
        "AWS::Logs::LogGroup" => {
            let name = r.name("LogGroupName");
            let arn = r.arn("logs", true, &format!("log-group:{name}:*"));
            Attributes::new(&name, &[("Arn", arn)])
        }
        "AWS::ECR::Repository" => {
            let name = r.name("RepositoryName").to_lowercase();
            let arn = r.arn("ecr", true, &format!("repository/{name}"));
            let uri = format!(
                "{}.dkr.ecr.{}.amazonaws.com/{name}",
                r.stack.account, r.stack.region
            );
            Attributes::new(&name, &[("Arn", arn), ("RepositoryUri", uri)])
        }
        "AWS::CloudWatch::Alarm" => {
            let name = r.name("AlarmName");
            let arn = r.arn("cloudwatch", true, &format!("alarm:{name}"));
            Attributes::new(&name, &[("Arn", arn)])
        }
        _ => Attributes::new(r.id, &[]),
    }
}

/// Creates one resource.
pub(super) async fn create(r: &Named<'_>, target: &Target) -> Result<(Attributes, Outcome), MakeError> {
    let clients = &target.clients;
    let p = r.properties;
    Ok(match r.kind {
        "AWS::DynamoDB::Table" => {
            let spec = table(r)?;
            let arn = provision::create_table(clients, &spec).await?;
            (
                Attributes::new(&spec.name, &[("Arn", arn)]),
                Outcome::Created(spec.name),
            )
        }
        "AWS::SQS::Queue" => {
            let mut name = r.name("QueueName");
            if p["FifoQueue"] == Value::Bool(true) && !name.ends_with(".fifo") {
                name.push_str(".fifo");
            }
            let attributes: Vec<(String, String)> = p
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| !matches!(k.as_str(), "QueueName" | "Tags"))
                .map(|(k, v)| (k.clone(), text(v).unwrap_or_else(|| v.to_string())))
                .collect();
            let queue = provision::create_queue(clients, &name, &attributes).await?;
            let named = [
                ("Arn", queue.arn),
                ("QueueName", name.clone()),
                ("QueueUrl", queue.url.clone()),
            ];
            (Attributes::new(&queue.url, &named), Outcome::Created(name))
        }
        "AWS::SNS::Topic" => {
            let name = r.name("TopicName");
            let arn = provision::create_topic(clients, &name).await?;
            let named = [("TopicArn", arn.clone()), ("TopicName", name)];
            (Attributes::new(&arn, &named), Outcome::Created(arn))
        }
        "AWS::SNS::Subscription" => {
            let field = |k: &str| r.text(k).unwrap_or_default();
            let arn = provision::subscribe(
                clients,
                &field("TopicArn"),
                &field("Protocol"),
                &field("Endpoint"),
            )
            .await?;
            (
                Attributes::new(&arn, &[("Arn", arn.clone())]),
                Outcome::Created(arn),
            )
        }
        "AWS::S3::Bucket" => {
            let name = r.name("BucketName").to_lowercase();
            provision::create_bucket(clients, &name, &r.stack.region).await?;
            let named = [
                ("Arn", format!("arn:aws:s3:::{name}")),
                ("DomainName", format!("{name}.s3.amazonaws.com")),
                (
                    "RegionalDomainName",
                    format!("{name}.s3.{}.amazonaws.com", r.stack.region),
                ),
            ];
            (Attributes::new(&name, &named), Outcome::Created(name))
        }
        "AWS::ECS::Cluster" => {
            let name = r.name("ClusterName");
            let arn = provision::create_cluster(clients, &name).await?;
            (Attributes::new(&name, &[("Arn", arn)]), Outcome::Created(name))
        }
        "AWS::ECS::ClusterCapacityProviderAssociations" => {
            let cluster = r.text("Cluster").unwrap_or_default();
            let providers = strings(&p["CapacityProviders"]);
            let strategy: Vec<(String, i32)> = items(&p["DefaultCapacityProviderStrategy"])
                .map(|s| {
                    (
                        text(&s["CapacityProvider"]).unwrap_or_default(),
                        int(&s["Weight"]).unwrap_or(0),
                    )
                })
                .collect();
            provision::put_capacity_providers(clients, &cluster, &providers, &strategy).await?;
            (Attributes::new(r.id, &[]), Outcome::Created(cluster))
        }
        "AWS::ECS::TaskDefinition" => {
            let spec = task_definition(r);
            let arn = provision::register_task_definition(clients, &spec).await?;
            (
                Attributes::new(&arn, &[("TaskDefinitionArn", arn.clone())]),
                Outcome::Created(arn),
            )
        }
        "AWS::SecretsManager::Secret" => {
            let name = r.name("Name");
            let value = match r.text("SecretString") {
                Some(value) => value,
                None => generated_secret(int(&p["GenerateSecretString"]["PasswordLength"]).unwrap_or(32)),
            };
            let arn = provision::create_secret(clients, &name, &value).await?;
            (
                Attributes::new(&arn, &[("Id", arn.clone())]),
                Outcome::Created(arn),
            )
        }
        "AWS::Scheduler::ScheduleGroup" => {
            let name = r.name("Name");
            let (key, secret) = &target.keys;
            ScheduleGroup::with_static_credentials(&target.endpoint, &r.stack.region, key, secret, &name)
                .await
                .create_group()
                .await
                .map_err(|e| MakeError::Unsupported(e.to_string()))?;
            let arn = r.arn("scheduler", true, &format!("schedule-group/{name}"));
            (Attributes::new(&name, &[("Arn", arn)]), Outcome::Created(name))
        }
        other => {
            return Err(MakeError::Unsupported(format!(
                "{other} is not created by the box"
            )));
        }
    })
}

fn table(r: &Named<'_>) -> Result<TableSpec, MakeError> {
    let p = r.properties;
    for refused in ["LocalSecondaryIndexes", "StreamSpecification"] {
        if !p[refused].is_null() {
            return Err(MakeError::Unsupported(format!(
                "{refused} is not supported by the box"
            )));
        }
    }
    let pairs = |v: &Value, a: &str, b: &str| -> Vec<(String, String)> {
        items(v)
            .map(|i| (text(&i[a]).unwrap_or_default(), text(&i[b]).unwrap_or_default()))
            .collect()
    };
    let ttl = &p["TimeToLiveSpecification"];
    Ok(TableSpec {
        name: r.name("TableName"),
        attributes: pairs(&p["AttributeDefinitions"], "AttributeName", "AttributeType"),
        key: pairs(&p["KeySchema"], "AttributeName", "KeyType"),
        indexes: items(&p["GlobalSecondaryIndexes"])
            .map(|i| IndexSpec {
                name: text(&i["IndexName"]).unwrap_or_default(),
                key: pairs(&i["KeySchema"], "AttributeName", "KeyType"),
                projection: text(&i["Projection"]["ProjectionType"]).unwrap_or_else(|| "ALL".to_owned()),
            })
            .collect(),
        ttl_attribute: (ttl["Enabled"] == Value::Bool(true))
            .then(|| text(&ttl["AttributeName"]).unwrap_or_default()),
    })
}

/// The task definition; a container without a memory limit gets the task's (moto's RunTask needs one).
fn task_definition(r: &Named<'_>) -> TaskDefinitionSpec {
    let p = r.properties;
    let task_memory = r.text("Memory");
    let containers = items(&p["ContainerDefinitions"])
        .map(|c| ContainerSpec {
            name: text(&c["Name"]).unwrap_or_default(),
            image: text(&c["Image"]).unwrap_or_default(),
            essential: c["Essential"].as_bool(),
            memory: int(&c["Memory"]).or_else(|| task_memory.as_deref().and_then(|m| m.parse().ok())),
            stop_timeout: int(&c["StopTimeout"]),
            environment: items(&c["Environment"])
                .map(|kv| {
                    (
                        text(&kv["Name"]).unwrap_or_default(),
                        text(&kv["Value"]).unwrap_or_default(),
                    )
                })
                .collect(),
            command: strings(&c["Command"]),
        })
        .collect();
    TaskDefinitionSpec {
        family: r.name("Family"),
        cpu: r.text("Cpu"),
        memory: task_memory,
        network_mode: r.text("NetworkMode"),
        requires_compatibilities: strings(&p["RequiresCompatibilities"]),
        task_role_arn: r.text("TaskRoleArn"),
        execution_role_arn: r.text("ExecutionRoleArn"),
        cpu_architecture: text(&p["RuntimePlatform"]["CpuArchitecture"]),
        operating_system_family: text(&p["RuntimePlatform"]["OperatingSystemFamily"]),
        containers,
    }
}

/// A random alphanumeric value of `length` characters (what GenerateSecretString makes, punctuation excluded).
fn generated_secret(length: i32) -> String {
    let length = usize::try_from(length).unwrap_or(32).max(1);
    let mut value = String::new();
    while value.len() < length {
        value.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    value.truncate(length);
    value
}

fn items(value: &Value) -> impl Iterator<Item = &Value> {
    value.as_array().into_iter().flatten()
}

fn strings(value: &Value) -> Vec<String> {
    items(value).filter_map(text).collect()
}

fn int(value: &Value) -> Option<i32> {
    text(value)?.parse().ok()
}
