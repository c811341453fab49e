//! What the registry's test binaries share: a registry on a SQLite store
//! in a temporary directory.

use std::sync::Arc;

use updraft_pool::{Limits, Pools, PoolsConfig, Runtime};
use updraft_registry::{Registry, RegistryConfig};
use updraft_store::ArtifactStore;
use updraft_store_sqlite::SqliteStore;
use updraft_types::Account;

/// A registry in `dir` with `runtime` as its only runtime.
pub fn open_with(dir: &std::path::Path, runtime: Arc<dyn Runtime>) -> Registry {
    let store = Arc::new(SqliteStore::open(&dir.join("updraft.db")).unwrap());
    Registry::open(
        store,
        ArtifactStore::open(dir.join("code")).unwrap(),
        vec![runtime],
        Pools::new(PoolsConfig {
            idle_timeout: std::time::Duration::from_secs(60),
            memory_budget_mb: 1024,
            scale_up: Default::default(),
        }),
        Limits::new(10),
        RegistryConfig {
            account: Account::default(),
            base_url: "http://127.0.0.1:1".into(),
            limits: Default::default(),
            namespace: String::new(),
        },
    )
    .unwrap()
}
