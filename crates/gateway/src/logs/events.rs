//! Reading events: GetLogEvents and FilterLogEvents.
//!
//! Paging tokens are places in `(timestamp, id)` order ([`LogPosition`]):
//! GetLogEvents' `f/TS/ID` (events after it) and `b/TS/ID` (events before
//! it), and FilterLogEvents' `n/TS/ID`. Following `nextForwardToken` past
//! the newest event answers no events and the same token, as CloudWatch
//! does; FilterLogEvents leaves `nextToken` out of a page without events
//! when the search is complete (a page with events has one, so following
//! tokens, as `updraft logs --follow` does, picks up later events).
//!
//! Two FilterLogEvents fields beyond CloudWatch's, used by `updraft logs`:
//! `requestId` and `errorsOnly` select whole invocations of a Lambda group
//! (every line START to REPORT of those where a line matches the pattern),
//! paged by the store's record sequence numbers.

use serde::Deserialize;
use serde_json::{json, Value};
use updraft_store::logs::lambda_function;
use updraft_store::{LogEvent, LogEventQuery, LogPosition, LogQuery, StoreError};
use updraft_types::{FunctionName, LATEST};

use super::api::{group_of, limit, valid_stream_name, Answer, LogsError};
use super::pattern::Pattern;
use crate::Tenant;

/// The position before every event, and the one after.
const FIRST: LogPosition = LogPosition {
    timestamp_ms: i64::MIN,
    id: 0,
};

fn token(kind: char, p: LogPosition) -> String {
    format!("{kind}/{}/{}", p.timestamp_ms, p.id)
}

fn parse_token(token: &str) -> Option<(char, LogPosition)> {
    let mut parts = token.splitn(3, '/');
    let kind = match parts.next()? {
        "f" => 'f',
        "b" => 'b',
        "n" => 'n',
        _ => return None,
    };
    let timestamp_ms = parts.next()?.parse().ok()?;
    let id = parts.next()?.parse().ok()?;
    Some((kind, LogPosition { timestamp_ms, id }))
}

fn bad_token() -> LogsError {
    LogsError::invalid("The specified nextToken is invalid.")
}

