//! Multipart uploads: Create, UploadPart, UploadPartCopy, ListParts,
//! ListMultipartUploads, Complete and Abort. Parts are blobs of their own;
//! completing names the chosen parts' blobs as the object's bytes in one
//! transaction (no copy), so it is as crash-safe as a PUT.

use axum::body::Body;
use http::{Response, StatusCode};

use crate::backend::{Checksum, ObjectRecord, PartRecord, UploadRecord, WriteCondition};
use crate::error::ApiError;
use crate::service::ctx::Ctx;
use crate::service::data::{self, md5_raw};
use crate::service::notify::EventKind;
use crate::service::objects::{
    meta_from_headers, parse_range, put_header, receive_with, version_for_write,
};
use crate::service::wire::{self, iso8601, max_param, quoted};
use crate::xml::XmlWriter;
use crate::S3;

/// The smallest part but the last (5 MiB).
pub(crate) const MIN_PART: u64 = 5 * 1024 * 1024;

/// A part named by CompleteMultipartUpload: number, ETag, checksum.
type Wanted = (u32, String, Option<(data::Algorithm, String)>);

fn invalid_part(upload_id: &str, n: u32, etag: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "InvalidPart",
        "One or more of the specified parts could not be found.  The part may not have been \
         uploaded, or the specified entity tag may not match the part's entity tag.",
    )
    .with("UploadId", upload_id.to_string())
    .with("PartNumber", n.to_string())
    .with("ETag", etag.to_string())
}

/// The uploaded parts the completion names, checked (ETags and checksums
/// match, every part but the last at least 5 MiB).
fn choose_parts(
    wanted: &[Wanted],
    parts: &[PartRecord],
    upload_id: &str,
) -> Result<Vec<PartRecord>, ApiError> {
    let mut chosen = Vec::with_capacity(wanted.len());
    for (i, (n, etag, checksum)) in wanted.iter().enumerate() {
        let part = parts
            .iter()
            .find(|p| p.part_number == *n && &p.etag == etag)
            .ok_or_else(|| invalid_part(upload_id, *n, etag))?;
        if let Some((a, value)) = checksum {
            let stored = part.checksum.as_ref().filter(|c| c.algorithm == a.name());
            if stored.is_some_and(|c| &c.value != value) {
                return Err(invalid_part(upload_id, *n, etag));
            }
        }
        if i + 1 < wanted.len() && part.blob.size < MIN_PART {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed object size.",
            )
            .with("ProposedSize", part.blob.size.to_string())
            .with("MinSizeAllowed", MIN_PART.to_string())
            .with("PartNumber", n.to_string())
            .with("ETag", etag.clone()));
        }
        chosen.push(part.clone());
    }
    Ok(chosen)
}

/// The object's checksum when the upload was created with an algorithm:
/// the digest of the parts' digests, `-N` (S3's COMPOSITE type).
fn composite_checksum(
    upload: &UploadRecord,
    chosen: &[PartRecord],
    wanted: &[Wanted],
) -> Result<Option<Checksum>, ApiError> {
    let algorithm = upload
        .meta
        .checksum
        .as_ref()
        .and_then(|c| data::Algorithm::parse(&c.algorithm))
        .or_else(|| wanted.iter().find_map(|w| w.2.as_ref().map(|(a, _)| *a)));
    let Some(algorithm) = algorithm else {
        return Ok(None);
    };
    let mut raw = Vec::new();
    for part in chosen {
        let Some(c) = part
            .checksum
            .as_ref()
            .filter(|c| c.algorithm == algorithm.name())
        else {
            // A part sent without the upload's checksum: the object has none.
            return Ok(None);
        };
        let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &c.value)
            .map_err(|_| ApiError::internal())?;
        raw.extend_from_slice(&bytes);
    }
    Ok(Some(Checksum {
        algorithm: algorithm.name().to_string(),
        value: format!("{}-{}", data::digest_b64(algorithm, &raw), chosen.len()),
    }))
}

fn part_number(ctx: &Ctx) -> Result<u32, ApiError> {
    ctx.q("partNumber")
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            ApiError::invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
            )
        })
}

