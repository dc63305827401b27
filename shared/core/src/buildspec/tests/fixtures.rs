//! Every real buildspec in the fixtures parses, and its model is pinned by a snapshot.

use super::fixtures_dir;
use crate::buildspec::parse;

fn fixture_paths() -> Vec<std::path::PathBuf> {
    let dir = fixtures_dir().join("buildspecs");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("reading {}: {err}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yml" || ext == "yaml"))
        .collect();
    paths.sort();
    paths
}

#[test]
fn all_28_real_buildspecs_parse_and_match_their_snapshots() {
    let paths = fixture_paths();
    assert_eq!(paths.len(), 28, "expected the 28 buildspec fixtures");
    let mut failures = Vec::new();
    for path in &paths {
        let bytes = std::fs::read(path).expect("read fixture");
        let name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .expect("utf-8 file name")
            .to_owned();
        match parse(&bytes) {
            Ok(buildspec) => {
                insta::with_settings!({ snapshot_suffix => name.clone(), prepend_module_to_snapshot => false }, {
                    insta::assert_debug_snapshot!("fixture", buildspec);
                })
            }
            Err(errors) => failures.push(format!("{name}:\n{errors}")),
        }
    }
    assert!(
        failures.is_empty(),
        "fixtures that failed to parse:\n{}",
        failures.join("\n")
    );
}
