//! Moving object bytes: request bodies streamed into new blobs (hashed on
//! the way: MD5 for the ETag, and an `x-amz-checksum-*` algorithm when the
//! request names one), blobs streamed out as response bodies (with a byte
//! range), and blob-to-blob copies. Each runs on the blocking pool in
//! 256 KiB pieces with a small channel between it and the async side, so
//! memory stays flat whatever the object's size.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use axum::body::Body;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use md5::{Digest, Md5};
use tokio::sync::mpsc;

use crate::backend::{Backend, BackendError, BlobRef, BlobWriter};
use crate::error::ApiError;
use crate::service::ctx::body_error;
use crate::BodyError;

const CHUNK: usize = 256 * 1024;

/// A checksum algorithm S3 accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Crc32,
    Crc32c,
    Sha1,
    Sha256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 4] = [
        Algorithm::Crc32,
        Algorithm::Crc32c,
        Algorithm::Sha1,
        Algorithm::Sha256,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "CRC32",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
        }
    }

    pub fn header(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "x-amz-checksum-crc32",
            Algorithm::Crc32c => "x-amz-checksum-crc32c",
            Algorithm::Sha1 => "x-amz-checksum-sha1",
            Algorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    pub fn parse(name: &str) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    fn digest_len(self) -> usize {
        match self {
            Algorithm::Crc32 | Algorithm::Crc32c => 4,
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
        }
    }

    /// Whether `value` is a well-formed base64 digest of this algorithm.
    pub fn well_formed(self, value: &str) -> bool {
        B64.decode(value)
            .is_ok_and(|d| d.len() == self.digest_len())
    }
}

/// The base64 digest of `bytes` with `algorithm`.
pub(crate) fn digest_b64(algorithm: Algorithm, bytes: &[u8]) -> String {
    let mut h = Hasher::new(algorithm);
    h.update(bytes);
    h.finish()
}

enum Hasher {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Hasher {
    fn new(a: Algorithm) -> Self {
        match a {
            Algorithm::Crc32 => Hasher::Crc32(crc32fast::Hasher::new()),
            Algorithm::Crc32c => Hasher::Crc32c(0),
            Algorithm::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Crc32(h) => h.update(bytes),
            Hasher::Crc32c(c) => *c = crc32c::crc32c_append(*c, bytes),
            Hasher::Sha1(h) => h.update(bytes),
            Hasher::Sha256(h) => h.update(bytes),
        }
    }

    fn finish(self) -> String {
        let digest = match self {
            Hasher::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            Hasher::Crc32c(c) => c.to_be_bytes().to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
        };
        B64.encode(digest)
    }
}

/// A finished blob and its digests. Dropped without [`Staged::keep`], the
/// blob is removed (the write was refused or abandoned).
pub(crate) struct Staged {
    pub blob: BlobRef,
    pub md5: [u8; 16],
    /// The checksum computed with the requested algorithm (base64).
    pub checksum: Option<(Algorithm, String)>,
    backend: Option<Arc<dyn Backend>>,
}

impl Staged {
    pub fn md5_hex(&self) -> String {
        hex::encode(self.md5)
    }

    /// The blob is now named by a record: stop owning it.
    pub fn keep(mut self) -> BlobRef {
        self.backend = None;
        self.blob.clone()
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let Some(backend) = self.backend.take() else {
            return;
        };
        let blob = self.blob.clone();
        let discard = move || {
            if let Err(e) = backend.discard_blob(&blob) {
                tracing::warn!(error = ?e, "could not remove an unused blob");
            }
        };
        // Unlinking is disk work: off the async workers when on one.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => drop(handle.spawn_blocking(discard)),
            Err(_) => discard(),
        }
    }
}

struct Digests {
    md5: Md5,
    extra: Option<(Algorithm, Hasher)>,
}

