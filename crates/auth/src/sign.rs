//! SigV4 signing for updraft's own CLI, done entirely by `aws-sigv4` with
//! its default settings (the same canonicalization the AWS SDKs use), and
//! with the S3 SDK's settings for the service `s3` (path encoded once and
//! not normalized, `x-amz-content-sha256` sent and signed, presigned URLs
//! for `UNSIGNED-PAYLOAD`).
//!
//! [`chunked`] signs aws-chunked bodies (chunk and trailer signatures).

pub mod chunked;

use std::time::SystemTime;

use aws_sigv4::http_request::{
    self, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
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
/// `transfer-encoding`). For the service `s3` the request is signed as the
/// S3 SDKs sign it, with `x-amz-content-sha256` added (the body's hash).
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
    sign_inner(
        method,
        url,
        headers,
        SignableBody::Bytes(body),
        creds,
        region,
        service,
        time,
    )
    .map(|(headers, _)| headers)
}

/// Signs an S3 request whose `x-amz-content-sha256` is `content_sha256`:
/// the body's hex SHA-256, `UNSIGNED-PAYLOAD`, or a streaming mode
/// (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, `...-PAYLOAD-TRAILER`,
/// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`; the caller adds
/// `x-amz-decoded-content-length`, `content-encoding` and `x-amz-trailer`
/// to `headers`). Returns the signed headers and the signature, which seeds
/// the chunk signatures of a streaming body ([`chunked::ChunkSigner`]).
pub fn sign_s3(
    method: &str,
    url: &str,
    headers: &HeaderMap,
    content_sha256: &str,
    creds: &Credentials,
    region: &str,
    time: SystemTime,
) -> Result<(HeaderMap, String), SignError> {
    sign_inner(
        method,
        url,
        headers,
        SignableBody::Precomputed(content_sha256.to_string()),
        creds,
        region,
        crate::s3::S3_SERVICE,
        time,
    )
}

/// The settings the SDKs sign `service` with.
fn settings_for(service: &str) -> SigningSettings {
    let mut settings = SigningSettings::default();
    if service == crate::s3::S3_SERVICE {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    settings
}

#[allow(clippy::too_many_arguments)]
fn sign_inner(
    method: &str,
    url: &str,
    headers: &HeaderMap,
    body: SignableBody<'_>,
    creds: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<(HeaderMap, String), SignError> {
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
        .settings(settings_for(service))
        .build()
        .map_err(|e| SignError::Signing(e.to_string()))?
        .into();
    let request = SignableRequest::new(method, url, pairs.into_iter(), body)
        .map_err(|e| SignError::Signing(e.to_string()))?;
    let (instructions, signature) = http_request::sign(request, &params)
        .map_err(|e| SignError::Signing(e.to_string()))?
        .into_parts();
    let mut out = headers.clone();
    for (name, value) in instructions.headers() {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| SignError::Signing(e.to_string()))?;
        let value = HeaderValue::from_str(value).map_err(|e| SignError::Signing(e.to_string()))?;
        out.insert(name, value);
    }
    Ok((out, signature))
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
    presign("GET", url, creds, region, service, time, expires_in)
}

/// A presigned URL for `method` on `url` (absolute, percent-encoded), valid
/// for `expires_in` from `time`. For the service `s3` it is signed as the
/// S3 SDKs presign (`UNSIGNED-PAYLOAD`), so a `PUT` URL accepts any body.
pub fn presign(
    method: &str,
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
    let mut settings = settings_for(service);
    settings.signature_location = http_request::SignatureLocation::QueryParams;
    settings.expires_in = Some(expires_in);
    let body = if service == crate::s3::S3_SERVICE {
        settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Bytes(&[])
    };
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| SignError::Signing(e.to_string()))?
        .into();
    let request = SignableRequest::new(method, url, std::iter::empty(), body)
        .map_err(|e| SignError::Signing(e.to_string()))?;
    let (instructions, _signature) = http_request::sign(request, &params)
        .map_err(|e| SignError::Signing(e.to_string()))?
        .into_parts();
    let mut request = http::Request::builder()
        .method(method)
        .uri(url)
        .body(())
        .map_err(|e| SignError::Signing(e.to_string()))?;
    instructions.apply_to_request_http1x(&mut request);
    Ok(request.uri().to_string())
}
