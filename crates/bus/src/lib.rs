//! The event bus (EventBridge).
//!
//! Buses hold rules; a rule has an event pattern and up to five targets.
//! An event put on a bus is wrapped in EventBridge's envelope, matched
//! against the bus's enabled rules (through a [`index::RuleIndex`]), and
//! written to every target of every matching rule through the durable
//! queues before the put is acknowledged:
//!
//! ```text
//!  PutEvents / Bus::put_event ─> envelope ─> RuleIndex ─> matching rules
//!                                                          │ per target: Input / InputPath / InputTransformer
//!                     Lambda function ─> Queues::enqueue_invocations (trigger `bus`)
//!                     SQS queue       ─> Queues::send
//! ```
//!
//! Buses and rules (targets inside their rule) are resources in the event
//! store, written through [`Queues::commit`] and loaded at [`Bus::open`];
//! the compiled rules and the index live in memory. Changes are
//! serialized by one lock and applied in memory after they are durable.
//!
//! A bus's resource policy (`PutPermission` / `RemovePermission`) is kept
//! with the bus, validated when written and parsed once per change
//! ([`Bus::policy`], for the authorizer). The default bus is stored only
//! once it has a policy.

mod index;
pub mod model;
pub mod pattern;
mod permissions;
mod routing;
pub mod transform;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use updraft_queues::{QueueError, Queues};
use updraft_store::EventWrite;
use updraft_types::Account;

use index::RuleIndex;
use model::{CompiledRule, BUS_KIND, MAX_TARGETS_PER_RULE, RULE_KIND};
pub use model::{EventBus, InputTransformer, Rule, RuleState, Target, DEFAULT_BUS};
use pattern::Pattern;
pub use permissions::{Permission, PermissionCondition};
pub use routing::{EntryError, EntryResult, EventEntry, MAX_ENTRIES, MAX_ENTRIES_SIZE};

/// The most custom buses an account may have (as EventBridge's quota).
pub const MAX_BUSES: usize = 100;

/// Why a bus operation failed, in EventBridge's terms ([`BusError::code`]).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum BusError {
    #[error("Event bus {0} does not exist.")]
    NoSuchBus(String),
    #[error("Rule {rule} does not exist on EventBus {bus}.")]
    NoSuchRule { rule: String, bus: String },
    /// Something else that does not exist (a policy, a statement).
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidEventPattern(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    Internal(String),
}

impl BusError {
    /// The `__type` EventBridge answers.
    pub fn code(&self) -> &'static str {
        match self {
            BusError::NoSuchBus(_) | BusError::NoSuchRule { .. } | BusError::NotFound(_) => {
                "ResourceNotFoundException"
            }
            BusError::AlreadyExists(_) => "ResourceAlreadyExistsException",
            BusError::InvalidEventPattern(_) => "InvalidEventPatternException",
            BusError::Validation(_) => "ValidationException",
            BusError::LimitExceeded(_) => "LimitExceededException",
            BusError::Internal(_) => "InternalException",
        }
    }
}

impl From<QueueError> for BusError {
    fn from(e: QueueError) -> Self {
        BusError::Internal(e.to_string())
    }
}

/// An event to put on a bus.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// A bus name or ARN; `default` for the default bus.
    pub bus: String,
    pub source: String,
    pub detail_type: String,
    pub detail: serde_json::Value,
    pub resources: Vec<String>,
}

/// A `PutTargets`/`RemoveTargets` entry that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetFailure {
    pub target_id: String,
    pub code: &'static str,
    pub message: String,
}

/// What `PutRule` takes.
#[derive(Debug, Clone, Default)]
pub struct RuleSpec {
    pub name: String,
    /// A bus name or ARN; `None` is the default bus.
    pub bus: Option<String>,
    pub event_pattern: Option<String>,
    pub schedule_expression: Option<String>,
    /// `None` keeps an existing rule's state (new rules are enabled).
    pub state: Option<RuleState>,
    pub description: Option<String>,
    pub role_arn: Option<String>,
}

/// Everything in memory: buses, and per bus its compiled rules and index.
#[derive(Default)]
struct State {
    buses: BTreeMap<String, EventBus>,
    rules: BTreeMap<String, BusRules>,
    /// Each bus's policy, parsed.
    policies: BTreeMap<String, Arc<updraft_policy::PolicyDocument>>,
}

