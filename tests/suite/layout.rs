//! The house plan, checked against the resolved dependency graph (`cargo metadata`): the core links no SQLite,
//! no AWS SDK and no runtime that spawns processes; no Lambda crate links SQLite or the local adapters; only
//! `kiln-aws` imports the AWS SDK directly; the HTTP edge and the executor link neither adapter crate; the
//! runner library links only the core and the executor among Kiln's crates.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use kiln_tests::paths::workspace_root;
use serde_json::Value;

/// The resolved graph: package name -> names of its normal (linked) dependencies.
struct Graph {
    normal: HashMap<String, Vec<String>>,
}

impl Graph {
    fn load() -> Graph {
        let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["metadata", "--format-version", "1", "--locked", "--manifest-path"])
            .arg(workspace_root().join("Cargo.toml"))
            .output()
            .expect("cargo metadata runs");
        assert!(
            output.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
        let names: HashMap<&str, &str> = metadata["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .map(|p| (p["id"].as_str().expect("id"), p["name"].as_str().expect("name")))
            .collect();
        let mut normal = HashMap::new();
        for node in metadata["resolve"]["nodes"].as_array().expect("resolve.nodes") {
            let name = names[node["id"].as_str().expect("node id")].to_owned();
            let deps = node["deps"]
                .as_array()
                .expect("deps")
                .iter()
                .filter(|d| {
                    d["dep_kinds"]
                        .as_array()
                        .expect("dep_kinds")
                        .iter()
                        .any(|k| k["kind"].is_null())
                })
                .map(|d| names[d["pkg"].as_str().expect("pkg")].to_owned())
                .collect();
            normal.insert(name, deps);
        }
        Graph { normal }
    }

    /// Every package `root` links, itself excluded.
    fn closure(&self, root: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![root.to_owned()];
        while let Some(name) = todo.pop() {
            for dep in self.normal.get(&name).map(Vec::as_slice).unwrap_or_default() {
                if seen.insert(dep.clone()) {
                    todo.push(dep.clone());
                }
            }
        }
        seen
    }

    fn members(&self, prefix: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .normal
            .keys()
            .filter(|n| n.starts_with(prefix))
            .cloned()
            .collect();
        names.sort();
        names
    }
}

fn offending(linked: &BTreeSet<String>, forbidden: impl Fn(&str) -> bool) -> Vec<String> {
    linked.iter().filter(|n| forbidden(n)).cloned().collect()
}

fn is_sqlite(name: &str) -> bool {
    matches!(name, "rusqlite" | "libsqlite3-sys" | "kiln-local")
}

fn is_aws_sdk(name: &str) -> bool {
    name.starts_with("aws-sdk-") || name == "aws-config" || name == "kiln-aws"
}

#[test]
fn no_lambda_crate_links_sqlite_or_the_local_adapters() {
    let graph = Graph::load();
    let functions: Vec<String> = graph
        .members("kiln-fn-")
        .into_iter()
        .chain(["kiln-lambda".to_owned()])
        .collect();
    assert_eq!(
        functions.len(),
        8,
        "seven functions and their common crate: {functions:?}"
    );
    for function in functions {
        let bad = offending(&graph.closure(&function), is_sqlite);
        assert!(bad.is_empty(), "{function} links {bad:?}");
    }
}

#[test]
fn the_core_links_no_sqlite_no_aws_sdk_and_no_async_runtime() {
    let graph = Graph::load();
    let linked = graph.closure("kiln-core");
    let bad = offending(&linked, |n| {
        is_sqlite(n)
            || is_aws_sdk(n)
            || n.starts_with("aws-")
            || matches!(n, "tokio" | "nix" | "kiln-executor")
    });
    assert!(bad.is_empty(), "kiln-core links {bad:?}");
}

#[test]
fn the_http_edge_and_the_executor_link_neither_adapter_crate() {
    let graph = Graph::load();
    for name in ["kiln-server", "kiln-executor"] {
        let bad = offending(&graph.closure(name), |n| is_sqlite(n) || is_aws_sdk(n));
        assert!(bad.is_empty(), "{name} links {bad:?}");
    }
}

#[test]
fn the_runner_library_links_only_the_core_and_the_executor_and_no_sqlite_or_aws_sdk() {
    let graph = Graph::load();
    let linked = graph.closure("kiln-runner");
    let kiln: Vec<&String> = linked.iter().filter(|n| n.starts_with("kiln")).collect();
    assert_eq!(kiln, ["kiln-core", "kiln-executor"], "kiln-runner links {kiln:?}");
    let bad = offending(&linked, |n| {
        is_sqlite(n) || is_aws_sdk(n) || n.starts_with("aws-")
    });
    assert!(bad.is_empty(), "kiln-runner links {bad:?}");
}

#[test]
fn only_the_aws_adapters_depend_on_the_aws_sdk_directly() {
    let graph = Graph::load();
    let direct: Vec<&String> = graph
        .normal
        .iter()
        .filter(|(name, _)| name.starts_with("kiln") && name.as_str() != "kiln-aws")
        .flat_map(|(name, deps)| {
            deps.iter()
                .filter(|d| d.starts_with("aws-sdk-"))
                .map(move |_| name)
        })
        .collect();
    assert!(
        direct.is_empty(),
        "crates other than kiln-aws import the AWS SDK: {direct:?}"
    );
}

#[test]
fn the_box_plays_the_aws_deployment_without_sqlite_or_the_local_adapters() {
    let graph = Graph::load();
    let linked = graph.closure("kiln-box");
    let bad = offending(&linked, |n| is_sqlite(n) || n == "kiln-local");
    assert!(bad.is_empty(), "kiln-box links {bad:?}");
    for function in graph.members("kiln-fn-") {
        assert!(linked.contains(&function), "the box runs {function} in-process");
    }
}
