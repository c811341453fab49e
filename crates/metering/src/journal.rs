//! The usage journal: where a record is durable before the store has it.
//!
//! ```text
//! <data-dir>/usage-journal/
//!   LOCK                                  flock'ed by the one process
//!                                         that meters
//!   00000000000000000041-<id>.usage       sealed: its records are a batch
//!                                         on its way to the store (batch
//!                                         id = <id>); deleted once stored
//!   00000000000000000042-<id>.usage       current: record() appends here
//! ```
//!
//! A segment is a file of [`SEGMENT_BYTES`] mapped shared into memory.
//! An append reserves its frame's bytes with one atomic add on the
//! segment's tail and copies the frame (`updraft_store::usage::
//! encode_frame`) there: no system call, no lock but the journal's shared
//! one. The bytes are in the kernel's page cache as soon as they are
//! copied, so killing the process (even with SIGKILL) loses nothing that
//! was appended; a power loss can take what the store has not committed.
//!
//! Sealing takes the journal's lock exclusively, so no append is running:
//! the sealed segment's bytes up to its tail are whole frames (and zeros
//! where an append found the segment full). A segment becomes one batch
//! whose id is in its name, and the store ignores a batch it has, so a
//! segment replayed twice, or replayed after its batch was stored but
//! before it was deleted, changes nothing. Frames are checksummed; a
//! reader skips zeros and damaged frames and keeps the rest.
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

use rustix::mm::{MapFlags, ProtFlags};
use updraft_store::{UsageBatch, UsageRecord};

/// The journal directory's name under the data directory.
pub const DIR: &str = "usage-journal";
const SUFFIX: &str = ".usage";
/// The earlier journal's segments: JSON lines, one record each.
const JSONL_SUFFIX: &str = ".jsonl";
/// How big a segment is (sparse until written): at 200 bytes a record,
/// 80,000 records; a flush interval's worth at any rate this node reaches.
pub const SEGMENT_BYTES: usize = 16 << 20;

/// A mapped segment file.
pub struct Segment {
    path: PathBuf,
    id: u64,
    map: NonNull<u8>,
    len: usize,
    /// Bytes reserved so far (may pass `len`: those appends failed).
    tail: AtomicUsize,
    _file: File,
}

// SAFETY: the mapping belongs to the segment alone. Concurrent `append`s
// (`&self`) write disjoint ranges, each reserved by one atomic add, and
// never read; the written bytes are read only through `&mut self`.
unsafe impl Send for Segment {}
// SAFETY: as for `Send`.
unsafe impl Sync for Segment {}

