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
//! logs         seq AUTOINCREMENT PK | function | ... (no foreign key:
//!              logs outlive their function); AUTOINCREMENT so a pruned
//!              seq is never handed out again
//! usage        (start_ms, request_id) PK, WITHOUT ROWID: one B-tree in
//!              time order, appended at its end | function | ... (no
//!              foreign key: usage outlives its function); `source` is
//!              the record's trigger (TRIGGER is an SQL keyword)
//! ```
//!
//! `functions.last_version` is the highest version number ever published
//! for the function; it only grows, so numbers are never reused even when
//! the newest versions are deleted.

use rusqlite::{Connection, TransactionBehavior};

/// Each entry moves the schema one version up.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "
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
    ",
    // 2: usage records.
    "
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
    ",
];

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
    for sql in &MIGRATIONS[found as usize..] {
        tx.execute_batch(sql)?;
    }
    if found < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(())
}
