//! The embedded [`Backend`]: object bytes in files, metadata in SQLite.
//!
//! ```text
//! <dir>/LOCK               flock'ed while a backend has the directory open
//!       meta.db            buckets, configs, object versions, uploads, parts
//!       blobs/<ab>/<id>    finished blobs (immutable), fanned out by id prefix
//!       tmp/<id>           blobs being written
//! ```
//!
//! A blob is written to `tmp/`, fsynced, renamed into `blobs/` and the
//! directory fsynced before [`BlobWriter::finish`] returns; only then does a
//! record name it, in one SQLite transaction (WAL, `synchronous=FULL`).
//! Blobs a transaction stopped naming are unlinked after it commits. On
//! open, `tmp/` is emptied and blobs no record names are removed, so a crash
//! at any point leaves each object old or new, never torn, and leaks
//! nothing. One [`LocalBackend`] owns its directory: open it once per
//! process.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

mod blobs;
mod rows;

use blobs::{remove_quietly, LocalBlobWriter};
use rows::{
    bucket_exists, bucket_row, db_err, decode, decode_all, decode_upload, insert_version, io_err,
    latest, parse_json, raw_object, raw_upload, take_upload, to_json, OBJECT_COLUMNS,
};

use crate::backend::{
    Backend, BackendError, BlobReader, BlobRef, BlobWriter, BucketRecord, BucketUsage, Checksum,
    ObjectMeta, ObjectRecord, PartRecord, Result, UploadRecord, VersionCursor, WriteCondition,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS buckets(
    name TEXT PRIMARY KEY, owner TEXT NOT NULL, region TEXT NOT NULL,
    created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bucket_configs(
    bucket TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY(bucket, kind));
CREATE TABLE IF NOT EXISTS objects(
    seq INTEGER PRIMARY KEY AUTOINCREMENT, bucket TEXT NOT NULL, key TEXT NOT NULL,
    version_id TEXT NOT NULL, delete_marker INTEGER NOT NULL, size INTEGER NOT NULL,
    etag TEXT NOT NULL, last_modified_ms INTEGER NOT NULL, meta TEXT NOT NULL,
    blobs TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS objects_version ON objects(bucket, key, version_id);
CREATE INDEX IF NOT EXISTS objects_key ON objects(bucket, key, seq);
CREATE TABLE IF NOT EXISTS uploads(
    upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL,
    initiated_ms INTEGER NOT NULL, meta TEXT NOT NULL, initiator TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS uploads_key ON uploads(bucket, key, initiated_ms);
CREATE TABLE IF NOT EXISTS parts(
    upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, etag TEXT NOT NULL,
    last_modified_ms INTEGER NOT NULL, blob_id TEXT NOT NULL, blob_size INTEGER NOT NULL,
    checksum TEXT, PRIMARY KEY(upload_id, part_number));
";

/// Files plus SQLite under one directory.
pub struct LocalBackend {
    dir: PathBuf,
    conn: Mutex<Connection>,
    /// Held (flock) for as long as the backend is open: the sweep at open
    /// must not run under another live backend's writes.
    _lock: File,
}

impl LocalBackend {
    /// Opens (creating) the backend under `dir`, removing partial and
    /// unnamed blobs left by a crash.
    pub fn open(dir: &Path) -> Result<Self> {
        for sub in ["blobs", "tmp"] {
            fs::create_dir_all(dir.join(sub))
                .map_err(|e| io_err(format!("creating {}", dir.join(sub).display()), e))?;
        }
        let lock = lock_dir(dir)?;
        let db = dir.join("meta.db");
        let context = format!("opening {}", db.display());
        let conn = Connection::open(&db).map_err(|e| db_err(&context, e))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| db_err(&context, e))?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|e| db_err(&context, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(BackendError::Storage {
                context: format!("{context}: journal_mode is {mode}, not WAL"),
                transient: false,
                source: "WAL refused".into(),
            });
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .and_then(|()| conn.execute_batch(SCHEMA))
            .map_err(|e| db_err(&context, e))?;
        let backend = LocalBackend {
            dir: dir.to_path_buf(),
            conn: Mutex::new(conn),
            _lock: lock,
        };
        backend.sweep()?;
        Ok(backend)
    }

    /// Removes `tmp/*` and every blob no record names.
    fn sweep(&self) -> Result<()> {
        let tmp = self.dir.join("tmp");
        for entry in fs::read_dir(&tmp).map_err(|e| io_err("listing tmp".into(), e))? {
            let entry = entry.map_err(|e| io_err("listing tmp".into(), e))?;
            remove_quietly(&entry.path());
        }
        let named = self.named_blobs()?;
        let blobs = self.dir.join("blobs");
        for fan in fs::read_dir(&blobs).map_err(|e| io_err("listing blobs".into(), e))? {
            let fan = fan.map_err(|e| io_err("listing blobs".into(), e))?;
            if !fan.path().is_dir() {
                continue;
            }
            for entry in fs::read_dir(fan.path()).map_err(|e| io_err("listing blobs".into(), e))? {
                let entry = entry.map_err(|e| io_err("listing blobs".into(), e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if !named.contains(&name) {
                    remove_quietly(&entry.path());
                }
            }
        }
        Ok(())
    }

    fn named_blobs(&self) -> Result<HashSet<String>> {
        let conn = self.lock();
        let ctx = "reading blob names";
        let mut named = HashSet::new();
        let mut stmt = conn
            .prepare("SELECT blobs FROM objects")
            .map_err(|e| db_err(ctx, e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| db_err(ctx, e))?;
        for blobs in rows {
            let blobs: Vec<BlobRef> = parse_json(&blobs.map_err(|e| db_err(ctx, e))?)?;
            named.extend(blobs.into_iter().map(|b| b.id));
        }
        let mut stmt = conn
            .prepare("SELECT blob_id FROM parts")
            .map_err(|e| db_err(ctx, e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| db_err(ctx, e))?;
        for id in rows {
            named.insert(id.map_err(|e| db_err(ctx, e))?);
        }
        Ok(named)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock dropped its transaction, which
        // rolled back: the connection is still consistent.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn blob_path(&self, id: &str) -> PathBuf {
        let fan = id.get(..2).unwrap_or("00");
        self.dir.join("blobs").join(fan).join(id)
    }

    /// Runs `f` in an immediate transaction, commits, then deletes the
    /// blobs it returned as no longer named.
    fn write<T>(
        &self,
        context: &str,
        f: impl FnOnce(&Transaction) -> Result<(T, Vec<BlobRef>)>,
    ) -> Result<T> {
        let (value, garbage) = {
            let mut conn = self.lock();
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| db_err(context, e))?;
            let out = f(&tx)?;
            tx.commit().map_err(|e| db_err(context, e))?;
            out
        };
        for blob in garbage {
            remove_quietly(&self.blob_path(&blob.id));
        }
        Ok(value)
    }

    fn read<T>(
        &self,
        context: &str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let conn = self.lock();
        f(&conn).map_err(|e| db_err(context, e))
    }
}

/// Takes the directory's lock; fails when another backend holds it.
fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join("LOCK");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_err(format!("opening {}", path.display()), e))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
        |e| BackendError::Storage {
            context: format!("{} is in use by another object store", path.display()),
            transient: false,
            source: Box::new(io::Error::from(e)),
        },
    )?;
    Ok(file)
}

impl Backend for LocalBackend {
    fn create_blob(&self) -> Result<Box<dyn BlobWriter>> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let tmp = self.dir.join("tmp").join(&id);
        let file =
            File::create_new(&tmp).map_err(|e| io_err(format!("creating {}", tmp.display()), e))?;
        let dest = self.blob_path(&id);
        Ok(Box::new(LocalBlobWriter::new(file, tmp, dest, id)))
    }

    fn read_blob(&self, blob: &BlobRef) -> Result<Box<dyn BlobReader>> {
        let path = self.blob_path(&blob.id);
        match File::open(&path) {
            Ok(f) => Ok(Box::new(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(BackendError::NotFound(format!("blob {}", blob.id)))
            }
            Err(e) => Err(io_err(format!("opening {}", path.display()), e)),
        }
    }

    fn discard_blob(&self, blob: &BlobRef) -> Result<()> {
        let path = self.blob_path(&blob.id);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(format!("removing {}", path.display()), e)),
        }
    }

    fn create_bucket(&self, bucket: &BucketRecord) -> Result<()> {
        self.write("creating a bucket", |tx| {
            let n = tx
                .execute(
                    "INSERT OR IGNORE INTO buckets(name, owner, region, created_ms) \
                     VALUES (?1, ?2, ?3, ?4)",
                    params![bucket.name, bucket.owner, bucket.region, bucket.created_ms],
                )
                .map_err(|e| db_err("creating a bucket", e))?;
            if n == 0 {
                return Err(BackendError::Conflict(format!("bucket {}", bucket.name)));
            }
            Ok(((), Vec::new()))
        })
    }

    fn bucket(&self, name: &str) -> Result<Option<BucketRecord>> {
        self.read("reading a bucket", |c| {
            c.query_row(
                "SELECT name, owner, region, created_ms FROM buckets WHERE name = ?1",
                [name],
                bucket_row,
            )
            .optional()
        })
    }

    fn list_buckets(&self) -> Result<Vec<BucketRecord>> {
        self.read("listing buckets", |c| {
            let mut stmt =
                c.prepare("SELECT name, owner, region, created_ms FROM buckets ORDER BY name")?;
            let rows = stmt.query_map([], bucket_row)?;
            rows.collect()
        })
    }

    fn delete_bucket(&self, name: &str) -> Result<()> {
        let ctx = "deleting a bucket";
        self.write(ctx, |tx| {
            if !bucket_exists(tx, name).map_err(|e| db_err(ctx, e))? {
                return Err(BackendError::NotFound(format!("bucket {name}")));
            }
            let used: bool = tx
                .query_row(
                    "SELECT EXISTS(SELECT 1 FROM objects WHERE bucket = ?1) \
                     OR EXISTS(SELECT 1 FROM uploads WHERE bucket = ?1)",
                    [name],
                    |r| r.get(0),
                )
                .map_err(|e| db_err(ctx, e))?;
            if used {
                return Err(BackendError::NotEmpty(name.to_string()));
            }
            tx.execute("DELETE FROM bucket_configs WHERE bucket = ?1", [name])
                .and_then(|_| tx.execute("DELETE FROM buckets WHERE name = ?1", [name]))
                .map_err(|e| db_err(ctx, e))?;
            Ok(((), Vec::new()))
        })
    }

    fn set_bucket_config(&self, bucket: &str, kind: &str, value: Option<&str>) -> Result<()> {
        let ctx = "setting a bucket configuration";
        self.write(ctx, |tx| {
            if !bucket_exists(tx, bucket).map_err(|e| db_err(ctx, e))? {
                return Err(BackendError::NotFound(format!("bucket {bucket}")));
            }
            match value {
                Some(v) => tx.execute(
                    "INSERT INTO bucket_configs(bucket, kind, value) VALUES (?1, ?2, ?3) \
                     ON CONFLICT(bucket, kind) DO UPDATE SET value = excluded.value",
                    params![bucket, kind, v],
                ),
                None => tx.execute(
                    "DELETE FROM bucket_configs WHERE bucket = ?1 AND kind = ?2",
                    params![bucket, kind],
                ),
            }
            .map_err(|e| db_err(ctx, e))?;
            Ok(((), Vec::new()))
        })
    }

    fn bucket_config(&self, bucket: &str, kind: &str) -> Result<Option<String>> {
        self.read("reading a bucket configuration", |c| {
            c.query_row(
                "SELECT value FROM bucket_configs WHERE bucket = ?1 AND kind = ?2",
                params![bucket, kind],
                |r| r.get(0),
            )
            .optional()
        })
    }

    fn put_object(
        &self,
        bucket: &str,
        object: ObjectRecord,
        condition: WriteCondition,
    ) -> Result<ObjectRecord> {
        self.write("recording an object", |tx| {
            insert_version(tx, bucket, object, &condition)
        })
    }

    fn object(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Option<ObjectRecord>> {
        let raw = self.read("reading an object", |c| match version {
            None => latest(c, bucket, key),
            Some(v) => c
                .query_row(
                    &format!(
                        "SELECT {OBJECT_COLUMNS} FROM objects \
                         WHERE bucket = ?1 AND key = ?2 AND version_id = ?3"
                    ),
                    params![bucket, key, v],
                    raw_object,
                )
                .optional(),
        })?;
        raw.map(decode).transpose()
    }

    fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
    ) -> Result<Option<ObjectRecord>> {
        let ctx = "deleting an object version";
        self.write(ctx, |tx| {
            let raw = tx
                .query_row(
                    &format!(
                        "DELETE FROM objects WHERE bucket = ?1 AND key = ?2 AND version_id = ?3 \
                         RETURNING {OBJECT_COLUMNS}"
                    ),
                    params![bucket, key, version],
                    raw_object,
                )
                .optional()
                .map_err(|e| db_err(ctx, e))?;
            match raw {
                Some(raw) => {
                    let rec = decode(raw)?;
                    let garbage = rec.blobs.clone();
                    Ok((Some(rec), garbage))
                }
                None => Ok((None, Vec::new())),
            }
        })
    }

    fn update_meta(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
        meta: &ObjectMeta,
    ) -> Result<bool> {
        let ctx = "updating object metadata";
        let json = to_json(meta)?;
        self.write(ctx, |tx| {
            let n = tx
                .execute(
                    "UPDATE objects SET meta = ?4 WHERE bucket = ?1 AND key = ?2 \
                     AND version_id = ?3",
                    params![bucket, key, version, json],
                )
                .map_err(|e| db_err(ctx, e))?;
            Ok((n > 0, Vec::new()))
        })
    }

    fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<ObjectRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let raws = self.read("listing objects", |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {OBJECT_COLUMNS} FROM objects o \
                 WHERE o.bucket = ?1 AND o.key > ?2 AND o.key >= ?3 \
                 AND substr(o.key, 1, length(?3)) = ?3 \
                 AND o.seq = (SELECT MAX(seq) FROM objects i \
                              WHERE i.bucket = ?1 AND i.key = o.key) \
                 AND o.delete_marker = 0 \
                 ORDER BY o.key LIMIT ?4"
            ))?;
            let rows = stmt.query_map(params![bucket, after, prefix, limit], raw_object)?;
            rows.collect()
        })?;
        decode_all(raws)
    }

    fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&VersionCursor>,
        limit: usize,
    ) -> Result<Vec<ObjectRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (after_key, after_seq) = match after {
            Some(c) => (c.key.as_str(), c.seq.unwrap_or(i64::MIN)),
            None => ("", i64::MIN),
        };
        let raws = self.read("listing object versions", |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {OBJECT_COLUMNS} FROM objects \
                 WHERE bucket = ?1 AND (key > ?2 OR (key = ?2 AND seq < ?3)) \
                 AND key >= ?4 AND substr(key, 1, length(?4)) = ?4 \
                 ORDER BY key, seq DESC LIMIT ?5"
            ))?;
            let rows = stmt.query_map(
                params![bucket, after_key, after_seq, prefix, limit],
                raw_object,
            )?;
            rows.collect()
        })?;
        decode_all(raws)
    }

    fn usage(&self, bucket: &str) -> Result<BucketUsage> {
        let ctx = "measuring a bucket";
        let found = self.read(ctx, |c| {
            if !bucket_exists(c, bucket)? {
                return Ok(None);
            }
            let (versions, bytes): (i64, i64) = c.query_row(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM objects WHERE bucket = ?1",
                [bucket],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let objects: i64 = c.query_row(
                "SELECT COUNT(*) FROM objects o WHERE o.bucket = ?1 AND o.delete_marker = 0 \
                 AND o.seq = (SELECT MAX(seq) FROM objects i WHERE i.bucket = ?1 AND i.key = o.key)",
                [bucket],
                |r| r.get(0),
            )?;
            let parts: i64 = c.query_row(
                "SELECT COALESCE(SUM(p.blob_size), 0) FROM parts p \
                 JOIN uploads u ON u.upload_id = p.upload_id WHERE u.bucket = ?1",
                [bucket],
                |r| r.get(0),
            )?;
            Ok(Some((objects, versions, bytes + parts)))
        })?;
        let (objects, versions, bytes) =
            found.ok_or_else(|| BackendError::NotFound(format!("bucket {bucket}")))?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(BucketUsage {
            objects: n(objects),
            versions: n(versions),
            bytes: n(bytes),
        })
    }

    fn create_upload(&self, bucket: &str, upload: &UploadRecord) -> Result<()> {
        let ctx = "creating a multipart upload";
        let meta = to_json(&upload.meta)?;
        self.write(ctx, |tx| {
            if !bucket_exists(tx, bucket).map_err(|e| db_err(ctx, e))? {
                return Err(BackendError::NotFound(format!("bucket {bucket}")));
            }
            tx.execute(
                "INSERT INTO uploads(upload_id, bucket, key, initiated_ms, meta, initiator) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    upload.upload_id,
                    bucket,
                    upload.key,
                    upload.initiated_ms,
                    meta,
                    upload.initiator
                ],
            )
            .map_err(|e| db_err(ctx, e))?;
            Ok(((), Vec::new()))
        })
    }

    fn upload(&self, bucket: &str, upload_id: &str) -> Result<Option<UploadRecord>> {
        let raw = self.read("reading a multipart upload", |c| {
            c.query_row(
                "SELECT upload_id, key, initiated_ms, meta, initiator FROM uploads \
                 WHERE bucket = ?1 AND upload_id = ?2",
                params![bucket, upload_id],
                raw_upload,
            )
            .optional()
        })?;
        raw.map(decode_upload).transpose()
    }

    fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<UploadRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let raws = self.read("listing multipart uploads", |c| {
            let mut stmt = c.prepare_cached(
                "SELECT upload_id, key, initiated_ms, meta, initiator FROM uploads \
                 WHERE bucket = ?1 AND key >= ?2 AND substr(key, 1, length(?2)) = ?2 \
                 ORDER BY key, upload_id",
            )?;
            let rows = stmt.query_map(params![bucket, prefix], raw_upload)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let mut out = Vec::new();
        for raw in raws {
            let skip = match after {
                None => false,
                // Keys after the marker's key; with an upload id, the marker
                // key's uploads that come after that one too.
                Some((key, "")) => raw.1.as_str() <= key,
                Some((key, id)) => raw.1.as_str() < key || (raw.1 == key && (raw.0.as_str() <= id)),
            };
            if skip {
                continue;
            }
            out.push(decode_upload(raw)?);
            if out.len() as i64 >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn put_part(&self, bucket: &str, upload_id: &str, part: &PartRecord) -> Result<()> {
        let ctx = "recording a part";
        let checksum = part.checksum.as_ref().map(to_json).transpose()?;
        self.write(ctx, |tx| {
            let exists = tx
                .query_row(
                    "SELECT 1 FROM uploads WHERE bucket = ?1 AND upload_id = ?2",
                    params![bucket, upload_id],
                    |_| Ok(()),
                )
                .optional()
                .map_err(|e| db_err(ctx, e))?;
            if exists.is_none() {
                return Err(BackendError::NotFound(format!("upload {upload_id}")));
            }
            let old = tx
                .query_row(
                    "DELETE FROM parts WHERE upload_id = ?1 AND part_number = ?2 \
                     RETURNING blob_id, blob_size",
                    params![upload_id, part.part_number],
                    |r| {
                        Ok(BlobRef {
                            id: r.get(0)?,
                            size: r.get::<_, i64>(1)?.try_into().unwrap_or(0),
                        })
                    },
                )
                .optional()
                .map_err(|e| db_err(ctx, e))?;
            tx.execute(
                "INSERT INTO parts(upload_id, part_number, etag, last_modified_ms, blob_id, \
                 blob_size, checksum) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    upload_id,
                    part.part_number,
                    part.etag,
                    part.last_modified_ms,
                    part.blob.id,
                    i64::try_from(part.blob.size).unwrap_or(i64::MAX),
                    checksum
                ],
            )
            .map_err(|e| db_err(ctx, e))?;
            Ok(((), old.into_iter().collect()))
        })
    }

    fn list_parts(&self, bucket: &str, upload_id: &str) -> Result<Vec<PartRecord>> {
        let ctx = "listing parts";
        let rows = self.read(ctx, |c| {
            let mut stmt = c.prepare_cached(
                "SELECT p.part_number, p.etag, p.last_modified_ms, p.blob_id, p.blob_size, \
                 p.checksum FROM parts p JOIN uploads u ON u.upload_id = p.upload_id \
                 WHERE u.bucket = ?1 AND p.upload_id = ?2 ORDER BY p.part_number",
            )?;
            let rows = stmt.query_map(params![bucket, upload_id], |r| {
                Ok((
                    r.get::<_, u32>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.into_iter()
            .map(|(n, etag, ms, id, size, checksum)| {
                Ok(PartRecord {
                    part_number: n,
                    etag,
                    last_modified_ms: ms,
                    blob: BlobRef {
                        id,
                        size: size.try_into().unwrap_or(0),
                    },
                    checksum: checksum.map(|c| parse_json::<Checksum>(&c)).transpose()?,
                })
            })
            .collect()
    }

    fn complete_upload(
        &self,
        bucket: &str,
        upload_id: &str,
        object: ObjectRecord,
        condition: WriteCondition,
    ) -> Result<ObjectRecord> {
        let ctx = "completing a multipart upload";
        self.write(ctx, |tx| {
            let parts = take_upload(tx, bucket, upload_id)?;
            // A part re-uploaded since the caller listed them: refuse
            // rather than name a blob that is about to be deleted (the
            // transaction rolls back, the upload stays).
            let current: HashSet<&str> = parts.iter().map(|b| b.id.as_str()).collect();
            if let Some(gone) = object
                .blobs
                .iter()
                .find(|b| !current.contains(b.id.as_str()))
            {
                return Err(BackendError::Conflict(format!("part blob {}", gone.id)));
            }
            let used: HashSet<&str> = object.blobs.iter().map(|b| b.id.as_str()).collect();
            let mut garbage: Vec<BlobRef> = parts
                .into_iter()
                .filter(|b| !used.contains(b.id.as_str()))
                .collect();
            let (rec, replaced) = insert_version(tx, bucket, object, &condition)?;
            garbage.extend(replaced);
            Ok((rec, garbage))
        })
    }

    fn abort_upload(&self, bucket: &str, upload_id: &str) -> Result<()> {
        self.write("aborting a multipart upload", |tx| {
            let parts = take_upload(tx, bucket, upload_id)?;
            Ok(((), parts))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::conformance;

    #[test]
    fn conformance() {
        let dirs = Mutex::new(Vec::new());
        conformance::run_all(&|| {
            let dir = tempfile::tempdir().expect("temp dir");
            let backend = LocalBackend::open(dir.path()).expect("open");
            dirs.lock().expect("lock").push(dir);
            Box::new(backend)
        });
    }

    #[test]
    fn open_sweeps_partial_and_unnamed_blobs() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (kept, orphan) = {
            let b = LocalBackend::open(dir.path()).expect("open");
            b.create_bucket(&conformance::bucket("b")).expect("bucket");
            let kept = conformance::blob(&b, b"kept");
            b.put_object(
                "b",
                conformance::object("k", "null", vec![kept.clone()]),
                WriteCondition::Always,
            )
            .expect("put");
            let orphan = conformance::blob(&b, b"never named");
            let mut partial = b.create_blob().expect("create");
            partial.write(b"half").expect("write");
            std::mem::forget(partial); // as if the process died mid-write
            (kept, orphan)
        };
        assert_eq!(
            fs::read_dir(dir.path().join("tmp")).expect("tmp").count(),
            1
        );
        let b = LocalBackend::open(dir.path()).expect("reopen");
        assert_eq!(
            fs::read_dir(dir.path().join("tmp")).expect("tmp").count(),
            0
        );
        assert_eq!(conformance::read(&b, &kept), b"kept");
        assert!(matches!(
            b.read_blob(&orphan),
            Err(BackendError::NotFound(_))
        ));
    }

    #[test]
    fn a_directory_is_opened_by_one_backend_at_a_time() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = LocalBackend::open(dir.path()).expect("open");
        assert!(LocalBackend::open(dir.path()).is_err(), "locked while open");
        drop(first);
        LocalBackend::open(dir.path()).expect("free again once closed");
    }

    #[test]
    fn database_is_wal_and_synchronous_full() {
        let dir = tempfile::tempdir().expect("temp dir");
        let b = LocalBackend::open(dir.path()).expect("open");
        let conn = b.lock();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .expect("mode");
        let sync: i64 = conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .expect("sync");
        assert_eq!(mode, "wal");
        assert_eq!(sync, 2);
    }
}
