//! Stream mappings: one poller per mapping reads a DynamoDB stream in
//! order and invokes the function with one batch at a time.
//!
//! ```text
//!  stream ──records after the checkpoint (≤ BatchSize, within the window)──> poller
//!    ▲                                                                         │ {"Records":[...]}
//!    │ checkpoint = last delivered sequence number (durable)                   ▼
//!    └──────────────────────────────────────────────────── Invoker::invoke_queued
//! ```
//!
//! The checkpoint is a resource of the event store ([`POSITION_KIND`],
//! keyed by the mapping's UUID), committed after every batch, so a
//! restarted server goes on after the last batch the function processed
//! (a batch whose checkpoint was not yet committed is delivered again).
//!
//! A failed batch is retried, in place, so records stay in order:
//! - `BisectBatchOnFunctionError` halves the batch after each failure
//!   (halving does not count as a retry) down to one record;
//! - with `ReportBatchItemFailures`, the records before the lowest
//!   reported sequence number are checkpointed and the retry starts there;
//! - after `MaximumRetryAttempts` retries, or once records are older than
//!   `MaximumRecordAgeInSeconds`, they are skipped, and a description of
//!   them (Lambda's `DDBStreamBatchInfo`) goes to the `OnFailure` queue.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use updraft_invoker::{Call, InvokeResult};
use updraft_queues::NewMessage;
use updraft_registry::Resolved;
use updraft_store::EventWrite;
use updraft_telemetry::Delivery;
use updraft_types::{new_request_id, Qualifier};

use crate::config::{parse_queue_arn, Mapping, StreamSettings};
use crate::event;
use crate::poller::Context;

/// The event store's resource kind of stream checkpoints (keyed by UUID).
pub const POSITION_KIND: &str = "event-source-mapping-position";
/// The shard every table's stream has.
pub const SHARD_ID: &str = "shardId-00000000000000000000-00000001";
/// How often an idle stream is read (Lambda polls a shard 4 times a second).
const POLL: Duration = Duration::from_millis(250);
const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The invocation trigger recorded for stream batches.
const TRIGGER: &str = "dynamodb";

/// Reads the tables' streams; the tables crate's implementation is given
/// to [`crate::Mappings::attach_streams`].
pub trait StreamReader: Send + Sync {
    /// Records of `table`'s stream after sequence number `after`, oldest
    /// first, at most `limit`, each as Lambda delivers it (`eventID`,
    /// `eventName`, `dynamodb.SequenceNumber`, `eventSourceARN`, ...).
    /// Blocking.
    fn records(&self, table: &str, after: u64, limit: usize) -> Result<Vec<Value>, String>;

    /// `table`'s current stream ARN and the newest sequence number it
    /// holds (0 when none), or `None` when the table has no stream.
    /// Blocking.
    fn stream(&self, table: &str) -> Result<Option<(String, u64)>, String>;
}

/// The poller of one enabled stream mapping.
pub struct StreamPoller {
    cancel: CancellationToken,
}

impl StreamPoller {
    /// Starts reading after the mapping's checkpoint, once the poller it
    /// replaces (if any) has finished its batch: a mapping never has two
    /// batches under way.
    pub fn start(
        ctx: Arc<Context>,
        reader: Arc<dyn StreamReader>,
        mapping: Mapping,
        settings: StreamSettings,
    ) -> StreamPoller {
        let cancel = CancellationToken::new();
        let run = Run {
            ctx: ctx.clone(),
            reader,
            mapping,
            settings,
            cancel: cancel.clone(),
        };
        ctx.tasks.spawn(run.run());
        StreamPoller { cancel }
    }

    /// Stops the poller: a wait ends now, an invocation under way finishes
    /// and its batch is checkpointed first.
    pub fn stop(&self) {
        self.cancel.cancel();
    }
}

struct Run {
    ctx: Arc<Context>,
    reader: Arc<dyn StreamReader>,
    mapping: Mapping,
    settings: StreamSettings,
    cancel: CancellationToken,
}

/// What one invocation came to.
enum Outcome {
    Success,
    /// The records from this index on failed (0: the whole batch).
    FailedFrom(usize),
}

