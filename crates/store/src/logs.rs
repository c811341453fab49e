//! CloudWatch Logs' records: log groups, log streams and log events.
//!
//! Every invocation log a [`crate::LogRecord`] carries is also stored as
//! events, one per line, in group `/aws/lambda/FUNCTION` and the record's
//! stream; applications create groups and streams of their own and put
//! events into them. Events are ordered by `(timestamp_ms, id)`: a
//! [`LogPosition`] is a place in that order, which is what paging tokens
//! carry.
//!
//! Retention: a group's `retention_days`, when set, decides how long its
//! events are kept; groups without one keep theirs as long as the node's
//! default (the cutoff [`crate::Store::prune_logs`] is given).

use std::collections::BTreeMap;

/// The group Lambda writes a function's logs to.
pub fn lambda_group(function: &str) -> String {
    format!("/aws/lambda/{function}")
}

/// The function whose logs a group holds, when it is a Lambda group.
pub fn lambda_function(group: &str) -> Option<&str> {
    group.strip_prefix("/aws/lambda/").filter(|f| !f.is_empty())
}

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// A log group as `DescribeLogGroups` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroup {
    pub name: String,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
    pub retention_days: Option<u32>,
    /// Bytes of the messages the group holds.
    pub stored_bytes: u64,
    pub tags: BTreeMap<String, String>,
}

/// A log stream as `DescribeLogStreams` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogStream {
    pub name: String,
    pub created_ms: i64,
    /// Timestamps of its oldest and newest events; `None` when empty.
    pub first_event_ms: Option<i64>,
    pub last_event_ms: Option<i64>,
    /// When its newest event was stored.
    pub last_ingestion_ms: Option<i64>,
    pub stored_bytes: u64,
}

/// One stored log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Assigned by the store, increasing in the order events are stored.
    pub id: i64,
    pub stream: String,
    pub timestamp_ms: i64,
    pub ingestion_ms: i64,
    pub message: String,
}

impl LogEvent {
    /// This event's place in the order.
    pub fn position(&self) -> LogPosition {
        LogPosition {
            timestamp_ms: self.timestamp_ms,
            id: self.id,
        }
    }
}

/// An event to store: `PutLogEvents`' `{timestamp, message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLogEvent {
    pub timestamp_ms: i64,
    pub message: String,
}

/// A place between events in `(timestamp_ms, id)` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogPosition {
    pub timestamp_ms: i64,
    pub id: i64,
}

/// Which events to read from one group.
#[derive(Debug, Clone, Default)]
pub struct LogEventQuery {
    pub group: String,
    /// Only these streams (`None`: every stream).
    pub streams: Option<Vec<String>>,
    /// Only streams whose name starts with this.
    pub stream_prefix: Option<String>,
    /// Timestamps at or after `start_ms`, before `end_ms`.
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// Only events after this position (before it when `descending`).
    pub from: Option<LogPosition>,
    /// Newest first.
    pub descending: bool,
    /// At most this many events (the first in the order); 0 for no limit.
    pub limit: usize,
}
