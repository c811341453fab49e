//! The API's operations: input parsing helpers, the dispatch from the
//! `X-Amz-Target` suffix to each operation, and the tables each names.

pub mod batch;
pub mod control;
pub mod items;
pub mod partiql;
pub mod read;
pub mod transact;
pub mod ttl;

use rusqlite::Connection;
use serde_json::Value;

use crate::error::TablesError;

/// Who the operations act for.
pub struct Ctx<'a> {
    pub account_id: &'a str,
    pub region: &'a str,
}

impl Ctx<'_> {
    /// `arn:aws:dynamodb:REGION:ACCOUNT:table/NAME`.
    pub fn table_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:dynamodb:{}:{}:table/{name}",
            self.region, self.account_id
        )
    }
}

/// Runs one operation.
pub fn dispatch(
    ctx: &Ctx<'_>,
    conn: &mut Connection,
    op: &str,
    input: &Value,
) -> Result<Value, TablesError> {
    match op {
        "CreateTable" => control::create_table(ctx, conn, input),
        "DescribeTable" => control::describe_table(conn, input),
        "DeleteTable" => control::delete_table(conn, input),
        "ListTables" => control::list_tables(conn, input),
        "UpdateTable" => control::update_table(conn, input),
        "TagResource" => control::tag_resource(conn, input),
        "UntagResource" => control::untag_resource(conn, input),
        "ListTagsOfResource" => control::list_tags(conn, input),
        "UpdateTimeToLive" => ttl::update(conn, input),
        "DescribeTimeToLive" => ttl::describe(conn, input),
        "DescribeLimits" => Ok(serde_json::json!({
            "AccountMaxReadCapacityUnits": 80000, "AccountMaxWriteCapacityUnits": 80000,
            "TableMaxReadCapacityUnits": 40000, "TableMaxWriteCapacityUnits": 40000
        })),
        "DescribeEndpoints" => Ok(serde_json::json!({"Endpoints": [
            {"Address": format!("dynamodb.{}.amazonaws.com", ctx.region), "CachePeriodInMinutes": 1440}
        ]})),
        "PutItem" => items::put_item(conn, input),
        "GetItem" => items::get_item(conn, input),
        "DeleteItem" => items::delete_item(conn, input),
        "UpdateItem" => items::update_item(conn, input),
        "Query" => read::query(conn, input),
        "Scan" => read::scan(conn, input),
        "BatchGetItem" => batch::batch_get(conn, input),
        "BatchWriteItem" => batch::batch_write(conn, input),
        "TransactWriteItems" => transact::write(conn, input),
        "TransactGetItems" => transact::get(conn, input),
        "ExecuteStatement" => partiql::execute_statement(conn, input),
        "BatchExecuteStatement" => partiql::batch_execute(conn, input),
        "ExecuteTransaction" => partiql::execute_transaction(conn, input),
        other => Err(TablesError::UnknownOperation(other.to_string())),
    }
}

/// The tables an operation's input names.
pub fn tables_named(op: &str, input: &Value) -> Result<Vec<String>, TablesError> {
    let mut names = Vec::new();
    match op {
        "ListTables" | "DescribeEndpoints" | "DescribeLimits" => {}
        "TagResource" | "UntagResource" | "ListTagsOfResource" => {
            let arn = str_field(input, "ResourceArn")?.unwrap_or_default();
            names.push(control::table_from_arn(arn)?);
        }
        "ExecuteStatement" | "BatchExecuteStatement" | "ExecuteTransaction" => {
            names.extend(partiql::tables_named(op, input)?);
        }
        "BatchGetItem" | "BatchWriteItem" => {
            if let Some(map) = input.get("RequestItems").and_then(Value::as_object) {
                names.extend(map.keys().map(|k| table_name_of(k)));
            }
        }
        "TransactWriteItems" | "TransactGetItems" => {
            for entry in input
                .get("TransactItems")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(action) = entry.as_object() else {
                    continue;
                };
                for body in action.values() {
                    if let Some(name) = body.get("TableName").and_then(Value::as_str) {
                        names.push(table_name_of(name));
                    }
                }
            }
        }
        _ => names.push(table_name_of(required_str(input, "TableName")?)),
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// A table name, or the name in a table ARN (DynamoDB accepts both).
pub fn table_name_of(name: &str) -> String {
    match name.split_once(":table/") {
        Some((_, rest)) if name.starts_with("arn:") => {
            rest.split('/').next().unwrap_or(rest).to_string()
        }
        _ => name.to_string(),
    }
}

/// The `TableName` parameter, checked as DynamoDB checks names.
pub fn table_name(input: &Value) -> Result<String, TablesError> {
    let name = table_name_of(required_str(input, "TableName")?);
    check_table_name(&name, "tableName")?;
    Ok(name)
}

/// DynamoDB's name rule: 3 to 255 of `[a-zA-Z0-9_.-]`.
pub fn check_table_name(name: &str, member: &str) -> Result<(), TablesError> {
    if name.len() < 3 {
        return Err(TablesError::validation(format!(
            "1 validation error detected: Value '{name}' at '{member}' failed to satisfy constraint: Member must have length greater than or equal to 3"
        )));
    }
    if name.len() > 255 {
        return Err(TablesError::validation(format!(
            "1 validation error detected: Value '{name}' at '{member}' failed to satisfy constraint: Member must have length less than or equal to 255"
        )));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
    {
        return Err(TablesError::validation(format!(
            "1 validation error detected: Value '{name}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        )));
    }
    Ok(())
}

/// An optional string field.
pub fn str_field<'a>(input: &'a Value, field: &str) -> Result<Option<&'a str>, TablesError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(TablesError::Serialization(format!(
            "Unexpected value type in payload for {field}"
        ))),
    }
}

/// A required string field.
pub fn required_str<'a>(input: &'a Value, field: &str) -> Result<&'a str, TablesError> {
    str_field(input, field)?.ok_or_else(|| {
        let member = lower_first(field);
        TablesError::validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// An optional integer field.
pub fn int_field(input: &Value, field: &str) -> Result<Option<i64>, TablesError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            TablesError::Serialization(format!("Unexpected value type in payload for {field}"))
        }),
    }
}

/// An optional boolean field.
pub fn bool_field(input: &Value, field: &str) -> Result<Option<bool>, TablesError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_bool().map(Some).ok_or_else(|| {
            TablesError::Serialization(format!("Unexpected value type in payload for {field}"))
        }),
    }
}

/// An enum field: checked against its allowed values, as DynamoDB does.
pub fn enum_field<'a>(
    input: &'a Value,
    field: &str,
    allowed: &[&str],
) -> Result<Option<&'a str>, TablesError> {
    let value = str_field(input, field)?;
    if let Some(v) = value {
        if !allowed.contains(&v) {
            return Err(TablesError::validation(format!(
                "1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                lower_first(field),
                allowed.join(", ")
            )));
        }
    }
    Ok(value)
}

fn lower_first(field: &str) -> String {
    let mut chars = field.chars();
    match chars.next() {
        Some(c) => c.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// Runs `f` all or nothing: in a savepoint, released only when it
/// succeeds (the committer's transaction around it makes it durable).
pub fn in_transaction<T>(
    conn: &mut Connection,
    f: impl FnOnce(&Connection) -> Result<T, TablesError>,
) -> Result<T, TablesError> {
    let savepoint = conn
        .savepoint()
        .map_err(TablesError::db("starting a savepoint"))?;
    let out = f(&savepoint)?;
    savepoint
        .commit()
        .map_err(TablesError::db("releasing a savepoint"))?;
    Ok(out)
}
