//! Per-version pools of idle environments, within the node's memory budget.
//!
//! ```text
//!  Pools ─┬─ PoolKey(fn, version, revision) ─> [idle env, idle env, ...] (most recent last)
//!         ├─ ...
//!         ├─ reserved: Σ MemorySize of live environments  ≤  memory budget
//!         └─ per function: new environments in the last window ≤ scale-up limit
//! ```
//! `acquire` pops the most recently used idle environment (so surplus ones
//! stay idle long enough to be reaped) or starts a new one; `Lease::release`
//! pushes it back unless it must be discarded. A reaper task drops
//! environments idle for longer than `idle_timeout`: scale to zero.
//!
//! A cold start first reserves its `MemorySize`. When the budget is full,
//! idle environments are evicted, least recently used first, whatever their
//! function; only when nothing idle is left is the start refused. Each
//! function may start at most `scale_up.limit` environments per
//! `scale_up.window` (Lambda: 1,000 per 10 s), so one burst cannot take
//! the whole node.
//!
//! With a [`CredentialIssuer`] ([`Pools::with_credentials`]), each cold
//! start first gets the execution role's credentials into the
//! environment's variables, and an environment is never handed out within
//! [`REFRESH_MARGIN`] of their expiry: it is retired (when popped, when
//! released, or by the reaper, provisioned ones included) and the next
//! cold start gets fresh credentials.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use crate::credentials::{CredentialIssuer, REFRESH_MARGIN};
use crate::{BoxError, EnvConfig, Environment, FunctionError, LogSink, Template};

/// How fast one function may add environments.
#[derive(Debug, Clone, Copy)]
pub struct ScaleUp {
    pub limit: u32,
    pub window: Duration,
}

impl Default for ScaleUp {
    fn default() -> Self {
        ScaleUp {
            limit: 1000,
            window: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PoolsConfig {
    /// Idle environments older than this are dropped.
    pub idle_timeout: Duration,
    /// The most `MemorySize` (MB) live environments may add up to.
    pub memory_budget_mb: u64,
    pub scale_up: ScaleUp,
}

/// Identifies the environments that may serve an invocation: same function,
/// same version, same revision of its code and configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolKey {
    pub function: String,
    pub version: String,
    pub revision: String,
}

/// Why no environment could be had.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The init phase failed: a function error.
    #[error("{}: {}", .0.error_type, .0.error_message)]
    Init(FunctionError),
    /// The node's memory budget is taken by busy environments.
    #[error("the node's memory budget is in use")]
    NoMemory,
    /// The function started too many environments in the current window.
    #[error("the function is scaling up faster than its limit")]
    ScaleUpLimit,
    /// The execution role's credentials could not be had (the role is
    /// gone, or does not trust Lambda).
    #[error("{}", crate::credentials::ROLE_NOT_ASSUMABLE)]
    Credentials(#[source] BoxError),
}

struct Idle {
    env: Box<dyn Environment>,
    since: Instant,
    /// Peak memory the environment reported after its last invocation.
    memory_used: u64,
    /// When the environment's credentials are too close to expiry for it
    /// to serve again.
    retire_at: Option<Instant>,
}

impl Idle {
    fn retired(&self, now: Instant) -> bool {
        self.retire_at.is_some_and(|at| at <= now)
    }
}

#[derive(Default)]
struct Pool {
    idle: Vec<Idle>,
    /// Environments alive for this key, idle or busy.
    live: usize,
    /// `MemorySize` of this key's environments.
    memory_mb: u32,
    /// Provisioned concurrency: this many environments stay alive, idle
    /// ones are neither reaped nor evicted.
    provisioned: usize,
    /// Σ last known peak memory of the live environments, bytes.
    used_bytes: u64,
}

/// New environments of one function in the current window.
struct Starts {
    window_start: Instant,
    count: u32,
}

#[derive(Default)]
struct State {
    pools: HashMap<PoolKey, Pool>,
    /// Σ `MemorySize` of live environments (MB), busy ones of forgotten
    /// pools included until they are released.
    reserved_mb: u64,
    starts: HashMap<String, Starts>,
}

/// What the pools hold for one function, for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionStats {
    pub idle: usize,
    pub busy: usize,
    /// The sum of `MemorySize` over the live environments.
    pub memory_reserved_mb: u64,
    /// The sum of the peak memory each live environment last reported.
    pub memory_used_bytes: u64,
}

struct Inner {
    config: PoolsConfig,
    state: Mutex<State>,
    credentials: Option<Arc<dyn CredentialIssuer>>,
}

/// A cold start's place in its pool and the memory budget, until the
/// environment has started: dropped, it gives both back.
struct Reservation<'a> {
    inner: &'a Inner,
    key: &'a PoolKey,
    memory_mb: u32,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.inner.forget_one(self.key, self.memory_mb, 0);
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An environment of `key` (with `memory_mb`, last seen using
    /// `memory_used` bytes) is gone.
    fn forget_one(&self, key: &PoolKey, memory_mb: u32, memory_used: u64) {
        let mut state = self.lock();
        state.reserved_mb = state.reserved_mb.saturating_sub(memory_mb.into());
        if let Some(pool) = state.pools.get_mut(key) {
            pool.live = pool.live.saturating_sub(1);
            pool.used_bytes = pool.used_bytes.saturating_sub(memory_used);
        }
    }

    fn reap(&self) -> Vec<Idle> {
        let now = Instant::now();
        let mut state = self.lock();
        let mut expired = Vec::new();
        let mut freed = 0u64;
        for pool in state.pools.values_mut() {
            // Credentials about to expire: retired whatever else holds.
            if pool.idle.iter().any(|i| i.retired(now)) {
                let (old, keep): (Vec<Idle>, Vec<Idle>) =
                    pool.idle.drain(..).partition(|i| i.retired(now));
                pool.idle = keep;
                pool.live -= old.len();
                pool.used_bytes -= old.iter().map(|i| i.memory_used).sum::<u64>();
                freed += old.len() as u64 * u64::from(pool.memory_mb);
                expired.extend(old);
            }
            // Idle lists are ordered oldest first.
            let expired_count = pool
                .idle
                .iter()
                .position(|i| now.duration_since(i.since) < self.config.idle_timeout)
                .unwrap_or(pool.idle.len());
            let surplus = pool.live.saturating_sub(pool.provisioned);
            let old: Vec<Idle> = pool.idle.drain(..expired_count.min(surplus)).collect();
            pool.live -= old.len();
            pool.used_bytes -= old.iter().map(|i| i.memory_used).sum::<u64>();
            freed += old.len() as u64 * u64::from(pool.memory_mb);
            expired.extend(old);
        }
        state.reserved_mb = state.reserved_mb.saturating_sub(freed);
        state.pools.retain(|_, p| p.live > 0 || p.provisioned > 0);
        let window = self.config.scale_up.window;
        state
            .starts
            .retain(|_, s| now.duration_since(s.window_start) < window);
        expired
    }
}

/// All pools of the node.
#[derive(Clone)]
pub struct Pools {
    inner: Arc<Inner>,
}

/// An environment checked out for one invocation.
pub struct Lease {
    env: Option<Box<dyn Environment>>,
    key: PoolKey,
    memory_mb: u32,
    /// Peak memory last reported by the environment (0 before its first
    /// invocation).
    memory_used: u64,
    /// What this invocation reported, set by [`Lease::record_memory`].
    memory_now: Option<u64>,
    /// When the environment's credentials get too close to expiry.
    retire_at: Option<Instant>,
    pools: Weak<Inner>,
    /// Set on a cold start: how long the init phase took.
    pub init_duration: Option<Duration>,
}

impl Lease {
    pub fn env(&mut self) -> &mut dyn Environment {
        self.env.as_deref_mut().expect("lease holds an environment")
    }

