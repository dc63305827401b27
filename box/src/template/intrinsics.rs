//! CloudFormation's intrinsic functions over a transformed template's JSON: `Ref`, `Fn::GetAtt`, `Fn::Sub`,
//! `Fn::Join`, `Fn::Select`, `Fn::Split`, `Fn::If` (with `AWS::NoValue`) and the condition functions, resolved
//! against the stack's parameters, the conditions' values and the attributes of the resources the box made. Any
//! other intrinsic is refused by name, so a template using one fails at start rather than running half-wired.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// What a resource answers to `Ref` and `Fn::GetAtt`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attributes {
    /// The value of `Ref`.
    pub reference: Value,
    /// `Fn::GetAtt` values by attribute name (`Arn`, `QueueName`, `FunctionUrl`, ...).
    pub named: BTreeMap<String, Value>,
}

impl Attributes {
    /// A resource whose `Ref` is `reference`, with the named attributes given.
    pub fn new(reference: impl Into<String>, named: &[(&str, String)]) -> Attributes {
        Attributes {
            reference: Value::String(reference.into()),
            named: named
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
                .collect(),
        }
    }
}

/// Why an expression could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct IntrinsicError {
    /// Where in the template, e.g. `Resources.DispatchQueue.Properties.RedrivePolicy`.
    pub path: String,
    pub reason: String,
}

/// Everything an expression may refer to.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Parameters and pseudo parameters (`AWS::Region`, ...), resolved.
    pub parameters: BTreeMap<String, Value>,
    /// Conditions, evaluated.
    pub conditions: BTreeMap<String, bool>,
    /// Resources made so far.
    pub resources: BTreeMap<String, Attributes>,
}

