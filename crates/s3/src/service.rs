//! [`S3`]: one node's object storage service. A request is resolved to a
//! bucket and key ([`addressing`]), routed to its operation by method and
//! query, authorized once through the request's [`crate::Access`], and
//! answered in S3's wire format; the operations live in the submodules by
//! area (`buckets`, `objects`, `listing`, `multipart`, `configs`).

mod addressing;
mod buckets;
mod configs;
mod ctx;
mod data;
mod expire;
mod listing;
mod metrics;
mod multipart;
mod notify;
mod objects;
mod post;
mod wire;

pub use metrics::BucketMetrics;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::Body;
use http::{HeaderValue, Method, Response, StatusCode};

use crate::backend::Backend;
use crate::error::{ApiError, S3Error};
use crate::local::LocalBackend;
use crate::xml::XmlWriter;
use crate::{Notifier, S3Config, S3Request};
use ctx::Ctx;
use notify::NotificationConfig;

/// The object storage service of one node.
pub struct S3 {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) config: S3Config,
    pub(crate) notifier: Arc<dyn Notifier>,
    /// Each bucket's notification configuration, read at open and kept in
    /// step with every change (events are matched without a database read).
    notifications: Mutex<HashMap<String, NotificationConfig>>,
    pub(crate) counters: Mutex<HashMap<String, BucketMetrics>>,
}

impl S3 {
    /// Opens (creating) the store under `dir` (object bytes on disk,
    /// metadata in SQLite), cleaning up what a crash left half-written.
    pub fn open(
        dir: &Path,
        config: S3Config,
        notifier: Arc<dyn Notifier>,
    ) -> Result<Arc<S3>, S3Error> {
        let backend = LocalBackend::open(dir)?;
        Self::with_backend(Arc::new(backend), config, notifier)
    }

    /// The service over any [`Backend`].
    pub fn with_backend(
        backend: Arc<dyn Backend>,
        config: S3Config,
        notifier: Arc<dyn Notifier>,
    ) -> Result<Arc<S3>, S3Error> {
        let mut notifications = HashMap::new();
        for bucket in backend.list_buckets()? {
            if let Some(json) = backend.bucket_config(&bucket.name, "notification")? {
                match serde_json::from_str(&json) {
                    Ok(config) => {
                        notifications.insert(bucket.name, config);
                    }
                    Err(e) => {
                        tracing::warn!(bucket = %bucket.name, error = %e, "unreadable notification configuration")
                    }
                }
            }
        }
        Ok(Arc::new(S3 {
            backend,
            config,
            notifier,
            notifications: Mutex::new(notifications),
            counters: Mutex::new(HashMap::new()),
        }))
    }

    pub(crate) fn notification_config(&self, bucket: &str) -> Option<NotificationConfig> {
        let map = self
            .notifications
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(bucket).cloned()
    }

    pub(crate) fn cache_notification(&self, bucket: &str, config: Option<NotificationConfig>) {
        let mut map = self
            .notifications
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match config {
            Some(c) => map.insert(bucket.to_string(), c),
            None => map.remove(bucket),
        };
    }

    /// Drops what is kept in memory about a deleted bucket.
    pub(crate) fn forget_bucket(&self, bucket: &str) {
        self.cache_notification(bucket, None);
    }