    /// The environment's peak memory after this invocation.
    pub fn record_memory(&mut self, bytes: u64) {
        self.memory_now = Some(bytes);
    }

    /// Returns the environment to its pool, or drops it when `discard`
    /// (or when its credentials are about to expire).
    pub fn release(mut self, discard: bool) {
        let Some(env) = self.env.take() else { return };
        let Some(inner) = self.pools.upgrade() else {
            return;
        };
        let retired = self.retire_at.is_some_and(|at| at <= Instant::now());
        if discard || retired {
            inner.forget_one(&self.key, self.memory_mb, self.memory_used);
            return;
        }
        let used = self.memory_now.unwrap_or(self.memory_used);
        let mut state = inner.lock();
        match state.pools.get_mut(&self.key) {
            Some(pool) => {
                pool.used_bytes = (pool.used_bytes + used).saturating_sub(self.memory_used);
                pool.idle.push(Idle {
                    env,
                    since: Instant::now(),
                    memory_used: used,
                    retire_at: self.retire_at,
                })
            }
            // No pool for the key: the function changed or was deleted
            // while this environment was busy; it goes away with the lease.
            None => {
                state.reserved_mb = state.reserved_mb.saturating_sub(self.memory_mb.into());
                drop(state);
                drop(env);
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // A lease dropped without `release` (a cancelled invocation) loses
        // its environment: it may be in any state.
        if self.env.take().is_some() {
            if let Some(inner) = self.pools.upgrade() {
                inner.forget_one(&self.key, self.memory_mb, self.memory_used);
            }
        }
    }
}

impl Pools {
    /// Creates the pools and starts the reaper on the current tokio runtime.
    /// Environments get no credentials.
    pub fn new(config: PoolsConfig) -> Self {
        Self::build(config, None)
    }

    /// Pools whose environments run with their execution role's
    /// credentials, from `issuer` (see [`CredentialIssuer`]).
    pub fn with_credentials(config: PoolsConfig, issuer: Arc<dyn CredentialIssuer>) -> Self {
        Self::build(config, Some(issuer))
    }

    fn build(config: PoolsConfig, credentials: Option<Arc<dyn CredentialIssuer>>) -> Self {
        let inner = Arc::new(Inner {
            config,
            state: Mutex::new(State::default()),
            credentials,
        });
        let weak = Arc::downgrade(&inner);
        let period = (inner.config.idle_timeout / 4)
            .clamp(Duration::from_millis(20), Duration::from_secs(10));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let expired = inner.reap();
                // Dropped outside the lock: tearing down an environment may
                // take a while (a process to kill, memory to unmap).
                drop(expired);
            }
        });
        Pools { inner }
    }

