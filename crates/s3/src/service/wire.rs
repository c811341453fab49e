//! Small wire helpers: timestamps (ISO 8601 in XML, HTTP dates in headers),
//! response builders, ETag matching, URL encoding for `encoding-type=url`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use http::{Response, StatusCode};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::error::ApiError;

pub(crate) fn now_ms() -> i64 {
    ms_of(SystemTime::now())
}

pub(crate) fn ms_of(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(crate) fn system_time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// `2026-12-03T18:30:00.000Z`.
pub(crate) fn iso8601(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// `Thu, 03 Dec 2026 18:30:00 GMT`.
pub(crate) fn http_date(ms: i64) -> String {
    httpdate::fmt_http_date(system_time(ms))
}

pub(crate) fn parse_http_date(s: &str) -> Option<i64> {
    httpdate::parse_http_date(s.trim()).ok().map(ms_of)
}

/// An XML response.
pub(crate) fn xml(status: StatusCode, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .body(Body::from(body))
        .unwrap_or_else(|_| empty(StatusCode::INTERNAL_SERVER_ERROR))
}

pub(crate) fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

pub(crate) fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// Whether an `If-Match`/`If-None-Match` list names `etag` (or is `*`).
pub(crate) fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',').any(|item| {
        let item = item.trim();
        let item = item.strip_prefix("W/").unwrap_or(item);
        item == "*" || item.trim_matches('"') == etag
    })
}

/// Characters `encoding-type=url` escapes (all but unreserved and `/`).
const KEY_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

pub(crate) fn url_encode_key(key: &str) -> String {
    utf8_percent_encode(key, KEY_ESCAPE).to_string()
}

/// Encodes `s` when the listing asked for `encoding-type=url`.
pub(crate) fn maybe_encode(s: &str, url: bool) -> String {
    if url {
        url_encode_key(s)
    } else {
        s.to_string()
    }
}

/// Reads `encoding-type` (`url` or nothing).
pub(crate) fn encoding_type(value: Option<&str>) -> Result<bool, ApiError> {
    match value {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("url") => Ok(true),
        Some(_) => Err(ApiError::invalid_argument(
            "Invalid Encoding Method specified in Request",
        )),
    }
}

/// Parses a `max-keys`-like parameter (default, capped).
pub(crate) fn max_param(
    value: Option<&str>,
    default: usize,
    name: &str,
) -> Result<usize, ApiError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX).min(default))
            .ok_or_else(|| {
                ApiError::invalid_argument(format!(
                    "Provided {name} not an integer or within integer range"
                ))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(iso8601(1_764_786_600_123), "2025-12-03T18:30:00.123Z");
        let d = http_date(1_764_786_600_000);
        assert_eq!(d, "Wed, 03 Dec 2025 18:30:00 GMT");
        assert_eq!(parse_http_date(&d), Some(1_764_786_600_000));
    }

    #[test]
    fn etags_and_keys() {
        assert!(etag_matches("\"abc\", \"def\"", "def"));
        assert!(etag_matches("*", "x"));
        assert!(!etag_matches("\"abc\"", "ab"));
        assert_eq!(url_encode_key("a b/ü+c"), "a%20b/%C3%BC%2Bc");
    }
}
