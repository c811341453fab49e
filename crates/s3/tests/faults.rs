//! Disk failures: a write that fails (disk full, I/O error) answers
//! ServiceUnavailable or InternalError and leaves the old object whole.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use updraft_s3::backend::{
    Backend, BackendError, BlobReader, BlobRef, BlobWriter, BucketRecord, BucketUsage, ObjectMeta,
    ObjectRecord, PartRecord, Result, UploadRecord, VersionCursor, WriteCondition,
};
use updraft_s3::local::LocalBackend;
use updraft_s3::{Access, Denied, NoNotifier, S3Config, S3Request, S3};

struct Allow;

impl Access for Allow {
    fn account(&self) -> Option<&str> {
        Some("111122223333")
    }
    fn principal_arn(&self) -> Option<&str> {
        None
    }
    fn authorize(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: Option<&str>,
        _: &[(&str, Vec<String>)],
    ) -> std::result::Result<(), Denied> {
        Ok(())
    }
}

/// The local backend, with blob writes that fail on demand the way a full
/// disk (or a broken one) makes them fail.
struct Faulty {
    inner: LocalBackend,
    full: Arc<AtomicBool>,
    broken: Arc<AtomicBool>,
}

struct FaultyWriter {
    inner: Box<dyn BlobWriter>,
    full: Arc<AtomicBool>,
    broken: Arc<AtomicBool>,
}

impl BlobWriter for FaultyWriter {
    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let kind = if self.full.load(Ordering::SeqCst) {
            std::io::ErrorKind::StorageFull
        } else if self.broken.load(Ordering::SeqCst) {
            std::io::ErrorKind::Other
        } else {
            return self.inner.write(bytes);
        };
        // Half the bytes land, then the disk fails.
        self.inner.write(&bytes[..bytes.len() / 2])?;
        Err(BackendError::Storage {
            context: "writing a blob".into(),
            transient: kind == std::io::ErrorKind::StorageFull,
            source: Box::new(std::io::Error::from(kind)),
        })
    }
    fn finish(self: Box<Self>) -> Result<BlobRef> {
        self.inner.finish()
    }
}

impl Backend for Faulty {
    fn create_blob(&self) -> Result<Box<dyn BlobWriter>> {
        Ok(Box::new(FaultyWriter {
            inner: self.inner.create_blob()?,
            full: self.full.clone(),
            broken: self.broken.clone(),
        }))
    }
    fn read_blob(&self, blob: &BlobRef) -> Result<Box<dyn BlobReader>> {
        self.inner.read_blob(blob)
    }
    fn discard_blob(&self, blob: &BlobRef) -> Result<()> {
        self.inner.discard_blob(blob)
    }
    fn create_bucket(&self, bucket: &BucketRecord) -> Result<()> {
        self.inner.create_bucket(bucket)
    }
    fn bucket(&self, name: &str) -> Result<Option<BucketRecord>> {
        self.inner.bucket(name)
    }
    fn list_buckets(&self) -> Result<Vec<BucketRecord>> {
        self.inner.list_buckets()
    }
    fn delete_bucket(&self, name: &str) -> Result<()> {
        self.inner.delete_bucket(name)
    }
    fn set_bucket_config(&self, bucket: &str, kind: &str, value: Option<&str>) -> Result<()> {
        self.inner.set_bucket_config(bucket, kind, value)
    }
    fn bucket_config(&self, bucket: &str, kind: &str) -> Result<Option<String>> {
        self.inner.bucket_config(bucket, kind)
    }
    fn put_object(&self, bucket: &str, o: ObjectRecord, c: WriteCondition) -> Result<ObjectRecord> {
        self.inner.put_object(bucket, o, c)
    }
    fn object(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Option<ObjectRecord>> {
        self.inner.object(bucket, key, version)
    }
    fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
    ) -> Result<Option<ObjectRecord>> {
        self.inner.delete_version(bucket, key, version)
    }
    fn update_meta(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
        meta: &ObjectMeta,
    ) -> Result<bool> {
        self.inner.update_meta(bucket, key, version, meta)
    }
    fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<ObjectRecord>> {
        self.inner.list_objects(bucket, prefix, after, limit)
    }
    fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&VersionCursor>,
        limit: usize,
    ) -> Result<Vec<ObjectRecord>> {
        self.inner.list_versions(bucket, prefix, after, limit)
    }
    fn usage(&self, bucket: &str) -> Result<BucketUsage> {
        self.inner.usage(bucket)
    }
    fn create_upload(&self, bucket: &str, upload: &UploadRecord) -> Result<()> {
        self.inner.create_upload(bucket, upload)
    }
    fn upload(&self, bucket: &str, upload_id: &str) -> Result<Option<UploadRecord>> {
        self.inner.upload(bucket, upload_id)
    }
    fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<UploadRecord>> {
        self.inner.list_uploads(bucket, prefix, after, limit)
    }
    fn put_part(&self, bucket: &str, upload_id: &str, part: &PartRecord) -> Result<()> {
        self.inner.put_part(bucket, upload_id, part)
    }
    fn list_parts(&self, bucket: &str, upload_id: &str) -> Result<Vec<PartRecord>> {
        self.inner.list_parts(bucket, upload_id)
    }
    fn complete_upload(
        &self,
        bucket: &str,
        upload_id: &str,
        o: ObjectRecord,
        c: WriteCondition,
    ) -> Result<ObjectRecord> {
        self.inner.complete_upload(bucket, upload_id, o, c)
    }
    fn abort_upload(&self, bucket: &str, upload_id: &str) -> Result<()> {
        self.inner.abort_upload(bucket, upload_id)
    }
}

