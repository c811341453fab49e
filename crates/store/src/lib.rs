//! Where state lives.
//!
//! [`Store`] is the metadata store: functions and their versions, aliases,
//! function URL configs, and invocation logs. Backends (`store-sqlite`, the
//! embedded default; a NATS JetStream one for clusters) implement it and
//! pass the same conformance suite ([`conformance`]). [`ArtifactStore`]
//! keeps deployment packages on disk, content-addressed by SHA-256.
//!
//! Invariants every backend keeps:
//! - a function's `$LATEST` row exists for as long as any of its versions,
//!   aliases or URL configs do; deleting the function deletes them all;
//! - published versions are immutable and numbered 1, 2, 3... per function,
//!   never reused, even after a version is deleted;
//! - every write is durable when the call returns.

mod artifacts;
pub mod conformance;

pub use artifacts::ArtifactStore;

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

/// One invocation's log: everything between START and REPORT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Assigned by the store on append, increasing; 0 before that.
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
    pub limit: usize,
}

/// The metadata store.
pub trait Store: Send + Sync {
    /// Creates a function's `$LATEST`. `Conflict` if the name is taken.
    fn create_function(&self, latest: &FunctionConfig) -> Result<()>;

    /// Replaces `$LATEST`. `NotFound` if the function does not exist.
    fn update_latest(&self, latest: &FunctionConfig) -> Result<()>;

    /// One version (`$LATEST` or a number) of a function.
    fn get_version(&self, name: &FunctionName, version: &str) -> Result<Option<FunctionConfig>>;

    /// Every function's `$LATEST`, ordered by name.
    fn list_functions(&self) -> Result<Vec<FunctionConfig>>;

    /// `$LATEST` then the published versions in ascending order.
    /// `NotFound` if the function does not exist.
    fn list_versions(&self, name: &FunctionName) -> Result<Vec<FunctionConfig>>;

    /// Stores `config` as the next published version and returns it with
    /// its `version` set. `NotFound` if the function does not exist.
    fn publish_version(&self, config: &FunctionConfig) -> Result<FunctionConfig>;

    /// Deletes a function with all its versions, aliases and URL configs.
    /// `NotFound` if it does not exist.
    fn delete_function(&self, name: &FunctionName) -> Result<()>;

    /// Deletes one published version. `NotFound` if it does not exist.
    fn delete_version(&self, name: &FunctionName, version: &str) -> Result<()>;

    /// Creates an alias (`Conflict` if it exists) or, with `replace`,
    /// replaces one (`NotFound` if it does not exist).
    fn put_alias(&self, alias: &AliasConfig, replace: bool) -> Result<()>;
    fn get_alias(&self, name: &FunctionName, alias: &str) -> Result<Option<AliasConfig>>;
    /// Ordered by alias name.
    fn list_aliases(&self, name: &FunctionName) -> Result<Vec<AliasConfig>>;
    fn delete_alias(&self, name: &FunctionName, alias: &str) -> Result<()>;

    /// Creates a URL config (`Conflict` if one exists for the function and
    /// qualifier) or, with `replace`, replaces one (`NotFound` if absent).
    fn put_url_config(&self, config: &UrlConfig, replace: bool) -> Result<()>;
    fn get_url_config(&self, name: &FunctionName, qualifier: Option<&str>)
        -> Result<Option<UrlConfig>>;
    fn list_url_configs(&self, name: &FunctionName) -> Result<Vec<UrlConfig>>;
    fn delete_url_config(&self, name: &FunctionName, qualifier: Option<&str>) -> Result<()>;

    /// Appends log records; their `seq` is assigned by the store.
    fn append_logs(&self, records: &[LogRecord]) -> Result<()>;
    fn query_logs(&self, query: &LogQuery) -> Result<Vec<LogRecord>>;
    /// Deletes log records that ended before `before_ms`; returns how many.
    fn prune_logs(&self, before_ms: i64) -> Result<u64>;
}
