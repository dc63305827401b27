//! The stack as the box reads it: `template.yaml` through the SAM transform ([`sam`], the same translator
//! CloudFormation runs), then its parameters (given values over defaults), pseudo parameters and conditions
//! evaluated into a [`Scope`], and its resources with their types, properties and conditions. The intrinsic
//! functions are in [`intrinsics`].

pub mod intrinsics;
pub mod sam;

use std::collections::BTreeMap;

use serde_json::Value;

pub use intrinsics::{Attributes, IntrinsicError, Scope, references};

/// Why the template cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("the transformed template has no Resources object")]
    NoResources,
    #[error("resource {id} has no Type")]
    NoType { id: String },
    #[error("parameter {name} has no default and no value; pass --parameter {name}=VALUE")]
    MissingParameter { name: String },
    #[error(transparent)]
    Intrinsic(#[from] IntrinsicError),
}

/// One resource of the transformed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The logical id, e.g. `DispatchQueue`.
    pub id: String,
    /// The type, e.g. `AWS::SQS::Queue`.
    pub kind: String,
    /// `Properties`, unresolved (`{}` when absent).
    pub properties: Value,
    /// The name of the condition that must hold for the resource to exist.
    pub condition: Option<String>,
    /// `Metadata` (`{}` when absent).
    pub metadata: Value,
}

/// The transformed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Resources by logical id.
    pub resources: BTreeMap<String, Resource>,
    parameters: serde_json::Map<String, Value>,
    conditions: serde_json::Map<String, Value>,
}

/// The stack's identity: what the pseudo parameters say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackIdentity {
    pub name: String,
    pub region: String,
    pub account: String,
}

impl Template {
    /// Reads a transformed (plain CloudFormation) template.
    pub fn from_json(template: &Value) -> Result<Template, TemplateError> {
        let section = |name: &str| template[name].as_object().cloned().unwrap_or_default();
        let resources = template["Resources"]
            .as_object()
            .ok_or(TemplateError::NoResources)?
            .iter()
            .map(|(id, r)| {
                let kind = r["Type"]
                    .as_str()
                    .ok_or_else(|| TemplateError::NoType { id: id.clone() })?
                    .to_owned();
                let resource = Resource {
                    id: id.clone(),
                    kind,
                    properties: r
                        .get("Properties")
                        .cloned()
                        .unwrap_or_else(|| Value::Object(Default::default())),
                    condition: r["Condition"].as_str().map(str::to_owned),
                    metadata: r
                        .get("Metadata")
                        .cloned()
                        .unwrap_or_else(|| Value::Object(Default::default())),
                };
                Ok((id.clone(), resource))
            })
            .collect::<Result<_, TemplateError>>()?;
        Ok(Template {
            resources,
            parameters: section("Parameters"),
            conditions: section("Conditions"),
        })
    }

    /// The scope of a stack: `given` parameter values over the template's defaults (list types split on
    /// commas), the pseudo parameters of `stack`, and every condition evaluated. No resources yet.
    pub fn scope(
        &self,
        given: &BTreeMap<String, String>,
        stack: &StackIdentity,
    ) -> Result<Scope, TemplateError> {
        let mut scope = Scope::default();
        for (name, value) in pseudo_parameters(stack) {
            scope.parameters.insert(name.to_owned(), value);
        }
        for (name, declaration) in &self.parameters {
            let raw = match given.get(name) {
                Some(v) => Value::String(v.clone()),
                None => declaration
                    .get("Default")
                    .cloned()
                    .ok_or_else(|| TemplateError::MissingParameter { name: name.clone() })?,
            };
            let kind = declaration["Type"].as_str().unwrap_or("String");
            scope.parameters.insert(name.clone(), parameter_value(kind, raw));
        }
        // Conditions may name each other: evaluate until no more can be.
        let mut pending: Vec<(&String, &Value)> = self.conditions.iter().collect();
        while !pending.is_empty() {
            let before = pending.len();
            let mut last_error = None;
            pending.retain(|(name, expression)| {
                match scope.condition(expression, &format!("Conditions.{name}")) {
                    Ok(value) => {
                        scope.conditions.insert((*name).clone(), value);
                        false
                    }
                    Err(err) => {
                        last_error = Some(err);
                        true
                    }
                }
            });
            if pending.len() == before
                && let Some(err) = last_error
            {
                return Err(err.into());
            }
        }
        Ok(scope)
    }

