//! The control plane.
//!
//! The registry owns what is deployed: functions (`$LATEST` and published
//! versions), aliases and function URL configs. Every change is validated,
//! the code compiled by its runtime, the package stored content-addressed,
//! and the record persisted in the [`Store`] before the call returns.
//!
//! For the invoke path it keeps an in-memory snapshot per function
//! ([`Registry::resolve`] is a read lock and an `Arc` clone) and one loaded
//! [`Template`] per piece of code, so no invocation touches the store or
//! compiles anything. Function resource policies (`AddPermission`) are
//! parsed once when written or loaded and kept in the snapshot
//! ([`Registry::resource_policy`]).

pub mod code;
mod functions;
mod permissions;
mod snapshot;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use updraft_pool::{CodeError, Limits, Pools, Runtime, Template};
use updraft_store::{ArtifactStore, Store, StoreError};
use updraft_types::{Account, FunctionConfig, FunctionName, Qualifier, UrlAuthType};

pub use permissions::{LoadedPolicy, PermissionError, PolicyView};
use snapshot::Snapshot;

/// Why a control-plane operation failed. Messages are shown to users.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for RegistryError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => RegistryError::NotFound(m),
            StoreError::Conflict(m) => RegistryError::Conflict(m),
            StoreError::Backend(m) => RegistryError::Internal(m),
        }
    }
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// What the registry is configured with.
pub struct RegistryConfig {
    pub account: Account,
    /// Where function URLs are served, e.g. `http://127.0.0.1:9000`.
    pub base_url: String,
    pub limits: code::Limits,
    /// What this registry's function names are prefixed with where
    /// several accounts share a table (environment pools, metrics) and in
    /// function URLs: empty for the node's own account, `ACCOUNT.` for
    /// the others (a function name never holds a dot).
    pub namespace: String,
}

/// The resolved target of an invocation.
#[derive(Clone)]
pub struct Resolved {
    pub config: Arc<FunctionConfig>,
    /// The version that runs (`$LATEST` or a number), as reported in
    /// `X-Amz-Executed-Version`.
    pub executed_version: String,
}

/// Deployed functions and everything attached to them.
pub struct Registry {
    store: Arc<dyn Store>,
    artifacts: ArtifactStore,
    runtimes: Vec<Arc<dyn Runtime>>,
    pools: Pools,
    limits: Limits,
    config: RegistryConfig,
    snapshots: RwLock<HashMap<FunctionName, Arc<Snapshot>>>,
    templates: Mutex<HashMap<String, Arc<dyn Template>>>,
    /// Serialises changes so the store and the snapshots agree.
    writes: Mutex<()>,
}

impl Registry {
    /// Opens the registry, loads every function's snapshot and applies
    /// the stored reserved concurrency to `limits`.
    pub fn open(
        store: Arc<dyn Store>,
        artifacts: ArtifactStore,
        runtimes: Vec<Arc<dyn Runtime>>,
        pools: Pools,
        limits: Limits,
        config: RegistryConfig,
    ) -> Result<Self> {
        let registry = Registry {
            store,
            artifacts,
            runtimes,
            pools,
            limits,
            config,
            snapshots: RwLock::new(HashMap::new()),
            templates: Mutex::new(HashMap::new()),
            writes: Mutex::new(()),
        };
        for f in registry.store.list_functions()? {
            registry.refresh(&f.name)?;
            if let Some(n) = f.reserved_concurrency {
                registry
                    .limits
                    .set_reserved(f.name.as_str(), Some(n as usize));
            }
        }
        Ok(registry)
    }

