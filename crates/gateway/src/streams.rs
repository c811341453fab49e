//! The DynamoDB Streams API on the wire: the JSON 1.0 protocol
//! (`POST /`, `X-Amz-Target: DynamoDBStreams_20120810.{Operation}`,
//! signed for `dynamodb`), over the account's tables' streams
//! ([`updraft_tables::Tables::streams`], [`updraft_tables::Tables::stream_records`]).
//!
//! A table's stream is one shard, [`SHARD_ID`]. A shard iterator is an
//! opaque token (base64 of the stream ARN, the position, i.e. the sequence
//! number the next record must follow, and an expiry 15 minutes on, as
//! AWS's iterators have); `GetRecords` answers the records after the
//! position, oldest first, and the next iterator. Errors are DynamoDB's
//! JSON shape. Blocking: called on the blocking pool (the route is
//! DynamoDB's, see `signed::route`).

use axum::response::Response;
use base64::Engine;
use bytes::Bytes;
use http::StatusCode;
use serde_json::{json, Map, Value};
use updraft_tables::{StreamInfo, TablesError};

use crate::Tenant;

/// The `X-Amz-Target` prefix of DynamoDB Streams' operations.
pub(crate) const TARGET_PREFIX: &str = "DynamoDBStreams_20120810.";

/// The one shard of every table's stream.
pub const SHARD_ID: &str = "shardId-00000000000000000000-00000001";

/// How long a shard iterator stays valid.
const ITERATOR_LIFETIME_MS: u64 = 15 * 60 * 1000;

/// The most records one `GetRecords` answers.
const MAX_RECORDS: u64 = 1000;

/// Why a Streams request failed: a tables error, or one of the Streams
/// API's own.
enum StreamsError {
    Tables(TablesError),
    /// `ExpiredIteratorException`
    ExpiredIterator(String),
    /// `TrimmedDataAccessException`
    TrimmedData(String),
}

impl From<TablesError> for StreamsError {
    fn from(e: TablesError) -> Self {
        StreamsError::Tables(e)
    }
}

fn validation(message: impl Into<String>) -> StreamsError {
    StreamsError::Tables(TablesError::validation(message))
}

fn not_found(message: impl Into<String>) -> StreamsError {
    StreamsError::Tables(TablesError::ResourceNotFound(message.into()))
}

/// Runs `operation` with its JSON input and renders the answer.
pub(crate) fn json(state: &Tenant, operation: &str, body: &Bytes) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let result = parse(body).and_then(|input| match operation {
        "ListStreams" => list_streams(state, &input),
        "DescribeStream" => describe_stream(state, &input),
        "GetShardIterator" => get_shard_iterator(state, &input),
        "GetRecords" => get_records(state, &input),
        other => Err(StreamsError::Tables(TablesError::UnknownOperation(
            other.to_string(),
        ))),
    });
    let (status, body, kind) = match result {
        Ok(output) => (StatusCode::OK, output, None),
        Err(StreamsError::Tables(e)) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            if status.is_server_error() {
                tracing::error!(error = %e, operation, "a DynamoDB Streams request failed");
            }
            (status, e.body(), Some(e.type_name().to_string()))
        }
        Err(StreamsError::ExpiredIterator(message)) => {
            own_error("ExpiredIteratorException", &message)
        }
        Err(StreamsError::TrimmedData(message)) => {
            own_error("TrimmedDataAccessException", &message)
        }
    };
    crate::tables::render(status, &body, kind.as_deref(), &request_id)
}

fn own_error(code: &str, message: &str) -> (StatusCode, Value, Option<String>) {
    let kind = format!("com.amazonaws.dynamodb.v20120810#{code}");
    let body = json!({ "__type": kind, "message": message });
    (StatusCode::BAD_REQUEST, body, Some(kind))
}

fn parse(body: &[u8]) -> Result<Map<String, Value>, StreamsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(StreamsError::Tables(TablesError::Serialization(
            "Start of list found where not expected".into(),
        ))),
        Err(e) => Err(StreamsError::Tables(TablesError::Serialization(format!(
            "Malformed JSON: {e}"
        )))),
    }
}

fn string<'a>(input: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, StreamsError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(StreamsError::Tables(TablesError::Serialization(format!(
            "Unexpected value type in payload for {name}"
        )))),
    }
}

