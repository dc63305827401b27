//! The S3 build-log sink: one plain-text object per build, streamed as a
//! multipart upload so memory stays bounded by one part (5 MiB by default) however long the log grows.
//!
//! Choice: multipart rather than a periodic PUT of the whole object, because a periodic PUT keeps the whole log
//! in memory and re-uploads it every time. The cost is that the S3 object appears only when the build finishes;
//! the live view is CloudWatch Logs, which the runner feeds through stdout and the `awslogs` driver. A log that
//! never reaches `finish` (the task was killed) leaves an incomplete upload, which the bucket's
//! `AbortIncompleteMultipartUpload` lifecycle rule removes; its lines are still in CloudWatch.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use super::{object_arn, sha256_forms};
use crate::retry::{describe, is_retryable};
use kiln_core::ports::BoxFuture;
use kiln_core::ports::logs::{LogSink, LogSinkError};

/// The smallest part S3 accepts (except for the last part).
const MIN_PART: usize = 5 * 1024 * 1024;

/// Streams one build's log into one S3 object.
#[derive(Debug)]
pub struct S3LogSink {
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    part_size: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    buffer: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
    finished: Option<String>,
}

impl S3LogSink {
    /// A sink writing to `bucket`/`key` (CodeBuild's layout is `<location>/<build uuid>.log`).
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>, key: impl Into<String>) -> S3LogSink {
        S3LogSink {
            client,
            bucket: bucket.into(),
            key: key.into(),
            part_size: MIN_PART,
            state: Mutex::new(State::default()),
        }
    }

    /// Changes the buffered size at which a part is uploaded (at least 5 MiB).
    pub fn with_part_size(mut self, part_size: usize) -> S3LogSink {
        self.part_size = part_size.max(MIN_PART);
        self
    }

    async fn append_lines(&self, lines: &[u8]) -> Result<(), LogSinkError> {
        let mut state = self.state.lock().await;
        if state.finished.is_some() {
            return Err(LogSinkError::Backend {
                message: format!("log {} is already finished; nothing can be appended", self.key),
                retryable: false,
            });
        }
        state.buffer.extend_from_slice(lines);
        if state.buffer.len() >= self.part_size {
            self.flush_part(&mut state).await?;
        }
        Ok(())
    }

    async fn flush_part(&self, state: &mut State) -> Result<(), LogSinkError> {
        let upload_id = match &state.upload_id {
            Some(id) => id.clone(),
            None => {
                let created = self
                    .client
                    .create_multipart_upload()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .content_type("text/plain; charset=utf-8")
                    .checksum_algorithm(ChecksumAlgorithm::Sha256)
                    .send()
                    .await
                    .map_err(|e| backend(&e))?;
                let id = created.upload_id().unwrap_or_default().to_owned();
                state.upload_id = Some(id.clone());
                id
            }
        };
        let number = i32::try_from(state.parts.len() + 1).unwrap_or(i32::MAX);
        let data = std::mem::take(&mut state.buffer);
        let (_, b64) = sha256_forms(&Sha256::digest(&data));
        let output = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&upload_id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_sha256(&b64)
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(|e| backend(&e))?;
        state.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(output.e_tag().map(str::to_owned))
                .checksum_sha256(output.checksum_sha256().unwrap_or(&b64))
                .build(),
        );
        Ok(())
    }

    async fn finish_log(&self) -> Result<String, LogSinkError> {
        let mut state = self.state.lock().await;
        if let Some(location) = &state.finished {
            return Ok(location.clone());
        }
        match state.upload_id.clone() {
            None => {
                let data = std::mem::take(&mut state.buffer);
                let (_, b64) = sha256_forms(&Sha256::digest(&data));
                self.client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .content_type("text/plain; charset=utf-8")
                    .checksum_algorithm(ChecksumAlgorithm::Sha256)
                    .checksum_sha256(b64)
                    .body(ByteStream::from(data))
                    .send()
                    .await
                    .map_err(|e| backend(&e))?;
            }
            Some(upload_id) => {
                if !state.buffer.is_empty() {
                    self.flush_part(&mut state).await?;
                }
                let parts = state.parts.clone();
                self.client
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .upload_id(upload_id)
                    .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                    .send()
                    .await
                    .map_err(|e| backend(&e))?;
            }
        }
        let location = object_arn(&self.bucket, &self.key);
        state.finished = Some(location.clone());
        Ok(location)
    }
}

fn backend<E>(err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> LogSinkError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    LogSinkError::Backend {
        message: describe(err),
        retryable: is_retryable(err),
    }
}

impl LogSink for S3LogSink {
    fn append<'a>(&'a self, lines: &'a [u8]) -> BoxFuture<'a, Result<(), LogSinkError>> {
        Box::pin(self.append_lines(lines))
    }

    fn finish(&self) -> BoxFuture<'_, Result<String, LogSinkError>> {
        Box::pin(self.finish_log())
    }
}
