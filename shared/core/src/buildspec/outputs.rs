//! The output sections: `artifacts` (with `secondary-artifacts`), `reports`, `cache` and `proxy`.

use super::error::ErrorKind;
use super::model::{
    ArtifactSet, Artifacts, Cache, CacheAction, Proxy, ReportFormat, ReportGroup, SecondaryArtifact,
};
use super::tree::Node;
use super::walk::{Ctx, Fields, Tolerated, boolean, join, string, string_list, truncate};

const ARTIFACT_KEYS: &[&str] = &[
    "files",
    "name",
    "discard-paths",
    "base-directory",
    "exclude-paths",
    "enable-symlinks",
    "s3-prefix",
];
const DEPRECATED_TYPE: &[Tolerated<'static>] = &[(
    "type",
    "is deprecated since buildspec 0.2 and ignored; set the artifact type on the project",
)];
const REPORT_KEYS: &[&str] = &["files", "base-directory", "discard-paths", "file-format"];
const CACHE_KEYS: &[&str] = &["paths", "key", "fallback-keys", "action"];
const FILES_HINT: &str = " (a path or glob such as '**/*')";

/// Walks `artifacts`.
pub(crate) fn artifacts(ctx: &mut Ctx, node: &Node) -> Option<Artifacts> {
    let mut keys = ARTIFACT_KEYS.to_vec();
    keys.push("secondary-artifacts");
    let fields = Fields::of(ctx, node, "artifacts", &keys, DEPRECATED_TYPE)?;
    let primary = artifact_set(ctx, &fields, "artifacts");
    let mut secondary = Vec::new();
    if let Some(node) = fields.get("secondary-artifacts") {
        let path = "artifacts.secondary-artifacts";
        if let Some(entries) = Fields::any(ctx, node, path) {
            for (identifier, _, value) in entries.iter() {
                let path = join(path, identifier);
                let Some(fields) = Fields::of(ctx, value, &path, ARTIFACT_KEYS, DEPRECATED_TYPE) else {
                    continue;
                };
                let artifact = artifact_set(ctx, &fields, &path);
                secondary.push(SecondaryArtifact {
                    identifier: identifier.to_owned(),
                    artifact,
                });
            }
        }
    }
    Some(Artifacts { primary, secondary })
}

fn artifact_set(ctx: &mut Ctx, fields: &Fields<'_>, path: &str) -> ArtifactSet {
    let text = |ctx: &mut Ctx, key: &str| {
        fields
            .get(key)
            .and_then(|node| string(ctx, node, &join(path, key)))
    };
    let flag = |ctx: &mut Ctx, key: &str| {
        fields
            .get(key)
            .and_then(|node| boolean(ctx, node, &join(path, key)))
            .unwrap_or(false)
    };
    ArtifactSet {
        files: required_files(ctx, fields, path, "files"),
        name: text(ctx, "name"),
        discard_paths: flag(ctx, "discard-paths"),
        base_directory: text(ctx, "base-directory"),
        exclude_paths: fields
            .get("exclude-paths")
            .map(|node| string_list(ctx, node, &join(path, "exclude-paths"), FILES_HINT))
            .unwrap_or_default(),
        enable_symlinks: flag(ctx, "enable-symlinks"),
        s3_prefix: text(ctx, "s3-prefix"),
    }
}

/// A required, non-null list of paths.
fn required_files(ctx: &mut Ctx, fields: &Fields<'_>, path: &str, key: &str) -> Vec<String> {
    match fields.get(key) {
        Some(node) => string_list(ctx, node, &join(path, key), FILES_HINT),
        None => {
            let hint = format!(" (list the paths to collect, e.g. `{key}: ['**/*']`)");
            let pos = fields.key_pos(key).unwrap_or(fields.pos);
            ctx.error(
                path,
                pos,
                ErrorKind::MissingKey {
                    key: key.to_owned(),
                    hint,
                },
            );
            Vec::new()
        }
    }
}

