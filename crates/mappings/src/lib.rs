//! Event source mappings: SQS queues and DynamoDB streams that invoke a
//! function with batches of their messages or records, as Lambda's
//! `CreateEventSourceMapping` sets up. This page is about queues; a
//! stream mapping has one poller that reads in order and checkpoints
//! durably ([`streams`]).
//!
//! A mapping is a resource of the event store (kind [`KIND`], keyed by
//! its UUID), written through [`Queues::commit`] and loaded at
//! [`Mappings::open`]. Every enabled mapping has a group of pollers:
//!
//! ```text
//!  queue ──receive (long poll, then fill within the batching window)──> poller
//!    ▲                                                                    │ {"Records":[...]}
//!    │ delete processed messages                                          ▼
//!    └──────────────────────────────────────────── Invoker::invoke_queued (waits for concurrency)
//! ```
//!
//! Delivery follows Lambda: a batch the function processed is deleted; a
//! failed one is left alone and becomes visible again after the queue's
//! visibility timeout, so the queue's redrive policy moves it to the
//! dead-letter queue after `maxReceiveCount` receives. With
//! `ReportBatchItemFailures`, only the messages the function reports are
//! left; a response that breaks the format fails the whole batch.
//!
//! Scaling: a mapping starts with one poller. A poller that has filled a
//! batch while messages are still visible in the queue starts another, up
//! to `ScalingConfig.MaximumConcurrency` (or [`DEFAULT_MAX_POLLERS`]): the
//! pollers, and so the concurrent invocations, grow by at most one per
//! batch while the backlog lasts. A poller whose 20-second long poll comes
//! back empty stops, unless it is the last one, so an idle queue costs one
//! waiting task and no invocations.
//!
//! Changing a mapping stops its pollers and starts new ones with the new
//! settings; disabling or deleting it only stops them. Stopping cancels
//! waits at once; an invocation under way finishes and its batch is
//! settled. Messages received but not yet invoked keep their visibility
//! timeout.

pub mod config;
pub mod event;
mod poller;
mod stream_mapping;
pub mod streams;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use updraft_invoker::Invoker;
use updraft_queues::{QueueError, Queues};
use updraft_registry::{RegistryError, Resolved};
use updraft_store::EventWrite;
use updraft_types::FunctionRef;

pub use config::{
    Mapping, MappingStatus, MappingUpdate, NewMapping, State, StreamRequest, StreamSettings,
    DEFAULT_BATCH_SIZE, DEFAULT_STREAM_BATCH_SIZE, KIND, MAX_STREAM_BATCH,
};
pub use poller::DEFAULT_MAX_POLLERS;
pub use streams::{StreamReader, POSITION_KIND};

use config::{check_batching, no_such_queue, parse_queue_arn, parse_stream_arn};
use poller::{Context, Group};
use stream_mapping::{no_scaling, stream_only};
use streams::StreamPoller;

/// Why a mapping operation failed, in Lambda's terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// `ResourceNotFoundException`: the mapping or the function.
    #[error("{0}")]
    NotFound(String),
    /// `InvalidParameterValueException`
    #[error("{0}")]
    InvalidParameter(String),
    /// `ValidationException`: a modelled constraint.
    #[error("{0}")]
    Validation(String),
    /// `ResourceConflictException`: a mapping of that queue and function
    /// exists.
    #[error("{0}")]
    Conflict(String),
    /// The store failed; nothing changed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<RegistryError> for MappingError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::NotFound(m) => MappingError::NotFound(m),
            RegistryError::InvalidParameter(m) => MappingError::InvalidParameter(m),
            other => MappingError::Internal(other.to_string()),
        }
    }
}

impl From<QueueError> for MappingError {
    fn from(e: QueueError) -> Self {
        MappingError::Internal(e.to_string())
    }
}

/// The pollers of a queue, or the poller of a stream.
enum Pollers {
    Queue(Arc<Group>),
    Stream(StreamPoller),
}

impl Pollers {
    fn stop(&self) {
        match self {
            Pollers::Queue(group) => group.stop(),
            Pollers::Stream(poller) => poller.stop(),
        }
    }
}

/// A mapping and, while it is enabled, its pollers.
struct Entry {
    mapping: Mapping,
    pollers: Option<Pollers>,
}

