//! The in-memory view of one function used by the invoke path.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use updraft_store::Store;
use updraft_types::{AliasConfig, FunctionConfig, FunctionName, Qualifier, UrlConfig, LATEST};

use crate::permissions::LoadedPolicy;
use crate::{Resolved, Result};

pub(crate) struct Snapshot {
    pub latest: Arc<FunctionConfig>,
    pub versions: BTreeMap<u64, Arc<FunctionConfig>>,
    pub aliases: HashMap<String, AliasConfig>,
    pub urls: HashMap<Option<String>, UrlConfig>,
    /// Resource policies by qualifier (`None`: the unqualified function),
    /// parsed.
    pub policies: HashMap<Option<String>, Arc<LoadedPolicy>>,
}

impl Snapshot {
    /// Loads a function's records; policies whose revision `previous`
    /// holds already are taken from it rather than parsed again.
    pub fn load(
        store: &dyn Store,
        name: &FunctionName,
        previous: Option<&Snapshot>,
    ) -> Result<Option<Snapshot>> {
        let Some(latest) = store.get_version(name, LATEST)? else {
            return Ok(None);
        };
        let versions = store
            .list_versions(name)?
            .into_iter()
            .filter_map(|v| v.version.parse::<u64>().ok().map(|n| (n, Arc::new(v))))
            .collect();
        let aliases = store
            .list_aliases(name)?
            .into_iter()
            .map(|a| (a.name.clone(), a))
            .collect();
        let urls = store
            .list_url_configs(name)?
            .into_iter()
            .map(|u| (u.qualifier.clone(), u))
            .collect();
        let policies = store
            .list_policies(name)?
            .into_iter()
            .filter_map(|stored| {
                let known = previous
                    .and_then(|p| p.policies.get(&stored.qualifier))
                    .filter(|p| p.revision_id == stored.revision_id);
                let loaded = match known {
                    Some(p) => p.clone(),
                    None => Arc::new(LoadedPolicy::load(stored.clone())?),
                };
                Some((stored.qualifier, loaded))
            })
            .collect();
        Ok(Some(Snapshot {
            latest: Arc::new(latest),
            versions,
            aliases,
            urls,
            policies,
        }))
    }

    pub fn version(&self, v: &str) -> Option<Arc<FunctionConfig>> {
        if v == LATEST {
            return Some(self.latest.clone());
        }
        self.versions.get(&v.parse().ok()?).cloned()
    }

    pub fn resolve(&self, qualifier: Option<&Qualifier>) -> Option<Resolved> {
        let config = match qualifier {
            None | Some(Qualifier::Latest) => self.latest.clone(),
            Some(Qualifier::Version(n)) => self.versions.get(n)?.clone(),
            Some(Qualifier::Alias(a)) => self.version(&self.aliases.get(a)?.function_version)?,
        };
        Some(Resolved {
            executed_version: config.version.clone(),
            config,
        })
    }
}
