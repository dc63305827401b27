//! The `batch` section: `build-list`, `build-graph` (with `depend-on` checked against known identifiers and
//! for cycles) or `build-matrix`, plus `fast-fail`.

use std::collections::HashMap;

use super::error::ErrorKind;
use super::model::{Batch, BatchBuild, BatchEnv, BatchKind, BuildMatrix, MatrixVariable};
use super::tree::{Node, Pos};
use super::walk::{Ctx, Fields, boolean, join, string, string_list, variables};

const KINDS: &[&str] = &["build-list", "build-graph", "build-matrix"];
const BUILD_KEYS: &[&str] = &[
    "identifier",
    "buildspec",
    "debug-session",
    "ignore-failure",
    "env",
    "depend-on",
];
const ENV_KEYS: &[&str] = &[
    "compute-type",
    "image",
    "fleet",
    "privileged-mode",
    "type",
    "variables",
];

/// Walks `batch`.
pub(crate) fn batch(ctx: &mut Ctx, node: &Node) -> Option<Batch> {
    let mut keys = KINDS.to_vec();
    keys.push("fast-fail");
    let fields = Fields::of(ctx, node, "batch", &keys, &[])?;
    let fast_fail = fields
        .get("fast-fail")
        .and_then(|node| boolean(ctx, node, "batch.fast-fail"))
        .unwrap_or(false);
    let given: Vec<&str> = KINDS
        .iter()
        .copied()
        .filter(|kind| fields.get_raw(kind).is_some())
        .collect();
    let [kind_key] = given.as_slice() else {
        let message = format!(
            "a batch needs exactly one of build-list, build-graph or build-matrix, found {}",
            if given.is_empty() {
                "none".to_owned()
            } else {
                given.join(" and ")
            }
        );
        ctx.error("batch", fields.pos, ErrorKind::Rule { message });
        return None;
    };
    let path = join("batch", kind_key);
    let node = fields.get_raw(kind_key)?;
    let kind = match *kind_key {
        "build-list" => BatchKind::List(builds(ctx, node, &path, false)),
        "build-graph" => BatchKind::Graph(builds(ctx, node, &path, true)),
        _ => BatchKind::Matrix(Box::new(matrix(ctx, node, &path)?)),
    };
    Some(Batch { fast_fail, kind })
}

fn builds(ctx: &mut Ctx, node: &Node, path: &str, graph: bool) -> Vec<BatchBuild> {
    let super::tree::Value::Seq(items) = &node.value else {
        ctx.wrong_type(path, node, "a list of builds (each `- identifier: ...`)");
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut positions: HashMap<String, Pos> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{index}]");
        let Some(build) = build(ctx, item, &item_path, graph) else {
            continue;
        };
        if positions.insert(build.identifier.clone(), item.pos).is_some() {
            let message = format!(
                "identifier {:?} is used by two builds; identifiers must be unique",
                build.identifier
            );
            ctx.error(
                &join(&item_path, "identifier"),
                item.pos,
                ErrorKind::Rule { message },
            );
            continue;
        }
        out.push(build);
    }
    if graph {
        check_graph(ctx, &out, &positions, path);
    }
    out
}

fn build(ctx: &mut Ctx, node: &Node, path: &str, graph: bool) -> Option<BatchBuild> {
    let keys = if graph { BUILD_KEYS } else { &BUILD_KEYS[..5] };
    let fields = Fields::of(ctx, node, path, keys, &[])?;
    let Some(identifier) = fields
        .get("identifier")
        .and_then(|node| string(ctx, node, &join(path, "identifier")))
    else {
        let hint = " (name the build, e.g. `identifier: linux_tests`)".to_owned();
        ctx.error(
            path,
            node.pos,
            ErrorKind::MissingKey {
                key: "identifier".to_owned(),
                hint,
            },
        );
        return None;
    };
    let flag = |ctx: &mut Ctx, key: &str| {
        fields
            .get(key)
            .and_then(|node| boolean(ctx, node, &join(path, key)))
            .unwrap_or(false)
    };
    Some(BatchBuild {
        buildspec: fields
            .get("buildspec")
            .and_then(|node| string(ctx, node, &join(path, "buildspec"))),
        debug_session: flag(ctx, "debug-session"),
        ignore_failure: flag(ctx, "ignore-failure"),
        env: fields
            .get("env")
            .map(|node| batch_env(ctx, node, &join(path, "env")))
            .unwrap_or_default(),
        depend_on: fields
            .get("depend-on")
            .map(|node| string_list(ctx, node, &join(path, "depend-on"), " (an identifier)"))
            .unwrap_or_default(),
        identifier,
    })
}