/// Walks `reports`.
pub(crate) fn reports(ctx: &mut Ctx, node: &Node) -> Vec<ReportGroup> {
    let Some(groups) = Fields::any(ctx, node, "reports") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, _, value) in groups.iter() {
        let path = join("reports", name);
        let Some(fields) = Fields::of(ctx, value, &path, REPORT_KEYS, &[]) else {
            continue;
        };
        let files = required_files(ctx, &fields, &path, "files");
        let base_directory = fields
            .get("base-directory")
            .and_then(|node| string(ctx, node, &join(&path, "base-directory")));
        let discard_paths = fields
            .get("discard-paths")
            .and_then(|node| boolean(ctx, node, &join(&path, "discard-paths")))
            .unwrap_or(false);
        let file_format = fields
            .get("file-format")
            .and_then(|node| report_format(ctx, node, &join(&path, "file-format")))
            .unwrap_or(ReportFormat::JunitXml);
        out.push(ReportGroup {
            name: name.to_owned(),
            files,
            base_directory,
            discard_paths,
            file_format,
        });
    }
    out
}

const FORMATS: &[(&str, ReportFormat)] = &[
    ("CUCUMBERJSON", ReportFormat::CucumberJson),
    ("JUNITXML", ReportFormat::JunitXml),
    ("NUNITXML", ReportFormat::NunitXml),
    ("NUNIT3XML", ReportFormat::Nunit3Xml),
    ("TESTNGXML", ReportFormat::TestNgXml),
    ("VISUALSTUDIOTRX", ReportFormat::VisualStudioTrx),
    ("CLOVERXML", ReportFormat::CloverXml),
    ("COBERTURAXML", ReportFormat::CoberturaXml),
    ("JACOCOXML", ReportFormat::JacocoXml),
    ("SIMPLECOV", ReportFormat::SimpleCov),
];

fn report_format(ctx: &mut Ctx, node: &Node, path: &str) -> Option<ReportFormat> {
    let text = string(ctx, node, path)?;
    let upper = text.trim().to_ascii_uppercase();
    let found = FORMATS
        .iter()
        .find(|(name, _)| *name == upper)
        .map(|(_, format)| *format);
    if found.is_none() {
        let names: Vec<&str> = FORMATS.iter().map(|(name, _)| *name).collect();
        let kind = ErrorKind::InvalidValue {
            expected: format!("one of {}", names.join(", ")),
            found: truncate(&text),
            hint: String::new(),
        };
        ctx.error(path, node.pos, kind);
    }
    found
}

/// Walks `cache`.
pub(crate) fn cache(ctx: &mut Ctx, node: &Node) -> Option<Cache> {
    let path = "cache";
    let fields = Fields::of(ctx, node, path, CACHE_KEYS, &[])?;
    let paths = required_files(ctx, &fields, path, "paths");
    let key = fields.get("key").and_then(|node| string(ctx, node, "cache.key"));
    let fallback_keys = fields
        .get("fallback-keys")
        .map(|node| string_list(ctx, node, "cache.fallback-keys", " (a key prefix)"))
        .unwrap_or_default();
    let action = fields.get("action").and_then(|node| {
        let text = string(ctx, node, "cache.action")?;
        match text.trim() {
            "restore" => Some(CacheAction::Restore),
            "save" => Some(CacheAction::Save),
            _ => {
                let kind = ErrorKind::InvalidValue {
                    expected: "restore or save".to_owned(),
                    found: truncate(&text),
                    hint: " (leave `action` out to restore and save)".to_owned(),
                };
                ctx.error("cache.action", node.pos, kind);
                None
            }
        }
    });
    Some(Cache {
        paths,
        key,
        fallback_keys,
        action,
    })
}

/// Walks `proxy`.
pub(crate) fn proxy(ctx: &mut Ctx, node: &Node) -> Proxy {
    let Some(fields) = Fields::of(ctx, node, "proxy", &["upload-artifacts", "logs"], &[]) else {
        return Proxy::default();
    };
    let flag = |ctx: &mut Ctx, key: &str| {
        fields
            .get(key)
            .and_then(|node| boolean(ctx, node, &join("proxy", key)))
            .unwrap_or(false)
    };
    Proxy {
        upload_artifacts: flag(ctx, "upload-artifacts"),
        logs: flag(ctx, "logs"),
    }
}
