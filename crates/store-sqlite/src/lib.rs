//! The embedded metadata store: [`updraft_store::Store`] on one SQLite file.
//!
//! One connection behind a mutex serves every call; SQLite is fast enough
//! for a control plane, and a single writer keeps numbering simple. The
//! file is opened in WAL mode with `synchronous=FULL`, so a write is on
//! disk (the WAL fsynced) before the call returns, as the trait requires.
//! Every write runs in its own `BEGIN IMMEDIATE` transaction; the busy
//! timeout covers another process holding the file.
//!
//! Records are stored as serde JSON in a text column beside the key
//! columns that queries need; log records, which are queried by their
//! fields, are stored as plain columns; usage records are stored in
//! batches, one row each, and summed as they are decoded (`usage.rs`);
//! CloudWatch Logs' groups, streams and events are in `logs.rs`.
//! The schema and its migrations are in `schema.rs`.

mod events;
mod logs;
mod schema;
mod usage;

use std::fmt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::de::DeserializeOwned;
use serde::Serialize;
use updraft_store::{
    FunctionPolicy, LogEvent, LogEventQuery, LogGroup, LogQuery, LogRecord, LogStream, NewLogEvent,
    Result, Store, StoreError, UsageBatch, UsageGroup, UsageGroupRow, UsageQuery, UsageRecord,
};
use updraft_types::{AliasConfig, FunctionConfig, FunctionName, UrlConfig, LATEST};

pub use events::SqliteEventStore;
pub use schema::SCHEMA_VERSION;

/// How long a call waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The metadata store on a SQLite database.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating it if needed) the database at `path` and brings its
    /// schema up to date. The directory must exist.
    pub fn open(path: &Path) -> Result<Self> {
        let (conn, context) = open_wal(path)?;
        Self::init(conn, &context)
    }

    /// A private database in memory, gone when the store is dropped.
    pub fn open_in_memory() -> Result<Self> {
        let context = "opening an in-memory database";
        let conn = Connection::open_in_memory().map_err(|e| backend(context, e))?;
        Self::init(conn, context)
    }

    fn init(mut conn: Connection, context: &str) -> Result<Self> {
        conn.busy_timeout(BUSY_TIMEOUT)
            .and_then(|()| conn.pragma_update(None, "synchronous", "FULL"))
            .and_then(|()| conn.pragma_update(None, "foreign_keys", "ON"))
            .map_err(|e| backend(context, e))?;
        schema::migrate(&mut conn).map_err(|e| match e {
            schema::MigrateError::Sqlite(e) => backend(&format!("{context}: migrating"), e),
            schema::MigrateError::Unsupported { found } => StoreError::Backend(format!(
                "{context}: schema version {found} is not one this build knows \
                 (it reads versions 0 to {SCHEMA_VERSION})"
            )),
        })?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock dropped its transaction, which rolls
        // back: the connection is still consistent.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` in a deferred transaction (a consistent snapshot).
    fn read<T>(&self, op: &str, key: &str, f: impl FnOnce(&Transaction) -> Res<T>) -> Result<T> {
        self.run(TransactionBehavior::Deferred, op, key, f)
    }

    /// Runs `f` in an immediate transaction and commits if it succeeds.
    fn write<T>(&self, op: &str, key: &str, f: impl FnOnce(&Transaction) -> Res<T>) -> Result<T> {
        self.run(TransactionBehavior::Immediate, op, key, f)
    }

    fn run<T>(
        &self,
        behavior: TransactionBehavior,
        op: &str,
        key: &str,
        f: impl FnOnce(&Transaction) -> Res<T>,
    ) -> Result<T> {
        let mut conn = self.lock();
        let result = conn
            .transaction_with_behavior(behavior)
            .map_err(Fail::from)
            .and_then(|tx| {
                let value = f(&tx)?;
                tx.commit()?;
                Ok(value)
            });
        result.map_err(|fail| fail.into_store_error(op, key))
    }
}

/// What went wrong inside a transaction, before it gets its context.
enum Fail {
    Store(StoreError),
    Sqlite(rusqlite::Error),
    Json(serde_json::Error),
}

type Res<T> = std::result::Result<T, Fail>;

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Sqlite(e)
    }
}

impl From<serde_json::Error> for Fail {
    fn from(e: serde_json::Error) -> Self {
        Fail::Json(e)
    }
}

