//! Usage records, stored in batches: one row per [`UsageBatch`], found by
//! its time range and decoded to answer queries and sums (see
//! `updraft_store::usage::UsageBatch` for the encoding).
//!
//! A query reads the batches whose `[min_start_ms, max_start_ms]`
//! overlaps its window (the index on `max_start_ms` finds the recent
//! ones) and filters their records exactly.

use rusqlite::types::Type;
use rusqlite::{params, Row, Transaction};
use updraft_store::usage::{frames, Selection, Summary};
use updraft_store::{Result, UsageBatch, UsageGroup, UsageGroupRow, UsageQuery, UsageRecord};

use crate::{Res, SqliteStore};

/// Stores `batch` unless a batch with its id is stored (ids are stored
/// as the same 64 bits, signed).
pub(crate) fn insert(tx: &Transaction, batch: &UsageBatch) -> rusqlite::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO usage_batches (id, min_start_ms, max_start_ms, records, frames)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO NOTHING",
    )?
    .execute(params![
        batch.id as i64,
        batch.min_start_ms,
        batch.max_start_ms,
        batch.records as i64,
        batch.frames
    ])?;
    Ok(())
}

pub(crate) fn append(store: &SqliteStore, batch: &UsageBatch) -> Result<()> {
    let key = format!("batch {:016x} of {} records", batch.id, batch.records);
    store.write("append_usage", &key, |tx| Ok(insert(tx, batch)?))
}

/// Column `i` of `row`, a blob, borrowed.
fn blob<'r>(row: &'r Row, i: usize) -> rusqlite::Result<&'r [u8]> {
    row.get_ref(i)?
        .as_blob()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Blob, Box::new(e)))
}

fn describe(query: &UsageQuery) -> String {
    format!(
        "{}..{} of {}",
        query.since_ms,
        query.until_ms,
        query.function.as_deref().unwrap_or("every function")
    )
}

/// Calls `each` with the frames of every batch that may hold records of
/// `query`'s window.
fn each_batch(tx: &Transaction, query: &UsageQuery, mut each: impl FnMut(&[u8])) -> Res<()> {
    let mut stmt = tx.prepare_cached(
        "SELECT frames FROM usage_batches WHERE max_start_ms >= ?1 AND min_start_ms < ?2",
    )?;
    let mut rows = stmt.query(params![query.since_ms, query.until_ms])?;
    while let Some(row) = rows.next()? {
        each(blob(row, 0)?);
    }
    Ok(())
}

pub(crate) fn query(
    store: &SqliteStore,
    query: &UsageQuery,
    limit: usize,
) -> Result<Vec<UsageRecord>> {
    store.read("query_usage", &describe(query), |tx| {
        let mut selection = Selection::new(query, limit);
        each_batch(tx, query, |bytes| {
            frames(bytes).for_each(|r| selection.add(&r));
        })?;
        Ok(selection.finish())
    })
}

pub(crate) fn summary(
    store: &SqliteStore,
    query: &UsageQuery,
    group: UsageGroup,
) -> Result<Vec<UsageGroupRow>> {
    store.read("usage_summary", &describe(query), |tx| {
        let mut summary = Summary::new(query, group);
        each_batch(tx, query, |bytes| {
            frames(bytes).for_each(|r| summary.add(&r));
        })?;
        Ok(summary.finish())
    })
}

/// Deletes the records that started before `before_ms`: batches wholly
/// older go, and a batch that straddles the cutoff is stored again with
/// its newer records only.
pub(crate) fn prune(store: &SqliteStore, before_ms: i64) -> Result<u64> {
    store.write("prune_usage", &format!("before {before_ms}"), |tx| {
        let mut deleted: u64 = tx.query_row(
            "SELECT IFNULL(SUM(records), 0) FROM usage_batches WHERE max_start_ms < ?1",
            [before_ms],
            |row| row.get::<_, i64>(0),
        )? as u64;
        tx.execute(
            "DELETE FROM usage_batches WHERE max_start_ms < ?1",
            [before_ms],
        )?;
        let mut straddling = Vec::new();
        {
            let mut stmt =
                tx.prepare("SELECT id, frames FROM usage_batches WHERE min_start_ms < ?1")?;
            let mut rows = stmt.query([before_ms])?;
            while let Some(row) = rows.next()? {
                let id = row.get::<_, i64>(0)? as u64;
                let kept = UsageBatch::from_records(
                    id,
                    frames(blob(row, 1)?).filter(|r| r.start_ms >= before_ms),
                );
                straddling.push(kept);
            }
        }
        for kept in straddling {
            let old: i64 = tx.query_row(
                "SELECT records FROM usage_batches WHERE id = ?1",
                [kept.id as i64],
                |row| row.get(0),
            )?;
            deleted += old as u64 - kept.records;
            tx.execute(
                "UPDATE usage_batches SET min_start_ms = ?2, max_start_ms = ?3, records = ?4,
                     frames = ?5 WHERE id = ?1",
                params![
                    kept.id as i64,
                    kept.min_start_ms,
                    kept.max_start_ms,
                    kept.records as i64,
                    kept.frames
                ],
            )?;
        }
        Ok(deleted)
    })
}
