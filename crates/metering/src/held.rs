//! Usage records the journal could not take (its disk is full, or a
//! segment cannot be made for another reason), held in memory until the
//! journal or the store takes them; and the rate limit of the log lines
//! about them.
//!
//! What is held is bounded by [`MeteringConfig::max_buffered`]; the
//! meter counts and drops what does not fit (see there for which records
//! and why).
//!
//! [`MeteringConfig::max_buffered`]: crate::MeteringConfig::max_buffered

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How many records are held in memory at most by default, per meter
/// (one per account), while the journal cannot take them.
///
/// A record is held as its frame, about 104 bytes for a typical
/// invocation and 176 with the longest names an account can have (see
/// the `sizes` test), plus 8 bytes to find it again: about 11 MB for
/// 100,000 records, under 19 MB with the longest names (twice that at
/// most while the buffer grows). That is less than the smallest execution
/// environment's memory, and about the records of two 8 MiB journal
/// segments. At 1,000 invocations a second it bridges a full disk for 100
/// seconds, time for an operator or a log rotation to free space, without
/// losing a record; beyond that the node keeps serving invocations and
/// counts the usage it cannot keep, rather than growing until it runs out
/// of memory.
pub const DEFAULT_MAX_BUFFERED: usize = 100_000;

/// How often at most a warning about the same condition (records dropped,
/// the journal failing, the store failing) is logged; each carries the
/// counts since the previous one.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// Encoded frames back to back, and where each one ends.
#[derive(Debug, Default)]
pub struct Held {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Held {
    pub fn push(&mut self, frame: &[u8]) {
        self.bytes.extend_from_slice(frame);
        self.ends.push(self.bytes.len());
    }

    /// How many frames (records) are held.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The frames back to back, oldest first.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Each frame, oldest first.
    pub fn frames(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let frame = &self.bytes[start..end];
            start = end;
            frame
        })
    }

    /// What is left after the first `n` frames.
    pub fn without_first(mut self, n: usize) -> Held {
        let n = n.min(self.len());
        let cut = n.checked_sub(1).map_or(0, |last| self.ends[last]);
        self.bytes.drain(..cut);
        self.ends.drain(..n);
        for end in &mut self.ends {
            *end -= cut;
        }
        self
    }

    /// Appends `later`'s frames after these.
    pub fn append(&mut self, later: Held) {
        let base = self.bytes.len();
        self.bytes.extend_from_slice(&later.bytes);
        self.ends.extend(later.ends.iter().map(|end| end + base));
    }
}

/// A rate limit: [`Every::ready`] is true at most once per period (the
/// first time at once).
#[derive(Debug)]
pub struct Every {
    period_ms: u64,
    start: Instant,
    /// When it is next ready, in ms since `start`.
    next_ms: AtomicU64,
}

impl Every {
    pub fn new(period: Duration) -> Every {
        Every {
            period_ms: u64::try_from(period.as_millis()).unwrap_or(u64::MAX),
            start: Instant::now(),
            next_ms: AtomicU64::new(0),
        }
    }

    /// Whether the period since it was last ready has passed; if so, the
    /// next period starts now.
    pub fn ready(&self) -> bool {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.ready_at(now)
    }

    fn ready_at(&self, now_ms: u64) -> bool {
        let next = self.next_ms.load(Ordering::Relaxed);
        now_ms >= next
            && self
                .next_ms
                .compare_exchange(
                    next,
                    now_ms.saturating_add(self.period_ms),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(frames: &[&[u8]]) -> Held {
        let mut h = Held::default();
        frames.iter().for_each(|f| h.push(f));
        h
    }

    fn frames(h: &Held) -> Vec<Vec<u8>> {
        h.frames().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn held_frames_split_and_join_whole() {
        let h = held(&[b"aa", b"bbb", b"c"]);
        assert_eq!((h.len(), h.bytes()), (3, &b"aabbbc"[..]));
        let mut rest = h.without_first(1);
        assert_eq!(frames(&rest), [b"bbb".to_vec(), b"c".to_vec()]);
        rest.append(held(&[b"dd"]));
        assert_eq!(
            frames(&rest),
            [b"bbb".to_vec(), b"c".to_vec(), b"dd".to_vec()]
        );
        assert!(rest.without_first(3).is_empty());
        assert_eq!(frames(&held(&[b"x"]).without_first(0)), [b"x".to_vec()]);
        assert!(held(&[b"x"]).without_first(7).bytes().is_empty());
    }

    #[test]
    fn every_is_ready_once_per_period() {
        let every = Every::new(Duration::from_secs(10));
        assert!(every.ready_at(5), "the first time at once");
        assert!(!every.ready_at(5));
        assert!(!every.ready_at(10_004));
        assert!(every.ready_at(10_005));
        assert!(!every.ready_at(20_000));
        assert!(every.ready_at(60_000), "after a quiet spell, at once");
        assert!(!every.ready_at(60_001));
    }
}

#[cfg(test)]
mod sizes {
    use updraft_store::usage::{encode_frame, outcome, trigger};
    use updraft_store::UsageRecord;

    fn frame_len(function: &str, version: &str) -> usize {
        let record = UsageRecord {
            function: function.into(),
            version: version.into(),
            request_id: "0f6e3c4a-9c1e-4f2a-8d3b-5e1f2a3b4c5d".into(),
            start_ms: 1_769_902_200_000,
            duration_us: 1_234_567,
            billed_ms: 1_235,
            memory_mb: 1_769,
            init_duration_us: Some(250_000),
            outcome: outcome::SUCCESS.into(),
            trigger: trigger::INVOKE.into(),
        };
        let mut frame = Vec::new();
        encode_frame(&(&record).into(), 0, &mut frame);
        frame.len()
    }

    /// What `DEFAULT_MAX_BUFFERED`'s memory estimate assumes.
    #[test]
    fn frames_are_about_a_hundred_bytes() {
        let typical = frame_len("orders-api", "$LATEST");
        // An account-scoped name: a 12-digit account, a dot, 64 characters.
        let longest = frame_len(&format!("123456789012.{}", "f".repeat(64)), "$LATEST");
        eprintln!("frames: typical {typical} bytes, longest name {longest} bytes");
        assert!(typical <= 112, "{typical}");
        assert!(longest <= 184, "{longest}");
    }
}
