//! S3 adapters: the object store (artifacts, cache archives, log objects), the build-log sink and its reader.

mod log_reader;
mod log_sink;
mod object_store;

pub use log_reader::{LOG_PREFIX, S3LogReader, log_key};
pub use log_sink::S3LogSink;
pub use object_store::{DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE, S3ObjectStore};

/// The `arn:aws:s3:::bucket/key` form CodeBuild reports artifact and log locations in.
pub fn object_arn(bucket: &str, key: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{key}")
}

/// Lowercase hex SHA-256 and its base64 form (what S3's `x-amz-checksum-sha256` carries).
fn sha256_forms(digest: &[u8]) -> (String, String) {
    (hex::encode(digest), aws_smithy_types::base64::encode(digest))
}
