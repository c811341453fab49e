//! The consumer of the internal queues: a supervisor that starts one
//! worker per function queue (those that exist at start and those that
//! appear), and per worker one task per delivery. A worker has
//! [`crate::AsyncConfig::in_flight_per_function`] slots and receives as
//! many messages as it has free slots, in one call. A slot is held while
//! the event waits for concurrency and runs, not while its result is
//! written (a delete or a retry waits for a group commit), so commit
//! latency does not limit how many invocations run.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use updraft_bus::NewEvent;
use updraft_invoker::Call;
use updraft_queues::invocation::{AsyncInvocation, PREFIX};
use updraft_queues::{QueueError, ReceiveRequest, Received};
use updraft_registry::Resolved;
use updraft_store::usage::trigger;
use updraft_telemetry::{Delivery, TraceContext};
use updraft_types::{FunctionName, Qualifier, LATEST};

use crate::config::Settings;
use crate::destination::{dead_letter_message, record, Condition, Destination, Response};
use crate::AsyncEvents;

/// The `source` label of delivery metrics.
const SOURCE: &str = "async";
/// How long one receive waits for a message: also how long a worker takes
/// to notice shutdown.
const POLL: Duration = Duration::from_secs(1);
/// How often the supervisor looks for new queues even without activity.
const RESCAN: Duration = Duration::from_secs(1);
/// A received message stays invisible this long unless its delivery
/// deletes it or schedules a retry: longer than an event may wait (6 h)
/// plus the longest run (15 min). A restart makes every message visible.
const IN_FLIGHT_VISIBILITY: Duration = Duration::from_secs(12 * 3600);

