use std::io::Read;
use std::path::Path;

use kiln_local::object_store::DirObjectStore;
use sha2::{Digest, Sha256};

use super::*;

fn write(root: &Path, rel: &str, content: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// The tree of the reference's worked examples (section 1.8).
fn reference_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "my-build-1/my-file-1.txt", b"one");
    write(dir.path(), "my-build-2/my-file-2.txt", b"two");
    write(dir.path(), "my-build-2/my-subdirectory/my-file-3.txt", b"three");
    dir
}

fn spec(files: &[&str]) -> ArtifactSpec {
    ArtifactSpec {
        files: files.iter().map(|f| (*f).to_owned()).collect(),
        ..ArtifactSpec::default()
    }
}

fn names(spec: &ArtifactSpec, src: &Path) -> Vec<String> {
    spec.select(src, Packaging::Zip)
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.name)
        .collect()
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn a_glob_under_a_base_directory_keeps_paths_relative_to_it() {
    let src = reference_tree();
    let s = ArtifactSpec {
        base_directory: Some("my-build-2".into()),
        ..spec(&["*/my-file-3.txt"])
    };
    assert_eq!(names(&s, src.path()), ["my-subdirectory/my-file-3.txt"]);
}

#[test]
fn a_base_directory_glob_with_discard_paths_flattens_every_matched_directory() {
    let src = reference_tree();
    let s = ArtifactSpec {
        base_directory: Some("my-build*".into()),
        discard_paths: true,
        ..spec(&["**/*"])
    };
    assert_eq!(
        names(&s, src.path()),
        ["my-file-1.txt", "my-file-2.txt", "my-file-3.txt"]
    );
}

#[test]
fn location_forms_select_as_codebuild_documents() {
    let src = reference_tree();
    write(src.path(), "top.txt", b"t");
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["**/*"],
            &[
                "my-build-1/my-file-1.txt",
                "my-build-2/my-file-2.txt",
                "my-build-2/my-subdirectory/my-file-3.txt",
                "top.txt",
            ],
        ),
        (&["my-build-2/*"], &["my-build-2/my-file-2.txt"]),
        (
            &["my-build-2/**/*"],
            &[
                "my-build-2/my-file-2.txt",
                "my-build-2/my-subdirectory/my-file-3.txt",
            ],
        ),
        (&["./top.txt"], &["top.txt"]),
        (
            &["my-build-2/my-subdirectory"],
            &["my-build-2/my-subdirectory/my-file-3.txt"],
        ),
        (&["top.txt", "missing.txt", "top.txt"], &["top.txt"]),
    ];
    for (files, want) in cases {
        assert_eq!(names(&spec(files), src.path()), *want, "files {files:?}");
    }
}

#[test]
fn exclude_paths_drop_files_and_whole_directories() {
    let src = reference_tree();
    let s = ArtifactSpec {
        exclude_paths: vec!["my-build-2/my-subdirectory".into(), "**/my-file-1.txt".into()],
        ..spec(&["**/*"])
    };
    assert_eq!(names(&s, src.path()), ["my-build-2/my-file-2.txt"]);
}

#[test]
fn a_pattern_that_matches_nothing_fails_like_codebuild() {
    let src = reference_tree();
    let err = spec(&["target/*.jar"])
        .select(src.path(), Packaging::Zip)
        .unwrap_err();
    assert!(matches!(err, ArtifactError::NoMatch { .. }));
    assert!(
        err.to_string().starts_with("no matching artifact paths found"),
        "{err}"
    );
}

#[test]
fn paths_that_leave_the_source_directory_are_refused() {
    let src = reference_tree();
    for files in [&["../etc/passwd"][..], &["/etc/passwd"], &["my-build-1/../../x"]] {
        let err = spec(files).select(src.path(), Packaging::Zip).unwrap_err();
        assert!(
            matches!(err, ArtifactError::Select(SelectError::Escapes { .. })),
            "{files:?}: {err}"
        );
    }
    let s = ArtifactSpec {
        base_directory: Some("../".into()),
        ..spec(&["**/*"])
    };
    assert!(s.select(src.path(), Packaging::Zip).is_err());
}

