//! The engine's targets for artifacts and cache ([`ArtifactTarget`], [`CacheTarget`]) and the buildspec's
//! output sections as specs (through the conversions in [`artifacts`], [`cache`] and [`reports`]); the engine
//! evaluates shell syntax in `name`, `files`, `base-directory` and cache keys in the build's shell.

use std::sync::Arc;

use kiln_core::buildspec::Buildspec;
use kiln_core::ports::object_store::ObjectStore;

use crate::artifacts::{self, ArtifactSpec, Packaging};
use crate::cache::{CacheLocation, CacheSpec};
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
    buildspec
        .artifacts
        .as_ref()
        .map(artifacts::specs_from)
        .unwrap_or_default()
}

/// The cache section as a spec, with `key` and `fallback-keys` still unevaluated.
pub fn cache_spec(buildspec: &Buildspec) -> Option<CacheSpec> {
    buildspec.cache.as_ref().map(CacheSpec::from)
}

/// The report groups as specs.
pub fn report_specs(buildspec: &Buildspec) -> Vec<ReportSpec> {
    buildspec.reports.iter().map(ReportSpec::from).collect()
}

/// True when `text` needs the shell to evaluate it (`$VAR`, `$(cmd)`, backquotes).
pub fn needs_shell(text: &str) -> bool {
    text.contains('$') || text.contains('`')
}