fn required<'a>(input: &'a Map<String, Value>, name: &str) -> Result<&'a str, StreamsError> {
    string(input, name)?.ok_or_else(|| {
        validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(name)
        ))
    })
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// A limit between 1 and `max`, or `default` when absent.
fn limit(input: &Map<String, Value>, max: u64, default: u64) -> Result<u64, StreamsError> {
    match input.get("Limit") {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v.as_u64() {
            Some(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(validation(format!(
                "1 validation error detected: Value '{v}' at 'limit' failed to satisfy constraint: Member must have value between 1 and {max}"
            ))),
        },
    }
}

/// The table a stream ARN of this account names, or not found.
fn stream_of(state: &Tenant, arn: &str) -> Result<StreamInfo, StreamsError> {
    let missing = || {
        not_found(format!(
            "Requested resource not found: Stream: {arn} not found"
        ))
    };
    let table = parse_stream_arn(arn)
        .filter(|(region, account, _, _)| {
            *region == state.account.region && *account == state.account.account_id
        })
        .map(|(_, _, table, _)| table)
        .ok_or_else(missing)?;
    match state.tables.stream(table) {
        Ok(info) if info.arn == arn => Ok(info),
        Ok(_) | Err(TablesError::ResourceNotFound(_)) => Err(missing()),
        Err(e) => Err(e.into()),
    }
}

/// `arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE/stream/LABEL` as
/// (region, account, table, label).
pub fn parse_stream_arn(arn: &str) -> Option<(&str, &str, &str, &str)> {
    let rest = arn.strip_prefix("arn:aws:dynamodb:")?;
    let mut parts = rest.splitn(3, ':');
    let (region, account, resource) = (parts.next()?, parts.next()?, parts.next()?);
    let resource = resource.strip_prefix("table/")?;
    let (table, label) = resource.split_once("/stream/")?;
    if region.is_empty() || account.is_empty() || table.is_empty() || label.is_empty() {
        return None;
    }
    Some((region, account, table, label))
}

fn list_streams(state: &Tenant, input: &Map<String, Value>) -> Result<Value, StreamsError> {
    let table = string(input, "TableName")?;
    let start = string(input, "ExclusiveStartStreamArn")?;
    let limit = limit(input, 100, 100)? as usize;
    let mut streams = state.tables.streams()?;
    streams.sort_by(|a, b| a.arn.cmp(&b.arn));
    let mut streams: Vec<StreamInfo> = streams
        .into_iter()
        .filter(|s| table.is_none_or(|t| s.table == t))
        .filter(|s| start.is_none_or(|start| s.arn.as_str() > start))
        .collect();
    let more = streams.len() > limit;
    streams.truncate(limit);
    let mut out = json!({
        "Streams": streams.iter().map(|s| json!({
            "StreamArn": s.arn,
            "TableName": s.table,
            "StreamLabel": s.label,
        })).collect::<Vec<_>>(),
    });
    if let (true, Some(last)) = (more, streams.last()) {
        out["LastEvaluatedStreamArn"] = json!(last.arn);
    }
    Ok(out)
}

fn sequence(n: u64) -> String {
    format!("{n:021}")
}

fn describe_stream(state: &Tenant, input: &Map<String, Value>) -> Result<Value, StreamsError> {
    let arn = required(input, "StreamArn")?;
    limit(input, 100, 100)?;
    let info = stream_of(state, arn)?;
    let start = info.range.map(|(first, _)| first).unwrap_or(1);
    let shards = match string(input, "ExclusiveStartShardId")? {
        Some(id) if id >= SHARD_ID => vec![],
        _ => vec![json!({
            "ShardId": SHARD_ID,
            "SequenceNumberRange": { "StartingSequenceNumber": sequence(start) },
        })],
    };
    Ok(json!({
        "StreamDescription": {
            "StreamArn": info.arn,
            "StreamLabel": info.label,
            "StreamStatus": "ENABLED",
            "StreamViewType": info.view_type,
            "CreationRequestDateTime": info.created,
            "TableName": info.table,
            "KeySchema": info.key_schema,
            "Shards": shards,
        }
    }))
}

/// What a shard iterator holds.
#[derive(Debug, PartialEq)]
pub struct ShardIterator {
    /// The stream's ARN.
    pub arn: String,
    /// The next record's sequence number follows this one.
    pub after: u64,
    /// When the iterator stops being valid (epoch milliseconds).
    pub expires_ms: u64,
}

impl ShardIterator {
    /// The opaque token.
    pub fn encode(&self) -> String {
        let text = json!({"a": self.arn, "p": self.after, "e": self.expires_ms}).to_string();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }

    /// The iterator a token encodes, if it is one.
    pub fn decode(token: &str) -> Option<ShardIterator> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()?;
        let value: Value = serde_json::from_slice(&bytes).ok()?;
        Some(ShardIterator {
            arn: value.get("a")?.as_str()?.to_string(),
            after: value.get("p")?.as_u64()?,
            expires_ms: value.get("e")?.as_u64()?,
        })
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn get_shard_iterator(state: &Tenant, input: &Map<String, Value>) -> Result<Value, StreamsError> {
    let arn = required(input, "StreamArn")?;
    let shard = required(input, "ShardId")?;
    let kind = required(input, "ShardIteratorType")?;
    let info = stream_of(state, arn)?;
    if shard != SHARD_ID {
        return Err(not_found(format!(
            "Requested resource not found: Shard does not exist: {shard}"
        )));
    }
    let number = || -> Result<u64, StreamsError> {
        let text = string(input, "SequenceNumber")?.ok_or_else(|| {
            validation(format!(
                "Invalid SequenceNumber for ShardIteratorType {kind}: SequenceNumber is required"
            ))
        })?;
        text.parse::<u64>()
            .ok()
            .filter(|n| *n > 0 && text.len() <= 40)
            .ok_or_else(|| validation(format!("Invalid SequenceNumber: {text}")))
    };
    let last = info.range.map(|(_, last)| last);
    let after = match kind {
        "TRIM_HORIZON" => 0,
        "LATEST" => last.unwrap_or(0),
        "AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER" => {
            let n = number()?;
            if let Some((first, _)) = info.range {
                if n < first {
                    return Err(StreamsError::TrimmedData(format!(
                        "Attempted to access data that has been trimmed: sequence number {n}"
                    )));
                }
            }
            if last.is_none_or(|last| n > last) {
                return Err(validation(format!(
                    "Invalid SequenceNumber: {n} is beyond the last record of the shard"
                )));
            }
            if kind == "AT_SEQUENCE_NUMBER" {
                n - 1
            } else {
                n
            }
        }
        other => {
            return Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"
            )))
        }
    };
    let iterator = ShardIterator {
        arn: info.arn,
        after,
        expires_ms: now_ms() + ITERATOR_LIFETIME_MS,
    };
    Ok(json!({ "ShardIterator": iterator.encode() }))
}

