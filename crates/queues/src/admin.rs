//! Queue lifecycle and inspection: create, configure, delete, list,
//! stats, and the activity signal lazy consumers wait on.

use std::sync::{Arc, PoisonError};

use tokio::sync::Notify;
use updraft_store::EventWrite;

use crate::config::RESOURCE_KIND;
use crate::queue::Queue;
use crate::{is_internal, now_ms, QueueConfig, QueueError, QueueStats, Queues};

impl Queues {
    /// Creates a queue. Creating one that exists with the same settings
    /// answers its config; with others, `QueueAlreadyExists`. The config
    /// is validated ([`QueueConfig::validate`]); a redrive policy must
    /// name an existing queue of the same type.
    pub async fn create_queue(&self, config: QueueConfig) -> Result<QueueConfig, QueueError> {
        config.validate()?;
        let _admin = self.admin.lock().await;
        if let Ok(existing) = self.queue(&config.name) {
            let existing = existing.lock().config.clone();
            return match existing.first_difference(&config) {
                None => Ok(existing),
                Some(attribute) => Err(QueueError::QueueAlreadyExists(attribute.to_owned())),
            };
        }
        self.check_redrive(&config)?;
        self.commit(vec![put_config(&config)?]).await?;
        let name = config.name.clone();
        self.queues
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.clone(), Arc::new(Queue::new(config.clone(), false)));
        self.wake_activity(&name);
        Ok(config)
    }

    /// An SQS queue's settings; `None` for missing and internal queues.
    pub fn get_queue(&self, name: &str) -> Option<QueueConfig> {
        let q = self.queue(name).ok().filter(|q| !q.internal)?;
        let config = q.lock().config.clone();
        Some(config)
    }

    /// SQS queues (never internal ones) whose name starts with `prefix`,
    /// by name.
    pub fn list_queues(&self, prefix: &str) -> Vec<QueueConfig> {
        let queues: Vec<Arc<Queue>> = self
            .queues
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .range(prefix.to_owned()..)
            .take_while(|(name, _)| name.starts_with(prefix))
            .filter(|(_, q)| !q.internal)
            .map(|(_, q)| q.clone())
            .collect();
        queues.iter().map(|q| q.lock().config.clone()).collect()
    }

    /// Deletes a queue and its messages.
    pub async fn delete_queue(&self, name: &str) -> Result<(), QueueError> {
        let _admin = self.admin.lock().await;
        let queue = self.queue(name)?;
        self.commit(vec![
            EventWrite::PurgeQueue {
                queue: name.to_owned(),
            },
            EventWrite::DeleteResource {
                kind: RESOURCE_KIND.to_owned(),
                key: name.to_owned(),
            },
        ])
        .await?;
        self.queues
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
        {
            let mut state = queue.lock();
            state.deleted = true;
            state.clear();
        }
        queue.notify.notify_waiters();
        Ok(())
    }

    /// Replaces a queue's settings (`name`, `fifo` and `created_ms` stay;
    /// `modified_ms` becomes now).
    pub async fn set_queue_config(&self, config: QueueConfig) -> Result<(), QueueError> {
        let _admin = self.admin.lock().await;
        self.replace_config(config).await
    }

    /// [`Queues::set_queue_config`] for a caller holding the admin lock.
    pub(crate) async fn replace_config(&self, config: QueueConfig) -> Result<(), QueueError> {
        let queue = self.queue(&config.name)?;
        if queue.internal {
            return Err(QueueError::NonExistentQueue);
        }
        let mut config = config;
        let policy_changed = {
            let current = &queue.lock().config;
            config.fifo = current.fifo;
            config.created_ms = current.created_ms;
            current.policy != config.policy
        };
        config.modified_ms = now_ms();
        config.validate()?;
        self.check_redrive(&config)?;
        self.commit(vec![put_config(&config)?]).await?;
        if policy_changed {
            let parsed = config
                .policy
                .as_deref()
                .and_then(|p| crate::permissions::parse(&config.name, p));
            queue.set_policy(parsed);
        }
        queue.lock().config = config;
        // A shorter visibility or delay may make messages deliverable.
        queue.notify.notify_waiters();
        Ok(())
    }

    /// How many messages a queue holds, by state.
    pub fn stats(&self, name: &str) -> Result<QueueStats, QueueError> {
        let queue = self.queue(name)?;
        let now = now_ms();
        let (stats, expired) = {
            let mut state = queue.lock();
            let expired = state.expire(now);
            state.promote(now);
            (state.stats(now), expired)
        };
        self.committer.submit_detached(expired);
        Ok(stats)
    }

    /// An SQS queue's attributes, as `GetQueueAttributes` answers `All`.
    pub fn attributes(
        &self,
        name: &str,
    ) -> Result<std::collections::BTreeMap<String, String>, QueueError> {
        let config = self.get_queue(name).ok_or(QueueError::NonExistentQueue)?;
        let stats = self.stats(name)?;
        Ok(config.attributes(&self.arn(name), &stats))
    }

    /// A queue's ARN, `arn:aws:sqs:{region}:{account}:{name}`.
    pub fn arn(&self, name: &str) -> String {
        format!("arn:aws:sqs:{}:{}:{name}", self.region, self.account_id)
    }

    /// Waits until a queue whose name starts with `prefix` is created or
    /// gets a message while empty (a steady stream into a busy queue wakes
    /// nobody). Meant for one consumer per prefix that starts its
    /// workers lazily: a wake while the consumer is not waiting is kept
    /// for its next call (so nothing between a scan of
    /// [`Queues::queue_names`] and the next wait is missed), and the first
    /// call for a prefix returns at once.
    pub async fn activity(&self, prefix: &str) {
        let notify = {
            let mut waiters = self.activity.lock().unwrap_or_else(PoisonError::into_inner);
            waiters
                .entry(prefix.to_owned())
                .or_insert_with(|| {
                    let n = Notify::new();
                    n.notify_one();
                    Arc::new(n)
                })
                .clone()
        };
        notify.notified().await;
    }

    /// Names of every queue (internal ones included) that start with
    /// `prefix`, by name.
    pub fn queue_names(&self, prefix: &str) -> Vec<String> {
        self.queues
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .range(prefix.to_owned()..)
            .take_while(|(name, _)| name.starts_with(prefix))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Signals [`Queues::activity`] waiters whose prefix `name` has.
    pub(crate) fn wake_activity(&self, name: &str) {
        wake_activity(&self.activity, name);
    }

    /// A redrive policy must name an existing SQS queue of the same type
    /// (FIFO or standard), not the queue itself.
    fn check_redrive(&self, config: &QueueConfig) -> Result<(), QueueError> {
        let Some(policy) = &config.redrive_policy else {
            return Ok(());
        };
        let target = policy.target_name();
        let dlq = self.get_queue(target).filter(|_| {
            !is_internal(target)
                && target != config.name
                && policy.dead_letter_target_arn == self.arn(target)
        });
        let reason = match dlq {
            Some(t) if t.fifo != config.fifo => {
                "Dead-letter target does not exist or is not a queue of the same type."
            }
            None => "Dead-letter target does not exist or is not a queue of the same type.",
            Some(t)
                if t.redrive_allow_policy
                    .as_ref()
                    .is_some_and(|p| !p.allows(&self.arn(&config.name))) =>
            {
                "Dead-letter target's RedriveAllowPolicy does not allow this queue as a source."
            }
            Some(_) => return Ok(()),
        };
        Err(QueueError::InvalidParameterValue(format!(
            "Value {} for parameter RedrivePolicy is invalid. Reason: {reason}",
            policy.to_json()
        )))
    }
}

fn put_config(config: &QueueConfig) -> Result<EventWrite, QueueError> {
    Ok(EventWrite::PutResource {
        kind: RESOURCE_KIND.to_owned(),
        key: config.name.clone(),
        value: serde_json::to_string(config).map_err(|e| QueueError::Internal(e.to_string()))?,
    })
}

/// Signals the activity waiters in `waiters` whose prefix `name` has.
pub(crate) fn wake_activity(waiters: &crate::ActivityWaiters, name: &str) {
    let waiters = waiters.lock().unwrap_or_else(PoisonError::into_inner);
    for (prefix, notify) in waiters.iter() {
        if name.starts_with(prefix.as_str()) {
            notify.notify_one();
        }
    }
}