impl Entry {
    /// Stops the pollers, and starts new ones if the mapping is enabled
    /// (a stream mapping's once the streams are attached).
    fn restart(&mut self, ctx: &Arc<Context>) {
        if let Some(pollers) = self.pollers.take() {
            pollers.stop();
        }
        if !self.mapping.enabled {
            return;
        }
        self.pollers = match &self.mapping.stream {
            None => Some(Pollers::Queue(Group::start(
                ctx.clone(),
                self.mapping.clone(),
            ))),
            Some(settings) => ctx.streams.get().map(|reader| {
                Pollers::Stream(StreamPoller::start(
                    ctx.clone(),
                    reader.clone(),
                    self.mapping.clone(),
                    settings.clone(),
                ))
            }),
        };
    }
}

/// Every event source mapping of the node.
pub struct Mappings {
    ctx: Arc<Context>,
    entries: Mutex<BTreeMap<String, Entry>>,
    /// Serializes changes from their checks to their commit, so that two
    /// requests cannot both pass the duplicate check.
    changes: tokio::sync::Mutex<()>,
}

impl Mappings {
    /// Loads the stored mappings; their pollers start with [`Self::start`].
    pub fn open(queues: Arc<Queues>, invoker: Arc<Invoker>) -> Result<Arc<Mappings>, String> {
        let stored = queues
            .store()
            .resources(KIND)
            .map_err(|e| format!("reading event source mappings: {e}"))?;
        let mut positions = HashMap::new();
        for (uuid, value) in queues
            .store()
            .resources(POSITION_KIND)
            .map_err(|e| format!("reading stream mapping positions: {e}"))?
        {
            let position = value
                .parse::<u64>()
                .map_err(|e| format!("stream mapping {uuid} has an unreadable position: {e}"))?;
            positions.insert(uuid, position);
        }
        let mut entries = BTreeMap::new();
        for (uuid, value) in stored {
            match serde_json::from_str::<Mapping>(&value) {
                Ok(mapping) => {
                    entries.insert(
                        uuid,
                        Entry {
                            mapping,
                            pollers: None,
                        },
                    );
                }
                Err(e) => {
                    return Err(format!("event source mapping {uuid} is unreadable: {e}"));
                }
            }
        }
        Ok(Arc::new(Mappings {
            ctx: Arc::new(Context {
                queues,
                invoker,
                tasks: tokio_util::task::TaskTracker::new(),
                streams: OnceLock::new(),
                positions: Mutex::new(positions),
                turns: Mutex::new(HashMap::new()),
            }),
            entries: Mutex::new(entries),
            changes: tokio::sync::Mutex::new(()),
        }))
    }

    /// Starts the pollers of enabled mappings.
    pub fn start(self: &Arc<Self>) {
        for entry in self.lock().values_mut() {
            if entry.pollers.is_none() {
                entry.restart(&self.ctx);
            }
        }
    }

    /// Gives the stream mappings the tables' streams to read and starts
    /// their pollers (once; later calls change nothing).
    pub fn attach_streams(self: &Arc<Self>, reader: Arc<dyn StreamReader>) {
        if self.ctx.streams.set(reader).is_ok() {
            self.start();
        }
    }

