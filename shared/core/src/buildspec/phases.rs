//! The `phases` section: the four phases in order, `on-failure`, `runtime-versions`, commands and
//! GitHub Actions `steps`.

use super::error::ErrorKind;
use super::model::{OnFailure, Phase, PhaseName, RuntimeVersion, Step, StepAction};
use super::tree::{Node, Value};
use super::walk::{Ctx, Fields, boolean, join, string, string_list, truncate, variables};

const PHASE_KEYS: &[&str] = &["install", "pre_build", "build", "post_build"];
const INSTALL_KEYS: &[&str] = &[
    "run-as",
    "on-failure",
    "runtime-versions",
    "commands",
    "finally",
    "steps",
];
const KEYS: &[&str] = &["run-as", "on-failure", "commands", "finally", "steps"];
const STEP_KEYS: &[&str] = &[
    "name",
    "id",
    "if",
    "env",
    "continue-on-error",
    "timeout-minutes",
    "run",
    "shell",
    "working-directory",
    "uses",
    "with",
];
const COMMAND_HINT: &str = " (quote the command: an unquoted `: ` makes YAML read it as a mapping)";

/// Walks `phases` into the declared phases, in execution order.
pub(crate) fn phases(ctx: &mut Ctx, node: &Node) -> Vec<Phase> {
    let Some(fields) = Fields::of(ctx, node, "phases", PHASE_KEYS, &[]) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for name in PhaseName::ALL {
        if let Some(value) = fields.get_raw(name.key()) {
            out.extend(phase(ctx, name, value));
        }
    }
    out
}

fn phase(ctx: &mut Ctx, name: PhaseName, node: &Node) -> Option<Phase> {
    let path = join("phases", name.key());
    let keys = match name {
        PhaseName::Install => INSTALL_KEYS,
        PhaseName::PreBuild | PhaseName::Build | PhaseName::PostBuild => KEYS,
    };
    let fields = Fields::of(ctx, node, &path, keys, &[])?;
    let mut phase = Phase {
        name,
        run_as: None,
        on_failure: None,
        runtime_versions: Vec::new(),
        commands: Vec::new(),
        finally: Vec::new(),
        steps: Vec::new(),
    };
    if let Some(node) = fields.get("run-as") {
        phase.run_as = string(ctx, node, &join(&path, "run-as"));
    }
    if let Some(node) = fields.get("on-failure") {
        phase.on_failure = on_failure(ctx, node, &join(&path, "on-failure"));
    }
    if let Some(node) = fields.get_raw("runtime-versions") {
        phase.runtime_versions = runtime_versions(ctx, node, &join(&path, "runtime-versions"));
    }
    match fields.get_raw("commands") {
        Some(node) if node.is_null() => {
            let message = "`commands:` has no list; it is treated as an empty list (write `commands: []` or add commands)";
            ctx.warn(&join(&path, "commands"), node.pos, message);
        }
        Some(node) => phase.commands = string_list(ctx, node, &join(&path, "commands"), COMMAND_HINT),
        None => {}
    }
    if let Some(node) = fields.get("finally") {
        phase.finally = string_list(ctx, node, &join(&path, "finally"), COMMAND_HINT);
    }
    if let Some(node) = fields.get("steps") {
        phase.steps = steps(ctx, node, &join(&path, "steps"));
    }
    let has_steps = fields.get_raw("steps").is_some();
    if has_steps && fields.get_raw("commands").is_some() {
        let message = "a phase has either `commands` or GitHub Actions `steps`, not both".to_owned();
        ctx.error(&path, fields.pos, ErrorKind::Rule { message });
    }
    let requires_commands = !matches!(name, PhaseName::Install);
    if requires_commands && !has_steps && fields.get_raw("commands").is_none() {
        let hint = format!(" (every declared {} phase needs a `commands:` list)", name.key());
        ctx.error(
            &path,
            node.pos,
            ErrorKind::MissingKey {
                key: "commands".to_owned(),
                hint,
            },
        );
    }
    Some(phase)
}

/// `ABORT`, `CONTINUE`, `RETRY`, `RETRY-<count>`, `RETRY-<regex>` or `RETRY-<count>-<regex>`.
pub(crate) fn parse_on_failure(text: &str) -> Option<OnFailure> {
    match text {
        "ABORT" => return Some(OnFailure::Abort),
        "CONTINUE" => return Some(OnFailure::Continue),
        "RETRY" => {
            return Some(OnFailure::Retry {
                count: None,
                pattern: None,
            });
        }
        _ => {}
    }
    let rest = text.strip_prefix("RETRY-")?;
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let (count, pattern) = match (digits, &rest[digits..]) {
        (0, pattern) => (None, Some(pattern)),
        (_, "") => (Some(&rest[..digits]), None),
        (_, tail) => match tail.strip_prefix('-') {
            Some(pattern) => (Some(&rest[..digits]), Some(pattern)),
            None => (None, Some(rest)),
        },
    };
    let count = match count {
        Some(count) => Some(count.parse::<u32>().ok().filter(|count| *count > 0)?),
        None => None,
    };
    if pattern.is_some_and(str::is_empty) {
        return None;
    }
    Some(OnFailure::Retry {
        count,
        pattern: pattern.map(str::to_owned),
    })
}

