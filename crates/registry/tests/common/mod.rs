//! What the registry's test binaries share: a registry on a SQLite store
//! in a temporary directory, with a runtime that accepts any package and
//! loads templates that are never started.

use std::io::Write as _;
use std::sync::Arc;

use async_trait::async_trait;
use updraft_pool::{
    CodeError, EnvConfig, Environment, FunctionError, Limits, LogSink, Pools, PoolsConfig,
    Protocol, Runtime, Template,
};
use updraft_registry::{Registry, RegistryConfig};
use updraft_store::ArtifactStore;
use updraft_store_sqlite::SqliteStore;
use updraft_types::{Account, CodeArchive};

/// Loads a template that is never started.
pub struct Loading;

struct Unstartable;

#[async_trait]
impl Template for Unstartable {
    fn protocol(&self) -> Protocol {
        Protocol::Event
    }
    async fn start(
        &self,
        _: &EnvConfig,
        _: &LogSink,
    ) -> Result<Box<dyn Environment>, FunctionError> {
        unreachable!("these tests never start an environment")
    }
}

impl Runtime for Loading {
    fn names(&self) -> &[&str] {
        &["test"]
    }
    fn prepare(&self, _: &str, _: &str, _: &CodeArchive) -> Result<String, CodeError> {
        Ok("event".into())
    }
    fn load(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: &dyn Fn() -> Result<CodeArchive, CodeError>,
    ) -> Result<Arc<dyn Template>, CodeError> {
        Ok(Arc::new(Unstartable))
    }
}

/// A deployment package holding one file, `main`, with `code`.
pub fn zip(code: &str) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("main", zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(code.as_bytes()).unwrap();
    w.finish().unwrap().into_inner()
}

/// A registry in `dir` with the [`Loading`] runtime (named `test`).
pub fn open(dir: &std::path::Path) -> Registry {
    let store = Arc::new(SqliteStore::open(&dir.join("updraft.db")).unwrap());
    Registry::open(
        store,
        ArtifactStore::open(dir.join("code")).unwrap(),
        vec![Arc::new(Loading)],
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
