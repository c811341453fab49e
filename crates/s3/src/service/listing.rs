//! Listings: ListObjects (v1, `marker`), ListObjectsV2 (`continuation-token`,
//! `start-after`, `fetch-owner`) and ListObjectVersions, all with `prefix`,
//! `delimiter` (CommonPrefixes), `max-keys` and `encoding-type=url`.
//!
//! Keys come from the backend in pages; a key under a common prefix rolls
//! up into it, and the listing then jumps past every key of that prefix.

use axum::body::Body;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use http::{Response, StatusCode};

use crate::backend::{Backend, ObjectRecord, VersionCursor};
use crate::error::ApiError;
use crate::service::ctx::Ctx;
use crate::service::wire::{self, encoding_type, iso8601, max_param, maybe_encode, quoted};
use crate::xml::XmlWriter;
use crate::S3;

/// One listing entry.
pub(crate) enum Entry {
    Object(Box<ObjectRecord>),
    Prefix(String),
}

const PAGE: usize = 1000;

/// The first key after every key starting with `prefix`.
fn past(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// Lists up to `max` entries after `after`; returns them and whether more
/// remain.
pub(crate) fn list_entries(
    b: &dyn Backend,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    after: &str,
    max: usize,
) -> Result<(Vec<Entry>, bool), ApiError> {
    let mut out = Vec::new();
    let mut cursor = after.to_string();
    loop {
        let page = b.list_objects(bucket, prefix, &cursor, PAGE)?;
        if page.is_empty() {
            return Ok((out, false));
        }
        let full = page.len() == PAGE;
        let mut jumped = false;
        for o in page {
            let rolled = delimiter.filter(|d| !d.is_empty()).and_then(|d| {
                o.key[prefix.len()..]
                    .find(d)
                    .map(|i| o.key[..prefix.len() + i + d.len()].to_string())
            });
            if out.len() == max {
                return Ok((out, true));
            }
            match rolled {
                Some(cp) => {
                    cursor = past(&cp);
                    if cp != after {
                        out.push(Entry::Prefix(cp));
                    }
                    jumped = true;
                    break;
                }
                None => {
                    cursor = o.key.clone();
                    out.push(Entry::Object(Box::new(o)));
                }
            }
        }
        if !jumped && !full {
            return Ok((out, false));
        }
    }
}

fn owner(w: &mut XmlWriter, id: &str) {
    w.open("Owner")
        .elem("ID", id)
        .elem("DisplayName", id)
        .close("Owner");
}

fn contents(w: &mut XmlWriter, o: &ObjectRecord, url: bool, with_owner: bool) {
    w.open("Contents")
        .elem("Key", maybe_encode(&o.key, url))
        .elem("LastModified", iso8601(o.last_modified_ms))
        .elem("ETag", quoted(&o.etag));
    if let Some(c) = &o.meta.checksum {
        w.elem("ChecksumAlgorithm", &c.algorithm);
    }
    w.elem("Size", o.size.to_string());
    if with_owner {
        owner(w, &o.meta.owner);
    }
    w.elem("StorageClass", "STANDARD").close("Contents");
}

impl S3 {
    pub(crate) async fn list_objects(
        &self,
        ctx: &Ctx,
        v2: bool,
    ) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        let prefix = ctx.q("prefix").unwrap_or("").to_string();
        let delimiter = ctx
            .q("delimiter")
            .filter(|d| !d.is_empty())
            .map(str::to_string);
        self.authorize(
            ctx,
            "s3:ListBucket",
            &bucket,
            None,
            &[("s3:prefix", vec![prefix.clone()])],
        )?;
        let url = encoding_type(ctx.q("encoding-type"))?;
        let max = max_param(ctx.q("max-keys"), 1000, "max-keys")?;
        let token = ctx.q("continuation-token").map(str::to_string);
        let after = if v2 {
            match &token {
                Some(t) => B64
                    .decode(t)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                        ApiError::invalid_argument("The continuation token provided is incorrect")
                    })?,
                None => ctx.q("start-after").unwrap_or("").to_string(),
            }
        } else {
            ctx.q("marker").unwrap_or("").to_string()
        };
        let name = bucket.record.name.clone();
        let (p, d, a) = (prefix.clone(), delimiter.clone(), after.clone());
        let (entries, truncated) = self
            .run(move |b| list_entries(b, &name, &p, d.as_deref(), &a, max))
            .await?;
        let last = entries.last().map(|e| match e {
            Entry::Object(o) => o.key.clone(),
            Entry::Prefix(p) => p.clone(),
        });
        let mut w = XmlWriter::new("ListBucketResult");
        w.elem("Name", &bucket.record.name)
            .elem("Prefix", maybe_encode(&prefix, url));
        if v2 {
            if let Some(t) = &token {
                w.elem("ContinuationToken", t);
            }
            if let Some(s) = ctx.q("start-after") {
                w.elem("StartAfter", maybe_encode(s, url));
            }
            w.elem("KeyCount", entries.len().to_string());
        } else {
            w.elem("Marker", maybe_encode(&after, url));
        }
        w.elem("MaxKeys", max.to_string());
        if let Some(d) = &delimiter {
            w.elem("Delimiter", maybe_encode(d, url));
        }
        if url {
            w.elem("EncodingType", "url");
        }
        w.elem("IsTruncated", truncated.to_string());
        if truncated {
            if let Some(last) = &last {
                if v2 {
                    w.elem("NextContinuationToken", B64.encode(last));
                } else if delimiter.is_some() {
                    w.elem("NextMarker", maybe_encode(last, url));
                }
            }
        }
        let with_owner = !v2 || ctx.q("fetch-owner") == Some("true");
        for e in &entries {
            if let Entry::Object(o) = e {
                contents(&mut w, o, url, with_owner);
            }
        }
        for e in &entries {
            if let Entry::Prefix(p) = e {
                w.open("CommonPrefixes")
                    .elem("Prefix", maybe_encode(p, url))
                    .close("CommonPrefixes");
            }
        }
        Ok(wire::xml(StatusCode::OK, w.finish("ListBucketResult")))
    }

    pub(crate) async fn list_object_versions(&self, ctx: &Ctx) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        let prefix = ctx.q("prefix").unwrap_or("").to_string();
        let delimiter = ctx
            .q("delimiter")
            .filter(|d| !d.is_empty())
            .map(str::to_string);
        self.authorize(
            ctx,
            "s3:ListBucketVersions",
            &bucket,
            None,
            &[("s3:prefix", vec![prefix.clone()])],
        )?;
        let url = encoding_type(ctx.q("encoding-type"))?;
        let max = max_param(ctx.q("max-keys"), 1000, "max-keys")?;
        let key_marker = ctx.q("key-marker").unwrap_or("").to_string();
        let version_marker = ctx.q("version-id-marker").map(str::to_string);
        if version_marker.is_some() && key_marker.is_empty() {
            return Err(ApiError::invalid_argument(
                "A version-id marker cannot be specified without a key marker.",
            ));
        }
        let name = bucket.record.name.clone();
        let (p, d, km, vm) = (
            prefix.clone(),
            delimiter.clone(),
            key_marker.clone(),
            version_marker.clone(),
        );
        let (entries, truncated, latest) = self
            .run(move |b| list_versions(b, &name, &p, d.as_deref(), &km, vm.as_deref(), max))
            .await?;
        let mut w = XmlWriter::new("ListVersionsResult");
        w.elem("Name", &bucket.record.name)
            .elem("Prefix", maybe_encode(&prefix, url))
            .elem("KeyMarker", maybe_encode(&key_marker, url))
            .elem("VersionIdMarker", version_marker.as_deref().unwrap_or(""));
        if truncated {
            match entries.last() {
                Some(Entry::Object(o)) => {
                    w.elem("NextKeyMarker", maybe_encode(&o.key, url))
                        .elem("NextVersionIdMarker", &o.version_id);
                }
                Some(Entry::Prefix(p)) => {
                    w.elem("NextKeyMarker", maybe_encode(p, url));
                }
                None => {}
            }
        }
        w.elem("MaxKeys", max.to_string());
        if let Some(d) = &delimiter {
            w.elem("Delimiter", maybe_encode(d, url));
        }
        if url {
            w.elem("EncodingType", "url");
        }
        w.elem("IsTruncated", truncated.to_string());
        for (e, is_latest) in entries.iter().zip(latest.iter()) {
            let Entry::Object(o) = e else { continue };
            let tag = if o.delete_marker {
                "DeleteMarker"
            } else {
                "Version"
            };
            w.open(tag)
                .elem("Key", maybe_encode(&o.key, url))
                .elem("VersionId", &o.version_id)
                .elem("IsLatest", is_latest.to_string())
                .elem("LastModified", iso8601(o.last_modified_ms));
            if !o.delete_marker {
                w.elem("ETag", quoted(&o.etag))
                    .elem("Size", o.size.to_string());
                w.elem("StorageClass", "STANDARD");
            }
            owner(&mut w, &o.meta.owner);
            w.close(tag);
        }
        for e in &entries {
            if let Entry::Prefix(p) = e {
                w.open("CommonPrefixes")
                    .elem("Prefix", maybe_encode(p, url))
                    .close("CommonPrefixes");
            }
        }
        Ok(wire::xml(StatusCode::OK, w.finish("ListVersionsResult")))
    }
}

