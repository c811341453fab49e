//! The authorizer's caches, valid for one directory generation (the first
//! use under a newer generation empties them):
//! - decisions by (access key, user id, account, action, resource), looked
//!   up without allocating: entries are bucketed by a keyed hash of those
//!   parts and compared part by part;
//! - the policies gathered for a principal.
//!
//! Each is emptied wholesale when it reaches [`CAPACITY`] entries.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, RwLock};

use updraft_policy::Decision;

use crate::authz::{Caller, Gathered};

/// Entries per cache before it is emptied.
pub(crate) const CAPACITY: usize = 65_536;

/// The parts a decision is cached by.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DecisionKey<'a> {
    pub key_id: &'a str,
    pub user_id: &'a str,
    pub account: &'a str,
    pub action: &'a str,
    pub resource: &'a str,
}

impl<'a> DecisionKey<'a> {
    pub fn new(caller: &'a Caller, action: &'a str, resource: &'a str) -> Self {
        DecisionKey {
            key_id: &caller.access_key_id,
            user_id: &caller.user_id,
            account: caller.account(),
            action,
            resource,
        }
    }
}

#[derive(Debug)]
struct Entry {
    key_id: Box<str>,
    user_id: Box<str>,
    account: Box<str>,
    action: Box<str>,
    resource: Box<str>,
    decision: Decision,
}

impl Entry {
    fn is(&self, k: &DecisionKey<'_>) -> bool {
        *self.resource == *k.resource
            && *self.action == *k.action
            && *self.user_id == *k.user_id
            && *self.key_id == *k.key_id
            && *self.account == *k.account
    }
}

/// Hashes a `u64` that is already a keyed hash: as is.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[derive(Default)]
struct Inner {
    generation: u64,
    decisions: HashMap<u64, Vec<Entry>, BuildHasherDefault<Prehashed>>,
    decision_count: usize,
    principals: HashMap<String, Arc<Gathered>>,
}

impl Inner {
    /// Empties everything if `generation` is newer than the contents.
    fn renew(&mut self, generation: u64) {
        if self.generation != generation {
            self.generation = generation;
            self.decisions.clear();
            self.decision_count = 0;
            self.principals.clear();
        }
    }
}

#[derive(Default)]
pub(crate) struct AuthzCache {
    inner: RwLock<Inner>,
    /// Random keys, so request-chosen resources cannot aim at one bucket.
    hasher: RandomState,
}

impl AuthzCache {
    fn hash(&self, k: &DecisionKey<'_>) -> u64 {
        self.hasher
            .hash_one((k.key_id, k.user_id, k.account, k.action, k.resource))
    }

    pub fn decision(&self, generation: u64, k: &DecisionKey<'_>) -> Option<Decision> {
        let hash = self.hash(k);
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        if inner.generation != generation {
            return None;
        }
        inner
            .decisions
            .get(&hash)?
            .iter()
            .find(|e| e.is(k))
            .map(|e| e.decision)
    }

    pub fn insert_decision(&self, generation: u64, k: &DecisionKey<'_>, decision: Decision) {
        let hash = self.hash(k);
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.renew(generation);
        if inner.decision_count >= CAPACITY {
            inner.decisions.clear();
            inner.decision_count = 0;
        }
        let bucket = inner.decisions.entry(hash).or_default();
        if bucket.iter().any(|e| e.is(k)) {
            return;
        }
        bucket.push(Entry {
            key_id: k.key_id.into(),
            user_id: k.user_id.into(),
            account: k.account.into(),
            action: k.action.into(),
            resource: k.resource.into(),
            decision,
        });
        inner.decision_count += 1;
    }

    pub fn principal(&self, generation: u64, key: &str) -> Option<Arc<Gathered>> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        if inner.generation != generation {
            return None;
        }
        inner.principals.get(key).cloned()
    }

    pub fn insert_principal(&self, generation: u64, key: String, gathered: Arc<Gathered>) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.renew(generation);
        if inner.principals.len() >= CAPACITY {
            inner.principals.clear();
        }
        inner.principals.insert(key, gathered);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_are_kept_per_key_and_generation() {
        let cache = AuthzCache::default();
        let caller = Caller::root("123456789012");
        let k = DecisionKey::new(
            &caller,
            "sqs:SendMessage",
            "arn:aws:sqs:us-east-1:123456789012:q",
        );
        assert_eq!(cache.decision(1, &k), None);
        cache.insert_decision(1, &k, Decision::Allow);
        assert_eq!(cache.decision(1, &k), Some(Decision::Allow));
        let other = DecisionKey {
            action: "sqs:DeleteQueue",
            ..k
        };
        assert_eq!(cache.decision(1, &other), None);
        // A newer generation sees nothing, and empties the cache on insert.
        assert_eq!(cache.decision(2, &k), None);
        cache.insert_decision(2, &other, Decision::ImplicitDeny);
        assert_eq!(cache.decision(2, &k), None);
        assert_eq!(cache.decision(2, &other), Some(Decision::ImplicitDeny));
    }

    #[test]
    fn a_full_cache_starts_over() {
        let cache = AuthzCache::default();
        let caller = Caller::root("123456789012");
        let resources: Vec<String> = (0..=CAPACITY).map(|i| format!("r{i}")).collect();
        for r in &resources {
            cache.insert_decision(1, &DecisionKey::new(&caller, "a", r), Decision::Allow);
        }
        let last = DecisionKey::new(&caller, "a", &resources[CAPACITY]);
        assert_eq!(cache.decision(1, &last), Some(Decision::Allow));
        let first = DecisionKey::new(&caller, "a", &resources[0]);
        assert_eq!(cache.decision(1, &first), None);
    }
}
