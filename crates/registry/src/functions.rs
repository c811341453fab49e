//! Control-plane operations: functions, versions, aliases, URL configs.

use updraft_api::{
    AliasUpdate, CodeUpdate, ConfigUpdate, NewAlias, NewFunction, NewUrlConfig, NewVersion,
    UrlConfigUpdate,
};
use updraft_types::{
    new_request_id, now_lambda_timestamp, AliasConfig, FunctionConfig, FunctionName, Qualifier,
    UrlConfig, LATEST,
};

use crate::{code, Registry, RegistryError, Result};

fn parse_name(name: &str) -> Result<FunctionName> {
    FunctionName::new(name).map_err(|e| RegistryError::InvalidParameter(e.0))
}

/// Whether two versions would behave the same (PublishVersion reuses the
/// last version when nothing changed).
fn same_code_and_config(a: &FunctionConfig, b: &FunctionConfig) -> bool {
    a.code_sha256 == b.code_sha256
        && a.runtime == b.runtime
        && a.handler == b.handler
        && a.memory_size == b.memory_size
        && a.timeout == b.timeout
        && a.environment == b.environment
        && a.role == b.role
}

impl Registry {
    pub(crate) fn write_guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Validates, compiles and stores a package; returns (sha256, kind, size).
    fn deploy_code(&self, runtime: &str, zip: &[u8]) -> Result<(String, String, u64)> {
        let runtime_impl = self.runtime_for(runtime)?;
        let archive =
            code::unpack(zip, &self.config.limits).map_err(RegistryError::InvalidParameter)?;
        let sha = self
            .artifacts
            .put(zip)
            .map_err(|e| RegistryError::Internal(format!("storing code: {e}")))?;
        let kind = runtime_impl
            .prepare(runtime, &sha, &archive)
            .map_err(|e| RegistryError::InvalidParameter(e.0))?;
        Ok((sha, kind, zip.len() as u64))
    }

    pub(crate) fn latest(&self, name: &FunctionName) -> Result<FunctionConfig> {
        self.store
            .get_version(name, LATEST)?
            .ok_or_else(|| self.not_found(name, None))
    }

    fn check_revision(&self, current: &str, expected: Option<&str>) -> Result<()> {
        match expected {
            Some(e) if e != current => Err(RegistryError::PreconditionFailed(
                "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id".into(),
            )),
            _ => Ok(()),
        }
    }

    pub fn create_function(&self, req: NewFunction) -> Result<FunctionConfig> {
        let name = req.name;
        if self.snapshot(&name).is_some() {
            return Err(RegistryError::Conflict(format!(
                "Function already exist: {name}"
            )));
        }
        let (sha, kind, size) = self.deploy_code(&req.runtime, &req.zip)?;
        let config = FunctionConfig {
            name: name.clone(),
            version: LATEST.to_string(),
            runtime: req.runtime,
            handler: req.handler,
            role: req.role,
            description: req.description,
            memory_size: req.memory_size,
            timeout: req.timeout,
            environment: req.environment,
            code_sha256: sha,
            code_size: size,
            code_kind: kind,
            last_modified: now_lambda_timestamp(),
            revision_id: new_request_id(),
            reserved_concurrency: None,
            provisioned_concurrency: Default::default(),
            dead_letter_target_arn: req.dead_letter_target_arn,
            ephemeral_storage: req.ephemeral_storage,
        };
        let _w = self.write_guard();
        self.store.create_function(&config).map_err(|e| match e {
            updraft_store::StoreError::Conflict(_) => {
                RegistryError::Conflict(format!("Function already exist: {name}"))
            }
            e => e.into(),
        })?;
        let result = if req.publish {
            self.store.publish_version(&config)?
        } else {
            config
        };
        self.refresh(&name)?;
        tracing::info!(function = %name, "function created");
        Ok(result)
    }

    /// A version's configuration: `$LATEST`, a number, or an alias's target.
    pub fn get_function(&self, name: &str, qualifier: Option<&str>) -> Result<FunctionConfig> {
        let name = parse_name(name)?;
        let q = qualifier
            .map(Qualifier::parse)
            .transpose()
            .map_err(|e| RegistryError::InvalidParameter(e.0))?;
        let config = match &q {
            None | Some(Qualifier::Latest) => self.store.get_version(&name, LATEST)?,
            Some(Qualifier::Version(n)) => self.store.get_version(&name, &n.to_string())?,
            Some(Qualifier::Alias(a)) => match self.store.get_alias(&name, a)? {
                Some(alias) => self.store.get_version(&name, &alias.function_version)?,
                None => None,
            },
        };
        config.ok_or_else(|| self.not_found(&name, q.as_ref()))
    }

