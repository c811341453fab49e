//! SigV4 signing for updraft's own CLI, done entirely by `aws-sigv4` with
//! its default settings (the same canonicalization the AWS SDKs use).

use std::time::SystemTime;

use aws_sigv4::http_request::{self, SignableBody, SignableRequest, SigningSettings};
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::Credentials;

/// Why a request could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("header `{0}` is not valid UTF-8 and cannot be signed")]
    NonUtf8Header(String),
    #[error("cannot sign request: {0}")]
    Signing(String),
}

/// Signs a request and returns its headers with `Authorization` and
/// `X-Amz-Date` added (every header in `headers` is signed, except the ones
/// `aws-sigv4` always leaves out: `user-agent`, `x-amzn-trace-id`,
/// `transfer-encoding`).
///
/// `url` must be absolute and already percent-encoded
/// (`http://127.0.0.1:9001/2015-03-31/functions/f/invocations?Qualifier=%24LATEST`);
/// its authority is signed as `host` unless `headers` has a `Host`.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    method: &str,
    url: &str,
    headers: &HeaderMap,
    body: &[u8],
    creds: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<HeaderMap, SignError> {
    let mut pairs = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let value = value
            .to_str()
            .map_err(|_| SignError::NonUtf8Header(name.to_string()))?;
        pairs.push((name.as_str(), value));
    }
    let identity = aws_credential_types::Credentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.clone(),
        None,
        None,
        "updraft",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| SignError::Signing(e.to_string()))?
        .into();
    let request = SignableRequest::new(method, url, pairs.into_iter(), SignableBody::Bytes(body))
        .map_err(|e| SignError::Signing(e.to_string()))?;
    let (instructions, _signature) = http_request::sign(request, &params)
        .map_err(|e| SignError::Signing(e.to_string()))?
        .into_parts();
    let mut out = headers.clone();
    for (name, value) in instructions.headers() {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| SignError::Signing(e.to_string()))?;
        let value = HeaderValue::from_str(value).map_err(|e| SignError::Signing(e.to_string()))?;
        out.insert(name, value);
    }
    Ok(out)
}

/// A presigned `GET` URL for `url` (absolute, percent-encoded), valid for
/// `expires_in` from `time`: the signature travels in the query string, as
/// in the download URLs AWS hands out.
pub fn presign_get(
    url: &str,
    creds: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
    expires_in: std::time::Duration,
) -> Result<String, SignError> {
    let identity = aws_credential_types::Credentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.clone(),
        None,
        None,
        "updraft",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = http_request::SignatureLocation::QueryParams;
    settings.expires_in = Some(expires_in);
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| SignError::Signing(e.to_string()))?
        .into();
    let request = SignableRequest::new("GET", url, std::iter::empty(), SignableBody::Bytes(&[]))
        .map_err(|e| SignError::Signing(e.to_string()))?;
    let (instructions, _signature) = http_request::sign(request, &params)
        .map_err(|e| SignError::Signing(e.to_string()))?
        .into_parts();
    let mut request = http::Request::builder()
        .method("GET")
        .uri(url)
        .body(())
        .map_err(|e| SignError::Signing(e.to_string()))?;
    instructions.apply_to_request_http1x(&mut request);
    Ok(request.uri().to_string())
}
