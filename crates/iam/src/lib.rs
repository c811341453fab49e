//! The identity directory: accounts and their users, groups, roles,
//! managed and inline policies, access keys and STS sessions; the IAM and
//! STS query APIs over it; and the authorizer every service asks.
//!
//! ```text
//! gateway ── SigV4 ──> Iam::lookup_key(key id, token) ─> secret + Caller
//!         ── service op ─> Iam::authorize(caller, action, resource, ctx, resource policy)
//!         ── IAM / STS ───> Iam::handle(api, caller, params, meta) ─> XML reply
//! platform ─> Iam::service_credentials(role, "lambda.amazonaws.com", ...) ─> session keys
//! ```
//!
//! - The records (`model`) live in memory behind one `RwLock` for reads;
//!   every change is written to SQLite (`store`, WAL, `synchronous=FULL`)
//!   in one transaction before it is applied in memory, so a call returns
//!   only after its change is durable. Writers are serialised by the
//!   database mutex, readers never wait for a disk write.
//! - A generation counter is bumped on every applied change; the
//!   authorizer's caches (`cache`) are valid for one generation.
//! - Sessions (temporary keys) are stored too and survive a restart until
//!   they expire; expired ones are pruned at open and when new ones are
//!   issued.
//! - Nothing here speaks HTTP or checks signatures: the gateway does, using
//!   [`Iam::lookup_key`] to find the secret.

mod authz;
mod aws_managed;
mod bootstrap;
mod cache;
mod error;
mod ids;
mod model;
mod ops;
mod state;
mod store;
mod sts;
mod wire;
mod xml;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard};

use chrono::Utc;

pub use authz::{Caller, DenialSource, KeyError, KeyGrant};
pub use bootstrap::{
    Bootstrap, BootstrapAccount, BootstrapGroup, BootstrapKey, BootstrapPolicy, BootstrapRole,
    BootstrapUser,
};
pub use error::IamError;
pub use model::KeyStatus;
pub use sts::TemporaryCredentials;
pub use wire::{Api, QueryResponse, RequestMeta};

use model::{AccessKey, AccountRec};
use state::State;
use store::{Change, Db};

/// What the directory is opened with.
#[derive(Debug, Clone)]
pub struct IamConfig {
    /// The account created at open (12 digits), which the server's own
    /// credentials belong to.
    pub bootstrap_account: String,
    /// The region STS and ARNs of regional services report.
    pub region: String,
}

/// The identity directory. Share it behind an `Arc`.
pub struct Iam {
    state: RwLock<State>,
    db: Mutex<Db>,
    generation: AtomicU64,
    config: IamConfig,
    cache: cache::AuthzCache,
}

impl std::fmt::Debug for Iam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iam")
            .field("config", &self.config)
            .field("generation", &self.generation())
            .finish()
    }
}

/// Whether `id` is a 12-digit account id.
pub fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

impl Iam {
    /// Opens (or creates) the directory in the SQLite file at `path`, and
    /// makes sure the bootstrap account exists.
    pub fn open(path: &Path, config: IamConfig) -> Result<Iam, IamError> {
        if !is_account_id(&config.bootstrap_account) {
            return Err(IamError::Refused(format!(
                "bootstrap account {:?} is not a 12-digit account id",
                config.bootstrap_account
            )));
        }
        let db = Db::open(path)?;
        let state = db.load()?;
        let iam = Iam {
            state: RwLock::new(state),
            db: Mutex::new(db),
            generation: AtomicU64::new(1),
            config,
            cache: cache::AuthzCache::default(),
        };
        iam.ensure_account(&iam.config.bootstrap_account.clone())?;
        iam.prune_sessions()?;
        Ok(iam)
    }

    pub fn config(&self) -> &IamConfig {
        &self.config
    }

    /// Bumped on every change of the directory; decisions cached under one
    /// generation are void under the next.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` against the current state; writes the changes it returns
    /// (durably), then applies them in memory and bumps the generation.
    pub(crate) fn commit<R, E: From<IamError>>(
        &self,
        f: impl FnOnce(&State) -> Result<(Vec<Change>, R), E>,
    ) -> Result<R, E> {
        let mut db = self.db.lock().unwrap_or_else(|e| e.into_inner());
        let (changes, result) = {
            let state = self.read();
            f(&state)?
        };
        if changes.is_empty() {
            return Ok(result);
        }
        db.write(&changes)?;
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        for change in changes {
            state.apply(change);
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(result)
    }

    /// The ids of every account in the directory, in order.
    pub fn account_ids(&self) -> Vec<String> {
        self.read().accounts.keys().cloned().collect()
    }

    /// Creates `account_id` if it does not exist.
    pub fn ensure_account(&self, account_id: &str) -> Result<(), IamError> {
        if !is_account_id(account_id) {
            return Err(IamError::Refused(format!(
                "{account_id:?} is not a 12-digit account id"
            )));
        }
        self.commit(|state| {
            let changes = if state.account(account_id).is_some() {
                Vec::new()
            } else {
                vec![Change::Account(AccountRec {
                    id: account_id.to_string(),
                    created: Utc::now(),
                    root_keys: Vec::new(),
                })]
            };
            Ok::<_, IamError>((changes, ()))
        })
    }

    /// Registers `access_key_id` / `secret` as a root key of `account_id`
    /// (creating the account if needed). An existing key of that id gets
    /// this secret and is made active; a key id another principal holds is
    /// refused.
    pub fn ensure_root_key(
        &self,
        account_id: &str,
        access_key_id: &str,
        secret: &str,
    ) -> Result<(), IamError> {
        self.ensure_account(account_id)?;
        self.commit(|state| {
            if let Some(owner) = state.keys.get(access_key_id) {
                if owner.account != account_id || owner.user.is_some() {
                    return Err(IamError::Refused(format!(
                        "access key {access_key_id} already belongs to another principal"
                    )));
                }
            }
            if state.sessions.contains_key(access_key_id) {
                return Err(IamError::Refused(format!(
                    "access key {access_key_id} is a session key"
                )));
            }
            let account = state
                .account(account_id)
                .ok_or_else(|| IamError::NoSuchAccount(account_id.to_string()))?;
            let mut rec = account.rec.clone();
            match rec.root_keys.iter_mut().find(|k| k.id == access_key_id) {
                Some(k) if k.secret == secret && k.status == KeyStatus::Active => {
                    return Ok((Vec::new(), ()))
                }
                Some(k) => {
                    k.secret = secret.to_string();
                    k.status = KeyStatus::Active;
                }
                None => rec.root_keys.push(AccessKey {
                    id: access_key_id.to_string(),
                    secret: secret.to_string(),
                    status: KeyStatus::Active,
                    created: Utc::now(),
                }),
            }
            Ok((vec![Change::Account(rec)], ()))
        })
    }

    /// Removes expired sessions.
    pub fn prune_sessions(&self) -> Result<usize, IamError> {
        let now = Utc::now();
        self.commit(|state| {
            let expired: Vec<Change> = state
                .sessions
                .values()
                .filter(|s| s.expiration <= now)
                .map(|s| Change::DeleteSession(s.key_id.clone()))
                .collect();
            let n = expired.len();
            Ok::<_, IamError>((expired, n))
        })
    }
}