impl Digests {
    fn new(algorithm: Option<Algorithm>) -> Self {
        Digests {
            md5: Md5::new(),
            extra: algorithm.map(|a| (a, Hasher::new(a))),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        self.md5.update(bytes);
        if let Some((_, h)) = &mut self.extra {
            h.update(bytes);
        }
    }

    fn finish(self, blob: BlobRef, backend: Arc<dyn Backend>) -> Staged {
        Staged {
            blob,
            md5: self.md5.finalize().into(),
            checksum: self.extra.map(|(a, h)| (a, h.finish())),
            backend: Some(backend),
        }
    }
}

enum Piece {
    Data(Bytes),
    End,
}

/// Streams `body` into a new blob; fails (keeping nothing) when the body
/// does, and when it is longer than `limit`.
pub(crate) async fn write_body(
    backend: Arc<dyn Backend>,
    mut body: BoxStream<'static, Result<Bytes, BodyError>>,
    algorithm: Option<Algorithm>,
    limit: u64,
) -> Result<Staged, ApiError> {
    let (tx, mut rx) = mpsc::channel::<Piece>(4);
    let writer = tokio::task::spawn_blocking(move || -> Result<Option<Staged>, ApiError> {
        let mut blob: Box<dyn BlobWriter> = backend.create_blob()?;
        let mut digests = Digests::new(algorithm);
        while let Some(piece) = rx.blocking_recv() {
            match piece {
                Piece::Data(bytes) => {
                    digests.update(&bytes);
                    blob.write(&bytes)?;
                }
                Piece::End => {
                    let blob = blob.finish()?;
                    return Ok(Some(digests.finish(blob, backend)));
                }
            }
        }
        // The sender went away without End: the body failed or the request
        // was dropped. Dropping `blob` removes the partial file.
        Ok(None)
    });
    let mut total = 0u64;
    let mut failure = None;
    while let Some(item) = body.next().await {
        match item {
            Ok(bytes) => {
                total += bytes.len() as u64;
                if total > limit {
                    failure = Some(ApiError::new(
                        http::StatusCode::BAD_REQUEST,
                        "EntityTooLarge",
                        "Your proposed upload exceeds the maximum allowed size",
                    ));
                    break;
                }
                if tx.send(Piece::Data(bytes)).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                failure = Some(body_error(e));
                break;
            }
        }
    }
    if failure.is_none() {
        // A send error means the writer stopped; its result says why.
        let _ = tx.send(Piece::End).await;
    }
    drop(tx);
    let staged = writer.await.map_err(|e| {
        tracing::error!(error = %e, "the blob writer failed");
        ApiError::internal()
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    staged?.ok_or_else(ApiError::internal)
}

/// Copies `length` bytes starting at `offset` of the object made of
/// `blobs` into a new blob (CopyObject, UploadPartCopy).
pub(crate) async fn copy_range(
    backend: Arc<dyn Backend>,
    blobs: Vec<BlobRef>,
    offset: u64,
    length: u64,
    algorithm: Option<Algorithm>,
) -> Result<Staged, ApiError> {
    tokio::task::spawn_blocking(move || -> Result<Staged, ApiError> {
        let mut out = backend.create_blob()?;
        let mut digests = Digests::new(algorithm);
        let mut reader =
            RangeReader::open(backend.clone(), &blobs, offset, length)?.ok_or_else(|| {
                ApiError::invalid_request("The copy source changed while it was read; retry")
            })?;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = reader.read_some(&mut buf)?;
            if n == 0 {
                break;
            }
            digests.update(&buf[..n]);
            out.write(&buf[..n])?;
        }
        let blob = out.finish()?;
        Ok(digests.finish(blob, backend))
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "a copy task failed");
        ApiError::internal()
    })?
}

/// At most this many blobs are opened when a read starts; a read over more
/// (a range across many parts) opens the rest as it reaches them.
const OPEN_AHEAD: usize = 128;

/// Reads a byte range across an object's blobs. The blobs the range covers
/// are opened when the reader is made (up to [`OPEN_AHEAD`]), so a read that
/// has started keeps its bytes even if the object is replaced meanwhile.
pub(crate) struct RangeReader {
    backend: Arc<dyn Backend>,
    /// The blobs the range covers, in order, each with its reader once
    /// opened.
    pending: std::collections::VecDeque<(BlobRef, Option<Box<dyn crate::backend::BlobReader>>)>,
    current: Option<Box<dyn crate::backend::BlobReader>>,
    remaining: u64,
}

impl RangeReader {
    /// Opens the blobs covering `length` bytes from `offset` (blocking);
    /// `None` when one of them is gone (the version was replaced or
    /// deleted since it was looked up).
    pub(crate) fn open(
        backend: Arc<dyn Backend>,
        blobs: &[BlobRef],
        mut offset: u64,
        length: u64,
    ) -> Result<Option<Self>, ApiError> {
        let mut pending = std::collections::VecDeque::new();
        let mut covered = 0u64;
        for blob in blobs {
            if covered >= length {
                break;
            }
            if offset >= blob.size {
                offset -= blob.size;
                continue;
            }
            let take = (blob.size - offset).min(length - covered);
            covered += take;
            let reader = if pending.len() < OPEN_AHEAD {
                let mut r = match backend.read_blob(blob) {
                    Ok(r) => r,
                    Err(BackendError::NotFound(_)) => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                // Only the first blob the range covers starts part-way.
                if offset > 0 {
                    r.seek(SeekFrom::Start(offset))
                        .map_err(|e| io_failure("seeking in a blob", e))?;
                }
                Some(r)
            } else {
                None
            };
            offset = 0;
            pending.push_back((blob.clone(), reader));
        }
        if covered < length {
            tracing::error!("an object's blobs are shorter than its size");
            return Err(ApiError::internal());
        }
        Ok(Some(RangeReader {
            backend,
            pending,
            current: None,
            remaining: length,
        }))
    }

    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, ApiError> {
        while self.remaining > 0 {
            if self.current.is_none() {
                let Some((blob, reader)) = self.pending.pop_front() else {
                    tracing::error!("an object's blobs are shorter than its size");
                    return Err(ApiError::internal());
                };
                let reader = match reader {
                    Some(r) => r,
                    None => self.backend.read_blob(&blob)?,
                };
                self.current = Some(reader);
            }
            let Some(reader) = self.current.as_mut() else {
                continue;
            };
            let want = buf
                .len()
                .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
            let n = reader
                .read(&mut buf[..want])
                .map_err(|e| io_failure("reading a blob", e))?;
            if n == 0 {
                self.current = None;
                continue;
            }
            self.remaining -= n as u64;
            return Ok(n);
        }
        Ok(0)
    }
}

fn io_failure(what: &str, e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "{what} failed");
    ApiError::internal()
}

/// Opens `length` bytes from `offset` of an object for reading, off the
/// async workers; `None` when the version went away meanwhile.
pub(crate) async fn open_range(
    backend: Arc<dyn Backend>,
    blobs: Vec<BlobRef>,
    offset: u64,
    length: u64,
) -> Result<Option<RangeReader>, ApiError> {
    tokio::task::spawn_blocking(move || RangeReader::open(backend, &blobs, offset, length))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "an open task failed");
            ApiError::internal()
        })?
}

