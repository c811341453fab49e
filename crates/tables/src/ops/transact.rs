//! TransactWriteItems and TransactGetItems.
//!
//! A write transaction is parsed and validated as a whole, then every
//! action's condition and new item are evaluated against the state before
//! the transaction; only when all pass are the writes applied, in the same
//! SQLite transaction (all or nothing). Otherwise the request fails with
//! `TransactionCanceledException` and one reason per action, in order.
//! A `ClientRequestToken` makes the request idempotent for ten minutes:
//! the same token with the same input returns the first result without
//! writing again; with another input it is refused.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;
use serde_json::{json, Value};
use sha2::Digest;

use super::items::{
    consumed_list, evaluate, prepare_write, read_one, write_units, Capacity, Write, WriteKind,
};
use super::{in_transaction, str_field};
use crate::error::TablesError;
use crate::store::{self, encode_key, Actor};
use crate::value::map_to_json;

const MAX_ACTIONS: usize = 100;
const TOKEN_SECONDS: f64 = 600.0;

fn actions(input: &Value) -> Result<&[Value], TablesError> {
    let list = input.get("TransactItems").and_then(Value::as_array).ok_or_else(|| {
        TablesError::validation(
            "1 validation error detected: Value null at 'transactItems' failed to satisfy constraint: Member must not be null",
        )
    })?;
    if list.is_empty() || list.len() > MAX_ACTIONS {
        return Err(TablesError::validation(format!(
            "1 validation error detected at 'transactItems' failed to satisfy constraint: Member must have length {}.",
            if list.is_empty() { "greater than or equal to 1" } else { "less than or equal to 100" }
        )));
    }
    Ok(list)
}

pub fn write(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    let list = actions(input)?;
    with_token(conn, input, |tx| {
        let mut writes: Vec<Write> = Vec::with_capacity(list.len());
        for entry in list {
            let object = entry.as_object().filter(|o| o.len() == 1).ok_or_else(|| {
                TablesError::validation(
                    "TransactItems can only contain one of Check, Put, Update or Delete",
                )
            })?;
            let Some((kind, body)) = object.iter().next() else {
                continue;
            };
            let op = match kind.as_str() {
                "Put" => "PutItem",
                "Update" => "UpdateItem",
                "Delete" => "DeleteItem",
                "ConditionCheck" => "ConditionCheck",
                other => {
                    return Err(TablesError::validation(format!(
                        "TransactItems can only contain one of Check, Put, Update or Delete; found {other}"
                    )))
                }
            };
            writes.push(prepare_write(tx, op, body, true)?);
        }
        let units = apply_all(tx, &writes)?;
        let mut out = json!({});
        if let Some(capacity) = consumed_list(input, &units, Capacity::Write)? {
            out["ConsumedCapacity"] = capacity;
        }
        Ok(out)
    })
}

/// Runs `f` in one transaction under the request's `ClientRequestToken`:
/// a token seen in the last ten minutes returns its first output (or is
/// refused when the request differs).
pub fn with_token(
    conn: &mut Connection,
    input: &Value,
    f: impl FnOnce(&Connection) -> Result<Value, TablesError>,
) -> Result<Value, TablesError> {
    let token = str_field(input, "ClientRequestToken")?.map(str::to_owned);
    let digest = {
        let mut canonical = input.clone();
        if let Some(object) = canonical.as_object_mut() {
            object.remove("ClientRequestToken");
        }
        hex::encode(sha2::Sha256::digest(canonical.to_string().as_bytes()))
    };
    in_transaction(conn, |tx| {
        let now = store::now();
        if let Some(token) = &token {
            if let Some((stored, output)) = store::token(tx, token, now - TOKEN_SECONDS)? {
                if stored != digest {
                    return Err(TablesError::IdempotentParameterMismatch(
                        "The request uses the same client token as a previous, but non-identical request.".into(),
                    ));
                }
                return Ok(output);
            }
        }
        let output = f(tx)?;
        if let Some(token) = &token {
            store::save_token(tx, token, &digest, &output, now - TOKEN_SECONDS)?;
        }
        Ok(output)
    })
}

/// Evaluates every write against the state before any of them, then
/// applies them all, or none with `TransactionCanceledException`.
/// Returns the write capacity used per table (two units per KB written,
/// as transactional writes cost).
pub fn apply_all(tx: &Connection, writes: &[Write]) -> Result<BTreeMap<String, f64>, TablesError> {
    let mut seen = BTreeSet::new();
    for write in writes {
        if !seen.insert((write.meta.id, encode_key(&write.meta.key, &write.key))) {
            return Err(TablesError::validation(
                "Transaction request cannot include multiple operations on one item",
            ));
        }
    }
    let mut outcomes = Vec::with_capacity(writes.len());
    let mut reasons = Vec::with_capacity(writes.len());
    let mut failed = false;
    for write in writes {
        match evaluate(tx, write) {
            Ok(outcome) => {
                reasons.push(json!({"Code": "None"}));
                outcomes.push(Some(outcome));
            }
            Err(TablesError::ConditionalCheckFailed { item }) => {
                failed = true;
                let mut reason = if write.insert {
                    json!({"Code": "DuplicateItem", "Message": "Duplicate primary key exists in table"})
                } else {
                    json!({"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"})
                };
                if let Some(item) = item {
                    reason["Item"] = item;
                }
                reasons.push(reason);
                outcomes.push(None);
            }
            Err(TablesError::Validation(message)) => {
                failed = true;
                reasons.push(json!({"Code": "ValidationError", "Message": message}));
                outcomes.push(None);
            }
            Err(other) => return Err(other),
        }
    }
    if failed {
        let codes: Vec<&str> = reasons
            .iter()
            .map(|r| r["Code"].as_str().unwrap_or("None"))
            .collect();
        return Err(TablesError::TransactionCanceled {
            message: format!(
                "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                codes.join(", ")
            ),
            reasons,
        });
    }
    let mut units = BTreeMap::new();
    for (write, outcome) in writes.iter().zip(outcomes.into_iter().flatten()) {
        *units.entry(write.meta.name.clone()).or_insert(0.0) += 2.0 * write_units(&outcome);
        if !matches!(write.kind, WriteKind::Check) {
            store::write_item(
                tx,
                &write.meta,
                outcome.old.as_ref(),
                outcome.new.as_ref(),
                Actor::User,
            )?;
        }
    }
    Ok(units)
}

pub fn get(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    let list = actions(input)?;
    // One read transaction: every item is read from the same snapshot.
    in_transaction(conn, |tx| {
        let mut responses = Vec::with_capacity(list.len());
        let mut units = BTreeMap::new();
        for entry in list {
            let get = entry.get("Get").ok_or_else(|| {
                TablesError::validation("TransactGetItems can only contain Get actions")
            })?;
            let (meta, item) = read_one(tx, get)?;
            let size = item.as_ref().map_or(0, crate::value::item_size);
            *units.entry(meta.name).or_insert(0.0) += 2.0 * size.div_ceil(4096).max(1) as f64;
            responses.push(match item {
                Some(item) => json!({"Item": map_to_json(&item)}),
                None => json!({}),
            });
        }
        let mut out = json!({"Responses": responses});
        if let Some(capacity) = consumed_list(input, &units, Capacity::Read)? {
            out["ConsumedCapacity"] = capacity;
        }
        Ok(out)
    })
}
