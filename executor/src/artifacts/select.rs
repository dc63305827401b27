//! File selection with CodeBuild's location forms, shared by artifacts, reports and the cache: `files` globs
//! (`**/*`, `dir/*`, `dir/**/*`, exact paths, a directory name for its whole tree) relative to the source
//! directory or to each directory matched by `base-directory` (itself a glob), `exclude-paths`, `discard-paths`,
//! and the symlink policy. Nothing outside the source directory is selected unless the caller allows absolute
//! paths (the cache's `/root/.m2/**/*`).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};
use walkdir::WalkDir;

/// Why a selection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("path {pattern:?} leaves the source directory; use a path relative to it without '..'")]
    Escapes { pattern: String },
    #[error("pattern {pattern:?} is not a valid glob: {reason}")]
    BadGlob { pattern: String, reason: String },
    #[error("cannot read {path:?}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// What to do with symbolic links met while selecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymlinkPolicy {
    /// Leave them out, with a note (artifacts without `enable-symlinks`).
    Skip,
    /// Keep links whose target resolves inside the source directory; leave out the others, with a note.
    KeepInside,
    /// Keep every link as a link (the cache: links are restored as they were).
    KeepAll,
}

/// The selection rules, in CodeBuild's terms.
#[derive(Debug, Clone)]
pub struct SelectOptions<'a> {
    /// `files`: location patterns relative to the base directory.
    pub files: &'a [String],
    /// `base-directory`: a directory or a glob over directories, relative to the source directory.
    pub base_directory: Option<&'a str>,
    /// `exclude-paths`: patterns (relative to the base directory) dropped from the selection.
    pub exclude_paths: &'a [String],
    /// `discard-paths`: keep only each file's name.
    pub discard_paths: bool,
    /// How symbolic links are treated.
    pub symlinks: SymlinkPolicy,
    /// Whether absolute `files` patterns are allowed (cache only).
    pub allow_absolute: bool,
}

/// One selected entry: where it is on disk and the name it gets in the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    /// The path on disk.
    pub source: PathBuf,
    /// The `/`-separated name inside the artifact (relative to its base directory, or just the file name).
    pub name: String,
    /// A regular file or a link.
    pub kind: SelectedKind,
}

/// What kind of entry was selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectedKind {
    /// A regular file.
    File,
    /// A symbolic link, kept as a link, with its target as written.
    Symlink { target: PathBuf },
}

/// The entries chosen, sorted by name, and notes about what was left out (CodeBuild logs "Skipping ...").
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Selected entries, sorted by name, names unique.
    pub entries: Vec<Selected>,
    /// Human-readable notes about skipped paths.
    pub notes: Vec<String>,
}

/// Selects the entries that `opts` names under `src_dir`.
pub fn select(src_dir: &Path, opts: &SelectOptions<'_>) -> Result<Selection, SelectError> {
    let src_real = canonical(src_dir)?;
    let excludes = build_set(opts.exclude_paths)?;
    let mut found: BTreeMap<String, Selected> = BTreeMap::new();
    let mut notes = Vec::new();
    for base in base_dirs(&src_real, opts.base_directory)? {
        for pattern in opts.files {
            let pattern = normalise(pattern, opts.allow_absolute)?;
            let walk = Walk {
                src_real: &src_real,
                base: &base,
                opts,
                excludes: &excludes,
            };
            walk.pattern(&pattern, &mut found, &mut notes)?;
        }
    }
    Ok(Selection {
        entries: found.into_values().collect(),
        notes,
    })
}

struct Walk<'a> {
    src_real: &'a Path,
    base: &'a Path,
    opts: &'a SelectOptions<'a>,
    excludes: &'a GlobSet,
}

