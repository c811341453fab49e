//! CloudWatch Logs' groups, streams and events on SQLite.
//!
//! ```text
//! log_groups   name PK | created_ms | retention_days (NULL: the node's
//!              default) | tags (JSON object)
//!   log_streams  (grp, name) PK -> log_groups ON DELETE CASCADE
//!     log_events   id AUTOINCREMENT PK | grp | stream | timestamp_ms |
//!                  ingestion_ms | message; (grp, stream) -> log_streams
//!                  ON DELETE CASCADE; indexed by (grp, stream, time, id)
//!                  and (grp, time, id)
//! ```
//!
//! An invocation's [`LogRecord`] is stored in `logs` (as before) and as
//! events, one per line, in group `/aws/lambda/FUNCTION` (created with its
//! stream on the first record): lines take the invocation's start time,
//! `END` and `REPORT` its end time; every line is ingested at the end.
//! Stream statistics and stored bytes are computed from the events when
//! read, so they stay right after pruning.

use std::collections::BTreeMap;

use rusqlite::types::Value;
use rusqlite::{params, OptionalExtension, Transaction};
use updraft_store::logs::{lambda_function, lambda_group, DAY_MS};
use updraft_store::{
    LogEvent, LogEventQuery, LogGroup, LogRecord, LogStream, NewLogEvent, StoreError,
};

use crate::{from_json, to_json, Res, SqliteStore};

/// Migration 5: the tables, filled from the invocation logs stored so far.
pub(crate) fn migrate(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(
        "
        CREATE TABLE IF NOT EXISTS log_groups (
            name           TEXT PRIMARY KEY NOT NULL,
            created_ms     INTEGER NOT NULL,
            retention_days INTEGER,
            tags           TEXT NOT NULL DEFAULT '{}'
        ) STRICT, WITHOUT ROWID;

        CREATE TABLE IF NOT EXISTS log_streams (
            grp        TEXT NOT NULL REFERENCES log_groups(name) ON DELETE CASCADE,
            name       TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            PRIMARY KEY (grp, name)
        ) STRICT, WITHOUT ROWID;

        CREATE TABLE IF NOT EXISTS log_events (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            grp          TEXT NOT NULL,
            stream       TEXT NOT NULL,
            timestamp_ms INTEGER NOT NULL,
            ingestion_ms INTEGER NOT NULL,
            message      TEXT NOT NULL,
            FOREIGN KEY (grp, stream) REFERENCES log_streams(grp, name) ON DELETE CASCADE
        ) STRICT;

        CREATE INDEX IF NOT EXISTS log_events_stream_time ON log_events (grp, stream, timestamp_ms, id);
        CREATE INDEX IF NOT EXISTS log_events_group_time ON log_events (grp, timestamp_ms, id);
        ",
    )?;
    // Tables that exist already (a file whose version was set back by
    // hand) are kept as they are, and not filled again.
    let filled: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM log_groups)", [], |row| {
        row.get(0)
    })?;
    if filled {
        return Ok(());
    }
    let mut select = tx.prepare(
        "SELECT seq, function, stream, request_id, start_ms, end_ms, is_error, text \
         FROM logs ORDER BY seq",
    )?;
    let mut rows = select.query([])?;
    while let Some(row) = rows.next()? {
        let record = LogRecord {
            seq: row.get(0)?,
            function: row.get(1)?,
            stream: row.get(2)?,
            request_id: row.get(3)?,
            start_ms: row.get(4)?,
            end_ms: row.get(5)?,
            is_error: row.get(6)?,
            text: row.get(7)?,
        };
        insert_record_events(tx, &record)?;
    }
    Ok(())
}

/// Stores an invocation record's lines as events of its Lambda group,
/// creating the group and the stream when they are new.
pub(crate) fn insert_record_events(tx: &Transaction, r: &LogRecord) -> rusqlite::Result<()> {
    let group = lambda_group(&r.function);
    tx.prepare_cached(
        "INSERT OR IGNORE INTO log_groups (name, created_ms, tags) VALUES (?1, ?2, '{}')",
    )?
    .execute(params![group, r.start_ms])?;
    tx.prepare_cached(
        "INSERT OR IGNORE INTO log_streams (grp, name, created_ms) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![group, r.stream, r.start_ms])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO log_events (grp, stream, timestamp_ms, ingestion_ms, message) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for line in r.text.lines() {
        let at_end = line.starts_with("END ") || line.starts_with("REPORT ");
        let ts = if at_end { r.end_ms } else { r.start_ms };
        insert.execute(params![group, r.stream, ts, r.end_ms, format!("{line}\n")])?;
    }
    Ok(())
}

