//! The wasmtime engine every WebAssembly function of a node runs in, and the
//! epoch ticker that lets the node interrupt guests.
//!
//! ```text
//!   ticker thread ──increment_epoch() every TICK──> Engine
//!                                                     │
//!   Store (one per environment) ── epoch deadline ────┘
//!     └─ callback on each tick: past the invocation deadline? trap
//!                               otherwise yield to tokio, then go on
//! ```
//!
//! Instances come from the pooling allocator: linear memories, tables,
//! instance metadata and fiber stacks are reserved up front in slots and
//! reused, with copy-on-write memory images, which keeps a cold start in the
//! microseconds. When the host refuses the address-space reservation the
//! engine falls back to on-demand allocation.

use std::sync::mpsc;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances: the granularity of timeouts and of the
/// cooperative yields of CPU-bound guests.
pub(crate) const TICK: Duration = Duration::from_millis(5);

/// Largest linear memory a guest may have (each memory, before the
/// per-function limit applies).
const MAX_MEMORY_SIZE: usize = 4 << 30;

/// Elements of a table: componentize-py and other language runtimes have
/// function tables far larger than hand-written code.
const TABLE_ELEMENTS: usize = 200_000;

/// Core instances one component may create (language runtimes composed
/// from several modules and shims need a handful; leave head room).
const CORE_INSTANCES_PER_COMPONENT: u32 = 64;
/// Pool slots per component instance, on average, for core instances and
/// tables; memories are fewer and each memory slot reserves 4 GiB of
/// address space, so they get their own factor.
const CORE_INSTANCES_PER_SLOT: u32 = 8;
const TABLES_PER_SLOT: u32 = 8;
const MEMORIES_PER_SLOT: u32 = 2;

/// The engine plus the ticker thread that drives its epochs. Shared (in an
/// `Arc`) by the runtime, its templates and environments: the ticker stops
/// when the last of them is gone, never while a guest could still run.
pub(crate) struct EngineHandle {
    pub engine: Engine,
    pub allocator: &'static str,
    /// Dropping the sender stops the ticker thread.
    _stop_ticker: mpsc::Sender<()>,
}

impl EngineHandle {
    pub fn new(max_instances: u32) -> anyhow::Result<Self> {
        let (engine, allocator) = match Engine::new(&config(Some(max_instances))) {
            Ok(engine) => (engine, "pooling"),
            Err(err) => {
                tracing::warn!(
                    error = %err,
                    "cannot reserve the pooling allocator's address space; using on-demand allocation"
                );
                let engine = Engine::new(&config(None))
                    .map_err(|e| anyhow::anyhow!("creating the wasmtime engine: {e}"))?;
                (engine, "on-demand")
            }
        };
        tracing::info!(allocator, max_instances, "wasmtime engine ready");

        let (stop, stopped) = mpsc::channel::<()>();
        let ticking = engine.clone();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                // Ends when the sender is dropped (Disconnected).
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
                    ticking.increment_epoch();
                }
            })?;

        Ok(EngineHandle {
            engine,
            allocator,
            _stop_ticker: stop,
        })
    }
}

/// The engine configuration; `pool` is the number of instance slots of the
/// pooling allocator, `None` for on-demand allocation.
fn config(pool: Option<u32>) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    if let Some(slots) = pool {
        let slots = slots.max(1);
        let mut pooling = PoolingAllocationConfig::new();
        pooling
            .total_component_instances(slots)
            .total_core_instances(slots.saturating_mul(CORE_INSTANCES_PER_SLOT))
            .total_memories(slots.saturating_mul(MEMORIES_PER_SLOT))
            .total_tables(slots.saturating_mul(TABLES_PER_SLOT))
            .total_stacks(slots)
            .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
            .max_memories_per_component(CORE_INSTANCES_PER_COMPONENT)
            .max_tables_per_component(CORE_INSTANCES_PER_COMPONENT)
            .max_tables_per_module(4)
            .table_elements(TABLE_ELEMENTS)
            .max_memory_size(MAX_MEMORY_SIZE)
            .max_component_instance_size(4 << 20)
            .max_core_instance_size(4 << 20);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    }
    config
}
