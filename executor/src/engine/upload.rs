//! UPLOAD_ARTIFACTS (reports, then every artifact through the object store) and the cache (restored before
//! INSTALL, saved after a successful POST_BUILD), with shell syntax in names, paths and keys evaluated in the
//! build's shell.

use super::{Engine, PhaseEnd};
use crate::outputs;

impl Engine {
    pub(super) async fn upload_artifacts(&mut self) -> PhaseEnd {
        let Some(buildspec) = self.buildspec.clone() else {
            return PhaseEnd::ok();
        };
        let Some(src) = self.src_dir() else {
            return PhaseEnd::ok();
        };
        for spec in outputs::report_specs(&buildspec) {
            let dir = src.clone();
            let summary = tokio::task::spawn_blocking(move || crate::reports::summarise(&spec, &dir)).await;
            if let Ok(summary) = summary {
                let line = format!(
                    "Report {}: {} ({} tests: {} passed, {} failed, {} skipped)",
                    summary.name,
                    summary.status,
                    summary.total,
                    summary.passed,
                    summary.failed,
                    summary.skipped
                );
                let _ = self.log.line(&line).await;
                self.result.reports.push(summary);
            }
        }
        let specs = outputs::artifact_specs(&buildspec);
        if specs.is_empty() {
            return PhaseEnd::ok();
        }
        let Some(target) = self.artifact_target.clone() else {
            let _ = self
                .log
                .line("Skipping artifact upload: no artifact location was given")
                .await;
            return PhaseEnd::ok();
        };
        for mut spec in specs {
            if let Some(session) = self.session.as_mut() {
                if let Some(name) = spec.name.clone().filter(|n| outputs::needs_shell(n)) {
                    spec.name = session.eval_text(&name).await.ok();
                }
                for pattern in spec.files.iter_mut().chain(spec.base_directory.as_mut()) {
                    if outputs::needs_shell(pattern) {
                        *pattern = session.eval_text(pattern).await.unwrap_or_default();
                    }
                }
            }
            let uploaded = crate::artifacts::package_and_upload(
                &spec,
                &src,
                target.packaging,
                target.store.as_ref(),
                &target.key_prefix,
            )
            .await;
            match uploaded {
                Ok(outcome) => {
                    for note in &outcome.notes {
                        let _ = self.log.line(note).await;
                    }
                    let line = format!(
                        "Uploaded artifact {} ({} files, {} bytes, sha256 {})",
                        outcome.location, outcome.files, outcome.size, outcome.sha256sum
                    );
                    let _ = self.log.line(&line).await;
                    self.result.artifacts.push(outcome);
                }
                Err(err) => return PhaseEnd::failed("CLIENT_ERROR", err.to_string()),
            }
        }
        PhaseEnd::ok()
    }

    pub(super) fn src_dir(&self) -> Option<std::path::PathBuf> {
        self.env.get("CODEBUILD_SRC_DIR").map(std::path::PathBuf::from)
    }

    /// The cache spec with `key` and `fallback-keys` evaluated in the build's shell (once).
    pub(super) async fn evaluated_cache_spec(&mut self) -> Option<crate::cache::CacheSpec> {
        if self.cache_spec.is_none() {
            let mut spec = outputs::cache_spec(self.buildspec.as_ref()?)?;
            let session = self.session.as_mut()?;
            if let Some(key) = spec.key.clone().filter(|k| outputs::needs_shell(k)) {
                spec.key = session.eval_text(&key).await.ok();
            }
            for fallback in &mut spec.fallback_keys {
                if outputs::needs_shell(fallback) {
                    *fallback = session.eval_text(fallback).await.unwrap_or_default();
                }
            }
            self.cache_spec = Some(spec);
        }
        self.cache_spec.clone()
    }

    pub(super) async fn restore_cache(&mut self) {
        let Some(target) = self.cache_target.clone() else {
            return;
        };
        let (Some(spec), Some(src)) = (self.evaluated_cache_spec().await, self.src_dir()) else {
            return;
        };
        let outcome = crate::cache::restore(&spec, &target.location, &src, target.store.as_ref()).await;
        let text = serde_json::to_string(&outcome).unwrap_or_default();
        let _ = self.log.line(&format!("Cache restore: {text}")).await;
    }

    pub(super) async fn save_cache(&mut self) {
        let Some(target) = self.cache_target.clone() else {
            return;
        };
        let (Some(spec), Some(src)) = (self.evaluated_cache_spec().await, self.src_dir()) else {
            return;
        };
        let outcome = crate::cache::save(&spec, &target.location, &src, target.store.as_ref()).await;
        let text = serde_json::to_string(&outcome).unwrap_or_default();
        let _ = self.log.line(&format!("Cache save: {text}")).await;
    }
}
