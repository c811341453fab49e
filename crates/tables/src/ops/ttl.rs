//! Time to live: UpdateTimeToLive, DescribeTimeToLive, and the sweep that
//! deletes expired items (recorded in the stream as service deletions).
//!
//! As on DynamoDB, an item expires when its TTL attribute is a number of
//! epoch seconds in the past; values more than five years in the past are
//! ignored (they are taken to be something other than an expiry time).
//! Each item's expiry time is kept in an indexed column, so a sweep reads
//! only expired items. The sweep also drops stream records older than
//! 24 hours.

use rusqlite::Connection;
use serde_json::{json, Value};

use super::{bool_field, in_transaction, required_str, table_name};
use crate::error::TablesError;
use crate::store::{self, Actor};

const FIVE_YEARS: f64 = 5.0 * 365.0 * 86_400.0;
const STREAM_RETENTION: f64 = 86_400.0;
/// Items one sweep deletes per table at most, so a backlog drains over
/// several sweeps instead of holding the writer in one long transaction.
const SWEEP_LIMIT: usize = 1000;

pub fn update(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    let name = table_name(input)?;
    let spec = input
        .get("TimeToLiveSpecification")
        .cloned()
        .unwrap_or(Value::Null);
    let enabled = bool_field(&spec, "Enabled")?.unwrap_or(false);
    let attr = required_str(&spec, "AttributeName")?.to_string();
    in_transaction(conn, |tx| {
        let mut meta = store::require_table(tx, &name)?;
        match (&meta.ttl_attr, enabled) {
            (Some(_), true) => return Err(TablesError::validation("TimeToLive is already enabled")),
            (None, false) => return Err(TablesError::validation("TimeToLive is already disabled")),
            (Some(current), false) if *current != attr => {
                return Err(TablesError::validation(format!(
                    "TimeToLive is active on a different AttributeName: current AttributeName is {current}"
                )))
            }
            _ => {}
        }
        meta.ttl_attr = enabled.then(|| attr.clone());
        store::save_table(tx, &meta)?;
        store::reindex_ttl(tx, &meta)?;
        Ok(json!({"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": attr}}))
    })
}

pub fn describe(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    let name = table_name(input)?;
    let meta = store::require_table(conn, &name)?;
    Ok(match meta.ttl_attr {
        Some(attr) => {
            json!({"TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": attr}})
        }
        None => json!({"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}),
    })
}

/// Deletes every expired item of every table with TTL enabled.
pub fn expire(conn: &mut Connection, now: f64) -> Result<usize, TablesError> {
    let tables = store::list_tables(conn)?;
    let mut deleted = 0;
    for meta in tables {
        if meta.ttl_attr.is_none() {
            continue;
        }
        // Expiry times are indexed: only expired items are read.
        deleted += in_transaction(conn, |tx| {
            let mut expired = Vec::new();
            store::for_each_item(
                tx,
                "SELECT item, size FROM items WHERE tbl = ?1 AND ttl IS NOT NULL AND ttl < ?2 AND ttl > ?3 LIMIT ?4",
                &[meta.id.into(), now.into(), (now - FIVE_YEARS).into(), (SWEEP_LIMIT as i64).into()],
                |item, _| {
                    expired.push(item);
                    Ok(true)
                },
            )?;
            for item in &expired {
                store::write_item(tx, &meta, Some(item), None, Actor::Ttl)?;
            }
            Ok(expired.len())
        })?;
    }
    // Stream records are kept for 24 hours, as DynamoDB Streams keeps them.
    store::trim_stream(conn, now - STREAM_RETENTION)?;
    Ok(deleted)
}
