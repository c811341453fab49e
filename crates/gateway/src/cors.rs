//! A function URL's `Cors` block, applied as Lambda applies it: a
//! browser's preflight (`OPTIONS` with `Origin` and
//! `Access-Control-Request-Method`) is answered by the URL itself without
//! invoking the function, and every other answer to an allowed origin gets
//! the `Access-Control-*` headers the block sets (replacing any the
//! function sent). A URL without the block passes `OPTIONS` to the
//! function like any request.

use axum::response::Response;
use http::header::{self, HeaderMap, HeaderValue};
use http::StatusCode;
use serde::Deserialize;

/// The `Cors` block of a URL config.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct Cors {
    allow_credentials: Option<bool>,
    allow_headers: Option<Vec<String>>,
    allow_methods: Option<Vec<String>>,
    allow_origins: Option<Vec<String>>,
    expose_headers: Option<Vec<String>>,
    max_age: Option<i64>,
}

impl Cors {
    /// The block as stored with the URL config.
    pub(crate) fn from_config(value: &serde_json::Value) -> Option<Cors> {
        serde_json::from_value(value.clone()).ok()
    }

    /// What `Access-Control-Allow-Origin` says to `origin`: `*` when every
    /// origin is allowed (the origin itself with credentials, which `*`
    /// does not allow), the origin when it is listed; `None` otherwise.
    fn allowed_origin<'a>(&self, origin: &'a str) -> Option<&'a str> {
        let origins = self.allow_origins.as_deref().unwrap_or_default();
        if origins.iter().any(|o| o == "*") {
            return Some(if self.allow_credentials == Some(true) {
                origin
            } else {
                "*"
            });
        }
        origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin))
            .then_some(origin)
    }

    /// The answer to a preflight request from `origin`.
    pub(crate) fn preflight(&self, origin: &str) -> Response {
        let mut response = Response::new(axum::body::Body::empty());
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        let Some(allowed) = self.allowed_origin(origin) else {
            return response;
        };
        put(headers, header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        if let Some(methods) = &self.allow_methods {
            put(
                headers,
                header::ACCESS_CONTROL_ALLOW_METHODS,
                &methods.join(","),
            );
        }
        if let Some(names) = &self.allow_headers {
            put(
                headers,
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                &names.join(","),
            );
        }
        if let Some(age) = self.max_age {
            put(headers, header::ACCESS_CONTROL_MAX_AGE, &age.to_string());
        }
        if self.allow_credentials == Some(true) {
            put(headers, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
        }
        response
    }

    /// Sets the headers an answer to `origin` carries (the function's own
    /// `Access-Control-*` headers give way to the block's).
    pub(crate) fn decorate(&self, origin: &str, headers: &mut HeaderMap) {
        for name in [
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        ] {
            headers.remove(name);
        }
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
        let Some(allowed) = self.allowed_origin(origin) else {
            return;
        };
        put(headers, header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        if let Some(names) = &self.expose_headers {
            put(
                headers,
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                &names.join(","),
            );
        }
        if self.allow_credentials == Some(true) {
            put(headers, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
        }
    }
}

fn put(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(v: serde_json::Value) -> Cors {
        Cors::from_config(&v).unwrap()
    }

    #[test]
    fn listed_origins_get_the_headers_others_do_not() {
        let c = cors(serde_json::json!({
            "AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"],
            "AllowHeaders": ["content-type"], "ExposeHeaders": ["x-count"], "MaxAge": 60}));
        let pre = c.preflight("https://app.example");
        let h = pre.headers();
        assert_eq!(h["access-control-allow-origin"], "https://app.example");
        assert_eq!(h["access-control-allow-methods"], "GET,POST");
        assert_eq!(h["access-control-allow-headers"], "content-type");
        assert_eq!(h["access-control-max-age"], "60");
        assert!(h.get("access-control-allow-credentials").is_none());
        let other = c.preflight("https://evil.example");
        assert!(other.headers().get("access-control-allow-origin").is_none());

        let mut answer = HeaderMap::new();
        answer.insert("access-control-allow-origin", HeaderValue::from_static("*"));
        c.decorate("https://app.example", &mut answer);
        assert_eq!(answer["access-control-allow-origin"], "https://app.example");
        assert_eq!(answer["access-control-expose-headers"], "x-count");
        let mut answer = HeaderMap::new();
        answer.insert("access-control-allow-origin", HeaderValue::from_static("*"));
        c.decorate("https://evil.example", &mut answer);
        assert!(answer.get("access-control-allow-origin").is_none());
    }

    #[test]
    fn a_wildcard_origin_is_echoed_when_credentials_are_allowed() {
        let any = cors(serde_json::json!({"AllowOrigins": ["*"]}));
        assert_eq!(any.allowed_origin("https://a.example"), Some("*"));
        let creds = cors(serde_json::json!({"AllowOrigins": ["*"], "AllowCredentials": true}));
        assert_eq!(
            creds.allowed_origin("https://a.example"),
            Some("https://a.example")
        );
    }
}
