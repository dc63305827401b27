//! The functions' layer of the transformed template, read into a [`Plan`]: which functions exist (their
//! binary, timeout and environment) and what invokes them — SQS event source mappings, EventBridge rules
//! (schedules and event patterns), Function URLs and HTTP APIs ([`api`]). This is where the box gets its
//! wiring, so a template without an event source runs without it. A source the box cannot play (a Kinesis
//! mapping, a rule target that is not a function, a Lambda authorizer, ...) stops the start, naming it.
//!
//! The layer's own resources are not created in moto; [`attributes`] gives them the names, ARNs and (for URLs
//! and APIs) the loopback URLs the box serves them on, so other resources and the functions' environments can
//! refer to them.

pub mod api;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::functions::Declaration;
use crate::provision::text;
use crate::template::{Attributes, IntrinsicError, Resource, Scope, StackIdentity, Template};

pub use api::{ApiSource, Route};

/// The resource types of the functions' layer.
pub const LAYER: &[&str] = &[
    "AWS::Lambda::Function",
    "AWS::Lambda::Url",
    "AWS::Lambda::Permission",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Events::Rule",
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Stage",
];

/// The resources the box serves on a loopback port (Function URLs and HTTP APIs).
pub const LISTENERS: &[&str] = &["AWS::Lambda::Url", "AWS::ApiGatewayV2::Api"];