    /// Serves one request. The future is `Send`.
    pub async fn serve(&self, req: S3Request) -> Response<Body> {
        let request_id = req.request_id.clone();
        let target = addressing::resolve(&self.config, &req.headers, &req.uri);
        let resource = match &target {
            Ok(t) => t.resource(),
            Err(_) => req.uri.path().to_string(),
        };
        let head = req.method == Method::HEAD;
        let origin = req
            .headers
            .get("origin")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let method = req.method.to_string();
        let (result, bucket) = match target {
            Ok(target) => {
                let bucket = target.bucket.clone();
                let mut ctx = Ctx {
                    method: req.method,
                    query: parse_query(req.uri.query().unwrap_or("")),
                    headers: req.headers,
                    bucket: target.bucket,
                    key: target.key,
                    body: Mutex::new(Some(req.body)),
                    access: req.access,
                    request_id: request_id.clone(),
                };
                (self.dispatch(&mut ctx).await, bucket)
            }
            Err(e) => (Err(e), None),
        };
        let status = result
            .as_ref()
            .map(|r| r.status())
            .unwrap_or_else(|e| e.status);
        if let Some(b) = &bucket {
            self.count_request(b, status);
        }
        tracing::info!(
            target: "updraft_s3::access",
            request_id = %request_id,
            method = %method,
            resource = %resource,
            status = status.as_u16(),
            error = result.as_ref().err().map(|e| e.code).unwrap_or(""),
            "s3 request"
        );
        let mut response = match result {
            Ok(r) => r,
            Err(e) if head => {
                let mut r = error_response(&e, &resource, &request_id);
                *r.body_mut() = Body::empty();
                r
            }
            Err(e) => error_response(&e, &resource, &request_id),
        };
        if let (Some(origin), Some(bucket)) = (origin, &bucket) {
            if method != "OPTIONS" {
                self.apply_cors(bucket, &origin, &method, &mut response)
                    .await;
            }
        }
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            headers.insert("x-amz-request-id", v.clone());
            headers.insert("x-amz-id-2", v);
        }
        headers.insert("server", HeaderValue::from_static("updraft"));
        response
    }

    /// Runs lifecycle expiration once; returns how many versions, delete
    /// markers and uploads it removed.
    pub async fn expire_now(&self, now: SystemTime) -> Result<usize, S3Error> {
        expire::run(self, now).await
    }

    /// Routes a request to its operation.
    async fn dispatch(&self, ctx: &mut Ctx) -> Result<Response<Body>, ApiError> {
        let method = ctx.method.clone();
        if ctx.bucket.is_none() {
            return match method {
                Method::GET => self.list_buckets(ctx).await,
                _ => Err(method_not_allowed()),
            };
        }
        if method == Method::OPTIONS {
            return self.preflight(ctx).await;
        }
        const DOCS: [&str; 5] = [
            "tagging",
            "policy",
            "publicAccessBlock",
            "cors",
            "lifecycle",
        ];
        if ctx.key.is_none() {
            let doc = DOCS.into_iter().find(|d| ctx.has(d));
            return match (method.clone(), doc) {
                (Method::GET | Method::PUT | Method::DELETE, Some(doc)) => {
                    self.bucket_document(ctx, doc).await
                }
                (Method::GET | Method::PUT, None) if ctx.has("notification") => {
                    self.notification_document(ctx).await
                }
                (Method::GET | Method::PUT, None) if ctx.has("versioning") => {
                    if method == Method::GET {
                        self.get_bucket_versioning(ctx).await
                    } else {
                        self.put_bucket_versioning(ctx).await
                    }
                }
                (Method::GET, None) if ctx.has("location") => self.get_bucket_location(ctx).await,
                (Method::GET, None) if ctx.has("uploads") => self.list_uploads(ctx).await,
                (Method::GET, None) if ctx.has("versions") => self.list_object_versions(ctx).await,
                (Method::GET, None) if ctx.q("list-type") == Some("2") => {
                    self.list_objects(ctx, true).await
                }
                (Method::GET, None) if unsupported_bucket_query(ctx) => {
                    Err(ApiError::not_implemented("This bucket subresource"))
                }
                (Method::GET, None) => self.list_objects(ctx, false).await,
                (Method::PUT, None) if unsupported_bucket_query(ctx) => {
                    Err(ApiError::not_implemented("This bucket subresource"))
                }
                (Method::PUT, None) => self.create_bucket(ctx).await,
                (Method::HEAD, _) => self.head_bucket(ctx).await,
                (Method::DELETE, None) => self.delete_bucket(ctx).await,
                (Method::POST, None) if ctx.has("delete") => self.delete_objects(ctx).await,
                (Method::POST, None) => self.post_object(ctx).await,
                _ => Err(method_not_allowed()),
            };
        }
        if unsupported_object_query(ctx) {
            // Never mistaken for a read or a write of the object itself
            // (a PUT ?acl would otherwise store the ACL document as the
            // object).
            return Err(ApiError::not_implemented("This object subresource"));
        }
        let upload = ctx.has("uploadId");
        match method {
            Method::PUT if upload => self.upload_part(ctx).await,
            Method::PUT if ctx.has("tagging") => self.object_tagging(ctx).await,
            Method::PUT if ctx.headers.contains_key("x-amz-copy-source") => {
                self.copy_object(ctx).await
            }
            Method::PUT => self.put_object(ctx).await,
            Method::GET if upload => self.list_parts(ctx).await,
            Method::GET | Method::DELETE if ctx.has("tagging") => self.object_tagging(ctx).await,
            Method::GET => self.get_object(ctx, false).await,
            Method::HEAD => self.get_object(ctx, true).await,
            Method::DELETE if upload => self.abort_upload(ctx).await,
            Method::DELETE => self.delete_object(ctx).await,
            Method::POST if ctx.has("uploads") => self.create_upload(ctx).await,
            Method::POST if upload => self.complete_upload(ctx).await,
            _ => Err(method_not_allowed()),
        }
    }
}

/// Renders an S3 error document.
pub(crate) fn error_response(e: &ApiError, resource: &str, request_id: &str) -> Response<Body> {
    let mut w = XmlWriter::bare("Error");
    w.elem("Code", e.code).elem("Message", &e.message);
    for (name, value) in &e.extra {
        w.elem(name, value);
    }
    w.elem("Resource", resource).elem("RequestId", request_id);
    let body = w.finish("Error");
    let mut builder = Response::builder()
        .status(e.status)
        .header("content-type", "application/xml");
    for (name, value) in &e.headers {
        builder = builder.header(*name, value.as_str());
    }
    builder
        .body(Body::from(body))
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR))
}

pub(crate) fn plain(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
    )
}

/// Bucket subresources this service does not implement (answered
/// NotImplemented rather than mistaken for a listing or a create).
fn unsupported_bucket_query(ctx: &Ctx) -> bool {
    const OTHER: [&str; 14] = [
        "acl",
        "website",
        "logging",
        "replication",
        "encryption",
        "object-lock",
        "ownershipControls",
        "requestPayment",
        "accelerate",
        "analytics",
        "inventory",
        "metrics",
        "intelligent-tiering",
        "policyStatus",
    ];
    OTHER.iter().any(|q| ctx.has(q))
}

/// Object subresources this service does not implement.
fn unsupported_object_query(ctx: &Ctx) -> bool {
    const OTHER: [&str; 8] = [
        "acl",
        "attributes",
        "retention",
        "legal-hold",
        "torrent",
        "restore",
        "select",
        "renameObject",
    ];
    OTHER.iter().any(|q| ctx.has(q))
}

/// Decodes a query string into pairs (`+` is a space, as S3 reads it).
fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}
