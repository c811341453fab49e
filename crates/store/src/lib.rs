//! Where state lives.
//!
//! [`Store`] is the metadata store: functions and their versions, aliases,
//! function URL configs, resource policies ([`FunctionPolicy`]),
//! invocation logs, CloudWatch Logs' groups, streams and events
//! ([`logs`]) and usage records ([`usage`]).
//! Backends (`store-sqlite`, the embedded default; a NATS JetStream one for
//! clusters) implement it and pass the same conformance suite
//! ([`conformance`]). [`ArtifactStore`] keeps deployment packages on disk,
//! content-addressed by SHA-256.
//!
//! Invariants every backend keeps:
//! - a function's `$LATEST` row exists for as long as any of its versions,
//!   aliases, URL configs or policies do; deleting the function deletes
//!   them all; deleting a version or an alias deletes its policy;
//! - published versions are immutable and numbered 1, 2, 3... per function,
//!   never reused, even after a version is deleted;
//! - every write is durable when the call returns.
//!
//! Reads of something that does not exist return `Ok(None)`; writes and
//! deletes of something that does not exist return [`StoreError::NotFound`].

mod artifacts;
pub mod conformance;
pub mod events;
pub mod logs;
pub mod usage;

pub use artifacts::ArtifactStore;
pub use events::{EventStore, EventWrite, StoredMessage};
pub use logs::{LogEvent, LogEventQuery, LogGroup, LogPosition, LogStream, NewLogEvent};
pub use usage::{UsageBatch, UsageGroup, UsageGroupRow, UsageQuery, UsageRecord};

use updraft_types::{AliasConfig, FunctionConfig, FunctionName, UrlConfig};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record to create exists already.
    #[error("{0} already exists")]
    Conflict(String),
    /// The record to change does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The backend failed (I/O, corruption, ...).
    #[error("storage backend failed: {0}")]
    Backend(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A function's resource policy for one qualifier (Lambda's
/// `AddPermission` / `GetPolicy`): the unqualified function (`None`, which
/// `$LATEST` also means), a published version or an alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionPolicy {
    pub function: FunctionName,
    /// `None` for the unqualified function; otherwise a version number or
    /// an alias name.
    pub qualifier: Option<String>,
    /// The policy document, JSON text, as the store was given it.
    pub policy: String,
    /// Changes whenever the policy does (`GetPolicy`'s `RevisionId`).
    pub revision_id: String,
}

/// One invocation's log: everything between START and REPORT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Assigned by the store on append, greater than every `seq` assigned
    /// before (never reused, even after pruning); 0 before that.
    pub seq: i64,
    pub function: String,
    /// Lambda's log stream name: `YYYY/MM/DD/[VERSION]ENVIRONMENT_ID`.
    pub stream: String,
    pub request_id: String,
    /// Invocation start and end, milliseconds since the Unix epoch.
    pub start_ms: i64,
    pub end_ms: i64,
    /// The invocation ended in a function error.
    pub is_error: bool,
    /// The log lines, START to REPORT, newline-separated.
    pub text: String,
}

/// Which log records to read, oldest first.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    pub function: String,
    /// Only records whose `seq` is greater (for following).
    pub after_seq: Option<i64>,
    /// Only records that ended at or after / started at or before these
    /// times (ms since the epoch).
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub request_id: Option<String>,
    pub errors_only: bool,
    /// At most this many records (the oldest that match); 0 for no limit.
    pub limit: usize,
}

/// The metadata store.
pub trait Store: Send + Sync {
    /// Creates a function's `$LATEST`. `Conflict` if the name is taken.
    /// The stored record's `version` is `$LATEST` whatever `latest.version`
    /// says; so is `update_latest`'s.
    fn create_function(&self, latest: &FunctionConfig) -> Result<()>;

    /// Replaces `$LATEST`. `NotFound` if the function does not exist.
    fn update_latest(&self, latest: &FunctionConfig) -> Result<()>;

