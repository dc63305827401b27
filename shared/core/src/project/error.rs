//! The project validation error: the key path of the bad field and what is wrong with it.

use std::fmt;

/// A field of a project definition that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {problem}", if path.is_empty() { "<root>" } else { path })]
pub struct ProjectError {
    /// Key path, e.g. `projects[1].environment.computeType`.
    pub path: String,
    /// What is wrong.
    pub problem: Problem,
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// A value outside a fixed set.
    #[error("unknown value {value:?}; expected one of {}", expected.join(", "))]
    Unknown {
        value: String,
        expected: Vec<&'static str>,
    },
    /// A number outside its range.
    #[error("{value} is out of range; use {min} to {max}")]
    OutOfRange { value: i64, min: i64, max: i64 },
    /// A required field that is absent.
    #[error("missing; {hint}")]
    Missing { hint: &'static str },
    /// A value that breaks a rule.
    #[error("invalid value {value:?}: {reason}")]
    Invalid { value: String, reason: String },
    /// A memory size Fargate does not offer with the chosen cpu.
    #[error(
        "memory {memory} MiB is not available with cpu {cpu}; valid memory values (MiB): {}",
        list(valid)
    )]
    FargateMemory { cpu: u32, memory: u32, valid: Vec<u32> },
    /// A name used twice where names must be unique.
    #[error("duplicate name {0:?}; names must be unique")]
    Duplicate(String),
    /// An inline buildspec over a cap on hostile input (size, nesting, alias expansion, node count).
    #[error("the inline buildspec is refused: {0}")]
    Buildspec(String),
    /// Too many entries in a list.
    #[error("{count} entries; at most {max} are allowed")]
    TooMany { count: usize, max: usize },
}

fn list(values: &[u32]) -> String {
    values.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

/// A key path under construction, e.g. `projects[1]` then `.environment`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(String);

impl FieldPath {
    /// The empty (root) path.
    pub fn root() -> Self {
        Self(String::new())
    }

    /// A root path with a name, e.g. `projects[0]`.
    pub fn named(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// This path extended by a member.
    pub fn key(&self, member: &str) -> Self {
        if self.0.is_empty() {
            Self(member.to_owned())
        } else {
            Self(format!("{}.{member}", self.0))
        }
    }

    /// This path extended by a list index.
    pub fn index(&self, i: usize) -> Self {
        Self(format!("{}[{i}]", self.0))
    }

    /// An error at this path.
    pub fn err(&self, problem: Problem) -> ProjectError {
        ProjectError {
            path: self.0.clone(),
            problem,
        }
    }

    /// An `Invalid` error at this path.
    pub fn invalid(&self, value: impl Into<String>, reason: impl Into<String>) -> ProjectError {
        self.err(Problem::Invalid {
            value: value.into(),
            reason: reason.into(),
        })
    }

    /// Parses `value` as one of `options` (CodeBuild enum names), or says which names are valid.
    pub fn one_of<T: Copy>(&self, value: &str, options: &[(&'static str, T)]) -> Result<T, ProjectError> {
        options
            .iter()
            .find(|(name, _)| *name == value)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                self.err(Problem::Unknown {
                    value: value.to_owned(),
                    expected: options.iter().map(|(name, _)| *name).collect(),
                })
            })
    }

    /// Checks `value` is within `min..=max`.
    pub fn in_range(&self, value: i64, min: i64, max: i64) -> Result<i64, ProjectError> {
        if (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(self.err(Problem::OutOfRange { value, min, max }))
        }
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "<root>" } else { &self.0 })
    }
}
