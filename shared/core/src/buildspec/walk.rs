//! Helpers that walk the node tree into typed values, collecting every error and warning with its key path.

use std::collections::HashMap;

use super::error::{BuildspecError, ErrorKind};
use super::model::{EnvVar, Warning};
use super::tree::{Node, Pos, Value};

/// Errors and warnings gathered while walking one document.
#[derive(Default)]
pub(crate) struct Ctx {
    pub errors: Vec<BuildspecError>,
    pub warnings: Vec<Warning>,
}

impl Ctx {
    /// Records an error at `pos`.
    pub fn error(&mut self, path: &str, pos: Pos, kind: ErrorKind) {
        self.errors.push(BuildspecError {
            path: path.to_owned(),
            line: pos.line,
            column: pos.column,
            kind,
        });
    }

    /// Records a warning at `pos`.
    pub fn warn(&mut self, path: &str, pos: Pos, message: impl Into<String>) {
        self.warnings.push(Warning {
            path: path.to_owned(),
            line: pos.line,
            column: pos.column,
            message: message.into(),
        });
    }

    /// Records a wrong-type error for `node`.
    pub fn wrong_type(&mut self, path: &str, node: &Node, expected: &str) {
        let kind = ErrorKind::WrongType {
            expected: expected.to_owned(),
            found: describe(node),
        };
        self.error(path, node.pos, kind);
    }
}

/// `parent.key`, or `key` at the top.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// How a node reads in an error message.
pub(crate) fn describe(node: &Node) -> String {
    match &node.value {
        Value::Scalar { .. } if node.is_null() => "nothing (null)".to_owned(),
        Value::Scalar { text, .. } => format!("{:?}", truncate(text)),
        Value::Seq(_) => "a list".to_owned(),
        Value::Map(_) => "a mapping".to_owned(),
    }
}

/// At most 60 characters of `text`, for quoting in messages.
pub(crate) fn truncate(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A mapping's entries, checked for duplicate and unknown keys.
pub(crate) struct Fields<'a> {
    entries: Vec<(&'a str, &'a Node, &'a Node)>,
    pub pos: Pos,
}

/// A key accepted with a warning instead of an error, and the warning's text.
pub(crate) type Tolerated<'k> = (&'k str, &'k str);

impl<'a> Fields<'a> {
    /// Reads `node` as a mapping with only `allowed` keys (plus `tolerated` ones, which warn). Null is an
    /// empty mapping; any other non-mapping is a type error and gives `None`.
    pub fn of(
        ctx: &mut Ctx,
        node: &'a Node,
        path: &str,
        allowed: &[&str],
        tolerated: &[Tolerated<'_>],
    ) -> Option<Self> {
        let pairs = match &node.value {
            Value::Map(entries) => entries.as_slice(),
            Value::Scalar { .. } if node.is_null() => &[],
            Value::Scalar { .. } | Value::Seq(_) => {
                ctx.wrong_type(path, node, "a mapping");
                return None;
            }
        };
        let mut entries = Vec::new();
        for (key, key_line, value) in entries_of(ctx, pairs, path) {
            if allowed.contains(&key) {
                entries.push((key, key_line, value));
            } else if let Some((_, message)) = tolerated.iter().find(|(name, _)| *name == key) {
                ctx.warn(&join(path, key), key_line.pos, format!("{key:?} {message}"));
            } else {
                let kind = ErrorKind::UnknownKey {
                    key: key.to_owned(),
                    hint: suggest(key, allowed),
                };
                ctx.error(&join(path, key), key_line.pos, kind);
            }
        }
        Some(Self {
            entries,
            pos: node.pos,
        })
    }

    /// Reads `node` as a mapping with free-form keys (variables, report groups).
    pub fn any(ctx: &mut Ctx, node: &'a Node, path: &str) -> Option<Self> {
        let pairs = match &node.value {
            Value::Map(entries) => entries.as_slice(),
            Value::Scalar { .. } if node.is_null() => &[],
            Value::Scalar { .. } | Value::Seq(_) => {
                ctx.wrong_type(path, node, "a mapping");
                return None;
            }
        };
        Some(Self {
            entries: entries_of(ctx, pairs, path),
            pos: node.pos,
        })
    }

    /// The value of `key`, unless absent or null.
    pub fn get(&self, key: &str) -> Option<&'a Node> {
        self.get_raw(key).filter(|node| !node.is_null())
    }

    /// The value of `key` even when it is null.
    pub fn get_raw(&self, key: &str) -> Option<&'a Node> {
        self.entries
            .iter()
            .find(|(name, _, _)| *name == key)
            .map(|(_, _, value)| *value)
    }

    /// Where `key` is written.
    pub fn key_pos(&self, key: &str) -> Option<Pos> {
        self.entries
            .iter()
            .find(|(name, _, _)| *name == key)
            .map(|(_, key, _)| key.pos)
    }

    /// Every entry in file order: key text, key node, value node.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a Node, &'a Node)> + '_ {
        self.entries.iter().copied()
    }
}