impl S3 {
    async fn load_upload(&self, bucket: &str, upload_id: &str) -> Result<UploadRecord, ApiError> {
        let (b, u) = (bucket.to_string(), upload_id.to_string());
        self.run(move |be| {
            be.upload(&b, &u)?
                .ok_or_else(|| ApiError::no_such_upload(&u))
        })
        .await
    }

    pub(crate) async fn create_upload(&self, ctx: &Ctx) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        let key = ctx.key()?.to_string();
        self.authorize(ctx, "s3:PutObject", &bucket, Some(&key), &[])?;
        let mut meta = meta_from_headers(&ctx.headers, ctx.account())?;
        if let Some(a) = ctx.header("x-amz-checksum-algorithm") {
            let a = data::Algorithm::parse(a).ok_or_else(|| {
                ApiError::invalid_request("Checksum algorithm provided is unsupported.")
            })?;
            meta.checksum = Some(Checksum {
                algorithm: a.name().to_string(),
                value: String::new(),
            });
        }
        // Ids sort by creation time, as ListMultipartUploads orders them.
        let upload_id = format!("{:012x}{}", wire::now_ms(), uuid::Uuid::new_v4().simple());
        let upload = UploadRecord {
            upload_id: upload_id.clone(),
            key: key.clone(),
            initiated_ms: wire::now_ms(),
            meta,
            initiator: ctx.principal(),
        };
        let name = bucket.record.name.clone();
        self.run(move |b| Ok(b.create_upload(&name, &upload)?))
            .await?;
        let mut w = XmlWriter::new("InitiateMultipartUploadResult");
        w.elem("Bucket", &bucket.record.name)
            .elem("Key", &key)
            .elem("UploadId", &upload_id);
        let mut r = wire::xml(StatusCode::OK, w.finish("InitiateMultipartUploadResult"));
        if let Some(a) = ctx.header("x-amz-checksum-algorithm") {
            put_header(
                r.headers_mut(),
                "x-amz-checksum-algorithm",
                &a.to_ascii_uppercase(),
            );
        }
        Ok(r)
    }

    pub(crate) async fn upload_part(&self, ctx: &mut Ctx) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        let key = ctx.key()?.to_string();
        self.authorize(ctx, "s3:PutObject", &bucket, Some(&key), &[])?;
        let number = part_number(ctx)?;
        let upload_id = ctx.q("uploadId").unwrap_or("").to_string();
        let upload = self.load_upload(&bucket.record.name, &upload_id).await?;
        if upload.key != key {
            return Err(ApiError::no_such_upload(&upload_id));
        }
        let copy = ctx.headers.contains_key("x-amz-copy-source");
        let staged = if copy {
            let (source, _) = self.copy_source(ctx).await?;
            let (offset, length) = match ctx.header("x-amz-copy-source-range") {
                Some(r) => parse_range(r, source.size)
                    .ok()
                    .flatten()
                    .filter(|_| r.trim_start_matches("bytes=").split('-').all(|s| !s.is_empty()))
                    .ok_or_else(|| {
                        ApiError::invalid_argument(
                            "The x-amz-copy-source-range value must be of the form bytes=first-last \
                             where first and last are the zero-based offsets of the first and last \
                             bytes to copy",
                        )
                    })?,
                None => (0, source.size),
            };
            data::copy_range(
                self.backend.clone(),
                source.blobs.clone(),
                offset,
                length,
                None,
            )
            .await?
        } else {
            let fallback = upload
                .meta
                .checksum
                .as_ref()
                .and_then(|c| data::Algorithm::parse(&c.algorithm));
            receive_with(self, ctx, fallback).await?
        };
        let part = PartRecord {
            part_number: number,
            etag: staged.md5_hex(),
            last_modified_ms: wire::now_ms(),
            blob: staged.blob.clone(),
            checksum: staged.checksum.as_ref().map(|(a, v)| Checksum {
                algorithm: a.name().to_string(),
                value: v.clone(),
            }),
        };
        let name = bucket.record.name.clone();
        let saved = part.clone();
        self.run(move |b| {
            b.put_part(&name, &upload_id, &saved)?;
            staged.keep();
            Ok(())
        })
        .await?;
        if copy {
            let mut w = XmlWriter::new("CopyPartResult");
            w.elem("LastModified", iso8601(part.last_modified_ms))
                .elem("ETag", quoted(&part.etag));
            return Ok(wire::xml(StatusCode::OK, w.finish("CopyPartResult")));
        }
        let mut r = wire::empty(StatusCode::OK);
        put_header(r.headers_mut(), "etag", &quoted(&part.etag));
        if let Some(c) = &part.checksum {
            if let Some(a) = data::Algorithm::parse(&c.algorithm) {
                put_header(r.headers_mut(), a.header(), &c.value);
            }
        }
        Ok(r)
    }

    pub(crate) async fn list_parts(&self, ctx: &Ctx) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        let key = ctx.key()?.to_string();
        self.authorize(ctx, "s3:ListMultipartUploadParts", &bucket, Some(&key), &[])?;
        let upload_id = ctx.q("uploadId").unwrap_or("").to_string();
        let upload = self.load_upload(&bucket.record.name, &upload_id).await?;
        let max = max_param(ctx.q("max-parts"), 1000, "max-parts")?;
        let marker: u32 = ctx
            .q("part-number-marker")
            .map(|m| {
                m.parse()
                    .map_err(|_| ApiError::invalid_argument("Invalid part-number-marker"))
            })
            .transpose()?
            .unwrap_or(0);
        let (name, id) = (bucket.record.name.clone(), upload_id.clone());
        let parts = self.run(move |b| Ok(b.list_parts(&name, &id)?)).await?;
        let after: Vec<&PartRecord> = parts.iter().filter(|p| p.part_number > marker).collect();
        let truncated = after.len() > max;
        let shown = &after[..after.len().min(max)];
        let mut w = XmlWriter::new("ListPartsResult");
        w.elem("Bucket", &bucket.record.name)
            .elem("Key", &key)
            .elem("UploadId", &upload_id);
        w.open("Initiator")
            .elem("ID", &upload.initiator)
            .elem("DisplayName", &upload.initiator)
            .close("Initiator");
        w.open("Owner")
            .elem("ID", &upload.meta.owner)
            .elem("DisplayName", &upload.meta.owner)
            .close("Owner");
        w.elem("StorageClass", "STANDARD")
            .elem("PartNumberMarker", marker.to_string());
        if let Some(last) = shown.last() {
            w.elem("NextPartNumberMarker", last.part_number.to_string());
        }
        w.elem("MaxParts", max.to_string())
            .elem("IsTruncated", truncated.to_string());
        if let Some(c) = &upload.meta.checksum {
            w.elem("ChecksumAlgorithm", &c.algorithm);
        }
        for p in shown {
            w.open("Part")
                .elem("PartNumber", p.part_number.to_string())
                .elem("LastModified", iso8601(p.last_modified_ms))
                .elem("ETag", quoted(&p.etag))
                .elem("Size", p.blob.size.to_string());
            if let Some(c) = &p.checksum {
                w.elem(&format!("Checksum{}", c.algorithm), &c.value);
            }
            w.close("Part");
        }
        Ok(wire::xml(StatusCode::OK, w.finish("ListPartsResult")))
    }

    pub(crate) async fn list_uploads(&self, ctx: &Ctx) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        self.authorize(ctx, "s3:ListBucketMultipartUploads", &bucket, None, &[])?;
        let prefix = ctx.q("prefix").unwrap_or("").to_string();
        let delimiter = ctx
            .q("delimiter")
            .filter(|d| !d.is_empty())
            .map(str::to_string);
        let url = wire::encoding_type(ctx.q("encoding-type"))?;
        let max = max_param(ctx.q("max-uploads"), 1000, "max-uploads")?;
        let key_marker = ctx.q("key-marker").unwrap_or("").to_string();
        let id_marker = ctx.q("upload-id-marker").unwrap_or("").to_string();
        let name = bucket.record.name.clone();
        let (p, d, km, im) = (
            prefix.clone(),
            delimiter.clone(),
            key_marker.clone(),
            id_marker.clone(),
        );
        let (entries, truncated) = self
            .run(move |b| upload_entries(b, &name, &p, d.as_deref(), &km, &im, max))
            .await?;
        let enc = |s: &str| wire::maybe_encode(s, url);
        let mut w = XmlWriter::new("ListMultipartUploadsResult");
        w.elem("Bucket", &bucket.record.name)
            .elem("KeyMarker", enc(&key_marker))
            .elem("UploadIdMarker", &id_marker);
        if truncated {
            match entries.last() {
                Some(UploadEntry::Upload(u)) => {
                    w.elem("NextKeyMarker", enc(&u.key))
                        .elem("NextUploadIdMarker", &u.upload_id);
                }
                Some(UploadEntry::Prefix(p)) => {
                    w.elem("NextKeyMarker", enc(p));
                }
                None => {}
            }
        }
        w.elem("Prefix", enc(&prefix));
        if let Some(d) = &delimiter {
            w.elem("Delimiter", enc(d));
        }
        if url {
            w.elem("EncodingType", "url");
        }
        w.elem("MaxUploads", max.to_string())
            .elem("IsTruncated", truncated.to_string());
        for e in &entries {
            let UploadEntry::Upload(u) = e else { continue };
            w.open("Upload")
                .elem("Key", enc(&u.key))
                .elem("UploadId", &u.upload_id);
            w.open("Initiator")
                .elem("ID", &u.initiator)
                .elem("DisplayName", &u.initiator)
                .close("Initiator");
            w.open("Owner")
                .elem("ID", &u.meta.owner)
                .elem("DisplayName", &u.meta.owner)
                .close("Owner");
            w.elem("StorageClass", "STANDARD")
                .elem("Initiated", iso8601(u.initiated_ms))
                .close("Upload");
        }
        for e in &entries {
            if let UploadEntry::Prefix(p) = e {
                w.open("CommonPrefixes")
                    .elem("Prefix", enc(p))
                    .close("CommonPrefixes");
            }
        }
        Ok(wire::xml(
            StatusCode::OK,
            w.finish("ListMultipartUploadsResult"),
        ))
    }

    pub(crate) async fn complete_upload(&self, ctx: &mut Ctx) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        let key = ctx.key()?.to_string();
        self.authorize(ctx, "s3:PutObject", &bucket, Some(&key), &[])?;
        let upload_id = ctx.q("uploadId").unwrap_or("").to_string();
        let upload = self.load_upload(&bucket.record.name, &upload_id).await?;
        let body = ctx.body_bytes().await?;
        let doc = crate::xml::parse(&body)?;
        if doc.name != "CompleteMultipartUpload" {
            return Err(ApiError::malformed_xml());
        }
        let mut wanted: Vec<Wanted> = Vec::new();
        for p in doc.children("Part") {
            let n: u32 = p
                .text_of("PartNumber")
                .and_then(|n| n.parse().ok())
                .ok_or_else(ApiError::malformed_xml)?;
            let etag = p.text_of("ETag").ok_or_else(ApiError::malformed_xml)?;
            let checksum = data::Algorithm::ALL.into_iter().find_map(|a| {
                p.text_of(&format!("Checksum{}", a.name()))
                    .map(|v| (a, v.to_string()))
            });
            wanted.push((n, etag.trim_matches('"').to_string(), checksum));
        }
        if wanted.is_empty() {
            return Err(ApiError::malformed_xml());
        }
        if wanted.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidPartOrder",
                "The list of parts was not in ascending order. Parts must be ordered by part number.",
            ));
        }
        let (name, id) = (bucket.record.name.clone(), upload_id.clone());
        let parts = self.run(move |b| Ok(b.list_parts(&name, &id)?)).await?;
        let chosen = choose_parts(&wanted, &parts, &upload_id)?;
        let checksum = composite_checksum(&upload, &chosen, &wanted)?;
        let mut digests = Vec::with_capacity(chosen.len() * 16);
        for p in &chosen {
            let raw = hex::decode(&p.etag).map_err(|_| ApiError::internal())?;
            digests.extend_from_slice(&raw);
        }
        let etag = format!("{}-{}", hex::encode(md5_raw(&digests)), chosen.len());
        let mut meta = upload.meta.clone();
        meta.parts = Some(u32::try_from(chosen.len()).unwrap_or(u32::MAX));
        meta.part_sizes = chosen.iter().map(|p| p.blob.size).collect();
        meta.checksum = checksum;
        let record = ObjectRecord {
            key: key.clone(),
            version_id: version_for_write(&bucket),
            seq: 0,
            delete_marker: false,
            size: chosen.iter().map(|p| p.blob.size).sum(),
            etag,
            last_modified_ms: wire::now_ms(),
            meta,
            blobs: chosen.iter().map(|p| p.blob.clone()).collect(),
        };
        let name = bucket.record.name.clone();
        let id = upload_id.clone();
        let saved =
            self.run(move |b| {
                match b.complete_upload(&name, &id, record, WriteCondition::Always) {
                Err(crate::backend::BackendError::Conflict(_)) => Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "OperationAborted",
                    "A conflicting conditional operation is currently in progress against this \
                     resource. Please try again.",
                )),
                other => Ok(other?),
            }
            })
            .await?;
        self.notify(ctx, &bucket, EventKind::CompleteMultipartUpload, &saved)
            .await;
        let mut w = XmlWriter::new("CompleteMultipartUploadResult");
        w.elem("Location", format!("/{}/{}", bucket.record.name, key))
            .elem("Bucket", &bucket.record.name)
            .elem("Key", &key)
            .elem("ETag", quoted(&saved.etag));
        if let Some(c) = &saved.meta.checksum {
            w.elem(&format!("Checksum{}", c.algorithm), &c.value)
                .elem("ChecksumType", "COMPOSITE");
        }
        let mut r = wire::xml(StatusCode::OK, w.finish("CompleteMultipartUploadResult"));
        if saved.version_id != "null" {
            put_header(r.headers_mut(), "x-amz-version-id", &saved.version_id);
        }
        Ok(r)
    }

    pub(crate) async fn abort_upload(&self, ctx: &Ctx) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        let key = ctx.key()?.to_string();
        self.authorize(ctx, "s3:AbortMultipartUpload", &bucket, Some(&key), &[])?;
        let upload_id = ctx.q("uploadId").unwrap_or("").to_string();
        let name = bucket.record.name.clone();
        self.run(move |b| Ok(b.abort_upload(&name, &upload_id)?))
            .await?;
        Ok(wire::empty(StatusCode::NO_CONTENT))
    }
}

