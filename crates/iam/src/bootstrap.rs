//! The bootstrap file: accounts and principals an operator declares, made
//! to exist at start by [`Iam::apply_bootstrap`]. Applying a file again
//! changes nothing that already matches it: missing entities are created,
//! keys get the declared secrets, declared policies get the declared
//! documents, declared attachments and memberships are added; nothing
//! absent from the file is removed.
//!
//! TOML (`.toml`) or JSON (`.json`). Policy documents are JSON text, or in
//! a JSON file also inline objects:
//!
//! ```toml
//! [[accounts]]
//! id = "123456789012"
//! root_keys = [{ access_key_id = "FOOBARKEY", secret_access_key = "FOOBARSECRET" }]
//! # or, for one root key:
//! # root_access_key_id = "FOOBARKEY"
//! # root_secret_access_key = "FOOBARSECRET"
//!
//! [[accounts.policies]]
//! name = "QueueReaders"
//! path = "/"                      # optional
//! document = '''{"Version":"2012-10-17","Statement":[
//!   {"Effect":"Allow","Action":"sqs:ReceiveMessage","Resource":"*"}]}'''
//!
//! [[accounts.groups]]
//! name = "readers"
//! managed_policies = ["arn:aws:iam::123456789012:policy/QueueReaders"]
//!
//! [[accounts.users]]
//! name = "alice"
//! groups = ["readers"]
//! keys = [{ access_key_id = "AKIAALICE0000000000A", secret_access_key = "alice-secret" }]
//! inline_policies = { invoke = '''{"Version":"2012-10-17","Statement":[
//!   {"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"*"}]}''' }
//!
//! [[accounts.roles]]
//! name = "fn-exec"
//! max_session_duration = 3600     # optional
//! trust_policy = '''{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
//!   "Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'''
//! managed_policies = ["arn:aws:iam::aws:policy/AdministratorAccess"]
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use chrono::Utc;
use serde::Deserialize;
use updraft_policy::PolicyKind;