/// Why the layer cannot be played.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error("{id} ({kind}): {reason}")]
    Unsupported {
        id: String,
        kind: String,
        reason: String,
    },
    #[error("{id} ({kind}) refers to function {reference:?}, which is not a function of the template")]
    NoFunction {
        id: String,
        kind: String,
        reference: String,
    },
    #[error(transparent)]
    Intrinsic(#[from] IntrinsicError),
    #[error(transparent)]
    Function(#[from] crate::functions::FunctionError),
}

/// SQS messages to a function (`AWS::Lambda::EventSourceMapping`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSource {
    pub id: String,
    pub queue_arn: String,
    /// The function's logical id.
    pub function: String,
    pub batch_size: u32,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`.
    pub report_failures: bool,
}

/// A rule target: a function, and the constant input that replaces the event when given.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleTarget {
    pub function: String,
    pub input: Option<Value>,
}

/// An EventBridge rule: a schedule expression or an event pattern, and its targets.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSource {
    pub id: String,
    pub arn: String,
    pub schedule: Option<String>,
    pub pattern: Option<Value>,
    pub targets: Vec<RuleTarget>,
}

/// A Function URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlSource {
    pub id: String,
    pub function: String,
    /// `AuthType: AWS_IAM` (SigV4 for service `lambda`) rather than `NONE`.
    pub iam: bool,
}

/// What the template wires, resolved.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub functions: Vec<Declaration>,
    pub queues: Vec<QueueSource>,
    pub rules: Vec<RuleSource>,
    pub urls: Vec<UrlSource>,
    pub apis: Vec<ApiSource>,
}

/// The answers of the layer's resources: names and ARNs as CloudFormation would give them, and for each
/// listener (by logical id) its loopback URL from `urls`.
pub fn attributes(
    template: &Template,
    scope: &Scope,
    urls: &BTreeMap<String, String>,
) -> BTreeMap<String, Attributes> {
    let stack = StackIdentity {
        name: text(&scope.parameters["AWS::StackName"]).unwrap_or_default(),
        region: text(&scope.parameters["AWS::Region"]).unwrap_or_default(),
        account: text(&scope.parameters["AWS::AccountId"]).unwrap_or_default(),
    };
    let arn =
        |service: &str, rest: String| format!("arn:aws:{service}:{}:{}:{rest}", stack.region, stack.account);
    template
        .active(scope)
        .filter(|r| LAYER.contains(&r.kind.as_str()))
        .map(|r| {
            let url = urls.get(&r.id).cloned().unwrap_or_default();
            let attributes = match r.kind.as_str() {
                "AWS::Lambda::Function" => {
                    let name = function_name(r, &stack);
                    Attributes::new(&name, &[("Arn", arn("lambda", format!("function:{name}")))])
                }
                "AWS::Lambda::Url" => Attributes::new(&url, &[("FunctionUrl", url.clone())]),
                "AWS::ApiGatewayV2::Api" => {
                    let api_id = api_id(&r.id);
                    Attributes::new(
                        &api_id,
                        &[
                            ("ApiId", api_id.clone()),
                            ("ApiEndpoint", url.trim_end_matches('/').to_owned()),
                        ],
                    )
                }
                "AWS::Events::Rule" => {
                    let name = format!("{}-{}", stack.name, r.id);
                    Attributes::new(&name, &[("Arn", arn("events", format!("rule/{name}")))])
                }
                "AWS::ApiGatewayV2::Stage" => {
                    Attributes::new(text(&r.properties["StageName"]).unwrap_or_default(), &[])
                }
                _ => Attributes::new(&r.id, &[]),
            };
            (r.id.clone(), attributes)
        })
        .collect()
}

fn function_name(r: &Resource, stack: &StackIdentity) -> String {
    text(&r.properties["FunctionName"]).unwrap_or_else(|| format!("{}-{}", stack.name, r.id))
}

/// An API id as API Gateway shapes them (ten lowercase characters), derived from the logical id.
fn api_id(logical: &str) -> String {
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(logical.as_bytes()));
    digest
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(10)
        .collect()
}

/// Reads the layer, once every other resource exists in `scope`.
pub fn plan(template: &Template, scope: &Scope) -> Result<Plan, WiringError> {
    let layer: Vec<&Resource> = template
        .active(scope)
        .filter(|r| LAYER.contains(&r.kind.as_str()))
        .collect();
    let mut plan = Plan::default();
    for r in layer.iter().filter(|r| r.kind == "AWS::Lambda::Function") {
        plan.functions.push(declaration(r, scope)?);
    }
    for r in &layer {
        let properties = scope.value(&r.properties, &format!("Resources.{}.Properties", r.id))?;
        let unsupported = |reason: String| WiringError::Unsupported {
            id: r.id.clone(),
            kind: r.kind.clone(),
            reason,
        };
        let function = |reference: &Value| -> Result<String, WiringError> {
            let reference = text(reference).unwrap_or_default();
            find(&plan.functions, &reference).ok_or_else(|| WiringError::NoFunction {
                id: r.id.clone(),
                kind: r.kind.clone(),
                reference,
            })
        };
        match r.kind.as_str() {
            "AWS::Lambda::EventSourceMapping" => {
                if properties["Enabled"] == Value::Bool(false) {
                    continue;
                }
                let source = text(&properties["EventSourceArn"]).unwrap_or_default();
                if !source.starts_with("arn:aws:sqs:") {
                    return Err(unsupported(format!(
                        "event source {source:?} is not an SQS queue"
                    )));
                }
                plan.queues.push(QueueSource {
                    id: r.id.clone(),
                    queue_arn: source,
                    function: function(&properties["FunctionName"])?,
                    batch_size: text(&properties["BatchSize"])
                        .and_then(|b| b.parse().ok())
                        .unwrap_or(10),
                    report_failures: properties["FunctionResponseTypes"]
                        .as_array()
                        .is_some_and(|t| t.iter().any(|t| t == "ReportBatchItemFailures")),
                });
            }
            "AWS::Events::Rule" => {
                if text(&properties["State"]).is_some_and(|s| s != "ENABLED") {
                    continue;
                }
                let mut targets = Vec::new();
                for target in properties["Targets"].as_array().into_iter().flatten() {
                    if !target["InputPath"].is_null() || !target["InputTransformer"].is_null() {
                        return Err(unsupported(
                            "InputPath and InputTransformer are not played by the box".into(),
                        ));
                    }
                    let input = match text(&target["Input"]) {
                        Some(input) => Some(
                            serde_json::from_str(&input).map_err(|e| unsupported(format!("Input: {e}")))?,
                        ),
                        None => None,
                    };
                    targets.push(RuleTarget {
                        function: function(&target["Arn"])?,
                        input,
                    });
                }
                plan.rules.push(RuleSource {
                    id: r.id.clone(),
                    arn: text(&scope.resources[&r.id].named["Arn"]).unwrap_or_default(),
                    schedule: text(&properties["ScheduleExpression"]),
                    pattern: Some(properties["EventPattern"].clone()).filter(|p| !p.is_null()),
                    targets,
                });
            }
            "AWS::Lambda::Url" => {
                if text(&properties["InvokeMode"]).is_some_and(|m| m != "BUFFERED") {
                    return Err(unsupported(
                        "only BUFFERED Function URLs are served by the box".into(),
                    ));
                }
                plan.urls.push(UrlSource {
                    id: r.id.clone(),
                    function: function(&properties["TargetFunctionArn"])?,
                    iam: text(&properties["AuthType"]).is_some_and(|a| a == "AWS_IAM"),
                });
            }
            "AWS::ApiGatewayV2::Api" => {
                let routes =
                    api::routes(&properties, &|arn| find(&plan.functions, arn)).map_err(unsupported)?;
                plan.apis.push(ApiSource {
                    id: r.id.clone(),
                    routes,
                });
            }
            "AWS::ApiGatewayV2::Stage" if text(&properties["StageName"]).is_some_and(|s| s != "$default") => {
                return Err(unsupported("only the $default stage is served by the box".into()));
            }
            _ => {}
        }
    }
    Ok(plan)
}

fn declaration(r: &Resource, scope: &Scope) -> Result<Declaration, WiringError> {
    let path = format!("Resources.{}.Properties", r.id);
    let properties = scope.value(&r.properties, &path)?;
    let attributes = &scope.resources[&r.id];
    let environment = properties["Environment"]["Variables"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), text(v).unwrap_or_default()))
        .collect();
    Ok(Declaration {
        id: r.id.clone(),
        name: text(&attributes.reference).unwrap_or_default(),
        arn: text(&attributes.named["Arn"]).unwrap_or_default(),
        binary: text(&r.metadata["BuildProperties"]["Binary"])
            .ok_or_else(|| crate::functions::FunctionError::NoBinary { id: r.id.clone() })?,
        timeout: Duration::from_secs(
            text(&properties["Timeout"])
                .and_then(|t| t.parse().ok())
                .unwrap_or(3),
        ),
        environment,
    })
}

/// The logical id of the function a reference names (its name, its ARN, or its ARN with a qualifier).
fn find(functions: &[Declaration], reference: &str) -> Option<String> {
    functions
        .iter()
        .find(|d| {
            reference == d.name
                || reference == d.arn
                || reference
                    .strip_prefix(d.arn.as_str())
                    .is_some_and(|q| q.starts_with(':'))
        })
        .map(|d| d.id.clone())
}
