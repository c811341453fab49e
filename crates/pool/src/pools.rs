//! Per-version pools of idle environments.
//!
//! ```text
//!  Pools ─┬─ PoolKey(fn, version, revision) ─> [idle env, idle env, ...] (most recent last)
//!         └─ ...
//! ```
//! `acquire` pops the most recently used idle environment (so surplus ones
//! stay idle long enough to be reaped) or starts a new one; `Lease::release`
//! pushes it back unless it must be discarded. A reaper task drops
//! environments idle for longer than `idle_timeout`: scale to zero.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::{EnvConfig, Environment, FunctionError, LogSink, Template};

#[derive(Debug, Clone)]
pub struct PoolsConfig {
    /// Idle environments older than this are dropped.
    pub idle_timeout: Duration,
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
}

struct Idle {
    env: Box<dyn Environment>,
    since: Instant,
}

#[derive(Default)]
struct Pool {
    idle: Vec<Idle>,
    /// Environments alive for this key, idle or busy.
    live: usize,
    /// `MemorySize` of this key's environments.
    memory_mb: u32,
}

/// What the pools hold for one function, for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionStats {
    pub idle: usize,
    pub busy: usize,
    /// The sum of `MemorySize` over the live environments.
    pub memory_reserved_mb: u64,
}

struct Inner {
    config: PoolsConfig,
    pools: Mutex<HashMap<PoolKey, Pool>>,
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
    pools: Weak<Inner>,
    /// Set on a cold start: how long the init phase took.
    pub init_duration: Option<Duration>,
}

impl Lease {
    pub fn env(&mut self) -> &mut dyn Environment {
        self.env.as_deref_mut().expect("lease holds an environment")
    }

    /// Returns the environment to its pool, or drops it when `discard`.
    pub fn release(mut self, discard: bool) {
        let env = self.env.take();
        let Some(inner) = self.pools.upgrade() else {
            return;
        };
        let mut pools = inner.pools.lock().unwrap_or_else(|e| e.into_inner());
        // No pool for the key: the function changed or was deleted while
        // this environment was busy; it goes away with the lease.
        let Some(pool) = pools.get_mut(&self.key) else {
            return;
        };
        match env {
            Some(env) if !discard => pool.idle.push(Idle {
                env,
                since: Instant::now(),
            }),
            _ => pool.live = pool.live.saturating_sub(1),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // A lease dropped without `release` (a cancelled invocation) loses
        // its environment: it may be in any state.
        if self.env.take().is_some() {
            if let Some(inner) = self.pools.upgrade() {
                let mut pools = inner.pools.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(pool) = pools.get_mut(&self.key) {
                    pool.live = pool.live.saturating_sub(1);
                }
            }
        }
    }
}

impl Pools {
    /// Creates the pools and starts the reaper on the current tokio runtime.
    pub fn new(config: PoolsConfig) -> Self {
        let inner = Arc::new(Inner {
            config,
            pools: Mutex::new(HashMap::new()),
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
        let warm = {
            let mut pools = self.lock();
            let pool = pools.entry(key.clone()).or_default();
            match pool.idle.pop() {
                Some(idle) => Some(idle.env),
                None => {
                    pool.live += 1;
                    None
                }
            }
        };
        if let Some(env) = warm {
            return Ok(self.lease(key, env, None));
        }
        let config = config();
        if let Some(pool) = self.lock().get_mut(key) {
            pool.memory_mb = config.memory_mb;
        }
        let started = Instant::now();
        match template.start(&config, log).await {
            Ok(env) => Ok(self.lease(key, env, Some(started.elapsed()))),
            Err(e) => {
                if let Some(pool) = self.lock().get_mut(key) {
                    pool.live = pool.live.saturating_sub(1);
                }
                Err(StartError::Init(e))
            }
        }
    }

    /// Forgets every environment of `function` (its code or configuration
    /// changed, or it was deleted): idle ones are dropped now, busy ones
    /// when their invocation ends.
    pub fn evict_function(&self, function: &str) {
        let evicted: Vec<Pool> = {
            let mut pools = self.lock();
            let keys: Vec<PoolKey> = pools
                .keys()
                .filter(|k| k.function == function)
                .cloned()
                .collect();
            keys.iter().filter_map(|k| pools.remove(k)).collect()
        };
        drop(evicted);
    }

    /// Live environments (idle or busy) per function.
    pub fn live_by_function(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for (key, pool) in self.lock().iter().filter(|(_, p)| p.live > 0) {
            *out.entry(key.function.clone()).or_default() += pool.live;
        }
        out
    }

    /// Idle and busy environments and reserved memory, per function.
    pub fn stats(&self) -> HashMap<String, FunctionStats> {
        let mut out: HashMap<String, FunctionStats> = HashMap::new();
        for (key, pool) in self.lock().iter().filter(|(_, p)| p.live > 0) {
            let s = out.entry(key.function.clone()).or_default();
            s.idle += pool.idle.len();
            s.busy += pool.live - pool.idle.len();
            s.memory_reserved_mb += pool.live as u64 * u64::from(pool.memory_mb);
        }
        out
    }

    /// Idle environments of one pool key.
    pub fn idle_count(&self, key: &PoolKey) -> usize {
        self.lock().get(key).map_or(0, |p| p.idle.len())
    }

    fn lease(&self, key: &PoolKey, env: Box<dyn Environment>, init: Option<Duration>) -> Lease {
        Lease {
            env: Some(env),
            key: key.clone(),
            pools: Arc::downgrade(&self.inner),
            init_duration: init,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PoolKey, Pool>> {
        self.inner.pools.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn reap(&self) -> Vec<Idle> {
        let now = Instant::now();
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        let mut expired = Vec::new();
        for pool in pools.values_mut() {
            // Idle lists are ordered oldest first.
            let keep_from = pool
                .idle
                .iter()
                .position(|i| now.duration_since(i.since) < self.config.idle_timeout)
                .unwrap_or(pool.idle.len());
            let old: Vec<Idle> = pool.idle.drain(..keep_from).collect();
            pool.live -= old.len();
            expired.extend(old);
        }
        pools.retain(|_, p| p.live > 0);
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Invocation, Outcome, Protocol};
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};

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
        };
        (
            Pools::new(PoolsConfig { idle_timeout: idle }),
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

    #[test]
    fn log_sink_keeps_the_tail() {
        let sink = LogSink::new(4);
        sink.write(b"abc");
        sink.write(b"defg");
        assert_eq!(sink.take(), b"defg");
        assert!(sink.take().is_empty());
    }
}