impl Scope {
    /// Resolves `value` (found at `path`); `None` is `AWS::NoValue` (the member is dropped).
    pub fn resolve(&self, value: &Value, path: &str) -> Result<Option<Value>, IntrinsicError> {
        match value {
            Value::Object(map) if map.len() == 1 => {
                let (key, argument) = map
                    .iter()
                    .next()
                    .map(|(k, v)| (k.as_str(), v))
                    .unwrap_or(("", value));
                if key == "Ref" || key.starts_with("Fn::") || key == "Condition" {
                    return self.intrinsic(key, argument, path);
                }
                self.object(map, path).map(Some)
            }
            Value::Object(map) => self.object(map, path).map(Some),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    if let Some(v) = self.resolve(item, &format!("{path}[{i}]"))? {
                        out.push(v);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            other => Ok(Some(other.clone())),
        }
    }

    /// Resolves `value`, which must not be `AWS::NoValue`.
    pub fn value(&self, value: &Value, path: &str) -> Result<Value, IntrinsicError> {
        self.resolve(value, path)?
            .ok_or_else(|| error(path, "AWS::NoValue where a value is needed"))
    }

    /// Resolves `value` to a string.
    pub fn string(&self, value: &Value, path: &str) -> Result<String, IntrinsicError> {
        match self.value(value, path)? {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(error(path, format!("expected a string, found {other}"))),
        }
    }

    /// Evaluates a condition expression (`Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or`, `Condition`).
    pub fn condition(&self, value: &Value, path: &str) -> Result<bool, IntrinsicError> {
        let Some((key, argument)) = single(value) else {
            return Err(error(path, "a condition must be one condition function"));
        };
        let items = |n: Option<usize>| -> Result<&Vec<Value>, IntrinsicError> {
            match argument.as_array() {
                Some(a) if n.is_none_or(|n| a.len() == n) => Ok(a),
                _ => Err(error(
                    path,
                    format!(
                        "{key} takes a list of {}",
                        n.map_or("conditions".into(), |n| n.to_string())
                    ),
                )),
            }
        };
        match key {
            "Fn::Equals" => {
                let a = items(Some(2))?;
                Ok(self.value(&a[0], path)? == self.value(&a[1], path)?)
            }
            "Fn::Not" => Ok(!self.condition(&items(Some(1))?[0], path)?),
            "Fn::And" => items(None)?
                .iter()
                .try_fold(true, |acc, c| Ok(acc && self.condition(c, path)?)),
            "Fn::Or" => items(None)?
                .iter()
                .try_fold(false, |acc, c| Ok(acc || self.condition(c, path)?)),
            "Condition" => self.named_condition(argument, path),
            other => Err(error(path, format!("{other} is not a condition function"))),
        }
    }

    fn named_condition(&self, name: &Value, path: &str) -> Result<bool, IntrinsicError> {
        let name = name.as_str().unwrap_or_default();
        self.conditions.get(name).copied().ok_or_else(|| {
            error(
                path,
                format!("condition {name:?} is not defined (or not evaluated yet)"),
            )
        })
    }

    fn object(&self, map: &Map<String, Value>, path: &str) -> Result<Value, IntrinsicError> {
        let mut out = Map::new();
        for (key, value) in map {
            if let Some(v) = self.resolve(value, &format!("{path}.{key}"))? {
                out.insert(key.clone(), v);
            }
        }
        Ok(Value::Object(out))
    }

    fn intrinsic(&self, key: &str, argument: &Value, path: &str) -> Result<Option<Value>, IntrinsicError> {
        match key {
            "Ref" => self.reference(argument, path),
            "Fn::GetAtt" => self.get_att(argument, path).map(Some),
            "Fn::Sub" => self.sub(argument, path).map(|s| Some(Value::String(s))),
            "Fn::Join" => self.join(argument, path).map(|s| Some(Value::String(s))),
            "Fn::Select" => self.select(argument, path).map(Some),
            "Fn::Split" => self.split(argument, path).map(Some),
            "Fn::If" => self.if_(argument, path),
            "Condition" => self.named_condition(argument, path).map(|b| Some(Value::Bool(b))),
            "Fn::Equals" | "Fn::Not" | "Fn::And" | "Fn::Or" => {
                let wrapped = Value::Object(Map::from_iter([(key.to_owned(), argument.clone())]));
                self.condition(&wrapped, path).map(|b| Some(Value::Bool(b)))
            }
            other => Err(error(
                path,
                format!("the box does not resolve {other}; add it to box/src/template/intrinsics.rs"),
            )),
        }
    }

    fn reference(&self, name: &Value, path: &str) -> Result<Option<Value>, IntrinsicError> {
        let name = name.as_str().ok_or_else(|| error(path, "Ref takes a name"))?;
        if name == "AWS::NoValue" {
            return Ok(None);
        }
        if let Some(value) = self.parameters.get(name) {
            return Ok(Some(value.clone()));
        }
        self.resources
            .get(name)
            .map(|r| Some(r.reference.clone()))
            .ok_or_else(|| error(path, format!("Ref {name:?}: no such parameter or resource (yet)")))
    }

    fn get_att(&self, argument: &Value, path: &str) -> Result<Value, IntrinsicError> {
        let (resource, attribute) = match argument {
            Value::String(s) => s
                .split_once('.')
                .map(|(r, a)| (r.to_owned(), a.to_owned()))
                .ok_or_else(|| error(path, format!("Fn::GetAtt {s:?} is not Resource.Attribute")))?,
            Value::Array(parts) if parts.len() == 2 => {
                (self.string(&parts[0], path)?, self.string(&parts[1], path)?)
            }
            _ => return Err(error(path, "Fn::GetAtt takes [resource, attribute]")),
        };
        self.attribute(&resource, &attribute, path)
    }

    fn attribute(&self, resource: &str, attribute: &str, path: &str) -> Result<Value, IntrinsicError> {
        let found = self.resources.get(resource).ok_or_else(|| {
            error(
                path,
                format!("Fn::GetAtt {resource}.{attribute}: no such resource (yet)"),
            )
        })?;
        found.named.get(attribute).cloned().ok_or_else(|| {
            error(
                path,
                format!("Fn::GetAtt {resource}.{attribute}: the box does not know this attribute"),
            )
        })
    }

    fn sub(&self, argument: &Value, path: &str) -> Result<String, IntrinsicError> {
        let (text, variables) = match argument {
            Value::String(s) => (s.as_str(), Map::new()),
            Value::Array(parts) if parts.len() == 2 => (
                parts[0]
                    .as_str()
                    .ok_or_else(|| error(path, "Fn::Sub's first item is the string"))?,
                parts[1].as_object().cloned().unwrap_or_default(),
            ),
            _ => return Err(error(path, "Fn::Sub takes a string or [string, variables]")),
        };
        let mut out = String::new();
        for piece in sub_pieces(text) {
            match piece {
                SubPiece::Text(t) => out.push_str(t),
                SubPiece::Variable(name) => {
                    let value = match variables.get(name) {
                        Some(v) => self.string(v, path)?,
                        None => match name.split_once('.') {
                            Some((r, a)) if !self.parameters.contains_key(name) => {
                                to_text(&self.attribute(r, a, path)?, path)?
                            }
                            _ => {
                                let v = self.reference(&Value::String(name.to_owned()), path)?;
                                to_text(&v.unwrap_or_default(), path)?
                            }
                        },
                    };
                    out.push_str(&value);
                }
            }
        }
        Ok(out)
    }

    fn join(&self, argument: &Value, path: &str) -> Result<String, IntrinsicError> {
        let parts = argument
            .as_array()
            .filter(|a| a.len() == 2)
            .ok_or_else(|| error(path, "Fn::Join takes [delimiter, list]"))?;
        let delimiter = self.string(&parts[0], path)?;
        let items = match self.value(&parts[1], path)? {
            Value::Array(items) => items,
            other => return Err(error(path, format!("Fn::Join's list is {other}"))),
        };
        let texts = items
            .iter()
            .map(|item| to_text(item, path))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(texts.join(&delimiter))
    }

    fn select(&self, argument: &Value, path: &str) -> Result<Value, IntrinsicError> {
        let parts = argument
            .as_array()
            .filter(|a| a.len() == 2)
            .ok_or_else(|| error(path, "Fn::Select takes [index, list]"))?;
        let index: usize = self
            .string(&parts[0], path)?
            .parse()
            .map_err(|_| error(path, "Fn::Select's index is not a number"))?;
        match self.value(&parts[1], path)? {
            Value::Array(items) => items
                .get(index)
                .cloned()
                .ok_or_else(|| error(path, format!("Fn::Select index {index} is past the list's end"))),
            other => Err(error(path, format!("Fn::Select's list is {other}"))),
        }
    }

    fn split(&self, argument: &Value, path: &str) -> Result<Value, IntrinsicError> {
        let parts = argument
            .as_array()
            .filter(|a| a.len() == 2)
            .ok_or_else(|| error(path, "Fn::Split takes [delimiter, string]"))?;
        let delimiter = self.string(&parts[0], path)?;
        let text = self.string(&parts[1], path)?;
        Ok(Value::Array(
            text.split(delimiter.as_str())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        ))
    }

    fn if_(&self, argument: &Value, path: &str) -> Result<Option<Value>, IntrinsicError> {
        let parts = argument
            .as_array()
            .filter(|a| a.len() == 3)
            .ok_or_else(|| error(path, "Fn::If takes [condition, then, else]"))?;
        let chosen = if self.named_condition(&parts[0], path)? {
            &parts[1]
        } else {
            &parts[2]
        };
        self.resolve(chosen, path)
    }
}

fn single(value: &Value) -> Option<(&str, &Value)> {
    let map = value.as_object().filter(|m| m.len() == 1)?;
    map.iter().next().map(|(k, v)| (k.as_str(), v))
}

fn to_text(value: &Value, path: &str) -> Result<String, IntrinsicError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Array(items) => Ok(items
            .iter()
            .map(|v| to_text(v, path))
            .collect::<Result<Vec<_>, _>>()?
            .join(",")),
        other => Err(error(path, format!("{other} is not text"))),
    }
}

