//! SQLite rows of the local backend: encoding and decoding records, the
//! queries several operations share (latest version, bucket existence,
//! recording a version, ending an upload) and error conversion.

use std::io;

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use crate::backend::{
    BackendError, BlobRef, BucketRecord, ObjectRecord, Result, UploadRecord, WriteCondition,
};

pub(super) const OBJECT_COLUMNS: &str =
    "key, version_id, seq, delete_marker, size, etag, last_modified_ms, meta, blobs";

pub(super) fn io_err(context: String, e: io::Error) -> BackendError {
    let transient = matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    );
    BackendError::Storage {
        context,
        transient,
        source: Box::new(e),
    }
}

pub(super) fn db_err(context: &str, e: rusqlite::Error) -> BackendError {
    let transient = matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::DatabaseBusy)
    );
    BackendError::Storage {
        context: context.to_string(),
        transient,
        source: Box::new(e),
    }
}

pub(super) fn parse_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| BackendError::Storage {
        context: "decoding a stored record".into(),
        transient: false,
        source: Box::new(e),
    })
}

pub(super) fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| BackendError::Storage {
        context: "encoding a record".into(),
        transient: false,
        source: Box::new(e),
    })
}

/// A raw object row; decoded outside the query closure so JSON errors keep
/// their own kind.
pub(super) struct RawObject {
    key: String,
    version_id: String,
    seq: i64,
    delete_marker: bool,
    size: i64,
    etag: String,
    last_modified_ms: i64,
    meta: String,
    blobs: String,
}

pub(super) fn raw_object(r: &Row) -> rusqlite::Result<RawObject> {
    Ok(RawObject {
        key: r.get(0)?,
        version_id: r.get(1)?,
        seq: r.get(2)?,
        delete_marker: r.get(3)?,
        size: r.get(4)?,
        etag: r.get(5)?,
        last_modified_ms: r.get(6)?,
        meta: r.get(7)?,
        blobs: r.get(8)?,
    })
}

pub(super) fn decode(raw: RawObject) -> Result<ObjectRecord> {
    Ok(ObjectRecord {
        key: raw.key,
        version_id: raw.version_id,
        seq: raw.seq,
        delete_marker: raw.delete_marker,
        size: u64::try_from(raw.size).unwrap_or(0),
        etag: raw.etag,
        last_modified_ms: raw.last_modified_ms,
        meta: parse_json(&raw.meta)?,
        blobs: parse_json(&raw.blobs)?,
    })
}

pub(super) fn decode_all(raws: Vec<RawObject>) -> Result<Vec<ObjectRecord>> {
    raws.into_iter().map(decode).collect()
}

pub(super) fn latest(
    tx: &Connection,
    bucket: &str,
    key: &str,
) -> rusqlite::Result<Option<RawObject>> {
    tx.query_row(
        &format!(
            "SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key = ?2 \
             ORDER BY seq DESC LIMIT 1"
        ),
        params![bucket, key],
        raw_object,
    )
    .optional()
}

pub(super) fn bucket_exists(tx: &Connection, bucket: &str) -> rusqlite::Result<bool> {
    tx.query_row(
        "SELECT 1 FROM buckets WHERE name = ?1",
        [bucket],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
}

/// Inserts `object` as the newest version inside `tx`; returns it with its
/// seq and the blobs of the version it replaced.
pub(super) fn insert_version(
    tx: &Transaction,
    bucket: &str,
    mut object: ObjectRecord,
    condition: &WriteCondition,
) -> Result<(ObjectRecord, Vec<BlobRef>)> {
    let ctx = "recording an object version";
    if !bucket_exists(tx, bucket).map_err(|e| db_err(ctx, e))? {
        return Err(BackendError::NotFound(format!("bucket {bucket}")));
    }
    let current = latest(tx, bucket, &object.key).map_err(|e| db_err(ctx, e))?;
    let live = current.as_ref().filter(|c| !c.delete_marker);
    let holds = match condition {
        WriteCondition::Always => true,
        WriteCondition::IfAbsent => live.is_none(),
        WriteCondition::IfEtag(etag) => live.is_some_and(|c| &c.etag == etag),
    };
    if !holds {
        return Err(BackendError::PreconditionFailed);
    }
    let replaced: Option<String> = tx
        .query_row(
            "DELETE FROM objects WHERE bucket = ?1 AND key = ?2 AND version_id = ?3 \
             RETURNING blobs",
            params![bucket, object.key, object.version_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| db_err(ctx, e))?;
    let garbage = match replaced {
        Some(blobs) => parse_json(&blobs)?,
        None => Vec::new(),
    };
    let size = i64::try_from(object.size).unwrap_or(i64::MAX);
    tx.execute(
        "INSERT INTO objects(bucket, key, version_id, delete_marker, size, etag, \
         last_modified_ms, meta, blobs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            bucket,
            object.key,
            object.version_id,
            object.delete_marker,
            size,
            object.etag,
            object.last_modified_ms,
            to_json(&object.meta)?,
            to_json(&object.blobs)?,
        ],
    )
    .map_err(|e| db_err(ctx, e))?;
    object.seq = tx.last_insert_rowid();
    Ok((object, garbage))
}

/// Deletes an upload and its parts inside `tx`; returns the parts' blobs.
pub(super) fn take_upload(tx: &Transaction, bucket: &str, upload_id: &str) -> Result<Vec<BlobRef>> {
    let ctx = "ending a multipart upload";
    let n = tx
        .execute(
            "DELETE FROM uploads WHERE bucket = ?1 AND upload_id = ?2",
            params![bucket, upload_id],
        )
        .map_err(|e| db_err(ctx, e))?;
    if n == 0 {
        return Err(BackendError::NotFound(format!("upload {upload_id}")));
    }
    let mut stmt = tx
        .prepare("DELETE FROM parts WHERE upload_id = ?1 RETURNING blob_id, blob_size")
        .map_err(|e| db_err(ctx, e))?;
    let rows = stmt
        .query_map([upload_id], |r| {
            Ok(BlobRef {
                id: r.get(0)?,
                size: r.get::<_, i64>(1)?.try_into().unwrap_or(0),
            })
        })
        .map_err(|e| db_err(ctx, e))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| db_err(ctx, e))
}

pub(super) fn bucket_row(r: &Row) -> rusqlite::Result<BucketRecord> {
    Ok(BucketRecord {
        name: r.get(0)?,
        owner: r.get(1)?,
        region: r.get(2)?,
        created_ms: r.get(3)?,
    })
}

pub(super) type RawUpload = (String, String, i64, String, String);

pub(super) fn raw_upload(r: &Row) -> rusqlite::Result<RawUpload> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

pub(super) fn decode_upload(
    (upload_id, key, initiated_ms, meta, initiator): RawUpload,
) -> Result<UploadRecord> {
    Ok(UploadRecord {
        upload_id,
        key,
        initiated_ms,
        meta: parse_json(&meta)?,
        initiator,
    })
}