/// A response body streaming what `reader` reads.
pub(crate) fn read_body(mut reader: RangeReader) -> Body {
    if reader.remaining == 0 {
        return Body::empty();
    }
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    tokio::task::spawn_blocking(move || loop {
        let mut buf = vec![0u8; CHUNK];
        match reader.read_some(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                buf.truncate(n);
                if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                    return; // the client went away
                }
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(std::io::Error::other(e.message)));
                return;
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Body::from_stream(stream)
}

/// The base64 MD5 of `Content-MD5`, checked for form (`InvalidDigest`).
pub(crate) fn content_md5(value: Option<&str>) -> Result<Option<[u8; 16]>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    let invalid = || {
        ApiError::new(
            http::StatusCode::BAD_REQUEST,
            "InvalidDigest",
            "The Content-MD5 you specified was invalid.",
        )
    };
    let bytes = B64.decode(value.trim()).map_err(|_| invalid())?;
    let digest: [u8; 16] = bytes.try_into().map_err(|_| invalid())?;
    Ok(Some(digest))
}

pub(crate) fn bad_digest() -> ApiError {
    ApiError::new(
        http::StatusCode::BAD_REQUEST,
        "BadDigest",
        "The Content-MD5 you specified did not match what we received.",
    )
}

pub(crate) fn md5_raw(bytes: &[u8]) -> [u8; 16] {
    Md5::digest(bytes).into()
}
