//! The least-privilege check of every IAM statement in a template (JSON form, see `cfn.rs`).
//!
//! Rules for each `Allow` statement (a `Deny`, such as the TLS-only bucket policies' `s3:*`, only narrows):
//! - no `NotAction`/`NotResource`/`NotPrincipal`, and no action with a `*` in it (`*`, `s3:*`, `s3:Get*`);
//! - identity and resource policies name a `Resource`, each entry scoped to this stack: a `!Ref`/`!GetAtt` of
//!   one of its resources (or a parameter the deployer sets), a `!Sub` using one of its resources, or a `!Sub`
//!   ARN in `${AWS::AccountId}` naming one resource without a `*` (`codecommit:..:web`), or whose resource part
//!   names something before any `*` (`parameter/${Prefix}/*`, not `repository/*`); `Resource: "*"` only for the actions IAM grants on nothing else (see `checks.rs`);
//! - a resource policy's `Principal: "*"` needs a `Condition`; a trust policy may not trust `*`;
//! - managed policies are refused (they are written for every account, not this stack), except the one SAM
//!   attaches to each function role it makes; SAM policy templates only from the scoped list.

use serde_json::Value;

use super::checks::{Names, is_scoped_sam_template, star_only_reason, sub_variables};

/// Managed policies allowed, with the reason.
const ALLOWED_MANAGED_POLICIES: &[(&str, &str)] = &[(
    "AWSLambdaBasicExecutionRole",
    "SAM attaches it to every function role it makes; it writes the function's own log group",
)];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Attached to a role, user or group: grants on `Resource`.
    Identity,
    /// On a bucket, queue or topic: grants `Principal` access to it.
    ResourceBased,
    /// A role's `AssumeRolePolicyDocument`.
    Trust,
}

/// Every IAM statement of `template` that is not least privilege, one line each.
pub fn iam_violations(template: &Value) -> Vec<String> {
    let names = Names::of(template);
    let mut out = Vec::new();
    let resources = template["Resources"].as_object().into_iter().flatten();
    for (name, resource) in resources {
        let props = &resource["Properties"];
        let at = format!("Resources.{name}");
        match resource["Type"].as_str().unwrap_or_default() {
            "AWS::IAM::Role" => {
                document(
                    &names,
                    &props["AssumeRolePolicyDocument"],
                    &format!("{at}.AssumeRolePolicyDocument"),
                    Kind::Trust,
                    &mut out,
                );
                for (i, policy) in props["Policies"].as_array().into_iter().flatten().enumerate() {
                    document(
                        &names,
                        &policy["PolicyDocument"],
                        &format!("{at}.Policies[{i}]"),
                        Kind::Identity,
                        &mut out,
                    );
                }
                for arn in props["ManagedPolicyArns"].as_array().into_iter().flatten() {
                    managed(arn, &at, &mut out);
                }
            }
            "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" | "AWS::IAM::RolePolicy" => {
                document(&names, &props["PolicyDocument"], &at, Kind::Identity, &mut out);
            }
            "AWS::S3::BucketPolicy" | "AWS::SQS::QueuePolicy" | "AWS::SNS::TopicPolicy" => {
                document(
                    &names,
                    &props["PolicyDocument"],
                    &at,
                    Kind::ResourceBased,
                    &mut out,
                );
            }
            "AWS::Serverless::Function" | "AWS::Serverless::StateMachine" => {
                sam_policies(&names, &props["Policies"], &format!("{at}.Policies"), &mut out);
            }
            _ => {}
        }
    }
    out
}

fn managed(arn: &Value, at: &str, out: &mut Vec<String>) {
    let text = arn.as_str().map(str::to_owned).unwrap_or_else(|| arn.to_string());
    if !ALLOWED_MANAGED_POLICIES
        .iter()
        .any(|(name, _)| text.ends_with(name))
    {
        out.push(format!(
            "{at}: managed policy {text} is not scoped to this stack: write the statements inline"
        ));
    }
}

fn sam_policies(names: &Names, policies: &Value, at: &str, out: &mut Vec<String>) {
    let items: Vec<&Value> = match policies {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    for (i, item) in items.into_iter().enumerate() {
        let here = format!("{at}[{i}]");
        match item {
            Value::Object(map) if map.contains_key("Statement") => {
                document(names, item, &here, Kind::Identity, out);
            }
            Value::Object(map) => {
                for template in map.keys().filter(|t| !is_scoped_sam_template(t)) {
                    out.push(format!(
                        "{here}: SAM policy template {template} is not in the scoped list"
                    ));
                }
            }
            other => managed(other, &here, out),
        }
    }
}

fn document(names: &Names, doc: &Value, at: &str, kind: Kind, out: &mut Vec<String>) {
    let statements: Vec<&Value> = match &doc["Statement"] {
        Value::Array(items) => items.iter().collect(),
        Value::Null => {
            out.push(format!("{at}: policy document without Statement"));
            Vec::new()
        }
        one => vec![one],
    };
    for (i, statement) in statements.into_iter().enumerate() {
        let mut label = format!("{at}.Statement[{i}]");
        if let Some(sid) = statement["Sid"].as_str() {
            label.push_str(&format!(" (Sid {sid})"));
        }
        check_statement(names, statement, &label, kind, out);
    }
}

fn as_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    }
}

