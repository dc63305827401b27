//! What cfn-lint and `sam validate --lint` miss (they skip the inside of `AWS::Serverless::Function`), checked
//! on the JSON form of a template (see `cfn.rs`): dangling `!Ref`/`!GetAtt`/`${..}`/condition names, IAM
//! statements that are not least privilege, and schedule expressions our own parser rejects.
//!
//! Every violation is one line naming where it is (`Resources.<Name>...Statement[<i>] (Sid <sid>)`).

use std::collections::BTreeSet;

use kiln_core::schedule::Schedule;
use serde_json::Value;

/// Pseudo parameters CloudFormation defines in every stack.
const PSEUDO_PARAMETERS: &[&str] = &[
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
];

/// Actions IAM only grants on `Resource: "*"`: the Service Authorization Reference lists no resource type for
/// them, so a narrower Resource makes the statement match nothing.
const STAR_ONLY_ACTIONS: &[(&str, &str)] = &[
    (
        "ecr:GetAuthorizationToken",
        "the registry login token is account-wide",
    ),
    ("xray:PutTraceSegments", "X-Ray traces have no resource type"),
    ("xray:PutTelemetryRecords", "X-Ray telemetry has no resource type"),
    (
        "cloudwatch:PutMetricData",
        "metrics have no resource type (scope by cloudwatch:namespace)",
    ),
];

/// SAM policy templates that take the one resource they grant on (a table, queue, topic, bucket, path).
const SCOPED_SAM_POLICY_TEMPLATES: &[&str] = &[
    "DynamoDBReadPolicy",
    "DynamoDBWritePolicy",
    "DynamoDBCrudPolicy",
    "SQSSendMessagePolicy",
    "SQSPollerPolicy",
    "SNSPublishMessagePolicy",
    "S3ReadPolicy",
    "S3WritePolicy",
    "S3CrudPolicy",
    "SSMParameterReadPolicy",
    "SSMParameterWithSlashPrefixReadPolicy",
    "AWSSecretsManagerGetSecretValuePolicy",
    "LambdaInvokePolicy",
];

/// The names a template defines, SAM-generated resources included.
pub struct Names {
    parameters: BTreeSet<String>,
    resources: BTreeSet<String>,
    conditions: BTreeSet<String>,
    mappings: BTreeSet<String>,
}

fn keys(template: &Value, section: &str) -> BTreeSet<String> {
    template[section]
        .as_object()
        .map(|map| map.keys().cloned().collect())
        .unwrap_or_default()
}

impl Names {
    /// Collects the names of `template`, adding what SAM generates: `<Function>Role` (when no Role is given),
    /// `<Function>Url` (with a FunctionUrlConfig), `ServerlessHttpApi` and `ServerlessRestApi` (implicit APIs).
    pub fn of(template: &Value) -> Names {
        let mut resources = keys(template, "Resources");
        let functions = template["Resources"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function");
        for (name, function) in functions {
            let props = &function["Properties"];
            if props.get("Role").is_none() {
                resources.insert(format!("{name}Role"));
            }
            if props.get("FunctionUrlConfig").is_some() {
                resources.insert(format!("{name}Url"));
            }
            for event in props["Events"].as_object().into_iter().flatten().map(|(_, e)| e) {
                match (event["Type"].as_str(), &event["Properties"]) {
                    (Some("HttpApi"), p) if p.get("ApiId").is_none() => {
                        resources.insert("ServerlessHttpApi".to_owned());
                    }
                    (Some("Api"), p) if p.get("RestApiId").is_none() => {
                        resources.insert("ServerlessRestApi".to_owned());
                    }
                    _ => {}
                }
            }
        }
        Names {
            parameters: keys(template, "Parameters"),
            resources,
            conditions: keys(template, "Conditions"),
            mappings: keys(template, "Mappings"),
        }
    }

    fn is_value(&self, name: &str) -> bool {
        self.parameters.contains(name) || self.resources.contains(name) || PSEUDO_PARAMETERS.contains(&name)
    }
}

/// The `${..}` variables of a `Fn::Sub` string, without the `${!literal}` escapes.
pub fn sub_variables(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.starts_with('!') {
            out.push(name.trim());
        }
        rest = &after[end + 1..];
    }
    out
}

/// Every reference in `template` that names nothing: `Ref`, `Fn::GetAtt`, `${..}` in `Fn::Sub`, `Fn::If` and
/// `Condition` names, `Fn::FindInMap` map names and `DependsOn`.
pub fn reference_violations(template: &Value) -> Vec<String> {
    let names = Names::of(template);
    let mut out = Vec::new();
    for section in ["Globals", "Conditions", "Resources", "Outputs"] {
        walk_refs(&names, &template[section], section, &mut out);
    }
    out
}

