//! `Fn::ForEach` of the `AWS::LanguageExtensions` transform, expanded the way CloudFormation does before the
//! other checks run: each `Fn::ForEach::<Loop>: [Identifier, Collection, {OutputKey: OutputValue}]` becomes one
//! copy of the fragment per item, with `${Identifier}` replaced by the item and `&{Identifier}` by its
//! alphanumeric characters (in keys and strings), and `{"Ref": Identifier}` by the item. A collection that is a
//! `!Ref` to a list parameter takes the items the caller supplies (a deployer's value is unknown here).

use serde_json::{Map, Value};

/// Expands every `Fn::ForEach::*` key in the template's Conditions, Resources and Outputs; `items_of` gives the
/// items of a `!Ref`-ed list parameter. Fails on a malformed loop.
pub fn expand(template: &mut Value, items_of: &dyn Fn(&str) -> Vec<String>) -> Result<(), String> {
    for section in ["Conditions", "Resources", "Outputs"] {
        if let Some(value) = template.get_mut(section) {
            let expanded = expand_value(value.take(), items_of, section)?;
            *value = expanded;
        }
    }
    Ok(())
}

fn expand_value(value: Value, items_of: &dyn Fn(&str) -> Vec<String>, path: &str) -> Result<Value, String> {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, child) in map {
                if let Some(name) = key.strip_prefix("Fn::ForEach::") {
                    let here = format!("{path}.Fn::ForEach::{name}");
                    for (k, v) in one_loop(child, items_of, &here)? {
                        if out.insert(k.clone(), v).is_some() {
                            return Err(format!("{here}: the loop makes {k:?} twice"));
                        }
                    }
                } else {
                    let child = expand_value(child, items_of, &format!("{path}.{key}"))?;
                    out.insert(key, child);
                }
            }
            Ok(Value::Object(resolve_get_att_sub(out)))
        }
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| expand_value(item, items_of, &format!("{path}[{i}]")))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Ok(other),
    }
}

/// The expanded entries of one loop (nested loops inside its fragment included).
fn one_loop(
    spec: Value,
    items_of: &dyn Fn(&str) -> Vec<String>,
    path: &str,
) -> Result<Map<String, Value>, String> {
    let Value::Array(parts) = spec else {
        return Err(format!("{path}: not a list [Identifier, Collection, Fragment]"));
    };
    let [Value::String(identifier), collection, Value::Object(fragment)] = parts.as_slice() else {
        return Err(format!(
            "{path}: not [Identifier, Collection, {{OutputKey: OutputValue}}]"
        ));
    };
    let items: Vec<String> = match collection {
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or(format!("{path}: item {i} is not a string"))
            })
            .collect::<Result<_, _>>()?,
        Value::Object(map) => match map.get("Ref").and_then(Value::as_str) {
            Some(parameter) => items_of(parameter),
            None => {
                return Err(format!(
                    "{path}: collection {collection} is neither a list nor a !Ref"
                ));
            }
        },
        other => return Err(format!("{path}: collection {other} is neither a list nor a !Ref")),
    };
    let mut out = Map::new();
    for item in items {
        let mut copy = Map::new();
        for (key, value) in fragment {
            let uses =
                key.contains(&format!("${{{identifier}}}")) || key.contains(&format!("&{{{identifier}}}"));
            if !uses && !key.starts_with("Fn::ForEach::") {
                return Err(format!(
                    "{path}: output key {key:?} does not use ${{{identifier}}} or &{{{identifier}}}"
                ));
            }
            let key = substitute_text(key, identifier, &item);
            copy.insert(key, substitute(value.clone(), identifier, &item));
        }
        let Value::Object(expanded) = expand_value(Value::Object(copy), items_of, path)? else {
            continue;
        };
        for (key, value) in expanded {
            if out.insert(key.clone(), value).is_some() {
                return Err(format!("{path}: the loop makes {key:?} twice"));
            }
        }
    }
    Ok(out)
}

fn alphanumeric(item: &str) -> String {
    item.chars().filter(char::is_ascii_alphanumeric).collect()
}

fn substitute_text(text: &str, identifier: &str, item: &str) -> String {
    text.replace(&format!("${{{identifier}}}"), item)
        .replace(&format!("&{{{identifier}}}"), &alphanumeric(item))
}

fn substitute(value: Value, identifier: &str, item: &str) -> Value {
    match value {
        Value::String(text) => Value::String(substitute_text(&text, identifier, item)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| substitute(v, identifier, item))
                .collect(),
        ),
        Value::Object(map) => {
            if map.len() == 1 && map.get("Ref").and_then(Value::as_str) == Some(identifier) {
                return Value::String(item.to_owned());
            }
            Value::Object(
                map.into_iter()
                    .map(|(k, v)| {
                        (
                            substitute_text(&k, identifier, item),
                            substitute(v, identifier, item),
                        )
                    })
                    .collect(),
            )
        }
        other => other,
    }
}

/// `Fn::GetAtt: [{Fn::Sub: "Name"}, Attr]` with no variables left becomes `Fn::GetAtt: ["Name", Attr]`, as the
/// transform resolves it.
fn resolve_get_att_sub(mut map: Map<String, Value>) -> Map<String, Value> {
    if let Some(Value::Array(parts)) = map.get_mut("Fn::GetAtt")
        && let Some(first) = parts.first_mut()
        && let Some(text) = first.get("Fn::Sub").and_then(Value::as_str)
        && !text.contains("${")
    {
        *first = Value::String(text.to_owned());
    }
    map
}