impl Fail {
    fn into_store_error(self, op: &str, key: &str) -> StoreError {
        match self {
            Fail::Store(e) => e,
            Fail::Sqlite(e) => backend(&format!("{op}({key})"), e),
            Fail::Json(e) => {
                StoreError::Backend(format!("{op}({key}): a stored record does not decode: {e}"))
            }
        }
    }
}

/// Opens (creating it if needed) the database file at `path` in WAL mode;
/// returns the connection and the context for later error messages.
fn open_wal(path: &Path) -> Result<(Connection, String)> {
    let context = format!("opening {}", path.display());
    let conn = Connection::open(path).map_err(|e| backend(&context, e))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(|e| backend(&context, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!(
            "{context}: the database refused WAL mode (journal_mode is {mode})"
        )));
    }
    Ok((conn, context))
}

fn backend(context: &str, e: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("{context}: sqlite: {e}"))
}

fn to_json<T: Serialize>(value: &T) -> Res<String> {
    Ok(serde_json::to_string(value)?)
}

fn from_json<T: DeserializeOwned>(text: &str) -> Res<T> {
    Ok(serde_json::from_str(text)?)
}

/// The number of a published version as `publish_version` writes it
/// (`"1"`, never `"01"` or `"+1"`), or `None`.
fn version_number(version: &str) -> Option<i64> {
    let n: i64 = version.parse().ok()?;
    (n >= 1 && n.to_string() == version).then_some(n)
}

/// The key column for a URL config's qualifier (see [`schema`]).
fn qualifier_key(qualifier: Option<&str>) -> &str {
    qualifier.unwrap_or("")
}

fn describe_url(name: &FunctionName, qualifier: Option<&str>) -> String {
    match qualifier {
        None => format!("URL config of function {name}"),
        Some(q) => format!("URL config of function {name}:{q}"),
    }
}

fn describe_policy(name: &FunctionName, qualifier: Option<&str>) -> String {
    match qualifier {
        Some(q) => format!("policy of {name}:{q}"),
        None => format!("policy of {name}"),
    }
}

/// Deletes the policy stored under `qualifier_key`; whether there was one.
fn delete_policy_of(tx: &Transaction, name: &FunctionName, qualifier_key: &str) -> Res<bool> {
    let deleted = tx.execute(
        "DELETE FROM policies WHERE function = ?1 AND qualifier = ?2",
        params![name.as_str(), qualifier_key],
    )?;
    Ok(deleted > 0)
}

/// A `policies` row (qualifier, policy, revision_id) as a record.
fn policy_row(name: &FunctionName, row: &rusqlite::Row) -> rusqlite::Result<FunctionPolicy> {
    let qualifier: String = row.get(0)?;
    Ok(FunctionPolicy {
        function: name.clone(),
        qualifier: Some(qualifier).filter(|q| !q.is_empty()),
        policy: row.get(1)?,
        revision_id: row.get(2)?,
    })
}

fn function_exists(tx: &Transaction, name: &FunctionName) -> Res<bool> {
    let mut stmt = tx.prepare_cached("SELECT 1 FROM functions WHERE name = ?1")?;
    Ok(stmt.exists([name.as_str()])?)
}

fn require_function(tx: &Transaction, name: &FunctionName) -> Res<()> {
    if function_exists(tx, name)? {
        Ok(())
    } else {
        Err(StoreError::NotFound(format!("function {name}")).into())
    }
}

