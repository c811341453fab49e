//! Usage records: what every invocation consumed, for metering and cost.
//!
//! One [`UsageRecord`] per invocation attempt (an asynchronous invocation
//! retried under the same request id is billed per attempt, as on
//! Lambda). Records are stored in batches ([`UsageBatch`]: compact frames,
//! one store row per batch, idempotent by the batch's id), kept until
//! pruned, and summed per group ([`UsageGroupRow`]) by the backend, so a
//! report over millions of invocations moves a few rows.
//!
//! Sums follow Lambda's billing: an invocation that was throttled did not
//! run and is not billed, so it counts in `throttles` and nowhere else.

use serde::{Deserialize, Serialize};

mod batch;
pub use batch::{
    encode_frame, frames, select, summarize, tagged_frames, Frames, Selection, Summary, UsageBatch,
    UsageRecordRef,
};

/// `UsageRecord::outcome` values.
pub mod outcome {
    pub const SUCCESS: &str = "success";
    /// A function error (the function failed, trapped, ran out of memory).
    pub const ERROR: &str = "error";
    pub const TIMEOUT: &str = "timeout";
    /// Refused by a concurrency limit: did not run, not billed.
    pub const THROTTLED: &str = "throttled";
}

/// `UsageRecord::trigger` values.
pub mod trigger {
    /// A synchronous `Invoke` (`RequestResponse`).
    pub const INVOKE: &str = "invoke";
    /// An asynchronous `Invoke` (`Event`).
    pub const EVENT: &str = "event";
    /// A function URL request.
    pub const URL: &str = "url";
    /// A schedule fired (EventBridge Scheduler).
    pub const SCHEDULE: &str = "schedule";
    /// An event bus rule matched (EventBridge).
    pub const BUS: &str = "bus";
    /// An event source mapping delivered a batch of queue messages.
    pub const QUEUE: &str = "sqs";
    /// An async invocation's destination is this function.
    pub const DESTINATION: &str = "destination";
    /// An S3 bucket notification (an object created, removed, ...).
    pub const S3: &str = "s3";

    /// The name as stored for a name read back (records carry `String`s).
    pub fn canonical(name: &str) -> Option<&'static str> {
        [INVOKE, EVENT, URL, SCHEDULE, BUS, QUEUE, DESTINATION, S3]
            .into_iter()
            .find(|t| *t == name)
    }
}

/// Milliseconds in a GB-second's denominator: memory in MB / 1024 times
/// billed ms / 1000.
pub const MB_MS_PER_GB_SECOND: f64 = 1024.0 * 1000.0;

/// One invocation's usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub function: String,
    /// The version that ran (`$LATEST` or a number), never an alias.
    pub version: String,
    /// The invocation's request id (the same for each attempt of a
    /// retried asynchronous invocation).
    pub request_id: String,
    /// When the invocation started, milliseconds since the Unix epoch.
    pub start_ms: i64,
    /// How long the handler ran, in microseconds (init not included).
    pub duration_us: u64,
    /// The duration rounded up to the millisecond, at least 1 (0 when
    /// throttled).
    pub billed_ms: u64,
    /// The function's configured memory.
    pub memory_mb: u32,
    /// Set when the invocation had a cold start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_duration_us: Option<u64>,
    /// One of [`outcome`].
    pub outcome: String,
    /// One of [`trigger`].
    pub trigger: String,
}

impl UsageRecord {
    /// Memory times billed duration, in MB-milliseconds: an exact integer
    /// that sums without rounding.
    pub fn mb_ms(&self) -> u64 {
        u64::from(self.memory_mb) * self.billed_ms
    }

    /// Compute billed, in GB-seconds (memory_mb / 1024 × billed_ms / 1000).
    pub fn gb_seconds(&self) -> f64 {
        self.mb_ms() as f64 / MB_MS_PER_GB_SECOND
    }

    pub fn is_throttled(&self) -> bool {
        self.outcome == outcome::THROTTLED
    }
}

/// Which usage records to read or aggregate: those that started in
/// `[since_ms, until_ms)`, of one function or all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageQuery {
    pub since_ms: i64,
    pub until_ms: i64,
    pub function: Option<String>,
}

impl Default for UsageQuery {
    /// Every record.
    fn default() -> Self {
        UsageQuery {
            since_ms: i64::MIN,
            until_ms: i64::MAX,
            function: None,
        }
    }
}

/// How [`crate::Store::usage_summary`] groups records. Time buckets are
/// UTC, by the records' `start_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UsageGroup {
    /// One row, key `"all"`.
    None,
    /// Key: the function name.
    Function,
    /// Key: `YYYY-MM-DDTHH:00Z`.
    Hour,
    /// Key: `YYYY-MM-DD`.
    Day,
    /// Key: `YYYY-MM` (what the free tier is counted by).
    Month,
}

impl UsageGroup {
    /// The key of [`UsageGroup::None`]'s single row.
    pub const ALL: &'static str = "all";

    pub fn as_str(self) -> &'static str {
        match self {
            UsageGroup::None => "none",
            UsageGroup::Function => "function",
            UsageGroup::Hour => "hour",
            UsageGroup::Day => "day",
            UsageGroup::Month => "month",
        }
    }

    /// Parses what [`UsageGroup::as_str`] writes.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "none" => UsageGroup::None,
            "function" => UsageGroup::Function,
            "hour" => UsageGroup::Hour,
            "day" => UsageGroup::Day,
            "month" => UsageGroup::Month,
            _ => return None,
        })
    }
}

/// The sums over one group of usage records.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageGroupRow {
    /// What the rows are grouped by (see [`UsageGroup`]).
    pub key: String,
    /// Invocations that ran (every outcome but throttled): the billed
    /// requests.
    pub requests: u64,
    /// Invocations that ended in an error or a timeout.
    pub errors: u64,
    /// Of `errors`, those that timed out.
    pub timeouts: u64,
    /// Invocations refused by a concurrency limit (not in `requests`).
    pub throttles: u64,
    /// Invocations that had a cold start.
    pub cold_starts: u64,
    /// The sums of `duration_us`, `billed_ms` and `init_duration_us`.
    pub duration_us: u64,
    pub billed_ms: u64,
    pub init_duration_us: u64,
    /// The sum of memory × billed duration, in MB-milliseconds (exact).
    pub mb_ms: u64,
    /// `mb_ms` in GB-seconds: `mb_ms / 1,024,000`.
    pub gb_seconds: f64,
}

impl UsageGroupRow {
    /// Adds one record to the sums (a backend that aggregates in memory,
    /// and tests, use this; the key is left alone).
    pub fn add<'a>(&mut self, r: impl Into<UsageRecordRef<'a>>) {
        let r = r.into();
        if r.is_throttled() {
            self.throttles += 1;
            return;
        }
        self.requests += 1;
        if r.outcome == outcome::ERROR || r.outcome == outcome::TIMEOUT {
            self.errors += 1;
        }
        if r.outcome == outcome::TIMEOUT {
            self.timeouts += 1;
        }
        if let Some(init) = r.init_duration_us {
            self.cold_starts += 1;
            self.init_duration_us += init;
        }
        self.duration_us += r.duration_us;
        self.billed_ms += r.billed_ms;
        self.mb_ms += r.mb_ms();
        self.gb_seconds = self.mb_ms as f64 / MB_MS_PER_GB_SECOND;
    }
}
