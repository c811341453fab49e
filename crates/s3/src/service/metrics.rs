//! Per-bucket counters for `/metrics`: requests and errors counted as they
//! are answered, writes as they commit.

use http::StatusCode;

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