#[test]
fn symlinks_are_kept_only_with_enable_symlinks_and_only_inside_the_source() {
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret.txt", b"secret");
    let src = reference_tree();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), src.path().join("out-link")).unwrap();
    std::os::unix::fs::symlink(outside.path(), src.path().join("out-dir")).unwrap();
    std::os::unix::fs::symlink("my-build-1/my-file-1.txt", src.path().join("in-link")).unwrap();

    let plain = spec(&["*link", "out-dir/*", "out-dir"]);
    let sel = plain.select(src.path(), Packaging::Zip);
    assert!(matches!(sel, Err(ArtifactError::NoMatch { .. })), "{sel:?}");

    let linked = ArtifactSpec {
        enable_symlinks: true,
        ..spec(&["*link", "out-dir/secret.txt"])
    };
    let sel = linked.select(src.path(), Packaging::Zip).unwrap();
    assert_eq!(sel.entries.len(), 1, "{sel:?}");
    assert_eq!(sel.entries[0].name, "in-link");
    assert_eq!(
        sel.entries[0].kind,
        SelectedKind::Symlink {
            target: "my-build-1/my-file-1.txt".into()
        }
    );
    assert!(
        sel.notes.iter().any(|n| n.contains("out-link")),
        "{:?}",
        sel.notes
    );
}

fn zip_contents(path: &Path) -> Vec<(String, Vec<u8>, u32)> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut f = archive.by_index(i).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            (f.name().to_owned(), data, f.unix_mode().unwrap_or(0))
        })
        .collect()
}