async fn call(s3: &S3, method: Method, uri: &str, body: &'static [u8]) -> (StatusCode, Bytes) {
    let mut headers = HeaderMap::new();
    headers.insert("host", "localhost".parse().expect("host"));
    let req = S3Request::new(method, uri.parse().expect("uri"), headers, Arc::new(Allow))
        .with_body(Bytes::from_static(body));
    let resp = s3.serve(req).await;
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, body)
}

#[tokio::test]
async fn failed_writes_answer_an_error_and_keep_the_old_object() {
    let dir = tempfile::tempdir().expect("temp dir");
    let full = Arc::new(AtomicBool::new(false));
    let broken = Arc::new(AtomicBool::new(false));
    let backend = Faulty {
        inner: LocalBackend::open(dir.path()).expect("open"),
        full: full.clone(),
        broken: broken.clone(),
    };
    let s3 = S3::with_backend(Arc::new(backend), S3Config::default(), Arc::new(NoNotifier))
        .expect("service");
    assert_eq!(call(&s3, Method::PUT, "/bkt", b"").await.0, StatusCode::OK);
    assert_eq!(
        call(&s3, Method::PUT, "/bkt/k", b"old contents").await.0,
        StatusCode::OK
    );

    full.store(true, Ordering::SeqCst);
    let (status, body) = call(&s3, Method::PUT, "/bkt/k", b"new contents").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(String::from_utf8_lossy(&body).contains("<Code>ServiceUnavailable</Code>"));
    full.store(false, Ordering::SeqCst);

    broken.store(true, Ordering::SeqCst);
    let (status, body) = call(&s3, Method::PUT, "/bkt/k", b"new contents").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(String::from_utf8_lossy(&body).contains("<Code>InternalError</Code>"));
    let (status, _) = call(&s3, Method::PUT, "/bkt/other", b"new contents").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    broken.store(false, Ordering::SeqCst);

    let (status, body) = call(&s3, Method::GET, "/bkt/k", b"").await;
    assert_eq!(
        (status, body.as_ref()),
        (StatusCode::OK, b"old contents".as_ref())
    );
    assert_eq!(
        call(&s3, Method::GET, "/bkt/other", b"").await.0,
        StatusCode::NOT_FOUND
    );
    // Nothing half-written is left behind.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp"))
            .expect("tmp")
            .count(),
        0
    );
}