    pub fn list_functions(&self) -> Result<Vec<FunctionConfig>> {
        Ok(self.store.list_functions()?)
    }

    /// UpdateFunctionCode; with `dry_run` the code is checked and
    /// compiled but `$LATEST` is left as it was.
    pub fn update_code(&self, name: &str, req: CodeUpdate) -> Result<FunctionConfig> {
        let name = parse_name(name)?;
        let current = self.latest(&name)?;
        self.check_revision(&current.revision_id, req.revision_id.as_deref())?;
        let (sha, kind, size) = self.deploy_code(&current.runtime, &req.zip)?;
        let _w = self.write_guard();
        let current = self.latest(&name)?;
        self.check_revision(&current.revision_id, req.revision_id.as_deref())?;
        let updated = FunctionConfig {
            code_sha256: sha,
            code_kind: kind,
            code_size: size,
            last_modified: now_lambda_timestamp(),
            revision_id: new_request_id(),
            ..current
        };
        if req.dry_run {
            return Ok(updated);
        }
        self.store.update_latest(&updated)?;
        let result = if req.publish {
            self.publish_locked(&updated, None)?
        } else {
            updated
        };
        self.refresh(&name)?;
        self.pools.evict_function(&self.scoped_name(name.as_str()));
        Ok(result)
    }

    pub fn update_configuration(&self, name: &str, update: ConfigUpdate) -> Result<FunctionConfig> {
        let name = parse_name(name)?;
        let _w = self.write_guard();
        let current = self.latest(&name)?;
        self.check_revision(&current.revision_id, update.revision_id.as_deref())?;
        if let Some(r) = &update.runtime {
            if *r != current.runtime {
                self.runtime_for(r)?;
                return Err(RegistryError::InvalidParameter(format!(
                    "Changing the runtime of a function ({} to {r}) is not supported: create a new function with the new runtime",
                    current.runtime
                )));
            }
        }
        let mut updated = current;
        update.apply(&mut updated);
        updated.last_modified = now_lambda_timestamp();
        updated.revision_id = new_request_id();
        self.store.update_latest(&updated)?;
        self.refresh(&name)?;
        self.pools.evict_function(&self.scoped_name(name.as_str()));
        Ok(updated)
    }

    /// Deletes a function, or one published version when `qualifier` is a
    /// version number.
    pub fn delete_function(&self, name: &str, qualifier: Option<&str>) -> Result<()> {
        let name = parse_name(name)?;
        let _w = self.write_guard();
        match qualifier {
            None => {
                self.store.delete_function(&name).map_err(|e| match e {
                    updraft_store::StoreError::NotFound(_) => self.not_found(&name, None),
                    e => e.into(),
                })?;
                self.limits.set_reserved(name.as_str(), None);
            }
            Some(q) => match Qualifier::parse(q)
                .map_err(|e| RegistryError::InvalidParameter(e.0))?
            {
                Qualifier::Latest => {
                    return Err(RegistryError::InvalidParameter(
                        "$LATEST version cannot be deleted without deleting the function.".into(),
                    ))
                }
                Qualifier::Alias(_) => return Err(RegistryError::InvalidParameter(
                    "Deletion of aliases is not supported through DeleteFunction: use DeleteAlias"
                        .into(),
                )),
                Qualifier::Version(n) => {
                    let v = n.to_string();
                    let referencing: Vec<String> = self
                        .store
                        .list_aliases(&name)?
                        .into_iter()
                        .filter(|a| a.function_version == v)
                        .map(|a| a.name)
                        .collect();
                    if !referencing.is_empty() {
                        return Err(RegistryError::Conflict(format!(
                            "Unable to delete version because the following aliases reference it: [{}]",
                            referencing.join(", ")
                        )));
                    }
                    self.store.delete_version(&name, &v).map_err(|e| match e {
                        updraft_store::StoreError::NotFound(_) => {
                            self.not_found(&name, Some(&Qualifier::Version(n)))
                        }
                        e => e.into(),
                    })?;
                }
            },
        }
        self.refresh(&name)?;
        self.pools.evict_function(&self.scoped_name(name.as_str()));
        tracing::info!(function = %name, ?qualifier, "deleted");
        Ok(())
    }

