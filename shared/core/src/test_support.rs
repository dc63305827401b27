//! Helpers for this crate's unit tests only.

use std::path::PathBuf;

/// The third-party fixtures (`shared/fixtures` beside the checkout): `KILN_FIXTURES`, else the first ancestor
/// of this crate holding `shared/fixtures/README.md` and `shared/fixtures/webhooks/`.
pub(crate) fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KILN_FIXTURES") {
        return PathBuf::from(dir);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|dir| dir.join("shared").join("fixtures"))
        .find(|dir| dir.join("README.md").is_file() && dir.join("webhooks").is_dir())
        .unwrap_or_else(|| {
            panic!(
                "no shared/fixtures above {}; set KILN_FIXTURES",
                manifest.display()
            )
        })
}
