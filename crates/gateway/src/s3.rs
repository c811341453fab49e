//! S3 on the shared endpoint: which requests are S3's, their
//! authentication by S3's SigV4 rules, and the [`updraft_s3::Access`] the
//! object store asks before each operation.
//!
//! ```text
//!  request ─> bucket.<host>, or signed for s3, or unsigned and not another API's path
//!          ─> verify_s3 (head only: header signature or presigned URL; a V2
//!             presigned URL, boto3's default, by verify_s3_v2_presigned) ─> Caller, Payload
//!          ─> Payload::decode (body hash, aws-chunked chunk signatures, trailing checksum)
//!          ─> S3::serve ─> per operation: Access::authorize(action, ARN, owner, bucket policy)
//! ```
//!
//! S3 bodies are streamed (objects may be gigabytes), so S3 requests do
//! not go through [`crate::signed::verify`], which buffers bodies; they are
//! picked off before routing ([`dispatch`]). An unsigned request is
//! anonymous: it gets what the bucket's policy grants everyone.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;
use http::request::Parts;
use http_body_util::BodyExt;
use updraft_auth::s3::Payload;
use updraft_auth::SignedRequest;
use updraft_iam::Caller;
use updraft_policy::{Decision, PolicyDocument, PolicyKind, PrincipalKind};

use crate::{AppState, Shared};

/// Paths of the other APIs: an unsigned request there gets that API's
/// refusal, not S3's.
const OTHER_APIS: &[&str] = &[
    "/2015-03-31/",
    "/2016-08-19/",
    "/2017-03-31/",
    "/2017-10-31/",
    "/2018-10-31/",
    "/2019-09-25/",
    "/2019-09-30/",
    "/2020-04-22/",
    "/2020-06-30/",
    "/2021-10-31/",
    "/2022-07-20/",
    "/fn/",
    "/schedules",
    "/schedule-groups",
    "/updraft/",
    "/console",
];

/// Hands S3's requests to the object store; everything else goes on to
/// the router.
pub(crate) async fn dispatch(State(state): Shared, req: Request, next: Next) -> Response {
    let s3 = state.s3.clone().filter(|_| is_s3(&state, &req));
    match s3 {
        Some(s3) => serve(state, s3, req).await,
        None => next.run(req).await,
    }
}

/// Whether `req` is an S3 request.
fn is_s3(state: &AppState, req: &Request) -> bool {
    let headers = req.headers();
    if virtual_hosted(state, headers) {
        return true;
    }
    // The other APIs' paths stay theirs whatever a request is signed for
    // (a function URL signed for s3 gets the URL's 403).
    let path = req.uri().path();
    if path == "/metrics" || OTHER_APIS.iter().any(|p| path.starts_with(p)) {
        return false;
    }
    if let Some(service) = signed_for(req) {
        return service == updraft_auth::s3::S3_SERVICE;
    }
    if req.method() == http::Method::POST {
        // The JSON protocols and SQS's query protocol answer unsigned
        // requests with their own errors; a browser upload is a
        // multipart form.
        if headers.contains_key("x-amz-target") {
            return false;
        }
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        return content_type.starts_with("multipart/form-data");
    }
    path != "/" || req.method() == http::Method::GET || req.method() == http::Method::OPTIONS
}

/// Whether the `Host` is `bucket.<one of the node's S3 host names>`.
fn virtual_hosted(state: &AppState, headers: &http::HeaderMap) -> bool {
    hosted_bucket(state, headers).is_some()
}

/// The bucket a virtual-hosted request's `Host` names.
fn hosted_bucket(state: &AppState, headers: &http::HeaderMap) -> Option<String> {
    let host = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())?;
    let name = host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            host
        }
    });
    state.s3_hosts.iter().find_map(|suffix| {
        let bucket = name.strip_suffix(suffix.as_str())?.strip_suffix('.')?;
        (!bucket.is_empty()).then(|| bucket.to_string())
    })
}

/// The service a signed request names in its credential scope (the
/// `Authorization` header's, or a presigned URL's `X-Amz-Credential`).
fn signed_for(req: &Request) -> Option<String> {
    if let Some(service) = crate::signed::scope_service(req.headers()) {
        return Some(service.to_string());
    }
    let query = req.uri().query()?;
    updraft_auth::s3::v2::pairs(query)
        .find(|(k, _)| k.eq_ignore_ascii_case("X-Amz-Credential"))
        .and_then(|(_, v)| v.rsplit('/').nth(1).map(str::to_string))
}

/// Whether the request carries a signature at all (else it is anonymous).
fn is_signed(parts: &Parts) -> bool {
    parts.headers.contains_key(http::header::AUTHORIZATION)
        || parts.uri.query().is_some_and(|q| {
            updraft_auth::s3::v2::pairs(q)
                .any(|(k, _)| k.eq_ignore_ascii_case("X-Amz-Signature") || k == "Signature")
        })
}

