//! The database schema and its migrations.
//!
//! The schema version is SQLite's `user_version`: migration `i` (0-based)
//! brings a database from version `i` to `i + 1`. Migrations only append;
//! a shipped one is never edited. All pending migrations and the version
//! bump run in one transaction, so a crash leaves the old schema intact.
//!
//! ```text
//! functions    name PK | latest (FunctionConfig JSON) | last_version (counter)
//!   versions     (function, version) PK -> functions ON DELETE CASCADE
//!   aliases      (function, name)    PK -> functions ON DELETE CASCADE
//!   url_configs  (function, qualifier) PK -> functions ON DELETE CASCADE
//!                qualifier '' is the unqualified function (alias names
//!                are never empty), so it sorts before every alias
//!   policies     (function, qualifier) PK -> functions ON DELETE CASCADE
//!                qualifier '' is the unqualified function, as above;
//!                policy (JSON text) | revision_id
//! logs         seq AUTOINCREMENT PK | function | ... (no foreign key:
//!              logs outlive their function); AUTOINCREMENT so a pruned
//!              seq is never handed out again
//! log_groups, log_streams, log_events: CloudWatch Logs (see `logs.rs`)
//! usage_batches  id PK (the batch's id, as i64 bits) | min_start_ms |
//!              max_start_ms (indexed) | records | frames (the records,
//!              encoded: `updraft_store::usage::UsageBatch`); no foreign
//!              key: usage outlives its function
//! ```
//!
//! Schema 2 kept one row per usage record (table `usage`); migration 3
//! moves them into batches of [`MIGRATED_BATCH`] in time order.
//!
//! `functions.last_version` is the highest version number ever published
//! for the function; it only grows, so numbers are never reused even when
//! the newest versions are deleted.

use rusqlite::{Connection, Transaction, TransactionBehavior};
use updraft_store::{UsageBatch, UsageRecord};

/// One step up: SQL, or code where SQL cannot do it.
enum Migration {
    Sql(&'static str),
    Code(fn(&Transaction) -> rusqlite::Result<()>),
}

use Migration::{Code, Sql};

/// Each entry moves the schema one version up.
const MIGRATIONS: &[Migration] = &[
    // 1: the initial schema.
    Sql("
    CREATE TABLE functions (
        name         TEXT PRIMARY KEY NOT NULL,
        latest       TEXT NOT NULL,
        last_version INTEGER NOT NULL DEFAULT 0
    ) STRICT;

    CREATE TABLE versions (
        function TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
        version  INTEGER NOT NULL,
        config   TEXT NOT NULL,
        PRIMARY KEY (function, version)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE aliases (
        function TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
        name     TEXT NOT NULL,
        config   TEXT NOT NULL,
        PRIMARY KEY (function, name)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE url_configs (
        function  TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
        qualifier TEXT NOT NULL,
        config    TEXT NOT NULL,
        PRIMARY KEY (function, qualifier)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE logs (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        function   TEXT NOT NULL,
        stream     TEXT NOT NULL,
        request_id TEXT NOT NULL,
        start_ms   INTEGER NOT NULL,
        end_ms     INTEGER NOT NULL,
        is_error   INTEGER NOT NULL,
        text       TEXT NOT NULL
    ) STRICT;

    CREATE INDEX logs_function_seq ON logs (function, seq);
    CREATE INDEX logs_end_ms ON logs (end_ms);
    "),
    // 2: usage records.
    Sql("
    CREATE TABLE usage (
        start_ms         INTEGER NOT NULL,
        request_id       TEXT NOT NULL,
        function         TEXT NOT NULL,
        version          TEXT NOT NULL,
        duration_us      INTEGER NOT NULL,
        billed_ms        INTEGER NOT NULL,
        memory_mb        INTEGER NOT NULL,
        init_duration_us INTEGER,
        outcome          TEXT NOT NULL,
        source           TEXT NOT NULL,
        PRIMARY KEY (start_ms, request_id)
    ) STRICT, WITHOUT ROWID;

    CREATE INDEX usage_function_start_ms ON usage (function, start_ms);
    "),
    // 3: usage records in batches.
    Code(usage_batches),
    // 4: resource policies (Lambda's AddPermission).
    Sql("
    CREATE TABLE policies (
        function    TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
        qualifier   TEXT NOT NULL,
        policy      TEXT NOT NULL,
        revision_id TEXT NOT NULL,
        PRIMARY KEY (function, qualifier)
    ) STRICT, WITHOUT ROWID;
    "),
    // 5: CloudWatch Logs' groups, streams and events (`logs.rs`), filled
    // from the invocation logs stored so far.
    Code(crate::logs::migrate),
];

/// Records per batch when migration 3 moves stored usage into batches.
pub const MIGRATED_BATCH: usize = 4096;

fn usage_batches(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(
        "
        CREATE TABLE usage_batches (
            id           INTEGER PRIMARY KEY,
            min_start_ms INTEGER NOT NULL,
            max_start_ms INTEGER NOT NULL,
            records      INTEGER NOT NULL,
            frames       BLOB NOT NULL
        ) STRICT;

        CREATE INDEX usage_batches_max_start_ms ON usage_batches (max_start_ms);
        ",
    )?;
    let mut select = tx.prepare(
        "SELECT function, version, request_id, start_ms, duration_us, billed_ms, memory_mb,
                init_duration_us, outcome, source
         FROM usage ORDER BY start_ms, request_id",
    )?;
    let mut rows = select.query([])?;
    // Ids 1, 2, ...: the journal's batches have random ids.
    let mut batch = UsageBatch::new(1);
    while let Some(row) = rows.next()? {
        let record = UsageRecord {
            function: row.get(0)?,
            version: row.get(1)?,
            request_id: row.get(2)?,
            start_ms: row.get(3)?,
            duration_us: row.get(4)?,
            billed_ms: row.get(5)?,
            memory_mb: row.get(6)?,
            init_duration_us: row.get(7)?,
            outcome: row.get(8)?,
            trigger: row.get(9)?,
        };
        batch.push(&(&record).into());
        if batch.records as usize == MIGRATED_BATCH {
            let next = UsageBatch::new(batch.id + 1);
            crate::usage::insert(tx, &std::mem::replace(&mut batch, next))?;
        }
    }
    crate::usage::insert(tx, &batch)?;
    drop(rows);
    drop(select);
    tx.execute_batch("DROP TABLE usage;")
}

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Why a database could not be brought to [`SCHEMA_VERSION`].
#[derive(Debug)]
pub enum MigrateError {
    Sqlite(rusqlite::Error),
    /// The file's schema version is not one this build knows (a newer
    /// build wrote it, or it is not an updraft database).
    Unsupported {
        found: i64,
    },
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        MigrateError::Sqlite(e)
    }
}

/// Applies every migration the database has not seen yet.
pub fn migrate(conn: &mut Connection) -> Result<(), MigrateError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if !(0..=SCHEMA_VERSION).contains(&found) {
        return Err(MigrateError::Unsupported { found });
    }
    for migration in &MIGRATIONS[found as usize..] {
        match migration {
            Sql(sql) => tx.execute_batch(sql)?,
            Code(step) => step(&tx)?,
        }
    }
    if found < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(())
}
