//! The in-memory view of one function used by the invoke path.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use updraft_store::Store;
use updraft_types::{AliasConfig, FunctionConfig, FunctionName, Qualifier, UrlConfig, LATEST};

use crate::{Resolved, Result};

pub(crate) struct Snapshot {
    pub latest: Arc<FunctionConfig>,
    pub versions: BTreeMap<u64, Arc<FunctionConfig>>,
    pub aliases: HashMap<String, AliasConfig>,
    pub urls: HashMap<Option<String>, UrlConfig>,
}

impl Snapshot {
    pub fn load(store: &dyn Store, name: &FunctionName) -> Result<Option<Snapshot>> {
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
        Ok(Some(Snapshot {
            latest: Arc::new(latest),
            versions,
            aliases,
            urls,
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