    /// The node's concurrency accounting.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn account(&self) -> &Account {
        &self.config.account
    }

    /// Where function URLs and code downloads are served.
    pub fn base_url(&self) -> &str {
        &self.config.base_url
    }

    /// A stored deployment package, if `sha256` names one.
    pub fn code_package(&self, sha256: &str) -> Result<Option<bytes::Bytes>> {
        match self.artifacts.get(sha256) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => Ok(None),
            Err(e) => Err(RegistryError::Internal(format!(
                "reading code {sha256}: {e}"
            ))),
        }
    }

    /// The runtime names CreateFunction accepts.
    pub fn runtime_names(&self) -> Vec<&str> {
        self.runtimes
            .iter()
            .flat_map(|r| r.names().iter().copied())
            .collect()
    }

    /// The function URL for a function (and alias).
    pub fn function_url(&self, name: &FunctionName, qualifier: Option<&str>) -> String {
        let (base, ns) = (&self.config.base_url, &self.config.namespace);
        match qualifier {
            Some(q) => format!("{base}/fn/{ns}{name}:{q}/"),
            None => format!("{base}/fn/{ns}{name}/"),
        }
    }

    /// A function's name where every account's functions share a table
    /// (environment pools, metrics): the name itself in the node's own
    /// account, `ACCOUNT.NAME` in another.
    pub fn scoped_name<'a>(&self, name: &'a str) -> std::borrow::Cow<'a, str> {
        if self.config.namespace.is_empty() {
            std::borrow::Cow::Borrowed(name)
        } else {
            std::borrow::Cow::Owned(format!("{}{name}", self.config.namespace))
        }
    }

    /// Resolves a function and qualifier to the version that runs.
    pub fn resolve(&self, name: &FunctionName, qualifier: Option<&Qualifier>) -> Result<Resolved> {
        let snap = self
            .snapshot(name)
            .ok_or_else(|| self.not_found(name, qualifier))?;
        snap.resolve(qualifier)
            .ok_or_else(|| self.not_found(name, qualifier))
    }

    /// How a function URL authenticates, and what it runs, for a function
    /// URL request; `None` when the function has no such URL.
    pub fn url_target(
        &self,
        name: &FunctionName,
        qualifier: Option<&str>,
    ) -> Option<(UrlAuthType, Resolved)> {
        let snap = self.snapshot(name)?;
        let auth = snap.urls.get(&qualifier.map(str::to_string))?.auth_type;
        let q = qualifier.map(|a| Qualifier::Alias(a.to_string()));
        let resolved = snap.resolve(q.as_ref())?;
        Some((auth, resolved))
    }

    /// The `Cors` block of a function URL, if the URL exists and has one.
    pub fn url_cors(
        &self,
        name: &FunctionName,
        qualifier: Option<&str>,
    ) -> Option<serde_json::Value> {
        let snap = self.snapshot(name)?;
        snap.urls.get(&qualifier.map(str::to_string))?.cors.clone()
    }

    /// The template for a version's code when it is loaded already.
    pub fn loaded_template(&self, config: &FunctionConfig) -> Option<Arc<dyn Template>> {
        self.lock_templates().get(&template_key(config)).cloned()
    }

    /// The loaded template for a version's code, loading it on first use
    /// (which may read and compile code: call it off the async workers
    /// unless [`Registry::loaded_template`] has it).
    pub fn template(&self, config: &FunctionConfig) -> Result<Arc<dyn Template>> {
        let key = template_key(config);
        if let Some(t) = self.lock_templates().get(&key) {
            return Ok(t.clone());
        }
        let runtime = self.runtime_for(&config.runtime)?;
        let archive = || {
            let zip = self
                .artifacts
                .get(&config.code_sha256)
                .map_err(|e| CodeError(format!("reading code {}: {e}", config.code_sha256)))?
                .ok_or_else(|| CodeError(format!("code {} is missing", config.code_sha256)))?;
            code::unpack(&zip, &self.config.limits).map_err(CodeError)
        };
        let template = runtime
            .load(
                &config.runtime,
                &config.code_sha256,
                &config.code_kind,
                &archive,
            )
            .map_err(|e| RegistryError::Internal(format!("loading code: {e}")))?;
        self.lock_templates().insert(key, template.clone());
        Ok(template)
    }

    fn lock_templates(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<dyn Template>>> {
        self.templates.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn runtime_for(&self, name: &str) -> Result<Arc<dyn Runtime>> {
        self.runtimes
            .iter()
            .find(|r| r.names().contains(&name))
            .cloned()
            .ok_or_else(|| {
                RegistryError::InvalidParameter(format!(
                    "Value {name} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                    self.runtime_names().join(", ")
                ))
            })
    }

    fn snapshot(&self, name: &FunctionName) -> Option<Arc<Snapshot>> {
        self.snapshots
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Reloads one function's snapshot from the store (after a change).
    fn refresh(&self, name: &FunctionName) -> Result<()> {
        let previous = self.snapshot(name);
        let snap = Snapshot::load(&*self.store, name, previous.as_deref())?;
        let replaced = {
            let mut snaps = self.snapshots.write().unwrap_or_else(|e| e.into_inner());
            match snap {
                Some(s) => snaps.insert(name.clone(), Arc::new(s)),
                None => snaps.remove(name),
            }
        };
        if replaced.is_some() {
            self.release_unused_templates();
        }
        Ok(())
    }

    /// Drops the loaded templates no version of any function uses any more
    /// (its code changed, or it was deleted): compiled code is freed once
    /// the environments started from it are gone too.
    fn release_unused_templates(&self) {
        let in_use: std::collections::HashSet<String> = {
            let snaps = self.snapshots.read().unwrap_or_else(|e| e.into_inner());
            snaps
                .values()
                .flat_map(|s| std::iter::once(&s.latest).chain(s.versions.values()))
                .map(|c| template_key(c))
                .collect()
        };
        let released: Vec<Arc<dyn Template>> = {
            let mut templates = self.lock_templates();
            let unused: Vec<String> = templates
                .keys()
                .filter(|k| !in_use.contains(*k))
                .cloned()
                .collect();
            unused.iter().filter_map(|k| templates.remove(k)).collect()
        };
        if !released.is_empty() {
            tracing::debug!(count = released.len(), "released unused code");
        }
    }

    /// How many templates are loaded (for tests and metrics).
    pub fn loaded_templates(&self) -> usize {
        self.lock_templates().len()
    }

    fn not_found(&self, name: &FunctionName, qualifier: Option<&Qualifier>) -> RegistryError {
        let arn = match qualifier {
            Some(q) => self.config.account.qualified_arn(name, &q.to_string()),
            None => self.config.account.function_arn(name),
        };
        RegistryError::NotFound(format!("Function not found: {arn}"))
    }
}

/// The key of a version's loaded template: its runtime and code.
fn template_key(config: &FunctionConfig) -> String {
    format!("{}/{}", config.runtime, config.code_sha256)
}

/// Creates `name` from a zip (runtime `wasm`, defaults otherwise) or
/// updates its code, and gives it a public (`NONE`) function URL. Used by
/// `updraft serve --deploy`.
pub fn deploy_or_update(registry: &Registry, name: &str, zip: Vec<u8>) -> Result<FunctionConfig> {
    let function = FunctionName::new(name).map_err(|e| RegistryError::InvalidParameter(e.0))?;
    let config = if registry.snapshot(&function).is_some() {
        registry.update_code(
            name,
            updraft_api::CodeUpdate {
                zip,
                s3: None,
                publish: false,
                dry_run: false,
                revision_id: None,
            },
        )?
    } else {
        registry.create_function(updraft_api::NewFunction {
            name: function.clone(),
            runtime: "wasm".into(),
            role: format!(
                "arn:aws:iam::{}:role/updraft",
                registry.account().account_id
            ),
            handler: None,
            description: String::new(),
            memory_size: updraft_types::DEFAULT_MEMORY_MB,
            timeout: updraft_types::DEFAULT_TIMEOUT_S,
            environment: Default::default(),
            zip,
            s3: None,
            publish: false,
            tags: Default::default(),
            dead_letter_target_arn: None,
            ephemeral_storage: updraft_types::DEFAULT_EPHEMERAL_STORAGE_MB,
        })?
    };
    if registry.url_target(&function, None).is_none() {
        registry.create_url_config(
            name,
            None,
            updraft_api::NewUrlConfig {
                auth_type: UrlAuthType::None,
                cors: None,
                invoke_mode: "BUFFERED".into(),
            },
        )?;
    }
    Ok(config)
}