fn batch_env(ctx: &mut Ctx, node: &Node, path: &str) -> BatchEnv {
    let Some(fields) = Fields::of(ctx, node, path, ENV_KEYS, &[]) else {
        return BatchEnv::default();
    };
    let text = |ctx: &mut Ctx, key: &str| {
        fields
            .get(key)
            .and_then(|node| string(ctx, node, &join(path, key)))
    };
    BatchEnv {
        compute_type: text(ctx, "compute-type"),
        image: text(ctx, "image"),
        fleet: text(ctx, "fleet"),
        privileged_mode: fields
            .get("privileged-mode")
            .and_then(|node| boolean(ctx, node, &join(path, "privileged-mode"))),
        environment_type: text(ctx, "type"),
        variables: fields
            .get("variables")
            .map(|node| variables(ctx, node, &join(path, "variables")))
            .unwrap_or_default(),
    }
}

/// Every `depend-on` names a known build and the graph has no cycle.
fn check_graph(ctx: &mut Ctx, builds: &[BatchBuild], positions: &HashMap<String, Pos>, path: &str) {
    let mut unknown = false;
    for build in builds {
        for dependency in &build.depend_on {
            if !positions.contains_key(dependency) {
                unknown = true;
                let pos = positions
                    .get(&build.identifier)
                    .copied()
                    .unwrap_or(Pos { line: 1, column: 1 });
                let message = format!(
                    "build {:?} depends on {dependency:?}, which is not an identifier in this build-graph",
                    build.identifier
                );
                ctx.error(
                    &format!("{path}.{}.depend-on", build.identifier),
                    pos,
                    ErrorKind::Rule { message },
                );
            }
        }
    }
    if unknown {
        return;
    }
    // Kahn's algorithm: whatever cannot be ordered is on a cycle.
    let mut dependents: HashMap<&str, Vec<&str>> = HashMap::new();
    for build in builds {
        for dependency in &build.depend_on {
            dependents
                .entry(dependency.as_str())
                .or_default()
                .push(&build.identifier);
        }
    }
    let mut remaining: HashMap<&str, usize> = builds
        .iter()
        .map(|build| (build.identifier.as_str(), build.depend_on.len()))
        .collect();
    let mut ready: Vec<&str> = remaining
        .iter()
        .filter(|(_, count)| **count == 0)
        .map(|(id, _)| *id)
        .collect();
    while let Some(done) = ready.pop() {
        remaining.remove(done);
        for dependent in dependents.get(done).into_iter().flatten() {
            if let Some(count) = remaining.get_mut(dependent) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    ready.push(dependent);
                }
            }
        }
    }
    if let Some(first) = builds
        .iter()
        .find(|build| remaining.contains_key(build.identifier.as_str()))
    {
        let pos = positions
            .get(&first.identifier)
            .copied()
            .unwrap_or(Pos { line: 1, column: 1 });
        let message = format!(
            "build {:?} is part of a depend-on cycle; remove one of the edges",
            first.identifier
        );
        ctx.error(path, pos, ErrorKind::Rule { message });
    }
}

fn matrix(ctx: &mut Ctx, node: &Node, path: &str) -> Option<BuildMatrix> {
    let fields = Fields::of(ctx, node, path, &["static", "dynamic"], &[])?;
    let mut matrix = BuildMatrix::default();
    if let Some(node) = fields.get("static") {
        let static_path = join(path, "static");
        if let Some(fields) = Fields::of(ctx, node, &static_path, &["ignore-failure", "env"], &[]) {
            matrix.ignore_failure = fields
                .get("ignore-failure")
                .and_then(|node| boolean(ctx, node, &join(&static_path, "ignore-failure")))
                .unwrap_or(false);
            if let Some(env) = fields.get("env") {
                matrix.static_env = batch_env(ctx, env, &join(&static_path, "env"));
            }
        }
    }
    let Some(node) = fields.get("dynamic") else {
        let hint = " (list the values to combine under `dynamic`)".to_owned();
        ctx.error(
            path,
            fields.pos,
            ErrorKind::MissingKey {
                key: "dynamic".to_owned(),
                hint,
            },
        );
        return None;
    };
    let dynamic_path = join(path, "dynamic");
    let dynamic = Fields::of(ctx, node, &dynamic_path, &["buildspec", "env"], &[])?;
    if let Some(node) = dynamic.get("buildspec") {
        matrix.buildspecs = string_list(
            ctx,
            node,
            &join(&dynamic_path, "buildspec"),
            " (a buildspec path)",
        );
    }
    if let Some(node) = dynamic.get("env") {
        let env_path = join(&dynamic_path, "env");
        let env = Fields::of(ctx, node, &env_path, &["compute-type", "image", "variables"], &[])?;
        let list = |ctx: &mut Ctx, key: &str| {
            env.get(key)
                .map(|node| string_list(ctx, node, &join(&env_path, key), ""))
                .unwrap_or_default()
        };
        matrix.compute_types = list(ctx, "compute-type");
        matrix.images = list(ctx, "image");
        if let Some(node) = env.get("variables") {
            let variables_path = join(&env_path, "variables");
            if let Some(entries) = Fields::any(ctx, node, &variables_path) {
                for (name, _, values) in entries.iter() {
                    let values = string_list(ctx, values, &join(&variables_path, name), "");
                    matrix.variables.push(MatrixVariable {
                        name: name.to_owned(),
                        values,
                    });
                }
            }
        }
    }
    Some(matrix)
}
