//! Concurrency limits: the account's, and functions' reserved concurrency.
//!
//! ```text
//!  account limit (e.g. 1000)
//!  ├─ reserved for f1: 100   ── only f1 runs here, f1 runs only here
//!  ├─ reserved for f2: 50
//!  └─ unreserved: 850        ── every function without a reservation
//! ```
//! A permit is one running invocation. Counting happens under one mutex,
//! so the number of concurrent executions never exceeds a limit, not even
//! for a moment. Synchronous invocations are refused at the limit
//! ([`Limits::try_acquire`]); asynchronous ones wait for a permit
//! ([`Limits::acquire`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// Why a permit was refused: Lambda's `Reason` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// The account's unreserved concurrency is in use.
    Account,
    /// The function's reserved concurrency is in use (or is 0).
    Reserved,
    /// The node's memory budget is taken by busy environments.
    NodeMemory,
    /// The function is adding environments faster than its scale-up limit.
    ScaleUp,
}

impl Throttle {
    pub fn reason(self) -> &'static str {
        match self {
            Throttle::Account => "ConcurrentInvocationLimitExceeded",
            Throttle::Reserved => "ReservedFunctionConcurrentInvocationLimitExceeded",
            Throttle::NodeMemory => "ConcurrentInvocationLimitExceeded",
            Throttle::ScaleUp => "FunctionInvocationRateLimitExceeded",
        }
    }
}

#[derive(Debug, Default)]
struct State {
    account: usize,
    reserved: HashMap<String, usize>,
    reserved_total: usize,
    /// Running invocations per function.
    running: HashMap<String, usize>,
    /// Running invocations of functions without a reservation.
    running_unreserved: usize,
}

impl State {
    fn try_take(&mut self, function: &str) -> Result<(), Throttle> {
        match self.reserved.get(function) {
            Some(&limit) => {
                let running = self.running.get(function).copied().unwrap_or(0);
                if running >= limit {
                    return Err(Throttle::Reserved);
                }
            }
            None => {
                if self.running_unreserved >= self.account.saturating_sub(self.reserved_total) {
                    return Err(Throttle::Account);
                }
                self.running_unreserved += 1;
            }
        }
        // Only a function's first running invocation allocates its key.
        match self.running.get_mut(function) {
            Some(n) => *n += 1,
            None => {
                self.running.insert(function.to_string(), 1);
            }
        }
        Ok(())
    }

    fn give_back(&mut self, function: &str, was_reserved: bool) {
        if !was_reserved {
            self.running_unreserved = self.running_unreserved.saturating_sub(1);
        }
        if let Some(n) = self.running.get_mut(function) {
            *n -= 1;
            if *n == 0 {
                self.running.remove(function);
            }
        }
    }
}

struct Inner {
    state: Mutex<State>,
    released: Notify,
}

/// The node's concurrency accounting.
#[derive(Clone)]
pub struct Limits {
    inner: Arc<Inner>,
}

/// One running invocation; gives its slot back when dropped.
pub struct Permit {
    inner: Arc<Inner>,
    function: String,
    reserved: bool,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .give_back(&self.function, self.reserved);
        self.inner.released.notify_waiters();
    }
}

impl Limits {
    pub fn new(account: usize) -> Self {
        Limits {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    account,
                    ..State::default()
                }),
                released: Notify::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn account_limit(&self) -> usize {
        self.lock().account
    }

    /// Sets (`Some`) or removes (`None`) a function's reservation. Running
    /// invocations are not interrupted; new ones see the new limit.
    pub fn set_reserved(&self, function: &str, reserved: Option<usize>) {
        let mut s = self.lock();
        let old = match reserved {
            Some(n) => s.reserved.insert(function.to_string(), n),
            None => s.reserved.remove(function),
        };
        s.reserved_total = s.reserved_total - old.unwrap_or(0) + reserved.unwrap_or(0);
        drop(s);
        self.inner.released.notify_waiters();
    }

    /// The sum of all reservations but `except`'s.
    pub fn reserved_total_except(&self, except: &str) -> usize {
        let s = self.lock();
        s.reserved_total - s.reserved.get(except).copied().unwrap_or(0)
    }

    /// A permit now, or the reason there is none.
    pub fn try_acquire(&self, function: &str) -> Result<Permit, Throttle> {
        let reserved = {
            let mut s = self.lock();
            s.try_take(function)?;
            s.reserved.contains_key(function)
        };
        Ok(Permit {
            inner: self.inner.clone(),
            function: function.to_string(),
            reserved,
        })
    }

    /// Waits until a permit is free.
    pub async fn acquire(&self, function: &str) -> Permit {
        loop {
            let released = self.inner.released.notified();
            tokio::pin!(released);
            // Register before trying, so a release in between wakes us.
            released.as_mut().enable();
            if let Ok(p) = self.try_acquire(function) {
                return p;
            }
            released.await;
        }
    }

    /// Running invocations per function.
    pub fn running(&self) -> HashMap<String, usize> {
        self.lock().running.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn reserved_and_unreserved_pools_are_separate() {
        let l = Limits::new(4);
        l.set_reserved("r", Some(2));
        let a = l.try_acquire("r").unwrap();
        let _b = l.try_acquire("r").unwrap();
        assert_eq!(l.try_acquire("r").err(), Some(Throttle::Reserved));
        // Unreserved: 4 - 2 = 2 slots for everyone else.
        let _x = l.try_acquire("x").unwrap();
        let _y = l.try_acquire("y").unwrap();
        assert_eq!(l.try_acquire("z").err(), Some(Throttle::Account));
        drop(a);
        assert!(l.try_acquire("r").is_ok());
        assert_eq!(l.running()["x"], 1);
    }

    #[test]
    fn zero_reserved_disables_a_function() {
        let l = Limits::new(10);
        l.set_reserved("off", Some(0));
        assert_eq!(l.try_acquire("off").err(), Some(Throttle::Reserved));
        l.set_reserved("off", None);
        assert!(l.try_acquire("off").is_ok());
    }

    #[tokio::test]
    async fn waiters_get_the_released_permit() {
        let l = Limits::new(1);
        let held = l.try_acquire("f").unwrap();
        let l2 = l.clone();
        let waiter = tokio::spawn(async move {
            let _p = l2.acquire("g").await;
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        drop(held);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woken")
            .unwrap();
    }

    #[test]
    fn never_more_than_the_limit_under_contention() {
        let l = Limits::new(3);
        let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let now = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (l, peak, now) = (l.clone(), peak.clone(), now.clone());
                std::thread::spawn(move || {
                    for _ in 0..2000 {
                        if let Ok(p) = l.try_acquire("f") {
                            let n = now.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                            peak.fetch_max(n, std::sync::atomic::Ordering::SeqCst);
                            now.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                            drop(p);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(peak.load(std::sync::atomic::Ordering::SeqCst) <= 3);
    }
}
