//! Single-item operations: PutItem, GetItem, DeleteItem, UpdateItem, with
//! condition, update and projection expressions and `ReturnValues`.
//!
//! The shared pieces ([`Write`], [`prepare_write`], [`run_write`]) are
//! also what BatchWriteItem and TransactWriteItems use, so every write
//! path checks items and conditions the same way.

use rusqlite::Connection;
use serde_json::{json, Value};

use super::{enum_field, in_transaction, str_field, table_name};
use crate::error::TablesError;
use crate::expr::parse::{self, Action, Cond, Path};
use crate::expr::{eval, legacy, update, Attrs};
use crate::schema::{KeyCheck, TableMeta};
use crate::store::{self, Actor};
use crate::value::{check_item_size, item_field, map_to_json, Item};

const RETURN_VALUES: &[&str] = &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"];

/// What a write does to its item.
pub enum WriteKind {
    Put(Item),
    Delete,
    Update(Option<Vec<Action>>),
    /// TransactWriteItems' ConditionCheck: only the condition.
    Check,
}

/// A parsed, validated write of one item.
pub struct Write {
    pub meta: TableMeta,
    pub key: Item,
    pub kind: WriteKind,
    pub condition: Option<Cond>,
    pub return_values: String,
    pub return_old_on_failure: bool,
    /// A PartiQL INSERT: a failed condition means the item exists.
    pub insert: bool,
}

/// The outcome of a write: the item before and after.
pub struct Outcome {
    pub old: Option<Item>,
    pub new: Option<Item>,
    pub paths: Vec<Path>,
}

/// Parses one write request (`op` is PutItem, DeleteItem, UpdateItem or
/// ConditionCheck) against the table it names.
pub fn prepare_write(
    conn: &Connection,
    op: &str,
    input: &Value,
    batch: bool,
) -> Result<Write, TablesError> {
    let name = table_name(input)?;
    let condition_src = str_field(input, "ConditionExpression")?;
    let update_src = if op == "UpdateItem" {
        str_field(input, "UpdateExpression")?
    } else {
        None
    };
    mixed_parameters(
        input,
        &[
            ("AttributeUpdates", update_src),
            ("Expected", condition_src),
        ],
    )?;
    let return_values = str_field(input, "ReturnValues")?
        .unwrap_or("NONE")
        .to_string();
    let allowed: &[&str] = match op {
        "UpdateItem" => RETURN_VALUES,
        "PutItem" | "DeleteItem" => &["NONE", "ALL_OLD"],
        _ => &["NONE"],
    };
    if !allowed.contains(&return_values.as_str()) {
        return Err(TablesError::validation(
            "Return values set to invalid value",
        ));
    }
    let on_failure = enum_field(
        input,
        "ReturnValuesOnConditionCheckFailure",
        &["ALL_OLD", "NONE"],
    )?;
    // Expressions are checked before the table and the key, as DynamoDB does.
    let mut attrs = Attrs::from_input(input, condition_src.is_some() || update_src.is_some())?;
    let mut actions = update_src
        .map(|src| parse::update(src, &mut attrs))
        .transpose()?;
    let mut condition = condition_src
        .map(|src| parse::condition(src, "ConditionExpression", &mut attrs))
        .transpose()?;
    if let Some(expected) = input.get("Expected").filter(|v| !v.is_null()) {
        condition = legacy::expected(expected, str_field(input, "ConditionalOperator")?)?;
    }
    if let Some(updates) = input.get("AttributeUpdates").filter(|v| !v.is_null()) {
        actions = Some(legacy::attribute_updates(updates)?);
    }
    attrs.check_unused()?;
    if op == "ConditionCheck" && condition.is_none() {
        return Err(TablesError::validation(
            "1 validation error detected: Value null at 'conditionExpression' failed to satisfy constraint: Member must not be null",
        ));
    }
    let meta = store::require_table(conn, &name)?;
    let (key, kind) = match op {
        "PutItem" => {
            let item = item_field(input, "Item")?.ok_or_else(|| {
                TablesError::validation(
                    "1 validation error detected: Value null at 'item' failed to satisfy constraint: Member must not be null",
                )
            })?;
            meta.check_item_keys(
                &item,
                if batch {
                    KeyCheck::Other
                } else {
                    KeyCheck::Put
                },
            )?;
            check_item_size(&item)?;
            (meta.key_of(&item), WriteKind::Put(item))
        }
        _ => {
            let key = item_field(input, "Key")?.ok_or_else(|| {
                TablesError::validation(
                    "1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null",
                )
            })?;
            meta.check_key(&key)?;
            let kind = match op {
                "DeleteItem" => WriteKind::Delete,
                "UpdateItem" => WriteKind::Update(actions),
                _ => WriteKind::Check,
            };
            (key, kind)
        }
    };
    Ok(Write {
        meta,
        key,
        kind,
        condition,
        return_values,
        return_old_on_failure: on_failure == Some("ALL_OLD"),
        insert: false,
    })
}

