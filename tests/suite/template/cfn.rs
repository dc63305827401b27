//! CloudFormation YAML to JSON: short-form intrinsic tags (`!Ref X`, `!GetAtt A.B`, `!Sub ..`) become their
//! long form (`{"Ref": "X"}`, `{"Fn::GetAtt": ["A", "B"]}`, `{"Fn::Sub": ..}`), as CloudFormation reads them.
//!
//! Built from `saphyr-parser` events. Scalars stay strings (the checks compare text, and CloudFormation itself
//! accepts `"2048"` and `2048` alike); only an empty or `null` plain scalar becomes JSON null.

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};
use serde_json::{Map, Value};

/// A list or mapping whose events are still arriving, with the intrinsic its tag names.
enum Frame {
    Seq(Vec<Value>, Option<String>),
    Map {
        entries: Map<String, Value>,
        key: Option<String>,
        intrinsic: Option<String>,
    },
}

/// The long-form key of a short-form tag: `!Ref` → `Ref`, `!Condition` → `Condition`, `!Sub` → `Fn::Sub`.
fn intrinsic(tag: Option<&Tag>) -> Option<String> {
    let tag = tag?;
    if tag.handle != "!" {
        return None;
    }
    Some(match tag.suffix.as_str() {
        "Ref" | "Condition" => tag.suffix.clone(),
        other => format!("Fn::{other}"),
    })
}

/// Wraps `value` in its intrinsic; `!GetAtt A.B` in scalar form becomes `["A", "B"]`.
fn wrap(value: Value, intrinsic: Option<String>) -> Value {
    let Some(name) = intrinsic else {
        return value;
    };
    let value = match (name.as_str(), value) {
        ("Fn::GetAtt", Value::String(text)) => match text.split_once('.') {
            Some((resource, attribute)) => Value::from(vec![resource, attribute]),
            None => Value::String(text),
        },
        (_, value) => value,
    };
    let mut map = Map::new();
    map.insert(name, value);
    Value::Object(map)
}

/// Parses a CloudFormation template in YAML into JSON with long-form intrinsics.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Value> = None;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|err| {
            let marker = err.marker();
            format!("{}:{}: {}", marker.line(), marker.col() + 1, err.info())
        })?;
        let done = match event {
            Event::Scalar(text, style, _, tag) => {
                let plain = matches!(style, ScalarStyle::Plain);
                let value = if plain && matches!(text.as_ref(), "" | "~" | "null") {
                    Value::Null
                } else {
                    Value::String(text.into_owned())
                };
                Some(wrap(value, intrinsic(tag.as_deref())))
            }
            Event::SequenceStart(_, tag) => {
                stack.push(Frame::Seq(Vec::new(), intrinsic(tag.as_deref())));
                None
            }
            Event::MappingStart(_, tag) => {
                stack.push(Frame::Map {
                    entries: Map::new(),
                    key: None,
                    intrinsic: intrinsic(tag.as_deref()),
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(items, tag)) => Some(wrap(Value::Array(items), tag)),
                Some(Frame::Map {
                    entries, intrinsic, ..
                }) => Some(wrap(Value::Object(entries), intrinsic)),
                None => return Err(format!("line {}: unbalanced end", span.start.line())),
            },
            Event::Alias(_) => {
                return Err(format!(
                    "line {}: YAML aliases are not CloudFormation",
                    span.start.line()
                ));
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd => None,
        };
        if let Some(value) = done {
            match stack.last_mut() {
                None => root = Some(value),
                Some(Frame::Seq(items, _)) => items.push(value),
                Some(Frame::Map { entries, key, .. }) => match key.take() {
                    None => match value {
                        Value::String(text) => *key = Some(text),
                        other => {
                            return Err(format!(
                                "line {}: mapping key {other} is not a string",
                                span.start.line()
                            ));
                        }
                    },
                    Some(name) => {
                        if entries.insert(name.clone(), value).is_some() {
                            return Err(format!("line {}: duplicate key {name:?}", span.start.line()));
                        }
                    }
                },
            }
        }
    }
    root.ok_or_else(|| "the template is empty".to_owned())
}
