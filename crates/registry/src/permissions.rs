//! Function resource policies: `AddPermission`, `RemovePermission`,
//! `GetPolicy`, and the parsed policy the authorizer reads on every call.
//!
//! A function has one policy per qualifier: the unqualified function
//! (`$LATEST` names it too), each published version, each alias. Each is
//! stored with the function ([`Store::put_policy`]), goes when its
//! version, alias or function does, and is validated as a resource policy
//! ([`PolicyDocument::parse`]) before it is stored. The parsed document is
//! kept in the function's snapshot ([`LoadedPolicy`]), parsed once per
//! revision, so [`Registry::resource_policy`] is a read lock and an `Arc`
//! clone.
//!
//! [`Store::put_policy`]: updraft_store::Store::put_policy

use std::sync::Arc;

use updraft_api::{FunctionPolicyDocument, LambdaError, NewPermission};
use updraft_policy::{PolicyDocument, PolicyKind};
use updraft_store::{FunctionPolicy, StoreError};
use updraft_types::{new_request_id, FunctionName, Qualifier};

use crate::{Registry, RegistryError};

/// Why a permission operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PermissionError {
    /// The function or qualifier does not exist, a revision did not match,
    /// or the store failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Refused as Lambda refuses it: a statement id taken or not found, no
    /// policy, a policy too large or not valid.
    #[error(transparent)]
    Refused(#[from] LambdaError),
}

impl From<StoreError> for PermissionError {
    fn from(e: StoreError) -> Self {
        PermissionError::Registry(e.into())
    }
}

/// A stored policy with its parsed document.
#[derive(Debug)]
pub struct LoadedPolicy {
    pub text: String,
    pub revision_id: String,
    pub document: Arc<PolicyDocument>,
}

impl LoadedPolicy {
    /// Parses a stored policy; one that no longer parses is logged and
    /// left out (it grants nothing).
    pub(crate) fn load(stored: FunctionPolicy) -> Option<LoadedPolicy> {
        match PolicyDocument::parse(&stored.policy, PolicyKind::Resource) {
            Ok(document) => Some(LoadedPolicy {
                text: stored.policy,
                revision_id: stored.revision_id,
                document: Arc::new(document),
            }),
            Err(e) => {
                tracing::error!(
                    function = %stored.function,
                    qualifier = ?stored.qualifier,
                    error = %e,
                    "stored resource policy does not parse; ignored"
                );
                None
            }
        }
    }
}

/// `GetPolicy`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyView {
    pub policy: String,
    pub revision_id: String,
}

/// What a permission operation addresses: the policy's key, the ARN its
/// statements name, and the revision of the function, version or alias
/// (what `RevisionId` is compared with while there is no policy).
struct Target {
    key: Option<String>,
    resource_arn: String,
    resource_revision: String,
}

fn precondition_failed() -> PermissionError {
    RegistryError::PreconditionFailed(
        "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id".into(),
    )
    .into()
}

impl Registry {
    /// The function and qualifier a permission operation names; both must
    /// exist.
    fn policy_target(
        &self,
        name: &FunctionName,
        qualifier: Option<&Qualifier>,
    ) -> Result<Target, PermissionError> {
        let account = &self.config.account;
        let target = match qualifier {
            None | Some(Qualifier::Latest) => {
                let latest = self.latest(name)?;
                Target {
                    key: None,
                    resource_arn: account.function_arn(name),
                    resource_revision: latest.revision_id,
                }
            }
            Some(Qualifier::Version(n)) => {
                let v = n.to_string();
                let config = self
                    .store
                    .get_version(name, &v)?
                    .ok_or_else(|| self.not_found(name, qualifier))?;
                Target {
                    resource_arn: account.qualified_arn(name, &v),
                    key: Some(v),
                    resource_revision: config.revision_id,
                }
            }
            Some(Qualifier::Alias(a)) => {
                self.latest(name)?;
                let alias = self
                    .store
                    .get_alias(name, a)?
                    .ok_or_else(|| self.not_found(name, qualifier))?;
                Target {
                    resource_arn: account.qualified_arn(name, a),
                    key: Some(a.clone()),
                    resource_revision: alias.revision_id,
                }
            }
        };
        Ok(target)
    }

