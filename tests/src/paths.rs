//! Where things are: the workspace root, the guidance folder beside it, the fixtures, the test venv.

use std::path::PathBuf;

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// `../shared` beside the repository: design notes, reference and third-party fixtures. Found by walking up
/// from the workspace root (so a checkout at any depth works), or named by `KILN_GUIDANCE_DIR`.
pub fn guidance_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KILN_GUIDANCE_DIR") {
        return PathBuf::from(dir);
    }
    let root = workspace_root();
    root.ancestors()
        .map(|dir| dir.join("shared"))
        .find(|dir| dir.join("fixtures").join("README.md").is_file() && dir.join("DESIGN.md").is_file())
        .unwrap_or_else(|| {
            panic!(
                "no shared/ guidance folder (with fixtures/) above {}",
                root.display()
            )
        })
}

/// `../shared/fixtures`: real webhook payloads and buildspecs (`KILN_FIXTURES` overrides it).
pub fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KILN_FIXTURES") {
        return PathBuf::from(dir);
    }
    guidance_dir().join("fixtures")
}

/// The Python virtual environment `scripts/setup` creates for the tests (moto, cfn-lint, boto3).
pub fn venv_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KILN_VENV") {
        return PathBuf::from(dir);
    }
    workspace_root().join(".venv")
}
