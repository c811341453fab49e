//! Tagging (objects and buckets), bucket policy, Block Public Access, CORS
//! and lifecycle configuration documents; CORS preflight and response
//! headers. Documents are validated when put and stored as given.

use axum::body::Body;
use http::{HeaderMap, Response, StatusCode};
use percent_encoding::percent_decode_str;

use crate::error::ApiError;
use crate::service::buckets::{get_config, set_config};
use crate::service::ctx::{BucketInfo, Ctx};
use crate::service::notify::EventKind;
use crate::service::objects::put_header;
use crate::service::wire;
use crate::xml::{Element, XmlWriter};
use crate::S3;

/// Parses `x-amz-tagging` (`k1=v1&k2=v2`, URL-encoded).
pub(crate) fn parse_tag_query(q: &str) -> Result<Vec<(String, String)>, ApiError> {
    let decode = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| ApiError::invalid_argument("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."))
    };
    let mut tags = Vec::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        tags.push((decode(k)?, decode(v)?));
    }
    check_tags(&tags, 10)?;
    Ok(tags)
}

fn check_tags(tags: &[(String, String)], max: usize) -> Result<(), ApiError> {
    let invalid = |m: &str| ApiError::new(StatusCode::BAD_REQUEST, "InvalidTag", m.to_string());
    if tags.len() > max {
        return Err(invalid("Object tags cannot be greater than 10"));
    }
    let mut seen = std::collections::HashSet::new();
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(invalid("The TagKey you have provided is invalid"));
        }
        if !seen.insert(k) {
            return Err(invalid("Cannot provide multiple Tags with the same key"));
        }
    }
    Ok(())
}

fn parse_tagging(body: &[u8], max: usize) -> Result<Vec<(String, String)>, ApiError> {
    let doc = crate::xml::parse(body)?;
    if doc.name != "Tagging" {
        return Err(ApiError::malformed_xml());
    }
    let set = doc.child("TagSet").ok_or_else(ApiError::malformed_xml)?;
    let tags = set
        .children("Tag")
        .map(|t| {
            let k = t.child("Key").map(|k| k.text.clone());
            let v = t.child("Value").map(|v| v.text.clone()).unwrap_or_default();
            k.map(|k| (k, v))
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(ApiError::malformed_xml)?;
    check_tags(&tags, max)?;
    Ok(tags)
}

fn render_tagging(tags: &[(String, String)]) -> String {
    let mut w = XmlWriter::new("Tagging");
    w.open("TagSet");
    for (k, v) in tags {
        w.open("Tag").elem("Key", k).elem("Value", v).close("Tag");
    }
    w.close("TagSet");
    w.finish("Tagging")
}

fn not_found(code: &'static str, message: &str, bucket: &BucketInfo) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, code, message)
        .with("BucketName", bucket.record.name.clone())
}

/// Whether a policy lets anyone (`"Principal": "*"`) do something.
fn is_public(policy: &serde_json::Value) -> bool {
    let statements = match &policy["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    statements.iter().any(|s| {
        s["Effect"] == "Allow"
            && (s["Principal"] == "*"
                || s["Principal"]["AWS"] == "*"
                || s["Principal"]["AWS"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|p| p == "*")))
    })
}

