//! The S3 object store: one bucket and key prefix; single PUTs below a threshold, multipart above it; SHA-256
//! checksums checked by S3 on every upload, and the whole-object SHA-256 kept in user metadata (`sha256`) so
//! `head` can report it for multipart objects too (whose S3 checksum is a checksum of part checksums).

use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{object_arn, sha256_forms};
use crate::retry::{describe, is_retryable};
use kiln_core::ports::BoxFuture;
use kiln_core::ports::object_store::{ObjectInfo, ObjectStore, ObjectStoreError};

/// Objects at least this large are uploaded in parts.
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 16 * 1024 * 1024;
/// The size of each part of a multipart upload (S3 wants ≥ 5 MiB except for the last part).
pub const DEFAULT_PART_SIZE: usize = 16 * 1024 * 1024;

/// User-metadata key carrying the build ARN, as CodeBuild sets it on artifacts.
const BUILD_ARN_METADATA: &str = "codebuild-buildarn";
/// User-metadata key carrying the whole object's lowercase hex SHA-256.
const SHA256_METADATA: &str = "sha256";

/// Stores objects under `prefix` in one bucket.
#[derive(Debug, Clone)]
pub struct S3ObjectStore {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    build_arn: Option<String>,
    multipart_threshold: u64,
    part_size: usize,
}

impl S3ObjectStore {
    /// A store for `bucket`, every key prefixed with `prefix` (empty, or ending in `/`).
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
    ) -> S3ObjectStore {
        S3ObjectStore {
            client,
            bucket: bucket.into(),
            prefix: prefix.into(),
            build_arn: None,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            part_size: DEFAULT_PART_SIZE,
        }
    }

    /// Tags every uploaded object with `codebuild-buildarn` = `arn` in its user metadata.
    pub fn with_build_arn(mut self, arn: impl Into<String>) -> S3ObjectStore {
        self.build_arn = Some(arn.into());
        self
    }

    /// Changes the multipart threshold and part size (the part size is raised to S3's 5 MiB minimum).
    pub fn with_multipart(mut self, threshold: u64, part_size: usize) -> S3ObjectStore {
        self.multipart_threshold = threshold;
        self.part_size = part_size.max(5 * 1024 * 1024);
        self
    }

    /// The bucket objects go to.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn full_key(&self, key: &str) -> Result<String, ObjectStoreError> {
        let invalid = |reason: &str| ObjectStoreError::InvalidKey {
            key: key.to_owned(),
            reason: reason.to_owned(),
        };
        if key.is_empty() {
            return Err(invalid(
                "it is empty; name the object, e.g. \"artifacts/out.zip\"",
            ));
        }
        if key.starts_with('/') {
            return Err(invalid(
                "it starts with '/'; keys are relative to the store's prefix",
            ));
        }
        if key.split('/').any(|segment| segment == "..") {
            return Err(invalid("it contains a '..' segment"));
        }
        Ok(format!("{}{key}", self.prefix))
    }

    fn metadata(&self, sha256_hex: &str) -> Vec<(String, String)> {
        let mut metadata = vec![(SHA256_METADATA.to_owned(), sha256_hex.to_owned())];
        if let Some(arn) = &self.build_arn {
            metadata.push((BUILD_ARN_METADATA.to_owned(), arn.clone()));
        }
        metadata
    }

    async fn put(&self, key: &str, path: &Path) -> Result<ObjectInfo, ObjectStoreError> {
        let full = self.full_key(key)?;
        let io = |source| ObjectStoreError::Io {
            key: key.to_owned(),
            source,
        };
        let (size, digest) = hash_file(path).await.map_err(io)?;
        let (hex, b64) = sha256_forms(&digest);
        if size < self.multipart_threshold {
            let body = tokio::fs::read(path).await.map_err(io)?;
            let mut request = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(&full)
                .body(ByteStream::from(body))
                .checksum_algorithm(ChecksumAlgorithm::Sha256)
                .checksum_sha256(b64);
            for (name, value) in self.metadata(&hex) {
                request = request.metadata(name, value);
            }
            request.send().await.map_err(|e| backend(key, &e))?;
        } else {
            self.put_multipart(key, &full, path, &hex).await?;
        }
        Ok(ObjectInfo {
            key: key.to_owned(),
            size,
            sha256: Some(hex),
            location: object_arn(&self.bucket, &full),
        })
    }

    async fn put_multipart(
        &self,
        key: &str,
        full: &str,
        path: &Path,
        hex: &str,
    ) -> Result<(), ObjectStoreError> {
        let mut request = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(full)
            .checksum_algorithm(ChecksumAlgorithm::Sha256);
        for (name, value) in self.metadata(hex) {
            request = request.metadata(name, value);
        }
        let created = request.send().await.map_err(|e| backend(key, &e))?;
        let upload_id = created.upload_id().unwrap_or_default().to_owned();
        let uploaded = self.upload_parts(key, full, path, &upload_id).await;
        let parts = match uploaded {
            Ok(parts) => parts,
            Err(err) => {
                // Best effort: an upload left behind is also removed by the bucket's lifecycle rule.
                let _ = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(full)
                    .upload_id(&upload_id)
                    .send()
                    .await;
                return Err(err);
            }
        };
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(full)
            .upload_id(&upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(|e| backend(key, &e))?;
        Ok(())
    }

    async fn upload_parts(
        &self,
        key: &str,
        full: &str,
        path: &Path,
        upload_id: &str,
    ) -> Result<Vec<CompletedPart>, ObjectStoreError> {
        let io = |source| ObjectStoreError::Io {
            key: key.to_owned(),
            source,
        };
        let mut file = tokio::fs::File::open(path).await.map_err(io)?;
        let mut buf = vec![0u8; self.part_size];
        let mut parts = Vec::new();
        for number in 1.. {
            let len = read_full(&mut file, &mut buf).await.map_err(io)?;
            if len == 0 {
                break;
            }
            let part = upload_part(&self.client, &self.bucket, full, upload_id, number, &buf[..len]);
            parts.push(part.await.map_err(|e| backend(key, &e))?);
        }
        Ok(parts)
    }

    async fn get(&self, key: &str, path: &Path) -> Result<Option<ObjectInfo>, ObjectStoreError> {
        let full = self.full_key(key)?;
        let io = |source| ObjectStoreError::Io {
            key: key.to_owned(),
            source,
        };
        let response = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&full)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await;
        let mut output = match response {
            Ok(output) => output,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
            Err(err) => return Err(backend(key, &err)),
        };
        let mut file = tokio::fs::File::create(path).await.map_err(io)?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = output.body.next().await {
            let chunk = chunk.map_err(|e| ObjectStoreError::Backend {
                key: key.to_owned(),
                message: format!("reading the object body: {e}"),
                retryable: true,
            })?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(io)?;
        }
        file.flush().await.map_err(io)?;
        Ok(Some(ObjectInfo {
            key: key.to_owned(),
            size,
            sha256: Some(hex::encode(hasher.finalize())),
            location: object_arn(&self.bucket, &full),
        }))
    }

    async fn head_object(&self, key: &str) -> Result<Option<ObjectInfo>, ObjectStoreError> {
        let full = self.full_key(key)?;
        let response = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&full)
            .send()
            .await;
        let output = match response {
            Ok(output) => output,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => return Ok(None),
            Err(err) => return Err(backend(key, &err)),
        };
        let sha256 = output.metadata().and_then(|m| m.get(SHA256_METADATA)).cloned();
        Ok(Some(ObjectInfo {
            key: key.to_owned(),
            size: output
                .content_length()
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
            sha256,
            location: object_arn(&self.bucket, &full),
        }))
    }
}

