//! Buildspec errors: each one names the key path, the 1-based line and column, and what is wrong with a hint.

use std::fmt;

/// Every problem found in one buildspec (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildspecErrors {
    errors: Vec<BuildspecError>,
}

impl BuildspecErrors {
    /// Wraps a non-empty list of errors, sorted by position.
    pub(crate) fn new(mut errors: Vec<BuildspecError>) -> Self {
        errors.sort_by_key(|error| (error.line, error.column));
        Self { errors }
    }

    /// Wraps a single error.
    pub(crate) fn one(error: BuildspecError) -> Self {
        Self { errors: vec![error] }
    }

    /// The errors, in file order.
    pub fn errors(&self) -> &[BuildspecError] {
        &self.errors
    }
}

impl fmt::Display for BuildspecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.errors.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BuildspecErrors {}

/// One problem, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildspecError {
    /// Key path such as `phases.build.on-failure` or `reports.unit.files[2]`; empty for the whole document.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl BuildspecError {
    /// The key path, or `(document)` for errors about the file as a whole.
    pub fn display_path(&self) -> &str {
        if self.path.is_empty() {
            "(document)"
        } else {
            &self.path
        }
    }
}

impl fmt::Display for BuildspecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} at line {}, column {}",
            self.display_path(),
            self.kind,
            self.line,
            self.column
        )
    }
}

/// The kinds of buildspec problems.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The file is bigger than the size cap.
    #[error(
        "the buildspec is {size} bytes, more than the {limit}-byte (4 MiB) limit; keep it small and move data to files"
    )]
    TooLarge { size: usize, limit: usize },
    /// The bytes are not UTF-8.
    #[error("the buildspec is not valid UTF-8 (bad byte at offset {offset}); save it as UTF-8")]
    NotUtf8 { offset: usize },
    /// Nothing but whitespace and comments.
    #[error("the buildspec is empty; it needs at least `version: 0.2` and `phases`")]
    Empty,
    /// The YAML itself is malformed.
    #[error("invalid YAML: {message}")]
    Syntax { message: String },
    /// More than one YAML document.
    #[error("a buildspec is a single YAML document, found a second one; remove the extra `---`")]
    MultipleDocuments,
    /// Nesting deeper than the cap.
    #[error("nesting is deeper than {limit} levels; a buildspec never needs that many")]
    TooDeep { limit: usize },
    /// Aliases expand to too many nodes (billion laughs).
    #[error("aliases expand to more than {limit} nodes; write the values out instead of nesting aliases")]
    AliasBudget { limit: usize },
    /// More values than any buildspec needs.
    #[error("the buildspec has more than {limit} values; a buildspec never needs that many")]
    TooManyNodes { limit: usize },
    /// An alias names no anchor.
    #[error("alias refers to an unknown anchor; define `&name` before using `*name`")]
    UnknownAnchor,
    /// A key appears twice in one mapping.
    #[error("duplicate key {key:?} (first defined at line {first_line}); remove one of them")]
    DuplicateKey { key: String, first_line: usize },
    /// A key that is not allowed here.
    #[error("unknown key {key:?}{hint}")]
    UnknownKey { key: String, hint: String },
    /// A required key is missing.
    #[error("missing required key `{key}`{hint}")]
    MissingKey { key: String, hint: String },
    /// A value of the wrong YAML type.
    #[error("expected {expected}, got {found}")]
    WrongType { expected: String, found: String },
    /// A scalar whose text is not an accepted value.
    #[error("expected {expected}, got {found:?}{hint}")]
    InvalidValue {
        expected: String,
        found: String,
        hint: String,
    },
    /// Version 0.1 or another unsupported version.
    #[error(
        "buildspec version {found:?} is not supported; kiln supports version 0.2 (0.1 ran every command in its own shell); set `version: 0.2`"
    )]
    UnsupportedVersion { found: String },
    /// A rule that spans several keys.
    #[error("{message}")]
    Rule { message: String },
}

impl ErrorKind {
    /// Whether this is one of the caps on hostile input (size, nesting, alias expansion, node count).
    pub fn is_limit(&self) -> bool {
        match self {
            ErrorKind::TooLarge { .. }
            | ErrorKind::TooDeep { .. }
            | ErrorKind::AliasBudget { .. }
            | ErrorKind::TooManyNodes { .. } => true,
            ErrorKind::NotUtf8 { .. }
            | ErrorKind::Empty
            | ErrorKind::Syntax { .. }
            | ErrorKind::MultipleDocuments
            | ErrorKind::UnknownAnchor
            | ErrorKind::DuplicateKey { .. }
            | ErrorKind::UnknownKey { .. }
            | ErrorKind::MissingKey { .. }
            | ErrorKind::WrongType { .. }
            | ErrorKind::InvalidValue { .. }
            | ErrorKind::UnsupportedVersion { .. }
            | ErrorKind::Rule { .. } => false,
        }
    }
}