#[derive(Default)]
struct BusRules {
    rules: BTreeMap<String, Arc<CompiledRule>>,
    index: RuleIndex,
}

impl BusRules {
    fn reindex(&mut self) {
        self.index = RuleIndex::build(self.rules.values());
    }
}

/// The event bus.
pub struct Bus {
    queues: Arc<Queues>,
    account: Account,
    state: RwLock<State>,
    /// Serializes resource changes: each is decided on the current state,
    /// made durable, then applied in memory.
    writes: tokio::sync::Mutex<()>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// RFC 3339 in UTC, to the second, as the envelope's `time`.
fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

fn rule_key(bus: &str, rule: &str) -> String {
    format!("{bus}/{rule}")
}

impl Bus {
    /// Loads buses and rules from the queues' store.
    pub fn open(queues: Arc<Queues>, account: Account) -> Result<Arc<Bus>, String> {
        let bus = Bus {
            queues,
            account,
            state: RwLock::new(State::default()),
            writes: tokio::sync::Mutex::new(()),
        };
        let store = bus.queues.store().clone();
        let mut state = State::default();
        state.buses.insert(
            DEFAULT_BUS.into(),
            EventBus {
                name: DEFAULT_BUS.into(),
                description: None,
                created_ms: None,
                modified_ms: None,
                policy: None,
            },
        );
        for (key, value) in store.resources(BUS_KIND).map_err(|e| e.to_string())? {
            match serde_json::from_str::<EventBus>(&value) {
                Ok(b) => {
                    if let Some(p) = b
                        .policy
                        .as_deref()
                        .and_then(|p| permissions::parse(&b.name, p))
                    {
                        state.policies.insert(b.name.clone(), p);
                    }
                    state.buses.insert(b.name.clone(), b);
                }
                Err(e) => tracing::error!(bus = %key, error = %e, "unreadable event bus; skipped"),
            }
        }
        for (key, value) in store.resources(RULE_KIND).map_err(|e| e.to_string())? {
            let compiled = serde_json::from_str::<Rule>(&value)
                .map_err(|e| e.to_string())
                .and_then(|rule| {
                    let arn = bus.rule_arn(&rule.bus, &rule.name);
                    rule.compile(&bus.account, arn).map_err(|e| e.to_string())
                });
            let compiled = match compiled {
                Ok(c) if state.buses.contains_key(&c.rule.bus) => c,
                Ok(_) => {
                    tracing::error!(rule = %key, "rule of a bus that does not exist; skipped");
                    continue;
                }
                Err(e) => {
                    tracing::error!(rule = %key, error = %e, "unreadable rule; skipped");
                    continue;
                }
            };
            state
                .rules
                .entry(compiled.rule.bus.clone())
                .or_default()
                .rules
                .insert(compiled.rule.name.clone(), Arc::new(compiled));
        }
        state.rules.values_mut().for_each(BusRules::reindex);
        *bus.write() = state;
        Ok(Arc::new(bus))
    }

