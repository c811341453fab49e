//! Log streams: CreateLogStream, DeleteLogStream, DescribeLogStreams and
//! PutLogEvents.
//!
//! PutLogEvents accepts and ignores `sequenceToken`, as CloudWatch does
//! now, and keeps CloudWatch's limits: 1 to 10,000 events, at most
//! 1,048,576 bytes (each message's UTF-8 length plus 26), in
//! chronological order, spanning at most 24 hours. Events more than two
//! hours ahead, more than 14 days old or older than the group's retention
//! are left out and reported in `rejectedLogEventsInfo`.

use serde::Deserialize;
use serde_json::{json, Value};
use updraft_store::logs::DAY_MS;
use updraft_store::NewLogEvent;

use super::api::{
    group_of, limit, now_ms, offset_token, page, valid_stream_name, Answer, LogsError,
};
use crate::Tenant;

/// PutLogEvents' limits.
const MAX_EVENTS: usize = 10_000;
const MAX_BATCH_BYTES: usize = 1_048_576;
const EVENT_OVERHEAD: usize = 26;
const MAX_SPAN_MS: i64 = DAY_MS;
const TOO_NEW_MS: i64 = 2 * 3_600_000;
const TOO_OLD_MS: i64 = 14 * DAY_MS;

fn stream_error(e: updraft_store::StoreError) -> LogsError {
    LogsError::store(e, LogsError::group_not_found, LogsError::stream_exists)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Stream {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name: String,
}

pub(super) fn create(t: &Tenant, req: Stream) -> Answer {
    let group = group_of(req.log_group_name, req.log_group_identifier)?;
    let stream = valid_stream_name(req.log_stream_name)?;
    t.store
        .create_log_stream(&group, &stream, now_ms())
        .map_err(stream_error)?;
    Ok(json!({}))
}

pub(super) fn delete(t: &Tenant, req: Stream) -> Answer {
    let group = group_of(req.log_group_name, req.log_group_identifier)?;
    t.store
        .delete_log_stream(&group, &req.log_stream_name)
        .map_err(stream_error)?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Describe {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name_prefix: Option<String>,
    order_by: Option<String>,
    descending: Option<bool>,
    next_token: Option<String>,
    limit: Option<i64>,
}

pub(super) fn describe(t: &Tenant, req: Describe) -> Answer {
    let group = group_of(req.log_group_name, req.log_group_identifier)?;
    let by_time = match req.order_by.as_deref() {
        None | Some("LogStreamName") => false,
        Some("LastEventTime") => true,
        Some(other) => {
            return Err(LogsError::invalid(format!(
                "1 validation error detected: Value '{other}' at 'orderBy' failed to satisfy \
                 constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]"
            )))
        }
    };
    if by_time && req.log_stream_name_prefix.is_some() {
        return Err(LogsError::invalid(
            "Cannot order by LastEventTime with a logStreamNamePrefix.",
        ));
    }
    let limit = limit(req.limit, 50, 50)?;
    let offset = offset_token(req.next_token.as_deref());
    let mut streams: Vec<_> = t
        .store
        .list_log_streams(&group)?
        .into_iter()
        .filter(|s| {
            req.log_stream_name_prefix
                .as_ref()
                .is_none_or(|p| s.name.starts_with(p.as_str()))
        })
        .collect();
    if by_time {
        streams.sort_by_key(|s| (s.last_event_ms.unwrap_or(s.created_ms), s.name.clone()));
    }
    if req.descending.unwrap_or(false) {
        streams.reverse();
    }
    let (streams, next) = page(streams, offset, limit);
    let prefix = format!(
        "arn:aws:logs:{}:{}:log-group:{group}:log-stream:",
        t.account.region, t.account.account_id
    );
    let streams: Vec<Value> = streams
        .iter()
        .map(|s| {
            let mut out = json!({
                "logStreamName": s.name,
                "creationTime": s.created_ms,
                "arn": format!("{prefix}{}", s.name),
                "storedBytes": s.stored_bytes,
                "uploadSequenceToken": sequence_token(0),
            });
            if let Some(ms) = s.first_event_ms {
                out["firstEventTimestamp"] = json!(ms);
            }
            if let Some(ms) = s.last_event_ms {
                out["lastEventTimestamp"] = json!(ms);
            }
            if let Some(ms) = s.last_ingestion_ms {
                out["lastIngestionTime"] = json!(ms);
            }
            out
        })
        .collect();
    let mut out = json!({ "logStreams": streams });
    if let Some(next) = next {
        out["nextToken"] = json!(next);
    }
    Ok(out)
}

/// A sequence token in CloudWatch's shape (56 digits); clients may send
/// it back, and it is ignored.
fn sequence_token(n: i64) -> String {
    format!("{n:056}")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PutEvents {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name: String,
    log_events: Vec<InputEvent>,
    /// Accepted and ignored, as CloudWatch does since 2023.
    #[serde(rename = "sequenceToken")]
    _sequence_token: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct InputEvent {
    timestamp: i64,
    message: String,
}

pub(super) fn put_events(t: &Tenant, req: PutEvents) -> Answer {
    let group = group_of(req.log_group_name, req.log_group_identifier)?;
    let events = req.log_events;
    if events.is_empty() || events.len() > MAX_EVENTS {
        return Err(LogsError::invalid(format!(
            "1 validation error detected: Value at 'logEvents' failed to satisfy constraint: \
             Member must have length less than or equal to {MAX_EVENTS} and greater than or \
             equal to 1"
        )));
    }
    let bytes: usize = events
        .iter()
        .map(|e| e.message.len() + EVENT_OVERHEAD)
        .sum();
    if bytes > MAX_BATCH_BYTES {
        return Err(LogsError::invalid(format!(
            "Upload too large: {bytes} bytes exceeds limit of {MAX_BATCH_BYTES}"
        )));
    }
    if events.windows(2).any(|w| w[1].timestamp < w[0].timestamp) {
        return Err(LogsError::invalid(
            "Log events in a single PutLogEvents request must be in chronological order.",
        ));
    }
    if let (Some(first), Some(last)) = (events.first(), events.last()) {
        if last.timestamp - first.timestamp > MAX_SPAN_MS {
            return Err(LogsError::invalid(
                "The batch of log events in a single PutLogEvents request cannot span more \
                 than 24 hours.",
            ));
        }
    }
    if events.iter().any(|e| e.message.is_empty()) {
        return Err(LogsError::invalid(
            "1 validation error detected: Value '' at 'logEvents.member.message' failed to \
             satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    let info = t
        .store
        .get_log_group(&group)?
        .ok_or_else(LogsError::group_not_found)?;
    let now = now_ms();
    // Events are in time order: the rejected ones are a head and a tail.
    let too_old = events.iter().rposition(|e| e.timestamp < now - TOO_OLD_MS);
    let expired = info.retention_days.and_then(|days| {
        let cutoff = now - i64::from(days) * DAY_MS;
        events.iter().rposition(|e| e.timestamp < cutoff)
    });
    let too_new = events.iter().position(|e| e.timestamp > now + TOO_NEW_MS);
    let first_kept = too_old.max(expired).map_or(0, |i| i + 1);
    let end_kept = too_new.unwrap_or(events.len());
    let kept: Vec<NewLogEvent> = events
        .iter()
        .enumerate()
        .filter(|(i, _)| *i >= first_kept && *i < end_kept)
        .map(|(_, e)| NewLogEvent {
            timestamp_ms: e.timestamp,
            message: e.message.clone(),
        })
        .collect();
    let last_id = if kept.is_empty() {
        // Still report a missing stream.
        if !t
            .store
            .list_log_streams(&group)?
            .iter()
            .any(|s| s.name == req.log_stream_name)
        {
            return Err(LogsError::stream_not_found());
        }
        0
    } else {
        t.store
            .put_log_events(&group, &req.log_stream_name, &kept, now)
            .map_err(stream_error)?
    };
    let mut out = json!({ "nextSequenceToken": sequence_token(last_id) });
    let mut rejected = serde_json::Map::new();
    if let Some(i) = too_old {
        rejected.insert("tooOldLogEventEndIndex".into(), json!(i));
    }
    if let Some(i) = expired {
        rejected.insert("expiredLogEventEndIndex".into(), json!(i));
    }
    if let Some(i) = too_new {
        rejected.insert("tooNewLogEventStartIndex".into(), json!(i));
    }
    if !rejected.is_empty() {
        out["rejectedLogEventsInfo"] = Value::Object(rejected);
    }
    Ok(out)
}
