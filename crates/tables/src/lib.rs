//! Tables: a DynamoDB-compatible database (JSON 1.0 API, expressions, indexes, streams, TTL, transactions).
//!
//! [`Tables`] is one account's tables in one region, stored in SQLite
//! under a directory. It is independent of HTTP: the gateway hands it the
//! operation (the `X-Amz-Target` suffix) and the JSON body, and renders
//! the JSON value or [`TablesError`] it returns.
//!
//! ```text
//! execute(op, json) ─> ops::* (parse + validate) ─> expr (conditions, updates)
//!                                               └─> store (SQLite transaction:
//!                                                   item + index entries + stream record)
//! ```
//!
//! Every operation runs under one connection lock, and every write in one
//! SQLite transaction committed with `synchronous=FULL`: conditional
//! writes and transactions are serializable, and a stream record commits
//! with its change.

mod error;
mod expr;
mod number;
mod ops;
mod partiql;
mod schema;
mod store;
mod value;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rusqlite::Connection;
use serde_json::Value;

pub use error::TablesError;
pub use number::Number;
pub use value::{AttrValue, Item};

/// One account's tables.
pub struct Tables {
    conn: Mutex<Connection>,
    account_id: String,
    region: String,
}

impl Tables {
    /// One account's tables, stored under `dir` (SQLite, WAL, synchronous=FULL).
    pub fn open(dir: &Path, account_id: &str, region: &str) -> Result<Arc<Tables>, TablesError> {
        let conn = store::open(dir)?;
        Ok(Arc::new(Tables {
            conn: Mutex::new(conn),
            account_id: account_id.to_string(),
            region: region.to_string(),
        }))
    }

    /// Runs one operation (`operation` is the X-Amz-Target suffix, e.g.
    /// "PutItem") on its JSON input; the output is the JSON the API
    /// returns. Blocking: call it on a blocking thread.
    pub fn execute(&self, operation: &str, input: &[u8]) -> Result<Value, TablesError> {
        let input = parse_input(input)?;
        let mut conn = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let ctx = ops::Ctx {
            account_id: &self.account_id,
            region: &self.region,
        };
        ops::dispatch(&ctx, &mut conn, operation, &input)
    }

    /// The table names an operation's input acts on (for IAM: the gateway
    /// builds `arn:aws:dynamodb:REGION:ACCOUNT:table/NAME` per name), or an
    /// error for bad input.
    pub fn tables_named(operation: &str, input: &[u8]) -> Result<Vec<String>, TablesError> {
        let input = parse_input(input)?;
        ops::tables_named(operation, &input)
    }

    /// Deletes expired TTL items once; returns how many were deleted.
    pub fn expire_ttl(&self, now: SystemTime) -> Result<usize, TablesError> {
        let now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let mut conn = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        ops::ttl::expire(&mut conn, now)
    }

    /// Stream records of `table` with sequence numbers after
    /// `after_sequence` (0 for the oldest), at most `limit`, oldest first,
    /// in the shape of DynamoDB Streams' `GetRecords`.
    pub fn stream_records(
        &self,
        table: &str,
        after_sequence: u64,
        limit: usize,
    ) -> Result<Vec<Value>, TablesError> {
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let meta = store::require_table(&conn, table)?;
        store::stream_records(&conn, &meta, after_sequence, limit)
    }
}

fn parse_input(input: &[u8]) -> Result<Value, TablesError> {
    if input.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    let value: Value = serde_json::from_slice(input)
        .map_err(|e| TablesError::Serialization(format!("Malformed JSON: {e}")))?;
    if !value.is_object() {
        return Err(TablesError::Serialization(
            "Start of list found where not expected".into(),
        ));
    }
    Ok(value)
}
