//! The usage journal: where a record is durable before the store has it.
//!
//! ```text
//! <data-dir>/usage-journal/
//!   LOCK                      flock'ed by the one process that meters
//!   00000000000000000003.usage   segment files, reused: each is current
//!   00000000000000000004.usage   (record() appends), sealed (its batch is
//!                                on its way to the store) or spare
//! segment   header: magic "UDJ2" | 0 | batch id (u64 LE) | zeros to 64
//!           frames (`updraft_store::usage::encode_frame`), each tagged
//!           with the low 32 bits of the batch id
//! ```
//!
//! A segment is a file of [`SEGMENT_BYTES`], allocated on disk up front (so
//! a full disk fails making a segment, not a write through the mapping),
//! mapped shared into memory.
//! An append reserves its frame's bytes with one atomic add on the
//! segment's tail and copies the frame there: no system call, no lock but
//! the journal's shared one. The bytes are in the kernel's page cache as
//! soon as they are copied, so killing the process (even with SIGKILL)
//! loses nothing that was appended; a power loss can take what the store
//! has not committed.
//!
//! Sealing takes the journal's lock exclusively, so no append is running:
//! the sealed segment's frames are whole. Its frames become one batch with
//! the segment's batch id, and the store ignores a batch it has, so a
//! segment replayed twice, or replayed after its batch was stored, changes
//! nothing. Once its batch is stored, a segment is reused: it gets a new
//! batch id in its header and appends start over at the front. Frames of
//! an earlier use that are still in the file carry another tag and are
//! skipped, so reusing needs no zeroing, and the mapped pages stay in
//! place (no page faults, no file created or deleted per batch). Frames
//! are checksummed; a reader skips zeros and damaged frames and keeps the
//! rest.
//!
//! Segments of the earlier JSON-lines journal (`<seq>.jsonl`) are still
//! read at open, so usage journaled by an older build is not lost.

#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use rustix::mm::{MapFlags, ProtFlags};
use updraft_store::usage::tagged_frames;
use updraft_store::{UsageBatch, UsageRecord};

/// The journal directory's name under the data directory.
pub const DIR: &str = "usage-journal";
const SUFFIX: &str = ".usage";
/// The earlier journal's segments: JSON lines, one record each.
const JSONL_SUFFIX: &str = ".jsonl";
/// How big a segment is: at 200 bytes a record, 40,000 records, more than
/// a flush interval's worth at any rate this node reaches (a full segment
/// is replaced at once).
pub const SEGMENT_BYTES: usize = 8 << 20;
/// The segment header: magic, 0, batch id, zeros.
const HEADER: usize = 64;
const MAGIC: [u8; 4] = *b"UDJ2";
/// Spare segments kept for reuse; more are deleted.
const SPARES: usize = 2;

/// A mapped segment file.
pub struct Segment {
    path: PathBuf,
    id: u64,
    map: NonNull<u8>,
    len: usize,
    /// Bytes reserved so far, from the start of the file (may pass `len`:
    /// those appends failed).
    tail: AtomicUsize,
    _file: File,
}

// SAFETY: the mapping belongs to the segment alone. Concurrent `append`s
// (`&self`) write disjoint ranges, each reserved by one atomic add, and
// never read; the header and the written bytes are read or written only
// through `&mut self`.
unsafe impl Send for Segment {}
// SAFETY: as for `Send`.
unsafe impl Sync for Segment {}

/// A new batch id: random, so ids do not repeat across reuses and
/// restarts, and never 0.
pub fn new_batch_id() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0 | 1
}

/// Gives `file` `len` bytes of allocated disk space (zeros), so that
/// writing through the mapping never needs a block the disk may not
/// have: a mapped write that cannot be backed is a SIGBUS, which would take
/// the node down. Where the filesystem cannot preallocate, the file is
/// only sized (sparse).
fn allocate(file: &File, len: usize) -> io::Result<()> {
    use rustix::fs::FallocateFlags;
    match rustix::fs::fallocate(file, FallocateFlags::empty(), 0, len as u64) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::OPNOTSUPP) => file.set_len(len as u64),
        Err(e) => Err(e.into()),
    }
}

