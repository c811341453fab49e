//! Usage records: idempotent batch inserts, and sums computed by SQLite.
//!
//! A summary is one `GROUP BY` over the records in the window (the
//! primary key, `(start_ms, request_id)`, or the `(function, start_ms)`
//! index finds them); time keys are
//! formatted by `strftime` in UTC from the floor of `start_ms / 1000`.

use rusqlite::types::Value;
use rusqlite::{params, Row};
use updraft_store::usage::MB_MS_PER_GB_SECOND;
use updraft_store::{Result, UsageGroup, UsageGroupRow, UsageQuery, UsageRecord};

use crate::SqliteStore;

const COLUMNS: &str = "function, version, request_id, start_ms, duration_us, billed_ms, \
                       memory_mb, init_duration_us, outcome, source";

pub(crate) fn append(store: &SqliteStore, records: &[UsageRecord]) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let key = format!("{} records", records.len());
    store.write("append_usage", &key, |tx| {
        let mut insert = tx.prepare_cached(&format!(
            "INSERT INTO usage ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
             ON CONFLICT (start_ms, request_id) DO NOTHING"
        ))?;
        for r in records {
            insert.execute(params![
                r.function,
                r.version,
                r.request_id,
                r.start_ms,
                r.duration_us,
                r.billed_ms,
                r.memory_mb,
                r.init_duration_us,
                r.outcome,
                r.trigger,
            ])?;
        }
        Ok(())
    })
}

/// The `WHERE` clause and its arguments for `query`.
fn window(query: &UsageQuery) -> (String, Vec<Value>) {
    let mut sql = String::from(" WHERE start_ms >= ? AND start_ms < ?");
    let mut args = vec![
        Value::Integer(query.since_ms),
        Value::Integer(query.until_ms),
    ];
    if let Some(f) = &query.function {
        sql.push_str(" AND function = ?");
        args.push(Value::Text(f.clone()));
    }
    (sql, args)
}

fn describe(query: &UsageQuery) -> String {
    format!(
        "{}..{} of {}",
        query.since_ms,
        query.until_ms,
        query.function.as_deref().unwrap_or("every function")
    )
}

fn record(row: &Row) -> rusqlite::Result<UsageRecord> {
    Ok(UsageRecord {
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
    })
}

pub(crate) fn query(
    store: &SqliteStore,
    query: &UsageQuery,
    limit: usize,
) -> Result<Vec<UsageRecord>> {
    let (filter, mut args) = window(query);
    // A negative LIMIT is no limit in SQLite.
    args.push(Value::Integer(match limit {
        0 => -1,
        n => i64::try_from(n).unwrap_or(i64::MAX),
    }));
    let sql = format!("SELECT {COLUMNS} FROM usage{filter} ORDER BY start_ms, request_id LIMIT ?");
    store.read("query_usage", &describe(query), |tx| {
        let mut stmt = tx.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), record)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    })
}

/// The seconds since the epoch of `start_ms`, rounded down (SQLite's `/`
/// truncates towards zero).
const START_SECONDS: &str = "(start_ms / 1000 - (start_ms % 1000 < 0))";

fn group_key(group: UsageGroup) -> String {
    let time = |format: &str| format!("strftime('{format}', {START_SECONDS}, 'unixepoch')");
    match group {
        UsageGroup::None => format!("'{}'", UsageGroup::ALL),
        UsageGroup::Function => "function".into(),
        UsageGroup::Hour => time("%Y-%m-%dT%H:00Z"),
        UsageGroup::Day => time("%Y-%m-%d"),
        UsageGroup::Month => time("%Y-%m"),
    }
}

pub(crate) fn summary(
    store: &SqliteStore,
    query: &UsageQuery,
    group: UsageGroup,
) -> Result<Vec<UsageGroupRow>> {
    let (filter, args) = window(query);
    // `ran` is 1 for records that are billed (every outcome but throttled).
    let sql = format!(
        "SELECT key,
                SUM(ran),
                SUM(ran AND outcome IN ('error', 'timeout')),
                SUM(ran AND outcome = 'timeout'),
                SUM(NOT ran),
                SUM(ran AND init_duration_us IS NOT NULL),
                SUM(ran * duration_us),
                SUM(ran * billed_ms),
                SUM(ran * IFNULL(init_duration_us, 0)),
                SUM(ran * memory_mb * billed_ms)
         FROM (SELECT {key} AS key, outcome != 'throttled' AS ran, outcome, duration_us,
                      billed_ms, memory_mb, init_duration_us
               FROM usage{filter})
         GROUP BY key ORDER BY key",
        key = group_key(group),
    );
    store.read("usage_summary", &describe(query), |tx| {
        let mut stmt = tx.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |row| {
            let mb_ms: u64 = row.get(9)?;
            Ok(UsageGroupRow {
                key: row.get(0)?,
                requests: row.get(1)?,
                errors: row.get(2)?,
                timeouts: row.get(3)?,
                throttles: row.get(4)?,
                cold_starts: row.get(5)?,
                duration_us: row.get(6)?,
                billed_ms: row.get(7)?,
                init_duration_us: row.get(8)?,
                mb_ms,
                gb_seconds: mb_ms as f64 / MB_MS_PER_GB_SECOND,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    })
}
