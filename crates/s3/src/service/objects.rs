//! Object operations: PutObject, GetObject, HeadObject, DeleteObject,
//! DeleteObjects and CopyObject, with metadata headers, conditional
//! requests, byte ranges, checksums and versioning semantics (a new version
//! id when versioning is enabled, the `null` version otherwise; delete
//! markers).

use axum::body::Body;
use http::{HeaderMap, Response, StatusCode};

use crate::backend::{Checksum, ObjectMeta, ObjectRecord, WriteCondition};
use crate::error::ApiError;
use crate::service::ctx::{BucketInfo, Ctx};
use crate::service::data::{self, bad_digest, Algorithm, Staged};
use crate::service::notify::EventKind;
use crate::service::wire::{self, etag_matches, http_date, iso8601, quoted};
use crate::xml::XmlWriter;
use crate::S3;

/// Largest single PUT (S3's limit).
pub(crate) const MAX_PUT: u64 = 5 * 1024 * 1024 * 1024;

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
        content_encoding: get("content-encoding").filter(|e| e != "aws-chunked"),
        content_language: get("content-language"),
        expires: get("expires"),
        user,
        tags,
        owner,
        ..ObjectMeta::default()
    })
}

/// The checksum a write asks for: a value header (`x-amz-checksum-*`,
/// checked for form) or just an algorithm (`x-amz-sdk-checksum-algorithm`).
fn requested_checksum(ctx: &Ctx) -> Result<(Option<Algorithm>, Option<String>), ApiError> {
    for a in Algorithm::ALL {
        if let Some(v) = ctx.header(a.header()) {
            if !a.well_formed(v) {
                return Err(ApiError::invalid_request(format!(
                    "Value for {} header is invalid.",
                    a.header()
                )));
            }
            return Ok((Some(a), Some(v.to_string())));
        }
    }
    // An aws-chunked body's trailing checksum was checked by the gateway;
    // its algorithm is named by `x-amz-trailer`.
    let trailer = ctx
        .header("x-amz-trailer")
        .and_then(|t| t.trim().strip_prefix("x-amz-checksum-"));
    let named = ctx
        .header("x-amz-sdk-checksum-algorithm")
        .or(ctx.header("x-amz-checksum-algorithm"))
        .or(trailer);
    match named {
        Some(n) => Algorithm::parse(n).map(|a| (Some(a), None)).ok_or_else(|| {
            ApiError::invalid_request("Checksum algorithm provided is unsupported.")
        }),
        None => Ok((None, None)),
    }
}

/// Streams the request body into a blob and checks it against
/// `Content-MD5` and the checksum header.
pub(crate) async fn receive(s3: &S3, ctx: &mut Ctx) -> Result<Staged, ApiError> {
    receive_with(s3, ctx, None).await
}

/// [`receive`], computing the `fallback` checksum when the request names
/// none (the parts of an upload created with a checksum algorithm).
pub(crate) async fn receive_with(
    s3: &S3,
    ctx: &mut Ctx,
    fallback: Option<Algorithm>,
) -> Result<Staged, ApiError> {
    let md5 = data::content_md5(ctx.header("content-md5"))?;
    let (algorithm, expected) = requested_checksum(ctx)?;
    let algorithm = algorithm.or(fallback);
    let body = ctx.take_body();
    let staged = data::write_body(s3.backend.clone(), body, algorithm, MAX_PUT).await?;
    if md5.is_some_and(|m| m != staged.md5) {
        return Err(bad_digest());
    }
    if let (Some(expected), Some((a, got))) = (expected, &staged.checksum) {
        if &expected != got {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "BadDigest",
                format!(
                    "The {} you specified did not match the calculated checksum.",
                    a.name()
                ),
            ));
        }
    }
    Ok(staged)
}

pub(crate) fn new_version_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The version id a write gets in this bucket.
pub(crate) fn version_for_write(bucket: &BucketInfo) -> String {
    if bucket.versioning_enabled() {
        new_version_id()
    } else {
        "null".to_string()
    }
}

