//! Object storage: an S3-compatible service (rest-xml API, storage engine,
//! notifications).
//!
//! [`S3`] is the service of one node: it owns the buckets (names are global
//! to the node), resolves path-style (`/bucket/key`) and virtual-hosted
//! (`bucket.<host>`) addressing, and answers every request given to
//! [`S3::serve`] in S3's own wire format (rest-xml, `<Error>` bodies,
//! `x-amz-request-id`). Requests arrive authenticated and with their body
//! decoded (the gateway verifies SigV4 and removes aws-chunked framing);
//! authorization is asked of the request's [`Access`] once per operation,
//! with the bucket's policy. Event notifications are handed to a
//! [`Notifier`]; delivering them is the binary's job.
//!
//! Persistence sits behind [`backend::Backend`] (object bytes and metadata)
//! with a conformance suite ([`backend::conformance`]); [`local`] is the
//! embedded implementation (files plus SQLite).

pub mod backend;
pub mod local;

mod error;
mod service;
mod xml;

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;

pub use error::S3Error;
pub use service::{BucketMetrics, S3};

/// An S3 error document (`<Error><Code>…`) for a request refused before
/// [`S3::serve`] sees it (an authentication failure).
pub fn error_response(
    status: http::StatusCode,
    code: &'static str,
    message: impl Into<String>,
    resource: &str,
    request_id: &str,
) -> http::Response<axum::body::Body> {
    let mut response = service::error_response(
        &error::ApiError::new(status, code, message),
        resource,
        request_id,
    );
    if let Ok(id) = http::HeaderValue::from_str(request_id) {
        response
            .headers_mut()
            .insert("x-amz-request-id", id.clone());
        response.headers_mut().insert("x-amz-id-2", id);
    }
    response
}

/// The node's S3 settings.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// The region buckets report (`GetBucketLocation`, event records).
    pub region: String,
    /// The server's own host names (without port), e.g. `localhost`,
    /// `s3.example.test`: a request for `bucket.<one of these>` is
    /// virtual-hosted. Any other host is path-style.
    pub hosts: Vec<String>,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            region: "us-east-1".to_string(),
            hosts: vec!["localhost".to_string()],
        }
    }
}

/// One authenticated request.
pub struct S3Request {
    pub method: http::Method,
    pub uri: http::Uri,
    pub headers: http::HeaderMap,
    /// The decoded payload: aws-chunked framing already removed and chunk
    /// signatures/trailers already verified by the caller. An `Err` item
    /// means the body is bad or broken: the request is answered with that
    /// error and nothing is stored.
    pub body: BoxStream<'static, Result<Bytes, BodyError>>,
    pub access: Arc<dyn Access>,
    pub request_id: String,
}

impl S3Request {
    /// A request with an empty body (tests, internal callers).
    pub fn new(
        method: http::Method,
        uri: http::Uri,
        headers: http::HeaderMap,
        access: Arc<dyn Access>,
    ) -> Self {
        S3Request {
            method,
            uri,
            headers,
            body: Box::pin(futures::stream::empty()),
            access,
            request_id: uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
        }
    }

    /// Replaces the body with `bytes`.
    pub fn with_body(mut self, bytes: impl Into<Bytes>) -> Self {
        let bytes: Bytes = bytes.into();
        self.body = Box::pin(futures::stream::once(async move { Ok(bytes) }));
        self
    }
}

/// Why a request body could not be read; answered as an S3 error.
#[derive(Debug, Clone)]
pub struct BodyError {
    pub status: http::StatusCode,
    pub code: String,
    pub message: String,
}

/// An authorization refusal (answered `403 AccessDenied`).
#[derive(Debug, Clone, Default)]
pub struct Denied {
    /// Why, for logs; the client sees S3's usual "Access Denied".
    pub reason: String,
}

/// Who is calling and what they may do. Implemented by the gateway with IAM.
pub trait Access: Send + Sync {
    /// The caller's account id, or `None` for an anonymous request.
    fn account(&self) -> Option<&str>;
    /// The caller's principal ARN (Owner/Initiator fields, event records).
    fn principal_arn(&self) -> Option<&str>;
    /// Whether the caller may do `action` (e.g. `s3:GetObject`) on
    /// `resource` (e.g. `arn:aws:s3:::bucket/key`), given the bucket's
    /// policy JSON (if any), the bucket owner's account and extra condition
    /// keys (e.g. `("s3:prefix", ["photos/"])`).
    fn authorize(
        &self,
        action: &str,
        resource: &str,
        bucket_owner: &str,
        bucket_policy: Option<&str>,
        conditions: &[(&str, Vec<String>)],
    ) -> Result<(), Denied>;

    /// For a browser POST upload whose form carries a signed policy: checks
    /// `form.signature` against `form.policy` (SigV4: the hex HMAC of the
    /// base64 policy with the credential's signing key, and the
    /// credential's session token if any) and returns the signer's access,
    /// which then authorizes the upload. The default refuses every signed
    /// form; a form without a policy is authorized as this request.
    fn verify_post_policy(&self, form: &PostSignature) -> Result<Arc<dyn Access>, Denied> {
        let _ = form;
        Err(Denied {
            reason: "POST policy signatures are not verified here".to_string(),
        })
    }
}

/// The signing fields of a browser POST form (names as the form spells
/// them: `policy`, `x-amz-algorithm`, `x-amz-credential`, `x-amz-date`,
/// `x-amz-signature`, `x-amz-security-token`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostSignature {
    /// The policy as sent: base64 of its JSON.
    pub policy: String,
    pub algorithm: String,
    pub credential: String,
    pub date: String,
    pub signature: String,
    pub security_token: Option<String>,
}

/// Where event notifications go; implemented by the binary (async Lambda
/// invoke through the durable queue, SQS send, EventBridge PutEvents).
pub trait Notifier: Send + Sync {
    /// Hands `event` to `target`'s delivery path; the future ends once the
    /// event is durable there (or refused), and the request that caused it
    /// answers only then, so an acknowledged write never loses its event.
    fn deliver(
        &self,
        target: NotificationTarget,
        event: serde_json::Value,
    ) -> futures::future::BoxFuture<'static, ()>;
}

/// A notification destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationTarget {
    Lambda {
        function_arn: String,
    },
    Sqs {
        queue_arn: String,
    },
    /// The default event bus; `event` is a PutEvents entry's fields
    /// (`source`, `detail-type`, `detail`, `resources`, ...).
    EventBridge {
        bucket: String,
    },
}

/// A [`Notifier`] that drops every event.
pub struct NoNotifier;

impl Notifier for NoNotifier {
    fn deliver(
        &self,
        _target: NotificationTarget,
        _event: serde_json::Value,
    ) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}