    /// Every parameter's name and declared type.
    pub fn parameter_types(&self) -> Vec<(String, String)> {
        self.parameters
            .iter()
            .map(|(name, d)| (name.clone(), d["Type"].as_str().unwrap_or("String").to_owned()))
            .collect()
    }

    /// The resources whose condition holds (or that have none), in logical-id order.
    pub fn active<'a>(&'a self, scope: &'a Scope) -> impl Iterator<Item = &'a Resource> + 'a {
        self.resources.values().filter(|r| {
            r.condition
                .as_ref()
                .is_none_or(|c| scope.conditions.get(c).copied().unwrap_or(false))
        })
    }
}

fn parameter_value(kind: &str, raw: Value) -> Value {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if kind.starts_with("List<") || kind == "CommaDelimitedList" {
        return match raw {
            Value::Array(items) => Value::Array(items.iter().map(|i| Value::String(text(i))).collect()),
            other => Value::Array(
                text(&other)
                    .split(',')
                    .map(|s| Value::String(s.trim().to_owned()))
                    .collect(),
            ),
        };
    }
    Value::String(text(&raw))
}

fn pseudo_parameters(stack: &StackIdentity) -> [(&'static str, Value); 7] {
    let s = |v: String| Value::String(v);
    [
        ("AWS::StackName", s(stack.name.clone())),
        ("AWS::Region", s(stack.region.clone())),
        ("AWS::AccountId", s(stack.account.clone())),
        ("AWS::Partition", s("aws".to_owned())),
        ("AWS::URLSuffix", s("amazonaws.com".to_owned())),
        (
            "AWS::StackId",
            s(format!(
                "arn:aws:cloudformation:{}:{}:stack/{}/00000000-0000-4000-8000-000000000000",
                stack.region, stack.account, stack.name
            )),
        ),
        ("AWS::NotificationARNs", Value::Array(Vec::new())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stack() -> StackIdentity {
        StackIdentity {
            name: "kiln-box".into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
        }
    }

    #[test]
    fn parameters_take_given_values_over_defaults_and_conditions_follow_them() {
        let template = Template::from_json(&json!({
            "Parameters": {
                "Email": {"Type": "String", "Default": ""},
                "Subnets": {"Type": "List<AWS::EC2::Subnet::Id>"},
                "Limit": {"Type": "Number", "Default": 20}
            },
            "Conditions": {
                "HasEmail": {"Fn::Not": [{"Condition": "NoEmail"}]},
                "NoEmail": {"Fn::Equals": [{"Ref": "Email"}, ""]}
            },
            "Resources": {
                "Always": {"Type": "AWS::SNS::Topic"},
                "Subscription": {"Type": "AWS::SNS::Subscription", "Condition": "HasEmail"}
            }
        }))
        .expect("a template");
        let given = BTreeMap::from([("Subnets".to_owned(), "subnet-1,subnet-2".to_owned())]);
        let scope = template.scope(&given, &stack()).expect("a scope");
        assert_eq!(scope.parameters["Subnets"], json!(["subnet-1", "subnet-2"]));
        assert_eq!(scope.parameters["Limit"], json!("20"));
        assert_eq!(scope.parameters["AWS::StackName"], json!("kiln-box"));
        assert!(!scope.conditions["HasEmail"]);
        let active: Vec<&str> = template.active(&scope).map(|r| r.id.as_str()).collect();
        assert_eq!(active, ["Always"]);

        let err = template
            .scope(&BTreeMap::new(), &stack())
            .expect_err("Subnets is required");
        assert!(err.to_string().contains("--parameter Subnets=VALUE"), "{err}");
    }
}
