//! Provisioned concurrency: environments initialized ahead of traffic.
//!
//! Each config (function + version or alias) has a background task that
//! keeps its pool at the requested number of live environments, checking
//! every second, so one discarded after a fault is replaced. The config is
//! `IN_PROGRESS` until the first time every environment is up, then
//! `READY`. Configs are persisted by the registry and restored at start.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use updraft_pool::PoolKey;
use updraft_registry::Resolved;
use updraft_types::now_lambda_timestamp;

use crate::{InvokeError, Invoker};

/// How often a config's environments are topped up.
const TOP_UP: Duration = Duration::from_secs(1);

/// A provisioned concurrency config as GetProvisionedConcurrencyConfig
/// reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedStatus {
    pub qualifier: String,
    pub requested: u32,
    /// Environments alive and initialized.
    pub allocated: u32,
    /// `IN_PROGRESS`, `READY` or `FAILED`.
    pub status: &'static str,
    pub status_reason: Option<String>,
    pub last_modified: String,
}

struct Entry {
    key: PoolKey,
    requested: u32,
    allocated: Arc<AtomicUsize>,
    failure: Arc<Mutex<Option<String>>>,
    last_modified: String,
    task: JoinHandle<()>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The node's provisioned concurrency configs.
#[derive(Default)]
pub struct Provisioning {
    configs: Mutex<HashMap<(String, String), Entry>>,
}

impl Provisioning {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Entry>> {
        self.configs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn status(qualifier: &str, e: &Entry) -> ProvisionedStatus {
    let allocated = e.allocated.load(Ordering::SeqCst).min(e.requested as usize) as u32;
    let failure = e.failure.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let status = if allocated >= e.requested {
        "READY"
    } else if failure.is_some() {
        "FAILED"
    } else {
        "IN_PROGRESS"
    };
    ProvisionedStatus {
        qualifier: qualifier.to_string(),
        requested: e.requested,
        allocated,
        status,
        status_reason: failure.filter(|_| status == "FAILED"),
        last_modified: e.last_modified.clone(),
    }
}

impl Invoker {
    /// PutProvisionedConcurrencyConfig.
    pub fn put_provisioned(
        self: &Arc<Self>,
        function: &str,
        qualifier: Option<&str>,
        n: u32,
    ) -> Result<ProvisionedStatus, InvokeError> {
        let target = self
            .registry
            .set_provisioned_concurrency(function, qualifier, Some(n))?;
        let q = qualifier.unwrap_or_default().to_string();
        Ok(self.start_provisioning(function, &q, target, n))
    }

    /// GetProvisionedConcurrencyConfig.
    pub fn get_provisioned(&self, function: &str, qualifier: &str) -> Option<ProvisionedStatus> {
        let configs = self.provisioning.lock();
        configs
            .get(&(function.to_string(), qualifier.to_string()))
            .map(|e| status(qualifier, e))
    }

    /// ListProvisionedConcurrencyConfigs, ordered by qualifier.
    pub fn list_provisioned(&self, function: &str) -> Vec<ProvisionedStatus> {
        let configs = self.provisioning.lock();
        let mut out: Vec<ProvisionedStatus> = configs
            .iter()
            .filter(|((f, _), _)| f == function)
            .map(|((_, q), e)| status(q, e))
            .collect();
        out.sort_by(|a, b| a.qualifier.cmp(&b.qualifier));
        out
    }

    /// DeleteProvisionedConcurrencyConfig: the environments stay until
    /// they go idle for the idle timeout, as any others.
    pub fn delete_provisioned(&self, function: &str, qualifier: &str) -> Result<(), InvokeError> {
        self.registry
            .set_provisioned_concurrency(function, Some(qualifier), None)?;
        if let Some(e) = self
            .provisioning
            .lock()
            .remove(&(function.to_string(), qualifier.to_string()))
        {
            self.pools.unprovision(&e.key);
        }
        Ok(())
    }

    /// Starts the provisioning of every stored config (at node start).
    pub fn restore_provisioning(self: &Arc<Self>) {
        let functions = match self.registry.list_functions() {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "cannot read provisioned concurrency configs");
                return;
            }
        };
        for f in functions {
            for (q, n) in &f.provisioned_concurrency {
                let qualifier = updraft_types::Qualifier::parse(q).ok();
                match self.registry.resolve(&f.name, qualifier.as_ref()) {
                    Ok(target) => {
                        self.start_provisioning(f.name.as_str(), q, target, *n);
                    }
                    Err(e) => {
                        tracing::warn!(function = %f.name, qualifier = %q, error = %e, "provisioned concurrency target is gone")
                    }
                }
            }
        }
    }

    fn start_provisioning(
        self: &Arc<Self>,
        function: &str,
        qualifier: &str,
        target: Resolved,
        n: u32,
    ) -> ProvisionedStatus {
        let key = PoolKey {
            function: self.registry.scoped_name(function).into_owned(),
            version: target.config.version.clone(),
            revision: target.config.revision_id.clone(),
        };
        let new_key = key.clone();
        let allocated = Arc::new(AtomicUsize::new(0));
        let failure = Arc::new(Mutex::new(None));
        let this = self.clone();
        let task = {
            let (key, allocated, failure) = (key.clone(), allocated.clone(), failure.clone());
            tokio::spawn(async move {
                loop {
                    let mut started = Vec::new();
                    let result = match this.template(&target.config).await {
                        Ok(template) => this
                            .pools
                            .provision(
                                &key,
                                &template,
                                || this.env_config(&target),
                                n as usize,
                                &mut started,
                            )
                            .await
                            .map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    for init in started {
                        this.metrics.cold_start(&key.function, init.as_secs_f64());
                    }
                    match result {
                        Ok(live) => {
                            allocated.store(live, Ordering::SeqCst);
                            *failure.lock().unwrap_or_else(|p| p.into_inner()) = None;
                        }
                        Err(e) => {
                            tracing::warn!(function = %key.function, error = %e, "provisioning environments failed");
                            *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        }
                    }
                    tokio::time::sleep(TOP_UP).await;
                }
            })
        };
        let entry = Entry {
            key,
            requested: n,
            allocated,
            failure,
            last_modified: now_lambda_timestamp(),
            task,
        };
        let out = status(qualifier, &entry);
        let previous = self
            .provisioning
            .lock()
            .insert((function.to_string(), qualifier.to_string()), entry);
        if let Some(old) = previous {
            if old.key != new_key {
                self.pools.unprovision(&old.key);
            }
        }
        out
    }
}
