//! ExecuteStatement, BatchExecuteStatement and ExecuteTransaction: PartiQL
//! statements run through the same reads ([`read::select`]) and writes
//! ([`items::Write`]) as the other operations.
//!
//! UPDATE and DELETE name their item by equalities on every key attribute
//! in the WHERE clause; the clause's other conditions become the write's
//! condition (UPDATE also requires the item to exist). INSERT fails with
//! `DuplicateItemException` when the key exists.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rusqlite::Connection;
use serde_json::{json, Value};

use super::items::{self, Write, WriteKind};
use super::read::{self, Selection};
use super::transact::{apply_all, with_token};
use super::{enum_field, in_transaction, int_field, required_str, table_name_of};
use crate::error::TablesError;
use crate::expr::parse::{Cmp, Cond, Operand, Path, Step};
use crate::partiql::{self, Statement};
use crate::schema::{KeyCheck, KeySchema, TableMeta};
use crate::store;
use crate::value::{check_item_size, map_from_json, map_to_json, AttrValue, Item};

const MAX_BATCH: usize = 25;
const MAX_TRANSACTION: usize = 100;

/// Parses `Statement` with its `Parameters`.
pub fn statement(input: &Value) -> Result<Statement, TablesError> {
    let src = required_str(input, "Statement")?;
    let params = match input.get("Parameters") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => {
            if list.is_empty() {
                return Err(TablesError::validation(
                    "1 validation error detected: Value '[]' at 'parameters' failed to satisfy constraint: Member must have length greater than or equal to 1",
                ));
            }
            list.iter()
                .map(AttrValue::from_json)
                .collect::<Result<_, _>>()?
        }
        Some(_) => {
            return Err(TablesError::Serialization(
                "Unexpected value type in payload for Parameters".into(),
            ))
        }
    };
    partiql::parse(src, &params)
}

/// The tables a PartiQL operation's input names.
pub fn tables_named(op: &str, input: &Value) -> Result<Vec<String>, TablesError> {
    let list: Vec<&Value> = match op {
        "ExecuteStatement" => vec![input],
        "BatchExecuteStatement" => input
            .get("Statements")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect(),
        _ => input
            .get("TransactStatements")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect(),
    };
    list.into_iter()
        .map(|s| Ok(table_name_of(statement(s)?.table())))
        .collect()
}

pub fn execute_statement(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    let parsed = statement(input)?;
    let on_failure = enum_field(
        input,
        "ReturnValuesOnConditionCheckFailure",
        &["ALL_OLD", "NONE"],
    )? == Some("ALL_OLD");
    if let Statement::Select { .. } = parsed {
        let limit = int_field(input, "Limit")?;
        if let Some(limit) = limit.filter(|l| *l < 1) {
            return Err(TablesError::validation(format!(
                "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
            )));
        }
        let start = match input.get("NextToken").and_then(Value::as_str) {
            Some(token) => Some(decode_token(token)?),
            None => None,
        };
        let page = select(conn, parsed, limit.map(|l| l as usize), start)?;
        let mut out = json!({"Items": page.get("Items").cloned().unwrap_or(json!([]))});
        if let Some(last) = page.get("LastEvaluatedKey") {
            out["NextToken"] = json!(BASE64.encode(last.to_string()));
        }
        return Ok(out);
    }
    in_transaction(conn, |tx| {
        let write = write_of(tx, parsed, on_failure)?;
        let outcome = items::run_write(tx, &write).map_err(|e| match e {
            TablesError::ConditionalCheckFailed { .. } if write.insert => {
                TablesError::DuplicateItem
            }
            other => other,
        })?;
        let returned = items::returned(&write, &outcome);
        Ok(json!({"Items": returned.iter().map(map_to_json).collect::<Vec<_>>()}))
    })
}

