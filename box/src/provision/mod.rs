//! Creating the stack's resources in moto, as CloudFormation would from the transformed template: each
//! resource once every resource it refers to exists, with its properties resolved, named `<stack>-<LogicalId>`
//! unless the template names it. What the box creates is in [`resources`]; resources that have nothing to do
//! on this machine (IAM roles and policies, bucket policies, alarms, the log group, the image repository) are
//! stood in for: they get the names and ARNs CloudFormation would give them and nothing is created, and the
//! report says so. A type the box does not know stops the start, naming the resource.

mod resources;

use std::collections::{BTreeMap, BTreeSet};

use kiln_aws::AwsClients;
use kiln_aws::provision::ProvisionError;
use serde_json::Value;

use crate::template::{Attributes, IntrinsicError, Resource, Scope, StackIdentity, Template, references};

/// Why the stack could not be created.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("resource {id} ({kind}): {source}")]
    Create {
        id: String,
        kind: String,
        source: ProvisionError,
    },
    #[error(transparent)]
    Intrinsic(#[from] IntrinsicError),
    #[error("resource {id} ({kind}): {reason}")]
    Unsupported {
        id: String,
        kind: String,
        reason: String,
    },
    #[error("resources {0:?} refer to each other in a cycle (or to resources that do not exist)")]
    Cycle(Vec<String>),
}

/// What became of one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Created in moto under this name (or ARN).
    Created(String),
    /// Not created on this machine, for this reason; its names and ARNs are still answered.
    StoodIn(&'static str),
}

/// Where the stack is made.
#[derive(Debug, Clone)]
pub struct Target {
    pub clients: AwsClients,
    pub stack: StackIdentity,
    /// The moto endpoint and the box's keys (for clients `AwsClients` does not hold).
    pub endpoint: String,
    pub keys: (String, String),
}

/// The resource types the box creates or stands in for (everything else but the functions' layer is refused).
pub fn handles(kind: &str) -> bool {
    resources::CREATED.contains(&kind) || resources::stand_in_reason(kind).is_some()
}

/// Creates every active resource of `template` that [`handles`] covers, in dependency order, adding each one's
/// attributes to `scope` (which must already hold the attributes of the resources the box plays itself).
pub async fn create(
    template: &Template,
    scope: &mut Scope,
    target: &Target,
) -> Result<BTreeMap<String, Outcome>, StackError> {
    let mut todo: Vec<Resource> = template
        .active(scope)
        .filter(|r| !scope.resources.contains_key(&r.id))
        .cloned()
        .collect();
    for resource in &todo {
        if !handles(&resource.kind) {
            return Err(StackError::Unsupported {
                id: resource.id.clone(),
                kind: resource.kind.clone(),
                reason: "the box cannot create this type; teach box/src/provision about it".to_owned(),
            });
        }
    }
    let mut outcomes = BTreeMap::new();
    while !todo.is_empty() {
        let ready: Vec<Resource> = todo
            .iter()
            .filter(|r| {
                dependencies(r, scope)
                    .iter()
                    .all(|d| scope.resources.contains_key(d))
            })
            .cloned()
            .collect();
        if ready.is_empty() {
            return Err(StackError::Cycle(todo.iter().map(|r| r.id.clone()).collect()));
        }
        for resource in &ready {
            let (attributes, outcome) = make(resource, scope, target).await?;
            scope.resources.insert(resource.id.clone(), attributes);
            outcomes.insert(resource.id.clone(), outcome);
        }
        todo.retain(|r| !scope.resources.contains_key(&r.id));
    }
    Ok(outcomes)
}

fn dependencies(resource: &Resource, scope: &Scope) -> BTreeSet<String> {
    references(&resource.properties, &scope.parameters)
}

async fn make(
    resource: &Resource,
    scope: &Scope,
    target: &Target,
) -> Result<(Attributes, Outcome), StackError> {
    let path = format!("Resources.{}.Properties", resource.id);
    let properties = scope.value(&resource.properties, &path)?;
    let named = Named {
        id: &resource.id,
        kind: &resource.kind,
        properties: &properties,
        stack: &target.stack,
    };
    if let Some(reason) = resources::stand_in_reason(&resource.kind) {
        return Ok((resources::stand_in(&named), Outcome::StoodIn(reason)));
    }
    resources::create(&named, target)
        .await
        .map_err(|source| match source {
            resources::MakeError::Provision(source) => StackError::Create {
                id: resource.id.clone(),
                kind: resource.kind.clone(),
                source,
            },
            resources::MakeError::Unsupported(reason) => StackError::Unsupported {
                id: resource.id.clone(),
                kind: resource.kind.clone(),
                reason,
            },
        })
}

/// A resource with its properties resolved, and the names CloudFormation would give it.
pub(crate) struct Named<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub properties: &'a Value,
    pub stack: &'a StackIdentity,
}

impl Named<'_> {
    /// The name the template gives in `property`, else `<stack>-<LogicalId>`.
    pub fn name(&self, property: &str) -> String {
        self.properties[property]
            .as_str()
            .map_or_else(|| format!("{}-{}", self.stack.name, self.id), str::to_owned)
    }

    /// A resolved property as text (numbers and booleans written out).
    pub fn text(&self, property: &str) -> Option<String> {
        text(&self.properties[property])
    }

    /// `arn:aws:<service>:<region>:<account>:<rest>`.
    pub fn arn(&self, service: &str, regional: bool, rest: &str) -> String {
        let region = if regional { self.stack.region.as_str() } else { "" };
        format!("arn:aws:{service}:{region}:{}:{rest}", self.stack.account)
    }
}

/// A JSON scalar as text.
pub(crate) fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