/// An entry of ListMultipartUploads.
enum UploadEntry {
    Upload(Box<UploadRecord>),
    Prefix(String),
}

/// Uploads after the markers, rolled up by delimiter; whether more remain.
fn upload_entries(
    b: &dyn crate::backend::Backend,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    key_marker: &str,
    id_marker: &str,
    max: usize,
) -> Result<(Vec<UploadEntry>, bool), ApiError> {
    let mut out = Vec::new();
    let mut cursor = (key_marker.to_string(), id_marker.to_string());
    loop {
        let after = (!cursor.0.is_empty()).then_some((cursor.0.as_str(), cursor.1.as_str()));
        let page = b.list_uploads(bucket, prefix, after, 1000)?;
        if page.is_empty() {
            return Ok((out, false));
        }
        let full = page.len() == 1000;
        let mut jumped = false;
        for u in page {
            if out.len() == max {
                return Ok((out, true));
            }
            let rolled = delimiter.and_then(|d| {
                u.key[prefix.len()..]
                    .find(d)
                    .map(|i| u.key[..prefix.len() + i + d.len()].to_string())
            });
            match rolled {
                Some(cp) => {
                    // Past every upload under this prefix.
                    cursor = (format!("{cp}\u{10FFFF}"), String::new());
                    if cp != key_marker {
                        out.push(UploadEntry::Prefix(cp));
                    }
                    jumped = true;
                    break;
                }
                None => {
                    cursor = (u.key.clone(), u.upload_id.clone());
                    out.push(UploadEntry::Upload(Box::new(u)));
                }
            }
        }
        if !jumped && !full {
            return Ok((out, false));
        }
    }
}