pub fn batch_execute(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    let list = input
        .get("Statements")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if list.is_empty() || list.len() > MAX_BATCH {
        return Err(TablesError::validation(format!(
            "1 validation error detected: Value at 'statements' failed to satisfy constraint: Member must have length {}",
            if list.is_empty() { "greater than or equal to 1" } else { "less than or equal to 25" }
        )));
    }
    let parsed: Vec<Statement> = list.iter().map(statement).collect::<Result<_, _>>()?;
    let reads = parsed
        .iter()
        .filter(|s| matches!(s, Statement::Select { .. }))
        .count();
    if reads != 0 && reads != parsed.len() {
        return Err(TablesError::validation(
            "Batch must contain either all reads or all writes",
        ));
    }
    let mut responses = Vec::with_capacity(parsed.len());
    for (statement, request) in parsed.into_iter().zip(&list) {
        let table = table_name_of(statement.table());
        let on_failure = request
            .get("ReturnValuesOnConditionCheckFailure")
            .and_then(Value::as_str)
            == Some("ALL_OLD");
        let result = match statement {
            Statement::Select { .. } => in_transaction(conn, |tx| {
                require_full_key(tx, &statement)?;
                let page = select(tx, statement, None, None)?;
                Ok(page["Items"].get(0).cloned())
            }),
            write => in_transaction(conn, |tx| {
                let write = write_of(tx, write, on_failure)?;
                items::run_write(tx, &write)
                    .map(|_| None)
                    .map_err(|e| match e {
                        TablesError::ConditionalCheckFailed { .. } if write.insert => {
                            TablesError::DuplicateItem
                        }
                        other => other,
                    })
            }),
        };
        responses.push(match result {
            Ok(Some(item)) => json!({"TableName": table, "Item": item}),
            Ok(None) => json!({"TableName": table}),
            Err(e) if e.status() == 500 => return Err(e),
            Err(e) => {
                let mut error = json!({"Code": batch_code(&e), "Message": e.message()});
                if let TablesError::ConditionalCheckFailed { item: Some(item) } = &e {
                    error["Item"] = item.clone();
                }
                json!({"TableName": table, "Error": error})
            }
        });
    }
    Ok(json!({"Responses": responses}))
}

fn batch_code(e: &TablesError) -> &'static str {
    match e {
        TablesError::ConditionalCheckFailed { .. } => "ConditionalCheckFailed",
        TablesError::DuplicateItem => "DuplicateItem",
        TablesError::ResourceNotFound(_) => "ResourceNotFound",
        _ => "ValidationError",
    }
}

pub fn execute_transaction(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    let list = input
        .get("TransactStatements")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if list.is_empty() || list.len() > MAX_TRANSACTION {
        return Err(TablesError::validation(format!(
            "1 validation error detected: Value at 'transactStatements' failed to satisfy constraint: Member must have length {}",
            if list.is_empty() { "greater than or equal to 1" } else { "less than or equal to 100" }
        )));
    }
    let parsed: Vec<Statement> = list.iter().map(statement).collect::<Result<_, _>>()?;
    let reads = parsed
        .iter()
        .filter(|s| matches!(s, Statement::Select { .. }))
        .count();
    if reads == parsed.len() {
        return in_transaction(conn, |tx| {
            let mut responses = Vec::with_capacity(parsed.len());
            for statement in parsed {
                require_full_key(tx, &statement)?;
                let page = select(tx, statement, None, None)?;
                responses.push(match page["Items"].get(0) {
                    Some(item) => json!({"Item": item}),
                    None => json!({}),
                });
            }
            Ok(json!({"Responses": responses}))
        });
    }
    if reads != 0 {
        return Err(TablesError::validation(
            "Transaction must contain either all reads or all writes",
        ));
    }
    with_token(conn, input, |tx| {
        let writes: Vec<Write> = parsed
            .into_iter()
            .map(|s| write_of(tx, s, false))
            .collect::<Result<_, _>>()?;
        apply_all(tx, &writes)?;
        Ok(json!({}))
    })
}

/// One page of a SELECT.
fn select(
    conn: &Connection,
    statement: Statement,
    limit: Option<usize>,
    start: Option<Item>,
) -> Result<Value, TablesError> {
    let Statement::Select {
        table,
        index,
        paths,
        filter,
    } = statement
    else {
        return Err(TablesError::validation("Statement is not a SELECT"));
    };
    let meta = store::require_table(conn, &table_name_of(&table))?;
    let index = index
        .map(|name| {
            meta.index(&name)
                .map_err(|_| TablesError::validation("The table does not have the specified index"))
        })
        .transpose()?;
    let schema = index.map_or(&meta.key, |i| &i.key);
    let hash = filter.as_ref().and_then(|f| equality(f, &schema.hash.name));
    read::select(
        conn,
        Selection {
            meta: &meta,
            index,
            hash,
            filter,
            paths,
            limit,
            start,
        },
    )
}

