//! A JSON reader that remembers where it is, so a missing or mistyped field is reported with its full path
//! (`pull_request.head.sha: missing`). Payload parsers read through it instead of `serde` structs because
//! provider payloads are large, loosely typed and only a few fields matter.

use serde_json::Value;

/// A field that is missing or has the wrong type; the text of `Outcome::Malformed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError(pub String);

/// A JSON value together with its path from the document root.
#[derive(Debug, Clone)]
pub(crate) struct Node<'a> {
    value: Option<&'a Value>,
    path: String,
}

impl<'a> Node<'a> {
    /// The document root.
    pub fn root(value: &'a Value) -> Self {
        Self {
            value: Some(value),
            path: String::new(),
        }
    }

    /// The child `key` of this object (absent when this is not an object or has no such key; null is absent).
    pub fn field(&self, key: &str) -> Node<'a> {
        let value = self
            .value
            .and_then(|value| value.get(key))
            .filter(|value| !value.is_null());
        let path = if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        };
        Node { value, path }
    }

    /// The path from the root, e.g. `pull_request.head.sha` or `commits[2].added`.
    pub fn path(&self) -> String {
        if self.path.is_empty() {
            "(body)".to_owned()
        } else {
            self.path.clone()
        }
    }

    /// An error about this field's value (it is present but says something impossible).
    pub fn invalid(&self, problem: &str) -> FieldError {
        self.error(problem)
    }

    fn error(&self, problem: &str) -> FieldError {
        FieldError(format!("{}: {problem}", self.path()))
    }

    fn wrong_type(&self, expected: &str) -> FieldError {
        let found = match self.value {
            None | Some(Value::Null) => "null",
            Some(Value::Bool(_)) => "a boolean",
            Some(Value::Number(_)) => "a number",
            Some(Value::String(_)) => "a string",
            Some(Value::Array(_)) => "an array",
            Some(Value::Object(_)) => "an object",
        };
        self.error(&format!("expected {expected}, found {found}"))
    }

    /// Whether the field is present and not null.
    pub fn is_present(&self) -> bool {
        self.value.is_some()
    }

    /// A required string.
    pub fn str(&self) -> Result<&'a str, FieldError> {
        match self.value {
            None => Err(self.error("missing")),
            Some(Value::String(text)) => Ok(text),
            Some(_) => Err(self.wrong_type("a string")),
        }
    }

    /// A required string that is not empty (refs, SHAs, names).
    pub fn text(&self) -> Result<&'a str, FieldError> {
        match self.str()? {
            "" => Err(self.error("must not be empty")),
            text => Ok(text),
        }
    }

    /// An optional string: absent or null is `None`, any other type is an error.
    pub fn opt_str(&self) -> Result<Option<&'a str>, FieldError> {
        match self.value {
            None => Ok(None),
            Some(_) => self.str().map(Some),
        }
    }

    /// A required non-negative integer.
    pub fn u64(&self) -> Result<u64, FieldError> {
        match self.value {
            None => Err(self.error("missing")),
            Some(Value::Number(number)) => number
                .as_u64()
                .ok_or_else(|| self.wrong_type("a non-negative integer")),
            Some(_) => Err(self.wrong_type("a non-negative integer")),
        }
    }

    /// An id that providers send as a number (GitHub) or a string (Bitbucket): rendered as text.
    pub fn opt_id(&self) -> Result<Option<String>, FieldError> {
        match self.value {
            None => Ok(None),
            Some(Value::Number(number)) => Ok(Some(number.to_string())),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(self.wrong_type("a number or a string")),
        }
    }

    /// An optional boolean (absent is `false`).
    pub fn flag(&self) -> Result<bool, FieldError> {
        match self.value {
            None => Ok(false),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(_) => Err(self.wrong_type("a boolean")),
        }
    }

    /// The elements of an optional array (absent is empty), each with its own path.
    pub fn items(&self) -> Result<Vec<Node<'a>>, FieldError> {
        match self.value {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items
                .iter()
                .enumerate()
                .map(|(index, value)| Node {
                    value: (!value.is_null()).then_some(value),
                    path: format!("{}[{index}]", self.path()),
                })
                .collect()),
            Some(_) => Err(self.wrong_type("an array")),
        }
    }

    /// An optional array of strings.
    pub fn strings(&self) -> Result<Vec<String>, FieldError> {
        self.items()?
            .iter()
            .map(|item| item.str().map(str::to_owned))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_name_the_full_path_of_the_field() {
        let value = json!({"pull_request": {"head": {"ref": "x"}}, "commits": [{"added": [1]}]});
        let root = Node::root(&value);
        let pr = root.field("pull_request");
        let head = pr.field("head");
        assert_eq!(
            head.field("sha").str(),
            Err(FieldError("pull_request.head.sha: missing".into()))
        );
        let commits = root.field("commits");
        let items = commits.items().unwrap();
        let added = items[0].field("added");
        assert_eq!(
            added.strings(),
            Err(FieldError(
                "commits[0].added[0]: expected a string, found a number".into()
            ))
        );
        assert_eq!(
            root.str(),
            Err(FieldError("(body): expected a string, found an object".into()))
        );
    }
}
