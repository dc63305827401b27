//! The stack's outputs, as a deployed stack would have them, recorded in moto's CloudFormation
//! ([`kiln_aws::stack::record_outputs`]) so every `--stack NAME` reader (`kiln keys`, `kiln projects apply`, the
//! client commands) works against the box unchanged. An output that refers to a listener (the HTTP API, a
//! Function URL) is that listener's loopback URL; the others are the template's expressions resolved with the
//! box's resources; an output the box cannot resolve (a condition that is off, an attribute moto lacks) is
//! left out.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::start::Listener;
use crate::template::intrinsics::{Scope, references};

/// The outputs of the transformed template `transformed`, resolved in `scope`, with listener URLs.
pub fn resolve(transformed: &Value, scope: &Scope, listeners: &[Listener]) -> BTreeMap<String, String> {
    let mut resolved = BTreeMap::new();
    let Some(outputs) = transformed.get("Outputs").and_then(Value::as_object) else {
        return resolved;
    };
    for (name, output) in outputs {
        let Some(value) = output.get("Value") else {
            continue;
        };
        if let Some(condition) = output.get("Condition").and_then(Value::as_str)
            && !scope.conditions.get(condition).copied().unwrap_or(false)
        {
            continue;
        }
        let refs = references(value, &scope.parameters);
        // The language extensions may have turned a `Fn::Sub` whose pseudo parameters they resolved into a
        // plain string that still holds `${Resource}`.
        let text = value.to_string();
        let names = |l: &Listener| refs.contains(&l.id) || text.contains(&format!("${{{}}}", l.id));
        if let Some(listener) = listeners.iter().find(|l| names(l)) {
            resolved.insert(name.clone(), listener.url.clone());
            continue;
        }
        match scope.string(value, &format!("Outputs.{name}.Value")) {
            Ok(text) => {
                resolved.insert(name.clone(), text);
            }
            Err(err) => tracing::debug!(output = %name, error = %err, "output left out of the box's stack"),
        }
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::intrinsics::Attributes;
    use serde_json::json;

    #[test]
    fn listener_outputs_are_their_urls_and_the_rest_resolve_or_are_left_out() {
        let transformed = json!({"Outputs": {
            "ApiUrl": {"Value": {"Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"}},
            "TableName": {"Value": {"Ref": "Table"}},
            "ConsoleUrl": {"Value": "https://${Api}.execute-api.us-east-1.amazonaws.com/console"},
            "Missing": {"Value": {"Fn::GetAtt": ["Nothing", "Arn"]}},
            "Off": {"Condition": "Never", "Value": "x"},
        }});
        let mut scope = Scope::default();
        scope
            .resources
            .insert("Table".into(), Attributes::new("kiln-box-table", &[]));
        scope.conditions.insert("Never".into(), false);
        let listeners = [Listener {
            id: "Api".into(),
            kind: "AWS::ApiGatewayV2::Api".into(),
            url: "http://127.0.0.1:4000/".into(),
        }];
        let outputs = resolve(&transformed, &scope, &listeners);
        assert_eq!(
            outputs,
            BTreeMap::from([
                ("ApiUrl".to_owned(), "http://127.0.0.1:4000/".to_owned()),
                ("ConsoleUrl".to_owned(), "http://127.0.0.1:4000/".to_owned()),
                ("TableName".to_owned(), "kiln-box-table".to_owned()),
            ])
        );
    }
}