/// Refuses a request that gives both a legacy parameter and the
/// expression that replaces it.
pub fn mixed_parameters(input: &Value, pairs: &[(&str, Option<&str>)]) -> Result<(), TablesError> {
    for (legacy, expression) in pairs {
        if input.get(*legacy).is_some_and(|v| !v.is_null()) && expression.is_some() {
            let expression_name = match *legacy {
                "AttributeUpdates" => "UpdateExpression",
                "Expected" => "ConditionExpression",
                "AttributesToGet" => "ProjectionExpression",
                "KeyConditions" => "KeyConditionExpression",
                _ => "FilterExpression",
            };
            return Err(TablesError::validation(format!(
                "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{legacy}}} Expression parameters: {{{expression_name}}}"
            )));
        }
    }
    Ok(())
}

/// Checks the condition and computes the new item, without writing.
pub fn evaluate(conn: &Connection, write: &Write) -> Result<Outcome, TablesError> {
    let old = store::get_item(conn, &write.meta, &write.key)?;
    if let Some(condition) = &write.condition {
        let empty = Item::new();
        if !eval::condition(old.as_ref().unwrap_or(&empty), condition) {
            let item = if write.return_old_on_failure {
                old.as_ref().map(map_to_json)
            } else {
                None
            };
            return Err(TablesError::ConditionalCheckFailed { item });
        }
    }
    let (new, paths) = match &write.kind {
        WriteKind::Put(item) => (Some(item.clone()), Vec::new()),
        WriteKind::Delete => (None, Vec::new()),
        WriteKind::Check => (old.clone(), Vec::new()),
        WriteKind::Update(actions) => {
            let base = old.clone().unwrap_or_else(|| write.key.clone());
            let (item, paths) = match actions {
                Some(actions) => update::apply(&base, actions, &write.meta.key)?,
                None => (base, Vec::new()),
            };
            write.meta.check_item_keys(&item, KeyCheck::Update)?;
            check_item_size(&item).map_err(|_| {
                TablesError::validation("Item size to update has exceeded the maximum allowed size")
            })?;
            (Some(item), paths)
        }
    };
    Ok(Outcome { old, new, paths })
}

/// Evaluates and applies one write in the caller's transaction.
pub fn run_write(conn: &Connection, write: &Write) -> Result<Outcome, TablesError> {
    let outcome = evaluate(conn, write)?;
    if !matches!(write.kind, WriteKind::Check) {
        store::write_item(
            conn,
            &write.meta,
            outcome.old.as_ref(),
            outcome.new.as_ref(),
            Actor::User,
        )?;
    }
    Ok(outcome)
}

/// The `Attributes` a write returns for its `ReturnValues`.
pub fn returned(write: &Write, outcome: &Outcome) -> Option<Item> {
    let item = match write.return_values.as_str() {
        "ALL_OLD" => outcome.old.clone(),
        "ALL_NEW" => outcome.new.clone(),
        "UPDATED_OLD" => outcome
            .old
            .as_ref()
            .map(|i| eval::projection(i, &outcome.paths)),
        "UPDATED_NEW" => outcome
            .new
            .as_ref()
            .map(|i| eval::projection(i, &outcome.paths)),
        _ => None,
    }?;
    (!item.is_empty()).then_some(item)
}

/// Read or write capacity, for `ConsumedCapacity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capacity {
    Read,
    Write,
}

/// `ConsumedCapacity` when the request asked for it.
pub fn consumed(
    input: &Value,
    table: &str,
    units: f64,
    kind: Capacity,
) -> Result<Option<Value>, TablesError> {
    let field = match kind {
        Capacity::Read => "ReadCapacityUnits",
        Capacity::Write => "WriteCapacityUnits",
    };
    Ok(
        match enum_field(
            input,
            "ReturnConsumedCapacity",
            &["INDEXES", "TOTAL", "NONE"],
        )? {
            Some("TOTAL") => {
                Some(json!({"TableName": table, "CapacityUnits": units, field: units}))
            }
            Some("INDEXES") => Some(json!({
                "TableName": table, "CapacityUnits": units, field: units,
                "Table": {"CapacityUnits": units, field: units}
            })),
            _ => None,
        },
    )
}