fn not_found_group(name: &str) -> StoreError {
    StoreError::NotFound(format!("log group {name}"))
}

fn group_exists(tx: &Transaction, name: &str) -> Res<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM log_groups WHERE name = ?1")?
        .query_row([name], |_| Ok(()))
        .optional()?
        .is_some())
}

fn require_group(tx: &Transaction, name: &str) -> Res<()> {
    if group_exists(tx, name)? {
        Ok(())
    } else {
        Err(not_found_group(name).into())
    }
}

fn group_row(row: &rusqlite::Row) -> rusqlite::Result<(String, i64, Option<u32>, String, i64)> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

const GROUP_COLUMNS: &str = "name, created_ms, retention_days, tags, \
     (SELECT COALESCE(SUM(LENGTH(CAST(message AS BLOB))), 0) FROM log_events WHERE grp = name)";

fn to_group(row: (String, i64, Option<u32>, String, i64)) -> Res<LogGroup> {
    let (name, created_ms, retention_days, tags, bytes) = row;
    Ok(LogGroup {
        name,
        created_ms,
        retention_days,
        stored_bytes: u64::try_from(bytes).unwrap_or(0),
        tags: from_json(&tags)?,
    })
}

impl SqliteStore {
    pub(crate) fn logs_create_group(
        &self,
        name: &str,
        created_ms: i64,
        tags: &BTreeMap<String, String>,
    ) -> updraft_store::Result<()> {
        self.write("create_log_group", name, |tx| {
            if group_exists(tx, name)? {
                return Err(StoreError::Conflict(format!("log group {name}")).into());
            }
            tx.execute(
                "INSERT INTO log_groups (name, created_ms, tags) VALUES (?1, ?2, ?3)",
                params![name, created_ms, to_json(tags)?],
            )?;
            Ok(())
        })
    }

    pub(crate) fn logs_get_group(&self, name: &str) -> updraft_store::Result<Option<LogGroup>> {
        self.read("get_log_group", name, |tx| {
            let row = tx
                .query_row(
                    &format!("SELECT {GROUP_COLUMNS} FROM log_groups WHERE name = ?1"),
                    [name],
                    group_row,
                )
                .optional()?;
            row.map(to_group).transpose()
        })
    }

    pub(crate) fn logs_list_groups(&self, prefix: &str) -> updraft_store::Result<Vec<LogGroup>> {
        self.read("list_log_groups", prefix, |tx| {
            // substr() rather than LIKE: names may hold `_` and `%`.
            let mut stmt = tx.prepare(&format!(
                "SELECT {GROUP_COLUMNS} FROM log_groups \
                 WHERE substr(name, 1, length(?1)) = ?1 ORDER BY name"
            ))?;
            let rows = stmt.query_map([prefix], group_row)?;
            rows.map(|r| to_group(r?)).collect()
        })
    }

    pub(crate) fn logs_delete_group(&self, name: &str) -> updraft_store::Result<()> {
        self.write("delete_log_group", name, |tx| {
            // The cascade takes the streams and their events.
            if tx.execute("DELETE FROM log_groups WHERE name = ?1", [name])? == 0 {
                return Err(not_found_group(name).into());
            }
            if let Some(function) = lambda_function(name) {
                tx.execute("DELETE FROM logs WHERE function = ?1", [function])?;
            }
            Ok(())
        })
    }

    pub(crate) fn logs_put_retention(
        &self,
        name: &str,
        days: Option<u32>,
    ) -> updraft_store::Result<()> {
        self.write("put_log_retention", name, |tx| {
            let changed = tx.execute(
                "UPDATE log_groups SET retention_days = ?2 WHERE name = ?1",
                params![name, days],
            )?;
            if changed == 0 {
                return Err(not_found_group(name).into());
            }
            Ok(())
        })
    }

    pub(crate) fn logs_tag_group(
        &self,
        name: &str,
        add: &BTreeMap<String, String>,
        remove: &[String],
    ) -> updraft_store::Result<()> {
        self.write("tag_log_group", name, |tx| {
            let tags: Option<String> = tx
                .query_row(
                    "SELECT tags FROM log_groups WHERE name = ?1",
                    [name],
                    |row| row.get(0),
                )
                .optional()?;
            let Some(tags) = tags else {
                return Err(not_found_group(name).into());
            };
            let mut tags: BTreeMap<String, String> = from_json(&tags)?;
            tags.extend(add.iter().map(|(k, v)| (k.clone(), v.clone())));
            for key in remove {
                tags.remove(key);
            }
            tx.execute(
                "UPDATE log_groups SET tags = ?2 WHERE name = ?1",
                params![name, to_json(&tags)?],
            )?;
            Ok(())
        })
    }

