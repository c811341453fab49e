//! The usage journal: where a record is durable before the store has it.
//!
//! ```text
//! <data-dir>/usage-journal/
//!   LOCK                          flock'ed by the one process that meters
//!   00000000000000000041.jsonl    sealed: its records are in a batch on
//!                                 its way to the store; deleted once
//!                                 committed
//!   00000000000000000042.jsonl    current: record() appends here
//! ```
//!
//! A segment is JSON lines, one [`UsageRecord`] each, written with one
//! `write(2)` on an `O_APPEND` file: once `record()` returns, the line is
//! in the kernel's page cache and survives the process being killed (not
//! a power loss; the store's commit, a flush interval later, is what
//! survives that). Appends hold a shared lock and sealing a segment takes it
//! exclusively, so a sealed segment holds exactly the records of one
//! batch. Whatever segments a crash leaves are replayed
//! into the store at the next open: the store ignores records it has
//! (same request id and start time), so a segment replayed twice, or replayed after its batch was committed
//! but before it was deleted, changes nothing.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use updraft_store::UsageRecord;

/// The journal directory's name under the data directory.
pub const DIR: &str = "usage-journal";
const SUFFIX: &str = ".jsonl";

/// The directory lock and the segment being appended to.
pub struct Journal {
    dir: PathBuf,
    /// Held (flock) for as long as the journal is open.
    _lock: File,
    current: File,
    seq: u64,
}

/// What [`Journal::open`] found left over.
pub struct Leftover {
    /// Oldest first; each segment's records in the order written.
    pub segments: Vec<(PathBuf, Vec<UsageRecord>)>,
    /// Lines that did not decode (a torn last line, or damage).
    pub skipped: usize,
}

impl Journal {
    /// Locks `dir` (creating it, mode 0700) and reads the segments a
    /// previous process left. Appending starts in a new segment; the old
    /// ones are the caller's to replay and then [`remove`].
    pub fn open(dir: &Path) -> io::Result<(Journal, Leftover)> {
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
            if let Some(seq) = segment_seq(&path) {
                found.push((seq, path));
            }
        }
        found.sort();
        let mut leftover = Leftover {
            segments: Vec::new(),
            skipped: 0,
        };
        for (_, path) in &found {
            let text = std::fs::read(path)?;
            let (records, skipped) = decode(&text);
            leftover.skipped += skipped;
            leftover.segments.push((path.clone(), records));
        }
        let seq = found.last().map_or(1, |(seq, _)| seq + 1);
        let current = create_segment(dir, seq)?;
        Ok((
            Journal {
                dir: dir.to_path_buf(),
                _lock: lock,
                current,
                seq,
            },
            leftover,
        ))
    }

    /// Appends one encoded record ([`encode`]) with one `write(2)`. Takes
    /// `&self`: concurrent appends to the `O_APPEND` file do not
    /// interleave (the kernel writes each under the inode's lock), so
    /// callers need only a shared lock against [`Journal::rotate`].
    pub fn append(&self, line: &[u8]) -> io::Result<()> {
        (&self.current).write_all(line)
    }

    /// Seals the current segment and starts the next; returns the sealed
    /// one's path. On failure the current segment stays current.
    pub fn rotate(&mut self) -> io::Result<PathBuf> {
        let next = create_segment(&self.dir, self.seq + 1)?;
        let sealed = segment_path(&self.dir, self.seq);
        self.current = next;
        self.seq += 1;
        Ok(sealed)
    }

    /// The path of the segment being appended to.
    pub fn current_path(&self) -> PathBuf {
        segment_path(&self.dir, self.seq)
    }
}

/// Deletes a segment whose records the store has committed.
pub fn remove(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != io::ErrorKind::NotFound {
            // Harmless: replaying it again changes nothing.
            tracing::warn!(path = %path.display(), error = %e, "could not delete a usage journal segment");
        }
    }
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}{SUFFIX}"))
}

fn segment_seq(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn create_segment(dir: &Path, seq: u64) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(segment_path(dir, seq))
}

/// One record as its journal line (JSON and a newline), into `line`.
pub fn encode(record: &UsageRecord, line: &mut Vec<u8>) -> io::Result<()> {
    line.clear();
    serde_json::to_writer(&mut *line, record)?;
    line.push(b'\n');
    Ok(())
}

/// The records in a segment's bytes, and how many lines did not decode.
/// A kill cannot tear a line (each is one `write(2)`), but a full disk or
/// a power loss can; such lines are skipped.
pub fn decode(bytes: &[u8]) -> (Vec<UsageRecord>, usize) {
    let mut records = Vec::new();
    let mut skipped = 0;
    for line in bytes.split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice(line) {
            Ok(r) => records.push(r),
            Err(_) => skipped += 1,
        }
    }
    (records, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn line(id: &str) -> Vec<u8> {
        let mut line = Vec::new();
        encode(&record(id), &mut line).unwrap();
        line
    }

    #[test]
    fn segments_round_trip_and_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let jdir = dir.path().join(DIR);
        let (mut j, left) = Journal::open(&jdir).unwrap();
        assert!(left.segments.is_empty());
        j.append(&line("a")).unwrap();
        let sealed = j.rotate().unwrap();
        j.append(&line("b")).unwrap();
        j.append(&line("c")).unwrap();
        assert_ne!(sealed, j.current_path());
        drop(j);

        let (j, left) = Journal::open(&jdir).unwrap();
        let ids: Vec<Vec<&str>> = left
            .segments
            .iter()
            .map(|(_, rs)| rs.iter().map(|r| r.request_id.as_str()).collect())
            .collect();
        assert_eq!(ids, [vec!["a"], vec!["b", "c"]], "oldest segment first");
        assert_eq!(left.segments[0].1[0], record("a"), "every field survives");
        assert!(
            segment_seq(&j.current_path()).unwrap() > 2,
            "appending resumes in a new segment"
        );
    }

    #[test]
    fn the_directory_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let (_j, _) = Journal::open(dir.path()).unwrap();
        let second = Journal::open(dir.path()).err().expect("locked");
        assert_eq!(second.kind(), io::ErrorKind::WouldBlock);
        assert!(second.to_string().contains("in use"), "{second}");
    }

    #[test]
    fn damaged_lines_are_skipped() {
        let mut bytes = serde_json::to_vec(&record("a")).unwrap();
        bytes.extend_from_slice(b"\nnot json\n\n");
        bytes.extend_from_slice(&serde_json::to_vec(&record("b")).unwrap());
        bytes.extend_from_slice(b"\n{\"function\":\"f\",\"vers");
        let (records, skipped) = decode(&bytes);
        assert_eq!(records, [record("a"), record("b")]);
        assert_eq!(skipped, 2);
    }

    #[test]
    fn only_segment_names_are_segments() {
        assert_eq!(
            segment_seq(Path::new("/x/00000000000000000042.jsonl")),
            Some(42)
        );
        for other in ["/x/LOCK", "/x/42.jsonl", "/x/0000000000000000004x.jsonl"] {
            assert_eq!(segment_seq(Path::new(other)), None, "{other}");
        }
    }
}
