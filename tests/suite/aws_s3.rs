//! The S3 object store and log sink against moto: single and multipart uploads with SHA-256 checksums and the
//! build-ARN metadata, downloads, missing objects, bad keys, and log objects small and large.

use kiln_aws::S3LogSink;
use kiln_aws::S3ObjectStore;
use kiln_core::ports::logs::LogSink;
use kiln_core::ports::object_store::{ObjectStore, ObjectStoreError};

use crate::aws_support::{create_bucket, with_moto};

const MIB: usize = 1024 * 1024;
const ARN: &str = "arn:aws:codebuild:us-east-1:123456789012:build/web:8745a7a9-c340-456a-9166-edf953571bff";

/// SHA-256 through the `sha256sum` tool, so the adapter is not checked with its own code.
fn sha256_hex(path: &std::path::Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("a digest")
        .to_owned()
}

fn write_file(dir: &tempfile::TempDir, name: &str, size: usize) -> std::path::PathBuf {
    let path = dir.path().join(name);
    let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, data).expect("write the test file");
    path
}

#[test]
fn a_small_object_round_trips_with_its_sha256_and_build_arn_metadata() {
    with_moto(|clients, _| async move {
        create_bucket(&clients, "artifacts").await;
        let store = S3ObjectStore::new(clients.s3.clone(), "artifacts", "web/").with_build_arn(ARN);
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write_file(&dir, "out.zip", 1000);

        let info = store.put_file("out.zip", &path).await.expect("upload");
        assert_eq!(info.size, 1000);
        assert_eq!(info.sha256.as_deref(), Some(sha256_hex(&path).as_str()));
        assert_eq!(info.location, "arn:aws:s3:::artifacts/web/out.zip");

        let head = clients
            .s3
            .head_object()
            .bucket("artifacts")
            .key("web/out.zip")
            .send()
            .await
            .expect("head");
        let metadata = head.metadata().expect("user metadata");
        assert_eq!(metadata.get("codebuild-buildarn").map(String::as_str), Some(ARN));
        assert_eq!(store.head("out.zip").await.expect("head"), Some(info.clone()));

        let back = dir.path().join("back.zip");
        let got = store
            .get_file("out.zip", &back)
            .await
            .expect("download")
            .expect("present");
        assert_eq!(got.sha256, info.sha256);
        assert_eq!(
            std::fs::read(&back).expect("read"),
            std::fs::read(&path).expect("read")
        );
    });
}

#[test]
fn an_object_above_the_threshold_is_uploaded_in_parts_and_keeps_its_whole_sha256() {
    with_moto(|clients, _| async move {
        create_bucket(&clients, "cache").await;
        let store =
            S3ObjectStore::new(clients.s3.clone(), "cache", "").with_multipart(6 * MIB as u64, 5 * MIB);
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write_file(&dir, "cache.tgz", 11 * MIB + 17);

        let info = store
            .put_file("p/cache.tgz", &path)
            .await
            .expect("multipart upload");
        assert_eq!(info.size, (11 * MIB + 17) as u64);

        let head = clients
            .s3
            .head_object()
            .bucket("cache")
            .key("p/cache.tgz")
            .send()
            .await
            .expect("head");
        assert!(
            head.e_tag().unwrap_or_default().contains("-3"),
            "a 3-part etag, got {:?}",
            head.e_tag()
        );
        let described = store.head("p/cache.tgz").await.expect("head").expect("present");
        assert_eq!(described.sha256.as_deref(), Some(sha256_hex(&path).as_str()));

        let back = dir.path().join("back.tgz");
        store
            .get_file("p/cache.tgz", &back)
            .await
            .expect("download")
            .expect("present");
        assert_eq!(sha256_hex(&back), sha256_hex(&path));
    });
}

#[test]
fn a_missing_object_is_none_and_a_key_that_escapes_the_prefix_is_refused() {
    with_moto(|clients, _| async move {
        create_bucket(&clients, "artifacts").await;
        let store = S3ObjectStore::new(clients.s3.clone(), "artifacts", "web/");
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(store.head("nothing").await.expect("head"), None);
        assert_eq!(
            store
                .get_file("nothing", &dir.path().join("x"))
                .await
                .expect("get"),
            None
        );
        for key in ["../other/secret", "/abs", ""] {
            let err = store.put_file(key, &dir.path().join("x")).await.unwrap_err();
            assert!(
                matches!(err, ObjectStoreError::InvalidKey { .. }),
                "{key:?}: {err}"
            );
        }
    });
}

#[test]
fn a_short_log_becomes_one_object_when_the_sink_finishes() {
    with_moto(|clients, _| async move {
        create_bucket(&clients, "logs").await;
        let sink = S3LogSink::new(clients.s3.clone(), "logs", "web/8745a7a9.log");
        sink.append(b"[Container] line one\n").await.expect("append");
        sink.append(b"[Container] line two\n").await.expect("append");
        let location = sink.finish().await.expect("finish");
        assert_eq!(location, "arn:aws:s3:::logs/web/8745a7a9.log");
        let object = clients
            .s3
            .get_object()
            .bucket("logs")
            .key("web/8745a7a9.log")
            .send()
            .await
            .expect("get");
        let body = object.body.collect().await.expect("body").into_bytes();
        assert_eq!(&body[..], b"[Container] line one\n[Container] line two\n");
        assert!(
            sink.append(b"late\n").await.is_err(),
            "a finished log takes no more lines"
        );
    });
}

#[test]
fn a_long_log_is_streamed_in_parts_and_reads_back_whole() {
    with_moto(|clients, _| async move {
        create_bucket(&clients, "logs").await;
        let sink = S3LogSink::new(clients.s3.clone(), "logs", "big.log");
        let line = format!("{}\n", "x".repeat(1023));
        let mut expected = Vec::new();
        for _ in 0..12 {
            let batch = line.repeat(1024);
            sink.append(batch.as_bytes()).await.expect("append");
            expected.extend_from_slice(batch.as_bytes());
        }
        sink.finish().await.expect("finish");
        let object = clients
            .s3
            .get_object()
            .bucket("logs")
            .key("big.log")
            .send()
            .await
            .expect("get");
        assert!(
            object.e_tag().unwrap_or_default().contains('-'),
            "multipart etag: {:?}",
            object.e_tag()
        );
        let body = object.body.collect().await.expect("body").into_bytes();
        assert_eq!(body.len(), expected.len());
        assert!(body[..] == expected[..]);
    });
}