fn on_failure(ctx: &mut Ctx, node: &Node, path: &str) -> Option<OnFailure> {
    let text = string(ctx, node, path)?;
    let parsed = parse_on_failure(&text);
    if parsed.is_none() {
        let upper = text.to_ascii_uppercase();
        let hint = if upper != text && parse_on_failure(&upper).is_some() {
            format!(" (values are upper case: {upper:?})")
        } else {
            String::new()
        };
        let kind = ErrorKind::InvalidValue {
            expected: "ABORT, CONTINUE or RETRY[-count][-regex]".to_owned(),
            found: truncate(&text),
            hint,
        };
        ctx.error(path, node.pos, kind);
    }
    parsed
}

fn runtime_versions(ctx: &mut Ctx, node: &Node, path: &str) -> Vec<RuntimeVersion> {
    let Some(fields) = Fields::any(ctx, node, path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (runtime, key, value) in fields.iter() {
        let runtime_path = join(path, runtime);
        let version = string(ctx, value, &runtime_path);
        match version {
            Some(version) if !version.trim().is_empty() => {
                out.push(RuntimeVersion {
                    runtime: runtime.to_owned(),
                    version,
                });
            }
            Some(_) => no_version(ctx, runtime, &runtime_path, key),
            None if value.is_null() => no_version(ctx, runtime, &runtime_path, key),
            None => {}
        }
    }
    if fields.iter().next().is_none() {
        let message =
            "`runtime-versions` names no runtime; name at least one (e.g. `nodejs: 20`) or remove the key"
                .to_owned();
        ctx.error(path, node.pos, ErrorKind::Rule { message });
    }
    out
}

fn no_version(ctx: &mut Ctx, runtime: &str, path: &str, key: &Node) {
    let message = format!("runtime {runtime:?} has no version; give it one such as `latest`");
    ctx.error(path, key.pos, ErrorKind::Rule { message });
}

fn steps(ctx: &mut Ctx, node: &Node, path: &str) -> Vec<Step> {
    let Value::Seq(items) = &node.value else {
        ctx.wrong_type(path, node, "a list of steps");
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| step(ctx, item, &format!("{path}[{index}]")))
        .collect()
}

fn step(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Step> {
    let fields = Fields::of(ctx, node, path, STEP_KEYS, &[])?;
    let text = |ctx: &mut Ctx, key: &str| {
        fields
            .get(key)
            .and_then(|value| string(ctx, value, &join(path, key)))
    };
    let action = match (fields.get("run"), fields.get("uses")) {
        (Some(run), None) => StepAction::Run {
            script: string(ctx, run, &join(path, "run"))?,
            shell: text(ctx, "shell"),
            working_directory: text(ctx, "working-directory"),
        },
        (None, Some(uses)) => {
            for key in ["shell", "working-directory"] {
                if let Some(pos) = fields.key_pos(key) {
                    let hint = " (only `run` steps take it)".to_owned();
                    ctx.error(
                        &join(path, key),
                        pos,
                        ErrorKind::UnknownKey {
                            key: key.to_owned(),
                            hint,
                        },
                    );
                }
            }
            let with = fields
                .get("with")
                .map(|with| variables(ctx, with, &join(path, "with")))
                .unwrap_or_default();
            StepAction::Uses {
                action: string(ctx, uses, &join(path, "uses"))?,
                with,
            }
        }
        (Some(_), Some(_)) | (None, None) => {
            let message = "a step needs exactly one of `run` or `uses`".to_owned();
            ctx.error(path, node.pos, ErrorKind::Rule { message });
            return None;
        }
    };
    let timeout_minutes = fields.get("timeout-minutes").and_then(|value| {
        let text = string(ctx, value, &join(path, "timeout-minutes"))?;
        let parsed = text.parse::<u32>().ok();
        if parsed.is_none() {
            let kind = ErrorKind::InvalidValue {
                expected: "a whole number of minutes".to_owned(),
                found: truncate(&text),
                hint: String::new(),
            };
            ctx.error(&join(path, "timeout-minutes"), value.pos, kind);
        }
        parsed
    });
    Some(Step {
        name: text(ctx, "name"),
        id: text(ctx, "id"),
        condition: text(ctx, "if"),
        env: fields
            .get("env")
            .map(|env| variables(ctx, env, &join(path, "env")))
            .unwrap_or_default(),
        continue_on_error: fields
            .get("continue-on-error")
            .and_then(|value| boolean(ctx, value, &join(path, "continue-on-error")))
            .unwrap_or(false),
        timeout_minutes,
        action,
    })
}
