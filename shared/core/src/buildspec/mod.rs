//! The buildspec 0.2 model: YAML parsed once into validated types, with every error's key path and position.
//!
//! [`parse`] turns the bytes of a `buildspec.yml` into a [`Buildspec`] or into [`BuildspecErrors`] listing every
//! problem found (key path, 1-based line and column, a message quoting the bad value with a hint). The YAML is
//! read by `saphyr-parser` into a position-annotated tree (`tree`), which section walkers (`env`, `phases`,
//! `batch`, `outputs`) turn into the model, collecting errors instead of stopping at the first.
//!
//! Decisions where CodeBuild's behaviour is undocumented: unknown keys are errors, except the few seen in real
//! buildspecs (`env.compute-type` and friends, deprecated `artifacts.type`), which are accepted with a
//! [`Warning`]; `commands:` with no value is an empty list (with a warning); `phases` may be left out only when
//! `batch` is present (each batch build then names its own buildspec); YAML 1.1 booleans (`yes`, `no`, `on`,
//! `off`, any case) are accepted everywhere; scalars keep their written text, so `- 1.10` is the command `1.10`.
//! Hostile input is refused in bounded time and memory: [`MAX_BYTES`] (4 MiB) is checked before parsing, and the
//! tree builder caps nesting (64 levels), alias copies (100,000 nodes) and the whole tree (250,000 nodes);
//! neither the builder nor the walkers recurse deeper than the nesting cap.

mod batch;
mod env;
pub use env::{SecretRefError, secret_ref};
mod error;
mod model;
mod outputs;
mod phases;
mod tree;
mod walk;

#[cfg(test)]
mod tests;

pub use error::{BuildspecError, BuildspecErrors, ErrorKind};
pub use model::{
    ArtifactSet, Artifacts, Batch, BatchBuild, BatchEnv, BatchKind, BuildMatrix, Buildspec, Cache,
    CacheAction, Env, EnvVar, MatrixVariable, OnFailure, Phase, PhaseName, Proxy, ReportFormat, ReportGroup,
    RuntimeVersion, SecondaryArtifact, SecretVar, Shell, Step, StepAction, Warning,
};

use tree::{Node, Pos};
use walk::{Ctx, Fields, string};

/// The largest buildspec accepted, checked before parsing (4 MiB).
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

const TOP_KEYS: &[&str] = &[
    "version",
    "run-as",
    "env",
    "proxy",
    "batch",
    "phases",
    "reports",
    "artifacts",
    "cache",
];

/// Parses and validates a buildspec; every problem found is reported. Never panics, whatever the bytes.
pub fn parse(bytes: &[u8]) -> Result<Buildspec, BuildspecErrors> {
    let start = Pos { line: 1, column: 1 };
    check_size(bytes.len() as u64)?;
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            let offset = err.valid_up_to();
            return Err(one(position_of(&bytes[..offset]), ErrorKind::NotUtf8 { offset }));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root = match tree::build(text) {
        Ok(Some(root)) => root,
        Ok(None) => return Err(one(start, ErrorKind::Empty)),
        Err(err) => return Err(BuildspecErrors::one(err)),
    };
    let mut ctx = Ctx::default();
    let buildspec = document(&mut ctx, &root);
    match buildspec {
        Some(buildspec) if ctx.errors.is_empty() => Ok(Buildspec {
            warnings: ctx.warnings,
            ..buildspec
        }),
        Some(_) | None => Err(BuildspecErrors::new(ctx.errors)),
    }
}

/// Checks only the caps that protect whoever reads the buildspec (size, nesting, alias expansion, node count),
/// not what it means: an API that stores a buildspec refuses hostile text at once and leaves every other problem
/// to the build, where it is a `YAML_FILE_ERROR` as in CodeBuild.
pub fn check_limits(text: &str) -> Result<(), BuildspecError> {
    if let Err(errors) = check_size(text.len() as u64)
        && let Some(first) = errors.errors().first()
    {
        return Err(first.clone());
    }
    match tree::build(text) {
        Err(err) if err.kind.is_limit() => Err(err),
        Ok(_) | Err(_) => Ok(()),
    }
}

/// Refuses a buildspec of `size` bytes over [`MAX_BYTES`]; callers may check a file's length before reading it.
pub fn check_size(size: u64) -> Result<(), BuildspecErrors> {
    if size > MAX_BYTES as u64 {
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        return Err(one(
            Pos { line: 1, column: 1 },
            ErrorKind::TooLarge {
                size,
                limit: MAX_BYTES,
            },
        ));
    }
    Ok(())
}

fn one(pos: Pos, kind: ErrorKind) -> BuildspecErrors {
    BuildspecErrors::one(BuildspecError {
        path: String::new(),
        line: pos.line,
        column: pos.column,
        kind,
    })
}

/// Line and column just after `valid` (the bytes before an invalid UTF-8 sequence).
fn position_of(valid: &[u8]) -> Pos {
    let line = 1 + valid.iter().filter(|byte| **byte == b'\n').count();
    let line_start = valid
        .iter()
        .rposition(|byte| *byte == b'\n')
        .map_or(0, |index| index + 1);
    let column = 1 + String::from_utf8_lossy(&valid[line_start..]).chars().count();
    Pos { line, column }
}

fn document(ctx: &mut Ctx, root: &Node) -> Option<Buildspec> {
    let fields = Fields::of(ctx, root, "", TOP_KEYS, &[])?;
    version(ctx, &fields);
    let batch = fields.get("batch").and_then(|node| batch::batch(ctx, node));
    let phases = match fields.get_raw("phases") {
        Some(node) => phases::phases(ctx, node),
        None if fields.get_raw("batch").is_some() => Vec::new(),
        None => {
            let hint = " (add `phases:` with at least a `build:` phase and its `commands:`)".to_owned();
            ctx.error(
                "",
                root.pos,
                ErrorKind::MissingKey {
                    key: "phases".to_owned(),
                    hint,
                },
            );
            Vec::new()
        }
    };
    Some(Buildspec {
        run_as: fields.get("run-as").and_then(|node| string(ctx, node, "run-as")),
        env: fields
            .get("env")
            .map(|node| env::env(ctx, node))
            .unwrap_or_default(),
        proxy: fields
            .get("proxy")
            .map(|node| outputs::proxy(ctx, node))
            .unwrap_or_default(),
        batch,
        phases,
        reports: fields
            .get("reports")
            .map(|node| outputs::reports(ctx, node))
            .unwrap_or_default(),
        artifacts: fields
            .get("artifacts")
            .and_then(|node| outputs::artifacts(ctx, node)),
        cache: fields.get("cache").and_then(|node| outputs::cache(ctx, node)),
        warnings: Vec::new(),
    })
}

fn version(ctx: &mut Ctx, fields: &Fields<'_>) {
    let Some(node) = fields.get("version") else {
        let hint = " (add `version: 0.2` as the first line)".to_owned();
        ctx.error(
            "",
            fields.key_pos("version").unwrap_or(fields.pos),
            ErrorKind::MissingKey {
                key: "version".to_owned(),
                hint,
            },
        );
        return;
    };
    let Some(text) = string(ctx, node, "version") else {
        return;
    };
    match text.trim() {
        "0.2" => {}
        "0.1" => ctx.error("version", node.pos, ErrorKind::UnsupportedVersion { found: text }),
        _ => ctx.error(
            "version",
            node.pos,
            ErrorKind::InvalidValue {
                expected: "0.2".to_owned(),
                found: walk::truncate(&text),
                hint: " (kiln supports buildspec version 0.2)".to_owned(),
            },
        ),
    }
}
