//! Browser POST uploads (`POST /bucket` with `multipart/form-data`): the
//! form's fields come before its `file`; a signed `policy` is checked by
//! the gateway through [`crate::Access::verify_post_policy`] and its
//! conditions (`eq`, `starts-with`, `content-length-range`, exact matches)
//! are enforced here, every form field being covered by one as S3
//! requires. The file streams into a blob like any PUT body.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use crate::backend::WriteCondition;
use crate::error::ApiError;
use crate::service::ctx::Ctx;
use crate::service::data;
use crate::service::notify::EventKind;
use crate::service::objects::{meta_from_headers, put_header, MAX_PUT};
use crate::service::wire::{self, quoted};
use crate::xml::XmlWriter;
use crate::{Access, BodyError, PostSignature, S3};

/// Largest non-file form field.
const MAX_FIELD: usize = 64 * 1024;

/// A parsed POST policy.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PostPolicy {
    pub expiration_ms: Option<i64>,
    pub conditions: Vec<Condition>,
}

/// One policy condition; field names lowercased, without `$`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Condition {
    Eq(String, String),
    StartsWith(String, String),
    LengthRange(u64, u64),
}

fn policy_error(message: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "AccessDenied",
        format!("Invalid according to Policy: {message}"),
    )
}

/// Decodes and parses a base64 policy document.
pub(crate) fn parse_policy(b64: &str) -> Result<PostPolicy, ApiError> {
    let invalid = || ApiError::invalid_argument("Invalid Policy: Invalid JSON.");
    let json = B64.decode(b64.trim()).map_err(|_| invalid())?;
    let doc: serde_json::Value = serde_json::from_slice(&json).map_err(|_| invalid())?;
    let expiration_ms = match doc.get("expiration").and_then(|e| e.as_str()) {
        Some(e) => Some(
            time::OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339)
                .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
                .map_err(|_| {
                    ApiError::invalid_argument("Invalid Policy: Invalid 'expiration' value")
                })?,
        ),
        None => None,
    };
    let field = |s: &str| s.trim_start_matches('$').to_ascii_lowercase();
    let mut conditions = Vec::new();
    for c in doc
        .get("conditions")
        .and_then(|c| c.as_array())
        .ok_or_else(invalid)?
    {
        match c {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let v = v.as_str().ok_or_else(invalid)?;
                    conditions.push(Condition::Eq(field(k), v.to_string()));
                }
            }
            serde_json::Value::Array(items) => {
                let op = items
                    .first()
                    .and_then(|o| o.as_str())
                    .unwrap_or("")
                    .to_ascii_lowercase();
                match (op.as_str(), items.get(1), items.get(2)) {
                    ("content-length-range", Some(a), Some(b)) => {
                        let n = |v: &serde_json::Value| {
                            v.as_u64()
                                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                        };
                        conditions.push(Condition::LengthRange(
                            n(a).ok_or_else(invalid)?,
                            n(b).ok_or_else(invalid)?,
                        ));
                    }
                    ("eq", Some(a), Some(b)) | ("starts-with", Some(a), Some(b)) => {
                        let name = field(a.as_str().ok_or_else(invalid)?);
                        let value = b.as_str().ok_or_else(invalid)?.to_string();
                        conditions.push(if op == "eq" {
                            Condition::Eq(name, value)
                        } else {
                            Condition::StartsWith(name, value)
                        });
                    }
                    _ => return Err(invalid()),
                }
            }
            _ => return Err(invalid()),
        }
    }
    Ok(PostPolicy {
        expiration_ms,
        conditions,
    })
}

