//! Usage records as they are journaled and stored: framed, compact, in
//! batches.
//!
//! ```text
//! frame   magic "USG1" (u32 LE) | payload length (u32 LE) | CRC-32 of the
//!         payload (u32 LE) | tag (u32 LE) | payload (postcard) | zeros to a
//!         multiple of 8 bytes
//! batch   frames back to back, with an id that makes storing it
//!         idempotent and the range of the records' start times
//! ```
//!
//! A reader ([`frames`]) walks 8-byte steps and takes every frame whose
//! header and checksum hold, so zeros (space reserved but never written)
//! and torn or damaged frames are skipped without losing the frames after
//! them. The tag says which use of a reused buffer wrote the frame (the
//! journal reuses its segment files): [`tagged_frames`] takes only the
//! frames of one tag. Storing a record costs its encoding; the store keeps one row per
//! batch and reads records back by decoding the batches a query's window
//! overlaps.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::{outcome, UsageGroup, UsageGroupRow, UsageQuery, UsageRecord, MB_MS_PER_GB_SECOND};

const MAGIC: u32 = u32::from_le_bytes(*b"USG1");
const HEADER: usize = 16;
const ALIGN: usize = 8;

/// A usage record borrowed from its encoding (or from a [`UsageRecord`]);
/// the fields mean what [`UsageRecord`]'s do. This is also the payload's
/// layout: fields are only ever appended, never reordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecordRef<'a> {
    pub start_ms: i64,
    pub duration_us: u64,
    pub billed_ms: u64,
    pub memory_mb: u32,
    pub init_duration_us: Option<u64>,
    pub function: &'a str,
    pub version: &'a str,
    pub request_id: &'a str,
    pub outcome: &'a str,
    pub trigger: &'a str,
}

impl<'a> From<&'a UsageRecord> for UsageRecordRef<'a> {
    fn from(r: &'a UsageRecord) -> Self {
        UsageRecordRef {
            start_ms: r.start_ms,
            duration_us: r.duration_us,
            billed_ms: r.billed_ms,
            memory_mb: r.memory_mb,
            init_duration_us: r.init_duration_us,
            function: &r.function,
            version: &r.version,
            request_id: &r.request_id,
            outcome: &r.outcome,
            trigger: &r.trigger,
        }
    }
}

impl UsageRecordRef<'_> {
    pub fn to_owned(&self) -> UsageRecord {
        UsageRecord {
            function: self.function.into(),
            version: self.version.into(),
            request_id: self.request_id.into(),
            start_ms: self.start_ms,
            duration_us: self.duration_us,
            billed_ms: self.billed_ms,
            memory_mb: self.memory_mb,
            init_duration_us: self.init_duration_us,
            outcome: self.outcome.into(),
            trigger: self.trigger.into(),
        }
    }

    pub fn is_throttled(&self) -> bool {
        self.outcome == outcome::THROTTLED
    }

    /// Memory times billed duration, in MB-milliseconds.
    pub fn mb_ms(&self) -> u64 {
        u64::from(self.memory_mb) * self.billed_ms
    }
}

/// Appends `record`'s frame, tagged `tag`, to `out`.
pub fn encode_frame(record: &UsageRecordRef<'_>, tag: u32, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    // Encoding into a Vec cannot fail: every field is a plain value.
    let taken = std::mem::take(out);
    *out = postcard::to_extend(record, taken).expect("a usage record encodes");
    let len = out.len() - start - HEADER;
    let crc = crc32fast::hash(&out[start + HEADER..]);
    out[start..start + 4].copy_from_slice(&MAGIC.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&(len as u32).to_le_bytes());
    out[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
    out[start + 12..start + 16].copy_from_slice(&tag.to_le_bytes());
    out.resize(start + padded(HEADER + len), 0);
}

fn padded(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// The records framed in `bytes`, whatever their tag, in order (see the
/// module's docs).
pub fn frames(bytes: &[u8]) -> Frames<'_> {
    Frames {
        bytes,
        at: 0,
        tag: None,
        damaged: 0,
    }
}

/// The records framed in `bytes` with tag `tag`, in order; frames of
/// other tags are skipped like zeros.
pub fn tagged_frames(bytes: &[u8], tag: u32) -> Frames<'_> {
    Frames {
        tag: Some(tag),
        ..frames(bytes)
    }
}

/// The iterator [`frames`] and [`tagged_frames`] return.
pub struct Frames<'a> {
    bytes: &'a [u8],
    at: usize,
    tag: Option<u32>,
    damaged: usize,
}

