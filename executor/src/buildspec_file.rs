//! Finding and parsing the build's buildspec during DOWNLOAD_SOURCE (reference §1.1, §1.10). Every failure is
//! a [`BuildspecFileError`] for a `YAML_FILE_ERROR` context: a missing file, invalid YAML (with line and
//! column), or features `kiln run` does not run (batch builds).

use std::path::Path;

use kiln_core::buildspec::{self, Buildspec, BuildspecErrors};

use crate::request::BuildspecSource;

/// Why the buildspec could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BuildspecFileError {
    #[error("could not read buildspec {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{0}")]
    Invalid(BuildspecErrors),
    #[error("the buildspec is a batch buildspec (batch:); kiln runs single builds only")]
    Batch,
}

/// Reads and parses the buildspec named by `source`, relative to the source directory `src`.
pub fn load(source: &BuildspecSource, src: &Path) -> Result<Buildspec, BuildspecFileError> {
    let bytes = match source {
        BuildspecSource::Inline(text) => text.clone().into_bytes(),
        BuildspecSource::Default => read(&src.join("buildspec.yml"))?,
        BuildspecSource::Path(path) => read(&src.join(path))?,
    };
    let buildspec = buildspec::parse(&bytes).map_err(BuildspecFileError::Invalid)?;
    if buildspec.batch.is_some() {
        return Err(BuildspecFileError::Batch);
    }
    Ok(buildspec)
}

fn read(path: &Path) -> Result<Vec<u8>, BuildspecFileError> {
    std::fs::read(path).map_err(|source| BuildspecFileError::Read {
        path: path.display().to_string(),
        source,
    })
}
