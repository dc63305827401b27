//! The S3 [`LogReader`]: a build's log object read back by byte range (ranged GetObject), for the `api`
//! function's `/builds/{id}/logs` and the console. The object is the one [`super::S3LogSink`] writes, under
//! [`log_key`]; it appears when the build's log is finished (the live view while running is CloudWatch).

use crate::retry::{describe, is_retryable};
use kiln_core::build::BuildId;
use kiln_core::ports::BoxFuture;
use kiln_core::ports::logs::{LogChunk, LogReadError, LogReader};

/// The prefix of build logs in the stack's logs bucket: the runner writes there and the `api` function reads.
pub const LOG_PREFIX: &str = "";

/// The key of build `id`'s log object under `prefix` (empty or ending in `/`): `<prefix><project>/<uuid>.log`,
/// the layout of the local logs directory.
pub fn log_key(prefix: &str, id: &BuildId) -> String {
    format!("{prefix}{}/{}.log", id.project().as_str(), id.uuid())
}

/// Reads log objects from one bucket.
#[derive(Debug, Clone)]
pub struct S3LogReader {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl S3LogReader {
    /// Reads `bucket`/`<prefix><project>/<uuid>.log`; `prefix` is empty or ends in `/`.
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
    ) -> S3LogReader {
        S3LogReader {
            client,
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    async fn read(&self, id: &BuildId, offset: u64, max: u64) -> Result<LogChunk, LogReadError> {
        let key = log_key(&self.prefix, id);
        if max == 0 {
            return self.size(id, &key).await.map(|size| LogChunk {
                bytes: Vec::new(),
                size,
            });
        }
        let response = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .range(format!("bytes={offset}-{}", offset.saturating_add(max - 1)))
            .send()
            .await;
        let output = match response {
            Ok(output) => output,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(LogChunk::default());
            }
            // 416: the offset is at or past the end; the size says where the end is.
            Err(err) if err.raw_response().is_some_and(|r| r.status().as_u16() == 416) => {
                let size = self.size(id, &key).await?;
                return Ok(LogChunk {
                    bytes: Vec::new(),
                    size,
                });
            }
            Err(err) => return Err(backend(id, &err)),
        };
        let total = output.content_range().and_then(total_of_range);
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| LogReadError::Backend {
                build: id.to_string(),
                message: format!("reading s3://{}/{key}: {e}", self.bucket),
                retryable: true,
            })?
            .into_bytes()
            .to_vec();
        let size = total.unwrap_or(offset + bytes.len() as u64);
        Ok(LogChunk { bytes, size })
    }

    async fn size(&self, id: &BuildId, key: &str) -> Result<u64, LogReadError> {
        let response = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        match response {
            Ok(output) => Ok(output
                .content_length()
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0)),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(0),
            Err(err) => Err(backend(id, &err)),
        }
    }
}

/// The total of a `Content-Range: bytes 0-99/1234` header.
fn total_of_range(range: &str) -> Option<u64> {
    range.rsplit_once('/')?.1.trim().parse().ok()
}

fn backend<E>(
    id: &BuildId,
    err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> LogReadError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    LogReadError::Backend {
        build: id.to_string(),
        message: describe(err),
        retryable: is_retryable(err),
    }
}

impl LogReader for S3LogReader {
    fn read_at<'a>(
        &'a self,
        id: &'a BuildId,
        offset: u64,
        max: u64,
    ) -> BoxFuture<'a, Result<LogChunk, LogReadError>> {
        Box::pin(self.read(id, offset, max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_follows_the_local_layout_and_the_total_comes_from_the_content_range() {
        let id = BuildId::parse("web:0b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162").expect("id");
        assert_eq!(
            log_key("logs/", &id),
            "logs/web/0b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162.log"
        );
        assert_eq!(total_of_range("bytes 0-99/1234"), Some(1234));
        assert_eq!(total_of_range("bytes */1234"), Some(1234));
        assert_eq!(total_of_range("garbage"), None);
    }
}