impl<'a> Frames<'a> {
    /// Frames skipped so far whose header was whole but whose payload
    /// was not (torn or damaged); zeros are not counted.
    pub fn damaged(&self) -> usize {
        self.damaged
    }

    /// The next frame's byte range and record.
    fn next_frame(&mut self) -> Option<(Range<usize>, UsageRecordRef<'a>)> {
        let bytes = self.bytes;
        while self.at + HEADER <= bytes.len() {
            let at = self.at;
            let word = |i: usize| {
                u32::from_le_bytes(bytes[at + i..at + i + 4].try_into().expect("4 bytes"))
            };
            if word(0) != MAGIC || self.tag.is_some_and(|tag| tag != word(12)) {
                self.at += ALIGN;
                continue;
            }
            let len = word(4) as usize;
            let payload = at + HEADER..(at + HEADER).saturating_add(len);
            let whole =
                payload.end <= bytes.len() && crc32fast::hash(&bytes[payload.clone()]) == word(8);
            let record = whole
                .then(|| postcard::from_bytes::<UsageRecordRef<'a>>(&bytes[payload.clone()]).ok())
                .flatten();
            match record {
                Some(record) => {
                    let end = (at + padded(HEADER + len)).min(bytes.len());
                    self.at = end;
                    return Some((at..end, record));
                }
                None => {
                    self.damaged += 1;
                    self.at += ALIGN;
                }
            }
        }
        self.at = bytes.len();
        None
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = UsageRecordRef<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_frame().map(|(_, record)| record)
    }
}

/// Usage records stored together: the unit a store commits, idempotently
/// by `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageBatch {
    /// What identifies the batch: storing one whose id is stored already
    /// changes nothing.
    pub id: u64,
    /// How many records `frames` holds.
    pub records: u64,
    /// The earliest and latest `start_ms` (0 and 0 when empty).
    pub min_start_ms: i64,
    pub max_start_ms: i64,
    /// The records, framed back to back.
    pub frames: Vec<u8>,
}

impl UsageBatch {
    pub fn new(id: u64) -> Self {
        UsageBatch {
            id,
            records: 0,
            min_start_ms: 0,
            max_start_ms: 0,
            frames: Vec::new(),
        }
    }

    pub fn from_records<'a>(
        id: u64,
        records: impl IntoIterator<Item = impl Into<UsageRecordRef<'a>>>,
    ) -> Self {
        let mut batch = UsageBatch::new(id);
        for r in records {
            batch.push(&r.into());
        }
        batch
    }

    /// The batch of the whole frames in `frames` (a journal segment's
    /// contents, read with [`tagged_frames`]), copied back to back, and
    /// how many damaged frames were left out.
    pub fn from_frames(id: u64, mut frames: Frames<'_>) -> (Self, usize) {
        let mut batch = UsageBatch::new(id);
        let bytes = frames.bytes;
        batch.frames.reserve(bytes.len());
        while let Some((range, record)) = frames.next_frame() {
            batch.note(record.start_ms);
            batch.frames.extend_from_slice(&bytes[range]);
        }
        (batch, frames.damaged())
    }

    pub fn push(&mut self, record: &UsageRecordRef<'_>) {
        self.note(record.start_ms);
        encode_frame(record, 0, &mut self.frames);
    }

    fn note(&mut self, start_ms: i64) {
        if self.records == 0 {
            self.min_start_ms = start_ms;
            self.max_start_ms = start_ms;
        } else {
            self.min_start_ms = self.min_start_ms.min(start_ms);
            self.max_start_ms = self.max_start_ms.max(start_ms);
        }
        self.records += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    pub fn iter(&self) -> Frames<'_> {
        frames(&self.frames)
    }

    /// Whether any of its records may match `query`'s window.
    pub fn overlaps(&self, query: &UsageQuery) -> bool {
        !self.is_empty()
            && self.max_start_ms >= query.since_ms
            && self.min_start_ms < query.until_ms
    }
}

impl UsageQuery {
    pub fn matches(&self, r: &UsageRecordRef<'_>) -> bool {
        r.start_ms >= self.since_ms
            && r.start_ms < self.until_ms
            && self.function.as_deref().is_none_or(|f| f == r.function)
    }
}

/// The first `limit` (0: all) records that match `query`, by `start_ms`
/// then `request_id`: what [`crate::Store::query_usage`] answers, for a
/// backend that reads records back from batches.
pub fn select<'a>(
    records: impl IntoIterator<Item = UsageRecordRef<'a>>,
    query: &UsageQuery,
    limit: usize,
) -> Vec<UsageRecord> {
    let mut selection = Selection::new(query, limit);
    records.into_iter().for_each(|r| selection.add(&r));
    selection.finish()
}