/// The platform's own event for a final async failure (on `default`).
const PLATFORM_SOURCE: &str = "updraft.lambda";
const PLATFORM_DETAIL_TYPE: &str = "Async Invocation Failed";

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Starts workers for function queues as they appear, until shutdown.
pub(crate) async fn supervise(events: Arc<AsyncEvents>) {
    let mut stop = events.stop.subscribe();
    loop {
        for queue in events.queues.queue_names(PREFIX) {
            events.ensure_worker(queue);
        }
        tokio::select! {
            _ = tokio::time::timeout(RESCAN, events.queues.activity(PREFIX)) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
    }
}

/// Whether an invocation may run now.
enum Gate {
    Open,
    /// The event got too old waiting for concurrency.
    TooOld,
    /// Shutdown: leave it queued for the next start.
    Stopping,
}

impl AsyncEvents {
    fn ensure_worker(self: &Arc<Self>, queue: String) {
        let fresh = self
            .workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(queue.clone());
        if fresh {
            let this = self.clone();
            self.tasks.spawn(async move { this.work(queue).await });
        }
    }

    /// One function queue's worker: receives batches, one task each.
    async fn work(self: Arc<Self>, queue: String) {
        let slots = Arc::new(Semaphore::new(self.config.in_flight_per_function.max(1)));
        let mut stop = self.stop.subscribe();
        loop {
            let first = tokio::select! {
                p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
                _ = stop.wait_for(|stopped| *stopped) => break,
            };
            if *stop.borrow() {
                break;
            }
            let mut permits = vec![first];
            while let Ok(p) = slots.clone().try_acquire_owned() {
                permits.push(p);
            }
            let request = ReceiveRequest {
                max_messages: permits.len(),
                visibility_timeout: Some(IN_FLIGHT_VISIBILITY),
                wait: Some(POLL),
            };
            let batch = match self.queues.receive(&queue, request).await {
                Ok(batch) => batch,
                Err(QueueError::NonExistentQueue) => break,
                Err(e) => {
                    tracing::warn!(queue = %queue, error = %e, "receiving async invocations failed");
                    tokio::time::sleep(POLL).await;
                    continue;
                }
            };
            // Messages in hand run even when shutdown began meanwhile:
            // shutdown waits for them.
            for (message, slot) in batch.into_iter().zip(permits) {
                let this = self.clone();
                let queue = queue.clone();
                self.tasks
                    .spawn(async move { this.deliver(&queue, message, slot).await });
            }
        }
        self.workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&queue);
    }

    /// One attempt of one message, and what follows from its result;
    /// `slot` is given back once the invocation is over.
    async fn deliver(&self, queue: &str, message: Received, slot: OwnedSemaphorePermit) {
        let Some(inv) = AsyncInvocation::from_received(&message) else {
            tracing::warn!(queue, message_id = %message.message_id, "discarding a message that is not an async invocation");
            self.delete(queue, &message).await;
            return;
        };
        let age_s = (now_ms() - message.sent_ms).max(0) as f64 / 1000.0;
        let Some(target) = self.resolve(&inv) else {
            tracing::warn!(
                function = %inv.function,
                qualifier = inv.qualifier.as_deref().unwrap_or(LATEST),
                request_id = %inv.request_id,
                "discarding an async invocation: its function no longer exists"
            );
            self.invoker.metrics().delivery(
                &inv.function,
                SOURCE,
                Delivery::Discarded,
                Some(age_s),
            );
            self.delete(queue, &message).await;
            return;
        };
        let settings = self
            .configs
            .settings(&inv.function, inv.qualifier.as_deref());
        let attempt = Attempt {
            queue,
            message: &message,
            inv: &inv,
            function_arn: self.invoker.registry().account().qualified_arn(
                &target.config.name,
                inv.qualifier.as_deref().unwrap_or(LATEST),
            ),
            settings: &settings,
            dead_letter: target
                .config
                .dead_letter_target_arn
                .as_deref()
                .and_then(|arn| match Destination::parse(arn) {
                    Ok(Destination::Queue(queue)) => Some(queue),
                    _ => None,
                }),
            age_s,
        };
        let deadline_ms = message.sent_ms + settings.max_age.as_millis() as i64;
        let before = message.receive_count.saturating_sub(1);
        match self.gate(&inv.function, deadline_ms).await {
            Gate::Open => {}
            Gate::TooOld => {
                drop(slot);
                return self
                    .give_up(&attempt, Condition::EventAgeExceeded, before, None)
                    .await;
            }
            Gate::Stopping => return,
        }

        let call = Call {
            request_id: inv.request_id.clone(),
            trigger: trigger::canonical(&inv.trigger).unwrap_or(trigger::EVENT),
            parent: inv.traceparent.as_deref().and_then(TraceContext::parse),
            tail: false,
        };
        let response = match self
            .invoker
            .invoke_queued(target.clone(), inv.payload.clone(), call)
            .await
        {
            Ok(r) => Response {
                executed_version: r.executed_version,
                function_error: r.function_error,
                payload: r.payload,
            },
            Err(e) => Response {
                executed_version: target.executed_version.clone(),
                function_error: Some("Unhandled"),
                payload: serde_json::json!({"errorMessage": e.to_string(), "errorType": "ServiceException"})
                    .to_string()
                    .into(),
            },
        };
        drop(slot);
        let attempts = message.receive_count.max(1);
        if response.function_error.is_none() {
            self.succeeded(&attempt, attempts, &response).await;
            return;
        }
        if attempts > settings.retries {
            return self
                .give_up(
                    &attempt,
                    Condition::RetriesExhausted,
                    attempts,
                    Some(&response),
                )
                .await;
        }
        let backoff = self.config.retry_base * 2u32.saturating_pow(attempts - 1);
        if now_ms() + backoff.as_millis() as i64 >= deadline_ms {
            return self
                .give_up(
                    &attempt,
                    Condition::EventAgeExceeded,
                    attempts,
                    Some(&response),
                )
                .await;
        }
        self.invoker
            .metrics()
            .delivery(&inv.function, SOURCE, Delivery::Retry, Some(age_s));
        if let Err(e) = self
            .queues
            .change_visibility(queue, &message.receipt_handle, backoff)
            .await
        {
            tracing::warn!(function = %inv.function, request_id = %inv.request_id, error = %e, "scheduling a retry failed");
        }
    }

    fn resolve(&self, inv: &AsyncInvocation) -> Option<Resolved> {
        let name = FunctionName::new(inv.function.as_str()).ok()?;
        let qualifier = match inv.qualifier.as_deref() {
            Some(q) => Some(Qualifier::parse(q).ok()?),
            None => None,
        };
        self.invoker
            .registry()
            .resolve(&name, qualifier.as_ref())
            .ok()
    }

    /// Waits until `function` has concurrency to spare, at most until the
    /// event is too old; without waiting when it has.
    async fn gate(&self, function: &str, deadline_ms: i64) -> Gate {
        let left = deadline_ms - now_ms();
        if left <= 0 {
            return Gate::TooOld;
        }
        let limits = self.invoker.registry().limits();
        // The invoker takes its own permit: this one only says there is room.
        if limits.try_acquire(function).is_ok() {
            return Gate::Open;
        }
        let mut stop = self.stop.subscribe();
        let wait = Duration::from_millis(left as u64);
        tokio::select! {
            r = tokio::time::timeout(wait, limits.acquire(function)) => match r {
                Ok(_) => Gate::Open,
                Err(_) => Gate::TooOld,
            },
            _ = stop.wait_for(|stopped| *stopped) => Gate::Stopping,
        }
    }

    async fn succeeded(&self, a: &Attempt<'_>, attempts: u32, response: &Response) {
        self.invoker
            .metrics()
            .delivery(&a.inv.function, SOURCE, Delivery::Success, Some(a.age_s));
        if let Some(dest) = &a.settings.on_success {
            let rec = record(
                &a.inv.request_id,
                &a.function_arn,
                Condition::Success,
                attempts,
                &a.inv.payload,
                Some(response),
            );
            if let Err(e) = self
                .send_record(dest, &rec, true, &a.function_arn, a.inv.traceparent.clone())
                .await
            {
                tracing::warn!(function = %a.inv.function, request_id = %a.inv.request_id, error = %e, "the success destination could not be written");
            }
        }
        self.delete(a.queue, a.message).await;
    }

    /// A final failure: the failure destination, else the function's
    /// dead-letter queue, else a discard with a log line; then the
    /// platform event, then the message goes.
    async fn give_up(
        &self,
        a: &Attempt<'_>,
        condition: Condition,
        attempts: u32,
        response: Option<&Response>,
    ) {
        let rec = record(
            &a.inv.request_id,
            &a.function_arn,
            condition,
            attempts,
            &a.inv.payload,
            response,
        );
        let kept = match &a.settings.on_failure {
            Some(dest) => match self
                .send_record(
                    dest,
                    &rec,
                    false,
                    &a.function_arn,
                    a.inv.traceparent.clone(),
                )
                .await
            {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(function = %a.inv.function, request_id = %a.inv.request_id, error = %e, "the failure destination could not be written; the event is discarded");
                    false
                }
            },
            None => match &a.dead_letter {
                Some(queue) => {
                    let message = dead_letter_message(&a.inv.request_id, &a.inv.payload, response);
                    match self.queues.send(queue, vec![message]).await {
                        Ok(_) => true,
                        Err(e) => {
                            tracing::warn!(function = %a.inv.function, request_id = %a.inv.request_id, queue = %queue, error = %e, "the dead-letter queue could not be written; the event is discarded");
                            false
                        }
                    }
                }
                None => {
                    tracing::warn!(
                        function = %a.inv.function,
                        request_id = %a.inv.request_id,
                        condition = ?condition,
                        attempts,
                        "async invocation failed and has no failure destination or dead-letter queue: discarded"
                    );
                    false
                }
            },
        };
        let result = if kept {
            Delivery::DeadLettered
        } else {
            Delivery::Discarded
        };
        self.invoker
            .metrics()
            .delivery(&a.inv.function, SOURCE, result, Some(a.age_s));
        if let Err(e) = self
            .bus
            .put_event(NewEvent {
                bus: "default".into(),
                source: PLATFORM_SOURCE.into(),
                detail_type: PLATFORM_DETAIL_TYPE.into(),
                detail: rec,
                resources: vec![a.function_arn.clone()],
            })
            .await
        {
            tracing::debug!(error = %e, "the async failure event was not put on the default bus");
        }
        self.delete(a.queue, a.message).await;
    }

    async fn delete(&self, queue: &str, message: &Received) {
        if let Err(e) = self.queues.delete(queue, &message.receipt_handle).await {
            tracing::warn!(queue, message_id = %message.message_id, error = %e, "deleting a delivered async invocation failed; it will run again");
        }
    }
}

/// What the steps of one delivery share.
struct Attempt<'a> {
    queue: &'a str,
    message: &'a Received,
    inv: &'a AsyncInvocation,
    /// The invoked ARN, qualified (`…:function:NAME:$LATEST`).
    function_arn: String,
    settings: &'a Settings,
    /// The function's dead-letter queue (a queue name).
    dead_letter: Option<String>,
    age_s: f64,
}