impl S3 {
    pub(crate) async fn object_tagging(&self, ctx: &mut Ctx) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        let key = ctx.key()?.to_string();
        let action = match ctx.method {
            http::Method::GET => "s3:GetObjectTagging",
            http::Method::PUT => "s3:PutObjectTagging",
            _ => "s3:DeleteObjectTagging",
        };
        self.authorize(ctx, action, &bucket, Some(&key), &[])?;
        let object = self.find_object(ctx, &bucket, &key).await?;
        let mut meta = object.meta.clone();
        let response = match ctx.method {
            http::Method::GET => {
                let mut r = wire::xml(StatusCode::OK, render_tagging(&meta.tags));
                if object.version_id != "null" {
                    put_header(r.headers_mut(), "x-amz-version-id", &object.version_id);
                }
                return Ok(r);
            }
            http::Method::PUT => {
                let body = ctx.body_bytes().await?;
                meta.tags = parse_tagging(&body, 10)?;
                wire::empty(StatusCode::OK)
            }
            _ => {
                meta.tags.clear();
                wire::empty(StatusCode::NO_CONTENT)
            }
        };
        let (name, k, v) = (
            bucket.record.name.clone(),
            key.clone(),
            object.version_id.clone(),
        );
        let m = meta.clone();
        self.run(move |b| Ok(b.update_meta(&name, &k, &v, &m)?))
            .await?;
        let kind = if ctx.method == http::Method::PUT {
            EventKind::TaggingPut
        } else {
            EventKind::TaggingDelete
        };
        let mut changed = object.clone();
        changed.meta = meta;
        self.notify(ctx, &bucket, kind, &changed).await;
        let mut r = response;
        if object.version_id != "null" {
            put_header(r.headers_mut(), "x-amz-version-id", &object.version_id);
        }
        Ok(r)
    }

    /// Bucket tagging, policy, Block Public Access, CORS and lifecycle:
    /// Get, Put and Delete of a stored document.
    pub(crate) async fn bucket_document(
        &self,
        ctx: &mut Ctx,
        kind: &'static str,
    ) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        let (get_action, put_action, missing, message) = match kind {
            "tagging" => (
                "s3:GetBucketTagging",
                "s3:PutBucketTagging",
                "NoSuchTagSet",
                "The TagSet does not exist",
            ),
            "policy" => (
                "s3:GetBucketPolicy",
                "s3:PutBucketPolicy",
                "NoSuchBucketPolicy",
                "The bucket policy does not exist",
            ),
            "publicAccessBlock" => (
                "s3:GetBucketPublicAccessBlock",
                "s3:PutBucketPublicAccessBlock",
                "NoSuchPublicAccessBlockConfiguration",
                "The public access block configuration was not found",
            ),
            "cors" => (
                "s3:GetBucketCORS",
                "s3:PutBucketCORS",
                "NoSuchCORSConfiguration",
                "The CORS configuration does not exist",
            ),
            _ => (
                "s3:GetLifecycleConfiguration",
                "s3:PutLifecycleConfiguration",
                "NoSuchLifecycleConfiguration",
                "The lifecycle configuration does not exist",
            ),
        };
        match ctx.method {
            http::Method::GET => {
                self.authorize(ctx, get_action, &bucket, None, &[])?;
                let doc = get_config(self, &bucket, kind)
                    .await?
                    .ok_or_else(|| not_found(missing, message, &bucket))?;
                if kind == "policy" {
                    return Ok(Response::builder()
                        .status(StatusCode::OK)
                        .header("content-type", "application/json")
                        .body(Body::from(doc))
                        .unwrap_or_else(|_| wire::empty(StatusCode::INTERNAL_SERVER_ERROR)));
                }
                Ok(wire::xml(StatusCode::OK, doc))
            }
            http::Method::DELETE => {
                let action = match kind {
                    "policy" => "s3:DeleteBucketPolicy",
                    "publicAccessBlock" => "s3:PutBucketPublicAccessBlock",
                    _ => put_action,
                };
                self.authorize(ctx, action, &bucket, None, &[])?;
                set_config(self, &bucket, kind, None).await?;
                Ok(wire::empty(StatusCode::NO_CONTENT))
            }
            _ => {
                self.authorize(ctx, put_action, &bucket, None, &[])?;
                let body = ctx.body_bytes().await?;
                let stored = match kind {
                    "policy" => self.validate_policy(&bucket, &body).await?,
                    "tagging" => render_tagging(&parse_tagging(&body, 50)?),
                    "publicAccessBlock" => {
                        validate_doc(&body, "PublicAccessBlockConfiguration", |_| Ok(()))?
                    }
                    "cors" => validate_doc(&body, "CORSConfiguration", validate_cors)?,
                    _ => validate_doc(&body, "LifecycleConfiguration", validate_lifecycle)?,
                };
                set_config(self, &bucket, kind, Some(stored)).await?;
                let status = if kind == "policy" {
                    StatusCode::NO_CONTENT
                } else {
                    StatusCode::OK
                };
                Ok(wire::empty(status))
            }
        }
    }

    async fn validate_policy(&self, bucket: &BucketInfo, body: &[u8]) -> Result<String, ApiError> {
        let malformed =
            |m: &str| ApiError::new(StatusCode::BAD_REQUEST, "MalformedPolicy", m.to_string());
        let policy: serde_json::Value = serde_json::from_slice(body)
            .map_err(|_| malformed("Policies must be valid JSON and the first byte must be '{'"))?;
        if !policy.is_object() || policy.get("Statement").is_none() {
            return Err(malformed("Missing required field Statement"));
        }
        if is_public(&policy) {
            if let Some(pab) = get_config(self, bucket, "publicAccessBlock").await? {
                let blocks = crate::xml::parse(pab.as_bytes())
                    .ok()
                    .and_then(|d| {
                        d.text_of("BlockPublicPolicy")
                            .map(|v| v.eq_ignore_ascii_case("true"))
                    })
                    .unwrap_or(false);
                if blocks {
                    return Err(ApiError::access_denied());
                }
            }
        }
        Ok(String::from_utf8_lossy(body).into_owned())
    }

    /// Answers a CORS preflight (`OPTIONS`) from the bucket's rules.
    pub(crate) async fn preflight(&self, ctx: &Ctx) -> Result<Response<Body>, ApiError> {
        let forbidden = || {
            ApiError::new(StatusCode::FORBIDDEN, "AccessForbidden", "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.")
        };
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        let origin = ctx.header("origin").ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Insufficient information. Origin request header needed.",
            )
        })?;
        let method = ctx.header("access-control-request-method").ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid Access-Control-Request-Method: null",
            )
        })?;
        let headers = ctx.header("access-control-request-headers").unwrap_or("");
        let rules = get_config(self, &bucket, "cors")
            .await?
            .ok_or_else(forbidden)?;
        let doc = crate::xml::parse(rules.as_bytes())?;
        let rule = matching_rule(&doc, origin, method, headers).ok_or_else(forbidden)?;
        let mut r = wire::empty(StatusCode::OK);
        cors_headers(r.headers_mut(), rule, origin);
        let h = r.headers_mut();
        if !headers.is_empty() {
            put_header(h, "access-control-allow-headers", headers);
        }
        if let Some(age) = rule.text_of("MaxAgeSeconds") {
            put_header(h, "access-control-max-age", age);
        }
        Ok(r)
    }

    /// Adds `Access-Control-*` headers to an answer when the request has an
    /// `Origin` the bucket's rules allow.
    pub(crate) async fn apply_cors(
        &self,
        bucket: &str,
        origin: &str,
        method: &str,
        response: &mut Response<Body>,
    ) {
        let name = bucket.to_string();
        let Ok(Some(rules)) = self.run(move |b| Ok(b.bucket_config(&name, "cors")?)).await else {
            return;
        };
        let Ok(doc) = crate::xml::parse(rules.as_bytes()) else {
            return;
        };
        if let Some(rule) = matching_rule(&doc, origin, method, "") {
            cors_headers(response.headers_mut(), rule, origin);
        }
    }
}

