//! SQLite storage of tables, items, index entries, stream records and
//! transaction tokens: one database per account (`tables.db`, WAL,
//! `synchronous=FULL`, so a committed write is on disk).
//!
//! ```text
//! tables    (name) -> TableMeta JSON, id
//! items     (tbl, pk, sk) -> item JSON, size, h      + index (tbl, h, pk, sk)
//! idx_items (tbl, idx, ipk, isk, pk, sk), h          + index (tbl, idx, h, ...)
//! stream    seq -> (tbl, record JSON, at)
//! counts    (tbl, idx) -> items, bytes                ('' for the table itself)
//! tokens    ClientRequestToken -> digest, time, output
//! ```
//!
//! Keys are stored with an order-preserving encoding ([`key_bytes`]): a
//! string's UTF-8 bytes, a binary's bytes, a number's
//! [`Number::key_bytes`], so SQLite's `memcmp` order on `sk` is DynamoDB's
//! range-key order and Query is an index range scan. `h` is a hash of the
//! partition key; scans run in `(h, pk, sk)` order, and a parallel scan's
//! segment is a range of `h`. Every change of an item goes through
//! [`write_item`], which updates the item, its index entries and the
//! stream in the caller's transaction.

use std::path::Path;

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use crate::error::TablesError;
use crate::number::Number;
use crate::schema::{Counts, IndexMeta, KeySchema, TableMeta};
use crate::value::{item_size, map_from_json, map_to_json, AttrValue, Item};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tables (name TEXT PRIMARY KEY, id INTEGER NOT NULL UNIQUE, meta TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (tbl INTEGER NOT NULL, pk BLOB NOT NULL, sk BLOB NOT NULL,
  h INTEGER NOT NULL, size INTEGER NOT NULL, item TEXT NOT NULL, ttl REAL, PRIMARY KEY (tbl, pk, sk)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_ttl ON items (tbl, ttl) WHERE ttl IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_scan ON items (tbl, h, pk, sk);
CREATE TABLE IF NOT EXISTS idx_items (tbl INTEGER NOT NULL, idx TEXT NOT NULL, ipk BLOB NOT NULL,
  isk BLOB NOT NULL, pk BLOB NOT NULL, sk BLOB NOT NULL, h INTEGER NOT NULL,
  PRIMARY KEY (tbl, idx, ipk, isk, pk, sk)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_items_scan ON idx_items (tbl, idx, h, ipk, isk, pk, sk);
CREATE TABLE IF NOT EXISTS stream (seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl INTEGER NOT NULL,
  at REAL NOT NULL, rec TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS stream_tbl ON stream (tbl, seq);
CREATE TABLE IF NOT EXISTS counts (tbl INTEGER NOT NULL, idx TEXT NOT NULL, items INTEGER NOT NULL,
  bytes INTEGER NOT NULL, PRIMARY KEY (tbl, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, digest TEXT NOT NULL, at REAL NOT NULL,
  output TEXT NOT NULL);
";

/// Opens (creating) the account's database.
pub fn open(dir: &Path) -> Result<Connection, TablesError> {
    std::fs::create_dir_all(dir).map_err(|source| TablesError::Io {
        context: format!("creating the tables directory {}", dir.display()),
        source,
    })?;
    let conn =
        Connection::open(dir.join("tables.db")).map_err(TablesError::db("opening tables.db"))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(TablesError::db("setting WAL mode"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(TablesError::Corrupt(format!(
            "tables.db refused WAL mode ({mode})"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .and_then(|()| conn.busy_timeout(std::time::Duration::from_secs(10)))
        .and_then(|()| conn.execute_batch(SCHEMA))
        .map_err(TablesError::db("creating the tables schema"))?;
    Ok(conn)
}

/// Opens a read-only connection to a database `open` created. Reads on it
/// see every committed (so every acknowledged) write.
pub fn open_reader(dir: &Path) -> Result<Connection, TablesError> {
    let conn = Connection::open_with_flags(
        dir.join("tables.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(TablesError::db("opening tables.db for reading"))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(TablesError::db("opening tables.db for reading"))?;
    Ok(conn)
}

/// The order-preserving encoding of a key value.
pub fn key_bytes(value: &AttrValue) -> Vec<u8> {
    match value {
        AttrValue::S(s) => s.as_bytes().to_vec(),
        AttrValue::B(b) => b.clone(),
        AttrValue::N(n) => n.key_bytes(),
        _ => Vec::new(),
    }
}

/// The scan hash of an encoded partition key (FNV-1a, 32 bits).
pub fn scan_hash(pk: &[u8]) -> i64 {
    let mut h: u32 = 0x811c_9dc5;
    for b in pk {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    i64::from(h)
}

/// Encoded (pk, sk) of an item or key under a key schema; `None` when the
/// item lacks one of the key attributes or has the wrong type.
pub fn encode_key(schema: &KeySchema, item: &Item) -> Option<(Vec<u8>, Vec<u8>)> {
    let part = |attr: &crate::schema::KeyAttr| {
        item.get(&attr.name)
            .filter(|v| v.type_name() == attr.kind)
            .map(key_bytes)
    };
    let pk = part(&schema.hash)?;
    let sk = match &schema.range {
        Some(range) => part(range)?,
        None => Vec::new(),
    };
    Some((pk, sk))
}

pub fn parse_item(text: &str) -> Result<Item, TablesError> {
    let json: Value =
        serde_json::from_str(text).map_err(|e| TablesError::Corrupt(e.to_string()))?;
    match json {
        Value::Object(map) => map_from_json(&map),
        _ => Err(TablesError::Corrupt("stored item is not an object".into())),
    }
}

/// Every table, by name.
pub fn list_tables(conn: &Connection) -> Result<Vec<TableMeta>, TablesError> {
    let mut stmt = conn
        .prepare_cached("SELECT meta FROM tables ORDER BY name")
        .map_err(TablesError::db("listing tables"))?;
    let rows = stmt
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(TablesError::db("listing tables"))?;
    let mut out = Vec::new();
    for row in rows {
        let text = row.map_err(TablesError::db("listing tables"))?;
        out.push(serde_json::from_str(&text).map_err(|e| TablesError::Corrupt(e.to_string()))?);
    }
    Ok(out)
}

/// One table's definition.
pub fn load_table(conn: &Connection, name: &str) -> Result<Option<TableMeta>, TablesError> {
    let text: Option<String> = conn
        .prepare_cached("SELECT meta FROM tables WHERE name = ?1")
        .and_then(|mut s| s.query_row([name], |row| row.get(0)).optional())
        .map_err(TablesError::db("reading a table"))?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| TablesError::Corrupt(e.to_string())))
        .transpose()
}

/// A table's definition or DynamoDB's not-found error.
pub fn require_table(conn: &Connection, name: &str) -> Result<TableMeta, TablesError> {
    load_table(conn, name)?
        .ok_or_else(|| TablesError::ResourceNotFound("Requested resource not found".into()))
}

/// The next free table id.
pub fn next_table_id(conn: &Connection) -> Result<i64, TablesError> {
    conn.query_row("SELECT coalesce(max(id), 0) + 1 FROM tables", [], |row| {
        row.get(0)
    })
    .map_err(TablesError::db("allocating a table id"))
}

/// Inserts or replaces a table's definition.
pub fn save_table(conn: &Connection, meta: &TableMeta) -> Result<(), TablesError> {
    let text = serde_json::to_string(meta).map_err(|e| TablesError::Corrupt(e.to_string()))?;
    conn.prepare_cached("INSERT OR REPLACE INTO tables (name, id, meta) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![meta.name, meta.id, text]))
        .map_err(TablesError::db("saving a table"))?;
    Ok(())
}

/// Removes a table with its items, index entries and stream.
pub fn drop_table(conn: &Connection, meta: &TableMeta) -> Result<(), TablesError> {
    for sql in [
        "DELETE FROM items WHERE tbl = ?1",
        "DELETE FROM idx_items WHERE tbl = ?1",
        "DELETE FROM counts WHERE tbl = ?1",
        "DELETE FROM stream WHERE tbl = ?1",
        "DELETE FROM tables WHERE id = ?1",
    ] {
        conn.execute(sql, [meta.id])
            .map_err(TablesError::db("deleting a table"))?;
    }
    Ok(())
}

/// Item count and size of the table (`index` None) or of one index, kept
/// up to date by every write (so DescribeTable does not count rows).
pub fn counts(
    conn: &Connection,
    meta: &TableMeta,
    index: Option<&str>,
) -> Result<Counts, TablesError> {
    conn.prepare_cached("SELECT items, bytes FROM counts WHERE tbl = ?1 AND idx = ?2")
        .and_then(|mut s| {
            s.query_row(params![meta.id, index.unwrap_or("")], |r| {
                Ok(Counts {
                    items: r.get(0)?,
                    bytes: r.get(1)?,
                })
            })
            .optional()
        })
        .map(Option::unwrap_or_default)
        .map_err(TablesError::db("reading item counts"))
}

/// Adds to the item count and size of a table (`idx` "") or index.
fn bump(conn: &Connection, tbl: i64, idx: &str, items: i64, bytes: i64) -> Result<(), TablesError> {
    if items == 0 && bytes == 0 {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO counts (tbl, idx, items, bytes) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (tbl, idx) DO UPDATE SET items = items + excluded.items, bytes = bytes + excluded.bytes",
    )
    .and_then(|mut s| s.execute(params![tbl, idx, items, bytes]))
    .map_err(TablesError::db("updating item counts"))?;
    Ok(())
}

/// The item with this primary key (a validated `Key`).
pub fn get_item(
    conn: &Connection,
    meta: &TableMeta,
    key: &Item,
) -> Result<Option<Item>, TablesError> {
    let Some((pk, sk)) = encode_key(&meta.key, key) else {
        return Ok(None);
    };
    let text: Option<String> = conn
        .prepare_cached("SELECT item FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3")
        .and_then(|mut s| {
            s.query_row(params![meta.id, pk, sk], |row| row.get(0))
                .optional()
        })
        .map_err(TablesError::db("reading an item"))?;
    text.map(|t| parse_item(&t)).transpose()
}

/// Who made a change, for the stream record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    User,
    /// A TTL deletion by the service.
    Ttl,
}

/// Replaces `old` by `new` (either may be absent) in the table, its
/// indexes and its stream. `old` must be the item currently stored.
pub fn write_item(
    conn: &Connection,
    meta: &TableMeta,
    old: Option<&Item>,
    new: Option<&Item>,
    actor: Actor,
) -> Result<(), TablesError> {
    let db = TablesError::db("writing an item");
    let Some((pk, sk)) = new.or(old).and_then(|i| encode_key(&meta.key, i)) else {
        return Ok(());
    };
    match new {
        Some(item) => {
            let text = map_to_json(item).to_string();
            conn.prepare_cached(
                "INSERT OR REPLACE INTO items (tbl, pk, sk, h, size, item, ttl) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                let ttl = meta.ttl_attr.as_deref().and_then(|a| ttl_seconds(item, a));
                s.execute(params![meta.id, pk, sk, scan_hash(&pk), item_size(item) as i64, text, ttl])
            })
            .map_err(db)?;
        }
        None => {
            conn.prepare_cached("DELETE FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3")
                .and_then(|mut s| s.execute(params![meta.id, pk, sk]))
                .map_err(db)?;
        }
    }
    let old_size = old.map_or(0, item_size) as i64;
    let new_size = new.map_or(0, item_size) as i64;
    bump(
        conn,
        meta.id,
        "",
        i64::from(new.is_some()) - i64::from(old.is_some()),
        new_size - old_size,
    )?;
    for index in &meta.indexes {
        let before = old.and_then(|i| encode_key(&index.key, i));
        let after = new.and_then(|i| encode_key(&index.key, i));
        let (was, is) = (before.is_some(), after.is_some());
        let bytes = if is { new_size } else { 0 } - if was { old_size } else { 0 };
        bump(
            conn,
            meta.id,
            &index.name,
            i64::from(is) - i64::from(was),
            bytes,
        )?;
        if before == after {
            continue;
        }
        if let Some((ipk, isk)) = before {
            conn.prepare_cached(
                "DELETE FROM idx_items WHERE tbl = ?1 AND idx = ?2 AND ipk = ?3 AND isk = ?4 AND pk = ?5 AND sk = ?6",
            )
            .and_then(|mut s| s.execute(params![meta.id, index.name, ipk, isk, pk, sk]))
            .map_err(TablesError::db("updating an index"))?;
        }
        if let Some((ipk, isk)) = after {
            insert_index_entry(conn, meta, index, &ipk, &isk, &pk, &sk)?;
        }
    }
    if meta.stream.is_some() && (old.is_some() || new.is_some()) {
        append_stream(conn, meta, old, new, actor)?;
    }
    Ok(())
}

fn insert_index_entry(
    conn: &Connection,
    meta: &TableMeta,
    index: &IndexMeta,
    ipk: &[u8],
    isk: &[u8],
    pk: &[u8],
    sk: &[u8],
) -> Result<(), TablesError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO idx_items (tbl, idx, ipk, isk, pk, sk, h) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| s.execute(params![meta.id, index.name, ipk, isk, pk, sk, scan_hash(ipk)]))
    .map_err(TablesError::db("updating an index"))?;
    Ok(())
}

/// Fills a new index from the table's items (UpdateTable's backfill).
pub fn backfill_index(
    conn: &Connection,
    meta: &TableMeta,
    index: &IndexMeta,
) -> Result<(), TablesError> {
    let mut stmt = conn
        .prepare("SELECT pk, sk, item FROM items WHERE tbl = ?1")
        .map_err(TablesError::db("backfilling an index"))?;
    let mut rows = stmt
        .query([meta.id])
        .map_err(TablesError::db("backfilling an index"))?;
    while let Some(row) = rows
        .next()
        .map_err(TablesError::db("backfilling an index"))?
    {
        let (pk, sk, text): (Vec<u8>, Vec<u8>, String) = (row.get(0), row.get(1), row.get(2))
            .try_into_tuple()
            .map_err(TablesError::db("backfilling an index"))?;
        let item = parse_item(&text)?;
        if let Some((ipk, isk)) = encode_key(&index.key, &item) {
            insert_index_entry(conn, meta, index, &ipk, &isk, &pk, &sk)?;
            bump(conn, meta.id, &index.name, 1, item_size(&item) as i64)?;
        }
    }
    Ok(())
}

/// Removes an index's entries (UpdateTable Delete).
pub fn drop_index(conn: &Connection, meta: &TableMeta, index: &str) -> Result<(), TablesError> {
    for sql in [
        "DELETE FROM idx_items WHERE tbl = ?1 AND idx = ?2",
        "DELETE FROM counts WHERE tbl = ?1 AND idx = ?2",
    ] {
        conn.execute(sql, params![meta.id, index])
            .map_err(TablesError::db("deleting an index"))?;
    }
    Ok(())
}

trait TryTuple<A, B, C> {
    fn try_into_tuple(self) -> rusqlite::Result<(A, B, C)>;
}

impl<A, B, C> TryTuple<A, B, C>
    for (
        rusqlite::Result<A>,
        rusqlite::Result<B>,
        rusqlite::Result<C>,
    )
{
    fn try_into_tuple(self) -> rusqlite::Result<(A, B, C)> {
        Ok((self.0?, self.1?, self.2?))
    }
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn append_stream(
    conn: &Connection,
    meta: &TableMeta,
    old: Option<&Item>,
    new: Option<&Item>,
    actor: Actor,
) -> Result<(), TablesError> {
    let Some(stream) = &meta.stream else {
        return Ok(());
    };
    let event = match (old, new) {
        (None, Some(_)) => "INSERT",
        (Some(_), Some(_)) => "MODIFY",
        _ => "REMOVE",
    };
    let keys = new.or(old).map(|i| meta.key_of(i)).unwrap_or_default();
    let at = now_secs();
    let mut record = json!({
        "eventName": event,
        "eventSource": "aws:dynamodb",
        "eventVersion": "1.1",
        "dynamodb": {
            "ApproximateCreationDateTime": at.floor(),
            "Keys": map_to_json(&keys),
            "StreamViewType": stream.view_type,
        },
    });
    let view = stream.view_type.as_str();
    let mut size = item_size(&keys);
    if let (Some(item), "NEW_IMAGE" | "NEW_AND_OLD_IMAGES") = (new, view) {
        record["dynamodb"]["NewImage"] = map_to_json(item);
        size += item_size(item);
    }
    if let (Some(item), "OLD_IMAGE" | "NEW_AND_OLD_IMAGES") = (old, view) {
        record["dynamodb"]["OldImage"] = map_to_json(item);
        size += item_size(item);
    }
    record["dynamodb"]["SizeBytes"] = json!(size);
    if actor == Actor::Ttl {
        record["userIdentity"] =
            json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
    }
    conn.prepare_cached("INSERT INTO stream (tbl, at, rec) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![meta.id, at, record.to_string()]))
        .map_err(TablesError::db("appending a stream record"))?;
    Ok(())
}

/// Stream records of a table after `after` (a sequence number), oldest
/// first, each with its `SequenceNumber` and `eventID` filled in.
pub fn stream_records(
    conn: &Connection,
    meta: &TableMeta,
    after: u64,
    limit: usize,
) -> Result<Vec<Value>, TablesError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, rec FROM stream WHERE tbl = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )
        .map_err(TablesError::db("reading the stream"))?;
    let rows = stmt
        .query_map(params![meta.id, after as i64, limit as i64], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })
        .map_err(TablesError::db("reading the stream"))?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, text) = row.map_err(TablesError::db("reading the stream"))?;
        let mut record: Value =
            serde_json::from_str(&text).map_err(|e| TablesError::Corrupt(e.to_string()))?;
        let sequence = format!("{seq:021}");
        record["eventID"] = json!(format!("{:032x}", seq));
        record["awsRegion"] = json!(meta.arn.split(':').nth(3).unwrap_or_default());
        record["eventSourceARN"] = json!(meta
            .stream
            .as_ref()
            .map(|s| format!("{}/stream/{}", meta.arn, s.label))
            .unwrap_or_default());
        record["dynamodb"]["SequenceNumber"] = json!(sequence);
        out.push(record);
    }
    Ok(out)
}

/// Runs `f` on every row `(item JSON, size)` a query returns, until it
/// says stop.
pub fn for_each_item(
    conn: &Connection,
    sql: &str,
    args: &[SqlValue],
    mut f: impl FnMut(Item, usize) -> Result<bool, TablesError>,
) -> Result<(), TablesError> {
    let mut stmt = conn
        .prepare_cached(sql)
        .map_err(TablesError::db("reading items"))?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(args.iter()))
        .map_err(TablesError::db("reading items"))?;
    while let Some(row) = rows.next().map_err(TablesError::db("reading items"))? {
        let text: String = row.get(0).map_err(TablesError::db("reading items"))?;
        let size: i64 = row.get(1).map_err(TablesError::db("reading items"))?;
        if !f(parse_item(&text)?, size as usize)? {
            break;
        }
    }
    Ok(())
}

/// Whether a stored token exists, and its digest and output.
pub fn token(
    conn: &Connection,
    token: &str,
    since: f64,
) -> Result<Option<(String, Value)>, TablesError> {
    let row: Option<(String, String)> = conn
        .prepare_cached("SELECT digest, output FROM tokens WHERE token = ?1 AND at >= ?2")
        .and_then(|mut s| {
            s.query_row(params![token, since], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(TablesError::db("reading a request token"))?;
    row.map(|(d, o)| {
        Ok((
            d,
            serde_json::from_str(&o).map_err(|e| TablesError::Corrupt(e.to_string()))?,
        ))
    })
    .transpose()
}

/// Records a token's digest and output; forgets tokens older than `expired`.
pub fn save_token(
    conn: &Connection,
    token: &str,
    digest: &str,
    output: &Value,
    expired: f64,
) -> Result<(), TablesError> {
    conn.execute("DELETE FROM tokens WHERE at < ?1", [expired])
        .and_then(|_| {
            conn.execute(
                "INSERT OR REPLACE INTO tokens (token, digest, at, output) VALUES (?1, ?2, ?3, ?4)",
                params![token, digest, now_secs(), output.to_string()],
            )
        })
        .map_err(TablesError::db("saving a request token"))?;
    Ok(())
}

/// Recomputes every item's expiry time after the TTL attribute changed
/// (`meta.ttl_attr` is the new setting).
pub fn reindex_ttl(conn: &Connection, meta: &TableMeta) -> Result<(), TablesError> {
    let db = TablesError::db("indexing expiry times");
    let Some(attr) = &meta.ttl_attr else {
        conn.execute(
            "UPDATE items SET ttl = NULL WHERE tbl = ?1 AND ttl IS NOT NULL",
            [meta.id],
        )
        .map_err(db)?;
        return Ok(());
    };
    let mut updates = Vec::new();
    {
        let mut stmt = conn
            .prepare("SELECT pk, sk, item FROM items WHERE tbl = ?1")
            .map_err(TablesError::db("indexing expiry times"))?;
        let mut rows = stmt
            .query([meta.id])
            .map_err(TablesError::db("indexing expiry times"))?;
        while let Some(row) = rows
            .next()
            .map_err(TablesError::db("indexing expiry times"))?
        {
            let (pk, sk, text): (Vec<u8>, Vec<u8>, String) = (row.get(0), row.get(1), row.get(2))
                .try_into_tuple()
                .map_err(TablesError::db("indexing expiry times"))?;
            updates.push((pk, sk, ttl_seconds(&parse_item(&text)?, attr)));
        }
    }
    for (pk, sk, ttl) in updates {
        conn.execute(
            "UPDATE items SET ttl = ?4 WHERE tbl = ?1 AND pk = ?2 AND sk = ?3",
            params![meta.id, pk, sk, ttl],
        )
        .map_err(TablesError::db("indexing expiry times"))?;
    }
    Ok(())
}

/// Forgets stream records older than `before` (epoch seconds).
pub fn trim_stream(conn: &Connection, before: f64) -> Result<usize, TablesError> {
    conn.execute("DELETE FROM stream WHERE at < ?1", [before])
        .map_err(TablesError::db("trimming streams"))
}

/// Numbers in TTL attributes: the attribute's value as seconds, if a number.
pub fn ttl_seconds(item: &Item, attr: &str) -> Option<f64> {
    match item.get(attr) {
        Some(AttrValue::N(n)) => Some(Number::to_f64(n)),
        _ => None,
    }
}

pub fn now() -> f64 {
    now_secs()
}