async fn serve(state: Arc<AppState>, s3: Arc<updraft_s3::S3>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let request_id = uuid::Uuid::new_v4().simple().to_string()[..16].to_uppercase();
    let (caller, payload) = if is_signed(&parts) {
        let now = SystemTime::now();
        let signed = SignedRequest::from_parts(&parts, &[]);
        let lookup =
            |key: &str, token: Option<&str>| crate::signed::lookup(&state, key, token, now);
        let verified = if updraft_auth::s3::v2::is_v2_presigned(&signed) {
            let bucket = hosted_bucket(&state, &parts.headers);
            updraft_auth::s3::v2::verify_s3_v2_presigned(&signed, bucket.as_deref(), now, lookup)
        } else {
            updraft_auth::s3::verify_s3(&signed, now, lookup)
        };
        match verified {
            Ok((identity, caller, payload)) => {
                parts.extensions.insert(identity);
                (Some(caller), payload)
            }
            Err(e) => {
                tracing::debug!(error = %e, path = parts.uri.path(), "S3 request not authenticated");
                return updraft_s3::error_response(
                    e.s3_status(),
                    e.s3_code(),
                    e.s3_message(),
                    parts.uri.path(),
                    &request_id,
                );
            }
        }
    } else {
        (None, Payload::Unsigned)
    };
    let decoded = payload
        .decode(body.into_data_stream())
        .map(|chunk| {
            chunk.map_err(|e| updraft_s3::BodyError {
                status: e.status(),
                code: e.s3_code().to_string(),
                message: e.to_string(),
            })
        })
        .boxed();
    let access = Arc::new(S3Access::new(state, caller, &parts));
    let close = expects_continue_without_body(&parts.headers);
    let mut response = s3
        .serve(updraft_s3::S3Request {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body: decoded,
            access,
            request_id,
        })
        .await;
    if close {
        response.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
    }
    response
}

/// Whether a request says `Expect: 100-continue` but has no body. The
/// server then answers without the interim `100 Continue` (there is no
/// body to ask for), and botocore, which sends the header with every
/// upload, keeps that request's status line for the next request on the
/// connection and misreads its answer. Closing the connection after such
/// an answer resets the client.
fn expects_continue_without_body(headers: &http::HeaderMap) -> bool {
    let expects = headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let empty = headers
        .get(http::header::CONTENT_LENGTH)
        .is_none_or(|v| v.as_bytes() == b"0");
    expects && empty && !headers.contains_key(http::header::TRANSFER_ENCODING)
}

/// Reads a deployment package from object storage as `caller` may
/// (`s3:GetObject` on the object, as Lambda reads `Code.S3Bucket` with the
/// caller's permissions); errors are worded as Lambda words them.
pub(crate) async fn read_package(
    state: &Arc<AppState>,
    caller: &Caller,
    location: &updraft_api::S3Location,
) -> Result<Vec<u8>, updraft_api::LambdaError> {
    use updraft_api::LambdaError;
    let Some(s3) = &state.s3 else {
        return Err(LambdaError::InvalidParameterValue(
            "Object storage is not enabled on this node: upload the package with ZipFile.".into(),
        ));
    };
    const PATH: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let mut uri = format!(
        "/{}/{}",
        percent_encoding::utf8_percent_encode(&location.bucket, PATH),
        percent_encoding::utf8_percent_encode(&location.key, PATH)
    );
    if let Some(version) = &location.version {
        uri.push_str("?versionId=");
        uri.extend(percent_encoding::utf8_percent_encode(
            version,
            percent_encoding::NON_ALPHANUMERIC,
        ));
    }
    let uri: http::Uri = uri.parse().map_err(|_| {
        LambdaError::InvalidParameterValue("S3Bucket or S3Key is not valid.".into())
    })?;
    let (parts, ()) = http::Request::new(()).into_parts();
    let access = Arc::new(S3Access::new(state.clone(), Some(caller.clone()), &parts));
    let response = s3
        .serve(updraft_s3::S3Request::new(
            http::Method::GET,
            uri,
            http::HeaderMap::new(),
            access,
        ))
        .await;
    let status = response.status();
    let limit = updraft_api::validate::MAX_UNZIPPED_BYTES as usize;
    let body = http_body_util::Limited::new(response.into_body(), limit)
        .collect()
        .await
        .map_err(|_| {
            LambdaError::InvalidParameterValue(format!(
                "Unzipped size must be smaller than {limit} bytes"
            ))
        })?
        .to_bytes();
    if status.is_success() {
        return Ok(body.to_vec());
    }
    let text = String::from_utf8_lossy(&body);
    let element = |name: &str| {
        text.split(&format!("<{name}>"))
            .nth(1)
            .and_then(|rest| rest.split(&format!("</{name}>")).next())
            .unwrap_or_default()
            .to_string()
    };
    Err(LambdaError::InvalidParameterValue(format!(
        "Error occurred while GetObject. S3 Error Code: {}. S3 Error Message: {}",
        element("Code"),
        element("Message")
    )))
}