    /// A warm environment for `key` if one is idle, else a cold start with
    /// the configuration `config` builds (only called on a cold start).
    pub async fn acquire(
        &self,
        key: &PoolKey,
        template: &Arc<dyn Template>,
        config: impl FnOnce() -> EnvConfig,
        log: &LogSink,
    ) -> Result<Lease, StartError> {
        let (warm, retired) = self.pop_idle(key);
        // Dropped unlocked: tearing an environment down may take a while.
        drop(retired);
        if let Some((idle, memory_mb)) = warm {
            let mut lease = self.lease(key, idle.env, memory_mb, None);
            lease.memory_used = idle.memory_used;
            lease.retire_at = idle.retire_at;
            return Ok(lease);
        }
        let (config, retire_at) = self.with_credentials_of(config())?;
        let evicted = self.reserve(key, config.memory_mb)?;
        drop(evicted);
        // Given back if the start fails, or if the caller gives up (drops
        // this future) while the environment starts.
        let reservation = Reservation {
            inner: &self.inner,
            key,
            memory_mb: config.memory_mb,
        };
        let started = Instant::now();
        let env = template
            .start(&config, log)
            .await
            .map_err(StartError::Init)?;
        std::mem::forget(reservation);
        let mut lease = self.lease(key, env, config.memory_mb, Some(started.elapsed()));
        lease.retire_at = retire_at;
        Ok(lease)
    }

    /// The most recently used idle environment of `key` still fit to serve
    /// (with the key's `MemorySize`), and those passed over because their
    /// credentials are about to expire (no longer counted; to drop
    /// unlocked).
    fn pop_idle(&self, key: &PoolKey) -> (Option<(Idle, u32)>, Vec<Idle>) {
        let now = Instant::now();
        let mut retired = Vec::new();
        let mut state = self.lock();
        let Some(pool) = state.pools.get_mut(key) else {
            return (None, retired);
        };
        let mut warm = None;
        while let Some(idle) = pool.idle.pop() {
            if !idle.retired(now) {
                warm = Some(idle);
                break;
            }
            pool.live -= 1;
            pool.used_bytes -= idle.memory_used;
            retired.push(idle);
        }
        let memory_mb = pool.memory_mb;
        let freed = retired.len() as u64 * u64::from(memory_mb);
        state.reserved_mb = state.reserved_mb.saturating_sub(freed);
        (warm.map(|idle| (idle, memory_mb)), retired)
    }

    /// Adds the execution role's credentials to a new environment's
    /// variables (when the pools have an issuer), and says when that
    /// environment must retire.
    fn with_credentials_of(
        &self,
        mut config: EnvConfig,
    ) -> Result<(EnvConfig, Option<Instant>), StartError> {
        let Some(issuer) = &self.inner.credentials else {
            return Ok((config, None));
        };
        match issuer.credentials(&config.function_arn, &config.role) {
            Ok(creds) => {
                creds.apply(&mut config.env);
                let retire_at = creds.retire_at(REFRESH_MARGIN);
                Ok((config, Some(retire_at)))
            }
            Err(e) => {
                tracing::warn!(
                    function = %config.function_arn,
                    role = %config.role,
                    error = %e,
                    "no credentials for the execution role; the environment was not started"
                );
                Err(StartError::Credentials(e))
            }
        }
    }

    /// Counts a new environment of `key` against the scale-up limit and the
    /// memory budget, evicting idle environments (least recently used
    /// first) to make room. Returns the evicted ones, to drop unlocked.
    fn reserve(&self, key: &PoolKey, memory_mb: u32) -> Result<Vec<Idle>, StartError> {
        let now = Instant::now();
        let scale_up = self.inner.config.scale_up;
        let budget = self.inner.config.memory_budget_mb;
        let mut state = self.lock();
        let starts = state.starts.entry(key.function.clone()).or_insert(Starts {
            window_start: now,
            count: 0,
        });
        if now.duration_since(starts.window_start) >= scale_up.window {
            starts.window_start = now;
            starts.count = 0;
        }
        if starts.count >= scale_up.limit {
            return Err(StartError::ScaleUpLimit);
        }
        let need = u64::from(memory_mb);
        let mut evicted = Vec::new();
        while state.reserved_mb + need > budget {
            // The least recently used idle environment of any pool.
            let oldest = state
                .pools
                .iter()
                .filter(|(_, p)| p.live > p.provisioned)
                .filter_map(|(k, p)| p.idle.first().map(|i| (i.since, k.clone())))
                .min_by_key(|(since, _)| *since);
            let Some((_, victim)) = oldest else {
                return Err(StartError::NoMemory);
            };
            let pool = state.pools.get_mut(&victim).expect("victim pool exists");
            let victim = pool.idle.remove(0);
            pool.used_bytes -= victim.memory_used;
            evicted.push(victim);
            pool.live -= 1;
            let freed = u64::from(pool.memory_mb);
            state.reserved_mb -= freed;
        }
        if let Some(s) = state.starts.get_mut(&key.function) {
            s.count += 1;
        }
        state.reserved_mb += need;
        let pool = state.pools.entry(key.clone()).or_default();
        pool.live += 1;
        pool.memory_mb = memory_mb;
        Ok(evicted)
    }