/// Per-table `ConsumedCapacity` of batch and transaction requests.
pub fn consumed_list(
    input: &Value,
    units: &std::collections::BTreeMap<String, f64>,
    kind: Capacity,
) -> Result<Option<Value>, TablesError> {
    let mut list = Vec::new();
    for (table, units) in units {
        match consumed(input, table, *units, kind)? {
            Some(one) => list.push(one),
            None => return Ok(None),
        }
    }
    Ok(Some(Value::Array(list)))
}

pub fn write_units(outcome: &Outcome) -> f64 {
    let size = [&outcome.old, &outcome.new]
        .iter()
        .filter_map(|i| i.as_ref().map(crate::value::item_size))
        .max()
        .unwrap_or(0);
    size.div_ceil(1024).max(1) as f64
}

fn single_write(conn: &mut Connection, op: &str, input: &Value) -> Result<Value, TablesError> {
    in_transaction(conn, |tx| {
        let write = prepare_write(tx, op, input, false)?;
        let outcome = run_write(tx, &write)?;
        let mut out = json!({});
        if let Some(item) = returned(&write, &outcome) {
            out["Attributes"] = map_to_json(&item);
        }
        if let Some(capacity) = consumed(
            input,
            &write.meta.name,
            write_units(&outcome),
            Capacity::Write,
        )? {
            out["ConsumedCapacity"] = capacity;
        }
        Ok(out)
    })
}

pub fn put_item(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    single_write(conn, "PutItem", input)
}

pub fn delete_item(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    single_write(conn, "DeleteItem", input)
}

pub fn update_item(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    single_write(conn, "UpdateItem", input)
}

/// A parsed `ProjectionExpression` (or legacy `AttributesToGet`).
pub fn projection(input: &Value, attrs: &mut Attrs) -> Result<Option<Vec<Path>>, TablesError> {
    if let Some(src) = str_field(input, "ProjectionExpression")? {
        if input.get("AttributesToGet").is_some_and(|v| !v.is_null()) {
            return Err(TablesError::validation(
                "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}",
            ));
        }
        let paths = parse::projection(src, attrs)?;
        let refs: Vec<&Path> = paths.iter().collect();
        eval::check_overlap(&refs, "ProjectionExpression")?;
        return Ok(Some(paths));
    }
    match input.get("AttributesToGet").and_then(Value::as_array) {
        Some(names) => Ok(Some(
            names
                .iter()
                .filter_map(Value::as_str)
                .map(|n| Path(vec![parse::Step::Attr(n.to_string())]))
                .collect(),
        )),
        None => Ok(None),
    }
}

/// Reads one item by key with an optional projection (GetItem and the
/// batch and transaction reads).
pub fn read_one(
    conn: &Connection,
    input: &Value,
) -> Result<(TableMeta, Option<Item>), TablesError> {
    let name = table_name(input)?;
    let has_projection = str_field(input, "ProjectionExpression")?.is_some();
    let mut attrs = Attrs::from_input(input, has_projection)?;
    let paths = projection(input, &mut attrs)?;
    attrs.check_unused()?;
    let meta = store::require_table(conn, &name)?;
    let key = item_field(input, "Key")?.ok_or_else(|| {
        TablesError::validation(
            "1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null",
        )
    })?;
    meta.check_key(&key)?;
    let item = store::get_item(conn, &meta, &key)?;
    Ok((
        meta,
        item.map(|i| match &paths {
            Some(paths) => eval::projection(&i, paths),
            None => i,
        }),
    ))
}

pub fn get_item(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    let (meta, item) = read_one(conn, input)?;
    let mut out = json!({});
    let units = item
        .as_ref()
        .map_or(0, crate::value::item_size)
        .div_ceil(4096)
        .max(1) as f64;
    let strong = input
        .get("ConsistentRead")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if let Some(item) = item {
        out["Item"] = map_to_json(&item);
    }
    if let Some(capacity) = consumed(
        input,
        &meta.name,
        if strong { units } else { units / 2.0 },
        Capacity::Read,
    )? {
        out["ConsumedCapacity"] = capacity;
    }
    Ok(out)
}