    /// One version (`$LATEST` or a number) of a function; `None` if the
    /// function or the version does not exist, or `version` is neither
    /// `$LATEST` nor a number as `publish_version` writes it (`"01"` is not).
    fn get_version(&self, name: &FunctionName, version: &str) -> Result<Option<FunctionConfig>>;

    /// Every function's `$LATEST`, ordered by name.
    fn list_functions(&self) -> Result<Vec<FunctionConfig>>;

    /// `$LATEST` then the published versions in ascending order.
    /// `NotFound` if the function does not exist.
    fn list_versions(&self, name: &FunctionName) -> Result<Vec<FunctionConfig>>;

    /// Stores `config` as the next published version and returns it with
    /// its `version` set. `NotFound` if the function does not exist.
    fn publish_version(&self, config: &FunctionConfig) -> Result<FunctionConfig>;

    /// Deletes a function with all its versions, aliases, URL configs and
    /// policies.
    /// `NotFound` if it does not exist. A function created again under the
    /// same name starts afresh: no aliases or URL configs, versions from 1.
    /// Log records are not the function's and stay until pruned.
    fn delete_function(&self, name: &FunctionName) -> Result<()>;

    /// Deletes one published version and its policy. `NotFound` if it
    /// does not exist; `$LATEST` is not a published version (delete the
    /// function instead).
    fn delete_version(&self, name: &FunctionName, version: &str) -> Result<()>;

    /// Creates an alias (`Conflict` if it exists) or, with `replace`,
    /// replaces one (`NotFound` if it does not exist). `NotFound` if the
    /// function does not exist. Whether the target version exists is the
    /// caller's to check.
    fn put_alias(&self, alias: &AliasConfig, replace: bool) -> Result<()>;
    fn get_alias(&self, name: &FunctionName, alias: &str) -> Result<Option<AliasConfig>>;
    /// Ordered by alias name. `NotFound` if the function does not exist.
    fn list_aliases(&self, name: &FunctionName) -> Result<Vec<AliasConfig>>;
    /// Deletes an alias and its policy. `NotFound` if the alias does not
    /// exist. The alias's URL config, if any, is the caller's to delete.
    fn delete_alias(&self, name: &FunctionName, alias: &str) -> Result<()>;

    /// Creates a URL config (`Conflict` if one exists for the function and
    /// qualifier) or, with `replace`, replaces one (`NotFound` if absent).
    /// `NotFound` if the function does not exist. The qualifier `None` (the
    /// unqualified function) and `Some(alias)` are separate configs.
    fn put_url_config(&self, config: &UrlConfig, replace: bool) -> Result<()>;
    fn get_url_config(
        &self,
        name: &FunctionName,
        qualifier: Option<&str>,
    ) -> Result<Option<UrlConfig>>;
    /// The unqualified config first, then by alias name. `NotFound` if the
    /// function does not exist.
    fn list_url_configs(&self, name: &FunctionName) -> Result<Vec<UrlConfig>>;
    /// `NotFound` if no config exists for the function and qualifier.
    fn delete_url_config(&self, name: &FunctionName, qualifier: Option<&str>) -> Result<()>;

    /// Creates or replaces the policy of `policy.function` and
    /// `policy.qualifier`. `NotFound` if the function does not exist;
    /// whether the version or alias exists is the caller's to check.
    fn put_policy(&self, policy: &FunctionPolicy) -> Result<()>;
    /// The policy of one qualifier (`None`: the unqualified function).
    fn get_policy(
        &self,
        name: &FunctionName,
        qualifier: Option<&str>,
    ) -> Result<Option<FunctionPolicy>>;
    /// Every policy of a function: the unqualified one first, then by
    /// qualifier. `NotFound` if the function does not exist.
    fn list_policies(&self, name: &FunctionName) -> Result<Vec<FunctionPolicy>>;
    /// `NotFound` if no policy exists for the function and qualifier.
    fn delete_policy(&self, name: &FunctionName, qualifier: Option<&str>) -> Result<()>;