/// Scalar keys of a mapping, reporting non-scalar and duplicate keys.
fn entries_of<'a>(
    ctx: &mut Ctx,
    pairs: &'a [(Node, Node)],
    path: &str,
) -> Vec<(&'a str, &'a Node, &'a Node)> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut entries = Vec::new();
    for (key, value) in pairs {
        let Value::Scalar { text, .. } = &key.value else {
            ctx.wrong_type(path, key, "a plain key");
            continue;
        };
        if let Some(first_line) = seen.get(text.as_str()) {
            let kind = ErrorKind::DuplicateKey {
                key: text.clone(),
                first_line: *first_line,
            };
            ctx.error(&join(path, text), key.pos, kind);
            continue;
        }
        seen.insert(text, key.pos.line);
        entries.push((text.as_str(), key, value));
    }
    entries
}

/// ` (did you mean "x"?)` when a candidate is close to `key`, else an empty string.
pub(crate) fn suggest(key: &str, candidates: &[&str]) -> String {
    let normal = |s: &str| s.to_ascii_lowercase().replace(['-', '_', ' '], "");
    let best = candidates
        .iter()
        .map(|candidate| {
            let distance = if normal(candidate) == normal(key) {
                0
            } else {
                edit_distance(&key.to_ascii_lowercase(), candidate)
            };
            (distance, *candidate)
        })
        .min_by_key(|(distance, _)| *distance);
    match best {
        Some((distance, candidate)) if distance <= 2 => format!(" (did you mean {candidate:?}?)"),
        Some(_) | None if !candidates.is_empty() => format!("; expected one of: {}", candidates.join(", ")),
        Some(_) | None => String::new(),
    }
}

/// Levenshtein distance (keys are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(previous + 1).min(row[j] + 1);
        }
    }
    row[b.len()]
}

/// A scalar's text (numbers and booleans as written); null gives `None`; lists and mappings are errors.
pub(crate) fn string(ctx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    match &node.value {
        Value::Scalar { .. } if node.is_null() => None,
        Value::Scalar { text, .. } => Some(text.clone()),
        Value::Seq(_) | Value::Map(_) => {
            ctx.wrong_type(path, node, "a string");
            None
        }
    }
}

/// A YAML 1.1 boolean (`yes`/`no`, `true`/`false`, `on`/`off`, any case); null gives `None`.
pub(crate) fn boolean(ctx: &mut Ctx, node: &Node, path: &str) -> Option<bool> {
    let text = string(ctx, node, path)?;
    match text.to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "on" => Some(true),
        "no" | "n" | "false" | "off" => Some(false),
        _ => {
            let kind = ErrorKind::InvalidValue {
                expected: "a boolean (yes, no, true or false)".to_owned(),
                found: truncate(&text),
                hint: String::new(),
            };
            ctx.error(path, node.pos, kind);
            None
        }
    }
}

/// A list of scalars (null is an empty list); `item_hint` explains how to fix a non-scalar item.
pub(crate) fn string_list(ctx: &mut Ctx, node: &Node, path: &str, item_hint: &str) -> Vec<String> {
    let items = match &node.value {
        Value::Seq(items) => items,
        Value::Scalar { .. } if node.is_null() => return Vec::new(),
        Value::Scalar { .. } | Value::Map(_) => {
            ctx.wrong_type(path, node, "a list (write each entry on its own `- ` line)");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match &item.value {
            Value::Scalar { text, .. } => out.push(text.clone()),
            Value::Seq(_) | Value::Map(_) => {
                let expected = format!("a string{item_hint}");
                ctx.wrong_type(&format!("{path}[{index}]"), item, &expected);
            }
        }
    }
    out
}

/// A mapping of names to scalar values, in file order (a null value is the empty string).
pub(crate) fn variables(ctx: &mut Ctx, node: &Node, path: &str) -> Vec<EnvVar> {
    let Some(fields) = Fields::any(ctx, node, path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, _, value) in fields.iter() {
        let value_path = join(path, name);
        match &value.value {
            Value::Scalar { .. } if value.is_null() => out.push(EnvVar {
                name: name.to_owned(),
                value: String::new(),
            }),
            Value::Scalar { text, .. } => out.push(EnvVar {
                name: name.to_owned(),
                value: text.clone(),
            }),
            Value::Seq(_) | Value::Map(_) => ctx.wrong_type(&value_path, value, "a string value"),
        }
    }
    out
}
