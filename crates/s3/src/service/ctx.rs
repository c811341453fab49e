//! The parsed request an operation works on ([`Ctx`]) and the helpers every
//! operation shares: query and header access, reading small bodies,
//! running backend calls off the async workers, authorization.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::StreamExt;
use http::{HeaderMap, Method, StatusCode};

use crate::backend::{Backend, BucketRecord};
use crate::error::ApiError;
use crate::{Access, BodyError, S3};

/// Largest XML or form document read into memory (CORS, lifecycle,
/// DeleteObjects with 1,000 keys, ...).
pub(crate) const MAX_DOCUMENT: usize = 2 * 1024 * 1024;

/// One request, resolved.
pub(crate) struct Ctx {
    pub method: Method,
    pub headers: HeaderMap,
    pub query: Vec<(String, String)>,
    pub bucket: Option<String>,
    pub key: Option<String>,
    /// In a mutex only so that `&Ctx` is `Send` (the stream is not `Sync`);
    /// it is only ever reached through `&mut self`.
    pub body: std::sync::Mutex<Option<BoxStream<'static, Result<Bytes, BodyError>>>>,
    pub access: Arc<dyn Access>,
    pub request_id: String,
}

impl Ctx {
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.query.iter().any(|(k, _)| k == name)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn bucket(&self) -> Result<&str, ApiError> {
        self.bucket
            .as_deref()
            .ok_or_else(|| ApiError::invalid_request("A bucket is required"))
    }

    pub fn key(&self) -> Result<&str, ApiError> {
        self.key
            .as_deref()
            .ok_or_else(|| ApiError::invalid_request("A key is required"))
    }

    pub fn take_body(&mut self) -> BoxStream<'static, Result<Bytes, BodyError>> {
        self.body
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .unwrap_or_else(|| Box::pin(futures::stream::empty()))
    }

    /// Reads a small body whole (XML documents, forms).
    pub async fn body_bytes(&mut self) -> Result<Bytes, ApiError> {
        let mut body = self.take_body();
        let mut buf = BytesMut::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(body_error)?;
            if buf.len() + chunk.len() > MAX_DOCUMENT {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "MaxMessageLengthExceeded",
                    "Your request was too big.",
                ));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    /// The caller's account, or `""` when anonymous.
    pub fn account(&self) -> String {
        self.access.account().unwrap_or_default().to_string()
    }

    /// The caller's principal, for Initiator fields.
    pub fn principal(&self) -> String {
        self.access
            .principal_arn()
            .or(self.access.account())
            .unwrap_or("anonymous")
            .to_string()
    }
}

pub(crate) fn body_error(e: BodyError) -> ApiError {
    let code: &'static str = match e.code.as_str() {
        "IncompleteBody" => "IncompleteBody",
        "SignatureDoesNotMatch" => "SignatureDoesNotMatch",
        "BadDigest" => "BadDigest",
        "InvalidDigest" => "InvalidDigest",
        "XAmzContentSHA256Mismatch" => "XAmzContentSHA256Mismatch",
        "MalformedTrailerError" => "MalformedTrailerError",
        "RequestTimeout" => "RequestTimeout",
        "EntityTooLarge" => "EntityTooLarge",
        "InvalidChunkSizeError" => "InvalidChunkSizeError",
        "InvalidRequest" => "InvalidRequest",
        "AccessDenied" => "AccessDenied",
        _ => "InvalidRequest",
    };
    ApiError::new(e.status, code, e.message)
}

/// A bucket with what authorization needs.
pub(crate) struct BucketInfo {
    pub record: BucketRecord,
    pub policy: Option<String>,
    /// `Enabled`, `Suspended`, or `None` when never set.
    pub versioning: Option<String>,
}

impl BucketInfo {
    pub fn versioning_enabled(&self) -> bool {
        self.versioning.as_deref() == Some("Enabled")
    }
}

impl S3 {
    /// Runs a backend call on the blocking pool.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Backend) -> Result<T, ApiError> + Send + 'static,
    {
        let backend = self.backend.clone();
        tokio::task::spawn_blocking(move || f(backend.as_ref()))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "a storage task failed");
                ApiError::internal()
            })?
    }

    /// Loads a bucket with its policy and versioning state; `NoSuchBucket`.
    pub(crate) async fn bucket_info(&self, name: &str) -> Result<BucketInfo, ApiError> {
        let name = name.to_string();
        self.run(move |b| {
            let record = b
                .bucket(&name)?
                .ok_or_else(|| ApiError::no_such_bucket(&name))?;
            let policy = b.bucket_config(&name, "policy")?;
            let versioning = b.bucket_config(&name, "versioning")?;
            Ok(BucketInfo {
                record,
                policy,
                versioning,
            })
        })
        .await
    }

    /// Asks the caller's [`Access`] whether `action` is allowed on the
    /// bucket (or on `key` in it).
    pub(crate) fn authorize(
        &self,
        ctx: &Ctx,
        action: &str,
        bucket: &BucketInfo,
        key: Option<&str>,
        conditions: &[(&str, Vec<String>)],
    ) -> Result<(), ApiError> {
        // `x-amz-expected-bucket-owner` guards against writing to a bucket
        // someone else now owns.
        if ctx
            .header("x-amz-expected-bucket-owner")
            .is_some_and(|owner| owner != bucket.record.owner)
        {
            return Err(ApiError::access_denied());
        }
        let resource = match key {
            Some(k) => format!("arn:aws:s3:::{}/{k}", bucket.record.name),
            None => format!("arn:aws:s3:::{}", bucket.record.name),
        };
        ctx.access
            .authorize(
                action,
                &resource,
                &bucket.record.owner,
                bucket.policy.as_deref(),
                conditions,
            )
            .map_err(|d| {
                tracing::debug!(action, resource, reason = %d.reason, "denied");
                ApiError::access_denied()
            })
    }
}
