//! [`S3`]: one node's object storage service. A request is resolved to a
//! bucket and key ([`addressing`]), routed to its operation by method and
//! query, authorized once through the request's [`crate::Access`], and
//! answered in S3's wire format; the operations live in the submodules by
//! area (`buckets`, `objects`, `listing`, `multipart`, `configs`).

mod addressing;

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use http::{HeaderValue, Method, Response, StatusCode};

use crate::backend::Backend;
use crate::error::{ApiError, S3Error};
use crate::local::LocalBackend;
use crate::xml::XmlWriter;
use crate::{Notifier, S3Config, S3Request};

/// The object storage service of one node.
pub struct S3 {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) config: S3Config,
    pub(crate) notifier: Arc<dyn Notifier>,
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
        Ok(Self::with_backend(Arc::new(backend), config, notifier))
    }

    /// The service over any [`Backend`].
    pub fn with_backend(
        backend: Arc<dyn Backend>,
        config: S3Config,
        notifier: Arc<dyn Notifier>,
    ) -> Arc<S3> {
        Arc::new(S3 {
            backend,
            config,
            notifier,
        })
    }

    /// Serves one request.
    pub async fn serve(&self, req: S3Request) -> Response<Body> {
        let request_id = req.request_id.clone();
        let target = addressing::resolve(&self.config, &req.headers, &req.uri);
        let resource = match &target {
            Ok(t) => t.resource(),
            Err(_) => req.uri.path().to_string(),
        };
        let result = match target {
            Ok(_target) => Err(ApiError::not_implemented("This operation")),
            Err(e) => Err(e),
        };
        let mut response = match result {
            Ok(r) => r,
            Err(e) => error_response(&e, &resource, &request_id),
        };
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
    pub async fn expire_now(&self, _now: SystemTime) -> Result<usize, S3Error> {
        Ok(0)
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

#[allow(dead_code)]
pub(crate) fn is_head(method: &Method) -> bool {
    method == Method::HEAD
}
