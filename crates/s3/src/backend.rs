//! The storage engine's contract: object bytes (blobs) and the metadata
//! that names them (buckets, object versions, multipart uploads).
//!
//! The API layer ([`crate::S3`]) decides S3 semantics (version ids, delete
//! markers, conditions); a [`Backend`] stores the outcome durably and
//! atomically. Every method blocks (disk and database work): callers run
//! them off the async workers.
//!
//! Writing an object is two steps:
//! 1. [`Backend::create_blob`] gives a [`BlobWriter`]; bytes are streamed
//!    into it and [`BlobWriter::finish`] makes them durable under a new
//!    blob id (nothing names the blob yet);
//! 2. [`Backend::put_object`] (or [`Backend::put_part`],
//!    [`Backend::complete_upload`]) records a version naming the blob, in
//!    one transaction, replacing any version with the same id; blobs no
//!    longer named by anything are deleted after the commit.
//!
//! Invariants every backend keeps:
//! - a record's change is atomic and durable when the call returns;
//! - a crash at any point leaves each version either as it was or as it was
//!   written, never torn: blobs are immutable once finished, and a blob
//!   that no record names (a crash between the steps, or before a deletion)
//!   is removed when the backend is opened again;
//! - keys sort by their UTF-8 bytes; versions of one key newest first;
//! - the latest version of a key is the one written last (highest `seq`).
//!
//! [`conformance`] checks all of this for any implementation.

pub mod conformance;

use std::io::{Read, Seek};

use serde::{Deserialize, Serialize};

/// What a backend call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The bucket or upload named does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The bucket to create exists already.
    #[error("{0} already exists")]
    Conflict(String),
    /// The bucket still holds object versions or uploads.
    #[error("bucket {0} is not empty")]
    NotEmpty(String),
    /// A [`WriteCondition`] did not hold; nothing was written.
    #[error("the write condition did not hold")]
    PreconditionFailed,
    /// The disk or database failed.
    #[error("{context}")]
    Storage {
        context: String,
        /// Whether retrying later may work (disk full, busy database).
        transient: bool,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

pub type Result<T, E = BackendError> = std::result::Result<T, E>;

/// A bucket as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketRecord {
    pub name: String,
    /// The owning account id.
    pub owner: String,
    pub region: String,
    /// Milliseconds since the Unix epoch.
    pub created_ms: i64,
}

/// A piece of object data: a finished blob and its length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    pub id: String,
    pub size: u64,
}

/// A checksum stored with an object or part (`x-amz-checksum-*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    /// `CRC32`, `CRC32C`, `SHA1` or `SHA256`.
    pub algorithm: String,
    /// Base64, as on the wire (for multipart objects `...-N`).
    pub value: String,
}

/// Everything about an object version besides its identity and bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// `x-amz-meta-*` pairs, names lowercased without the prefix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Checksum>,
    /// The account that wrote it.
    #[serde(default)]
    pub owner: String,
    /// For multipart objects, the number of parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<u32>,
    /// Sizes of the parts of a multipart object, in order (for
    /// `partNumber` reads).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub part_sizes: Vec<u64>,
}

/// One version of an object (or a delete marker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRecord {
    pub key: String,
    /// `null` for versions written while versioning was off or suspended.
    pub version_id: String,
    /// Write order, assigned by the backend (ignored on input).
    pub seq: i64,
    pub delete_marker: bool,
    pub size: u64,
    /// Unquoted: hex MD5, or `hex-N` for multipart objects.
    pub etag: String,
    /// Milliseconds since the Unix epoch.
    pub last_modified_ms: i64,
    pub meta: ObjectMeta,
    /// The bytes, in order (one blob, or one per part).
    pub blobs: Vec<BlobRef>,
}

/// A condition [`Backend::put_object`] checks against the latest version of
/// the key inside its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCondition {
    Always,
    /// No current object (`If-None-Match: *`): no version, or the latest is
    /// a delete marker.
    IfAbsent,
    /// The current object's (unquoted) ETag is this one (`If-Match`).
    IfEtag(String),
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    pub upload_id: String,
    pub key: String,
    pub initiated_ms: i64,
    /// The object's metadata to be (headers given to CreateMultipartUpload).
    pub meta: ObjectMeta,
    /// Who started it (principal ARN or account).
    pub initiator: String,
}

/// One uploaded part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRecord {
    pub part_number: u32,
    /// Unquoted hex MD5 of the part.
    pub etag: String,
    pub last_modified_ms: i64,
    pub blob: BlobRef,
    pub checksum: Option<Checksum>,
}

/// A bucket's contents, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BucketUsage {
    pub objects: u64,
    pub versions: u64,
    pub bytes: u64,
}

/// Where a version listing resumes: after `key` entirely (`seq: None`) or
/// after the version of `key` with this `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionCursor {
    pub key: String,
    pub seq: Option<i64>,
}

