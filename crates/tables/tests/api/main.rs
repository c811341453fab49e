//! The tables API driven through `Tables::execute` with the JSON boto3
//! sends, one module per area.

mod batch;
mod boto3;
mod control;
mod durability;
mod expressions;
mod indexes;
mod items;
mod legacy;
mod partiql;
mod query;
mod ttl_streams;

use std::sync::Arc;

use serde_json::{json, Value};
use updraft_tables::{Tables, TablesError};

/// A fresh account's tables in a temporary directory.
pub struct Db {
    pub tables: Arc<Tables>,
    pub dir: tempfile::TempDir,
}

impl Default for Db {
    fn default() -> Self {
        Self::new()
    }
}

impl Db {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let tables = Tables::open(dir.path(), "123456789012", "us-east-1").expect("open");
        Db { tables, dir }
    }

    /// Runs an operation that must succeed.
    pub fn ok(&self, op: &str, input: Value) -> Value {
        match self.tables.execute(op, input.to_string().as_bytes()) {
            Ok(out) => out,
            Err(e) => panic!("{op} failed: {} {}", e.type_name(), e.message()),
        }
    }

    /// Runs an operation that must fail; returns the error.
    pub fn err(&self, op: &str, input: Value) -> TablesError {
        match self.tables.execute(op, input.to_string().as_bytes()) {
            Ok(out) => panic!("{op} succeeded: {out}"),
            Err(e) => e,
        }
    }

    /// The error's short type and message.
    pub fn fails(&self, op: &str, input: Value) -> (String, String) {
        let e = self.err(op, input);
        let short = e
            .type_name()
            .rsplit('#')
            .next()
            .unwrap_or_default()
            .to_string();
        (short, e.message())
    }

    /// A table `name` with a string hash key `pk` and, if `range` is
    /// given, a range key `sk` of that type.
    pub fn table(&self, name: &str, range: Option<&str>) {
        let mut defs = vec![json!({"AttributeName": "pk", "AttributeType": "S"})];
        let mut keys = vec![json!({"AttributeName": "pk", "KeyType": "HASH"})];
        if let Some(kind) = range {
            defs.push(json!({"AttributeName": "sk", "AttributeType": kind}));
            keys.push(json!({"AttributeName": "sk", "KeyType": "RANGE"}));
        }
        self.ok(
            "CreateTable",
            json!({"TableName": name, "AttributeDefinitions": defs, "KeySchema": keys,
                   "BillingMode": "PAY_PER_REQUEST"}),
        );
    }

    pub fn put(&self, table: &str, item: Value) {
        self.ok("PutItem", json!({"TableName": table, "Item": item}));
    }

    pub fn get(&self, table: &str, key: Value) -> Option<Value> {
        self.ok(
            "GetItem",
            json!({"TableName": table, "Key": key, "ConsistentRead": true}),
        )
        .get("Item")
        .cloned()
    }
}