/// The write condition of `If-None-Match: *` / `If-Match`.
fn write_condition(ctx: &Ctx) -> Result<WriteCondition, ApiError> {
    if let Some(v) = ctx.header("if-none-match") {
        if v.trim() != "*" {
            return Err(ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "NotImplemented",
                "A header you provided implies functionality that is not implemented",
            )
            .with("Header", "If-None-Match"));
        }
        return Ok(WriteCondition::IfAbsent);
    }
    if let Some(v) = ctx.header("if-match") {
        return Ok(WriteCondition::IfEtag(
            v.trim().trim_matches('"').to_string(),
        ));
    }
    Ok(WriteCondition::Always)
}

fn condition_name(c: &WriteCondition) -> &'static str {
    match c {
        WriteCondition::IfAbsent => "If-None-Match",
        _ => "If-Match",
    }
}

impl S3 {
    pub(crate) async fn put_object(&self, ctx: &mut Ctx) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        let key = ctx.key()?.to_string();
        self.authorize(ctx, "s3:PutObject", &bucket, Some(&key), &[])?;
        let meta = meta_from_headers(&ctx.headers, ctx.account())?;
        let condition = write_condition(ctx)?;
        let staged = receive(self, ctx).await?;
        let saved = self.store(&bucket, &key, meta, staged, condition).await?;
        self.notify(ctx, &bucket, EventKind::Put, &saved);
        let mut r = wire::empty(StatusCode::OK);
        let h = r.headers_mut();
        put_header(h, "etag", &quoted(&saved.etag));
        if saved.version_id != "null" {
            put_header(h, "x-amz-version-id", &saved.version_id);
        }
        if let Some(c) = &saved.meta.checksum {
            if let Some(a) = Algorithm::parse(&c.algorithm) {
                put_header(h, a.header(), &c.value);
            }
        }
        Ok(r)
    }

    /// Records a received blob as the newest version of `key` (its checksum
    /// and ETag from the digests taken while it was written).
    pub(crate) async fn store(
        &self,
        bucket: &BucketInfo,
        key: &str,
        mut meta: ObjectMeta,
        staged: Staged,
        condition: WriteCondition,
    ) -> Result<ObjectRecord, ApiError> {
        meta.checksum = staged.checksum.as_ref().map(|(a, v)| Checksum {
            algorithm: a.name().to_string(),
            value: v.clone(),
        });
        let record = ObjectRecord {
            key: key.to_string(),
            version_id: version_for_write(bucket),
            seq: 0,
            delete_marker: false,
            size: staged.blob.size,
            etag: staged.md5_hex(),
            last_modified_ms: wire::now_ms(),
            meta,
            blobs: vec![staged.blob.clone()],
        };
        let name = bucket.record.name.clone();
        self.run(move |b| {
            let rec = b
                .put_object(&name, record, condition.clone())
                .map_err(|e| match e {
                    crate::backend::BackendError::PreconditionFailed => {
                        ApiError::precondition_failed(condition_name(&condition))
                    }
                    e => e.into(),
                })?;
            staged.keep();
            Ok(rec)
        })
        .await
    }

    /// Finds the version a GET/HEAD/tagging call names, answering as S3
    /// does for delete markers and missing versions.
    pub(crate) async fn find_object(
        &self,
        ctx: &Ctx,
        bucket: &BucketInfo,
        key: &str,
    ) -> Result<ObjectRecord, ApiError> {
        let version = ctx.q("versionId").map(str::to_string);
        let name = bucket.record.name.clone();
        let k = key.to_string();
        let v = version.clone();
        let found = self
            .run(move |b| Ok(b.object(&name, &k, v.as_deref())?))
            .await?;
        match (found, version) {
            (None, None) => Err(ApiError::no_such_key(key)),
            (None, Some(v)) => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "NoSuchVersion",
                "The specified version does not exist.",
            )
            .with("Key", key)
            .with("VersionId", v)),
            (Some(o), None) if o.delete_marker => Err(ApiError::no_such_key(key)
                .header("x-amz-delete-marker", "true")
                .header("x-amz-version-id", o.version_id)),
            (Some(o), Some(_)) if o.delete_marker => Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
            )
            .header("x-amz-delete-marker", "true")
            .header("last-modified", http_date(o.last_modified_ms))
            .header("x-amz-version-id", o.version_id)),
            (Some(o), _) => Ok(o),
        }
    }

    pub(crate) async fn get_object(
        &self,
        ctx: &mut Ctx,
        head: bool,
    ) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        let key = ctx.key()?.to_string();
        let action = if ctx.has("versionId") {
            "s3:GetObjectVersion"
        } else {
            "s3:GetObject"
        };
        self.authorize(ctx, action, &bucket, Some(&key), &[])?;
        let object = self.find_object(ctx, &bucket, &key).await?;
        if let Some(status) = read_preconditions(ctx, &object)? {
            let mut r = wire::empty(status);
            put_header(r.headers_mut(), "etag", &quoted(&object.etag));
            put_header(
                r.headers_mut(),
                "last-modified",
                &http_date(object.last_modified_ms),
            );
            return Ok(r);
        }
        // A part of a multipart object, or a byte range.
        let mut span = None;
        if let Some(n) = ctx.q("partNumber") {
            let n: usize = n
                .parse()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid_argument(
                        "Part number must be an integer between 1 and 10000, inclusive",
                    )
                })?;
            let sizes: Vec<u64> = if object.meta.part_sizes.is_empty() {
                vec![object.size]
            } else {
                object.meta.part_sizes.clone()
            };
            let Some(len) = sizes.get(n - 1) else {
                return Err(ApiError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "InvalidPartNumber",
                    "The requested partnumber is not satisfiable",
                ));
            };
            let start: u64 = sizes[..n - 1].iter().sum();
            span = Some((start, *len));
        } else if let Some(range) = ctx.header("range") {
            span = parse_range(range, object.size)?;
        }
        let mut r = Response::new(Body::empty());
        let h = r.headers_mut();
        object_headers(
            h,
            &object,
            ctx.header("x-amz-checksum-mode") == Some("ENABLED"),
        );
        response_overrides(ctx, h);
        if ctx.q("partNumber").is_some() {
            put_header(
                h,
                "x-amz-mp-parts-count",
                &object.meta.parts.unwrap_or(1).to_string(),
            );
        }
        let (offset, length) = match span {
            Some((start, len)) => {
                *r.status_mut() = StatusCode::PARTIAL_CONTENT;
                let h = r.headers_mut();
                put_header(
                    h,
                    "content-range",
                    &format!(
                        "bytes {}-{}/{}",
                        start,
                        start + len.saturating_sub(1),
                        object.size
                    ),
                );
                (start, len)
            }
            None => (0, object.size),
        };
        put_header(r.headers_mut(), "content-length", &length.to_string());
        if !head {
            *r.body_mut() =
                data::read_body(self.backend.clone(), object.blobs.clone(), offset, length);
        }
        Ok(r)
    }

    pub(crate) async fn delete_object(&self, ctx: &mut Ctx) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        let key = ctx.key()?.to_string();
        let version = ctx.q("versionId").map(str::to_string);
        let action = if version.is_some() {
            "s3:DeleteObjectVersion"
        } else {
            "s3:DeleteObject"
        };
        self.authorize(ctx, action, &bucket, Some(&key), &[])?;
        let outcome = self.delete_one(ctx, &bucket, &key, version).await?;
        let mut r = wire::empty(StatusCode::NO_CONTENT);
        let h = r.headers_mut();
        if outcome.delete_marker {
            put_header(h, "x-amz-delete-marker", "true");
        }
        if let Some(v) = &outcome.version_id {
            put_header(h, "x-amz-version-id", v);
        }
        Ok(r)
    }

    /// Deletes a key (adding a delete marker when versioning is on) or one
    /// version; notifies.
    pub(crate) async fn delete_one(
        &self,
        ctx: &Ctx,
        bucket: &BucketInfo,
        key: &str,
        version: Option<String>,
    ) -> Result<Deleted, ApiError> {
        let name = bucket.record.name.clone();
        let k = key.to_string();
        match version {
            Some(v) => {
                let removed = self
                    .run(move |b| Ok(b.delete_version(&name, &k, &v)?.map(|r| (r, v))))
                    .await?;
                match removed {
                    Some((rec, v)) => {
                        self.notify(ctx, bucket, EventKind::Delete, &rec);
                        Ok(Deleted {
                            delete_marker: rec.delete_marker,
                            version_id: Some(v),
                        })
                    }
                    None => Ok(Deleted {
                        delete_marker: false,
                        version_id: ctx.q("versionId").map(str::to_string),
                    }),
                }
            }
            None if bucket.versioning.is_none() => {
                let removed = self
                    .run(move |b| Ok(b.delete_version(&name, &k, "null")?))
                    .await?;
                if let Some(rec) = removed {
                    self.notify(ctx, bucket, EventKind::Delete, &rec);
                }
                Ok(Deleted {
                    delete_marker: false,
                    version_id: None,
                })
            }
            None => {
                let marker = ObjectRecord {
                    key: key.to_string(),
                    version_id: version_for_write(bucket),
                    seq: 0,
                    delete_marker: true,
                    size: 0,
                    etag: String::new(),
                    last_modified_ms: wire::now_ms(),
                    meta: ObjectMeta {
                        owner: ctx.account(),
                        ..ObjectMeta::default()
                    },
                    blobs: Vec::new(),
                };
                let rec = self
                    .run(move |b| Ok(b.put_object(&name, marker, WriteCondition::Always)?))
                    .await?;
                self.notify(ctx, bucket, EventKind::DeleteMarkerCreated, &rec);
                Ok(Deleted {
                    delete_marker: true,
                    version_id: Some(rec.version_id),
                })
            }
        }
    }

    pub(crate) async fn delete_objects(&self, ctx: &mut Ctx) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        let body = ctx.body_bytes().await?;
        let doc = crate::xml::parse(&body)?;
        if doc.name != "Delete" {
            return Err(ApiError::malformed_xml());
        }
        let quiet = doc
            .text_of("Quiet")
            .is_some_and(|q| q.eq_ignore_ascii_case("true"));
        let objects: Vec<(String, Option<String>)> = doc
            .children("Object")
            .map(|o| {
                let key = o.text_of("Key").map(str::to_string);
                key.map(|k| (k, o.text_of("VersionId").map(str::to_string)))
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(ApiError::malformed_xml)?;
        if objects.is_empty() || objects.len() > 1000 {
            return Err(ApiError::malformed_xml());
        }
        let mut w = XmlWriter::new("DeleteResult");
        for (key, version) in objects {
            let action = if version.is_some() {
                "s3:DeleteObjectVersion"
            } else {
                "s3:DeleteObject"
            };
            let result = match self.authorize(ctx, action, &bucket, Some(&key), &[]) {
                Ok(()) => self.delete_one(ctx, &bucket, &key, version.clone()).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(d) => {
                    if quiet {
                        continue;
                    }
                    w.open("Deleted").elem("Key", &key);
                    if let Some(v) = &version {
                        w.elem("VersionId", v);
                    }
                    if d.delete_marker {
                        // A marker made, or a marker removed by its id.
                        w.elem("DeleteMarker", "true");
                        w.opt("DeleteMarkerVersionId", d.version_id.as_deref());
                    }
                    w.close("Deleted");
                }
                Err(e) => {
                    w.open("Error").elem("Key", &key);
                    w.opt("VersionId", version.as_deref());
                    w.elem("Code", e.code)
                        .elem("Message", &e.message)
                        .close("Error");
                }
            }
        }
        Ok(wire::xml(StatusCode::OK, w.finish("DeleteResult")))
    }

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
        self.notify(ctx, &bucket, EventKind::Copy, &saved);
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

/// What a delete did.
pub(crate) struct Deleted {
    pub delete_marker: bool,
    pub version_id: Option<String>,
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
fn response_overrides(ctx: &Ctx, h: &mut HeaderMap) {
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
fn read_preconditions(ctx: &Ctx, o: &ObjectRecord) -> Result<Option<StatusCode>, ApiError> {
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