/// The caller of one S3 request, authorized with IAM: its identity
/// policies, and the bucket's policy as the resource policy.
struct S3Access {
    state: Arc<AppState>,
    /// `None` for an anonymous request.
    caller: Option<Caller>,
    arn: Option<String>,
    /// The request's condition context (peer address, TLS, time, ...),
    /// built once.
    context: updraft_policy::Context,
}

impl S3Access {
    fn new(state: Arc<AppState>, caller: Option<Caller>, parts: &Parts) -> Self {
        let context = match &caller {
            Some(caller) => crate::authorize::request_context(&state, caller, parts),
            None => anonymous_context(&state, parts),
        };
        let arn = caller.as_ref().map(|c| c.arn().to_string());
        S3Access {
            state,
            caller,
            arn,
            context,
        }
    }
}

/// The condition context of an anonymous request.
fn anonymous_context(state: &AppState, parts: &Parts) -> updraft_policy::Context {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    let secure = parts
        .extensions
        .get::<crate::SecureTransport>()
        .is_some_and(|s| s.0);
    crate::operation::request_context(parts, peer, secure, &state.account.region, None)
}

/// The principal an anonymous request is evaluated as: nothing but a
/// resource policy granting everyone (`"Principal": "*"`) lets it in.
fn anonymous() -> updraft_policy::Principal {
    updraft_policy::Principal {
        account: String::new(),
        kind: PrincipalKind::Service("anonymous".into()),
    }
}

impl updraft_s3::Access for S3Access {
    fn verify_post_policy(
        &self,
        form: &updraft_s3::PostSignature,
    ) -> Result<Arc<dyn updraft_s3::Access>, updraft_s3::Denied> {
        let mut fields = std::collections::HashMap::new();
        fields.insert("policy".to_string(), form.policy.clone());
        fields.insert("x-amz-algorithm".to_string(), form.algorithm.clone());
        fields.insert("x-amz-credential".to_string(), form.credential.clone());
        fields.insert("x-amz-date".to_string(), form.date.clone());
        fields.insert("x-amz-signature".to_string(), form.signature.clone());
        if let Some(token) = &form.security_token {
            fields.insert("x-amz-security-token".to_string(), token.clone());
        }
        let now = SystemTime::now();
        let state = &self.state;
        match updraft_auth::s3::post::verify_post_policy(&fields, now, |key, token| {
            crate::signed::lookup(state, key, token, now)
        }) {
            Ok((_, caller)) => {
                let arn = Some(caller.arn().to_string());
                let context = self.context.clone();
                Ok(Arc::new(S3Access {
                    state: self.state.clone(),
                    caller: Some(caller),
                    arn,
                    context,
                }))
            }
            Err(e) => Err(updraft_s3::Denied {
                reason: e.s3_message(),
            }),
        }
    }

    fn account(&self) -> Option<&str> {
        self.caller.as_ref().map(Caller::account)
    }

    fn principal_arn(&self) -> Option<&str> {
        self.arn.as_deref()
    }

    fn authorize(
        &self,
        action: &str,
        resource: &str,
        bucket_owner: &str,
        bucket_policy: Option<&str>,
        conditions: &[(&str, Vec<String>)],
    ) -> Result<(), updraft_s3::Denied> {
        let denied = |reason: String| Err(updraft_s3::Denied { reason });
        if !self.state.authorization && self.caller.is_some() {
            return Ok(());
        }
        let policy = match bucket_policy.map(|p| PolicyDocument::parse(p, PolicyKind::Resource)) {
            None => None,
            Some(Ok(policy)) => Some(policy),
            Some(Err(e)) => {
                tracing::warn!(error = %e.0, resource, "a bucket policy does not parse");
                None
            }
        };
        let mut context = self.context.clone();
        if !bucket_owner.is_empty() {
            context.set("aws:ResourceAccount", bucket_owner);
        }
        for (key, values) in conditions {
            context.set_many(key, values.clone());
        }
        let decision = match &self.caller {
            None => {
                let principal = anonymous();
                updraft_policy::evaluate(
                    &updraft_policy::Request {
                        principal: &principal,
                        action,
                        resource,
                        context: &context,
                    },
                    &updraft_policy::PolicySet {
                        resource: policy.as_ref(),
                        ..Default::default()
                    },
                )
            }
            Some(caller) => {
                let own = bucket_owner.is_empty() || bucket_owner == caller.account();
                if !own && policy.is_none() {
                    return denied(format!(
                        "{} is not the owner of the bucket and no bucket policy grants it",
                        caller.arn()
                    ));
                }
                if own && policy.is_none() && matches!(caller.principal.kind, PrincipalKind::Root) {
                    return Ok(());
                }
                self.state
                    .iam
                    .authorize(caller, action, resource, &context, policy.as_ref())
            }
        };
        match decision {
            Decision::Allow => Ok(()),
            other => denied(format!(
                "{} may not {action} on {resource} ({other:?})",
                self.arn.as_deref().unwrap_or("anonymous")
            )),
        }
    }
}