fn pseudo_random(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

#[test]
fn a_zip_round_trips_text_random_empty_large_and_linked_files() {
    let src = tempfile::tempdir().unwrap();
    let text = "fn main() { println!(\"hello\"); }\n".repeat(5000).into_bytes();
    let random = pseudo_random(200_000, 7);
    let large: Vec<u8> = (0..(17 * 1024 * 1024)).map(|i| (i % 251) as u8).collect();
    write(src.path(), "src/main.rs", &text);
    write(src.path(), "bin/blob", &random);
    write(src.path(), "empty", b"");
    write(src.path(), "big/large.bin", &large);
    write(src.path(), "dir/ünïcode.txt", b"u");
    std::os::unix::fs::symlink("../src/main.rs", src.path().join("dir/link")).unwrap();
    let s = ArtifactSpec {
        enable_symlinks: true,
        ..spec(&["**/*"])
    };
    let sel = s.select(src.path(), Packaging::Zip).unwrap();
    let out = tempfile::tempdir().unwrap();
    let zip_path = out.path().join("a.zip");
    let summary = zip_writer::write_zip(&sel.entries, &zip_path, ZIP_LEVEL).unwrap();
    let bytes = std::fs::read(&zip_path).unwrap();
    assert_eq!(summary.size, bytes.len() as u64);
    assert_eq!(summary.sha256, hex::encode(Sha256::digest(&bytes)));
    assert_eq!(summary.entries, 6);
    assert!(
        summary.size < (text.len() + random.len() + 1_000_000) as u64,
        "text and large compress"
    );

    let got = zip_contents(&zip_path);
    let find = |name: &str| {
        got.iter()
            .find(|(n, ..)| n == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert_eq!(find("src/main.rs").1, text);
    assert_eq!(find("bin/blob").1, random);
    assert_eq!(find("empty").1, b"");
    assert_eq!(find("big/large.bin").1, large);
    assert_eq!(find("dir/ünïcode.txt").1, b"u");
    let link = find("dir/link");
    assert_eq!(link.1, b"../src/main.rs");
    assert_eq!(link.2 & 0o170_000, 0o120_000, "stored as a symlink");

    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let method = |archive: &mut zip::ZipArchive<std::fs::File>, name: &str| {
        archive.by_name(name).unwrap().compression()
    };
    assert_eq!(
        method(&mut archive, "bin/blob"),
        zip::CompressionMethod::Stored,
        "random bytes are stored"
    );
    assert_eq!(
        method(&mut archive, "src/main.rs"),
        zip::CompressionMethod::Deflated
    );
    assert_eq!(
        method(&mut archive, "big/large.bin"),
        zip::CompressionMethod::Deflated
    );

    let status = std::process::Command::new("unzip")
        .args(["-tq"])
        .arg(&zip_path)
        .status();
    if let Ok(status) = status {
        assert!(status.success(), "unzip -t rejects the archive");
    }
}

#[test]
fn the_same_tree_always_gives_the_same_zip() {
    let src = reference_tree();
    let sel = spec(&["**/*"]).select(src.path(), Packaging::Zip).unwrap();
    let out = tempfile::tempdir().unwrap();
    let a = zip_writer::write_zip(&sel.entries, &out.path().join("a.zip"), 6).unwrap();
    let b = zip_writer::write_zip(&sel.entries, &out.path().join("b.zip"), 6).unwrap();
    assert_eq!(a, b);
}

#[test]
fn package_and_upload_writes_a_zip_under_the_artifact_key() {
    let src = reference_tree();
    let store_dir = tempfile::tempdir().unwrap();
    let store = DirObjectStore::new(store_dir.path());
    let s = ArtifactSpec {
        name: Some("builds/42/out".into()),
        ..spec(&["**/*"])
    };
    let outcome = run(package_and_upload(&s, src.path(), Packaging::Zip, &store, "proj")).unwrap();
    assert_eq!(outcome.key, "proj/builds/42/out.zip");
    assert_eq!(outcome.files, 3);
    let stored = std::fs::read(store_dir.path().join("proj/builds/42/out.zip")).unwrap();
    assert_eq!(outcome.sha256sum, hex::encode(Sha256::digest(&stored)));
    assert_eq!(outcome.size, stored.len() as u64);
    assert_eq!(outcome.md5sum.as_ref().map(String::len), Some(32));
}

#[test]
fn packaging_none_uploads_a_folder_of_files() {
    let src = reference_tree();
    let store_dir = tempfile::tempdir().unwrap();
    let store = DirObjectStore::new(store_dir.path());
    let s = ArtifactSpec {
        identifier: Some("docs".into()),
        base_directory: Some("my-build-2".into()),
        ..spec(&["**/*"])
    };
    let outcome = run(package_and_upload(&s, src.path(), Packaging::None, &store, "p/1")).unwrap();
    assert_eq!(outcome.key, "p/1/docs/");
    assert_eq!(outcome.artifact_identifier.as_deref(), Some("docs"));
    assert_eq!(outcome.files, 2);
    let root = store_dir.path().join("p/1/docs");
    assert_eq!(std::fs::read(root.join("my-file-2.txt")).unwrap(), b"two");
    assert_eq!(
        std::fs::read(root.join("my-subdirectory/my-file-3.txt")).unwrap(),
        b"three"
    );
    assert!(outcome.location.ends_with("p/1/docs/"), "{}", outcome.location);
}

#[test]
fn buildspec_artifacts_convert_to_one_spec_per_artifact() {
    let yaml = br#"
version: 0.2
phases:
  build:
    commands:
      - make
artifacts:
  files:
    - '**/*'
  base-directory: dist
  discard-paths: yes
  exclude-paths:
    - '*.map'
  name: app-$CODEBUILD_BUILD_NUMBER
  secondary-artifacts:
    docs:
      files:
        - docs/**/*
      enable-symlinks: yes
"#;
    let parsed = kiln_core::buildspec::parse(yaml).unwrap();
    let specs = specs_from(parsed.artifacts.as_ref().unwrap());
    assert_eq!(
        specs,
        [
            ArtifactSpec {
                files: vec!["**/*".into()],
                base_directory: Some("dist".into()),
                discard_paths: true,
                exclude_paths: vec!["*.map".into()],
                enable_symlinks: false,
                name: Some("app-$CODEBUILD_BUILD_NUMBER".into()),
                identifier: None,
            },
            ArtifactSpec {
                files: vec!["docs/**/*".into()],
                enable_symlinks: true,
                identifier: Some("docs".into()),
                ..ArtifactSpec::default()
            },
        ]
    );
}