    /// Provisioned concurrency for `key`: keeps `n` environments alive,
    /// starting those missing now (ahead of traffic), and reports how many
    /// are alive and the init duration of each one started. `n = 0` ends
    /// the provisioning; surplus environments are then reaped as usual.
    pub async fn provision(
        &self,
        key: &PoolKey,
        template: &Arc<dyn Template>,
        config: impl Fn() -> EnvConfig,
        n: usize,
        started: &mut Vec<Duration>,
    ) -> Result<usize, StartError> {
        self.lock()
            .pools
            .entry(key.clone())
            .or_default()
            .provisioned = n;
        loop {
            let live = self.lock().pools.get(key).map_or(0, |p| p.live);
            if live >= n {
                return Ok(live);
            }
            let start = Instant::now();
            let (config, retire_at) = self.with_credentials_of(config())?;
            let evicted = self.reserve(key, config.memory_mb)?;
            drop(evicted);
            match template.start(&config, &LogSink::new(64 * 1024)).await {
                Ok(env) => {
                    started.push(start.elapsed());
                    let mut state = self.lock();
                    match state.pools.get_mut(key) {
                        Some(pool) => pool.idle.push(Idle {
                            env,
                            since: Instant::now(),
                            memory_used: 0,
                            retire_at,
                        }),
                        None => {
                            state.reserved_mb =
                                state.reserved_mb.saturating_sub(config.memory_mb.into());
                            return Ok(0);
                        }
                    }
                }
                Err(e) => {
                    self.inner.forget_one(key, config.memory_mb, 0);
                    return Err(StartError::Init(e));
                }
            }
        }
    }

    /// Ends provisioned concurrency for `key`: its environments are reaped
    /// once idle for the idle timeout, like any others.
    pub fn unprovision(&self, key: &PoolKey) {
        if let Some(pool) = self.lock().pools.get_mut(key) {
            pool.provisioned = 0;
        }
    }

    /// Forgets every environment of `function` (its code or configuration
    /// changed, or it was deleted): idle ones are dropped now, busy ones
    /// when their invocation ends.
    pub fn evict_function(&self, function: &str) {
        let evicted: Vec<Pool> = {
            let mut state = self.lock();
            let keys: Vec<PoolKey> = state
                .pools
                .keys()
                .filter(|k| k.function == function)
                .cloned()
                .collect();
            let removed: Vec<Pool> = keys.iter().filter_map(|k| state.pools.remove(k)).collect();
            let freed: u64 = removed
                .iter()
                .map(|p| p.idle.len() as u64 * u64::from(p.memory_mb))
                .sum();
            state.reserved_mb = state.reserved_mb.saturating_sub(freed);
            removed
        };
        drop(evicted);
    }

    /// Live environments (idle or busy) per function.
    pub fn live_by_function(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for (key, pool) in self.lock().pools.iter().filter(|(_, p)| p.live > 0) {
            *out.entry(key.function.clone()).or_default() += pool.live;
        }
        out
    }

    /// Idle and busy environments and reserved memory, per function.
    pub fn stats(&self) -> HashMap<String, FunctionStats> {
        let mut out: HashMap<String, FunctionStats> = HashMap::new();
        for (key, pool) in self.lock().pools.iter().filter(|(_, p)| p.live > 0) {
            let s = out.entry(key.function.clone()).or_default();
            s.idle += pool.idle.len();
            s.busy += pool.live - pool.idle.len();
            s.memory_reserved_mb += pool.live as u64 * u64::from(pool.memory_mb);
            s.memory_used_bytes += pool.used_bytes;
        }
        out
    }

    /// Σ `MemorySize` of live environments, MB.
    pub fn memory_reserved_mb(&self) -> u64 {
        self.lock().reserved_mb
    }

    /// Idle environments of one pool key.
    pub fn idle_count(&self, key: &PoolKey) -> usize {
        self.lock().pools.get(key).map_or(0, |p| p.idle.len())
    }

