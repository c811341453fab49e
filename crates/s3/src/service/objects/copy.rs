//! CopyObject and the `x-amz-copy-source` resolution UploadPartCopy
//! shares (source authorization and copy-source conditions).

use axum::body::Body;
use http::{Response, StatusCode};

use crate::backend::{Checksum, ObjectRecord, WriteCondition};
use crate::error::ApiError;
use crate::service::ctx::{BucketInfo, Ctx};
use crate::service::data::{self, Algorithm};
use crate::service::notify::EventKind;
use crate::service::wire::{self, etag_matches, iso8601, quoted};
use crate::xml::XmlWriter;
use crate::S3;

use super::{meta_from_headers, put_header, requested_checksum, version_for_write};

impl S3 {
    pub(crate) async fn copy_object(&self, ctx: &mut Ctx) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        let key = ctx.key()?.to_string();
        self.authorize(ctx, "s3:PutObject", &bucket, Some(&key), &[])?;
        let (source, src_bucket) = self.copy_source(ctx).await?;
        let replace = match ctx.header("x-amz-metadata-directive") {
            None => false,
            Some(d) if d.eq_ignore_ascii_case("COPY") => false,
            Some(d) if d.eq_ignore_ascii_case("REPLACE") => true,
            Some(_) => return Err(ApiError::invalid_argument("Unknown metadata directive.")),
        };
        if src_bucket.record.name == bucket.record.name
            && source.key == key
            && !replace
            && ctx.q("versionId").is_none()
            && !ctx.headers.contains_key("x-amz-storage-class")
            && ctx
                .header("x-amz-copy-source")
                .is_some_and(|s| !s.contains("versionId="))
        {
            return Err(ApiError::invalid_request(
                "This copy request is illegal because it is trying to copy an object to itself \
                 without changing the object's metadata, storage class, website redirect \
                 location or encryption attributes.",
            ));
        }
        let mut meta = if replace {
            meta_from_headers(&ctx.headers, ctx.account())?
        } else {
            let mut m = source.meta.clone();
            m.owner = ctx.account();
            m
        };
        match ctx.header("x-amz-tagging-directive") {
            Some(d) if d.eq_ignore_ascii_case("REPLACE") => {
                meta.tags = match ctx.header("x-amz-tagging") {
                    Some(t) => crate::service::configs::parse_tag_query(t)?,
                    None => Vec::new(),
                };
            }
            _ => meta.tags = source.meta.tags.clone(),
        }
        meta.parts = None;
        meta.part_sizes = Vec::new();
        let (algorithm, _) = requested_checksum(ctx)?;
        let algorithm = algorithm.or_else(|| {
            source
                .meta
                .checksum
                .as_ref()
                .and_then(|c| Algorithm::parse(&c.algorithm))
        });
        let staged = data::copy_range(
            self.backend.clone(),
            source.blobs.clone(),
            0,
            source.size,
            algorithm,
        )
        .await?;
        meta.checksum = staged.checksum.as_ref().map(|(a, v)| Checksum {
            algorithm: a.name().to_string(),
            value: v.clone(),
        });
        let record = ObjectRecord {
            key: key.clone(),
            version_id: version_for_write(&bucket),
            seq: 0,
            delete_marker: false,
            size: staged.blob.size,
            etag: staged.md5_hex(),
            last_modified_ms: wire::now_ms(),
            meta,
            blobs: vec![staged.blob.clone()],
        };
        let name = bucket.record.name.clone();
        let saved = self
            .run(move |b| {
                let rec = b.put_object(&name, record, WriteCondition::Always)?;
                staged.keep();
                Ok(rec)
            })
            .await?;
        self.notify(ctx, &bucket, EventKind::Copy, &saved).await;
        let mut w = XmlWriter::new("CopyObjectResult");
        w.elem("LastModified", iso8601(saved.last_modified_ms))
            .elem("ETag", quoted(&saved.etag));
        if let Some(c) = &saved.meta.checksum {
            w.elem(&format!("Checksum{}", c.algorithm), &c.value);
        }
        let mut r = wire::xml(StatusCode::OK, w.finish("CopyObjectResult"));
        let h = r.headers_mut();
        if source.version_id != "null" {
            put_header(h, "x-amz-copy-source-version-id", &source.version_id);
        }
        if saved.version_id != "null" {
            put_header(h, "x-amz-version-id", &saved.version_id);
        }
        Ok(r)
    }

    /// Resolves `x-amz-copy-source` (authorizing the read and checking the
    /// copy-source conditions).
    pub(crate) async fn copy_source(
        &self,
        ctx: &Ctx,
    ) -> Result<(ObjectRecord, BucketInfo), ApiError> {
        let raw = ctx.header("x-amz-copy-source").ok_or_else(|| {
            ApiError::invalid_argument(
                "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            )
        })?;
        let (path, version) = match raw.split_once("?versionId=") {
            Some((p, v)) => (p, Some(v.to_string())),
            None => (raw, None),
        };
        let path = percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .map_err(|_| ApiError::invalid_argument("Invalid copy source encoding"))?;
        let path = path.strip_prefix('/').unwrap_or(&path);
        let (src_bucket, src_key) = path
            .split_once('/')
            .filter(|(b, k)| !b.is_empty() && !k.is_empty())
            .ok_or_else(|| {
                ApiError::invalid_argument(
                    "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                )
            })?;
        let info = self.bucket_info(src_bucket).await?;
        let action = if version.is_some() {
            "s3:GetObjectVersion"
        } else {
            "s3:GetObject"
        };
        self.authorize(ctx, action, &info, Some(src_key), &[])?;
        let name = info.record.name.clone();
        let k = src_key.to_string();
        let v = version.clone();
        let found = self
            .run(move |b| Ok(b.object(&name, &k, v.as_deref())?))
            .await?;
        let object = match found {
            Some(o) if !o.delete_marker => o,
            Some(_) if version.is_some() => {
                return Err(ApiError::invalid_request(
                    "The source of a copy request may not specifically refer to a delete marker by version id.",
                ))
            }
            _ if version.is_some() => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "NoSuchVersion",
                    "The specified version does not exist.",
                ))
            }
            _ => return Err(ApiError::no_such_key(src_key)),
        };
        let h = |n: &str| ctx.header(n);
        let failed = h("x-amz-copy-source-if-match")
            .is_some_and(|m| !etag_matches(m, &object.etag))
            || h("x-amz-copy-source-if-none-match").is_some_and(|m| etag_matches(m, &object.etag))
            || h("x-amz-copy-source-if-unmodified-since")
                .and_then(wire::parse_http_date)
                .is_some_and(|t| object.last_modified_ms / 1000 > t / 1000)
                && h("x-amz-copy-source-if-match").is_none()
            || h("x-amz-copy-source-if-modified-since")
                .and_then(wire::parse_http_date)
                .is_some_and(|t| object.last_modified_ms / 1000 <= t / 1000)
                && h("x-amz-copy-source-if-none-match").is_none();
        if failed {
            return Err(ApiError::precondition_failed("x-amz-copy-source-If-Match"));
        }
        Ok((object, info))
    }
}