fn error(path: &str, reason: impl Into<String>) -> IntrinsicError {
    IntrinsicError {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

enum SubPiece<'a> {
    Text(&'a str),
    Variable(&'a str),
}

/// `Fn::Sub`'s text split into literal text and `${Name}` / `${Resource.Attribute}` variables; `${!Text}` is
/// the literal `${Text}`.
fn sub_pieces(text: &str) -> Vec<SubPiece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        pieces.push(SubPiece::Text(&rest[..start]));
        let inner = &rest[start + 2..start + len];
        if let Some(literal) = inner.strip_prefix('!') {
            pieces.push(SubPiece::Text("${"));
            pieces.push(SubPiece::Text(literal));
            pieces.push(SubPiece::Text("}"));
        } else {
            pieces.push(SubPiece::Variable(inner.trim()));
        }
        rest = &rest[start + len + 1..];
    }
    pieces.push(SubPiece::Text(rest));
    pieces
}

/// The logical ids an expression refers to (through `Ref`, `Fn::GetAtt` and `Fn::Sub`), parameters and
/// pseudo parameters excluded: what must exist before it can be resolved.
pub fn references(value: &Value, parameters: &BTreeMap<String, Value>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    collect(value, parameters, &mut found);
    found
}

fn add(name: &str, parameters: &BTreeMap<String, Value>, found: &mut BTreeSet<String>) {
    let name = name.split_once('.').map_or(name, |(r, _)| r);
    if !parameters.contains_key(name) && !name.starts_with("AWS::") {
        found.insert(name.to_owned());
    }
}

fn collect(value: &Value, parameters: &BTreeMap<String, Value>, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, argument) in map {
                match (key.as_str(), argument) {
                    ("Ref", Value::String(name)) => add(name, parameters, found),
                    ("Fn::GetAtt", Value::String(name)) => add(name, parameters, found),
                    ("Fn::GetAtt", Value::Array(parts)) => {
                        if let Some(name) = parts.first().and_then(Value::as_str) {
                            add(name, parameters, found);
                        }
                    }
                    ("Fn::Sub", sub) => {
                        let (text, variables) = match sub {
                            Value::String(s) => (s.as_str(), None),
                            Value::Array(p) => (p.first().and_then(Value::as_str).unwrap_or(""), p.get(1)),
                            _ => ("", None),
                        };
                        let local = variables.and_then(Value::as_object);
                        for piece in sub_pieces(text) {
                            if let SubPiece::Variable(name) = piece
                                && !local.is_some_and(|l| l.contains_key(name))
                            {
                                add(name, parameters, found);
                            }
                        }
                        if let Some(variables) = variables {
                            collect(variables, parameters, found);
                        }
                        continue;
                    }
                    _ => {}
                }
                collect(argument, parameters, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect(item, parameters, found)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> Scope {
        let mut scope = Scope::default();
        scope.parameters.insert("AWS::Region".into(), json!("us-east-1"));
        scope
            .parameters
            .insert("AWS::StackName".into(), json!("kiln-box"));
        scope
            .parameters
            .insert("SubnetIds".into(), json!(["subnet-1", "subnet-2"]));
        scope.parameters.insert("Prefix".into(), json!("kiln"));
        scope.conditions.insert("HasEmail".into(), false);
        scope.resources.insert(
            "Queue".into(),
            Attributes::new("http://moto/q", &[("Arn", "arn:aws:sqs:us-east-1:1:q".into())]),
        );
        scope
    }

    #[test]
    fn references_sub_join_and_if_resolve_like_cloudformation() {
        let template = json!({
            "Url": {"Ref": "Queue"},
            "Arn": {"Fn::GetAtt": ["Queue", "Arn"]},
            "Dotted": {"Fn::GetAtt": "Queue.Arn"},
            "Family": {"Fn::Sub": "${AWS::StackName}-runner"},
            "Resource": {"Fn::Sub": "${Queue.Arn}/*"},
            "Local": {"Fn::Sub": ["${X}:${!Literal}", {"X": {"Ref": "Prefix"}}]},
            "Subnets": {"Fn::Join": [",", {"Ref": "SubnetIds"}]},
            "Email": {"Fn::If": ["HasEmail", "a@b", {"Ref": "AWS::NoValue"}]},
            "First": {"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}
        });
        let resolved = scope().value(&template, "T").expect("resolves");
        assert_eq!(
            resolved,
            json!({
                "Url": "http://moto/q",
                "Arn": "arn:aws:sqs:us-east-1:1:q",
                "Dotted": "arn:aws:sqs:us-east-1:1:q",
                "Family": "kiln-box-runner",
                "Resource": "arn:aws:sqs:us-east-1:1:q/*",
                "Local": "kiln:${Literal}",
                "Subnets": "subnet-1,subnet-2",
                "First": "b"
            })
        );
    }

    #[test]
    fn conditions_evaluate_and_unknown_names_are_refused_with_the_path() {
        let scope = scope();
        let condition = json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "Prefix"}, ""]}]});
        assert!(
            scope
                .condition(&condition, "Conditions.HasPrefix")
                .expect("evaluates")
        );
        let err = scope
            .value(&json!({"Ref": "Missing"}), "Resources.X.Properties.Y")
            .expect_err("refused");
        assert_eq!(err.path, "Resources.X.Properties.Y");
        assert!(err.reason.contains("Missing"), "{err}");
        let err = scope
            .value(&json!({"Fn::ImportValue": "x"}), "P")
            .expect_err("refused");
        assert!(err.reason.contains("Fn::ImportValue"), "{err}");
    }

    #[test]
    fn references_name_the_resources_an_expression_needs() {
        let parameters = scope().parameters;
        let value = json!({
            "A": {"Ref": "Queue"},
            "B": {"Fn::Sub": "${Topic.Arn}/${AWS::Region}/${Prefix}"},
            "C": {"Fn::Sub": ["${Local}", {"Local": {"Ref": "Table"}}]},
            "D": {"Fn::GetAtt": ["Bucket", "Arn"]}
        });
        let found: Vec<String> = references(&value, &parameters).into_iter().collect();
        assert_eq!(found, ["Bucket", "Queue", "Table", "Topic"]);
    }
}