fn sequence(record: &Value) -> u64 {
    record["dynamodb"]["SequenceNumber"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Run {
    async fn run(self) {
        let turn = self.ctx.stream_turn(&self.mapping.uuid);
        let _turn = tokio::select! {
            _ = self.cancel.cancelled() => return,
            guard = turn.lock_owned() => guard,
        };
        let mut position = self.ctx.position(&self.mapping.uuid);
        let full = self.mapping.batch_size.max(1) as usize;
        let mut limit = full;
        let mut attempts: u32 = 0;
        let mut backoff = MIN_BACKOFF;
        while !self.cancel.is_cancelled() {
            let mut records = match self.read(position, limit).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(uuid = %self.mapping.uuid, error = %e, "stream mapping cannot read its stream");
                    if !self.pause(&mut backoff).await {
                        break;
                    }
                    continue;
                }
            };
            if records.is_empty() {
                if !self.sleep(POLL).await {
                    break;
                }
                continue;
            }
            if records.len() < limit && self.mapping.batching_window > 0 {
                let window = Duration::from_secs(u64::from(self.mapping.batching_window));
                if !self.sleep(window).await {
                    break;
                }
                match self.read(position, limit).await {
                    Ok(more) => records = more,
                    Err(_) => continue,
                }
            }
            if let Some(expired) = self.expired(&records) {
                let skipped: Vec<Value> = records.drain(..expired).collect();
                self.fail(&skipped, "RecordAgeExceeded", attempts).await;
                position = self.checkpoint(position, &skipped).await;
                attempts = 0;
                continue;
            }
            let target = match self.resolve() {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(uuid = %self.mapping.uuid, error = %e, "stream mapping cannot reach its function");
                    if !self.pause(&mut backoff).await {
                        break;
                    }
                    continue;
                }
            };
            let function = target.config.name.to_string();
            let age = records
                .first()
                .and_then(|r| r["dynamodb"]["ApproximateCreationDateTime"].as_f64())
                .map(|at| (now_secs() - at).max(0.0));
            match self.invoke(target, &records).await {
                Outcome::Success => {
                    self.metric(&function, Delivery::Success, age);
                    position = self.checkpoint(position, &records).await;
                    attempts = 0;
                    limit = full;
                    backoff = MIN_BACKOFF;
                }
                Outcome::FailedFrom(index) => {
                    if index > 0 {
                        position = self.checkpoint(position, &records[..index]).await;
                        attempts = 0;
                        records.drain(..index);
                    }
                    if self.settings.bisect_batch_on_function_error && records.len() > 1 {
                        limit = records.len() / 2;
                        self.metric(&function, Delivery::Retry, age);
                        continue;
                    }
                    attempts += 1;
                    let retries = self.settings.maximum_retry_attempts;
                    if retries >= 0 && i64::from(attempts) > retries {
                        self.metric(&function, Delivery::DeadLettered, age);
                        self.fail(&records, "RetryAttemptsExhausted", attempts)
                            .await;
                        position = self.checkpoint(position, &records).await;
                        attempts = 0;
                        limit = full;
                        continue;
                    }
                    self.metric(&function, Delivery::Retry, age);
                    if !self.pause(&mut backoff).await {
                        break;
                    }
                }
            }
        }
    }

    fn metric(&self, function: &str, outcome: Delivery, age: Option<f64>) {
        self.ctx
            .invoker
            .metrics()
            .delivery(function, "dynamodb", outcome, age);
    }

    async fn read(&self, after: u64, limit: usize) -> Result<Vec<Value>, String> {
        let reader = self.reader.clone();
        let table = self.settings.table.clone();
        tokio::task::spawn_blocking(move || reader.records(&table, after, limit))
            .await
            .map_err(|e| format!("reading the stream: {e}"))?
    }

    /// How many leading records are older than `MaximumRecordAgeInSeconds`,
    /// if any are.
    fn expired(&self, records: &[Value]) -> Option<usize> {
        let max = self.settings.maximum_record_age;
        if max < 0 {
            return None;
        }
        let now = now_secs();
        let n = records
            .iter()
            .take_while(|r| {
                r["dynamodb"]["ApproximateCreationDateTime"]
                    .as_f64()
                    .is_some_and(|at| now - at > max as f64)
            })
            .count();
        (n > 0).then_some(n)
    }

    fn resolve(&self) -> Result<Resolved, updraft_registry::RegistryError> {
        let qualifier = self
            .mapping
            .qualifier
            .as_deref()
            .map(Qualifier::parse)
            .transpose()
            .map_err(|e| updraft_registry::RegistryError::InvalidParameter(e.0))?;
        self.ctx
            .invoker
            .registry()
            .resolve(&self.mapping.function, qualifier.as_ref())
    }

    async fn invoke(&self, target: Resolved, records: &[Value]) -> Outcome {
        let payload = Bytes::from(json!({ "Records": records }).to_string());
        let call = Call {
            request_id: new_request_id(),
            trigger: TRIGGER,
            parent: None,
            tail: false,
        };
        let result = self.ctx.invoker.invoke_queued(target, payload, call).await;
        self.outcome(records, result)
    }

    /// Success, or where the failed records start: everything on an
    /// error, and with `ReportBatchItemFailures` the lowest sequence number
    /// the function reported.
    fn outcome(
        &self,
        records: &[Value],
        result: Result<InvokeResult, updraft_invoker::InvokeError>,
    ) -> Outcome {
        let result = match result {
            Ok(r) if r.function_error.is_none() => r,
            Ok(_) => return Outcome::FailedFrom(0),
            Err(e) => {
                tracing::warn!(uuid = %self.mapping.uuid, error = %e, "stream mapping invocation did not run");
                return Outcome::FailedFrom(0);
            }
        };
        if !self.mapping.report_batch_item_failures {
            return Outcome::Success;
        }
        let numbers: Vec<String> = records
            .iter()
            .map(|r| {
                r["dynamodb"]["SequenceNumber"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect();
        let ids: HashSet<&str> = numbers.iter().map(String::as_str).collect();
        match event::failed_items(&result.payload, &ids) {
            Ok(failed) => match numbers.iter().position(|n| failed.contains(n)) {
                Some(index) => Outcome::FailedFrom(index),
                None => Outcome::Success,
            },
            Err(e) => {
                tracing::warn!(uuid = %self.mapping.uuid, error = %e, "the whole batch failed");
                Outcome::FailedFrom(0)
            }
        }
    }

    /// Commits the position after `done` (the records just settled);
    /// answers the new position, or the old one when the commit failed
    /// (the records are then delivered again).
    async fn checkpoint(&self, position: u64, done: &[Value]) -> u64 {
        let Some(last) = done.last().map(sequence) else {
            return position;
        };
        let write = EventWrite::PutResource {
            kind: POSITION_KIND.into(),
            key: self.mapping.uuid.clone(),
            value: last.to_string(),
        };
        match self.ctx.queues.commit(vec![write]).await {
            Ok(_) => {
                self.ctx.set_position(&self.mapping.uuid, last);
                last
            }
            Err(e) => {
                tracing::warn!(uuid = %self.mapping.uuid, error = %e, "checkpointing a stream mapping failed; its last batch will be delivered again");
                position
            }
        }
    }

    /// Sends the description of skipped records to the `OnFailure` queue,
    /// or logs that they were discarded.
    async fn fail(&self, records: &[Value], condition: &str, attempts: u32) {
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return;
        };
        let account = self.ctx.invoker.registry().account();
        let info = json!({
            "requestContext": {
                "requestId": new_request_id(),
                "functionArn": self.mapping.function_arn(account),
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "version": "1.0",
            "timestamp": humantime_now(),
            "DDBStreamBatchInfo": {
                "shardId": SHARD_ID,
                "startSequenceNumber": first["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": last["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": first["dynamodb"]["ApproximateCreationDateTime"],
                "approximateArrivalOfLastRecord": last["dynamodb"]["ApproximateCreationDateTime"],
                "batchSize": records.len(),
                "streamArn": self.mapping.event_source_arn,
            },
        });
        let Some(destination) = &self.settings.on_failure else {
            tracing::warn!(uuid = %self.mapping.uuid, condition, records = records.len(), "stream records skipped with no failure destination");
            return;
        };
        let sent = match parse_queue_arn(destination) {
            Ok(arn) => self
                .ctx
                .queues
                .send(
                    &arn.queue,
                    vec![NewMessage {
                        body: Bytes::from(info.to_string()),
                        ..Default::default()
                    }],
                )
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = sent {
            tracing::warn!(uuid = %self.mapping.uuid, destination, error = %e, "sending skipped stream records to the failure destination failed");
        }
    }

    /// Sleeps `backoff` (doubling it for next time); `false` if stopped.
    async fn pause(&self, backoff: &mut Duration) -> bool {
        let wait = *backoff;
        *backoff = (*backoff * 2).min(MAX_BACKOFF);
        self.sleep(wait).await
    }

    /// Sleeps `wait`; `false` if stopped meanwhile.
    async fn sleep(&self, wait: Duration) -> bool {
        tokio::select! {
            _ = self.cancel.cancelled() => false,
            _ = tokio::time::sleep(wait) => true,
        }
    }
}

/// Now as an RFC 3339 UTC timestamp with milliseconds.
fn humantime_now() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    rfc3339_millis(ms)
}

/// `ms` since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (the civil-date
/// algorithm of Howard Hinnant's `civil_from_days`).
fn rfc3339_millis(ms: i64) -> String {
    let (days, rest) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(
            rfc3339_millis(1_573_691_886_021),
            "2019-11-14T00:38:06.021Z"
        );
    }
}
