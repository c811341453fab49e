//! Object operations: PutObject, GetObject, HeadObject, DeleteObject,
//! DeleteObjects and CopyObject, with metadata headers, conditional
//! requests, byte ranges, checksums and versioning semantics (a new version
//! id when versioning is enabled, the `null` version otherwise; delete
//! markers).

mod copy;
mod headers;

pub(crate) use headers::{meta_from_headers, object_headers, parse_range, put_header};
use headers::{read_preconditions, response_overrides};

use axum::body::Body;
use http::{Response, StatusCode};

use crate::backend::{Checksum, ObjectMeta, ObjectRecord, WriteCondition};
use crate::error::ApiError;
use crate::service::ctx::{BucketInfo, Ctx};
use crate::service::data::{self, bad_digest, Algorithm, Staged};
use crate::service::notify::EventKind;
use crate::service::wire::{self, http_date, quoted};
use crate::xml::XmlWriter;
use crate::S3;

/// Largest single PUT (S3's limit).
pub(crate) const MAX_PUT: u64 = 5 * 1024 * 1024 * 1024;

/// The checksum a write asks for: a value header (`x-amz-checksum-*`,
/// checked for form) or just an algorithm (`x-amz-sdk-checksum-algorithm`).
pub(super) fn requested_checksum(
    ctx: &Ctx,
) -> Result<(Option<Algorithm>, Option<String>), ApiError> {
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
        self.notify(ctx, &bucket, EventKind::Put, &saved).await;
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
        // A version replaced between its lookup and the opening of its
        // bytes is looked up again.
        for _ in 0..3 {
            if let Some(r) = self.object_response(ctx, &bucket, &key, head).await? {
                return Ok(r);
            }
        }
        tracing::warn!(key, "an object kept changing while it was opened");
        Err(ApiError::unavailable())
    }

    /// GET/HEAD of the version the request names; `None` when its bytes
    /// went away before they were opened.
    async fn object_response(
        &self,
        ctx: &Ctx,
        bucket: &BucketInfo,
        key: &str,
        head: bool,
    ) -> Result<Option<Response<Body>>, ApiError> {
        let object = self.find_object(ctx, bucket, key).await?;
        if let Some(status) = read_preconditions(ctx, &object)? {
            let mut r = wire::empty(status);
            put_header(r.headers_mut(), "etag", &quoted(&object.etag));
            put_header(
                r.headers_mut(),
                "last-modified",
                &http_date(object.last_modified_ms),
            );
            return Ok(Some(r));
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
        // The stored checksum covers the whole object: S3 leaves it out of
        // a ranged answer, whose body it would not match.
        let whole = span.is_none_or(|(start, len)| start == 0 && len == object.size);
        object_headers(
            h,
            &object,
            whole && ctx.header("x-amz-checksum-mode") == Some("ENABLED"),
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
            let opened =
                data::open_range(self.backend.clone(), object.blobs.clone(), offset, length)
                    .await?;
            let Some(reader) = opened else {
                return Ok(None);
            };
            *r.body_mut() = data::read_body(reader);
        }
        Ok(Some(r))
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
                        self.notify(ctx, bucket, EventKind::Delete, &rec).await;
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
                    self.notify(ctx, bucket, EventKind::Delete, &rec).await;
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
                self.notify(ctx, bucket, EventKind::DeleteMarkerCreated, &rec)
                    .await;
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
}

/// What a delete did.
pub(crate) struct Deleted {
    pub delete_marker: bool,
    pub version_id: Option<String>,
}
