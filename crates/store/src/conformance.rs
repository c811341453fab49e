//! The conformance suite every [`crate::Store`] backend passes.
//!
//! Each check takes a fresh, empty store and asserts one part of the
//! contract written on [`Store`] and in the crate docs; [`run_all`] runs
//! them all, each on a new store from the factory it is given. A backend
//! crate calls it from a test:
//!
//! ```text
//! #[test]
//! fn conformance() {
//!     updraft_store::conformance::run_all(&|| Box::new(MyStore::open_temp()));
//! }
//! ```
//!
//! The checks live by area in `functions`, `routing` (aliases and URL
//! configs), `policies`, `logs` and `usage`, and are re-exported here; the record
//! builders they share are public for backends' own tests.
//!
//! [`EventStore`](crate::EventStore) backends have their own suite,
//! [`run_all_events`] over [`EVENT_CHECKS`] (in `events`).
//!
//! The checks use plain `assert!`s and panic on the first violation; the
//! name of the running check is printed first so a failure can be placed.

use std::collections::BTreeMap;

use updraft_types::{AliasConfig, FunctionConfig, FunctionName, UrlAuthType, UrlConfig, LATEST};

use crate::{
    FunctionPolicy, LogEvent, LogEventQuery, LogQuery, LogRecord, NewLogEvent, Store, StoreError,
};

mod events;
mod functions;
mod logs;
mod policies;
mod routing;
mod usage;

pub use events::*;
pub use functions::*;
pub use logs::*;
pub use policies::*;
pub use routing::*;
pub use usage::*;

/// One conformance check: its name and the function that runs it.
pub type Check = (&'static str, fn(&dyn Store));

/// Every check, in the order [`run_all`] runs them.
pub const CHECKS: &[Check] = &[
    ("create_and_get_latest", create_and_get_latest),
    ("update_latest", update_latest),
    (
        "latest_version_field_is_latest",
        latest_version_field_is_latest,
    ),
    ("list_functions_by_name", list_functions_by_name),
    ("publish_numbers_versions", publish_numbers_versions),
    (
        "published_versions_are_immutable",
        published_versions_are_immutable,
    ),
    ("get_version_lookups", get_version_lookups),
    ("version_numbers_never_reused", version_numbers_never_reused),
    ("delete_version_contract", delete_version_contract),
    ("delete_function_cascades", delete_function_cascades),
    ("aliases", aliases),
    ("list_aliases_by_name", list_aliases_by_name),
    ("url_configs_per_qualifier", url_configs_per_qualifier),
    ("policies_per_qualifier", policies_per_qualifier),
    ("policies_go_with_their_owner", policies_go_with_their_owner),
    ("append_logs_assigns_seq", append_logs_assigns_seq),
    ("query_logs_filters", query_logs_filters),
    ("prune_logs", prune_logs),
    ("log_groups_lifecycle", log_groups_lifecycle),
    ("log_events_order_and_filters", log_events_order_and_filters),
    (
        "invocation_logs_are_lambda_events",
        invocation_logs_are_lambda_events,
    ),
    (
        "prune_logs_by_group_retention",
        prune_logs_by_group_retention,
    ),
    ("concurrent_writers", concurrent_writers),
    ("append_usage_is_idempotent", append_usage_is_idempotent),
    ("query_usage_filters", query_usage_filters),
    ("usage_summary_sums", usage_summary_sums),
    ("prune_usage", prune_usage),
];

/// Runs every check in [`CHECKS`], each on a new store from `make`.
pub fn run_all(make: &dyn Fn() -> Box<dyn Store>) {
    for (name, check) in CHECKS {
        eprintln!("store conformance: {name}");
        let store = make();
        check(store.as_ref());
    }
}

// ---------------------------------------------------------------------------
// Record builders

fn fname(name: &str) -> FunctionName {
    FunctionName::new(name).expect("test function names are valid")
}

/// A `$LATEST` config whose `revision_id` tells revisions apart.
pub fn function_config(name: &str, revision: &str) -> FunctionConfig {
    FunctionConfig {
        name: fname(name),
        version: LATEST.to_string(),
        runtime: "wasm".into(),
        handler: Some("handler".into()),
        role: "arn:aws:iam::000000000000:role/test".into(),
        description: format!("{name} at {revision}"),
        memory_size: 128,
        timeout: 3,
        environment: BTreeMap::from([("REVISION".to_string(), revision.to_string())]),
        code_sha256: format!("{:0>64}", revision.len()),
        code_size: 42,
        code_kind: "http".into(),
        last_modified: "2026-01-01T00:00:00.000+0000".into(),
        revision_id: revision.into(),
        reserved_concurrency: None,
        provisioned_concurrency: Default::default(),
        dead_letter_target_arn: None,
        ephemeral_storage: 512,
    }
}

pub fn alias_config(function: &str, alias: &str, version: &str) -> AliasConfig {
    AliasConfig {
        function: fname(function),
        name: alias.into(),
        function_version: version.into(),
        description: format!("{alias} -> {version}"),
        revision_id: format!("{alias}-{version}"),
    }
}

pub fn url_config(function: &str, qualifier: Option<&str>, auth: UrlAuthType) -> UrlConfig {
    UrlConfig {
        function: fname(function),
        qualifier: qualifier.map(str::to_string),
        auth_type: auth,
        cors: Some(serde_json::json!({ "AllowOrigins": ["*"], "MaxAge": 60 })),
        invoke_mode: "BUFFERED".into(),
        creation_time: "2026-01-01T00:00:00.000+0000".into(),
        last_modified_time: "2026-01-01T00:00:00.000+0000".into(),
    }
}

/// A policy whose text and revision tell policies apart.
pub fn function_policy(function: &str, qualifier: Option<&str>, revision: &str) -> FunctionPolicy {
    FunctionPolicy {
        function: fname(function),
        qualifier: qualifier.map(str::to_string),
        policy: format!(
            r#"{{"Version":"2012-10-17","Id":"default","Statement":[{{"Sid":"{revision}","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunction","Resource":"*"}}]}}"#
        ),
        revision_id: revision.into(),
    }
}

pub fn log_record(
    function: &str,
    request_id: &str,
    start_ms: i64,
    end_ms: i64,
    is_error: bool,
) -> LogRecord {
    LogRecord {
        seq: 0,
        function: function.into(),
        stream: "2026/01/01/[$LATEST]0123456789abcdef".into(),
        request_id: request_id.into(),
        start_ms,
        end_ms,
        is_error,
        text: format!("START RequestId: {request_id}\nhello\nREPORT RequestId: {request_id}\n"),
    }
}

fn is_conflict<T: std::fmt::Debug>(r: crate::Result<T>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

fn is_not_found<T: std::fmt::Debug>(r: crate::Result<T>) -> bool {
    matches!(r, Err(StoreError::NotFound(_)))
}

fn versions_of(store: &dyn Store, name: &str) -> Vec<String> {
    store
        .list_versions(&fname(name))
        .expect("list_versions")
        .into_iter()
        .map(|c| c.version)
        .collect()
}

fn publish(store: &dyn Store, name: &str, revision: &str) -> FunctionConfig {
    store
        .publish_version(&function_config(name, revision))
        .expect("publish_version")
}