fn check_statement(names: &Names, statement: &Value, label: &str, kind: Kind, out: &mut Vec<String>) {
    let mut bad = |what: String| out.push(format!("{label}: {what}"));
    match statement["Effect"].as_str() {
        Some("Deny") => return,
        Some("Allow") => {}
        other => return bad(format!("Effect {other:?} is neither Allow nor Deny")),
    }
    for key in ["NotAction", "NotResource", "NotPrincipal"] {
        if statement.get(key).is_some() {
            bad(format!("{key} in an Allow statement grants everything else"));
        }
    }
    let listed = as_list(&statement["Action"]);
    if listed.is_empty() && statement.get("NotAction").is_none() {
        bad("no Action".to_owned());
    }
    let mut actions = Vec::new();
    for action in listed {
        match action.as_str() {
            Some(text) => {
                if text.contains('*') {
                    bad(format!("wildcard action {text:?}: list the actions"));
                }
                actions.push(text);
            }
            None => bad(format!("action {action} is not a literal name")),
        }
    }
    let principal = &statement["Principal"];
    let open = principal == "*" || principal["AWS"] == "*";
    match kind {
        Kind::Trust => {
            if open {
                bad("trust policy trusts every principal".to_owned());
            }
            return;
        }
        Kind::ResourceBased if open && statement.get("Condition").is_none() => {
            bad("Principal \"*\" without a Condition".to_owned());
        }
        Kind::ResourceBased | Kind::Identity => {}
    }
    let resources = as_list(&statement["Resource"]);
    if resources.is_empty() {
        bad("no Resource".to_owned());
    }
    for resource in resources {
        match resource {
            Value::String(star) if star == "*" => {
                let wide: Vec<&str> = actions
                    .iter()
                    .copied()
                    .filter(|a| star_only_reason(a).is_none())
                    .collect();
                if !wide.is_empty() {
                    bad(format!(
                        "Resource \"*\" for {wide:?}, which can be scoped to this stack's resources"
                    ));
                }
            }
            Value::String(literal) => {
                bad(format!(
                    "literal Resource {literal:?} is not one of this stack's resources"
                ));
            }
            other if !scoped(names, other) => {
                bad(format!(
                    "Resource {other} is not scoped to this stack's resources"
                ));
            }
            _ => {}
        }
    }
}

/// Whether an intrinsic Resource value names this stack's resources (see the module doc).
fn scoped(names: &Names, value: &Value) -> bool {
    if let Some(target) = value.get("Ref").and_then(Value::as_str) {
        return target == "AWS::NoValue" || names.is_resource(target) || names.is_parameter(target);
    }
    if let Some(target) = value
        .get("Fn::GetAtt")
        .and_then(|a| a.get(0))
        .and_then(Value::as_str)
    {
        return names.is_resource(target);
    }
    if let Some(sub) = value.get("Fn::Sub") {
        let text = sub
            .as_str()
            .or_else(|| sub.get(0).and_then(Value::as_str))
            .unwrap_or_default();
        let uses_resource = sub_variables(text)
            .into_iter()
            .any(|var| names.is_resource(var.split('.').next().unwrap_or(var)));
        return uses_resource || scoped_arn(text);
    }
    if let Some(Value::Array(parts)) = value.get("Fn::Join").and_then(|j| j.get(1)) {
        return parts.iter().any(|part| part.is_object() && scoped(names, part));
    }
    if let Some(Value::Array(parts)) = value.get("Fn::If") {
        return parts.len() == 3 && parts[1..].iter().all(|branch| scoped(names, branch));
    }
    false
}

/// An ARN in this account naming one resource (no `*`), or whose resource part names something before its
/// first `*`.
fn scoped_arn(text: &str) -> bool {
    // The pseudo parameters' own `::` would split the ARN's fields.
    let text = text
        .replace("${AWS::Partition}", "partition")
        .replace("${AWS::Region}", "region")
        .replace("${AWS::AccountId}", "${account}");
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    let [arn, _, _, _, account, resource] = parts.as_slice() else {
        return false;
    };
    if *arn != "arn" || *account != "${account}" {
        return false;
    }
    // One named resource, no wildcard (`codecommit:..:${AWS::AccountId}:web`): exactly that resource.
    if !resource.is_empty() && !resource.contains('*') {
        return true;
    }
    let fixed = resource.split('*').next().unwrap_or_default();
    fixed
        .split(['/', ':'])
        .filter(|segment| !segment.is_empty())
        .count()
        >= 2
}
