//! DynamoDB Streams' view of the tables: which tables have a stream, its
//! ARN, label, view type and key schema, and the range of sequence numbers
//! it still holds.
//!
//! A table's stream is one shard: its records are the rows of `stream`
//! for the table (see [`crate::store`]), numbered by a sequence that only
//! grows, so "after sequence N" is a position that survives restarts. The
//! records themselves are read with [`crate::Tables::stream_records`].

use rusqlite::{params, Connection};
use serde_json::{json, Value};

use crate::error::TablesError;
use crate::schema::TableMeta;
use crate::store;

/// A table's current stream.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamInfo {
    /// The table's name.
    pub table: String,
    /// `arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL`.
    pub arn: String,
    /// The stream's label (a timestamp, as DynamoDB's are).
    pub label: String,
    /// KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES.
    pub view_type: String,
    /// The table's `KeySchema`, as DescribeTable shows it.
    pub key_schema: Value,
    /// When the table was created (epoch seconds).
    pub created: f64,
    /// The oldest and newest sequence numbers the stream still holds, if
    /// it holds any record.
    pub range: Option<(u64, u64)>,
}

impl StreamInfo {
    fn of(meta: &TableMeta, range: Option<(u64, u64)>) -> Option<StreamInfo> {
        let stream = meta.stream.as_ref()?;
        Some(StreamInfo {
            table: meta.name.clone(),
            arn: format!("{}/stream/{}", meta.arn, stream.label),
            label: stream.label.clone(),
            view_type: stream.view_type.clone(),
            key_schema: key_schema(meta),
            created: meta.created,
            range,
        })
    }
}

/// Every table's stream (without ranges), by table name.
pub fn list(conn: &Connection) -> Result<Vec<StreamInfo>, TablesError> {
    Ok(store::list_tables(conn)?
        .iter()
        .filter_map(|meta| StreamInfo::of(meta, None))
        .collect())
}

/// `table`'s stream with its range, or `ResourceNotFoundException` when
/// the table has none.
pub fn describe(conn: &Connection, table: &str) -> Result<StreamInfo, TablesError> {
    let not_found = || {
        TablesError::ResourceNotFound(format!("Requested resource not found: Stream of {table}"))
    };
    let meta = store::load_table(conn, table)?.ok_or_else(not_found)?;
    let range: (Option<i64>, Option<i64>) = conn
        .prepare_cached("SELECT MIN(seq), MAX(seq) FROM stream WHERE tbl = ?1")
        .and_then(|mut s| s.query_row(params![meta.id], |row| Ok((row.get(0)?, row.get(1)?))))
        .map_err(TablesError::db("reading the stream's range"))?;
    let range = match range {
        (Some(first), Some(last)) => Some((first.max(0) as u64, last.max(0) as u64)),
        _ => None,
    };
    StreamInfo::of(&meta, range).ok_or_else(not_found)
}

/// The table's `KeySchema`, hash key first.
fn key_schema(meta: &TableMeta) -> Value {
    let mut out = vec![json!({"AttributeName": meta.key.hash.name, "KeyType": "HASH"})];
    if let Some(range) = &meta.key.range {
        out.push(json!({"AttributeName": range.name, "KeyType": "RANGE"}));
    }
    Value::Array(out)
}