/// Checks the form fields against the policy (not the length, known only
/// once the file has arrived).
pub(crate) fn check_policy(
    policy: &PostPolicy,
    fields: &BTreeMap<String, String>,
    now_ms: i64,
) -> Result<(), ApiError> {
    if policy.expiration_ms.is_some_and(|e| now_ms > e) {
        return Err(policy_error("Policy expired."));
    }
    for c in &policy.conditions {
        let ok = match c {
            Condition::Eq(name, v) => fields.get(name).is_some_and(|f| f == v),
            Condition::StartsWith(name, p) => match fields.get(name) {
                Some(f) if name == "content-type" => {
                    f.split(',').all(|t| t.trim().starts_with(p.as_str()))
                }
                Some(f) => f.starts_with(p.as_str()),
                None => false,
            },
            Condition::LengthRange(..) => true,
        };
        if !ok {
            return Err(policy_error(&format!("Policy Condition failed: {c:?}")));
        }
    }
    let exempt = |n: &str| {
        matches!(
            n,
            "policy" | "x-amz-signature" | "file" | "bucket" | "awsaccesskeyid" | "signature"
        ) || n.starts_with("x-ignore-")
    };
    for name in fields.keys().filter(|n| !exempt(n)) {
        let covered = policy.conditions.iter().any(|c| match c {
            Condition::Eq(n, _) | Condition::StartsWith(n, _) => n == name,
            Condition::LengthRange(..) => false,
        });
        if !covered {
            return Err(policy_error(&format!("Extra input fields: {name}")));
        }
    }
    Ok(())
}

fn form_error(e: multer::Error) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "MalformedPOSTRequest",
        format!("The body of your POST request is not well-formed multipart/form-data: {e}"),
    )
}