impl Segment {
    fn create(dir: &Path, seq: u64, len: usize) -> io::Result<Segment> {
        // The batch id: random, so ids never repeat across restarts, and
        // never 0.
        let id = uuid::Uuid::new_v4().as_u64_pair().0 | 1;
        let path = dir.join(format!("{seq:020}-{id:016x}{SUFFIX}"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        let mapped = file.set_len(len as u64).and_then(|()| {
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
        Ok(Segment {
            path,
            id,
            map,
            len,
            tail: AtomicUsize::new(0),
            _file: file,
        })
    }

    /// Copies `frame` into the segment; `false` when it does not fit.
    pub fn append(&self, frame: &[u8]) -> bool {
        let at = self.tail.fetch_add(frame.len(), Ordering::Relaxed);
        if at > self.len || self.len - at < frame.len() {
            return false;
        }
        // SAFETY: `at..at + frame.len()` lies inside the mapping and was
        // reserved for this call alone by the atomic add; no reference to
        // the mapped bytes exists while appends can run.
        unsafe {
            std::ptr::copy_nonoverlapping(frame.as_ptr(), self.map.as_ptr().add(at), frame.len());
        }
        true
    }

    /// The bytes appended (once no append can run: `&mut self`).
    pub fn written(&mut self) -> &[u8] {
        let end = self.tail.load(Ordering::Relaxed).min(self.len);
        // SAFETY: `..end` lies inside the mapping, and `&mut self` rules
        // out a concurrent `append`; appends that ran before happened
        // before the caller got `&mut` (through the journal's lock).
        unsafe { std::slice::from_raw_parts(self.map.as_ptr(), end) }
    }

    /// The id of the batch this segment becomes.
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Deletes the segment's file (its records are stored).
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

/// The directory lock, the segment being appended to and the segments
/// that filled up since the last seal.
pub struct Journal {
    dir: PathBuf,
    /// Held (flock) for as long as the journal is open.
    _lock: File,
    next_seq: AtomicU64,
    segment_bytes: usize,
    current: Segment,
    full: Vec<Segment>,
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
    /// previous process left, oldest first. Appending starts in a new
    /// segment; the old ones are the caller's to store and then
    /// [`remove`].
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
            let (batch, damaged) = match name.id {
                Some(id) => UsageBatch::from_frames(id, &bytes),
                None => decode_jsonl(&bytes),
            };
            leftovers.push(Leftover {
                path: path.clone(),
                batch,
                damaged,
            });
        }
        let seq = found.last().map_or(1, |(name, _)| name.seq + 1);
        let current = Segment::create(dir, seq, segment_bytes)?;
        let journal = Journal {
            dir: dir.to_path_buf(),
            _lock: lock,
            next_seq: AtomicU64::new(seq + 1),
            segment_bytes,
            current,
            full: Vec::new(),
        };
        Ok((journal, leftovers))
    }

    /// Appends one frame to the current segment; `false` when it is full
    /// (see [`Journal::replace_full`]).
    pub fn append(&self, frame: &[u8]) -> bool {
        self.current.append(frame)
    }

    /// The current segment's id, to name it in [`Journal::replace_full`].
    pub fn current_id(&self) -> u64 {
        self.current.id
    }

    /// A new, empty segment for [`Journal::seal`] or
    /// [`Journal::replace_full`]. File work: call it without holding the
    /// journal exclusively.
    pub fn spare(&self) -> io::Result<Segment> {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        Segment::create(&self.dir, seq, self.segment_bytes)
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
        self.full.is_empty() && self.current.tail.load(Ordering::Relaxed) == 0
    }
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
    /// The batch id; `None` for an earlier build's JSON-lines segment.
    id: Option<u64>,
}

impl SegmentName {
    fn parse(path: &Path) -> Option<SegmentName> {
        let name = path.file_name()?.to_str()?;
        let digits = |s: &str, n: usize, radix: u32| {
            (s.len() == n && s.bytes().all(|b| (b as char).is_digit(radix)))
                .then(|| u64::from_str_radix(s, radix).ok())
                .flatten()
        };
        if let Some(stem) = name.strip_suffix(SUFFIX) {
            let (seq, id) = stem.split_once('-')?;
            return Some(SegmentName {
                seq: digits(seq, 20, 10)?,
                id: Some(digits(id, 16, 16)?),
            });
        }
        let seq = digits(name.strip_suffix(JSONL_SUFFIX)?, 20, 10)?;
        Some(SegmentName { seq, id: None })
    }
}

/// An earlier build's segment (JSON lines) as a batch, and how many lines
/// did not decode. Its batch id is random: such a segment is stored once
/// and deleted.
fn decode_jsonl(bytes: &[u8]) -> (UsageBatch, usize) {
    let mut batch = UsageBatch::new(uuid::Uuid::new_v4().as_u64_pair().0 | 1);
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
        encode_frame(&(&record(id)).into(), &mut frame);
        frame
    }

    fn ids(batch: &UsageBatch) -> Vec<String> {
        batch.iter().map(|r| r.request_id.to_string()).collect()
    }

    #[test]
    fn segments_survive_reopening_as_batches_and_fill_up() {
        let dir = tempfile::tempdir().unwrap();
        let jdir = dir.path().join(DIR);
        // Room for two frames a segment.
        let size = frame("a").len() * 2 + 8;
        let (mut j, left) = Journal::open(&jdir, size).unwrap();
        assert!(left.is_empty());
        assert!(j.is_empty());
        assert!(j.append(&frame("a")));
        let spare = j.spare().unwrap();
        let mut sealed = j.seal(spare);
        assert_eq!(sealed.len(), 1);
        let first_id = sealed[0].id();
        assert_eq!(
            ids(&UsageBatch::from_frames(first_id, sealed[0].written()).0),
            ["a"]
        );
        drop(sealed);
        assert!(j.append(&frame("b")));
        assert!(j.append(&frame("c")));
        let full = j.current_id();
        assert!(!j.append(&frame("d")), "a full segment refuses");
        let spare = j.spare().unwrap();
        assert!(j.replace_full(full, spare).is_none());
        let spare = j.spare().unwrap();
        j.replace_full(full, spare)
            .expect("replaced once only")
            .remove();
        assert!(j.append(&frame("d")));
        drop(j);

        let (_j, left) = Journal::open(&jdir, size).unwrap();
        let batches: Vec<Vec<String>> = left.iter().map(|l| ids(&l.batch)).collect();
        assert_eq!(
            batches,
            [vec!["a"], vec!["b", "c"], vec!["d"]],
            "oldest first"
        );
        assert_eq!(left[0].batch.id, first_id, "the batch id is the segment's");
        assert_eq!(
            left[1].batch.iter().next().unwrap().to_owned(),
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
            name("/x/00000000000000000042-00000000000000ff.usage"),
            Some(SegmentName {
                seq: 42,
                id: Some(255)
            })
        );
        assert_eq!(
            name("/x/00000000000000000042.jsonl"),
            Some(SegmentName { seq: 42, id: None })
        );
        for other in [
            "/x/LOCK",
            "/x/42.jsonl",
            "/x/0000000000000000004x.jsonl",
            "/x/00000000000000000042.usage",
            "/x/00000000000000000042-ff.usage",
        ] {
            assert_eq!(name(other), None, "{other}");
        }
    }
}