/// Versions after the markers, rolled up by delimiter; with each entry
/// whether it is its key's latest version.
#[allow(clippy::type_complexity)]
fn list_versions(
    b: &dyn Backend,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    key_marker: &str,
    version_marker: Option<&str>,
    max: usize,
) -> Result<(Vec<Entry>, bool, Vec<bool>), ApiError> {
    let mut cursor = match (key_marker, version_marker) {
        ("", _) => None,
        (k, Some(v)) => {
            let seq = b.object(bucket, k, Some(v))?.map(|o| o.seq);
            Some(VersionCursor {
                key: k.to_string(),
                seq: Some(
                    seq.ok_or_else(|| ApiError::invalid_argument("Invalid version id specified"))?,
                ),
            })
        }
        (k, None) => Some(VersionCursor {
            key: k.to_string(),
            seq: None,
        }),
    };
    // A resumed key's first version in this page is not its latest.
    let resumed_key = match &cursor {
        Some(VersionCursor { key, seq: Some(_) }) => Some(key.clone()),
        _ => None,
    };
    let mut out = Vec::new();
    let mut latest = Vec::new();
    let mut last_key: Option<String> = resumed_key;
    loop {
        let page = b.list_versions(bucket, prefix, cursor.as_ref(), PAGE)?;
        if page.is_empty() {
            return Ok((out, false, latest));
        }
        let full = page.len() == PAGE;
        let mut jumped = false;
        for o in page {
            if out.len() == max {
                return Ok((out, true, latest));
            }
            let rolled = delimiter.and_then(|d| {
                o.key[prefix.len()..]
                    .find(d)
                    .map(|i| o.key[..prefix.len() + i + d.len()].to_string())
            });
            if let Some(cp) = rolled {
                cursor = Some(VersionCursor {
                    key: past(&cp),
                    seq: None,
                });
                if cp != key_marker {
                    out.push(Entry::Prefix(cp));
                    latest.push(false);
                }
                jumped = true;
                break;
            }
            let is_latest = last_key.as_deref() != Some(o.key.as_str());
            last_key = Some(o.key.clone());
            cursor = Some(VersionCursor {
                key: o.key.clone(),
                seq: Some(o.seq),
            });
            out.push(Entry::Object(Box::new(o)));
            latest.push(is_latest);
        }
        if !jumped && !full {
            return Ok((out, false, latest));
        }
    }
}