fn walk_refs(names: &Names, value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_refs(names, item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (key, child) in map {
                check_ref(names, key, child, path, out);
                walk_refs(names, child, &format!("{path}.{key}"), out);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

fn check_ref(names: &Names, key: &str, value: &Value, path: &str, out: &mut Vec<String>) {
    let mut bad = |what: String| out.push(format!("{path}: {what}"));
    match (key, value) {
        ("Ref", Value::String(target)) if !names.is_value(target) => {
            bad(format!(
                "!Ref {target} names no parameter, resource or pseudo parameter"
            ));
        }
        ("Fn::GetAtt", Value::Array(parts)) => {
            if let Some(target) = parts.first().and_then(Value::as_str)
                && !names.resources.contains(target)
            {
                bad(format!("!GetAtt {target}.. names no resource"));
            }
        }
        ("Fn::Sub", sub) => {
            let (text, locals) = match sub {
                Value::Array(parts) => (parts.first().and_then(Value::as_str), parts.get(1)),
                Value::String(text) => (Some(text.as_str()), None),
                _ => (None, None),
            };
            for var in text.map(sub_variables).unwrap_or_default() {
                let local = locals.and_then(|l| l.get(var)).is_some();
                let ok = match var.split_once('.') {
                    Some((resource, _)) => names.resources.contains(resource),
                    None => names.is_value(var),
                };
                if !local && !ok {
                    bad(format!(
                        "${{{var}}} in !Sub names no parameter, resource or attribute"
                    ));
                }
            }
        }
        ("Fn::If" | "Condition", cond) => {
            let name = cond.as_str().or_else(|| cond.get(0).and_then(Value::as_str));
            if let Some(name) = name
                && !names.conditions.contains(name)
            {
                bad(format!("condition {name:?} is not in Conditions"));
            }
        }
        ("Fn::FindInMap", Value::Array(parts)) => {
            if let Some(map) = parts.first().and_then(Value::as_str)
                && !names.mappings.contains(map)
            {
                bad(format!("!FindInMap {map} names no mapping"));
            }
        }
        ("DependsOn", deps) => {
            let deps: Vec<&str> = match deps {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for dep in deps.into_iter().filter(|d| !names.resources.contains(*d)) {
                bad(format!("DependsOn {dep} names no resource"));
            }
        }
        _ => {}
    }
}

/// Every schedule expression of `template` (`ScheduleExpression` of rules and schedules, `Schedule` of SAM
/// schedule events) with its path and time zone: `(path, expression, timezone)`.
pub fn schedule_expressions(template: &Value) -> Vec<(String, Value, String)> {
    let mut out = Vec::new();
    collect_schedules(template, "", &mut out);
    out
}

fn collect_schedules(value: &Value, path: &str, out: &mut Vec<(String, Value, String)>) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_schedules(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (key, child) in map {
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let is_expression = match key.as_str() {
                    "ScheduleExpression" => true,
                    // A SAM `Type: Schedule` event's property (other resources nest objects under `Schedule`).
                    "Schedule" => child.is_string() || child.get("Ref").is_some(),
                    _ => false,
                };
                if is_expression {
                    let zone = map
                        .get("ScheduleExpressionTimezone")
                        .and_then(Value::as_str)
                        .unwrap_or("UTC");
                    out.push((here.clone(), child.clone(), zone.to_owned()));
                }
                collect_schedules(child, &here, out);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

/// Parses every schedule expression with [`Schedule::parse`] (a `!Ref` to a parameter checks its default and
/// allowed values); returns how many expressions were checked and the violations.
pub fn schedule_violations(template: &Value) -> (usize, Vec<String>) {
    let found = schedule_expressions(template);
    let mut out = Vec::new();
    for (path, expression, zone) in &found {
        let texts: Vec<String> = match expression {
            Value::String(text) => vec![text.clone()],
            Value::Object(map) if map.get("Ref").and_then(Value::as_str).is_some() => {
                let param = &template["Parameters"][map["Ref"].as_str().unwrap_or_default()];
                let mut texts: Vec<String> =
                    param["Default"].as_str().map(str::to_owned).into_iter().collect();
                texts.extend(
                    param["AllowedValues"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.as_str().map(str::to_owned)),
                );
                texts
            }
            other => {
                out.push(format!(
                    "{path}: {other} cannot be checked: write the expression or !Ref a parameter"
                ));
                continue;
            }
        };
        for text in texts {
            if let Err(err) = Schedule::parse(&text, zone) {
                out.push(format!("{path}: {text:?} does not parse: {err}"));
            }
        }
    }
    (found.len(), out)
}

pub use super::iam::iam_violations;

/// Whether `name` is a star-only action, and the reason.
pub fn star_only_reason(action: &str) -> Option<&'static str> {
    STAR_ONLY_ACTIONS
        .iter()
        .find(|(a, _)| *a == action)
        .map(|(_, why)| *why)
}

/// Whether `name` is a SAM policy template that takes the resource it grants on.
pub fn is_scoped_sam_template(name: &str) -> bool {
    SCOPED_SAM_POLICY_TEMPLATES.contains(&name)
}

impl Names {
    /// Whether `name` is a resource of the template (SAM-generated ones included).
    pub fn is_resource(&self, name: &str) -> bool {
        self.resources.contains(name)
    }

    /// Whether `name` is a parameter of the template.
    pub fn is_parameter(&self, name: &str) -> bool {
        self.parameters.contains(name)
    }
}
