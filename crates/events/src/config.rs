//! Event-invoke configs (`PutFunctionEventInvokeConfig` and friends): per
//! function and qualifier, how often a failed async invocation is retried,
//! how old an event may get, and where results go.
//!
//! Configs are event-store resources of kind [`KIND`], keyed
//! `{function}:{qualifier}`, written through [`Queues::commit`] and cached
//! in memory: the delivery path reads them without touching the store.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use updraft_queues::Queues;
use updraft_store::EventWrite;
use updraft_types::LATEST;

use crate::destination::Destination;
use crate::EventsError;

/// The event-store resource kind of event-invoke configs.
pub const KIND: &str = "event-invoke-config";
/// Retries after the first attempt when no config says otherwise.
pub const DEFAULT_RETRY_ATTEMPTS: u32 = 2;
/// How old an event may get when no config says otherwise (6 hours).
pub const DEFAULT_MAX_EVENT_AGE_S: u32 = 21_600;

/// One function's (and qualifier's) event-invoke config, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventInvokeConfig {
    pub function: String,
    /// `$LATEST`, a version number or an alias.
    pub qualifier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<u32>,
    /// Destination ARN for successful invocations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_success: Option<String>,
    /// Destination ARN for events that failed for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<String>,
    /// ms since the Unix epoch.
    pub last_modified_ms: i64,
}

/// The members of a Put or an Update, validated by the caller for range;
/// `None` is "not given". A destination of `""` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigChange {
    pub maximum_retry_attempts: Option<u32>,
    pub maximum_event_age_in_seconds: Option<u32>,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
}

/// What the delivery path needs of a config, with defaults applied.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub retries: u32,
    pub max_age: Duration,
    pub on_success: Option<Destination>,
    pub on_failure: Option<Destination>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retries: DEFAULT_RETRY_ATTEMPTS,
            max_age: Duration::from_secs(DEFAULT_MAX_EVENT_AGE_S.into()),
            on_success: None,
            on_failure: None,
        }
    }
}

impl Settings {
    fn of(config: &EventInvokeConfig) -> Settings {
        let destination =
            |arn: &Option<String>| arn.as_deref().and_then(|a| Destination::parse(a).ok());
        Settings {
            retries: config
                .maximum_retry_attempts
                .unwrap_or(DEFAULT_RETRY_ATTEMPTS),
            max_age: Duration::from_secs(
                config
                    .maximum_event_age_in_seconds
                    .unwrap_or(DEFAULT_MAX_EVENT_AGE_S)
                    .into(),
            ),
            on_success: destination(&config.on_success),
            on_failure: destination(&config.on_failure),
        }
    }
}

fn key(function: &str, qualifier: &str) -> String {
    format!("{function}:{qualifier}")
}

/// Checks a destination ARN given for `function`; `""` (none) passes.
fn check_destination(function: &str, member: &str, arn: &str) -> Result<(), EventsError> {
    if arn.is_empty() {
        return Ok(());
    }
    match Destination::parse(arn) {
        Ok(Destination::Function { name, .. }) if name == function => {
            Err(EventsError::InvalidParameterValue(
                "You can't specify the function as a destination for itself.".into(),
            ))
        }
        Ok(_) => Ok(()),
        Err(reason) => Err(EventsError::InvalidParameterValue(format!(
            "The provided destination config DestinationConfig.{member} ({arn}) is invalid: {reason}"
        ))),
    }
}

fn nonempty(arn: Option<String>) -> Option<String> {
    arn.filter(|a| !a.is_empty())
}

/// Every config, cached; writes go to the event store first.
pub(crate) struct Configs {
    queues: Arc<Queues>,
    cache: RwLock<HashMap<String, Arc<(EventInvokeConfig, Settings)>>>,
    /// Serialises read-modify-write changes (Update merges).
    writes: tokio::sync::Mutex<()>,
}

impl Configs {
    /// Loads every stored config.
    pub fn load(queues: Arc<Queues>) -> Result<Configs, EventsError> {
        let mut cache = HashMap::new();
        let stored = queues
            .store()
            .resources(KIND)
            .map_err(|e| EventsError::Internal(format!("loading event-invoke configs: {e}")))?;
        for (k, value) in stored {
            match serde_json::from_str::<EventInvokeConfig>(&value) {
                Ok(c) => {
                    let settings = Settings::of(&c);
                    cache.insert(k, Arc::new((c, settings)));
                }
                Err(e) => {
                    tracing::warn!(key = %k, error = %e, "skipping an unreadable event-invoke config")
                }
            }
        }
        Ok(Configs {
            queues,
            cache: RwLock::new(cache),
            writes: tokio::sync::Mutex::new(()),
        })
    }

