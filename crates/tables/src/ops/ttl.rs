//! Time to live: UpdateTimeToLive, DescribeTimeToLive, and the sweep that
//! deletes expired items (recorded in the stream as service deletions).
//!
//! As on DynamoDB, an item expires when its TTL attribute is a number of
//! epoch seconds in the past; values more than five years in the past are
//! ignored (they are taken to be something other than an expiry time).

use rusqlite::Connection;
use serde_json::{json, Value};

use super::{bool_field, in_transaction, required_str, table_name};
use crate::error::TablesError;
use crate::store::{self, Actor};

const FIVE_YEARS: f64 = 5.0 * 365.0 * 86_400.0;

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
        let Some(attr) = meta.ttl_attr.clone() else {
            continue;
        };
        let mut expired = Vec::new();
        store::for_each_item(
            conn,
            "SELECT item, size FROM items WHERE tbl = ?1",
            &[meta.id.into()],
            |item, _| {
                if store::ttl_seconds(&item, &attr).is_some_and(|t| t < now && t > now - FIVE_YEARS)
                {
                    expired.push(item);
                }
                Ok(true)
            },
        )?;
        deleted += in_transaction(conn, |tx| {
            let mut count = 0;
            for item in &expired {
                // Read again: the item may have changed since the scan.
                let Some(current) = store::get_item(tx, &meta, &meta.key_of(item))? else {
                    continue;
                };
                if store::ttl_seconds(&current, &attr)
                    .is_some_and(|t| t < now && t > now - FIVE_YEARS)
                {
                    store::write_item(tx, &meta, Some(&current), None, Actor::Ttl)?;
                    count += 1;
                }
            }
            Ok(count)
        })?;
    }
    Ok(deleted)
}
