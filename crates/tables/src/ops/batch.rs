//! BatchGetItem (up to 100 keys, 16 MB per response, the rest returned as
//! `UnprocessedKeys`) and BatchWriteItem (up to 25 puts and deletes,
//! validated as a whole before any is written, then written in one
//! transaction, so `UnprocessedItems` is always empty).

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;
use serde_json::{json, Map, Value};

use super::items::{consumed_list, prepare_write, read_one, run_write, write_units, Capacity};
use super::{in_transaction, table_name_of};
use crate::error::TablesError;
use crate::store;
use crate::store::encode_key;
use crate::value::{item_field, item_size, map_to_json};

const MAX_GET_KEYS: usize = 100;
const MAX_WRITES: usize = 25;
const MAX_RESPONSE: usize = 16 * 1024 * 1024;

fn request_items(input: &Value) -> Result<&Map<String, Value>, TablesError> {
    match input.get("RequestItems").and_then(Value::as_object) {
        Some(map) if !map.is_empty() => Ok(map),
        Some(_) => Err(TablesError::validation(
            "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
        )),
        None => Err(TablesError::validation(
            "1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must not be null",
        )),
    }
}

fn duplicates() -> TablesError {
    TablesError::validation("Provided list of item keys contains duplicates")
}

pub fn batch_get(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    let requests = request_items(input)?;
    let total: usize = requests
        .values()
        .map(|r| r.get("Keys").and_then(Value::as_array).map_or(0, Vec::len))
        .sum();
    if total > MAX_GET_KEYS {
        return Err(TablesError::validation(
            "Too many items requested for the BatchGetItem call",
        ));
    }
    let mut responses = Map::new();
    let mut unprocessed = Map::new();
    let mut units = BTreeMap::new();
    let mut bytes = 0;
    for (table, request) in requests {
        let keys = request
            .get("Keys")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if keys.is_empty() {
            return Err(TablesError::validation(
                "1 validation error detected: Value '[]' at 'requestItems.keys' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        let mut seen = BTreeSet::new();
        for key in &keys {
            if !seen.insert(key.to_string()) {
                return Err(duplicates());
            }
        }
        let mut found = Vec::new();
        let mut left = Vec::new();
        for key in keys {
            if bytes >= MAX_RESPONSE {
                left.push(key);
                continue;
            }
            let retry = key.clone();
            let mut one = request.clone();
            if let Some(object) = one.as_object_mut() {
                object.remove("Keys");
                object.remove("ConsistentRead");
                object.insert("TableName".into(), json!(table_name_of(table)));
                object.insert("Key".into(), key);
            }
            let (meta, item) = read_one(conn, &one)?;
            let strong = request.get("ConsistentRead").and_then(Value::as_bool) == Some(true);
            let size = item.as_ref().map_or(0, item_size).div_ceil(4096).max(1) as f64;
            *units.entry(meta.name).or_insert(0.0) += if strong { size } else { size / 2.0 };
            if let Some(item) = item {
                // A response stops before 16 MB; the rest is unprocessed.
                let size = item_size(&item);
                if bytes + size > MAX_RESPONSE {
                    bytes = MAX_RESPONSE;
                    left.push(retry);
                    continue;
                }
                bytes += size;
                found.push(map_to_json(&item));
            }
        }
        responses.insert(table.clone(), Value::Array(found));
        if !left.is_empty() {
            let mut rest = request.clone();
            rest["Keys"] = Value::Array(left);
            unprocessed.insert(table.clone(), rest);
        }
    }
    let mut out = json!({"Responses": responses, "UnprocessedKeys": unprocessed});
    if let Some(capacity) = consumed_list(input, &units, Capacity::Read)? {
        out["ConsumedCapacity"] = capacity;
    }
    Ok(out)
}

pub fn batch_write(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    let requests = request_items(input)?;
    let total: usize = requests
        .values()
        .map(|r| r.as_array().map_or(0, Vec::len))
        .sum();
    if total > MAX_WRITES {
        return Err(TablesError::validation(
            "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]",
        ));
    }
    in_transaction(conn, |tx| {
        // Duplicates are reported before anything else about the requests.
        let mut parsed = Vec::new();
        let mut seen = BTreeSet::new();
        for (table, list) in requests {
            let list = list.as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                return Err(TablesError::validation(
                    "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]",
                ));
            }
            let meta = store::require_table(tx, &table_name_of(table))?;
            for request in list {
                let (op, field, mut one) = match (request.get("PutRequest"), request.get("DeleteRequest")) {
                    (Some(put), None) => ("PutItem", "Item", put.clone()),
                    (None, Some(delete)) => ("DeleteItem", "Key", delete.clone()),
                    _ => {
                        return Err(TablesError::validation(
                            "1 validation error detected: a WriteRequest must contain exactly one of PutRequest or DeleteRequest",
                        ))
                    }
                };
                let key = item_field(&one, field)?
                    .map(|item| meta.key_of(&item))
                    .unwrap_or_default();
                let identity = encode_key(&meta.key, &key)
                    .map(|(pk, sk)| (pk, sk, String::new()))
                    .unwrap_or_else(|| (Vec::new(), Vec::new(), map_to_json(&key).to_string()));
                if !seen.insert((meta.id, identity)) {
                    return Err(duplicates());
                }
                if let Some(object) = one.as_object_mut() {
                    object.insert("TableName".into(), json!(table_name_of(table)));
                }
                parsed.push((op, one));
            }
        }
        let mut writes = Vec::with_capacity(parsed.len());
        for (op, one) in &parsed {
            writes.push(prepare_write(tx, op, one, true)?);
        }
        let mut units = BTreeMap::new();
        for write in &writes {
            let outcome = run_write(tx, write)?;
            *units.entry(write.meta.name.clone()).or_insert(0.0) += write_units(&outcome);
        }
        let mut out = json!({"UnprocessedItems": {}});
        if let Some(capacity) = consumed_list(input, &units, Capacity::Write)? {
            out["ConsumedCapacity"] = capacity;
        }
        Ok(out)
    })
}