    pub fn publish_version(&self, name: &str, req: NewVersion) -> Result<FunctionConfig> {
        let name = parse_name(name)?;
        let _w = self.write_guard();
        let latest = self.latest(&name)?;
        self.check_revision(&latest.revision_id, req.revision_id.as_deref())?;
        if let Some(expected) = &req.code_sha256 {
            if !updraft_api::code_sha256_matches(expected, &latest.code_sha256) {
                return Err(RegistryError::InvalidParameter(format!(
                    "CodeSHA256 ({expected}) is different from current CodeSHA256 in $LATEST ({}). Please try again with the current CodeSHA256.",
                    updraft_api::code_sha256_base64(&latest.code_sha256)
                )));
            }
        }
        let published = self.publish_locked(&latest, req.description)?;
        self.refresh(&name)?;
        Ok(published)
    }

    fn publish_locked(
        &self,
        latest: &FunctionConfig,
        description: Option<String>,
    ) -> Result<FunctionConfig> {
        let versions = self.store.list_versions(&latest.name)?;
        if let Some(last) = versions.iter().rev().find(|v| v.version != LATEST) {
            if same_code_and_config(last, latest) {
                return Ok(last.clone());
            }
        }
        let mut to_publish = latest.clone();
        if let Some(d) = description {
            to_publish.description = d;
        }
        Ok(self.store.publish_version(&to_publish)?)
    }

    /// PutFunctionConcurrency (`Some`) / DeleteFunctionConcurrency (`None`).
    /// As on Lambda, part of the account limit always stays unreserved:
    /// 100, or a tenth of the limit when that is smaller.
    pub fn set_reserved_concurrency(&self, name: &str, reserved: Option<u32>) -> Result<()> {
        let name = parse_name(name)?;
        let _w = self.write_guard();
        let mut latest = self.latest(&name)?;
        if let Some(n) = reserved {
            let account = self.limits.account_limit();
            let min_unreserved = (account / 10).min(100);
            let others = self.limits.reserved_total_except(name.as_str());
            if others + n as usize > account.saturating_sub(min_unreserved) {
                return Err(RegistryError::InvalidParameter(format!(
                    "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{min_unreserved}]."
                )));
            }
        }
        latest.reserved_concurrency = reserved;
        self.store.update_latest(&latest)?;
        self.refresh(&name)?;
        self.limits
            .set_reserved(name.as_str(), reserved.map(|n| n as usize));
        Ok(())
    }

    /// PutProvisionedConcurrencyConfig (`Some`) / Delete... (`None`) for a
    /// published version or an alias. Returns what the qualifier resolves to.
    pub fn set_provisioned_concurrency(
        &self,
        name: &str,
        qualifier: Option<&str>,
        provisioned: Option<u32>,
    ) -> Result<crate::Resolved> {
        let name = parse_name(name)?;
        let q = match qualifier.map(Qualifier::parse) {
            None => {
                return Err(RegistryError::InvalidParameter(
                    "Qualifier is required: a published version or an alias".into(),
                ))
            }
            Some(Err(e)) => return Err(RegistryError::InvalidParameter(e.0)),
            Some(Ok(Qualifier::Latest)) => {
                return Err(RegistryError::InvalidParameter(
                    "Provisioned Concurrency Configs cannot be applied to unpublished function versions.".into(),
                ))
            }
            Some(Ok(q)) => q,
        };
        let _w = self.write_guard();
        let mut latest = self.latest(&name)?;
        let key = q.to_string();
        match provisioned {
            Some(n) => {
                latest.provisioned_concurrency.insert(key, n);
            }
            None => {
                if latest.provisioned_concurrency.remove(&key).is_none() {
                    return Err(RegistryError::NotFound(format!(
                        "No Provisioned Concurrency Config found for this function: {}",
                        self.config.account.qualified_arn(&name, &q.to_string())
                    )));
                }
            }
        }
        let resolved = self.resolve(&name, Some(&q))?;
        self.store.update_latest(&latest)?;
        self.refresh(&name)?;
        Ok(resolved)
    }