async fn upload_part(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
    number: i32,
    data: &[u8],
) -> Result<
    CompletedPart,
    aws_sdk_s3::error::SdkError<
        aws_sdk_s3::operation::upload_part::UploadPartError,
        aws_sdk_s3::config::http::HttpResponse,
    >,
> {
    let (_, b64) = sha256_forms(&Sha256::digest(data));
    let output = client
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .part_number(number)
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .checksum_sha256(&b64)
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await?;
    Ok(CompletedPart::builder()
        .part_number(number)
        .set_e_tag(output.e_tag().map(str::to_owned))
        .checksum_sha256(output.checksum_sha256().unwrap_or(&b64))
        .build())
}

/// Reads until `buf` is full or the file ends; returns how many bytes were read.
pub(super) async fn read_full(file: &mut tokio::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = file.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

async fn hash_file(path: &Path) -> std::io::Result<(u64, Vec<u8>)> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hasher.finalize().to_vec()))
}

fn backend<E>(
    key: &str,
    err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> ObjectStoreError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    ObjectStoreError::Backend {
        key: key.to_owned(),
        message: describe(err),
        retryable: is_retryable(err),
    }
}

impl ObjectStore for S3ObjectStore {
    fn put_file<'a>(
        &'a self,
        key: &'a str,
        path: &'a Path,
    ) -> BoxFuture<'a, Result<ObjectInfo, ObjectStoreError>> {
        Box::pin(self.put(key, path))
    }

    fn get_file<'a>(
        &'a self,
        key: &'a str,
        path: &'a Path,
    ) -> BoxFuture<'a, Result<Option<ObjectInfo>, ObjectStoreError>> {
        Box::pin(self.get(key, path))
    }

    fn head<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<ObjectInfo>, ObjectStoreError>> {
        Box::pin(self.head_object(key))
    }
}