    /// Validates and stores `document` as the policy of `key`, or deletes
    /// the policy when it has no statement left.
    fn store_policy(
        &self,
        name: &FunctionName,
        key: Option<&str>,
        document: &FunctionPolicyDocument,
    ) -> Result<(), PermissionError> {
        if document.statement.is_empty() {
            self.store.delete_policy(name, key)?;
        } else {
            let text = document.to_json();
            PolicyDocument::parse(&text, PolicyKind::Resource).map_err(|e| {
                LambdaError::InvalidParameterValue(format!("The policy is not valid: {e}"))
            })?;
            self.store.put_policy(&FunctionPolicy {
                function: name.clone(),
                qualifier: key.map(str::to_string),
                policy: text,
                revision_id: new_request_id(),
            })?;
        }
        self.refresh(name)?;
        Ok(())
    }

    /// `AddPermission`: adds a statement to the policy of the function or
    /// the qualifier; returns the statement as Lambda answers it.
    pub fn add_permission(
        &self,
        name: &FunctionName,
        qualifier: Option<&Qualifier>,
        permission: NewPermission,
    ) -> Result<String, PermissionError> {
        let _w = self.write_guard();
        let target = self.policy_target(name, qualifier)?;
        let stored = self.store.get_policy(name, target.key.as_deref())?;
        if let Some(expected) = &permission.revision_id {
            let current = stored
                .as_ref()
                .map_or(&target.resource_revision, |p| &p.revision_id);
            if expected != current {
                return Err(precondition_failed());
            }
        }
        let mut document = match &stored {
            Some(p) => read_document(&p.policy)?,
            None => FunctionPolicyDocument::default(),
        };
        let statement = permission.statement(&target.resource_arn);
        let answer = statement.to_json();
        document.add(statement)?;
        self.store_policy(name, target.key.as_deref(), &document)?;
        tracing::info!(function = %name, ?qualifier, sid = %permission.statement_id, "permission added");
        Ok(answer)
    }

    /// `RemovePermission`: removes statement `sid` from the policy of the
    /// function or the qualifier (the policy goes with its last statement).
    pub fn remove_permission(
        &self,
        name: &FunctionName,
        qualifier: Option<&Qualifier>,
        sid: &str,
        revision_id: Option<&str>,
    ) -> Result<(), PermissionError> {
        let _w = self.write_guard();
        let target = self.policy_target(name, qualifier)?;
        let not_found = || {
            LambdaError::ResourceNotFound(format!(
                "Statement {sid} is not found in resource policy."
            ))
        };
        let Some(stored) = self.store.get_policy(name, target.key.as_deref())? else {
            return Err(not_found().into());
        };
        if revision_id.is_some_and(|r| r != stored.revision_id) {
            return Err(precondition_failed());
        }
        let mut document = read_document(&stored.policy)?;
        document.remove(sid)?;
        self.store_policy(name, target.key.as_deref(), &document)?;
        tracing::info!(function = %name, ?qualifier, %sid, "permission removed");
        Ok(())
    }

    /// `GetPolicy`: the policy of the function or the qualifier.
    pub fn get_policy(
        &self,
        name: &FunctionName,
        qualifier: Option<&Qualifier>,
    ) -> Result<PolicyView, PermissionError> {
        let target = self.policy_target(name, qualifier)?;
        let stored = self
            .store
            .get_policy(name, target.key.as_deref())?
            .ok_or_else(|| {
                LambdaError::ResourceNotFound(
                    "No policy is associated with the given resource.".into(),
                )
            })?;
        Ok(PolicyView {
            policy: stored.policy,
            revision_id: stored.revision_id,
        })
    }

    /// The parsed resource policy of a function (`qualifier` `None` or
    /// `$LATEST`: the unqualified function's; a version number or an alias:
    /// that one's, with no fallback to the unqualified policy, as Lambda
    /// decides a qualified call on the qualified resource). `None` when
    /// there is no such function or policy. For the authorizer: a read
    /// lock and an `Arc` clone.
    pub fn resource_policy(
        &self,
        name: &FunctionName,
        qualifier: Option<&str>,
    ) -> Option<Arc<PolicyDocument>> {
        let key = qualifier.filter(|q| *q != updraft_types::LATEST);
        let snap = self.snapshot(name)?;
        let policy = match key {
            None => snap.policies.get(&None),
            Some(q) => snap
                .policies
                .iter()
                .find_map(|(k, p)| (k.as_deref() == Some(q)).then_some(p)),
        };
        policy.map(|p| p.document.clone())
    }
}

/// Reads a stored policy; one that does not read is the store's fault.
fn read_document(text: &str) -> Result<FunctionPolicyDocument, PermissionError> {
    FunctionPolicyDocument::parse(text).map_err(|e| {
        RegistryError::Internal(format!("stored function policy does not read: {e}")).into()
    })
}