    /// Provisioned concurrency per qualifier.
    pub fn provisioned_concurrency(
        &self,
        name: &str,
    ) -> Result<std::collections::BTreeMap<String, u32>> {
        let name = parse_name(name)?;
        Ok(self.latest(&name)?.provisioned_concurrency)
    }

    /// The function's reserved concurrency, if any.
    pub fn reserved_concurrency(&self, name: &str) -> Result<Option<u32>> {
        let name = parse_name(name)?;
        Ok(self.latest(&name)?.reserved_concurrency)
    }

    /// `$LATEST` and the published versions, ascending.
    pub fn list_versions(&self, name: &str) -> Result<Vec<FunctionConfig>> {
        let name = parse_name(name)?;
        self.store.list_versions(&name).map_err(|e| match e {
            updraft_store::StoreError::NotFound(_) => self.not_found(&name, None),
            e => e.into(),
        })
    }

    fn check_version_exists(&self, name: &FunctionName, version: &str) -> Result<()> {
        let exists = Qualifier::parse(version).is_ok_and(|q| !matches!(q, Qualifier::Alias(_)))
            && self.store.get_version(name, version)?.is_some();
        if !exists {
            return Err(RegistryError::NotFound(format!(
                "Function not found: {}",
                self.config.account.qualified_arn(name, version)
            )));
        }
        Ok(())
    }

    fn alias_not_found(&self, name: &FunctionName, alias: &str) -> RegistryError {
        RegistryError::NotFound(format!(
            "Cannot find alias arn: {}",
            self.config.account.qualified_arn(name, alias)
        ))
    }

    pub fn create_alias(&self, function: &str, req: NewAlias) -> Result<AliasConfig> {
        let name = parse_name(function)?;
        let _w = self.write_guard();
        self.latest(&name)?;
        self.check_version_exists(&name, &req.function_version)?;
        let config = AliasConfig {
            function: name.clone(),
            name: req.name.clone(),
            function_version: req.function_version,
            description: req.description,
            revision_id: new_request_id(),
        };
        self.store.put_alias(&config, false).map_err(|e| match e {
            updraft_store::StoreError::Conflict(_) => RegistryError::Conflict(format!(
                "Alias already exists: {}",
                self.config.account.qualified_arn(&name, &req.name)
            )),
            e => e.into(),
        })?;
        self.refresh(&name)?;
        Ok(config)
    }

    pub fn get_alias(&self, function: &str, alias: &str) -> Result<AliasConfig> {
        let name = parse_name(function)?;
        self.latest(&name)?;
        self.store
            .get_alias(&name, alias)?
            .ok_or_else(|| self.alias_not_found(&name, alias))
    }

    pub fn update_alias(
        &self,
        function: &str,
        alias: &str,
        req: AliasUpdate,
    ) -> Result<AliasConfig> {
        let name = parse_name(function)?;
        let _w = self.write_guard();
        self.latest(&name)?;
        let current = self
            .store
            .get_alias(&name, alias)?
            .ok_or_else(|| self.alias_not_found(&name, alias))?;
        self.check_revision(&current.revision_id, req.revision_id.as_deref())?;
        if let Some(v) = &req.function_version {
            self.check_version_exists(&name, v)?;
        }
        let updated = AliasConfig {
            function_version: req.function_version.unwrap_or(current.function_version),
            description: req.description.unwrap_or(current.description),
            revision_id: new_request_id(),
            ..current
        };
        self.store.put_alias(&updated, true)?;
        self.refresh(&name)?;
        Ok(updated)
    }