    fn lease(
        &self,
        key: &PoolKey,
        env: Box<dyn Environment>,
        memory_mb: u32,
        init: Option<Duration>,
    ) -> Lease {
        Lease {
            env: Some(env),
            key: key.clone(),
            memory_mb,
            memory_used: 0,
            memory_now: None,
            retire_at: None,
            pools: Arc::downgrade(&self.inner),
            init_duration: init,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Invocation, Outcome, Protocol};
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::CredentialIssuer;

    struct Counter {
        calls: u32,
    }

    #[async_trait]
    impl Environment for Counter {
        fn protocol(&self) -> Protocol {
            Protocol::Event
        }
        async fn invoke(&mut self, _inv: Invocation) -> Outcome {
            self.calls += 1;
            Outcome {
                result: Ok(Some(self.calls.to_string().into())),
                discard: false,
                max_memory_bytes: 0,
            }
        }
    }

    struct Starts(AtomicUsize);

    #[async_trait]
    impl Template for Starts {
        fn protocol(&self) -> Protocol {
            Protocol::Event
        }
        async fn start(
            &self,
            _config: &EnvConfig,
            _log: &LogSink,
        ) -> Result<Box<dyn Environment>, FunctionError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Box::new(Counter { calls: 0 }))
        }
    }

    fn setup(idle: Duration) -> (Pools, PoolKey, Arc<dyn Template>, Arc<Starts>, EnvConfig) {
        let starts = Arc::new(Starts(AtomicUsize::new(0)));
        let template: Arc<dyn Template> = starts.clone();
        let key = PoolKey {
            function: "f".into(),
            version: "$LATEST".into(),
            revision: "r1".into(),
        };
        let config = EnvConfig {
            handler: None,
            function_name: "f".into(),
            version: "$LATEST".into(),
            memory_mb: 128,
            timeout: Duration::from_secs(3),
            env: Default::default(),
            ..Default::default()
        };
        (
            Pools::new(PoolsConfig {
                idle_timeout: idle,
                memory_budget_mb: 1 << 20,
                scale_up: ScaleUp::default(),
            }),
            key,
            template,
            starts,
            config,
        )
    }

    async fn run(lease: &mut Lease) -> String {
        let out = lease
            .env()
            .invoke(Invocation {
                request_id: "r".into(),
                input: crate::Input::Event(Default::default()),
                timeout: Duration::from_secs(1),
                log: LogSink::new(1024),
                traceparent: None,
            })
            .await;
        String::from_utf8(out.result.unwrap().unwrap().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn warm_environment_is_reused_and_keeps_state() {
        let (pools, key, template, starts, config) = setup(Duration::from_secs(60));
        let log = LogSink::new(1024);
        let mut lease = pools
            .acquire(&key, &template, || config.clone(), &log)
            .await
            .unwrap();
        assert!(
            lease.init_duration.is_some(),
            "first acquire is a cold start"
        );
        assert_eq!(run(&mut lease).await, "1");
        lease.release(false);

        let mut lease = pools
            .acquire(&key, &template, || config.clone(), &log)
            .await
            .unwrap();
        assert!(lease.init_duration.is_none(), "second acquire is warm");
        assert_eq!(run(&mut lease).await, "2");
        lease.release(true);
        assert_eq!(starts.0.load(Ordering::SeqCst), 1);
        assert_eq!(
            pools.live_by_function().get("f"),
            None,
            "discarded env is gone"
        );

        let lease = pools
            .acquire(&key, &template, || config.clone(), &log)
            .await
            .unwrap();
        assert!(
            lease.init_duration.is_some(),
            "after a discard the next is cold"
        );
        assert_eq!(starts.0.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn idle_environments_are_reaped() {
        let (pools, key, template, _starts, config) = setup(Duration::from_millis(100));
        let log = LogSink::new(1024);
        let a = pools
            .acquire(&key, &template, || config.clone(), &log)
            .await
            .unwrap();
        let b = pools
            .acquire(&key, &template, || config.clone(), &log)
            .await
            .unwrap();
        a.release(false);
        b.release(false);
        assert_eq!(pools.live_by_function()["f"], 2);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(pools.live_by_function().get("f"), None);
        assert_eq!(pools.idle_count(&key), 0);
    }

    #[tokio::test]
    async fn dropped_lease_frees_its_slot() {
        let (pools, key, template, _starts, config) = setup(Duration::from_secs(60));
        let lease = pools
            .acquire(&key, &template, || config.clone(), &LogSink::new(16))
            .await
            .unwrap();
        assert_eq!(pools.live_by_function()["f"], 1);
        drop(lease);
        assert_eq!(pools.live_by_function().get("f"), None);
    }

    #[tokio::test]
    async fn evicted_functions_do_not_take_busy_environments_back() {
        let (pools, key, template, starts, config) = setup(Duration::from_secs(60));
        let log = LogSink::new(16);
        let busy = pools
            .acquire(&key, &template, || config.clone(), &log)
            .await
            .unwrap();
        let idle = pools
            .acquire(&key, &template, || config.clone(), &log)
            .await
            .unwrap();
        idle.release(false);
        pools.evict_function("f");
        assert_eq!(pools.live_by_function().get("f"), None);
        busy.release(false);
        assert_eq!(pools.idle_count(&key), 0, "the busy one was not kept");
        let lease = pools
            .acquire(&key, &template, || config.clone(), &log)
            .await
            .unwrap();
        assert!(lease.init_duration.is_some());
        assert_eq!(starts.0.load(Ordering::SeqCst), 3);
    }

    fn key(function: &str) -> PoolKey {
        PoolKey {
            function: function.into(),
            version: "$LATEST".into(),
            revision: "r".into(),
        }
    }

    fn budget_pools(budget_mb: u64, scale_up: ScaleUp) -> Pools {
        Pools::new(PoolsConfig {
            idle_timeout: Duration::from_secs(60),
            memory_budget_mb: budget_mb,
            scale_up,
        })
    }

    #[tokio::test]
    async fn the_memory_budget_evicts_idle_environments_least_recently_used_first() {
        let (_, _, template, _, config) = setup(Duration::from_secs(60));
        let pools = budget_pools(256, ScaleUp::default());
        let log = LogSink::new(16);
        let cfg = || config.clone(); // 128 MB each
        let a = pools
            .acquire(&key("a"), &template, cfg, &log)
            .await
            .unwrap();
        let b = pools
            .acquire(&key("b"), &template, cfg, &log)
            .await
            .unwrap();
        assert_eq!(pools.memory_reserved_mb(), 256);
        a.release(false);
        tokio::time::sleep(Duration::from_millis(5)).await;
        b.release(false);

        // Full: `c` evicts `a`'s idle environment (used least recently).
        let c = pools
            .acquire(&key("c"), &template, cfg, &log)
            .await
            .unwrap();
        assert_eq!(pools.idle_count(&key("a")), 0);
        assert_eq!(pools.idle_count(&key("b")), 1);
        assert_eq!(pools.memory_reserved_mb(), 256);

        // Full of busy environments: nothing to evict, the start is refused.
        let b = pools
            .acquire(&key("b"), &template, cfg, &log)
            .await
            .unwrap();
        assert!(b.init_duration.is_none(), "b was still warm");
        let refused = pools.acquire(&key("d"), &template, cfg, &log).await;
        assert!(matches!(refused, Err(StartError::NoMemory)));
        c.release(true);
        assert_eq!(pools.memory_reserved_mb(), 128);
        let d = pools
            .acquire(&key("d"), &template, cfg, &log)
            .await
            .unwrap();
        drop(d);
        drop(b);
        assert_eq!(pools.memory_reserved_mb(), 0);
    }

    #[tokio::test]
    async fn a_function_scales_up_at_most_its_limit_per_window() {
        let (_, _, template, _, config) = setup(Duration::from_secs(60));
        let pools = budget_pools(
            1 << 20,
            ScaleUp {
                limit: 2,
                window: Duration::from_millis(300),
            },
        );
        let log = LogSink::new(16);
        let cfg = || config.clone();
        let _a = pools
            .acquire(&key("f"), &template, cfg, &log)
            .await
            .unwrap();
        let _b = pools
            .acquire(&key("f"), &template, cfg, &log)
            .await
            .unwrap();
        let third = pools.acquire(&key("f"), &template, cfg, &log).await;
        assert!(matches!(third, Err(StartError::ScaleUpLimit)));
        // Other functions have their own allowance.
        assert!(pools.acquire(&key("g"), &template, cfg, &log).await.is_ok());
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(pools.acquire(&key("f"), &template, cfg, &log).await.is_ok());
    }

    #[tokio::test]
    async fn provisioned_environments_are_started_ahead_and_never_reaped() {
        let (pools, key, template, starts, config) = setup(Duration::from_millis(100));
        let mut started = Vec::new();
        let live = pools
            .provision(&key, &template, || config.clone(), 2, &mut started)
            .await
            .unwrap();
        assert_eq!((live, started.len()), (2, 2));
        assert_eq!(pools.idle_count(&key), 2);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            pools.live_by_function()["f"],
            2,
            "kept past the idle timeout"
        );
        // Both serve warm.
        let log = LogSink::new(16);
        let a = pools
            .acquire(&key, &template, || config.clone(), &log)
            .await
            .unwrap();
        let b = pools
            .acquire(&key, &template, || config.clone(), &log)
            .await
            .unwrap();
        assert!(a.init_duration.is_none() && b.init_duration.is_none());
        assert_eq!(starts.0.load(Ordering::SeqCst), 2);
        a.release(false);
        b.release(false);
        pools.unprovision(&key);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            pools.live_by_function().get("f"),
            None,
            "reaped once unprovisioned"
        );
    }

    /// Issues numbered keys that expire `lifetime` from now, or fails.
    struct Issuer {
        lifetime: Duration,
        fail: bool,
        issued: Mutex<Vec<(String, String)>>,
    }

    impl Issuer {
        fn new(lifetime: Duration) -> Arc<Issuer> {
            Arc::new(Issuer {
                lifetime,
                fail: false,
                issued: Mutex::new(Vec::new()),
            })
        }
        fn count(&self) -> usize {
            self.issued.lock().unwrap().len()
        }
    }

    impl CredentialIssuer for Issuer {
        fn credentials(
            &self,
            function_arn: &str,
            role: &str,
        ) -> Result<crate::ExecutionCredentials, BoxError> {
            if self.fail {
                return Err(format!("no such role: {role}").into());
            }
            let mut issued = self.issued.lock().unwrap();
            issued.push((function_arn.to_string(), role.to_string()));
            Ok(crate::ExecutionCredentials {
                access_key_id: format!("ASIA{}", issued.len()),
                secret_access_key: "secret".into(),
                session_token: "token".into(),
                expiration: std::time::SystemTime::now() + self.lifetime,
            })
        }
    }

    /// An environment that answers with the access key it was started with.
    struct KeyEcho(String);

    #[async_trait]
    impl Environment for KeyEcho {
        fn protocol(&self) -> Protocol {
            Protocol::Event
        }
        async fn invoke(&mut self, _inv: Invocation) -> Outcome {
            Outcome {
                result: Ok(Some(self.0.clone().into())),
                discard: false,
                max_memory_bytes: 0,
            }
        }
    }

    struct KeyEchoes;

    #[async_trait]
    impl Template for KeyEchoes {
        fn protocol(&self) -> Protocol {
            Protocol::Event
        }
        async fn start(
            &self,
            config: &EnvConfig,
            _log: &LogSink,
        ) -> Result<Box<dyn Environment>, FunctionError> {
            let key = config.env.get("AWS_ACCESS_KEY_ID").cloned();
            Ok(Box::new(KeyEcho(key.unwrap_or_else(|| "none".into()))))
        }
    }

    fn credential_setup(
        issuer: Arc<Issuer>,
        idle: Duration,
    ) -> (Pools, PoolKey, Arc<dyn Template>, EnvConfig) {
        let (_, key, _, _, mut config) = setup(idle);
        config.function_arn = "arn:aws:lambda:us-east-1:000000000000:function:f".into();
        config.role = "arn:aws:iam::000000000000:role/f-role".into();
        let pools = Pools::with_credentials(
            PoolsConfig {
                idle_timeout: idle,
                memory_budget_mb: 1 << 20,
                scale_up: ScaleUp::default(),
            },
            issuer,
        );
        (pools, key, Arc::new(KeyEchoes), config)
    }

    /// Credentials that reach the refresh margin `after` from now.
    fn lifetime(after: Duration) -> Duration {
        crate::REFRESH_MARGIN + after
    }

    #[tokio::test]
    async fn a_cold_start_gets_the_roles_credentials() {
        let issuer = Issuer::new(Duration::from_secs(3600));
        let (pools, key, template, config) =
            credential_setup(issuer.clone(), Duration::from_secs(60));
        let log = LogSink::new(16);
        let mut lease = pools
            .acquire(&key, &template, || config.clone(), &log)
            .await
            .unwrap();
        assert_eq!(run(&mut lease).await, "ASIA1");
        lease.release(false);
        // Warm: the same environment, the same credentials, no new issue.
        let mut lease = pools
            .acquire(&key, &template, || config.clone(), &log)
            .await
            .unwrap();
        assert!(lease.init_duration.is_none());
        assert_eq!(run(&mut lease).await, "ASIA1");
        assert_eq!(
            *issuer.issued.lock().unwrap(),
            vec![(config.function_arn.clone(), config.role.clone())]
        );
    }

    #[tokio::test]
    async fn without_an_issuer_environments_get_no_credentials() {
        let (_, key, _, _, config) = setup(Duration::from_secs(60));
        let pools = budget_pools(1 << 20, ScaleUp::default());
        let template: Arc<dyn Template> = Arc::new(KeyEchoes);
        let mut lease = pools
            .acquire(&key, &template, || config.clone(), &LogSink::new(16))
            .await
            .unwrap();
        assert_eq!(run(&mut lease).await, "none");
    }

    #[tokio::test]
    async fn environments_near_credential_expiry_are_retired_not_reused() {
        let issuer = Issuer::new(lifetime(Duration::from_millis(300)));
        let (pools, key, template, config) =
            credential_setup(issuer.clone(), Duration::from_secs(60));
        let log = LogSink::new(16);
        let mut lease = pools
            .acquire(&key, &template, || config.clone(), &log)
            .await
            .unwrap();
        assert_eq!(run(&mut lease).await, "ASIA1");
        lease.release(false);
        let lease = pools
            .acquire(&key, &template, || config.clone(), &log)
            .await
            .unwrap();
        assert!(lease.init_duration.is_none(), "still fresh: reused");
        lease.release(false);

        tokio::time::sleep(Duration::from_millis(400)).await;
        // Idle past the margin: passed over, and a new environment starts
        // with new credentials.
        let mut lease = pools
            .acquire(&key, &template, || config.clone(), &log)
            .await
            .unwrap();
        assert!(lease.init_duration.is_some(), "a cold start");
        assert_eq!(run(&mut lease).await, "ASIA2");
        assert_eq!(pools.live_by_function()["f"], 1, "the old one is gone");
        assert_eq!(pools.memory_reserved_mb(), 128);

        // Busy past the margin: not taken back.
        tokio::time::sleep(Duration::from_millis(400)).await;
        lease.release(false);
        assert_eq!(pools.idle_count(&key), 0);
        assert_eq!(pools.live_by_function().get("f"), None);
        assert_eq!(pools.memory_reserved_mb(), 0);
        assert_eq!(issuer.count(), 2);
    }

    #[tokio::test]
    async fn the_reaper_retires_provisioned_environments_before_expiry() {
        let issuer = Issuer::new(lifetime(Duration::from_millis(300)));
        let (pools, key, template, config) =
            credential_setup(issuer.clone(), Duration::from_millis(100));
        let live = pools
            .provision(&key, &template, || config.clone(), 2, &mut Vec::new())
            .await
            .unwrap();
        assert_eq!(live, 2);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(pools.live_by_function()["f"], 2, "provisioned: kept idle");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            pools.live_by_function().get("f"),
            None,
            "retired at the margin, provisioned or not"
        );
        assert_eq!(pools.memory_reserved_mb(), 0);
        // Topping up starts replacements with new credentials.
        let live = pools
            .provision(&key, &template, || config.clone(), 2, &mut Vec::new())
            .await
            .unwrap();
        assert_eq!(live, 2);
        assert_eq!(issuer.count(), 4);
    }

    /// A template whose environments take a long time to start.
    struct SlowStarts;

    #[async_trait]
    impl Template for SlowStarts {
        fn protocol(&self) -> Protocol {
            Protocol::Event
        }
        async fn start(
            &self,
            _config: &EnvConfig,
            _log: &LogSink,
        ) -> Result<Box<dyn Environment>, FunctionError> {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(Box::new(Counter { calls: 0 }))
        }
    }

    #[tokio::test]
    async fn callers_that_give_up_during_a_cold_start_leave_nothing_reserved() {
        let (pools, key, _, _, config) = setup(Duration::from_secs(60));
        let slow: Arc<dyn Template> = Arc::new(SlowStarts);
        let log = LogSink::new(16);
        // Within the scale-up limit (1,000 new environments in 10 s).
        for _ in 0..500 {
            let acquire = pools.acquire(&key, &slow, || config.clone(), &log);
            let gave_up = tokio::time::timeout(Duration::from_micros(10), acquire).await;
            assert!(gave_up.is_err(), "the slow start finished");
        }
        // Many at once, in flight together, then abandoned.
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..400 {
            let (pools, key, slow, config) =
                (pools.clone(), key.clone(), slow.clone(), config.clone());
            set.spawn(async move {
                let log = LogSink::new(16);
                pools.acquire(&key, &slow, || config, &log).await.map(drop)
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(pools.memory_reserved_mb() > 0, "the starts are in flight");
        set.abort_all();
        while set.join_next().await.is_some() {}
        assert_eq!(pools.memory_reserved_mb(), 0, "nothing stays reserved");
        assert_eq!(pools.live_by_function().get("f").copied().unwrap_or(0), 0);
        // The pool still starts environments.
        let starts = Arc::new(Starts(AtomicUsize::new(0)));
        let template: Arc<dyn Template> = starts.clone();
        let lease = pools
            .acquire(&key, &template, || config.clone(), &log)
            .await;
        assert!(lease.is_ok());
        assert_eq!(starts.0.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_role_without_credentials_fails_the_cold_start() {
        let issuer = Arc::new(Issuer {
            fail: true,
            ..Arc::into_inner(Issuer::new(Duration::from_secs(3600))).unwrap()
        });
        let (pools, key, template, config) = credential_setup(issuer, Duration::from_secs(60));
        let err = match pools
            .acquire(&key, &template, || config.clone(), &LogSink::new(16))
            .await
        {
            Err(e) => e,
            Ok(_) => panic!("started without credentials"),
        };
        assert!(matches!(err, StartError::Credentials(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "The role defined for the function cannot be assumed by Lambda."
        );
        let cause = std::error::Error::source(&err).map(|e| e.to_string());
        assert_eq!(
            cause.as_deref(),
            Some("no such role: arn:aws:iam::000000000000:role/f-role")
        );
        assert_eq!(pools.memory_reserved_mb(), 0, "nothing stays reserved");
        assert_eq!(pools.live_by_function().get("f"), None);
        let provisioned = pools
            .provision(&key, &template, || config.clone(), 1, &mut Vec::new())
            .await;
        assert!(matches!(provisioned, Err(StartError::Credentials(_))));
    }

    #[test]
    fn log_sink_keeps_the_tail() {
        let sink = LogSink::new(4);
        sink.write(b"abc");
        sink.write(b"defg");
        assert_eq!(sink.take(), b"defg");
        assert!(sink.take().is_empty());
    }
}