/// Reads a blob; seekable for ranges.
pub trait BlobReader: Read + Seek + Send {}
impl<T: Read + Seek + Send> BlobReader for T {}

/// Receives a new blob's bytes. Dropped without [`BlobWriter::finish`], the
/// partial blob is removed.
pub trait BlobWriter: Send {
    fn write(&mut self, bytes: &[u8]) -> Result<()>;
    /// Makes the bytes durable and returns the blob's name.
    fn finish(self: Box<Self>) -> Result<BlobRef>;
}

/// The storage engine. See the module docs for the contract.
pub trait Backend: Send + Sync {
    // ---- bytes
    fn create_blob(&self) -> Result<Box<dyn BlobWriter>>;
    /// Opens a finished blob; `NotFound` when it does not exist.
    fn read_blob(&self, blob: &BlobRef) -> Result<Box<dyn BlobReader>>;
    /// Removes a finished blob that no record names (a write whose record
    /// was refused).
    fn discard_blob(&self, blob: &BlobRef) -> Result<()>;

    // ---- buckets
    /// `Conflict` when the name is taken.
    fn create_bucket(&self, bucket: &BucketRecord) -> Result<()>;
    fn bucket(&self, name: &str) -> Result<Option<BucketRecord>>;
    /// Every bucket, by name.
    fn list_buckets(&self) -> Result<Vec<BucketRecord>>;
    /// Deletes an empty bucket and its configuration; `NotFound`, `NotEmpty`.
    fn delete_bucket(&self, name: &str) -> Result<()>;
    /// Sets (or with `None` removes) one configuration document of a bucket
    /// (`versioning`, `policy`, `cors`, `lifecycle`, ...); `NotFound`.
    fn set_bucket_config(&self, bucket: &str, kind: &str, value: Option<&str>) -> Result<()>;
    fn bucket_config(&self, bucket: &str, kind: &str) -> Result<Option<String>>;

    // ---- objects
    /// Records `object` as the newest version of its key, replacing a
    /// version with the same id (whose blobs are then deleted); returns it
    /// with its `seq`. `NotFound` when the bucket is missing,
    /// `PreconditionFailed` when `condition` does not hold.
    fn put_object(
        &self,
        bucket: &str,
        object: ObjectRecord,
        condition: WriteCondition,
    ) -> Result<ObjectRecord>;
    /// One version (`Some(id)`) or the latest (`None`, possibly a delete
    /// marker).
    fn object(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Option<ObjectRecord>>;
    /// Removes one version (and its blobs); returns it, `None` if absent.
    fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
    ) -> Result<Option<ObjectRecord>>;
    /// Replaces the metadata of one version (tags); `false` if absent.
    fn update_meta(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
        meta: &ObjectMeta,
    ) -> Result<bool>;
    /// Latest versions that are not delete markers, keys starting with
    /// `prefix` and after `after`, in key order, at most `limit`.
    fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<ObjectRecord>>;
    /// All versions (delete markers too) with keys starting with `prefix`,
    /// after `after`, in key order then newest first, at most `limit`.
    fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&VersionCursor>,
        limit: usize,
    ) -> Result<Vec<ObjectRecord>>;

    /// What a bucket holds: objects (latest versions that are not delete
    /// markers), all versions and markers, and the bytes of all versions
    /// and of the parts of unfinished uploads. `NotFound` when missing.
    fn usage(&self, bucket: &str) -> Result<BucketUsage>;

    // ---- multipart uploads
    /// `NotFound` when the bucket is missing.
    fn create_upload(&self, bucket: &str, upload: &UploadRecord) -> Result<()>;
    fn upload(&self, bucket: &str, upload_id: &str) -> Result<Option<UploadRecord>>;
    /// Uploads with keys starting with `prefix`, in key then upload id
    /// order (the service makes ids sort by initiation time), after
    /// `(key, upload id)`: with an empty id, after every upload of `key`.
    fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<UploadRecord>>;
    /// Records a part, replacing (and deleting the blob of) one with the
    /// same number; `NotFound` when the upload is gone.
    fn put_part(&self, bucket: &str, upload_id: &str, part: &PartRecord) -> Result<()>;
    /// The parts, by number.
    fn list_parts(&self, bucket: &str, upload_id: &str) -> Result<Vec<PartRecord>>;
    /// Ends the upload and records `object` (whose blobs are some of the
    /// upload's parts' blobs) as [`Backend::put_object`] does, in one
    /// transaction; blobs of parts left out are deleted. `NotFound` when the
    /// upload is gone; `Conflict` (nothing changed) when `object` names a
    /// blob that is not one of the upload's parts any more (a part was
    /// uploaded again meanwhile).
    fn complete_upload(
        &self,
        bucket: &str,
        upload_id: &str,
        object: ObjectRecord,
        condition: WriteCondition,
    ) -> Result<ObjectRecord>;
    /// Ends the upload and deletes its parts; `NotFound` when it is gone.
    fn abort_upload(&self, bucket: &str, upload_id: &str) -> Result<()>;
}