impl Segment {
    fn create(path: PathBuf, len: usize) -> io::Result<Segment> {
        let len = len.max(HEADER + 64);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        let mapped = allocate(&file, len).and_then(|()| {
            // SAFETY: a new shared mapping of the whole file, which was
            // just created and sized; nothing else maps or truncates it
            // (the directory is locked by this process).
            let ptr = unsafe {
                rustix::mm::mmap(
                    std::ptr::null_mut(),
                    len,
                    ProtFlags::READ | ProtFlags::WRITE,
                    MapFlags::SHARED,
                    &file,
                    0,
                )
            }?;
            NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))
        });
        let map = match mapped {
            Ok(map) => map,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
        };
        let mut segment = Segment {
            path,
            id: 0,
            map,
            len,
            tail: AtomicUsize::new(HEADER),
            _file: file,
        };
        segment.reset();
        Ok(segment)
    }

    /// Starts the segment over under a new batch id: what was appended
    /// before is no longer part of it (its frames carry the old tag).
    fn reset(&mut self) {
        self.id = new_batch_id();
        let mut header = [0u8; 16];
        header[..4].copy_from_slice(&MAGIC);
        header[8..].copy_from_slice(&self.id.to_le_bytes());
        // SAFETY: the first 16 bytes of the mapping; `&mut self` rules out
        // a concurrent `append` (which never writes the header anyway).
        unsafe {
            std::ptr::copy_nonoverlapping(header.as_ptr(), self.map.as_ptr(), header.len());
        }
        self.tail.store(HEADER, Ordering::Relaxed);
    }

    fn tag(&self) -> u32 {
        self.id as u32
    }

    /// Copies `frame` (encoded with any tag) into the segment, tagged as
    /// this segment's; `false` when it does not fit.
    pub fn append(&self, frame: &[u8]) -> bool {
        let at = self.tail.fetch_add(frame.len(), Ordering::Relaxed);
        if at > self.len || self.len - at < frame.len() || frame.len() < 16 {
            return false;
        }
        // SAFETY: `at..at + frame.len()` lies inside the mapping and was
        // reserved for this call alone by the atomic add; no reference to
        // the mapped bytes exists while appends can run.
        unsafe {
            let to = self.map.as_ptr().add(at);
            std::ptr::copy_nonoverlapping(frame.as_ptr(), to, frame.len());
            std::ptr::copy_nonoverlapping(self.tag().to_le_bytes().as_ptr(), to.add(12), 4);
        }
        true
    }

    /// The frames appended since the last reset (once no append can run:
    /// `&mut self`) and the id of their batch.
    pub fn written(&mut self) -> (u64, &[u8]) {
        let end = self.tail.load(Ordering::Relaxed).min(self.len);
        // SAFETY: `..end` lies inside the mapping, and `&mut self` rules
        // out a concurrent `append`; appends that ran before happened
        // before the caller got `&mut` (through the journal's lock).
        let bytes = unsafe { std::slice::from_raw_parts(self.map.as_ptr(), end) };
        (self.id, &bytes[HEADER..])
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether nothing was appended since the last reset.
    pub fn is_empty(&self) -> bool {
        self.tail.load(Ordering::Relaxed) == HEADER
    }

    /// The segment's batch, and how many damaged frames were left out.
    pub fn batch(&mut self) -> (UsageBatch, usize) {
        let (id, bytes) = self.written();
        UsageBatch::from_frames(id, tagged_frames(bytes, id as u32))
    }

    /// Deletes the segment's file.
    pub fn remove(self) {
        let path = self.path.clone();
        drop(self);
        remove(&path);
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `create`, unmapped once; no
        // reference into it outlives `&mut self`.
        if let Err(e) = unsafe { rustix::mm::munmap(self.map.as_ptr().cast(), self.len) } {
            tracing::warn!(path = %self.path.display(), error = %e, "could not unmap a usage journal segment");
        }
    }
}

/// The directory lock, the segment being appended to, the segments that
/// filled up since the last seal, and spare segments.
pub struct Journal {
    dir: PathBuf,
    /// Held (flock) for as long as the journal is open.
    _lock: File,
    next_file: AtomicU64,
    segment_bytes: usize,
    current: Segment,
    full: Vec<Segment>,
    spares: Mutex<Vec<Segment>>,
}

/// A segment a previous process left: its batch, ready to store.
pub struct Leftover {
    pub path: PathBuf,
    pub batch: UsageBatch,
    /// Frames (or lines) that did not decode: torn or damaged.
    pub damaged: usize,
}