impl Walk<'_> {
    fn pattern(
        &self,
        pattern: &str,
        found: &mut BTreeMap<String, Selected>,
        notes: &mut Vec<String>,
    ) -> Result<(), SelectError> {
        let absolute = pattern.starts_with('/');
        let root = if absolute { Path::new("/") } else { self.base };
        let (glob, prefix) = if has_meta(pattern) {
            (pattern.to_owned(), literal_prefix(pattern))
        } else {
            let path = root.join(pattern.trim_start_matches('/'));
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => (
                    format!("{}/**/*", pattern.trim_end_matches('/')),
                    pattern.trim_end_matches('/').to_owned(),
                ),
                Ok(_) => (pattern.to_owned(), pattern.to_owned()),
                Err(_) => return Ok(()),
            }
        };
        let matcher = compile(&glob)?;
        let start = root.join(prefix.trim_start_matches('/'));
        if !start.exists() && std::fs::symlink_metadata(&start).is_err() {
            return Ok(());
        }
        if !absolute && !canonical(&start)?.starts_with(self.src_real) {
            notes.push(format!(
                "skipping {prefix:?}: it resolves outside the source directory"
            ));
            return Ok(());
        }
        for entry in WalkDir::new(&start)
            .follow_links(false)
            .follow_root_links(false)
            .sort_by_file_name()
        {
            let entry = entry.map_err(|e| SelectError::Io {
                path: e.path().map(Path::to_path_buf).unwrap_or_else(|| start.clone()),
                source: e.into(),
            })?;
            if entry.file_type().is_dir() {
                continue;
            }
            let Ok(rel) = entry.path().strip_prefix(root) else {
                continue;
            };
            let rel = slash_path(rel);
            let matched = if absolute { format!("/{rel}") } else { rel.clone() };
            if !matcher.is_match(&matched) || self.excluded(&rel) {
                continue;
            }
            self.add(
                entry.path(),
                &matched,
                entry.file_type().is_symlink(),
                found,
                notes,
            )?;
        }
        Ok(())
    }

    fn excluded(&self, rel: &str) -> bool {
        let mut prefix = rel;
        loop {
            if self.excludes.is_match(prefix) {
                return true;
            }
            match prefix.rfind('/') {
                Some(i) => prefix = &prefix[..i],
                None => return false,
            }
        }
    }

    fn add(
        &self,
        path: &Path,
        rel: &str,
        is_link: bool,
        found: &mut BTreeMap<String, Selected>,
        notes: &mut Vec<String>,
    ) -> Result<(), SelectError> {
        let kind = if is_link {
            let Some(kind) = self.link_kind(path, rel, notes)? else {
                return Ok(());
            };
            kind
        } else {
            SelectedKind::File
        };
        let name = if self.opts.discard_paths {
            rel.rsplit('/').next().unwrap_or(rel).to_owned()
        } else {
            rel.to_owned()
        };
        if let Some(previous) = found.get(&name) {
            if previous.source != path {
                notes.push(format!(
                    "skipping {:?}: {name:?} is already taken by {:?}",
                    path, previous.source
                ));
            }
            return Ok(());
        }
        found.insert(
            name.clone(),
            Selected {
                source: path.to_path_buf(),
                name,
                kind,
            },
        );
        Ok(())
    }

    fn link_kind(
        &self,
        path: &Path,
        rel: &str,
        notes: &mut Vec<String>,
    ) -> Result<Option<SelectedKind>, SelectError> {
        let target = std::fs::read_link(path).map_err(|source| SelectError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        match self.opts.symlinks {
            SymlinkPolicy::Skip => {
                notes.push(format!(
                    "skipping symlink {rel:?}: symlinks are kept only with enable-symlinks"
                ));
                Ok(None)
            }
            SymlinkPolicy::KeepAll => Ok(Some(SelectedKind::Symlink { target })),
            SymlinkPolicy::KeepInside => match std::fs::canonicalize(path) {
                Ok(real) if real.starts_with(self.src_real) => Ok(Some(SelectedKind::Symlink { target })),
                Ok(_) | Err(_) => {
                    notes.push(format!(
                        "skipping symlink {rel:?}: its target {target:?} is outside the source directory or missing"
                    ));
                    Ok(None)
                }
            },
        }
    }
}

/// The directories the `base-directory` value names (all matches of a glob), or the source directory itself.
fn base_dirs(src_real: &Path, base: Option<&str>) -> Result<Vec<PathBuf>, SelectError> {
    let Some(base) = base.map(str::trim).filter(|b| !b.is_empty()) else {
        return Ok(vec![src_real.to_path_buf()]);
    };
    let base = normalise(base, false)?;
    let base = base.trim_end_matches('/');
    let mut dirs = Vec::new();
    if has_meta(base) {
        let matcher = compile(base)?;
        let depth = base.split('/').count();
        let start = src_real.join(literal_prefix(base));
        for entry in WalkDir::new(&start)
            .min_depth(1)
            .max_depth(depth)
            .sort_by_file_name()
        {
            let Ok(entry) = entry else { continue };
            let Ok(rel) = entry.path().strip_prefix(src_real) else {
                continue;
            };
            if entry.file_type().is_dir() && matcher.is_match(slash_path(rel)) {
                dirs.push(entry.path().to_path_buf());
            }
        }
    } else if src_real.join(base).is_dir() {
        dirs.push(src_real.join(base));
    }
    let mut inside = Vec::new();
    for dir in dirs {
        if canonical(&dir)?.starts_with(src_real) {
            inside.push(canonical(&dir)?);
        }
    }
    Ok(inside)
}

/// Strips `./`, refuses `..` components and (unless allowed) absolute paths.
fn normalise(pattern: &str, allow_absolute: bool) -> Result<String, SelectError> {
    let trimmed = pattern.trim();
    let mut p = trimmed;
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    let escapes = || SelectError::Escapes {
        pattern: pattern.to_owned(),
    };
    if p.starts_with('/') && !allow_absolute {
        return Err(escapes());
    }
    if Path::new(p)
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(escapes());
    }
    if p.is_empty() || p == "." {
        return Ok("**/*".to_owned());
    }
    Ok(p.to_owned())
}

fn has_meta(pattern: &str) -> bool {
    pattern.contains(['*', '?', '[', '{'])
}

/// The leading components of `pattern` that contain no glob characters (where a walk can start).
fn literal_prefix(pattern: &str) -> String {
    let parts: Vec<&str> = pattern.split('/').take_while(|part| !has_meta(part)).collect();
    let prefix = parts.join("/");
    if pattern.starts_with('/') && prefix.is_empty() {
        "/".to_owned()
    } else {
        prefix
    }
}

fn compile(pattern: &str) -> Result<GlobMatcher, SelectError> {
    Ok(glob(pattern)?.compile_matcher())
}

fn glob(pattern: &str) -> Result<globset::Glob, SelectError> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| SelectError::BadGlob {
            pattern: pattern.to_owned(),
            reason: e.kind().to_string(),
        })
}

fn build_set(patterns: &[String]) -> Result<GlobSet, SelectError> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        builder.add(glob(&normalise(pattern, false)?)?);
    }
    builder.build().map_err(|e| SelectError::BadGlob {
        pattern: patterns.join(", "),
        reason: e.kind().to_string(),
    })
}

fn canonical(path: &Path) -> Result<PathBuf, SelectError> {
    std::fs::canonicalize(path).map_err(|source| SelectError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn slash_path(rel: &Path) -> String {
    rel.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy()),
            Component::Prefix(_) | Component::RootDir | Component::CurDir | Component::ParentDir => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}
