//! The `env` section, including the Secrets Manager reference grammar
//! `secret-id[:json-key[:version-stage[:version-id]]]` where `secret-id` may be an ARN with its own colons.

use crate::ports::secrets::SecretRef;

use super::error::ErrorKind;
use super::model::{Env, SecretVar, Shell};
use super::tree::{Node, Value};
use super::walk::{Ctx, Fields, Tolerated, boolean, join, string, string_list, truncate, variables};

const KEYS: &[&str] = &[
    "shell",
    "variables",
    "parameter-store",
    "secrets-manager",
    "exported-variables",
    "git-credential-helper",
];

const PROJECT_SETTING: &str = "is a project environment setting, not a buildspec one; it is ignored here (set it on the project or in a batch build's env)";

/// Keys seen in real buildspecs' `env` that CodeBuild ignores.
const TOLERATED: &[Tolerated<'static>] = &[
    ("compute-type", PROJECT_SETTING),
    ("image", PROJECT_SETTING),
    ("type", PROJECT_SETTING),
    ("privileged-mode", PROJECT_SETTING),
];

/// Walks `env`.
pub(crate) fn env(ctx: &mut Ctx, node: &Node) -> Env {
    let path = "env";
    let mut env = Env::default();
    let Some(fields) = Fields::of(ctx, node, path, KEYS, TOLERATED) else {
        return env;
    };
    if let Some(node) = fields.get("shell") {
        env.shell = shell(ctx, node, &join(path, "shell"));
    }
    if let Some(node) = fields.get("variables") {
        env.variables = variables(ctx, node, &join(path, "variables"));
    }
    for key in ["variables", "parameter-store", "secrets-manager"] {
        if let Some(node) = fields.get(key) {
            reserved_names(ctx, node, &join(path, key));
        }
    }
    if let Some(node) = fields.get("parameter-store") {
        let path = join(path, "parameter-store");
        env.parameter_store = secrets(ctx, node, &path, |name| Ok(SecretRef::Parameter(name.to_owned())));
    }
    if let Some(node) = fields.get("secrets-manager") {
        env.secrets_manager = secrets(ctx, node, &join(path, "secrets-manager"), secret_ref);
    }
    if let Some(node) = fields.get("exported-variables") {
        let path = join(path, "exported-variables");
        env.exported_variables = string_list(ctx, node, &path, " (a variable name)");
        for name in env
            .exported_variables
            .iter()
            .filter(|name| name.starts_with("AWS_"))
        {
            let message = format!("{name:?} starts with AWS_, and CodeBuild never exports such variables");
            ctx.warn(&path, node.pos, message);
        }
    }
    if let Some(node) = fields.get("git-credential-helper") {
        env.git_credential_helper = boolean(ctx, node, &join(path, "git-credential-helper")).unwrap_or(false);
    }
    env
}

/// Names starting with `CODEBUILD_` are reserved for the service.
fn reserved_names(ctx: &mut Ctx, node: &Node, path: &str) {
    let Value::Map(entries) = &node.value else { return };
    for (key, _) in entries {
        if let Value::Scalar { text, .. } = &key.value
            && text.starts_with("CODEBUILD_")
        {
            let message = format!(
                "{text:?} starts with CODEBUILD_, which is reserved for built-in variables; rename it"
            );
            ctx.error(&join(path, text), key.pos, ErrorKind::Rule { message });
        }
    }
}

fn shell(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Shell> {
    let text = string(ctx, node, path)?;
    let shell = match text.trim() {
        "sh" | "/bin/sh" => Shell::Sh,
        "bash" | "/bin/bash" => Shell::Bash,
        "powershell.exe" => Shell::PowerShell,
        "cmd.exe" => Shell::Cmd,
        _ => {
            let kind = ErrorKind::InvalidValue {
                expected: "bash, /bin/sh, powershell.exe or cmd.exe".to_owned(),
                found: truncate(&text),
                hint: String::new(),
            };
            ctx.error(path, node.pos, kind);
            return None;
        }
    };
    Some(shell)
}

/// A mapping of variable name to reference; trailing spaces (common in real files) are trimmed.
fn secrets(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    parse: fn(&str) -> Result<SecretRef, SecretRefError>,
) -> Vec<SecretVar> {
    let Some(fields) = Fields::any(ctx, node, path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, _, value) in fields.iter() {
        let value_path = join(path, name);
        let Some(text) = string(ctx, value, &value_path) else {
            if value.is_null() {
                ctx.error(&value_path, value.pos, missing_reference());
            }
            continue;
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            ctx.error(&value_path, value.pos, missing_reference());
            continue;
        }
        match parse(trimmed) {
            Ok(reference) => out.push(SecretVar {
                name: name.to_owned(),
                reference,
            }),
            Err(problem) => {
                let kind = ErrorKind::InvalidValue {
                    expected: "secret-id[:json-key[:version-stage[:version-id]]]".to_owned(),
                    found: truncate(&text),
                    hint: format!("; {problem}"),
                };
                ctx.error(&value_path, value.pos, kind);
            }
        }
    }
    out
}

fn missing_reference() -> ErrorKind {
    ErrorKind::WrongType {
        expected: "a parameter name or secret reference".to_owned(),
        found: "nothing".to_owned(),
    }
}

/// Why a Secrets Manager reference cannot be split; callers quote the reference beside the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretRefError {
    /// An `arn:` id with fewer than the seven fields of a secret ARN.
    #[error("a secret ARN has the form arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME")]
    ShortArn,
    /// More than `secret-id:json-key:version-stage:version-id`.
    #[error("there are more than four fields: quote nothing, but remove the extra colons")]
    TooManyFields,
    /// Nothing before the first colon.
    #[error("the secret id before the first colon is required")]
    MissingSecretId,
    /// Both `version-stage` and `version-id`.
    #[error("set version-stage or version-id, not both (leave one field empty: `id:key::version-id`)")]
    StageAndVersionId,
}

/// Splits a Secrets Manager reference. An ARN's first seven colon-separated fields are the secret id.
pub fn secret_ref(text: &str) -> Result<SecretRef, SecretRefError> {
    let fields: Vec<&str> = text.split(':').collect();
    let id_fields = if text.starts_with("arn:") { 7 } else { 1 };
    if fields.len() < id_fields {
        return Err(SecretRefError::ShortArn);
    }
    let rest = &fields[id_fields..];
    if rest.len() > 3 {
        return Err(SecretRefError::TooManyFields);
    }
    let secret_id = fields[..id_fields].join(":");
    if secret_id.is_empty() {
        return Err(SecretRefError::MissingSecretId);
    }
    let field = |index: usize| {
        rest.get(index)
            .filter(|value| !value.is_empty())
            .map(|value| (*value).to_owned())
    };
    let (json_key, version_stage, version_id) = (field(0), field(1), field(2));
    if version_stage.is_some() && version_id.is_some() {
        return Err(SecretRefError::StageAndVersionId);
    }
    Ok(SecretRef::Secret {
        secret_id,
        json_key,
        version_stage,
        version_id,
    })
}