/// [`select`], fed one record at a time.
pub struct Selection<'q> {
    query: &'q UsageQuery,
    limit: usize,
    out: Vec<UsageRecord>,
}

impl<'q> Selection<'q> {
    pub fn new(query: &'q UsageQuery, limit: usize) -> Self {
        Selection {
            query,
            limit,
            out: Vec::new(),
        }
    }

    pub fn add(&mut self, r: &UsageRecordRef<'_>) {
        if !self.query.matches(r) {
            return;
        }
        self.out.push(r.to_owned());
        // Bounded: keep the `limit` smallest once twice as many are held.
        if self.limit > 0 && self.out.len() >= self.limit.saturating_mul(2).max(1024) {
            self.out.select_nth_unstable_by(self.limit - 1, by_start);
            self.out.truncate(self.limit);
        }
    }

    pub fn finish(mut self) -> Vec<UsageRecord> {
        self.out.sort_unstable_by(by_start);
        if self.limit > 0 {
            self.out.truncate(self.limit);
        }
        self.out
    }
}

fn by_start(a: &UsageRecord, b: &UsageRecord) -> std::cmp::Ordering {
    (a.start_ms, &a.request_id).cmp(&(b.start_ms, &b.request_id))
}

/// The sums per group over the records that match `query`, ordered by
/// key: what [`crate::Store::usage_summary`] answers, for a backend that
/// aggregates in memory. Time keys are UTC, from `start_ms` rounded down.
pub fn summarize<'a>(
    records: impl IntoIterator<Item = UsageRecordRef<'a>>,
    query: &UsageQuery,
    group: UsageGroup,
) -> Vec<UsageGroupRow> {
    let mut summary = Summary::new(query, group);
    records.into_iter().for_each(|r| summary.add(&r));
    summary.finish()
}

/// [`summarize`], fed one record at a time.
pub struct Summary<'q> {
    query: &'q UsageQuery,
    group: UsageGroup,
    by_name: BTreeMap<String, UsageGroupRow>,
    by_time: BTreeMap<i64, UsageGroupRow>,
    /// The month of the last day seen.
    month_of: Option<(i64, i64)>,
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

impl<'q> Summary<'q> {
    pub fn new(query: &'q UsageQuery, group: UsageGroup) -> Self {
        Summary {
            query,
            group,
            by_name: BTreeMap::new(),
            by_time: BTreeMap::new(),
            month_of: None,
        }
    }

    pub fn add(&mut self, r: &UsageRecordRef<'_>) {
        if !self.query.matches(r) {
            return;
        }
        let row = match self.group {
            UsageGroup::None => self.by_name.entry(UsageGroup::ALL.to_string()).or_default(),
            UsageGroup::Function => match self.by_name.get_mut(r.function) {
                Some(row) => row,
                None => self.by_name.entry(r.function.to_string()).or_default(),
            },
            UsageGroup::Hour => self
                .by_time
                .entry(r.start_ms.div_euclid(HOUR_MS))
                .or_default(),
            UsageGroup::Day => self
                .by_time
                .entry(r.start_ms.div_euclid(DAY_MS))
                .or_default(),
            UsageGroup::Month => {
                let day = r.start_ms.div_euclid(DAY_MS);
                let month = match self.month_of {
                    Some((d, m)) if d == day => m,
                    _ => {
                        let m = month_index(day);
                        self.month_of = Some((day, m));
                        m
                    }
                };
                self.by_time.entry(month).or_default()
            }
        };
        row.add(*r);
    }

    pub fn finish(self) -> Vec<UsageGroupRow> {
        let group = self.group;
        let named = self
            .by_name
            .into_iter()
            .map(|(key, row)| UsageGroupRow { key, ..row });
        let timed = self.by_time.into_iter().map(|(bucket, row)| UsageGroupRow {
            key: time_key(group, bucket),
            ..row
        });
        let mut rows: Vec<UsageGroupRow> = named.chain(timed).collect();
        for row in &mut rows {
            row.gb_seconds = row.mb_ms as f64 / MB_MS_PER_GB_SECOND;
        }
        rows
    }
}

/// Months since year 0 of the UTC day `day` (days since the epoch).
fn month_index(day: i64) -> i64 {
    use chrono::Datelike;
    let date = chrono::DateTime::from_timestamp(day.saturating_mul(86_400), 0)
        .unwrap_or_default()
        .date_naive();
    i64::from(date.year()) * 12 + i64::from(date.month0())
}