impl S3 {
    pub(crate) async fn post_object(&self, ctx: &mut Ctx) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        let boundary = ctx
            .header("content-type")
            .and_then(|t| multer::parse_boundary(t).ok())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::PRECONDITION_FAILED,
                    "PreconditionFailed",
                    "Bucket POST must be of the enclosure-type multipart/form-data",
                )
            })?;
        let body = ctx.take_body().map(|r| {
            r.map_err(|e: BodyError| std::io::Error::other(format!("{}: {}", e.code, e.message)))
        });
        let mut form = multer::Multipart::new(body, boundary);
        let mut fields = BTreeMap::new();
        let file = loop {
            let Some(mut field) = form.next_field().await.map_err(form_error)? else {
                return Err(ApiError::invalid_argument(
                    "POST requires exactly one file upload per request.",
                ));
            };
            let name = field.name().unwrap_or("").to_ascii_lowercase();
            if name == "file" {
                break field;
            }
            let mut value = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(form_error)? {
                if value.len() + chunk.len() > MAX_FIELD {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "MaxPostPreDataLengthExceeded",
                        "Your POST request fields preceding the upload file were too large.",
                    ));
                }
                value.extend_from_slice(&chunk);
            }
            fields.insert(name, String::from_utf8_lossy(&value).into_owned());
        };
        let filename = file.file_name().unwrap_or("").to_string();
        let key = fields
            .get("key")
            .map(|k| k.replace("${filename}", &filename))
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ApiError::invalid_argument("Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields."))?;
        fields.insert("key".into(), key.clone());
        fields.insert("bucket".into(), bucket.record.name.clone());
        // Who uploads: the policy's signer, or this request.
        let mut access: Arc<dyn Access> = ctx.access.clone();
        let mut length_range = None;
        if let Some(policy_b64) = fields.get("policy") {
            let policy = parse_policy(policy_b64)?;
            check_policy(&policy, &fields, wire::now_ms())?;
            length_range = policy.conditions.iter().find_map(|c| match c {
                Condition::LengthRange(a, b) => Some((*a, *b)),
                _ => None,
            });
            let get = |n: &str| fields.get(n).cloned().unwrap_or_default();
            let signature = PostSignature {
                policy: policy_b64.clone(),
                algorithm: get("x-amz-algorithm"),
                credential: get("x-amz-credential"),
                date: get("x-amz-date"),
                signature: get("x-amz-signature"),
                security_token: fields.get("x-amz-security-token").cloned(),
            };
            access = ctx.access.verify_post_policy(&signature).map_err(|d| {
                tracing::debug!(reason = %d.reason, "POST policy refused");
                ApiError::access_denied()
            })?;
        }
        let resource = format!("arn:aws:s3:::{}/{key}", bucket.record.name);
        access
            .authorize(
                "s3:PutObject",
                &resource,
                &bucket.record.owner,
                bucket.policy.as_deref(),
                &[],
            )
            .map_err(|_| ApiError::access_denied())?;
        // Metadata from the form, as headers would give it.
        let mut headers = HeaderMap::new();
        for (name, value) in &fields {
            let wanted = matches!(
                name.as_str(),
                "content-type"
                    | "cache-control"
                    | "content-disposition"
                    | "content-encoding"
                    | "expires"
            ) || name.starts_with("x-amz-meta-");
            if let (true, Ok(n), Ok(v)) = (
                wanted,
                http::HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.insert(n, v);
            }
        }
        if !headers.contains_key("content-type") {
            if let Some(Ok(v)) = file
                .content_type()
                .map(|m| HeaderValue::from_str(m.as_ref()))
            {
                headers.insert("content-type", v);
            }
        }
        let meta = meta_from_headers(&headers, access.account().unwrap_or_default().to_string())?;
        let limit = length_range.map_or(MAX_PUT, |(_, max)| max);
        let stream = file.map(|r| {
            r.map_err(|e| BodyError {
                status: StatusCode::BAD_REQUEST,
                code: "IncompleteBody".into(),
                message: e.to_string(),
            })
        });
        let staged = data::write_body(self.backend.clone(), Box::pin(stream), None, limit)
            .await
            .map_err(|e| {
                if e.code == "EntityTooLarge" {
                    policy_error("Your proposed upload exceeds the maximum allowed size")
                } else {
                    e
                }
            })?;
        if length_range.is_some_and(|(min, _)| staged.blob.size < min) {
            return Err(policy_error(
                "Your proposed upload is smaller than the minimum allowed size",
            ));
        }
        let saved = self
            .store(&bucket, &key, meta, staged, WriteCondition::Always)
            .await?;
        self.notify(ctx, &bucket, EventKind::Post, &saved).await;
        let location = format!("/{}/{}", bucket.record.name, key);
        let redirect = fields
            .get("success_action_redirect")
            .or(fields.get("redirect"));
        let mut r = if let Some(url) =
            redirect.filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        {
            let sep = if url.contains('?') { '&' } else { '?' };
            let target = format!(
                "{url}{sep}bucket={}&key={}&etag={}",
                wire::url_encode_key(&bucket.record.name),
                wire::url_encode_key(&key),
                wire::url_encode_key(&quoted(&saved.etag))
            );
            let mut r = wire::empty(StatusCode::SEE_OTHER);
            put_header(r.headers_mut(), "location", &target);
            r
        } else {
            match fields.get("success_action_status").map(String::as_str) {
                Some("200") => wire::empty(StatusCode::OK),
                Some("201") => {
                    let mut w = XmlWriter::bare("PostResponse");
                    w.elem("Location", &location)
                        .elem("Bucket", &bucket.record.name)
                        .elem("Key", &key)
                        .elem("ETag", quoted(&saved.etag));
                    wire::xml(StatusCode::CREATED, w.finish("PostResponse"))
                }
                _ => wire::empty(StatusCode::NO_CONTENT),
            }
        };
        let h = r.headers_mut();
        put_header(h, "etag", &quoted(&saved.etag));
        if !h.contains_key("location") {
            put_header(h, "location", &location);
        }
        if saved.version_id != "null" {
            put_header(h, "x-amz-version-id", &saved.version_id);
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> PostPolicy {
        parse_policy(&B64.encode(json)).expect("policy parses")
    }

    #[test]
    fn policy_conditions() {
        let p = policy(
            r#"{"expiration":"2030-01-01T00:00:00.000Z","conditions":[{"bucket":"photos"},["starts-with","$key","user/"],["eq","$Content-Type","image/jpeg"],["content-length-range",1,1024]]}"#,
        );
        assert_eq!(p.conditions.len(), 4);
        let mut fields = BTreeMap::from([
            ("bucket".to_string(), "photos".to_string()),
            ("key".to_string(), "user/a.jpg".to_string()),
            ("content-type".to_string(), "image/jpeg".to_string()),
            ("policy".to_string(), "...".to_string()),
            ("x-ignore-me".to_string(), "1".to_string()),
        ]);
        check_policy(&p, &fields, 0).expect("holds");
        fields.insert("key".into(), "other/a.jpg".into());
        assert!(check_policy(&p, &fields, 0).is_err());
        fields.insert("key".into(), "user/a.jpg".into());
        fields.insert("x-amz-meta-extra".into(), "1".into());
        assert!(
            check_policy(&p, &fields, 0).is_err(),
            "fields must be covered"
        );
        fields.remove("x-amz-meta-extra");
        assert!(
            check_policy(&p, &fields, 2_000_000_000_000).is_err(),
            "expired"
        );
        assert!(parse_policy("not base64!").is_err());
    }
}
