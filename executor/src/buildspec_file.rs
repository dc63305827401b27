//! Finding and parsing the build's buildspec during DOWNLOAD_SOURCE (reference §1.1, §1.10). Every failure is
//! a message for a `YAML_FILE_ERROR` context: a missing file, invalid YAML (with line and column), or
//! features `kiln run` does not run (batch builds, Windows shells).

use std::path::Path;

use kiln_core::buildspec::{self, Buildspec};

use crate::request::BuildspecSource;

/// Reads and parses the buildspec named by `source`, relative to the source directory `src`.
pub fn load(source: &BuildspecSource, src: &Path) -> Result<Buildspec, String> {
    let bytes = match source {
        BuildspecSource::Inline(text) => text.clone().into_bytes(),
        BuildspecSource::Default => read(&src.join("buildspec.yml"))?,
        BuildspecSource::Path(path) => read(&src.join(path))?,
    };
    let buildspec = buildspec::parse(&bytes).map_err(|errors| errors.to_string())?;
    if buildspec.batch.is_some() {
        return Err("the buildspec is a batch buildspec (batch:); kiln runs single builds only".into());
    }
    Ok(buildspec)
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|err| format!("could not read buildspec {}: {err}", path.display()))
}