    /// Appends log records, all or none; their `seq` is assigned by the
    /// store (the records' own `seq` is ignored), increasing in slice order.
    /// Any function name is accepted, existing or not.
    fn append_logs(&self, records: &[LogRecord]) -> Result<()>;
    /// The records of `query.function` that match every filter, oldest
    /// (lowest `seq`) first.
    fn query_logs(&self, query: &LogQuery) -> Result<Vec<LogRecord>>;
    /// Deletes log records that ended before `before_ms`, and the events
    /// of groups without a retention policy stored before it; a group with
    /// a policy keeps its events (and, for a Lambda group, its function's
    /// records) for `retention_days` from now instead. Returns how many
    /// log records (not events) went.
    fn prune_logs(&self, before_ms: i64) -> Result<u64>;

    /// Creates a log group. `Conflict` if it exists.
    fn create_log_group(
        &self,
        name: &str,
        created_ms: i64,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<()>;
    /// One group; `None` if it does not exist.
    fn get_log_group(&self, name: &str) -> Result<Option<LogGroup>>;
    /// Every group whose name starts with `prefix`, ordered by name.
    fn list_log_groups(&self, prefix: &str) -> Result<Vec<LogGroup>>;
    /// Deletes a group with its streams and events (for a Lambda group,
    /// its function's log records too). `NotFound` if it does not exist.
    fn delete_log_group(&self, name: &str) -> Result<()>;
    /// Sets (`Some`) or removes a group's retention. `NotFound` if the
    /// group does not exist.
    fn put_log_retention(&self, name: &str, days: Option<u32>) -> Result<()>;
    /// Adds (replacing values) `add` and removes `remove` from a group's
    /// tags. `NotFound` if the group does not exist.
    fn tag_log_group(
        &self,
        name: &str,
        add: &std::collections::BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<()>;
    /// Creates a stream. `NotFound` if the group does not exist,
    /// `Conflict` if the stream does.
    fn create_log_stream(&self, group: &str, stream: &str, created_ms: i64) -> Result<()>;
    /// A group's streams, ordered by name. `NotFound` if the group does
    /// not exist.
    fn list_log_streams(&self, group: &str) -> Result<Vec<LogStream>>;
    /// Deletes a stream and its events (for a Lambda group, its log
    /// records too). `NotFound` if the group or stream does not exist.
    fn delete_log_stream(&self, group: &str, stream: &str) -> Result<()>;
    /// Stores events in a stream, all or none, and returns the id of the
    /// last. `NotFound` if the group or the stream does not exist.
    fn put_log_events(
        &self,
        group: &str,
        stream: &str,
        events: &[NewLogEvent],
        ingestion_ms: i64,
    ) -> Result<i64>;
    /// The events of `query.group` that match it, in `(timestamp, id)`
    /// order (reversed when `descending`). `NotFound` if the group does
    /// not exist.
    fn query_log_events(&self, query: &LogEventQuery) -> Result<Vec<LogEvent>>;

    /// Stores a batch of usage records, all or none. A batch whose `id` is
    /// stored already is ignored, so appending the same batch again (a
    /// journal replayed after a crash) changes nothing.
    fn append_usage(&self, batch: &UsageBatch) -> Result<()>;
    /// The records that match `query`, by `start_ms` then `request_id`;
    /// at most `limit` of them (the first), 0 for no limit.
    fn query_usage(&self, query: &UsageQuery, limit: usize) -> Result<Vec<UsageRecord>>;
    /// The sums ([`UsageGroupRow`]) over the records that match `query`,
    /// one row per group that has records, ordered by key.
    fn usage_summary(&self, query: &UsageQuery, group: UsageGroup) -> Result<Vec<UsageGroupRow>>;
    /// Deletes usage records that started before `before_ms` (a batch
    /// that holds older and newer ones keeps the newer); returns how many.
    fn prune_usage(&self, before_ms: i64) -> Result<u64>;
}