impl Journal {
    /// Locks `dir` (creating it, mode 0700) and reads the segments a
    /// previous process left. Appending starts in a new segment; the old
    /// ones are the caller's to store and then [`remove`].
    pub fn open(dir: &Path, segment_bytes: usize) -> io::Result<(Journal, Vec<Leftover>)> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(dir.join("LOCK"))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |e| {
                io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!(
                        "{} is in use by another process ({e})",
                        dir.join("LOCK").display()
                    ),
                )
            },
        )?;

        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if let Some(name) = SegmentName::parse(&path) {
                found.push((name, path));
            }
        }
        found.sort_by_key(|(name, _)| name.seq);
        let mut leftovers = Vec::new();
        for (name, path) in &found {
            let bytes = std::fs::read(path)?;
            let read = if name.jsonl {
                Some(decode_jsonl(&bytes))
            } else {
                decode_segment(&bytes)
            };
            match read {
                Some((batch, damaged)) => leftovers.push(Leftover {
                    path: path.clone(),
                    batch,
                    damaged,
                }),
                None => tracing::warn!(path = %path.display(),
                    "not a usage journal segment (its header is damaged); left in place"),
            }
        }
        let next = found.last().map_or(1, |(name, _)| name.seq + 1);
        let next_file = AtomicU64::new(next);
        let current = Segment::create(next_path(dir, &next_file), segment_bytes)?;
        let journal = Journal {
            dir: dir.to_path_buf(),
            _lock: lock,
            next_file,
            segment_bytes,
            current,
            full: Vec::new(),
            spares: Mutex::new(Vec::new()),
        };
        Ok((journal, leftovers))
    }

    /// Appends one frame to the current segment; `false` when it is full
    /// (see [`Journal::replace_full`]).
    pub fn append(&self, frame: &[u8]) -> bool {
        self.current.append(frame)
    }

    /// The current segment's batch id, to name it in
    /// [`Journal::replace_full`].
    pub fn current_id(&self) -> u64 {
        self.current.id
    }

    /// An empty segment for [`Journal::seal`] or [`Journal::replace_full`]:
    /// a spare one, or a new file. Call it without holding the journal
    /// exclusively.
    pub fn spare(&self) -> io::Result<Segment> {
        if let Some(spare) = self
            .spares
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
        {
            return Ok(spare);
        }
        Segment::create(next_path(&self.dir, &self.next_file), self.segment_bytes)
    }

    /// Takes back a segment whose batch is stored (or that was not
    /// needed): it starts over under a new batch id and waits as a spare,
    /// or is deleted when there are spares enough.
    pub fn reuse(&self, mut segment: Segment) {
        let mut spares = self.spares.lock().unwrap_or_else(PoisonError::into_inner);
        if spares.len() < SPARES {
            segment.reset();
            spares.push(segment);
        } else {
            drop(spares);
            segment.remove();
        }
    }

    /// After an append found segment `full_id` full: if it is still the
    /// current one, `spare` takes its place and it waits for the next
    /// seal. Returns `spare` if it was not needed.
    pub fn replace_full(&mut self, full_id: u64, spare: Segment) -> Option<Segment> {
        if self.current.id != full_id {
            return Some(spare);
        }
        let full = std::mem::replace(&mut self.current, spare);
        self.full.push(full);
        None
    }

    /// Everything appended so far, oldest segment first; `spare` becomes
    /// the current segment.
    pub fn seal(&mut self, spare: Segment) -> Vec<Segment> {
        let mut sealed = std::mem::take(&mut self.full);
        sealed.push(std::mem::replace(&mut self.current, spare));
        sealed
    }

    /// Whether anything was appended since the last seal.
    pub fn is_empty(&self) -> bool {
        self.full.is_empty() && self.current.is_empty()
    }
}

fn next_path(dir: &Path, next: &AtomicU64) -> PathBuf {
    let n = next.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("{n:020}{SUFFIX}"))
}

/// A segment file's batch (the frames tagged with its header's id), or
/// `None` if it has no valid header.
fn decode_segment(bytes: &[u8]) -> Option<(UsageBatch, usize)> {
    if bytes.len() < HEADER || bytes[..4] != MAGIC {
        return None;
    }
    let id = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
    Some(UsageBatch::from_frames(
        id,
        tagged_frames(&bytes[HEADER..], id as u32),
    ))
}

/// Deletes a segment file whose records the store has.
pub fn remove(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != io::ErrorKind::NotFound {
            // Harmless: storing it again changes nothing.
            tracing::warn!(path = %path.display(), error = %e, "could not delete a usage journal segment");
        }
    }
}

/// What a segment's file name says.
#[derive(Debug, PartialEq, Eq)]
struct SegmentName {
    seq: u64,
    /// An earlier build's JSON-lines segment.
    jsonl: bool,
}

impl SegmentName {
    fn parse(path: &Path) -> Option<SegmentName> {
        let name = path.file_name()?.to_str()?;
        let (digits, jsonl) = match name.strip_suffix(SUFFIX) {
            Some(digits) => (digits, false),
            None => (name.strip_suffix(JSONL_SUFFIX)?, true),
        };
        if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(SegmentName {
            seq: digits.parse().ok()?,
            jsonl,
        })
    }
}