    fn cached(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Option<Arc<(EventInvokeConfig, Settings)>> {
        self.cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key(function, qualifier))
            .cloned()
    }

    /// The settings async invocations of `function` (invoked with
    /// `qualifier`, `None` for `$LATEST`) are delivered with.
    pub fn settings(&self, function: &str, qualifier: Option<&str>) -> Settings {
        self.cached(function, qualifier.unwrap_or(LATEST))
            .map(|c| c.1.clone())
            .unwrap_or_default()
    }

    pub fn get(&self, function: &str, qualifier: &str) -> Option<EventInvokeConfig> {
        self.cached(function, qualifier).map(|c| c.0.clone())
    }

    /// A function's configs, by qualifier.
    pub fn list(&self, function: &str) -> Vec<EventInvokeConfig> {
        let mut all: Vec<EventInvokeConfig> = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|c| c.0.function == function)
            .map(|c| c.0.clone())
            .collect();
        all.sort_by(|a, b| a.qualifier.cmp(&b.qualifier));
        all
    }

    /// Put (`merge` false: replaces the config) or Update (`merge` true:
    /// changes the members given; the config must exist).
    pub async fn write(
        &self,
        function: &str,
        qualifier: &str,
        change: ConfigChange,
        merge: bool,
    ) -> Result<Option<EventInvokeConfig>, EventsError> {
        if let Some(arn) = &change.on_success {
            check_destination(function, "OnSuccess", arn)?;
        }
        if let Some(arn) = &change.on_failure {
            check_destination(function, "OnFailure", arn)?;
        }
        let _w = self.writes.lock().await;
        let now = chrono::Utc::now().timestamp_millis();
        let config = if merge {
            let Some(current) = self.get(function, qualifier) else {
                return Ok(None);
            };
            EventInvokeConfig {
                maximum_retry_attempts: change
                    .maximum_retry_attempts
                    .or(current.maximum_retry_attempts),
                maximum_event_age_in_seconds: change
                    .maximum_event_age_in_seconds
                    .or(current.maximum_event_age_in_seconds),
                on_success: match change.on_success {
                    Some(arn) => nonempty(Some(arn)),
                    None => current.on_success,
                },
                on_failure: match change.on_failure {
                    Some(arn) => nonempty(Some(arn)),
                    None => current.on_failure,
                },
                last_modified_ms: now,
                ..current
            }
        } else {
            EventInvokeConfig {
                function: function.to_string(),
                qualifier: qualifier.to_string(),
                maximum_retry_attempts: change.maximum_retry_attempts,
                maximum_event_age_in_seconds: change.maximum_event_age_in_seconds,
                on_success: nonempty(change.on_success),
                on_failure: nonempty(change.on_failure),
                last_modified_ms: now,
            }
        };
        let k = key(function, qualifier);
        let value = serde_json::to_string(&config).expect("plain struct serializes");
        self.queues
            .commit(vec![EventWrite::PutResource {
                kind: KIND.into(),
                key: k.clone(),
                value,
            }])
            .await
            .map_err(|e| EventsError::Internal(format!("saving an event-invoke config: {e}")))?;
        let settings = Settings::of(&config);
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(k, Arc::new((config.clone(), settings)));
        Ok(Some(config))
    }

    /// Deletes the configs of `function` whose qualifier `which` accepts;
    /// returns how many there were.
    pub async fn delete(
        &self,
        function: &str,
        which: impl Fn(&str) -> bool,
    ) -> Result<usize, EventsError> {
        let _w = self.writes.lock().await;
        let keys: Vec<String> = self
            .list(function)
            .into_iter()
            .filter(|c| which(&c.qualifier))
            .map(|c| key(&c.function, &c.qualifier))
            .collect();
        if keys.is_empty() {
            return Ok(0);
        }
        let writes = keys
            .iter()
            .map(|k| EventWrite::DeleteResource {
                kind: KIND.into(),
                key: k.clone(),
            })
            .collect();
        self.queues
            .commit(writes)
            .await
            .map_err(|e| EventsError::Internal(format!("deleting event-invoke configs: {e}")))?;
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        for k in &keys {
            cache.remove(k);
        }
        Ok(keys.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use updraft_store_sqlite::SqliteEventStore;

    const QUEUE: &str = "arn:aws:sqs:us-east-1:000000000000:failures";
    const OTHER: &str = "arn:aws:lambda:us-east-1:000000000000:function:other";

    fn open(dir: &std::path::Path) -> Configs {
        let store = Arc::new(SqliteEventStore::open(&dir.join("events.db")).unwrap());
        let queues = Queues::open(store, "us-east-1", "000000000000").unwrap();
        Configs::load(queues).unwrap()
    }

    #[tokio::test]
    async fn put_replaces_update_merges_and_both_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let configs = open(dir.path());
        let put = ConfigChange {
            maximum_retry_attempts: Some(1),
            on_failure: Some(QUEUE.into()),
            ..Default::default()
        };
        configs.write("f", LATEST, put, false).await.unwrap();
        let update = ConfigChange {
            maximum_event_age_in_seconds: Some(120),
            on_success: Some(OTHER.into()),
            ..Default::default()
        };
        let merged = configs
            .write("f", LATEST, update, true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(merged.maximum_retry_attempts, Some(1));
        assert_eq!(merged.maximum_event_age_in_seconds, Some(120));
        assert_eq!(merged.on_failure.as_deref(), Some(QUEUE));
        assert_eq!(merged.on_success.as_deref(), Some(OTHER));

        let clear = ConfigChange {
            on_failure: Some(String::new()),
            ..Default::default()
        };
        let cleared = configs
            .write("f", LATEST, clear, true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(cleared.on_failure, None);
        assert_eq!(cleared.on_success.as_deref(), Some(OTHER));

        let replaced = configs
            .write("f", LATEST, ConfigChange::default(), false)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(replaced.maximum_retry_attempts, None);
        assert_eq!(replaced.on_success, None);
        drop(configs);

        let reopened = open(dir.path());
        assert_eq!(reopened.get("f", LATEST), Some(replaced));
        let s = reopened.settings("f", None);
        assert_eq!(s.retries, DEFAULT_RETRY_ATTEMPTS);
        assert_eq!(s.max_age, Duration::from_secs(21_600));
    }

    #[tokio::test]
    async fn an_update_without_a_config_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let configs = open(dir.path());
        let change = ConfigChange {
            maximum_retry_attempts: Some(0),
            ..Default::default()
        };
        assert_eq!(
            configs.write("f", LATEST, change, true).await.unwrap(),
            None
        );
        assert!(configs.list("f").is_empty());
    }

    #[tokio::test]
    async fn bad_destinations_are_rejected_and_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let configs = open(dir.path());
        for (function, arn) in [
            ("f", "arn:aws:sns:us-east-1:000000000000:topic"),
            ("f", "arn:aws:lambda:us-east-1:000000000000:function:f"),
            ("f", "not-an-arn"),
        ] {
            let change = ConfigChange {
                on_failure: Some(arn.into()),
                ..Default::default()
            };
            let err = configs.write(function, LATEST, change, false).await;
            assert!(
                matches!(err, Err(EventsError::InvalidParameterValue(_))),
                "{arn}: {err:?}"
            );
        }
        assert!(configs.list("f").is_empty());
    }

    #[tokio::test]
    async fn settings_follow_the_invoked_qualifier_and_deleting_a_function_drops_all() {
        let dir = tempfile::tempdir().unwrap();
        let configs = open(dir.path());
        let one_retry = ConfigChange {
            maximum_retry_attempts: Some(1),
            ..Default::default()
        };
        configs
            .write("f", "live", one_retry.clone(), false)
            .await
            .unwrap();
        configs
            .write("f", LATEST, ConfigChange::default(), false)
            .await
            .unwrap();
        configs.write("g", LATEST, one_retry, false).await.unwrap();
        assert_eq!(configs.settings("f", Some("live")).retries, 1);
        assert_eq!(configs.settings("f", None).retries, DEFAULT_RETRY_ATTEMPTS);
        assert_eq!(
            configs
                .list("f")
                .iter()
                .map(|c| c.qualifier.as_str())
                .collect::<Vec<_>>(),
            [LATEST, "live"]
        );
        assert_eq!(configs.delete("f", |_| true).await.unwrap(), 2);
        assert!(configs.list("f").is_empty());
        assert_eq!(configs.list("g").len(), 1);
        drop(configs);
        assert!(open(dir.path()).list("f").is_empty());
    }
}