fn time_key(group: UsageGroup, bucket: i64) -> String {
    let at = |seconds: i64, format: &str| {
        chrono::DateTime::from_timestamp(seconds, 0)
            .map_or_else(|| seconds.to_string(), |t| t.format(format).to_string())
    };
    match group {
        UsageGroup::Hour => at(bucket.saturating_mul(3600), "%Y-%m-%dT%H:00Z"),
        UsageGroup::Day => at(bucket.saturating_mul(86_400), "%Y-%m-%d"),
        UsageGroup::Month => {
            let (year, month0) = (bucket.div_euclid(12), bucket.rem_euclid(12));
            format!("{year:04}-{:02}", month0 + 1)
        }
        UsageGroup::None | UsageGroup::Function => bucket.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, start_ms: i64) -> UsageRecord {
        UsageRecord {
            function: "f".into(),
            version: "$LATEST".into(),
            request_id: id.into(),
            start_ms,
            duration_us: 1500,
            billed_ms: 2,
            memory_mb: 128,
            init_duration_us: Some(300),
            outcome: outcome::SUCCESS.into(),
            trigger: "invoke".into(),
        }
    }

    #[test]
    fn frames_round_trip_and_skip_zeros_and_damage() {
        let a = record("a", -5);
        let b = record("b", 7);
        let c = UsageRecord {
            init_duration_us: None,
            ..record("c", 3)
        };
        let mut bytes = Vec::new();
        encode_frame(&(&a).into(), 5, &mut bytes);
        assert_eq!(bytes.len() % ALIGN, 0);
        bytes.extend_from_slice(&[0; 40]);
        let damaged_at = bytes.len();
        encode_frame(&(&b).into(), 5, &mut bytes);
        let c_at = bytes.len();
        encode_frame(&(&c).into(), 5, &mut bytes);
        // A frame of another use of the buffer.
        let stale = record("stale", 0);
        encode_frame(&(&stale).into(), 4, &mut bytes);
        let all: Vec<UsageRecord> = frames(&bytes).map(|r| r.to_owned()).collect();
        assert_eq!(all, [a.clone(), b.clone(), c.clone(), stale]);
        let tagged: Vec<UsageRecord> = tagged_frames(&bytes, 5).map(|r| r.to_owned()).collect();
        assert_eq!(tagged, [a.clone(), b, c.clone()]);

        // A flipped payload byte loses that frame only; a torn last frame
        // is skipped.
        bytes[damaged_at + HEADER + 2] ^= 0xff;
        let torn = c_at + HEADER + 3;
        let mut it = frames(&bytes[..torn]);
        let got: Vec<UsageRecord> = it.by_ref().map(|r| r.to_owned()).collect();
        assert_eq!(got, std::slice::from_ref(&a));
        assert_eq!(it.damaged(), 2);

        let (batch, damaged) = UsageBatch::from_frames(9, tagged_frames(&bytes, 5));
        assert_eq!(damaged, 1);
        assert_eq!(
            (batch.records, batch.min_start_ms, batch.max_start_ms),
            (2, -5, 3)
        );
        let again: Vec<UsageRecord> = batch.iter().map(|r| r.to_owned()).collect();
        assert_eq!(again, [a, c]);
    }

    #[test]
    fn select_orders_and_limits() {
        let records: Vec<UsageRecord> = (0..3000)
            .map(|i| record(&format!("r{:04}", 2999 - i), i64::from(i % 7)))
            .collect();
        let q = UsageQuery::default();
        let got = select(records.iter().map(UsageRecordRef::from), &q, 5);
        let mut want = records.clone();
        want.sort_by(|x, y| (x.start_ms, &x.request_id).cmp(&(y.start_ms, &y.request_id)));
        assert_eq!(got, want[..5]);
        assert_eq!(
            select(records.iter().map(UsageRecordRef::from), &q, 0).len(),
            3000
        );
    }

    #[test]
    fn time_keys_are_utc_and_round_down() {
        let q = UsageQuery::default();
        let rows = |g| {
            summarize(
                [record("a", -1), record("b", 0)].iter().map(Into::into),
                &q,
                g,
            )
            .into_iter()
            .map(|r| r.key)
            .collect::<Vec<_>>()
        };
        assert_eq!(
            rows(UsageGroup::Hour),
            ["1969-12-31T23:00Z", "1970-01-01T00:00Z"]
        );
        assert_eq!(rows(UsageGroup::Day), ["1969-12-31", "1970-01-01"]);
        assert_eq!(rows(UsageGroup::Month), ["1969-12", "1970-01"]);
    }
}