/// Reads the JSON column of every row `sql` returns for `params`.
fn query_json<T: DeserializeOwned>(
    tx: &Transaction,
    sql: &str,
    params: impl rusqlite::Params,
) -> Res<Vec<T>> {
    let mut stmt = tx.prepare_cached(sql)?;
    let texts = stmt
        .query_map(params, |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    texts.iter().map(|t| from_json(t)).collect()
}

/// Reads the JSON column of the row `sql` returns for `params`, if any.
fn query_one_json<T: DeserializeOwned>(
    tx: &Transaction,
    sql: &str,
    params: impl rusqlite::Params,
) -> Res<Option<T>> {
    let mut stmt = tx.prepare_cached(sql)?;
    let text: Option<String> = stmt.query_row(params, |row| row.get(0)).optional()?;
    text.map(|t| from_json(&t)).transpose()
}

impl Store for SqliteStore {
    fn create_function(&self, latest: &FunctionConfig) -> Result<()> {
        let name = &latest.name;
        self.write("create_function", name.as_str(), |tx| {
            let mut record = latest.clone();
            record.version = LATEST.to_string();
            let inserted = tx.execute(
                "INSERT INTO functions (name, latest) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                params![name.as_str(), to_json(&record)?],
            )?;
            if inserted == 0 {
                return Err(StoreError::Conflict(format!("function {name}")).into());
            }
            Ok(())
        })
    }

    fn update_latest(&self, latest: &FunctionConfig) -> Result<()> {
        let name = &latest.name;
        self.write("update_latest", name.as_str(), |tx| {
            let mut record = latest.clone();
            record.version = LATEST.to_string();
            let updated = tx.execute(
                "UPDATE functions SET latest = ?2 WHERE name = ?1",
                params![name.as_str(), to_json(&record)?],
            )?;
            if updated == 0 {
                return Err(StoreError::NotFound(format!("function {name}")).into());
            }
            Ok(())
        })
    }

    fn get_version(&self, name: &FunctionName, version: &str) -> Result<Option<FunctionConfig>> {
        let key = format!("{name}:{version}");
        self.read("get_version", &key, |tx| {
            if version == LATEST {
                query_one_json(
                    tx,
                    "SELECT latest FROM functions WHERE name = ?1",
                    [name.as_str()],
                )
            } else if let Some(n) = version_number(version) {
                query_one_json(
                    tx,
                    "SELECT config FROM versions WHERE function = ?1 AND version = ?2",
                    params![name.as_str(), n],
                )
            } else {
                Ok(None)
            }
        })
    }

    fn list_functions(&self) -> Result<Vec<FunctionConfig>> {
        self.read("list_functions", "*", |tx| {
            query_json(tx, "SELECT latest FROM functions ORDER BY name", [])
        })
    }

    fn list_versions(&self, name: &FunctionName) -> Result<Vec<FunctionConfig>> {
        self.read("list_versions", name.as_str(), |tx| {
            let latest: Option<FunctionConfig> = query_one_json(
                tx,
                "SELECT latest FROM functions WHERE name = ?1",
                [name.as_str()],
            )?;
            let latest = latest.ok_or_else(|| StoreError::NotFound(format!("function {name}")))?;
            let mut all = vec![latest];
            all.extend(query_json::<FunctionConfig>(
                tx,
                "SELECT config FROM versions WHERE function = ?1 ORDER BY version",
                [name.as_str()],
            )?);
            Ok(all)
        })
    }

    fn publish_version(&self, config: &FunctionConfig) -> Result<FunctionConfig> {
        let name = &config.name;
        self.write("publish_version", name.as_str(), |tx| {
            let number: Option<i64> = tx
                .prepare_cached(
                    "UPDATE functions SET last_version = last_version + 1 WHERE name = ?1 \
                     RETURNING last_version",
                )?
                .query_row([name.as_str()], |row| row.get(0))
                .optional()?;
            let number = number.ok_or_else(|| StoreError::NotFound(format!("function {name}")))?;
            let mut published = config.clone();
            published.version = number.to_string();
            tx.execute(
                "INSERT INTO versions (function, version, config) VALUES (?1, ?2, ?3)",
                params![name.as_str(), number, to_json(&published)?],
            )?;
            Ok(published)
        })
    }

    fn delete_function(&self, name: &FunctionName) -> Result<()> {
        self.write("delete_function", name.as_str(), |tx| {
            // The foreign keys cascade too; deleting explicitly keeps the
            // invariant even on a connection without `foreign_keys`.
            for table in ["versions", "aliases", "url_configs", "policies"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE function = ?1"),
                    [name.as_str()],
                )?;
            }
            let deleted = tx.execute("DELETE FROM functions WHERE name = ?1", [name.as_str()])?;
            if deleted == 0 {
                return Err(StoreError::NotFound(format!("function {name}")).into());
            }
            Ok(())
        })
    }

    fn delete_version(&self, name: &FunctionName, version: &str) -> Result<()> {
        let key = format!("{name}:{version}");
        self.write("delete_version", &key, |tx| {
            let deleted = match version_number(version) {
                Some(n) => tx.execute(
                    "DELETE FROM versions WHERE function = ?1 AND version = ?2",
                    params![name.as_str(), n],
                )?,
                None => 0,
            };
            if deleted == 0 {
                return Err(
                    StoreError::NotFound(format!("version {version} of function {name}")).into(),
                );
            }
            delete_policy_of(tx, name, version)?;
            Ok(())
        })
    }

    fn put_alias(&self, alias: &AliasConfig, replace: bool) -> Result<()> {
        let (name, alias_name) = (&alias.function, alias.name.as_str());
        let key = format!("{name}:{alias_name}");
        self.write("put_alias", &key, |tx| {
            require_function(tx, name)?;
            let json = to_json(alias)?;
            if replace {
                let updated = tx.execute(
                    "UPDATE aliases SET config = ?3 WHERE function = ?1 AND name = ?2",
                    params![name.as_str(), alias_name, json],
                )?;
                if updated == 0 {
                    return Err(StoreError::NotFound(format!("alias {key}")).into());
                }
            } else {
                let inserted = tx.execute(
                    "INSERT INTO aliases (function, name, config) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (function, name) DO NOTHING",
                    params![name.as_str(), alias_name, json],
                )?;
                if inserted == 0 {
                    return Err(StoreError::Conflict(format!("alias {key}")).into());
                }
            }
            Ok(())
        })
    }

    fn get_alias(&self, name: &FunctionName, alias: &str) -> Result<Option<AliasConfig>> {
        let key = format!("{name}:{alias}");
        self.read("get_alias", &key, |tx| {
            query_one_json(
                tx,
                "SELECT config FROM aliases WHERE function = ?1 AND name = ?2",
                params![name.as_str(), alias],
            )
        })
    }

    fn list_aliases(&self, name: &FunctionName) -> Result<Vec<AliasConfig>> {
        self.read("list_aliases", name.as_str(), |tx| {
            require_function(tx, name)?;
            query_json(
                tx,
                "SELECT config FROM aliases WHERE function = ?1 ORDER BY name",
                [name.as_str()],
            )
        })
    }

    fn delete_alias(&self, name: &FunctionName, alias: &str) -> Result<()> {
        let key = format!("{name}:{alias}");
        self.write("delete_alias", &key, |tx| {
            let deleted = tx.execute(
                "DELETE FROM aliases WHERE function = ?1 AND name = ?2",
                params![name.as_str(), alias],
            )?;
            if deleted == 0 {
                return Err(StoreError::NotFound(format!("alias {key}")).into());
            }
            delete_policy_of(tx, name, alias)?;
            Ok(())
        })
    }

    fn put_url_config(&self, config: &UrlConfig, replace: bool) -> Result<()> {
        let (name, qualifier) = (&config.function, config.qualifier.as_deref());
        let what = describe_url(name, qualifier);
        self.write("put_url_config", &what, |tx| {
            require_function(tx, name)?;
            let json = to_json(config)?;
            let q = qualifier_key(qualifier);
            if replace {
                let updated = tx.execute(
                    "UPDATE url_configs SET config = ?3 WHERE function = ?1 AND qualifier = ?2",
                    params![name.as_str(), q, json],
                )?;
                if updated == 0 {
                    return Err(StoreError::NotFound(what.clone()).into());
                }
            } else {
                let inserted = tx.execute(
                    "INSERT INTO url_configs (function, qualifier, config) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (function, qualifier) DO NOTHING",
                    params![name.as_str(), q, json],
                )?;
                if inserted == 0 {
                    return Err(StoreError::Conflict(what.clone()).into());
                }
            }
            Ok(())
        })
    }

    fn get_url_config(
        &self,
        name: &FunctionName,
        qualifier: Option<&str>,
    ) -> Result<Option<UrlConfig>> {
        self.read("get_url_config", &describe_url(name, qualifier), |tx| {
            query_one_json(
                tx,
                "SELECT config FROM url_configs WHERE function = ?1 AND qualifier = ?2",
                params![name.as_str(), qualifier_key(qualifier)],
            )
        })
    }

    fn list_url_configs(&self, name: &FunctionName) -> Result<Vec<UrlConfig>> {
        self.read("list_url_configs", name.as_str(), |tx| {
            require_function(tx, name)?;
            query_json(
                tx,
                "SELECT config FROM url_configs WHERE function = ?1 ORDER BY qualifier",
                [name.as_str()],
            )
        })
    }

    fn delete_url_config(&self, name: &FunctionName, qualifier: Option<&str>) -> Result<()> {
        let what = describe_url(name, qualifier);
        self.write("delete_url_config", &what, |tx| {
            let deleted = tx.execute(
                "DELETE FROM url_configs WHERE function = ?1 AND qualifier = ?2",
                params![name.as_str(), qualifier_key(qualifier)],
            )?;
            if deleted == 0 {
                return Err(StoreError::NotFound(what.clone()).into());
            }
            Ok(())
        })
    }

    fn put_policy(&self, policy: &FunctionPolicy) -> Result<()> {
        let (name, qualifier) = (&policy.function, policy.qualifier.as_deref());
        let what = describe_policy(name, qualifier);
        self.write("put_policy", &what, |tx| {
            require_function(tx, name)?;
            tx.execute(
                "INSERT INTO policies (function, qualifier, policy, revision_id) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (function, qualifier) \
                 DO UPDATE SET policy = excluded.policy, revision_id = excluded.revision_id",
                params![
                    name.as_str(),
                    qualifier_key(qualifier),
                    policy.policy,
                    policy.revision_id
                ],
            )?;
            Ok(())
        })
    }

    fn get_policy(
        &self,
        name: &FunctionName,
        qualifier: Option<&str>,
    ) -> Result<Option<FunctionPolicy>> {
        self.read("get_policy", &describe_policy(name, qualifier), |tx| {
            Ok(tx
                .query_row(
                    "SELECT qualifier, policy, revision_id FROM policies \
                     WHERE function = ?1 AND qualifier = ?2",
                    params![name.as_str(), qualifier_key(qualifier)],
                    |row| policy_row(name, row),
                )
                .optional()?)
        })
    }

    fn list_policies(&self, name: &FunctionName) -> Result<Vec<FunctionPolicy>> {
        self.read("list_policies", name.as_str(), |tx| {
            require_function(tx, name)?;
            let mut stmt = tx.prepare(
                "SELECT qualifier, policy, revision_id FROM policies \
                 WHERE function = ?1 ORDER BY qualifier",
            )?;
            let rows = stmt.query_map([name.as_str()], |row| policy_row(name, row))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn delete_policy(&self, name: &FunctionName, qualifier: Option<&str>) -> Result<()> {
        let what = describe_policy(name, qualifier);
        self.write("delete_policy", &what, |tx| {
            if !delete_policy_of(tx, name, qualifier_key(qualifier))? {
                return Err(StoreError::NotFound(what.clone()).into());
            }
            Ok(())
        })
    }

    fn append_logs(&self, records: &[LogRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let key = format!("{} records", records.len());
        self.write("append_logs", &key, |tx| {
            let mut insert = tx.prepare_cached(
                "INSERT INTO logs (function, stream, request_id, start_ms, end_ms, is_error, text) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for r in records {
                insert.execute(params![
                    r.function,
                    r.stream,
                    r.request_id,
                    r.start_ms,
                    r.end_ms,
                    r.is_error,
                    r.text
                ])?;
                logs::insert_record_events(tx, r)?;
            }
            Ok(())
        })
    }

    fn query_logs(&self, query: &LogQuery) -> Result<Vec<LogRecord>> {
        let mut sql = String::from(
            "SELECT seq, function, stream, request_id, start_ms, end_ms, is_error, text \
             FROM logs WHERE function = ?",
        );
        let mut args: Vec<Value> = vec![Value::Text(query.function.clone())];
        let mut filter = |clause: &str, arg: Value| {
            sql.push_str(clause);
            args.push(arg);
        };
        if let Some(after) = query.after_seq {
            filter(" AND seq > ?", Value::Integer(after));
        }
        if let Some(since) = query.since_ms {
            filter(" AND end_ms >= ?", Value::Integer(since));
        }
        if let Some(until) = query.until_ms {
            filter(" AND start_ms <= ?", Value::Integer(until));
        }
        if let Some(id) = &query.request_id {
            filter(" AND request_id = ?", Value::Text(id.clone()));
        }
        if query.errors_only {
            sql.push_str(" AND is_error != 0");
        }
        // A negative LIMIT is no limit in SQLite.
        let limit = match query.limit {
            0 => -1,
            n => i64::try_from(n).unwrap_or(i64::MAX),
        };
        sql.push_str(" ORDER BY seq LIMIT ?");
        args.push(Value::Integer(limit));

        self.read("query_logs", &query.function, |tx| {
            let mut stmt = tx.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args), |row| {
                Ok(LogRecord {
                    seq: row.get(0)?,
                    function: row.get(1)?,
                    stream: row.get(2)?,
                    request_id: row.get(3)?,
                    start_ms: row.get(4)?,
                    end_ms: row.get(5)?,
                    is_error: row.get(6)?,
                    text: row.get(7)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn prune_logs(&self, before_ms: i64) -> Result<u64> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.prune_logs_at(now_ms, before_ms)
    }

    fn create_log_group(
        &self,
        name: &str,
        created_ms: i64,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<()> {
        self.logs_create_group(name, created_ms, tags)
    }

    fn get_log_group(&self, name: &str) -> Result<Option<LogGroup>> {
        self.logs_get_group(name)
    }

    fn list_log_groups(&self, prefix: &str) -> Result<Vec<LogGroup>> {
        self.logs_list_groups(prefix)
    }

    fn delete_log_group(&self, name: &str) -> Result<()> {
        self.logs_delete_group(name)
    }

    fn put_log_retention(&self, name: &str, days: Option<u32>) -> Result<()> {
        self.logs_put_retention(name, days)
    }

    fn tag_log_group(
        &self,
        name: &str,
        add: &std::collections::BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<()> {
        self.logs_tag_group(name, add, remove)
    }

    fn create_log_stream(&self, group: &str, stream: &str, created_ms: i64) -> Result<()> {
        self.logs_create_stream(group, stream, created_ms)
    }

    fn list_log_streams(&self, group: &str) -> Result<Vec<LogStream>> {
        self.logs_list_streams(group)
    }

    fn delete_log_stream(&self, group: &str, stream: &str) -> Result<()> {
        self.logs_delete_stream(group, stream)
    }

    fn put_log_events(
        &self,
        group: &str,
        stream: &str,
        events: &[NewLogEvent],
        ingestion_ms: i64,
    ) -> Result<i64> {
        self.logs_put_events(group, stream, events, ingestion_ms)
    }

    fn query_log_events(&self, query: &LogEventQuery) -> Result<Vec<LogEvent>> {
        self.logs_query_events(query)
    }

    fn append_usage(&self, batch: &UsageBatch) -> Result<()> {
        usage::append(self, batch)
    }

    fn query_usage(&self, query: &UsageQuery, limit: usize) -> Result<Vec<UsageRecord>> {
        usage::query(self, query, limit)
    }

    fn usage_summary(&self, query: &UsageQuery, group: UsageGroup) -> Result<Vec<UsageGroupRow>> {
        usage::summary(self, query, group)
    }

    fn prune_usage(&self, before_ms: i64) -> Result<u64> {
        usage::prune(self, before_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pragma(store: &SqliteStore, name: &str) -> i64 {
        store
            .lock()
            .pragma_query_value(None, name, |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn connections_are_durable_and_enforce_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("updraft.db")).unwrap();
        assert_eq!(pragma(&store, "synchronous"), 2, "synchronous=FULL");
        assert_eq!(pragma(&store, "foreign_keys"), 1);
        assert_eq!(
            pragma(&store, "busy_timeout"),
            BUSY_TIMEOUT.as_millis() as i64
        );
        assert_eq!(pragma(&store, "user_version"), SCHEMA_VERSION);
    }

    #[test]
    fn in_memory_stores_are_separate() {
        let a = SqliteStore::open_in_memory().unwrap();
        let b = SqliteStore::open_in_memory().unwrap();
        let config = updraft_store::conformance::function_config("f", "r1");
        a.create_function(&config).unwrap();
        assert!(b.get_version(&config.name, LATEST).unwrap().is_none());
    }

    #[test]
    fn version_numbers_are_canonical() {
        assert_eq!(version_number("1"), Some(1));
        assert_eq!(version_number("42"), Some(42));
        for bad in [
            "",
            "0",
            "-1",
            "+1",
            "01",
            " 1",
            "1 ",
            "x",
            "99999999999999999999",
        ] {
            assert_eq!(version_number(bad), None, "{bad:?}");
        }
    }
}
