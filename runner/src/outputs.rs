//! The engine's glue to artifacts, cache and reports: turns the buildspec's sections into the [`artifacts`],
//! [`cache`] and [`reports`] specs (evaluating shell syntax in `name` and `key` in the build's shell), and holds
//! where each goes ([`ArtifactTarget`], [`CacheTarget`]).

use std::sync::Arc;

use kiln_shared::buildspec::{self, ArtifactSet, Buildspec};
use kiln_shared::ports::object_store::ObjectStore;

use crate::artifacts::{ArtifactSpec, Packaging};
use crate::cache::{CacheAction, CacheLocation, CacheSpec};
use crate::reports::ReportSpec;

/// Where a build's artifacts go.
#[derive(Clone)]
pub struct ArtifactTarget {
    /// The store (a directory locally, S3 on AWS).
    pub store: Arc<dyn ObjectStore>,
    /// Key prefix for this build's artifacts (e.g. `<project>/<build uuid>`).
    pub key_prefix: String,
    /// ZIP or a folder of files.
    pub packaging: Packaging,
}

/// Where a build's cache lives.
#[derive(Clone)]
pub struct CacheTarget {
    /// The store.
    pub store: Arc<dyn ObjectStore>,
    /// The project's cache location in it.
    pub location: CacheLocation,
}

/// The artifacts a buildspec declares (primary first), with `name` still unevaluated.
pub fn artifact_specs(buildspec: &Buildspec) -> Vec<ArtifactSpec> {
    let Some(artifacts) = &buildspec.artifacts else {
        return Vec::new();
    };
    let primary = std::iter::once(artifact_spec(&artifacts.primary, None));
    let secondary = artifacts
        .secondary
        .iter()
        .map(|s| artifact_spec(&s.artifact, Some(s.identifier.clone())));
    primary.chain(secondary).collect()
}

fn artifact_spec(set: &ArtifactSet, identifier: Option<String>) -> ArtifactSpec {
    ArtifactSpec {
        files: set.files.clone(),
        base_directory: set.base_directory.clone(),
        discard_paths: set.discard_paths,
        exclude_paths: set.exclude_paths.clone(),
        enable_symlinks: set.enable_symlinks,
        name: set.name.clone(),
        identifier,
    }
}

/// The cache section as a spec, with `key` and `fallback-keys` still unevaluated.
pub fn cache_spec(buildspec: &Buildspec) -> Option<CacheSpec> {
    let cache = buildspec.cache.as_ref()?;
    Some(CacheSpec {
        paths: cache.paths.clone(),
        key: cache.key.clone(),
        fallback_keys: cache.fallback_keys.clone(),
        action: match cache.action {
            None => CacheAction::Both,
            Some(buildspec::CacheAction::Restore) => CacheAction::Restore,
            Some(buildspec::CacheAction::Save) => CacheAction::Save,
        },
    })
}

/// The report groups as specs.
pub fn report_specs(buildspec: &Buildspec) -> Vec<ReportSpec> {
    buildspec
        .reports
        .iter()
        .map(|group| ReportSpec {
            name: group.name.clone(),
            files: group.files.clone(),
            base_directory: group.base_directory.clone(),
            discard_paths: group.discard_paths,
            file_format: Some(format!("{:?}", group.file_format).to_ascii_uppercase()),
        })
        .collect()
}

/// True when `text` needs the shell to evaluate it (`$VAR`, `$(cmd)`, backquotes).
pub fn needs_shell(text: &str) -> bool {
    text.contains('$') || text.contains('`')
}
