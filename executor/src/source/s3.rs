//! S3 sources: a zip archive (`bucket/key.zip` or its ARN) downloaded through the bucket's [`ObjectStore`] and
//! unpacked into the source directory; entries that would land outside it are refused.

use std::path::Path;

use kiln_core::ports::object_store::ObjectStore;

use super::{Buckets, SourceError, create_dir};

/// `bucket/key` or `arn:aws:s3:::bucket/key` split into bucket and key.
pub(super) fn s3_location(location: &str) -> Result<(&str, &str), SourceError> {
    let path = location
        .split_once(":::")
        .filter(|(prefix, _)| prefix.starts_with("arn:") && prefix.ends_with(":s3"))
        .map_or(location, |(_, rest)| rest);
    match path.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() && !key.ends_with('/') => {
            Ok((bucket, key))
        }
        _ => Err(SourceError::BadS3Location(location.to_owned())),
    }
}

/// Downloads the archive at `location` and unpacks it into `dest` (created).
pub(super) async fn fetch(buckets: &Buckets, location: &str, dest: &Path) -> Result<(), SourceError> {
    let (bucket, key) = s3_location(location)?;
    create_dir(dest)?;
    let archive = dest.with_extension("source.zip");
    let fetched = download(buckets(bucket).as_ref(), location, key, &archive).await;
    let unpacked = match fetched {
        Ok(()) => unpack(location, &archive, dest).await,
        Err(err) => Err(err),
    };
    std::fs::remove_file(&archive).ok();
    unpacked
}

async fn download(
    store: &dyn ObjectStore,
    location: &str,
    key: &str,
    archive: &Path,
) -> Result<(), SourceError> {
    let fetched = store
        .get_file(key, archive)
        .await
        .map_err(|source| SourceError::S3 {
            location: location.to_owned(),
            source,
        })?;
    match fetched {
        Some(_) => Ok(()),
        None => Err(SourceError::S3Missing(location.to_owned())),
    }
}

async fn unpack(location: &str, archive: &Path, dest: &Path) -> Result<(), SourceError> {
    let (archive, dest) = (archive.to_path_buf(), dest.to_path_buf());
    let unpacked = tokio::task::spawn_blocking(move || -> Result<(), zip::result::ZipError> {
        let file = std::fs::File::open(&archive)?;
        // `extract` refuses entries that would land outside `dest` (`..`, absolute paths).
        zip::ZipArchive::new(file)?.extract(&dest)
    })
    .await
    .map_err(|source| SourceError::Unpacker {
        location: location.to_owned(),
        source,
    })?;
    unpacked.map_err(|source| SourceError::Unzip {
        location: location.to_owned(),
        source,
    })
}