/// SELECTs in batches and transactions must name one item by its key.
fn require_full_key(conn: &Connection, statement: &Statement) -> Result<(), TablesError> {
    let Statement::Select {
        table,
        index,
        filter,
        ..
    } = statement
    else {
        return Ok(());
    };
    let meta = store::require_table(conn, &table_name_of(table))?;
    let complete = index.is_none()
        && filter
            .as_ref()
            .is_some_and(|f| meta.key.attrs().all(|a| equality(f, &a.name).is_some()));
    if !complete {
        return Err(TablesError::validation(
            "Select statements within BatchExecuteStatement and ExecuteTransaction must specify the full primary key",
        ));
    }
    Ok(())
}

/// The value a top-level conjunct `attr = value` gives `attr`.
fn equality(cond: &Cond, attr: &str) -> Option<AttrValue> {
    match cond {
        Cond::And(a, b) => equality(a, attr).or_else(|| equality(b, attr)),
        Cond::Compare(Operand::Path(p), Cmp::Eq, Operand::Value(v))
        | Cond::Compare(Operand::Value(v), Cmp::Eq, Operand::Path(p))
            if p.0 == [Step::Attr(attr.to_string())] =>
        {
            Some(v.clone())
        }
        _ => None,
    }
}

/// Splits a WHERE clause into the key it fixes and the other conditions.
fn key_and_rest(cond: Cond, schema: &KeySchema) -> Result<(Item, Option<Cond>), TablesError> {
    let mut conjuncts = Vec::new();
    flatten(cond, &mut conjuncts);
    let mut key = Item::new();
    let mut rest: Option<Cond> = None;
    for c in conjuncts {
        let is_key = match &c {
            Cond::Compare(Operand::Path(p), Cmp::Eq, Operand::Value(v))
            | Cond::Compare(Operand::Value(v), Cmp::Eq, Operand::Path(p)) => match p.0.as_slice() {
                [Step::Attr(name)] if schema.has(name) && !key.contains_key(name) => {
                    key.insert(name.clone(), v.clone());
                    true
                }
                _ => false,
            },
            _ => false,
        };
        if !is_key {
            rest = Some(match rest {
                Some(r) => Cond::And(Box::new(r), Box::new(c)),
                None => c,
            });
        }
    }
    if key.len() != schema.attrs().count() {
        return Err(TablesError::validation(
            "Where clause does not contain a mandatory equality on all key attributes",
        ));
    }
    Ok((key, rest))
}

fn flatten(cond: Cond, out: &mut Vec<Cond>) {
    match cond {
        Cond::And(a, b) => {
            flatten(*a, out);
            flatten(*b, out);
        }
        other => out.push(other),
    }
}

/// The write an INSERT, UPDATE or DELETE makes.
fn write_of(
    conn: &Connection,
    statement: Statement,
    on_failure: bool,
) -> Result<Write, TablesError> {
    let meta: TableMeta = store::require_table(conn, &table_name_of(statement.table()))?;
    let exists = Cond::Exists(Path(vec![Step::Attr(meta.key.hash.name.clone())]));
    let (key, kind, condition, returning, insert) = match statement {
        Statement::Insert { item, .. } => {
            meta.check_item_keys(&item, KeyCheck::Put)?;
            check_item_size(&item)?;
            let not_exists = Cond::NotExists(Path(vec![Step::Attr(meta.key.hash.name.clone())]));
            (
                meta.key_of(&item),
                WriteKind::Put(item),
                Some(not_exists),
                None,
                true,
            )
        }
        Statement::Update {
            actions,
            filter,
            returning,
            ..
        } => {
            let (key, rest) = key_and_rest(filter, &meta.key)?;
            let condition = match rest {
                Some(rest) => Cond::And(Box::new(exists), Box::new(rest)),
                None => exists,
            };
            (
                key,
                WriteKind::Update(Some(actions)),
                Some(condition),
                returning,
                false,
            )
        }
        Statement::Delete {
            filter, returning, ..
        } => {
            let (key, rest) = key_and_rest(filter, &meta.key)?;
            (key, WriteKind::Delete, rest, returning, false)
        }
        Statement::Select { .. } => {
            return Err(TablesError::validation("Statement is not a write"))
        }
    };
    meta.check_key(&key)?;
    Ok(Write {
        meta,
        key,
        kind,
        condition,
        return_values: returning.unwrap_or_else(|| "NONE".into()),
        return_old_on_failure: on_failure,
        insert,
    })
}

fn decode_token(token: &str) -> Result<Item, TablesError> {
    let invalid = || TablesError::validation("The provided NextToken is invalid");
    let bytes = BASE64.decode(token).map_err(|_| invalid())?;
    let json: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    map_from_json(json.as_object().ok_or_else(invalid)?)
}