    pub fn delete_alias(&self, function: &str, alias: &str) -> Result<()> {
        let name = parse_name(function)?;
        let _w = self.write_guard();
        self.latest(&name)?;
        // Lambda answers 204 whether or not the alias existed.
        match self.store.delete_alias(&name, alias) {
            Ok(()) | Err(updraft_store::StoreError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        if self.store.get_url_config(&name, Some(alias))?.is_some() {
            self.store.delete_url_config(&name, Some(alias))?;
        }
        self.refresh(&name)?;
        Ok(())
    }

    pub fn list_aliases(&self, function: &str, version: Option<&str>) -> Result<Vec<AliasConfig>> {
        let name = parse_name(function)?;
        self.latest(&name)?;
        Ok(self
            .store
            .list_aliases(&name)?
            .into_iter()
            .filter(|a| version.is_none_or(|v| a.function_version == v))
            .collect())
    }

    /// Checks a URL config's qualifier: none, or an existing alias.
    fn url_qualifier(
        &self,
        name: &FunctionName,
        qualifier: Option<&str>,
    ) -> Result<Option<String>> {
        match qualifier {
            None => Ok(None),
            Some(q) => match Qualifier::parse(q).map_err(|e| RegistryError::InvalidParameter(e.0))? {
                Qualifier::Latest => Ok(None),
                Qualifier::Version(_) => Err(RegistryError::InvalidParameter(
                    "1 validation error detected: Value at 'qualifier' failed to satisfy constraint: a function URL qualifier must be an alias name or $LATEST, not a version number".into(),
                )),
                Qualifier::Alias(a) => {
                    if self.store.get_alias(name, &a)?.is_none() {
                        return Err(self.alias_not_found(name, &a));
                    }
                    Ok(Some(a))
                }
            },
        }
    }

    pub fn create_url_config(
        &self,
        function: &str,
        qualifier: Option<&str>,
        input: NewUrlConfig,
    ) -> Result<UrlConfig> {
        let name = parse_name(function)?;
        let _w = self.write_guard();
        self.latest(&name)?;
        let qualifier = self.url_qualifier(&name, qualifier)?;
        let now = now_lambda_timestamp();
        let config = UrlConfig {
            function: name.clone(),
            qualifier: qualifier.clone(),
            auth_type: input.auth_type,
            cors: input.cors,
            invoke_mode: input.invoke_mode,
            creation_time: now.clone(),
            last_modified_time: now,
        };
        self.store.put_url_config(&config, false).map_err(|e| match e {
            updraft_store::StoreError::Conflict(_) => RegistryError::Conflict(format!(
                "Failed to create function url config for [functionArn = {}]. Error message:  FunctionUrlConfig exists for this Lambda function",
                match &qualifier {
                    Some(q) => self.config.account.qualified_arn(&name, q),
                    None => self.config.account.function_arn(&name),
                }
            )),
            e => e.into(),
        })?;
        self.refresh(&name)?;
        Ok(config)
    }

    pub fn update_url_config(
        &self,
        function: &str,
        qualifier: Option<&str>,
        input: UrlConfigUpdate,
    ) -> Result<UrlConfig> {
        let name = parse_name(function)?;
        let _w = self.write_guard();
        let current = self.get_url_config(function, qualifier)?;
        let updated = UrlConfig {
            auth_type: input.auth_type.unwrap_or(current.auth_type),
            cors: input.cors.or(current.cors.clone()),
            invoke_mode: input.invoke_mode.unwrap_or(current.invoke_mode.clone()),
            last_modified_time: now_lambda_timestamp(),
            ..current
        };
        self.store.put_url_config(&updated, true)?;
        self.refresh(&name)?;
        Ok(updated)
    }

    pub fn get_url_config(&self, function: &str, qualifier: Option<&str>) -> Result<UrlConfig> {
        let name = parse_name(function)?;
        self.latest(&name)?;
        let qualifier = self.url_qualifier(&name, qualifier)?;
        self.store
            .get_url_config(&name, qualifier.as_deref())?
            .ok_or_else(|| {
                RegistryError::NotFound(format!(
                    "The resource you requested does not exist. (Function URL config for {name}{})",
                    qualifier.map(|q| format!(":{q}")).unwrap_or_default()
                ))
            })
    }

    /// The function's URL configs: the unqualified one first, then by alias.
    pub fn list_url_configs(&self, function: &str) -> Result<Vec<UrlConfig>> {
        let name = parse_name(function)?;
        self.latest(&name)?;
        Ok(self.store.list_url_configs(&name)?)
    }

    pub fn delete_url_config(&self, function: &str, qualifier: Option<&str>) -> Result<()> {
        let name = parse_name(function)?;
        let _w = self.write_guard();
        let config = self.get_url_config(function, qualifier)?;
        self.store
            .delete_url_config(&name, config.qualifier.as_deref())?;
        self.refresh(&name)?;
        Ok(())
    }
}
