//! Per-bucket figures for `/metrics`: requests and errors counted as they
//! are answered, writes as they commit ([`S3::bucket_metrics`]), and what
//! each bucket holds, measured on demand ([`S3::bucket_usage`]).

use http::StatusCode;

use crate::backend::BucketUsage;
use crate::error::S3Error;
use crate::S3;

/// One bucket's counters since the node started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketMetrics {
    pub bucket: String,
    /// Requests answered for the bucket.
    pub requests: u64,
    /// Of those, answered with a 4xx or 5xx.
    pub errors: u64,
    /// Object writes and deletes committed (PUT, copy, complete, delete).
    pub writes: u64,
}

impl S3 {
    fn with_counters(&self, bucket: &str, f: impl FnOnce(&mut BucketMetrics)) {
        let mut map = self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = map
            .entry(bucket.to_string())
            .or_insert_with(|| BucketMetrics {
                bucket: bucket.to_string(),
                ..BucketMetrics::default()
            });
        f(entry);
    }

    pub(crate) fn count_request(&self, bucket: &str, status: StatusCode) {
        self.with_counters(bucket, |m| {
            m.requests += 1;
            if status.is_client_error() || status.is_server_error() {
                m.errors += 1;
            }
        });
    }

    pub(crate) fn count_write(&self, bucket: &str) {
        self.with_counters(bucket, |m| m.writes += 1);
    }

    /// Every bucket's counters, by name.
    pub fn bucket_metrics(&self) -> Vec<BucketMetrics> {
        let map = self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut all: Vec<BucketMetrics> = map.values().cloned().collect();
        all.sort_by(|a, b| a.bucket.cmp(&b.bucket));
        all
    }
}

impl S3 {
    /// Every bucket with what it holds (objects, versions, bytes), by name.
    /// Reads the metadata store: call it at scrape time, not per request.
    pub async fn bucket_usage(&self) -> Result<Vec<(String, BucketUsage)>, S3Error> {
        let backend = self.backend.clone();
        let measured = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for bucket in backend.list_buckets()? {
                match backend.usage(&bucket.name) {
                    Ok(u) => out.push((bucket.name, u)),
                    // Deleted meanwhile.
                    Err(crate::backend::BackendError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(out)
        })
        .await
        .map_err(|e| S3Error::Task(e.to_string()))?;
        Ok(measured?)
    }
}