fn get_records(state: &Tenant, input: &Map<String, Value>) -> Result<Value, StreamsError> {
    let token = required(input, "ShardIterator")?;
    let limit = limit(input, MAX_RECORDS, MAX_RECORDS)? as usize;
    let iterator =
        ShardIterator::decode(token).ok_or_else(|| validation("Invalid ShardIterator"))?;
    if iterator.expires_ms <= now_ms() {
        return Err(StreamsError::ExpiredIterator(
            "Iterator expired. The iterator was created more than 15 minutes ago.".into(),
        ));
    }
    let info = stream_of(state, &iterator.arn)?;
    let records = state
        .tables
        .stream_records(&info.table, iterator.after, limit)?;
    let after = records
        .last()
        .and_then(|r| r["dynamodb"]["SequenceNumber"].as_str())
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(iterator.after);
    let next = ShardIterator {
        arn: info.arn,
        after,
        expires_ms: now_ms() + ITERATOR_LIFETIME_MS,
    };
    let records: Vec<Value> = records
        .into_iter()
        .map(|mut r| {
            if let Some(map) = r.as_object_mut() {
                map.remove("eventSourceARN");
            }
            r
        })
        .collect();
    Ok(json!({ "Records": records, "NextShardIterator": next.encode() }))
}

/// The tables' streams as the stream mappings read them.
pub struct TableStreams(pub std::sync::Arc<updraft_tables::Tables>);

impl updraft_mappings::StreamReader for TableStreams {
    fn records(&self, table: &str, after: u64, limit: usize) -> Result<Vec<Value>, String> {
        self.0
            .stream_records(table, after, limit)
            .map_err(|e| e.to_string())
    }

    fn stream(&self, table: &str) -> Result<Option<(String, u64)>, String> {
        match self.0.stream(table) {
            Ok(info) => Ok(Some((info.arn, info.range.map_or(0, |(_, last)| last)))),
            Err(TablesError::ResourceNotFound(_)) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_iterator_round_trips_and_garbage_is_no_iterator() {
        let it = ShardIterator {
            arn: "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"
                .into(),
            after: 42,
            expires_ms: 7,
        };
        assert_eq!(ShardIterator::decode(&it.encode()), Some(it));
        assert_eq!(ShardIterator::decode("not-an-iterator"), None);
    }

    #[test]
    fn stream_arns_name_their_table() {
        assert_eq!(
            parse_stream_arn("arn:aws:dynamodb:eu-west-1:123456789012:table/a/stream/L"),
            Some(("eu-west-1", "123456789012", "a", "L"))
        );
        assert_eq!(
            parse_stream_arn("arn:aws:dynamodb:eu-west-1:123456789012:table/a"),
            None
        );
    }
}