    // A lock poisoned by a panicking request is used as it is, as the
    // other in-memory state of the server is: the bus keeps serving.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `arn:aws:events:REGION:ACCOUNT:event-bus/NAME`
    pub fn bus_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:events:{}:{}:event-bus/{name}",
            self.account.region, self.account.account_id
        )
    }

    /// `arn:aws:events:REGION:ACCOUNT:rule/[BUS/]NAME` (the default bus is
    /// left out, as EventBridge does).
    pub fn rule_arn(&self, bus: &str, rule: &str) -> String {
        let bus = if bus == DEFAULT_BUS {
            String::new()
        } else {
            format!("{bus}/")
        };
        format!(
            "arn:aws:events:{}:{}:rule/{bus}{rule}",
            self.account.region, self.account.account_id
        )
    }

    /// The name of an existing bus given by name or ARN (`None`: default).
    fn bus_name(&self, name_or_arn: Option<&str>) -> Result<String, BusError> {
        let given = name_or_arn.unwrap_or(DEFAULT_BUS);
        let name = match given.strip_prefix("arn:") {
            Some(_) => given
                .split_once(":event-bus/")
                .map(|(_, n)| n)
                .ok_or_else(|| BusError::Validation(format!("{given} is not an event bus ARN.")))?,
            None => given,
        };
        if self.read().buses.contains_key(name) {
            Ok(name.to_string())
        } else {
            Err(BusError::NoSuchBus(name.to_string()))
        }
    }

    // ---- buses ---------------------------------------------------------

    /// Creates a custom bus.
    pub async fn create_event_bus(
        &self,
        name: &str,
        description: Option<String>,
    ) -> Result<EventBus, BusError> {
        if !model::valid_name(name, 256, false) {
            return Err(BusError::Validation(format!(
                "Event bus name {name:?} is not valid: 1 to 256 characters of letters, digits, '.', '-' and '_' ('/' is for partner event buses, which are not supported)."
            )));
        }
        if description.as_ref().is_some_and(|d| d.len() > 512) {
            return Err(BusError::Validation(
                "Description must be at most 512 characters.".into(),
            ));
        }
        let _w = self.writes.lock().await;
        {
            let state = self.read();
            if state.buses.contains_key(name) {
                return Err(BusError::AlreadyExists(format!(
                    "Event bus {name} already exists."
                )));
            }
            if state.buses.len() > MAX_BUSES {
                return Err(BusError::LimitExceeded(format!(
                    "An account may have at most {MAX_BUSES} custom event buses."
                )));
            }
        }
        let now = now_ms();
        let bus = EventBus {
            name: name.to_string(),
            description,
            created_ms: Some(now),
            modified_ms: Some(now),
            policy: None,
        };
        self.queues
            .commit(vec![EventWrite::PutResource {
                kind: BUS_KIND.into(),
                key: name.into(),
                value: serde_json::to_string(&bus).expect("plain struct serializes"),
            }])
            .await?;
        self.write().buses.insert(name.into(), bus.clone());
        Ok(bus)
    }

    /// Deletes a custom bus with its rules; deleting one that does not
    /// exist succeeds, as in EventBridge.
    pub async fn delete_event_bus(&self, name: &str) -> Result<(), BusError> {
        if name == DEFAULT_BUS {
            return Err(BusError::Validation(
                "Cannot delete event bus default.".into(),
            ));
        }
        let _w = self.writes.lock().await;
        let mut writes = vec![EventWrite::DeleteResource {
            kind: BUS_KIND.into(),
            key: name.into(),
        }];
        {
            let state = self.read();
            if !state.buses.contains_key(name) {
                return Ok(());
            }
            if let Some(rules) = state.rules.get(name) {
                writes.extend(rules.rules.keys().map(|rule| EventWrite::DeleteResource {
                    kind: RULE_KIND.into(),
                    key: rule_key(name, rule),
                }));
            }
        }
        self.queues.commit(writes).await?;
        let mut state = self.write();
        state.buses.remove(name);
        state.rules.remove(name);
        state.policies.remove(name);
        Ok(())
    }

    /// A bus by name or ARN (`None`: the default bus).
    pub fn describe_event_bus(&self, name_or_arn: Option<&str>) -> Result<EventBus, BusError> {
        let name = self.bus_name(name_or_arn)?;
        self.read()
            .buses
            .get(&name)
            .cloned()
            .ok_or(BusError::NoSuchBus(name))
    }

    /// Buses whose name starts with `prefix`, by name.
    pub fn list_event_buses(&self, prefix: &str) -> Vec<EventBus> {
        self.read()
            .buses
            .values()
            .filter(|b| b.name.starts_with(prefix))
            .cloned()
            .collect()
    }

    // ---- rules ---------------------------------------------------------

    /// Creates or updates a rule (an update keeps its targets); returns
    /// its ARN.
    pub async fn put_rule(&self, spec: RuleSpec) -> Result<String, BusError> {
        if !model::valid_name(&spec.name, 64, false) {
            return Err(BusError::Validation(format!(
                "Rule name {:?} is not valid: 1 to 64 characters of letters, digits, '.', '-' and '_'.",
                spec.name
            )));
        }
        if spec.schedule_expression.is_some() {
            return Err(BusError::Validation(
                "ScheduleExpression rules are not supported; create a schedule with EventBridge Scheduler instead (aws scheduler create-schedule).".into(),
            ));
        }
        let Some(pattern_text) = spec.event_pattern else {
            return Err(BusError::Validation(
                "Parameter(s) EventPattern or ScheduleExpression must be specified.".into(),
            ));
        };
        if spec.description.as_ref().is_some_and(|d| d.len() > 512) {
            return Err(BusError::Validation(
                "Description must be at most 512 characters.".into(),
            ));
        }
        Pattern::parse(&pattern_text).map_err(|e| BusError::InvalidEventPattern(e.to_string()))?;
        let _w = self.writes.lock().await;
        let bus = self.bus_name(spec.bus.as_deref())?;
        let existing = self.rule(&bus, &spec.name).ok();
        let rule = Rule {
            name: spec.name.clone(),
            bus: bus.clone(),
            event_pattern: pattern_text,
            state: spec
                .state
                .or(existing.as_ref().map(|r| r.rule.state))
                .unwrap_or(RuleState::Enabled),
            description: spec.description,
            role_arn: spec.role_arn,
            targets: existing.map(|r| r.rule.targets.clone()).unwrap_or_default(),
        };
        let arn = self.rule_arn(&bus, &rule.name);
        self.store_rule(rule).await?;
        Ok(arn)
    }

    /// Writes a rule durably, then replaces it in memory. The caller holds
    /// `writes` and has checked that the rule's bus exists.
    async fn store_rule(&self, rule: Rule) -> Result<(), BusError> {
        let arn = self.rule_arn(&rule.bus, &rule.name);
        let compiled = rule.clone().compile(&self.account, arn)?;
        self.queues
            .commit(vec![EventWrite::PutResource {
                kind: RULE_KIND.into(),
                key: rule_key(&rule.bus, &rule.name),
                value: serde_json::to_string(&rule).expect("plain struct serializes"),
            }])
            .await?;
        let mut state = self.write();
        let rules = state.rules.entry(rule.bus.clone()).or_default();
        rules.rules.insert(rule.name, Arc::new(compiled));
        rules.reindex();
        Ok(())
    }

    fn rule(&self, bus: &str, name: &str) -> Result<Arc<CompiledRule>, BusError> {
        self.read()
            .rules
            .get(bus)
            .and_then(|r| r.rules.get(name))
            .cloned()
            .ok_or_else(|| BusError::NoSuchRule {
                rule: name.into(),
                bus: bus.into(),
            })
    }

    /// Deletes a rule; fails while it has targets. Deleting one that does
    /// not exist succeeds, as in EventBridge.
    pub async fn delete_rule(&self, bus: Option<&str>, name: &str) -> Result<(), BusError> {
        let _w = self.writes.lock().await;
        let bus = self.bus_name(bus)?;
        let Ok(rule) = self.rule(&bus, name) else {
            return Ok(());
        };
        if !rule.rule.targets.is_empty() {
            return Err(BusError::Validation(
                "Rule can't be deleted since it has targets.".into(),
            ));
        }
        self.queues
            .commit(vec![EventWrite::DeleteResource {
                kind: RULE_KIND.into(),
                key: rule_key(&bus, name),
            }])
            .await?;
        let mut state = self.write();
        if let Some(rules) = state.rules.get_mut(&bus) {
            rules.rules.remove(name);
            rules.reindex();
        }
        Ok(())
    }

    /// A rule and its ARN.
    pub fn describe_rule(&self, bus: Option<&str>, name: &str) -> Result<(Rule, String), BusError> {
        let bus = self.bus_name(bus)?;
        let rule = self.rule(&bus, name)?;
        Ok((rule.rule.clone(), rule.arn.clone()))
    }

    /// Rules of a bus whose name starts with `prefix`, by name, with their
    /// ARNs.
    pub fn list_rules(
        &self,
        bus: Option<&str>,
        prefix: &str,
    ) -> Result<Vec<(Rule, String)>, BusError> {
        let bus = self.bus_name(bus)?;
        Ok(self
            .read()
            .rules
            .get(&bus)
            .map(|rules| {
                rules
                    .rules
                    .range(prefix.to_string()..)
                    .take_while(|(name, _)| name.starts_with(prefix))
                    .map(|(_, r)| (r.rule.clone(), r.arn.clone()))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `EnableRule` / `DisableRule`.
    pub async fn set_rule_state(
        &self,
        bus: Option<&str>,
        name: &str,
        state: RuleState,
    ) -> Result<(), BusError> {
        let _w = self.writes.lock().await;
        let bus = self.bus_name(bus)?;
        let mut rule = self.rule(&bus, name)?.rule.clone();
        if rule.state == state {
            return Ok(());
        }
        rule.state = state;
        self.store_rule(rule).await
    }

    // ---- targets -------------------------------------------------------

    /// Adds or replaces targets by id. Targets that are not valid are
    /// answered as failures and the others applied.
    pub async fn put_targets(
        &self,
        bus: Option<&str>,
        rule: &str,
        targets: Vec<Target>,
    ) -> Result<Vec<TargetFailure>, BusError> {
        if targets.is_empty() || targets.len() > 100 {
            return Err(BusError::Validation(
                "Targets must list 1 to 100 targets.".into(),
            ));
        }
        let _w = self.writes.lock().await;
        let bus = self.bus_name(bus)?;
        let mut record = self.rule(&bus, rule)?.rule.clone();
        let mut failures = Vec::new();
        let mut valid = Vec::new();
        for target in targets {
            match target.compile(&self.account) {
                Ok(_) => valid.push(target),
                Err(message) => failures.push(TargetFailure {
                    target_id: target.id,
                    code: "ValidationException",
                    message,
                }),
            }
        }
        if valid.is_empty() {
            return Ok(failures);
        }
        for target in valid {
            match record.targets.iter_mut().find(|t| t.id == target.id) {
                Some(existing) => *existing = target,
                None => record.targets.push(target),
            }
        }
        if record.targets.len() > MAX_TARGETS_PER_RULE {
            return Err(BusError::LimitExceeded(format!(
                "The requested resource exceeds the maximum number allowed: a rule may have at most {MAX_TARGETS_PER_RULE} targets."
            )));
        }
        self.store_rule(record).await?;
        Ok(failures)
    }

    /// Removes targets by id; ids the rule does not have are ignored.
    pub async fn remove_targets(
        &self,
        bus: Option<&str>,
        rule: &str,
        ids: &[String],
    ) -> Result<(), BusError> {
        if ids.is_empty() || ids.len() > 100 {
            return Err(BusError::Validation("Ids must list 1 to 100 ids.".into()));
        }
        let _w = self.writes.lock().await;
        let bus = self.bus_name(bus)?;
        let mut record = self.rule(&bus, rule)?.rule.clone();
        let before = record.targets.len();
        record.targets.retain(|t| !ids.contains(&t.id));
        if record.targets.len() == before {
            return Ok(());
        }
        self.store_rule(record).await
    }

    /// A rule's targets.
    pub fn list_targets(&self, bus: Option<&str>, rule: &str) -> Result<Vec<Target>, BusError> {
        let bus = self.bus_name(bus)?;
        Ok(self.rule(&bus, rule)?.rule.targets.clone())
    }
}

/// `TestEventPattern`: whether `event` (JSON text of an envelope) matches
/// `pattern`.
pub fn test_event_pattern(pattern: &str, event: &str) -> Result<bool, BusError> {
    let pattern =
        Pattern::parse(pattern).map_err(|e| BusError::InvalidEventPattern(e.to_string()))?;
    let event: Value = serde_json::from_str(event)
        .map_err(|e| BusError::Validation(format!("Parameter Event is not valid: {e}")))?;
    let Some(object) = event.as_object() else {
        return Err(BusError::Validation(
            "Parameter Event is not valid: it must be a JSON object.".into(),
        ));
    };
    for field in ["id", "account", "source", "time", "region", "detail-type"] {
        if !object.contains_key(field) {
            return Err(BusError::Validation(format!(
                "Parameter Event is not valid: the field {field:?} is missing."
            )));
        }
    }
    Ok(pattern.matches(&event))
}

#[cfg(test)]
mod permission_tests;
#[cfg(test)]
mod tests;
