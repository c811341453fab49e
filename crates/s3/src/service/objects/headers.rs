//! The headers of objects: what a write's headers store (system headers,
//! `x-amz-meta-*`, `x-amz-tagging`), what GET and HEAD send back, the
//! `response-*` overrides, read preconditions (`If-Match`, ...) and
//! `Range`.

use http::{HeaderMap, StatusCode};

use crate::backend::{ObjectMeta, ObjectRecord};
use crate::error::ApiError;
use crate::service::ctx::Ctx;
use crate::service::data::Algorithm;
use crate::service::wire::{self, etag_matches, http_date, quoted};

/// The system headers stored with an object and sent back on GET/HEAD.
const SYSTEM_HEADERS: [&str; 6] = [
    "content-type",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
];

/// Reads the metadata headers of a PUT/Create/Copy (REPLACE) request.
pub(crate) fn meta_from_headers(
    headers: &HeaderMap,
    owner: String,
) -> Result<ObjectMeta, ApiError> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let mut user = Vec::new();
    let mut size = 0usize;
    for (name, value) in headers {
        if let Some(n) = name.as_str().strip_prefix("x-amz-meta-") {
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            size += n.len() + v.len();
            user.push((n.to_string(), v));
        }
    }
    if size > 2048 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "MetadataTooLarge",
            "Your metadata headers exceed the maximum allowed metadata size.",
        ));
    }
    user.sort();
    let tags = match get("x-amz-tagging") {
        Some(t) => crate::service::configs::parse_tag_query(&t)?,
        None => Vec::new(),
    };
    Ok(ObjectMeta {
        content_type: get("content-type"),
        cache_control: get("cache-control"),
        content_disposition: get("content-disposition"),
        // `aws-chunked` is the transfer framing, not the object's encoding.
        content_encoding: get("content-encoding")
            .map(|e| {
                e.split(',')
                    .map(str::trim)
                    .filter(|t| !t.eq_ignore_ascii_case("aws-chunked") && !t.is_empty())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .filter(|e| !e.is_empty()),
        content_language: get("content-language"),
        expires: get("expires"),
        user,
        tags,
        owner,
        ..ObjectMeta::default()
    })
}

pub(crate) fn put_header(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = http::HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

/// The headers GET and HEAD send for an object.
pub(crate) fn object_headers(h: &mut HeaderMap, o: &ObjectRecord, checksums: bool) {
    put_header(h, "etag", &quoted(&o.etag));
    put_header(h, "last-modified", &http_date(o.last_modified_ms));
    put_header(h, "accept-ranges", "bytes");
    let m = &o.meta;
    let composite = m.checksum.as_ref().is_some_and(|c| c.value.contains('-'));
    put_header(
        h,
        "content-type",
        m.content_type.as_deref().unwrap_or("binary/octet-stream"),
    );
    let values = [
        (SYSTEM_HEADERS[1], &m.cache_control),
        (SYSTEM_HEADERS[2], &m.content_disposition),
        (SYSTEM_HEADERS[3], &m.content_encoding),
        (SYSTEM_HEADERS[4], &m.content_language),
        (SYSTEM_HEADERS[5], &m.expires),
    ];
    for (name, value) in values {
        if let Some(v) = value {
            put_header(h, name, v);
        }
    }
    for (name, value) in &m.user {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(format!("x-amz-meta-{name}").as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            h.append(n, v);
        }
    }
    if o.version_id != "null" {
        put_header(h, "x-amz-version-id", &o.version_id);
    }
    if !m.tags.is_empty() {
        put_header(h, "x-amz-tagging-count", &m.tags.len().to_string());
    }
    if checksums {
        if let Some(c) = &m.checksum {
            if let Some(a) = Algorithm::parse(&c.algorithm) {
                put_header(h, a.header(), &c.value);
                let kind = if composite {
                    "COMPOSITE"
                } else {
                    "FULL_OBJECT"
                };
                put_header(h, "x-amz-checksum-type", kind);
            }
        }
    }
}

/// `response-content-type` and friends on GET.
pub(super) fn response_overrides(ctx: &Ctx, h: &mut HeaderMap) {
    let pairs = [
        ("response-content-type", "content-type"),
        ("response-content-language", "content-language"),
        ("response-expires", "expires"),
        ("response-cache-control", "cache-control"),
        ("response-content-disposition", "content-disposition"),
        ("response-content-encoding", "content-encoding"),
    ];
    for (param, header) in pairs {
        if let Some(v) = ctx.q(param) {
            put_header(h, header, v);
        }
    }
}

/// GET/HEAD conditions: `Some(304)` or an error 412, `None` to serve.
pub(super) fn read_preconditions(
    ctx: &Ctx,
    o: &ObjectRecord,
) -> Result<Option<StatusCode>, ApiError> {
    let secs = o.last_modified_ms / 1000;
    let if_match = ctx.header("if-match");
    let if_none = ctx.header("if-none-match");
    if let Some(m) = if_match {
        if !etag_matches(m, &o.etag) {
            return Err(ApiError::precondition_failed("If-Match"));
        }
    } else if let Some(t) = ctx
        .header("if-unmodified-since")
        .and_then(wire::parse_http_date)
    {
        if secs > t / 1000 {
            return Err(ApiError::precondition_failed("If-Unmodified-Since"));
        }
    }
    if let Some(m) = if_none {
        if etag_matches(m, &o.etag) {
            return Ok(Some(StatusCode::NOT_MODIFIED));
        }
    } else if let Some(t) = ctx
        .header("if-modified-since")
        .and_then(wire::parse_http_date)
    {
        if secs <= t / 1000 {
            return Ok(Some(StatusCode::NOT_MODIFIED));
        }
    }
    Ok(None)
}

/// Parses `Range: bytes=...` into (start, length); `None` to send the whole
/// object (a header S3 ignores), `InvalidRange` when unsatisfiable.
pub(crate) fn parse_range(value: &str, size: u64) -> Result<Option<(u64, u64)>, ApiError> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "InvalidRange",
            "The requested range is not satisfiable",
        )
        .with("RangeRequested", value.to_string())
        .with("ActualObjectSize", size.to_string())
        .header("content-range", format!("bytes */{size}"))
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else {
            return Ok(None);
        };
        if n == 0 || size == 0 {
            return Err(invalid());
        }
        let n = n.min(size);
        return Ok(Some((size - n, n)));
    }
    let Ok(start) = a.parse::<u64>() else {
        return Ok(None);
    };
    let end = if b.is_empty() {
        size.saturating_sub(1)
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => e.min(size.saturating_sub(1)),
            _ => return Ok(None),
        }
    };
    if start >= size {
        return Err(invalid());
    }
    Ok(Some((start, end - start + 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-4", 10).ok().flatten(), Some((0, 5)));
        assert_eq!(parse_range("bytes=5-", 10).ok().flatten(), Some((5, 5)));
        assert_eq!(parse_range("bytes=-3", 10).ok().flatten(), Some((7, 3)));
        assert_eq!(parse_range("bytes=8-100", 10).ok().flatten(), Some((8, 2)));
        assert_eq!(parse_range("bytes=-30", 10).ok().flatten(), Some((0, 10)));
        assert!(parse_range("bytes=10-", 10).is_err());
        assert_eq!(parse_range("bytes=5-2", 10).ok().flatten(), None);
        assert_eq!(parse_range("items=0-1", 10).ok().flatten(), None);
    }
}