fn event_json(e: &LogEvent) -> Value {
    json!({
        "timestamp": e.timestamp_ms,
        "message": e.message,
        "ingestionTime": e.ingestion_ms,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Get {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name: String,
    start_time: Option<i64>,
    end_time: Option<i64>,
    next_token: Option<String>,
    limit: Option<i64>,
    start_from_head: Option<bool>,
}

pub(super) fn get(t: &Tenant, req: Get) -> Answer {
    let group = group_of(req.log_group_name, req.log_group_identifier)?;
    let stream = valid_stream_name(req.log_stream_name)?;
    let limit = limit(req.limit, 10_000, 10_000)?;
    let from = match req.next_token.as_deref() {
        None => None,
        Some(t) => match parse_token(t) {
            Some((kind @ ('f' | 'b'), p)) => Some((kind, p)),
            _ => return Err(bad_token()),
        },
    };
    // Forward from a token, or from the head when asked; otherwise (and
    // backward from a token) the newest `limit` before the position.
    let forward = match from {
        Some((kind, _)) => kind == 'f',
        None => req.start_from_head.unwrap_or(false),
    };
    let query = LogEventQuery {
        group: group.clone(),
        streams: Some(vec![stream.clone()]),
        stream_prefix: None,
        start_ms: req.start_time,
        end_ms: req.end_time,
        from: from.map(|(_, p)| p),
        descending: !forward,
        limit,
    };
    let mut events = t.store.query_log_events(&query)?;
    if !forward {
        events.reverse();
    }
    if events.is_empty() && !stream_exists(t, &group, &stream)? {
        return Err(LogsError::stream_not_found());
    }
    let (next_forward, next_backward) = match (events.first(), events.last()) {
        (Some(first), Some(last)) => (last.position(), first.position()),
        _ => match from {
            // Nothing new: the same forward token; backward from there
            // includes the event the token stands after.
            Some(('f', p)) => (
                p,
                LogPosition {
                    id: p.id.saturating_add(1),
                    ..p
                },
            ),
            Some((_, p)) => (
                LogPosition {
                    id: p.id.saturating_sub(1),
                    ..p
                },
                p,
            ),
            None => (FIRST, FIRST),
        },
    };
    Ok(json!({
        "events": events.iter().map(event_json).collect::<Vec<_>>(),
        "nextForwardToken": token('f', next_forward),
        "nextBackwardToken": token('b', next_backward),
    }))
}

fn stream_exists(t: &Tenant, group: &str, stream: &str) -> Result<bool, LogsError> {
    Ok(t.store
        .list_log_streams(group)?
        .iter()
        .any(|s| s.name == stream))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Filter {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_names: Option<Vec<String>>,
    log_stream_name_prefix: Option<String>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    filter_pattern: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
    /// Deprecated (always true on CloudWatch): events come in time order
    /// across streams.
    #[serde(rename = "interleaved")]
    _interleaved: Option<bool>,
    /// Reveals data masked by protection policies; there are none here.
    #[serde(rename = "unmask")]
    _unmask: Option<bool>,
    request_id: Option<String>,
    errors_only: Option<bool>,
}

/// Events examined per chunk, and per call before answering with a token.
const CHUNK: usize = 1_000;
const SCAN_BUDGET: usize = 100_000;

pub(super) fn filter(t: &Tenant, req: Filter) -> Answer {
    let group = group_of(req.log_group_name.clone(), req.log_group_identifier.clone())?;
    if req.log_stream_names.is_some() && req.log_stream_name_prefix.is_some() {
        return Err(LogsError::invalid(
            "You cannot specify both logStreamNames and logStreamNamePrefix.",
        ));
    }
    let pattern = Pattern::parse(req.filter_pattern.as_deref().unwrap_or(""))
        .map_err(|e| LogsError::invalid(e.to_string()))?;
    let limit = limit(req.limit, 10_000, 10_000)?;
    if req.request_id.is_some() || req.errors_only.unwrap_or(false) {
        return filter_invocations(t, &group, req, &pattern, limit);
    }
    let mut from = match req.next_token.as_deref() {
        None => None,
        Some(token) => match parse_token(token) {
            Some(('n', p)) => Some(p),
            // A token this server did not hand out: past the end, as
            // CloudWatch answers it.
            _ => return Ok(json!({ "events": [], "searchedLogStreams": [] })),
        },
    };
    let mut query = LogEventQuery {
        group: group.clone(),
        streams: req.log_stream_names.clone(),
        stream_prefix: req.log_stream_name_prefix.clone(),
        start_ms: req.start_time,
        // CloudWatch's endTime is inclusive here.
        end_ms: req.end_time.map(|e| e.saturating_add(1)),
        from,
        descending: false,
        limit: CHUNK,
    };
    let mut events = Vec::new();
    let mut streams: Vec<String> = Vec::new();
    let mut scanned = 0;
    let mut more = false;
    'scan: loop {
        query.from = from;
        let chunk = match t.store.query_log_events(&query) {
            Ok(chunk) => chunk,
            Err(StoreError::NotFound(_)) if lambda_group_of_function(t, &group)? => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let complete = chunk.len() < CHUNK;
        for e in chunk {
            from = Some(e.position());
            scanned += 1;
            if !streams.contains(&e.stream) {
                streams.push(e.stream.clone());
            }
            if pattern.matches(&e.message) {
                events.push(json!({
                    "logStreamName": e.stream,
                    "timestamp": e.timestamp_ms,
                    "message": e.message,
                    "ingestionTime": e.ingestion_ms,
                    "eventId": e.id.to_string(),
                }));
                if events.len() == limit {
                    more = true;
                    break 'scan;
                }
            }
        }
        if complete {
            break;
        }
        if scanned >= SCAN_BUDGET {
            more = true;
            break;
        }
    }
    let searched: Vec<Value> = streams
        .iter()
        .map(|s| json!({ "logStreamName": s, "searchedCompletely": !more }))
        .collect();
    let mut out = json!({ "events": events, "searchedLogStreams": searched });
    // A page with events carries a token even when the search is done,
    // so a client that follows tokens picks up what arrives later from
    // there; the page after it, empty, carries none.
    if let (true, Some(p)) = (more || !events.is_empty(), from) {
        out["nextToken"] = json!(token('n', p));
    }
    Ok(out)
}

/// Whether `group` is the Lambda group of a function that exists but has
/// not logged yet (reading it answers no events rather than an error).
fn lambda_group_of_function(t: &Tenant, group: &str) -> Result<bool, LogsError> {
    let Some(name) = lambda_function(group).and_then(|f| FunctionName::new(f).ok()) else {
        return Ok(false);
    };
    Ok(t.store.get_version(&name, LATEST)?.is_some())
}

/// `updraft logs`: whole invocations of a Lambda group, by request id or
/// failed ones; `nextToken` is the last record's sequence number.
fn filter_invocations(
    t: &Tenant,
    group: &str,
    req: Filter,
    pattern: &Pattern,
    limit: usize,
) -> Answer {
    let Some(function) = lambda_function(group) else {
        return Err(LogsError::invalid(
            "requestId and errorsOnly apply to Lambda log groups (/aws/lambda/NAME).",
        ));
    };
    let after_seq = match req.next_token.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(_)) => return Err(bad_token()),
    };
    let records = t.store.query_logs(&LogQuery {
        function: function.to_string(),
        after_seq,
        since_ms: req.start_time,
        until_ms: req.end_time,
        request_id: req.request_id,
        errors_only: req.errors_only.unwrap_or(false),
        limit: 1_000,
    })?;
    let in_streams = |stream: &str| {
        req.log_stream_names
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == stream))
            && req
                .log_stream_name_prefix
                .as_ref()
                .is_none_or(|prefix| stream.starts_with(prefix.as_str()))
    };
    let mut events = Vec::new();
    let mut last_seq = None;
    for r in &records {
        if events.len() >= limit {
            break;
        }
        last_seq = Some(r.seq);
        if !in_streams(&r.stream) || !r.text.lines().any(|l| pattern.matches(l)) {
            continue;
        }
        for (i, line) in r.text.lines().enumerate() {
            let ts = if line.starts_with("REPORT ") || line.starts_with("END ") {
                r.end_ms
            } else {
                r.start_ms
            };
            events.push(json!({
                "logStreamName": r.stream,
                "timestamp": ts,
                "message": format!("{line}\n"),
                "ingestionTime": r.end_ms,
                "eventId": format!("{}-{i}", r.seq),
            }));
        }
    }
    let mut out = json!({ "events": events, "searchedLogStreams": [] });
    if let Some(seq) = last_seq {
        out["nextToken"] = json!(seq.to_string());
    }
    Ok(out)
}