use crate::error::IamError;
use crate::ids;
use crate::model::{AccessKey, Doc, Group, KeyStatus, ManagedPolicy, PolicyVersion, Role, User};
use crate::state::{Account, State};
use crate::store::Change;
use crate::Iam;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bootstrap {
    #[serde(default)]
    pub accounts: Vec<BootstrapAccount>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapAccount {
    pub id: String,
    #[serde(default)]
    pub root_keys: Vec<BootstrapKey>,
    /// One root key in short form (with `root_secret_access_key`).
    #[serde(default)]
    pub root_access_key_id: Option<String>,
    #[serde(default)]
    pub root_secret_access_key: Option<String>,
    #[serde(default)]
    pub policies: Vec<BootstrapPolicy>,
    #[serde(default)]
    pub groups: Vec<BootstrapGroup>,
    #[serde(default)]
    pub roles: Vec<BootstrapRole>,
    #[serde(default)]
    pub users: Vec<BootstrapUser>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapKey {
    pub access_key_id: String,
    pub secret_access_key: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapPolicy {
    pub name: String,
    #[serde(default = "root_path")]
    pub path: String,
    pub document: serde_json::Value,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapGroup {
    pub name: String,
    #[serde(default = "root_path")]
    pub path: String,
    #[serde(default)]
    pub managed_policies: Vec<String>,
    #[serde(default)]
    pub inline_policies: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapRole {
    pub name: String,
    #[serde(default = "root_path")]
    pub path: String,
    pub trust_policy: serde_json::Value,
    #[serde(default)]
    pub max_session_duration: Option<u32>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub managed_policies: Vec<String>,
    #[serde(default)]
    pub inline_policies: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapUser {
    pub name: String,
    #[serde(default = "root_path")]
    pub path: String,
    #[serde(default)]
    pub keys: Vec<BootstrapKey>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub managed_policies: Vec<String>,
    #[serde(default)]
    pub inline_policies: BTreeMap<String, serde_json::Value>,
}

fn root_path() -> String {
    "/".to_string()
}

fn bad(what: impl std::fmt::Display) -> IamError {
    IamError::Bootstrap(what.to_string())
}

impl Bootstrap {
    /// Reads a bootstrap file: JSON when its name ends in `.json`,
    /// otherwise TOML.
    pub fn from_file(path: &Path) -> Result<Bootstrap, IamError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad(format!("reading {}: {e}", path.display())))?;
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if is_json {
            Bootstrap::from_json(&text)
        } else {
            Bootstrap::from_toml(&text)
        }
        .map_err(|e| bad(format!("{}: {e}", path.display())))
    }

    pub fn from_toml(text: &str) -> Result<Bootstrap, IamError> {
        toml::from_str(text).map_err(bad)
    }

    pub fn from_json(text: &str) -> Result<Bootstrap, IamError> {
        serde_json::from_str(text).map_err(bad)
    }
}

/// A document given as JSON text or as a JSON value.
fn doc(value: &serde_json::Value, kind: PolicyKind, what: &str) -> Result<Doc, IamError> {
    let text = match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Doc::parse(&text, kind).map_err(|e| bad(format!("{what}: {e}")))
}

fn check_name(name: &str, what: &str) -> Result<(), IamError> {
    ids::check_name(name, what, 128).map_err(|e| bad(e.message))
}

fn check_attachable(
    acct: &Account,
    arns: &[String],
    extra: &[ManagedPolicy],
) -> Result<(), IamError> {
    for arn in arns {
        let known = acct.managed(arn).is_some() || extra.iter().any(|p| &p.arn == arn);
        if !known {
            return Err(bad(format!("policy {arn} does not exist")));
        }
    }
    Ok(())
}

fn add_missing(list: &mut Vec<String>, wanted: &[String]) {
    for w in wanted {
        if !list.iter().any(|a| a == w) {
            list.push(w.clone());
        }
    }
}

fn key_free(state: &State, id: &str, account: &str, user: Option<&str>) -> Result<(), IamError> {
    if state.sessions.contains_key(id) {
        return Err(bad(format!("access key {id} is a session key")));
    }
    match state.keys.get(id) {
        Some(o) if o.account != account || o.user.as_deref() != user => Err(bad(format!(
            "access key {id} already belongs to another principal"
        ))),
        _ => Ok(()),
    }
}

fn upsert_key(keys: &mut Vec<AccessKey>, k: &BootstrapKey) {
    match keys.iter_mut().find(|e| e.id == k.access_key_id) {
        Some(e) => {
            e.secret = k.secret_access_key.clone();
            e.status = KeyStatus::Active;
        }
        None => keys.push(AccessKey {
            id: k.access_key_id.clone(),
            secret: k.secret_access_key.clone(),
            status: KeyStatus::Active,
            created: Utc::now(),
        }),
    }
}

impl Iam {
    /// Makes everything `bootstrap` declares exist (see the module header).
    pub fn apply_bootstrap(&self, bootstrap: &Bootstrap) -> Result<(), IamError> {
        for a in &bootstrap.accounts {
            self.ensure_account(&a.id)
                .map_err(|e| bad(format!("account {}: {e}", a.id)))?;
            let short = match (&a.root_access_key_id, &a.root_secret_access_key) {
                (Some(id), Some(secret)) => Some(BootstrapKey {
                    access_key_id: id.clone(),
                    secret_access_key: secret.clone(),
                }),
                (None, None) => None,
                _ => {
                    return Err(bad(format!(
                        "account {}: root_access_key_id and root_secret_access_key go together",
                        a.id
                    )))
                }
            };
            for k in a.root_keys.iter().chain(short.as_ref()) {
                self.ensure_root_key(&a.id, &k.access_key_id, &k.secret_access_key)
                    .map_err(|e| bad(format!("account {}: {e}", a.id)))?;
            }
            self.commit(|state| bootstrap_account(state, a).map(|c| (c, ())))?;
        }
        Ok(())
    }
}

/// The changes that make `state` match one declared account.
fn bootstrap_account(state: &State, a: &BootstrapAccount) -> Result<Vec<Change>, IamError> {
    let acct = state
        .account(&a.id)
        .ok_or_else(|| IamError::NoSuchAccount(a.id.clone()))?;
    let id = a.id.as_str();
    let now = Utc::now();
    let mut changes = Vec::new();

    let mut policies = Vec::new();
    for p in &a.policies {
        check_name(&p.name, "policyName")?;
        ids::check_path(&p.path).map_err(|e| bad(e.message))?;
        let d = doc(
            &p.document,
            PolicyKind::Identity,
            &format!("policy {}", p.name),
        )?;
        let policy = match acct.policies.get(&p.name.to_ascii_lowercase()) {
            Some(existing) => {
                let mut existing = existing.clone();
                let default = existing.default_version.clone();
                if let Some(v) = existing.versions.iter_mut().find(|v| v.id == default) {
                    if v.doc.text == d.text {
                        continue;
                    }
                    v.doc = d;
                }
                existing.updated = now;
                existing
            }
            None => ManagedPolicy {
                path: p.path.clone(),
                name: p.name.clone(),
                id: ids::unique_id("ANPA"),
                arn: ids::policy_arn(id, &p.path, &p.name),
                created: now,
                updated: now,
                description: p.description.clone(),
                versions: vec![PolicyVersion {
                    id: "v1".into(),
                    doc: d,
                    created: now,
                }],
                default_version: "v1".into(),
                next_version: 2,
                tags: Vec::new(),
            },
        };
        policies.push(policy.clone());
        changes.push(Change::Policy(id.to_string(), policy));
    }

    let mut groups = Vec::new();
    for g in &a.groups {
        check_name(&g.name, "groupName")?;
        check_attachable(acct, &g.managed_policies, &policies)?;
        let mut group = acct.group(&g.name).cloned().unwrap_or_else(|| Group {
            path: g.path.clone(),
            name: g.name.clone(),
            id: ids::unique_id("AGPA"),
            arn: ids::group_arn(id, &g.path, &g.name),
            created: now,
            inline: BTreeMap::new(),
            attached: Vec::new(),
        });
        for (name, value) in &g.inline_policies {
            let d = doc(
                value,
                PolicyKind::Identity,
                &format!("group {} policy {name}", g.name),
            )?;
            group.inline.insert(name.clone(), d);
        }
        add_missing(&mut group.attached, &g.managed_policies);
        groups.push(group.name.to_ascii_lowercase());
        changes.push(Change::Group(id.to_string(), group));
    }

    for r in &a.roles {
        check_name(&r.name, "roleName")?;
        check_attachable(acct, &r.managed_policies, &policies)?;
        let trust = doc(
            &r.trust_policy,
            PolicyKind::Trust,
            &format!("role {} trust policy", r.name),
        )?;
        let max = r.max_session_duration.unwrap_or(3600);
        if !(3600..=43_200).contains(&max) {
            return Err(bad(format!(
                "role {}: max_session_duration must be 3600..43200",
                r.name
            )));
        }
        let mut role = acct.role(&r.name).cloned().unwrap_or_else(|| Role {
            path: r.path.clone(),
            name: r.name.clone(),
            id: ids::unique_id("AROA"),
            arn: ids::role_arn(id, &r.path, &r.name),
            created: now,
            trust: trust.clone(),
            max_session: max,
            description: r.description.clone(),
            tags: Vec::new(),
            boundary: None,
            inline: BTreeMap::new(),
            attached: Vec::new(),
        });
        role.trust = trust;
        role.max_session = max;
        if r.description.is_some() {
            role.description = r.description.clone();
        }
        for (name, value) in &r.inline_policies {
            let d = doc(
                value,
                PolicyKind::Identity,
                &format!("role {} policy {name}", r.name),
            )?;
            role.inline.insert(name.clone(), d);
        }
        add_missing(&mut role.attached, &r.managed_policies);
        changes.push(Change::Role(id.to_string(), role));
    }

    for u in &a.users {
        check_name(&u.name, "userName")?;
        check_attachable(acct, &u.managed_policies, &policies)?;
        for g in &u.groups {
            if acct.group(g).is_none() && !groups.contains(&g.to_ascii_lowercase()) {
                return Err(bad(format!("user {}: group {g} does not exist", u.name)));
            }
        }
        let key_name = u.name.to_ascii_lowercase();
        let mut user = acct.user(&u.name).cloned().unwrap_or_else(|| User {
            path: u.path.clone(),
            name: u.name.clone(),
            id: ids::unique_id("AIDA"),
            arn: ids::user_arn(id, &u.path, &u.name),
            created: now,
            tags: Vec::new(),
            boundary: None,
            inline: BTreeMap::new(),
            attached: Vec::new(),
            groups: Vec::new(),
            keys: Vec::new(),
        });
        for k in &u.keys {
            key_free(state, &k.access_key_id, id, Some(&key_name))?;
            upsert_key(&mut user.keys, k);
        }
        if user.keys.len() > 2 {
            return Err(bad(format!("user {}: at most 2 access keys", u.name)));
        }
        for (name, value) in &u.inline_policies {
            let d = doc(
                value,
                PolicyKind::Identity,
                &format!("user {} policy {name}", u.name),
            )?;
            user.inline.insert(name.clone(), d);
        }
        add_missing(&mut user.attached, &u.managed_policies);
        add_missing(&mut user.groups, &u.groups);
        changes.push(Change::User(id.to_string(), user));
    }
    Ok(changes)
}
