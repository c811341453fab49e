//! Shared vocabulary of updraft.
//!
//! Everything here is plain data: names and qualifiers with their validation
//! rules, the configuration records the registry persists, and the code
//! archive a deployment carries. No crate behaviour lives here, so every
//! other crate can depend on it without pulling in a runtime or a store.

mod arn;
mod code;
mod delegation;
mod fsync;
mod function;
mod name;

pub use arn::Arn;
pub use code::{ArchiveFile, CodeArchive};
pub use delegation::RoleCheck;
pub use fsync::sync_dir;
pub use function::{
    AliasConfig, FunctionConfig, UrlAuthType, UrlConfig, DEFAULT_EPHEMERAL_STORAGE_MB,
    DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, MAX_EPHEMERAL_STORAGE_MB, MAX_MEMORY_MB, MAX_TIMEOUT_S,
    MIN_MEMORY_MB, MIN_TIMEOUT_S,
};
pub use name::{Account, FunctionName, FunctionRef, InvalidName, Qualifier, LATEST};

/// A new request id, in the UUID form Lambda uses.
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The current time in the ISO-8601 form Lambda uses for `LastModified`
/// (`2026-11-26T18:15:28.123+0000`).
pub fn now_lambda_timestamp() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}