    /// Stops every poller and waits, at most `bound`, for the
    /// invocations under way to finish and their batches to be settled.
    /// Messages not yet invoked stay in their queue. Returns whether
    /// everything finished.
    pub async fn shutdown(&self, bound: Duration) -> bool {
        for entry in self.lock().values_mut() {
            if let Some(pollers) = entry.pollers.take() {
                pollers.stop();
            }
        }
        self.ctx.tasks.close();
        tokio::time::timeout(bound, self.ctx.tasks.wait())
            .await
            .is_ok()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `CreateEventSourceMapping`: answers the mapping in state `Creating`;
    /// its pollers are running when this returns.
    pub async fn create(&self, new: NewMapping) -> Result<MappingStatus, MappingError> {
        if let Some(arn) = parse_stream_arn(&new.event_source_arn) {
            return self.create_stream(new, arn).await;
        }
        if !new.stream.is_empty() {
            return Err(stream_only());
        }
        let arn = parse_queue_arn(&new.event_source_arn)?;
        let account = self.ctx.invoker.registry().account();
        if arn.region != account.region || arn.account_id != account.account_id {
            return Err(no_such_queue());
        }
        let queue = self
            .ctx
            .queues
            .get_queue(&arn.queue)
            .ok_or_else(no_such_queue)?;
        let target = self.resolve(&new.function)?;
        check_visibility(queue.visibility_timeout, &target)?;
        let mapping = Mapping {
            uuid: uuid::Uuid::new_v4().to_string(),
            event_source_arn: new.event_source_arn,
            queue: arn.queue,
            function: new.function.name,
            qualifier: new.function.qualifier.map(|q| q.to_string()),
            batch_size: new.batch_size.unwrap_or(DEFAULT_BATCH_SIZE),
            batching_window: new.batching_window.unwrap_or(0),
            enabled: new.enabled.unwrap_or(true),
            report_batch_item_failures: new.report_batch_item_failures,
            maximum_concurrency: new.maximum_concurrency,
            last_modified_ms: now_ms(),
            state_transition_reason: "USER_INITIATED".into(),
            stream: None,
        };
        check_batching(&mapping, queue.fifo)?;

        let _change = self.changes.lock().await;
        self.check_unique(&mapping)?;
        self.persist(&mapping, None).await?;
        let mut entry = Entry {
            mapping: mapping.clone(),
            pollers: None,
        };
        entry.restart(&self.ctx);
        self.lock().insert(mapping.uuid.clone(), entry);
        Ok(MappingStatus {
            mapping,
            state: State::Creating,
        })
    }

    /// `GetEventSourceMapping`
    pub fn get(&self, uuid: &str) -> Result<MappingStatus, MappingError> {
        let mapping = self.mapping(uuid)?;
        Ok(MappingStatus {
            state: State::of(&mapping),
            mapping,
        })
    }

    /// `ListEventSourceMappings`: by UUID, filtered by function (by name,
    /// and by qualifier when the filter has one) and by queue ARN.
    pub fn list(
        &self,
        function: Option<&FunctionRef>,
        event_source_arn: Option<&str>,
    ) -> Vec<MappingStatus> {
        self.lock()
            .values()
            .map(|e| &e.mapping)
            .filter(|m| {
                function.is_none_or(|f| {
                    m.function == f.name
                        && f.qualifier
                            .as_ref()
                            .is_none_or(|q| m.qualifier.as_deref() == Some(&q.to_string()))
                })
            })
            .filter(|m| event_source_arn.is_none_or(|arn| m.event_source_arn == arn))
            .map(|m| MappingStatus {
                state: State::of(m),
                mapping: m.clone(),
            })
            .collect()
    }

    /// `UpdateEventSourceMapping`: answers `Enabling`, `Disabling` or
    /// `Updating`; the pollers run with the new settings when this returns.
    pub async fn update(
        &self,
        uuid: &str,
        update: MappingUpdate,
    ) -> Result<MappingStatus, MappingError> {
        let _change = self.changes.lock().await;
        let old = self.mapping(uuid)?;
        let mut new = old.clone();
        let queue = self.ctx.queues.get_queue(&old.queue);
        match &mut new.stream {
            Some(settings) => self.apply_stream_update(settings, &update)?,
            None if !update.stream.is_empty() => return Err(stream_only()),
            None => {}
        }
        if let Some(f) = update.function {
            let target = self.resolve(&f)?;
            if let (Some(q), None) = (&queue, &new.stream) {
                check_visibility(q.visibility_timeout, &target)?;
            }
            new.function = f.name;
            new.qualifier = f.qualifier.map(|q| q.to_string());
        }
        if let Some(enabled) = update.enabled {
            new.enabled = enabled;
        }
        if let Some(n) = update.batch_size {
            new.batch_size = n;
        }
        if let Some(w) = update.batching_window {
            new.batching_window = w;
        }
        if let Some(r) = update.report_batch_item_failures {
            new.report_batch_item_failures = r;
        }
        if let Some(c) = update.maximum_concurrency {
            if new.stream.is_some() {
                return Err(no_scaling());
            }
            new.maximum_concurrency = c;
        }
        if new.stream.is_none() {
            check_batching(&new, queue.is_some_and(|q| q.fifo))?;
        }
        if (&new.function, &new.qualifier) != (&old.function, &old.qualifier) {
            self.check_unique(&new)?;
        }
        new.last_modified_ms = now_ms();
        new.state_transition_reason = "USER_INITIATED".into();
        self.persist(&new, None).await?;
        if let Some(entry) = self.lock().get_mut(uuid) {
            entry.mapping = new.clone();
            entry.restart(&self.ctx);
        }
        let state = match (old.enabled, new.enabled) {
            (false, true) => State::Enabling,
            (true, false) => State::Disabling,
            _ => State::Updating,
        };
        Ok(MappingStatus {
            mapping: new,
            state,
        })
    }

    /// `DeleteEventSourceMapping`: answers the mapping in state
    /// `Deleting`; its pollers are stopping and it is gone when this
    /// returns.
    pub async fn delete(&self, uuid: &str) -> Result<MappingStatus, MappingError> {
        let _change = self.changes.lock().await;
        let mapping = self.mapping(uuid)?;
        self.ctx
            .queues
            .commit(vec![
                EventWrite::DeleteResource {
                    kind: KIND.into(),
                    key: uuid.into(),
                },
                EventWrite::DeleteResource {
                    kind: POSITION_KIND.into(),
                    key: uuid.into(),
                },
            ])
            .await?;
        if let Some(pollers) = self.lock().remove(uuid).and_then(|e| e.pollers) {
            pollers.stop();
        }
        self.ctx.forget_position(uuid);
        Ok(MappingStatus {
            mapping,
            state: State::Deleting,
        })
    }

    fn mapping(&self, uuid: &str) -> Result<Mapping, MappingError> {
        self.lock()
            .get(uuid)
            .map(|e| e.mapping.clone())
            .ok_or_else(|| {
                MappingError::NotFound("The resource you requested does not exist.".into())
            })
    }

    fn resolve(&self, function: &FunctionRef) -> Result<Resolved, MappingError> {
        Ok(self
            .ctx
            .invoker
            .registry()
            .resolve(&function.name, function.qualifier.as_ref())?)
    }

    /// One mapping per queue and function (with its qualifier), as Lambda.
    fn check_unique(&self, mapping: &Mapping) -> Result<(), MappingError> {
        let account = self.ctx.invoker.registry().account();
        let entries = self.lock();
        let existing = entries.values().map(|e| &e.mapping).find(|m| {
            m.uuid != mapping.uuid
                && m.event_source_arn == mapping.event_source_arn
                && m.function == mapping.function
                && m.qualifier == mapping.qualifier
        });
        match existing {
            Some(m) => Err(MappingError::Conflict(format!(
                "An event source mapping with SQS arn (\" {} \") and function (\" {} \") already exists. \
                 Please update or delete the existing mapping with UUID {}",
                m.event_source_arn,
                m.function_arn(account),
                m.uuid
            ))),
            None => Ok(()),
        }
    }

    /// Stores the mapping, and with it a stream mapping's starting
    /// position when it is new.
    async fn persist(&self, mapping: &Mapping, position: Option<u64>) -> Result<(), MappingError> {
        let value =
            serde_json::to_string(mapping).map_err(|e| MappingError::Internal(e.to_string()))?;
        let mut writes = vec![EventWrite::PutResource {
            kind: KIND.into(),
            key: mapping.uuid.clone(),
            value,
        }];
        if let Some(position) = position {
            writes.push(EventWrite::PutResource {
                kind: POSITION_KIND.into(),
                key: mapping.uuid.clone(),
                value: position.to_string(),
            });
        }
        self.ctx.queues.commit(writes).await?;
        if let Some(position) = position {
            self.ctx.set_position(&mapping.uuid, position);
        }
        Ok(())
    }
}

/// Lambda refuses a queue whose visibility timeout is shorter than the
/// function's timeout: messages would come back while still being
/// processed.
fn check_visibility(visibility_timeout: u32, target: &Resolved) -> Result<(), MappingError> {
    let timeout = target.config.timeout;
    if visibility_timeout < timeout {
        return Err(MappingError::InvalidParameter(format!(
            "Queue visibility timeout: {visibility_timeout} seconds is less than Function timeout: {timeout} seconds"
        )));
    }
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