fn validate_doc(
    body: &[u8],
    root: &str,
    check: impl Fn(&Element) -> Result<(), ApiError>,
) -> Result<String, ApiError> {
    let doc = crate::xml::parse(body)?;
    if doc.name != root {
        return Err(ApiError::malformed_xml());
    }
    check(&doc)?;
    Ok(String::from_utf8_lossy(body).into_owned())
}

fn validate_cors(doc: &Element) -> Result<(), ApiError> {
    let rules: Vec<&Element> = doc.children("CORSRule").collect();
    if rules.is_empty() || rules.len() > 100 {
        return Err(ApiError::malformed_xml());
    }
    for r in rules {
        if r.child("AllowedOrigin").is_none() || r.child("AllowedMethod").is_none() {
            return Err(ApiError::malformed_xml());
        }
        for m in r.children("AllowedMethod") {
            if !["GET", "PUT", "POST", "DELETE", "HEAD"].contains(&m.text.trim()) {
                return Err(ApiError::invalid_request(format!(
                    "Found unsupported HTTP method in CORS config. Unsupported method is {}",
                    m.text.trim()
                )));
            }
        }
    }
    Ok(())
}

fn validate_lifecycle(doc: &Element) -> Result<(), ApiError> {
    let rules: Vec<&Element> = doc.children("Rule").collect();
    if rules.is_empty() || rules.len() > 1000 {
        return Err(ApiError::malformed_xml());
    }
    for r in rules {
        match r.text_of("Status") {
            Some("Enabled") | Some("Disabled") => {}
            _ => return Err(ApiError::malformed_xml()),
        }
        let has_action = [
            "Expiration",
            "NoncurrentVersionExpiration",
            "AbortIncompleteMultipartUpload",
            "Transition",
            "NoncurrentVersionTransition",
        ]
        .iter()
        .any(|a| r.child(a).is_some());
        if !has_action {
            return Err(ApiError::invalid_request(
                "At least one action needs to be specified in a rule",
            ));
        }
        if let Some(days) = r.child("Expiration").and_then(|e| e.text_of("Days")) {
            if days.parse::<u32>().map_or(true, |d| d == 0) {
                return Err(ApiError::invalid_argument(
                    "'Days' for Expiration action must be a positive integer",
                ));
            }
        }
    }
    Ok(())
}

