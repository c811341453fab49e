//! The directory in memory: every account's records, an index from access
//! key id to its owner, and the live sessions. Changed only through
//! [`State::apply`], after the change is on disk.

use std::collections::{BTreeMap, HashMap};

use crate::model::{AccountRec, Group, ManagedPolicy, Role, Session, User};
use crate::store::{key, Change};

/// Who owns a long-term access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyOwner {
    pub account: String,
    /// The user's lowercased name; `None` for a root key.
    pub user: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub rec: AccountRec,
    /// Keyed by lowercased name (IAM names are unique ignoring case).
    pub users: BTreeMap<String, User>,
    pub groups: BTreeMap<String, Group>,
    pub roles: BTreeMap<String, Role>,
    pub policies: BTreeMap<String, ManagedPolicy>,
}

impl Account {
    pub fn new(rec: AccountRec) -> Account {
        Account {
            rec,
            users: BTreeMap::new(),
            groups: BTreeMap::new(),
            roles: BTreeMap::new(),
            policies: BTreeMap::new(),
        }
    }

    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.get(&key(name))
    }

    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.get(&key(name))
    }

    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.get(&key(name))
    }

    /// The managed policy with this ARN: this account's or an AWS-managed one.
    pub fn managed(&self, arn: &str) -> Option<&ManagedPolicy> {
        self.policy_by_arn(arn)
            .or_else(|| crate::aws_managed::policy(arn))
    }

    /// The managed policy with this ARN, if it is this account's.
    pub fn policy_by_arn(&self, arn: &str) -> Option<&ManagedPolicy> {
        let (_, name) = crate::ids::split_iam_arn(arn, "policy")?;
        self.policies.get(&key(name)).filter(|p| p.arn == arn)
    }
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub accounts: BTreeMap<String, Account>,
    pub keys: HashMap<String, KeyOwner>,
    pub sessions: HashMap<String, Session>,
}

impl State {
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.get(id)
    }

    /// Applies one change that is already durable.
    pub fn apply(&mut self, change: Change) {
        match change {
            Change::Account(rec) => {
                self.keys
                    .retain(|_, o| !(o.account == rec.id && o.user.is_none()));
                for k in &rec.root_keys {
                    self.keys.insert(
                        k.id.clone(),
                        KeyOwner {
                            account: rec.id.clone(),
                            user: None,
                        },
                    );
                }
                match self.accounts.get_mut(&rec.id) {
                    Some(a) => a.rec = rec,
                    None => {
                        self.accounts.insert(rec.id.clone(), Account::new(rec));
                    }
                }
            }
            Change::User(acct, user) => {
                let k = key(&user.name);
                if let Some(a) = self.accounts.get_mut(&acct) {
                    if let Some(old) = a.users.get(&k) {
                        for old_key in &old.keys {
                            self.keys.remove(&old_key.id);
                        }
                    }
                    for new_key in &user.keys {
                        self.keys.insert(
                            new_key.id.clone(),
                            KeyOwner {
                                account: acct.clone(),
                                user: Some(k.clone()),
                            },
                        );
                    }
                    a.users.insert(k, user);
                }
            }
            Change::DeleteUser(acct, name) => {
                if let Some(a) = self.accounts.get_mut(&acct) {
                    if let Some(old) = a.users.remove(&name) {
                        for old_key in &old.keys {
                            self.keys.remove(&old_key.id);
                        }
                    }
                }
            }
            Change::Group(acct, group) => {
                if let Some(a) = self.accounts.get_mut(&acct) {
                    a.groups.insert(key(&group.name), group);
                }
            }
            Change::DeleteGroup(acct, name) => {
                if let Some(a) = self.accounts.get_mut(&acct) {
                    a.groups.remove(&name);
                }
            }
            Change::Role(acct, role) => {
                if let Some(a) = self.accounts.get_mut(&acct) {
                    a.roles.insert(key(&role.name), role);
                }
            }
            Change::DeleteRole(acct, name) => {
                if let Some(a) = self.accounts.get_mut(&acct) {
                    a.roles.remove(&name);
                }
            }
            Change::Policy(acct, policy) => {
                if let Some(a) = self.accounts.get_mut(&acct) {
                    a.policies.insert(key(&policy.name), policy);
                }
            }
            Change::DeletePolicy(acct, name) => {
                if let Some(a) = self.accounts.get_mut(&acct) {
                    a.policies.remove(&name);
                }
            }
            Change::Session(s) => {
                self.sessions.insert(s.key_id.clone(), s);
            }
            Change::DeleteSession(id) => {
                self.sessions.remove(&id);
            }
        }
    }
}
