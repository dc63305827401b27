use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use kiln_local::object_store::DirObjectStore;

use super::*;

fn write(root: &Path, rel: &str, content: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap()
        .block_on(f)
}

fn spec(paths: &[&str], key: Option<&str>, fallback: &[&str]) -> CacheSpec {
    CacheSpec {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        key: key.map(str::to_owned),
        fallback_keys: fallback.iter().map(|p| (*p).to_owned()).collect(),
        action: CacheAction::Both,
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: DirObjectStore,
    location: CacheLocation,
    root: std::path::PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        Self {
            store: DirObjectStore::new(root.join("store")),
            location: CacheLocation::new("cache", "my project"),
            root,
            _dir: dir,
        }
    }

    fn src(&self, name: &str) -> std::path::PathBuf {
        let path = self.root.join(name);
        std::fs::create_dir_all(&path).unwrap();
        path
    }

    fn save(&self, spec: &CacheSpec, src: &Path) -> CacheSaveOutcome {
        run(save(spec, &self.location, src, &self.store))
    }

    fn restore(&self, spec: &CacheSpec, src: &Path) -> CacheRestoreOutcome {
        run(restore(spec, &self.location, src, &self.store))
    }
}

#[test]
fn a_saved_cache_restores_files_links_and_modes_into_a_fresh_checkout() {
    let fx = Fixture::new();
    let first = fx.src("first");
    write(&first, "node_modules/a/index.js", b"module.exports = 1;\n");
    write(&first, "node_modules/.bin/tool", b"#!/bin/sh\n");
    std::fs::set_permissions(
        first.join("node_modules/.bin/tool"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("../a/index.js", first.join("node_modules/.bin/link")).unwrap();
    write(&first, "src/not-cached.txt", b"x");
    let s = spec(&["node_modules/**/*"], Some("npm-1"), &[]);
    let saved = fx.save(&s, &first);
    assert!(
        matches!(saved, CacheSaveOutcome::Saved { files: 3, .. }),
        "{saved:?}"
    );

    let second = fx.src("second");
    let restored = fx.restore(&s, &second);
    assert!(
        matches!(&restored, CacheRestoreOutcome::Restored { key, files: 3, .. } if key == "npm-1"),
        "{restored:?}"
    );
    assert_eq!(
        std::fs::read(second.join("node_modules/a/index.js")).unwrap(),
        b"module.exports = 1;\n"
    );
    let mode = std::fs::metadata(second.join("node_modules/.bin/tool"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(
        std::fs::read_link(second.join("node_modules/.bin/link")).unwrap(),
        Path::new("../a/index.js")
    );
    assert!(!second.join("src/not-cached.txt").exists());
}

#[test]
fn absolute_cache_paths_are_restored_where_they_were() {
    let fx = Fixture::new();
    let home = fx.src("home/.m2");
    write(&home, "repository/junit/junit.jar", b"jar");
    let pattern = format!("{}/**/*", home.display());
    let s = spec(&[pattern.as_str()], None, &[]);
    let src = fx.src("src");
    assert!(matches!(
        fx.save(&s, &src),
        CacheSaveOutcome::Saved { files: 1, .. }
    ));
    std::fs::remove_dir_all(&home).unwrap();
    let restored = fx.restore(&s, &src);
    assert!(
        matches!(restored, CacheRestoreOutcome::Restored { .. }),
        "{restored:?}"
    );
    assert_eq!(
        std::fs::read(home.join("repository/junit/junit.jar")).unwrap(),
        b"jar"
    );
}

#[test]
fn a_keyed_entry_is_never_overwritten() {
    let fx = Fixture::new();
    let src = fx.src("src");
    write(&src, "deps/v", b"one");
    let s = spec(&["deps"], Some("k"), &[]);
    assert!(matches!(fx.save(&s, &src), CacheSaveOutcome::Saved { .. }));
    write(&src, "deps/v", b"two");
    assert_eq!(
        fx.save(&s, &src),
        CacheSaveOutcome::AlreadyExists { key: "k".into() }
    );
    let fresh = fx.src("fresh");
    fx.restore(&s, &fresh);
    assert_eq!(std::fs::read(fresh.join("deps/v")).unwrap(), b"one");
}

#[test]
fn without_a_key_each_save_replaces_the_project_entry() {
    let fx = Fixture::new();
    let src = fx.src("src");
    write(&src, "deps/v", b"one");
    let s = spec(&["deps/**/*"], None, &[]);
    fx.save(&s, &src);
    write(&src, "deps/v", b"two");
    assert!(matches!(fx.save(&s, &src), CacheSaveOutcome::Saved { .. }));
    let fresh = fx.src("fresh");
    fx.restore(&s, &fresh);
    assert_eq!(std::fs::read(fresh.join("deps/v")).unwrap(), b"two");
}

#[test]
fn fallback_keys_restore_the_newest_entry_with_that_prefix_in_order() {
    let fx = Fixture::new();
    let src = fx.src("src");
    for (key, content) in [("npm-aaa", "old"), ("npm-bbb", "new"), ("pip-x", "pip")] {
        write(&src, "deps/v", content.as_bytes());
        fx.save(&spec(&["deps/v"], Some(key), &[]), &src);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let fresh = fx.src("fresh");
    let s = spec(&["deps/v"], Some("npm-ccc"), &["yarn-", "npm-", "pip-"]);
    let restored = fx.restore(&s, &fresh);
    assert!(
        matches!(&restored, CacheRestoreOutcome::Restored { key, .. } if key == "npm-bbb"),
        "{restored:?}"
    );
    assert_eq!(std::fs::read(fresh.join("deps/v")).unwrap(), b"new");
}

#[test]
fn a_missing_cache_is_a_miss_listing_what_was_tried() {
    let fx = Fixture::new();
    let src = fx.src("src");
    let restored = fx.restore(&spec(&["deps"], Some("k1"), &["k"]), &src);
    assert_eq!(
        restored,
        CacheRestoreOutcome::Missed {
            tried: vec!["k1".into(), "k*".into()]
        }
    );
}

#[test]
fn a_corrupt_archive_is_reported_not_raised() {
    let fx = Fixture::new();
    let src = fx.src("src");
    let s = spec(&["deps"], None, &[]);
    write(
        &fx.root,
        "store/cache/my%20project/default.tar.zst",
        b"this is not zstd at all",
    );
    let restored = fx.restore(&s, &src);
    assert!(
        matches!(restored, CacheRestoreOutcome::Corrupt { .. }),
        "{restored:?}"
    );

    // A valid zstd stream holding a truncated tar is corrupt too.
    write(&src, "deps/big", &vec![7u8; 100_000]);
    assert!(matches!(fx.save(&s, &src), CacheSaveOutcome::Saved { .. }));
    let object = fx.root.join("store/cache/my%20project/default.tar.zst");
    let bytes = std::fs::read(&object).unwrap();
    let tar = zstd::decode_all(&bytes[..]).unwrap();
    std::fs::write(&object, zstd::encode_all(&tar[..700], 3).unwrap()).unwrap();
    let restored = fx.restore(&s, &fx.src("other"));
    assert!(
        matches!(restored, CacheRestoreOutcome::Corrupt { .. }),
        "{restored:?}"
    );
}

#[test]
fn archive_entries_that_climb_out_are_refused() {
    let fx = Fixture::new();
    let src = fx.src("src");
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    let name = b"src/../escaped.txt";
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_size(4);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    builder.append(&header, &b"evil"[..]).unwrap();
    let tar = builder.into_inner().unwrap();
    write(
        &fx.root,
        "store/cache/my%20project/default.tar.zst",
        &zstd::encode_all(&tar[..], 3).unwrap(),
    );
    let restored = fx.restore(&spec(&["x"], None, &[]), &src);
    assert!(
        matches!(restored, CacheRestoreOutcome::Corrupt { .. }),
        "{restored:?}"
    );
    assert!(!fx.root.join("escaped.txt").exists());
}

#[test]
fn the_action_limits_the_cache_to_one_direction() {
    let fx = Fixture::new();
    let src = fx.src("src");
    write(&src, "deps/v", b"1");
    let restore_only = CacheSpec {
        action: CacheAction::Restore,
        ..spec(&["deps"], Some("k"), &[])
    };
    assert!(matches!(
        fx.save(&restore_only, &src),
        CacheSaveOutcome::Skipped { .. }
    ));
    let save_only = CacheSpec {
        action: CacheAction::Save,
        ..restore_only
    };
    assert!(matches!(
        fx.restore(&save_only, &src),
        CacheRestoreOutcome::Skipped { .. }
    ));
}

#[test]
fn paths_that_match_nothing_save_nothing() {
    let fx = Fixture::new();
    let src = fx.src("src");
    assert_eq!(
        fx.save(&spec(&["nothing/**/*"], None, &[]), &src),
        CacheSaveOutcome::NothingToSave
    );
}

#[test]
fn a_buildspec_cache_converts_with_its_action() {
    let yaml = br#"
version: 0.2
phases:
  build:
    commands:
      - npm ci
cache:
  key: npm-$(codebuild-hash-files package-lock.json)
  fallback-keys:
    - npm-
  action: restore
  paths:
    - node_modules/**/*
    - /root/.npm/**/*
"#;
    let parsed = kiln_core::buildspec::parse(yaml).unwrap();
    let got = CacheSpec::from(parsed.cache.as_ref().unwrap());
    assert_eq!(
        got,
        CacheSpec {
            paths: vec!["node_modules/**/*".into(), "/root/.npm/**/*".into()],
            key: Some("npm-$(codebuild-hash-files package-lock.json)".into()),
            fallback_keys: vec!["npm-".into()],
            action: CacheAction::Restore,
        }
    );
}