/// Glob match with one `*` wildcard (CORS origins and headers).
fn glob(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern.eq_ignore_ascii_case(value),
        Some((a, b)) => {
            value.len() >= a.len() + b.len()
                && value[..a.len()].eq_ignore_ascii_case(a)
                && value[value.len() - b.len()..].eq_ignore_ascii_case(b)
        }
    }
}

fn matching_rule<'a>(
    doc: &'a Element,
    origin: &str,
    method: &str,
    headers: &str,
) -> Option<&'a Element> {
    doc.children("CORSRule").find(|r| {
        let origin_ok = r
            .children("AllowedOrigin")
            .any(|o| glob(o.text.trim(), origin));
        let method_ok = r.children("AllowedMethod").any(|m| m.text.trim() == method);
        let headers_ok = headers
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .all(|h| r.children("AllowedHeader").any(|a| glob(a.text.trim(), h)));
        origin_ok && method_ok && headers_ok
    })
}

fn cors_headers(h: &mut HeaderMap, rule: &Element, origin: &str) {
    let any = rule.children("AllowedOrigin").any(|o| o.text.trim() == "*");
    put_header(
        h,
        "access-control-allow-origin",
        if any { "*" } else { origin },
    );
    let methods: Vec<&str> = rule
        .children("AllowedMethod")
        .map(|m| m.text.trim())
        .collect();
    put_header(h, "access-control-allow-methods", &methods.join(", "));
    let expose: Vec<&str> = rule
        .children("ExposeHeader")
        .map(|m| m.text.trim())
        .collect();
    if !expose.is_empty() {
        put_header(h, "access-control-expose-headers", &expose.join(", "));
    }
    if !any {
        put_header(h, "access-control-allow-credentials", "true");
        put_header(
            h,
            "vary",
            "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_queries() {
        let tags = parse_tag_query("a=1&b%20c=x+y&d=").expect("parses");
        assert_eq!(
            tags,
            vec![
                ("a".into(), "1".into()),
                ("b c".into(), "x y".into()),
                ("d".into(), "".into())
            ]
        );
        assert!(parse_tag_query("a=1&a=2").is_err());
    }

    #[test]
    fn cors_globs() {
        assert!(glob("*", "http://x"));
        assert!(glob("http://*.example.com", "http://a.example.com"));
        assert!(!glob("http://*.example.com", "http://example.org"));
    }
}