    pub(crate) fn logs_create_stream(
        &self,
        group: &str,
        stream: &str,
        created_ms: i64,
    ) -> updraft_store::Result<()> {
        self.write("create_log_stream", &format!("{group}:{stream}"), |tx| {
            require_group(tx, group)?;
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO log_streams (grp, name, created_ms) VALUES (?1, ?2, ?3)",
                params![group, stream, created_ms],
            )?;
            if inserted == 0 {
                return Err(StoreError::Conflict(format!("log stream {stream}")).into());
            }
            Ok(())
        })
    }

    pub(crate) fn logs_list_streams(&self, group: &str) -> updraft_store::Result<Vec<LogStream>> {
        self.read("list_log_streams", group, |tx| {
            require_group(tx, group)?;
            let mut stmt = tx.prepare_cached(
                "SELECT s.name, s.created_ms, MIN(e.timestamp_ms), MAX(e.timestamp_ms), \
                        MAX(e.ingestion_ms), COALESCE(SUM(LENGTH(CAST(e.message AS BLOB))), 0) \
                 FROM log_streams s \
                 LEFT JOIN log_events e ON e.grp = s.grp AND e.stream = s.name \
                 WHERE s.grp = ?1 GROUP BY s.name ORDER BY s.name",
            )?;
            let rows = stmt.query_map([group], |row| {
                Ok(LogStream {
                    name: row.get(0)?,
                    created_ms: row.get(1)?,
                    first_event_ms: row.get(2)?,
                    last_event_ms: row.get(3)?,
                    last_ingestion_ms: row.get(4)?,
                    stored_bytes: u64::try_from(row.get::<_, i64>(5)?).unwrap_or(0),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    pub(crate) fn logs_delete_stream(
        &self,
        group: &str,
        stream: &str,
    ) -> updraft_store::Result<()> {
        self.write("delete_log_stream", &format!("{group}:{stream}"), |tx| {
            require_group(tx, group)?;
            let deleted = tx.execute(
                "DELETE FROM log_streams WHERE grp = ?1 AND name = ?2",
                params![group, stream],
            )?;
            if deleted == 0 {
                return Err(StoreError::NotFound(format!("log stream {stream}")).into());
            }
            if let Some(function) = lambda_function(group) {
                tx.execute(
                    "DELETE FROM logs WHERE function = ?1 AND stream = ?2",
                    params![function, stream],
                )?;
            }
            Ok(())
        })
    }

    pub(crate) fn logs_put_events(
        &self,
        group: &str,
        stream: &str,
        events: &[NewLogEvent],
        ingestion_ms: i64,
    ) -> updraft_store::Result<i64> {
        self.write("put_log_events", &format!("{group}:{stream}"), |tx| {
            require_group(tx, group)?;
            let exists = tx
                .query_row(
                    "SELECT 1 FROM log_streams WHERE grp = ?1 AND name = ?2",
                    params![group, stream],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if !exists {
                return Err(StoreError::NotFound(format!("log stream {stream}")).into());
            }
            let mut insert = tx.prepare_cached(
                "INSERT INTO log_events (grp, stream, timestamp_ms, ingestion_ms, message) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut last = 0;
            for e in events {
                insert.execute(params![
                    group,
                    stream,
                    e.timestamp_ms,
                    ingestion_ms,
                    e.message
                ])?;
                last = tx.last_insert_rowid();
            }
            Ok(last)
        })
    }

    pub(crate) fn logs_query_events(
        &self,
        q: &LogEventQuery,
    ) -> updraft_store::Result<Vec<LogEvent>> {
        let mut sql = String::from(
            "SELECT id, stream, timestamp_ms, ingestion_ms, message FROM log_events WHERE grp = ?",
        );
        let mut args: Vec<Value> = vec![Value::Text(q.group.clone())];
        if let Some(streams) = &q.streams {
            sql.push_str(" AND stream IN (SELECT value FROM json_each(?))");
            let names = serde_json::to_string(streams)
                .map_err(|e| StoreError::Backend(format!("stream names do not encode: {e}")))?;
            args.push(Value::Text(names));
        }
        if let Some(prefix) = &q.stream_prefix {
            sql.push_str(" AND substr(stream, 1, length(?)) = ?");
            args.push(Value::Text(prefix.clone()));
            args.push(Value::Text(prefix.clone()));
        }
        if let Some(start) = q.start_ms {
            sql.push_str(" AND timestamp_ms >= ?");
            args.push(Value::Integer(start));
        }
        if let Some(end) = q.end_ms {
            sql.push_str(" AND timestamp_ms < ?");
            args.push(Value::Integer(end));
        }
        let (cmp, order) = if q.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        if let Some(from) = q.from {
            sql.push_str(&format!(" AND (timestamp_ms, id) {cmp} (?, ?)"));
            args.push(Value::Integer(from.timestamp_ms));
            args.push(Value::Integer(from.id));
        }
        let limit = match q.limit {
            0 => -1,
            n => i64::try_from(n).unwrap_or(i64::MAX),
        };
        sql.push_str(&format!(
            " ORDER BY timestamp_ms {order}, id {order} LIMIT ?"
        ));
        args.push(Value::Integer(limit));
        self.read("query_log_events", &q.group, |tx| {
            require_group(tx, &q.group)?;
            let mut stmt = tx.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args), |row| {
                Ok(LogEvent {
                    id: row.get(0)?,
                    stream: row.get(1)?,
                    timestamp_ms: row.get(2)?,
                    ingestion_ms: row.get(3)?,
                    message: row.get(4)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Applies retention as of `now_ms`: groups with a policy keep events
    /// timestamped within `retention_days`, the others (and the records of
    /// functions whose group has none) what was stored at or after
    /// `default_before_ms`. Returns how many invocation records went.
    pub fn prune_logs_at(&self, now_ms: i64, default_before_ms: i64) -> updraft_store::Result<u64> {
        self.write("prune_logs", &format!("before {default_before_ms}"), |tx| {
            let mut kept: Vec<(String, i64)> = Vec::new();
            {
                let mut stmt = tx.prepare(
                    "SELECT name, retention_days FROM log_groups WHERE retention_days IS NOT NULL",
                )?;
                let rows = stmt.query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })?;
                for row in rows {
                    let (name, days) = row?;
                    kept.push((name, now_ms.saturating_sub(days.saturating_mul(DAY_MS))));
                }
            }
            let mut deleted = 0usize;
            let policies = to_json(&kept.iter().map(|(n, _)| n).collect::<Vec<_>>())?;
            tx.execute(
                "DELETE FROM log_events WHERE ingestion_ms < ?1 \
                 AND grp NOT IN (SELECT value FROM json_each(?2))",
                params![default_before_ms, policies],
            )?;
            let functions = to_json(
                &kept
                    .iter()
                    .filter_map(|(n, _)| lambda_function(n))
                    .collect::<Vec<_>>(),
            )?;
            deleted += tx.execute(
                "DELETE FROM logs WHERE end_ms < ?1 \
                 AND function NOT IN (SELECT value FROM json_each(?2))",
                params![default_before_ms, functions],
            )?;
            for (group, cutoff) in &kept {
                tx.execute(
                    "DELETE FROM log_events WHERE grp = ?1 AND timestamp_ms < ?2",
                    params![group, cutoff],
                )?;
                if let Some(function) = lambda_function(group) {
                    deleted += tx.execute(
                        "DELETE FROM logs WHERE function = ?1 AND end_ms < ?2",
                        params![function, cutoff],
                    )?;
                }
            }
            Ok(deleted as u64)
        })
    }
}

#[cfg(test)]
mod tests {
    use updraft_store::conformance::log_record;
    use updraft_store::Store;

    use super::*;

    /// A database from before schema 5 gets its invocation logs as events
    /// of their Lambda groups when it is opened.
    #[test]
    fn migration_fills_groups_from_stored_invocation_logs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("updraft.db");
        let store = SqliteStore::open(&path).unwrap();
        store
            .append_logs(&[
                log_record("f", "r1", 100, 200, false),
                log_record("g", "r2", 300, 400, true),
            ])
            .unwrap();
        drop(store);
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute_batch(
            "DROP TABLE log_events; DROP TABLE log_streams; DROP TABLE log_groups;
             PRAGMA user_version = 4;",
        )
        .unwrap();
        drop(raw);

        let store = SqliteStore::open(&path).unwrap();
        let groups: Vec<_> = store
            .list_log_groups("/aws/lambda/")
            .unwrap()
            .into_iter()
            .map(|g| (g.name, g.created_ms))
            .collect();
        assert_eq!(
            groups,
            [
                ("/aws/lambda/f".to_string(), 100),
                ("/aws/lambda/g".to_string(), 300)
            ]
        );
        let events = store
            .query_log_events(&LogEventQuery {
                group: "/aws/lambda/g".into(),
                ..LogEventQuery::default()
            })
            .unwrap();
        assert_eq!(
            events
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>(),
            ["START RequestId: r2\n", "hello\n", "REPORT RequestId: r2\n"]
        );
        assert_eq!(
            store
                .query_logs(&updraft_store::LogQuery {
                    function: "f".into(),
                    ..Default::default()
                })
                .unwrap()
                .len(),
            1,
            "the records stay"
        );
    }
}
