//! The timer task: sleeps until the next slot falls due, fires every due
//! slot, and commits each firing with the schedule's last fired slot.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use updraft_queues::invocation::AsyncInvocation;

use updraft_queues::{AttributeValue, NewMessage, QueueError};

use crate::model::{ActionAfterCompletion, Destination};
use crate::{delete_schedule_write, put_schedule_write, Schedules, State};

/// The longest the timer sleeps without looking again (a safety net: any
/// change wakes it).
const MAX_SLEEP: StdDuration = StdDuration::from_secs(60);
/// Why a slot's event did not reach its target.
struct Undelivered {
    code: &'static str,
    message: String,
    /// For a failure retried until the RetryPolicy ran out: which limit,
    /// and how many retries there were.
    exhausted: Option<(&'static str, u32)>,
}

impl Undelivered {
    fn new(code: &'static str, message: impl Into<String>) -> Undelivered {
        Undelivered {
            code,
            message: message.into(),
            exhausted: None,
        }
    }
}

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
        let delivered: Result<Result<(), Undelivered>, QueueError> = match (allowed, destination) {
            (Err(why), _) => Ok(Err(Undelivered::new("AccessDeniedException", why))),
            (Ok(()), Destination::Function { name, qualifier }) => {
                let invocation = AsyncInvocation {
                    function: name,
                    qualifier,
                    payload: payload.clone(),
                    request_id: request_id.clone(),
                    trigger: updraft_store::usage::trigger::SCHEDULE.into(),
                    traceparent: None,
                };
                self.queues
                    .enqueue_invocations_with(vec![invocation], vec![write.clone()])
                    .await
                    .map(Ok)
            }
            (Ok(()), Destination::Queue { name }) => {
                let fifo = name.ends_with(".fifo");
                let message = NewMessage {
                    body: payload.clone(),
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
                    Ok(_) => self.queues.commit(vec![write.clone()]).await.map(Ok),
                    Err(QueueError::NonExistentQueue) => Ok(Err(Undelivered::new(
                        "AWS.SimpleQueueService.NonExistentQueue",
                        format!("The target queue {name} does not exist."),
                    ))),
                    Err(e) => Err(e),
                }
            }
        };
        // A failure that may pass is retried (the timer fires the slot
        // again) within the target's RetryPolicy; past it, or for one that
        // cannot pass, the slot is spent and the event goes to the
        // dead-letter queue, as on Scheduler.
        let undelivered = match delivered {
            Ok(outcome) => {
                self.forget_attempts(id);
                outcome.err()
            }
            Err(e) => {
                let attempts = self.count_attempt(id, slot);
                let retry = schedule.target.retry_policy.as_ref();
                let max_attempts = retry.and_then(|r| r.maximum_retry_attempts).unwrap_or(185);
                let max_age = retry
                    .and_then(|r| r.maximum_event_age_in_seconds)
                    .unwrap_or(86_400);
                let exhausted = if i64::from(attempts) > max_attempts {
                    "MaximumRetryAttemptsExhausted"
                } else if (Utc::now() - slot).num_seconds() > max_age {
                    "MaximumEventAgeExhausted"
                } else {
                    return Err(e);
                };
                self.forget_attempts(id);
                let mut u = Undelivered::new("InternalServerException", e.to_string());
                u.exhausted = Some((exhausted, attempts.saturating_sub(1)));
                Some(u)
            }
        };
        if let Some(u) = undelivered {
            tracing::warn!(
                schedule = schedule.arn,
                role = schedule.target.role_arn,
                target = schedule.target.arn,
                reason = u.message,
                "the schedule's target could not be reached; slot skipped"
            );
            self.dead_letter(schedule, &payload, &u).await;
            self.queues.commit(vec![write]).await?;
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

    /// Counts a failed attempt at `slot` of schedule `id`; returns how
    /// many there have been.
    fn count_attempt(&self, id: &(String, String), slot: DateTime<Utc>) -> u32 {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        let entry = attempts.entry(id.clone()).or_insert((slot, 0));
        if entry.0 != slot {
            *entry = (slot, 0);
        }
        entry.1 += 1;
        entry.1
    }

    fn forget_attempts(&self, id: &(String, String)) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        attempts.remove(id);
    }

    /// Sends an event that could not be delivered to the target's
    /// dead-letter queue, if it has one: the body is the target's input;
    /// the attributes say why, as Scheduler's do.
    async fn dead_letter(
        &self,
        schedule: &crate::model::Schedule,
        payload: &Bytes,
        u: &Undelivered,
    ) {
        let Some(arn) = schedule
            .target
            .dead_letter_config
            .as_ref()
            .and_then(|d| d.arn.as_deref())
        else {
            return;
        };
        let Some(queue) = updraft_types::Arn::parse(arn).map(|a| a.resource.to_string()) else {
            return;
        };
        let text = |v: &str| AttributeValue {
            data_type: "String".into(),
            string_value: Some(v.to_string()),
            binary_value: None,
        };
        let mut attributes = BTreeMap::from([
            ("ERROR_CODE".to_string(), text(u.code)),
            ("ERROR_MESSAGE".to_string(), text(&u.message)),
            ("SCHEDULE_ARN".to_string(), text(&schedule.arn)),
            ("TARGET_ARN".to_string(), text(&schedule.target.arn)),
        ]);
        if let Some((condition, retries)) = u.exhausted {
            attributes.insert("EXHAUSTED_RETRY_CONDITION".into(), text(condition));
            attributes.insert(
                "RETRY_ATTEMPTS".into(),
                AttributeValue {
                    data_type: "Number".into(),
                    string_value: Some(retries.to_string()),
                    binary_value: None,
                },
            );
        }
        let fifo = queue.ends_with(".fifo");
        let message = NewMessage {
            body: payload.clone(),
            attributes,
            group_id: fifo.then(|| schedule.name.clone()),
            deduplication_id: fifo.then(|| uuid::Uuid::new_v4().to_string()),
            ..Default::default()
        };
        if let Err(e) = self.queues.send(&queue, vec![message]).await {
            tracing::warn!(schedule = schedule.arn, queue, error = %e, "could not send to the dead-letter queue");
        }
    }
}