/// An earlier build's segment (JSON lines) as a batch, and how many lines
/// did not decode. Its batch id is random: such a segment is stored once
/// and deleted.
fn decode_jsonl(bytes: &[u8]) -> (UsageBatch, usize) {
    let mut batch = UsageBatch::new(new_batch_id());
    let mut damaged = 0;
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        match serde_json::from_slice::<UsageRecord>(line) {
            Ok(r) => batch.push(&(&r).into()),
            Err(_) => damaged += 1,
        }
    }
    (batch, damaged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use updraft_store::usage::encode_frame;

    fn record(id: &str) -> UsageRecord {
        UsageRecord {
            function: "f".into(),
            version: "$LATEST".into(),
            request_id: id.into(),
            start_ms: 1,
            duration_us: 2,
            billed_ms: 1,
            memory_mb: 128,
            init_duration_us: Some(3),
            outcome: "success".into(),
            trigger: "invoke".into(),
        }
    }

    fn frame(id: &str) -> Vec<u8> {
        let mut frame = Vec::new();
        encode_frame(&(&record(id)).into(), 0, &mut frame);
        frame
    }

    fn ids(batch: &UsageBatch) -> Vec<String> {
        batch.iter().map(|r| r.request_id.to_string()).collect()
    }

    #[test]
    fn segments_survive_reopening_as_batches_fill_up_and_are_reused() {
        let dir = tempfile::tempdir().unwrap();
        let jdir = dir.path().join(DIR);
        // Room for two frames a segment.
        let size = HEADER + frame("a").len() * 2 + 8;
        let (mut j, left) = Journal::open(&jdir, size).unwrap();
        assert!(left.is_empty());
        assert!(j.is_empty());
        assert!(j.append(&frame("a")));
        let spare = j.spare().unwrap();
        let mut sealed = j.seal(spare);
        assert_eq!(sealed.len(), 1);
        let (batch, damaged) = sealed[0].batch();
        assert_eq!((ids(&batch), damaged), (vec!["a".to_string()], 0));
        let first_id = batch.id;
        // Stored: the segment is reused, its old frame no longer counts.
        j.reuse(sealed.pop().unwrap());

        assert!(j.append(&frame("b")));
        assert!(j.append(&frame("c")));
        let full = j.current_id();
        assert!(!j.append(&frame("d")), "a full segment refuses");
        let spare = j.spare().unwrap();
        assert!(j.replace_full(full, spare).is_none());
        let spare = j.spare().unwrap();
        let unused = j.replace_full(full, spare).expect("replaced once only");
        j.reuse(unused);
        assert!(j.append(&frame("d")));
        drop(j);

        let (_j, left) = Journal::open(&jdir, size).unwrap();
        let mut batches: Vec<Vec<String>> = left.iter().map(|l| ids(&l.batch)).collect();
        batches.sort();
        assert_eq!(
            batches,
            [vec![], vec!["b", "c"], vec!["d"]],
            "the reused segment's old frame is not replayed"
        );
        assert!(left.iter().all(|l| l.batch.id != first_id));
        let bc = left.iter().find(|l| l.batch.records == 2).unwrap();
        assert_eq!(
            bc.batch.iter().next().unwrap().to_owned(),
            record("b"),
            "every field survives"
        );
        assert!(left.iter().all(|l| l.damaged == 0));
    }

    #[test]
    fn jsonl_segments_of_an_earlier_build_are_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("j")).unwrap();
        let mut text = serde_json::to_vec(&record("a")).unwrap();
        text.extend_from_slice(b"\n{\"function\":\"f\",\"vers");
        std::fs::write(dir.path().join("j/00000000000000000007.jsonl"), text).unwrap();
        let (_j, left) = Journal::open(&dir.path().join("j"), 4096).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(ids(&left[0].batch), ["a"]);
        assert_eq!(left[0].damaged, 1, "the torn line");
    }

    #[test]
    fn a_segment_without_its_header_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("j")).unwrap();
        let path = dir.path().join("j/00000000000000000007.usage");
        std::fs::write(&path, [0u8; 128]).unwrap();
        let (_j, left) = Journal::open(&dir.path().join("j"), 4096).unwrap();
        assert!(left.is_empty());
        assert!(path.exists());
    }

    #[test]
    fn the_directory_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let (_j, _) = Journal::open(dir.path(), 4096).unwrap();
        let second = Journal::open(dir.path(), 4096).err().expect("locked");
        assert_eq!(second.kind(), io::ErrorKind::WouldBlock);
        assert!(second.to_string().contains("in use"), "{second}");
    }

    #[test]
    fn only_segment_names_are_segments() {
        let name = |s: &str| SegmentName::parse(Path::new(s));
        assert_eq!(
            name("/x/00000000000000000042.usage"),
            Some(SegmentName {
                seq: 42,
                jsonl: false
            })
        );
        assert_eq!(
            name("/x/00000000000000000042.jsonl"),
            Some(SegmentName {
                seq: 42,
                jsonl: true
            })
        );
        for other in [
            "/x/LOCK",
            "/x/42.jsonl",
            "/x/0000000000000000004x.jsonl",
            "/x/00000000000000000042-ff.usage",
        ] {
            assert_eq!(name(other), None, "{other}");
        }
    }
}
