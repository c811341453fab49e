//! The timer task: sleeps until the next slot falls due, fires every due
//! slot, and commits each firing with the schedule's last fired slot.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use updraft_queues::invocation::AsyncInvocation;
use updraft_queues::{NewMessage, QueueError};

use crate::model::{ActionAfterCompletion, Destination};
use crate::{delete_schedule_write, put_schedule_write, Schedules, State};

/// The longest the timer sleeps without looking again (a safety net: any
/// change wakes it).
const MAX_SLEEP: StdDuration = StdDuration::from_secs(60);
/// The service principal schedules' roles are assumed by.
const SCHEDULER: &str = "scheduler.amazonaws.com";
/// How long to wait after a firing failed before trying again.
const RETRY_AFTER: StdDuration = StdDuration::from_secs(1);

impl Schedules {
    /// Starts firing schedules in the background (on the current tokio
    /// runtime).
    pub fn start(self: &Arc<Self>) {
        let this = self.clone();
        tokio::spawn(async move { this.run().await });
    }

    async fn run(self: Arc<Self>) {
        loop {
            let now = Utc::now();
            let (due, next) = self.plan(now).await;
            let mut failed = false;
            for (id, slot) in due {
                if let Err(e) = self.fire(&id, slot).await {
                    tracing::warn!(group = id.0, schedule = id.1, error = %e, "schedule firing failed; retrying");
                    failed = true;
                }
            }
            let sleep = if failed {
                RETRY_AFTER
            } else {
                next.map_or(MAX_SLEEP, |t| {
                    (t - Utc::now()).to_std().unwrap_or_default().min(MAX_SLEEP)
                })
            };
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// The slots due at `now`, and when the next one falls due.
    #[allow(clippy::type_complexity)]
    async fn plan(
        &self,
        now: DateTime<Utc>,
    ) -> (
        Vec<((String, String), DateTime<Utc>)>,
        Option<DateTime<Utc>>,
    ) {
        let inner = self.inner.lock().await;
        let mut due = Vec::new();
        let mut next: Option<DateTime<Utc>> = None;
        for (id, entry) in &inner.schedules {
            if entry.stored.schedule.state != State::Enabled {
                continue;
            }
            let last = entry.last_fired();
            if let Some(slot) = entry.timing.due(last, now) {
                due.push((id.clone(), slot));
                // Look again right after firing.
                next = Some(now);
            } else if let Some(t) = entry.timing.next_fire_time(last, now) {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        (due, next)
    }

    /// Fires `slot` of a schedule if it is still enabled and the slot is
    /// still due (a change may have come in since the plan).
    async fn fire(&self, id: &(String, String), slot: DateTime<Utc>) -> Result<(), QueueError> {
        let mut inner = self.inner.lock().await;
        let Some(entry) = inner.schedules.get(id) else {
            return Ok(());
        };
        if entry.stored.schedule.state != State::Enabled
            || entry.timing.due(entry.last_fired(), Utc::now()) != Some(slot)
        {
            return Ok(());
        }
        let schedule = &entry.stored.schedule;
        let complete = entry.timing.is_last(slot);
        let delete = complete && schedule.action_after_completion == ActionAfterCompletion::Delete;
        let mut fired = entry.stored.clone();
        fired.last_fired_ms = Some(slot.timestamp_millis());
        let write = if delete {
            delete_schedule_write(id)
        } else {
            put_schedule_write(&fired)
        };
        let payload = Bytes::from(schedule.target.input.clone().unwrap_or_else(|| "{}".into()));
        let request_id = uuid::Uuid::new_v4().to_string();
        let destination = schedule
            .target
            .destination()
            .map_err(QueueError::InvalidParameterValue)?;
        let action = match &destination {
            Destination::Function { .. } => "lambda:InvokeFunction",
            Destination::Queue { .. } => "sqs:SendMessage",
        };
        let allowed = self.roles.as_ref().map_or(Ok(()), |roles| {
            let target = &schedule.target;
            roles.check(&target.role_arn, SCHEDULER, action, &target.arn)
        });
        match (allowed, destination) {
            (Err(why), _) => {
                // The slot is spent, as on AWS when the role cannot act.
                tracing::warn!(
                    schedule = schedule.arn,
                    role = schedule.target.role_arn,
                    reason = why,
                    "the schedule's role may not act on its target; slot skipped"
                );
                self.queues.commit(vec![write]).await?;
            }
            (Ok(()), Destination::Function { name, qualifier }) => {
                let invocation = AsyncInvocation {
                    function: name,
                    qualifier,
                    payload,
                    request_id: request_id.clone(),
                    trigger: updraft_store::usage::trigger::SCHEDULE.into(),
                    traceparent: None,
                };
                self.queues
                    .enqueue_invocations_with(vec![invocation], vec![write])
                    .await?;
            }
            (Ok(()), Destination::Queue { name }) => {
                let fifo = name.ends_with(".fifo");
                let message = NewMessage {
                    body: payload,
                    group_id: schedule
                        .target
                        .sqs_parameters
                        .as_ref()
                        .and_then(|p| p.message_group_id.clone())
                        .filter(|_| fifo),
                    deduplication_id: fifo.then(|| request_id.clone()),
                    ..Default::default()
                };
                match self.queues.send(&name, vec![message]).await {
                    Ok(_) => {}
                    Err(QueueError::NonExistentQueue) => {
                        tracing::warn!(
                            schedule = schedule.arn,
                            queue = name,
                            "the target queue does not exist; slot skipped"
                        );
                    }
                    Err(e) => return Err(e),
                }
                self.queues.commit(vec![write]).await?;
            }
        }
        tracing::info!(
            schedule = schedule.arn,
            slot = %slot,
            request_id,
            "schedule fired"
        );
        if delete {
            inner.schedules.remove(id);
        } else if let Some(entry) = inner.schedules.get_mut(id) {
            entry.stored = fired;
        }
        Ok(())
    }
}
