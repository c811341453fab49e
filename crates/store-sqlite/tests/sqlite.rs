//! The SQLite store against the conformance suite, and what only a file
//! can show: persistence across reopening, WAL mode, schema versioning.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use updraft_store::conformance::{self, alias_config, function_config, log_record, url_config};
use updraft_store::{LogQuery, Store, StoreError};
use updraft_store_sqlite::{SqliteStore, SCHEMA_VERSION};
use updraft_types::{FunctionName, UrlAuthType, LATEST};

#[test]
fn conformance_on_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let n = AtomicUsize::new(0);
    conformance::run_all(&|| {
        let path = dir
            .path()
            .join(format!("store-{}.db", n.fetch_add(1, Ordering::Relaxed)));
        Box::new(SqliteStore::open(&path).unwrap())
    });
}

#[test]
fn conformance_in_memory() {
    conformance::run_all(&|| Box::new(SqliteStore::open_in_memory().unwrap()));
}

fn name(s: &str) -> FunctionName {
    FunctionName::new(s).unwrap()
}

#[test]
fn everything_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("updraft.db");
    let f = name("f");
    let (alias, url, live_url) = (
        alias_config("f", "live", "1"),
        url_config("f", None, UrlAuthType::None),
        url_config("f", Some("live"), UrlAuthType::AwsIam),
    );
    let (v1, logs) = {
        let store = SqliteStore::open(&path).unwrap();
        store.create_function(&function_config("f", "r0")).unwrap();
        let v1 = store.publish_version(&function_config("f", "r1")).unwrap();
        store.publish_version(&function_config("f", "r2")).unwrap();
        store.delete_version(&f, "2").unwrap();
        store.update_latest(&function_config("f", "r3")).unwrap();
        store.put_alias(&alias, false).unwrap();
        store.put_url_config(&url, false).unwrap();
        store.put_url_config(&live_url, false).unwrap();
        store
            .append_logs(&[
                log_record("f", "a", 1, 2, false),
                log_record("f", "b", 3, 4, true),
            ])
            .unwrap();
        let logs = store
            .query_logs(&LogQuery {
                function: "f".into(),
                ..Default::default()
            })
            .unwrap();
        (v1, logs)
    };

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.get_version(&f, LATEST).unwrap(),
        Some(function_config("f", "r3"))
    );
    assert_eq!(store.get_version(&f, "1").unwrap(), Some(v1));
    assert_eq!(store.get_version(&f, "2").unwrap(), None);
    assert_eq!(store.list_aliases(&f).unwrap(), [alias]);
    assert_eq!(store.list_url_configs(&f).unwrap(), [url, live_url]);
    let reread = store
        .query_logs(&LogQuery {
            function: "f".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(reread, logs);

    // The version counter is persisted: 2 was deleted, the next is 3.
    assert_eq!(
        store
            .publish_version(&function_config("f", "r4"))
            .unwrap()
            .version,
        "3"
    );
    // So is the log sequence, after pruning everything.
    assert_eq!(store.prune_logs(i64::MAX).unwrap(), 2);
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    store
        .append_logs(&[log_record("f", "c", 5, 6, false)])
        .unwrap();
    let after = store
        .query_logs(&LogQuery {
            function: "f".into(),
            ..Default::default()
        })
        .unwrap();
    assert!(
        after[0].seq > logs[1].seq,
        "seqs are not reused across reopening"
    );
}

#[test]
fn the_file_is_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("updraft.db");
    let store = SqliteStore::open(&path).unwrap();
    store.create_function(&function_config("f", "r0")).unwrap();

    // WAL mode is a property of the file, visible to any other connection.
    let other = rusqlite::Connection::open(&path).unwrap();
    let mode: String = other
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert!(
        wal_path(&path).exists(),
        "the write-ahead log sits beside the database"
    );
    // A committed write is readable by another connection at once.
    let count: i64 = other
        .query_row("SELECT count(*) FROM functions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 1);
}

fn wal_path(db: &Path) -> std::path::PathBuf {
    let mut name = db.file_name().unwrap().to_os_string();
    name.push("-wal");
    db.with_file_name(name)
}

#[test]
fn the_schema_version_is_recorded_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("updraft.db");
    drop(SqliteStore::open(&path).unwrap());

    let raw = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = raw
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);

    // Reopening an up-to-date file migrates nothing and keeps working.
    SqliteStore::open(&path)
        .unwrap()
        .create_function(&function_config("f", "r0"))
        .unwrap();

    raw.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(raw);
    match SqliteStore::open(&path) {
        Err(StoreError::Backend(msg)) => {
            assert!(
                msg.contains(&path.display().to_string()),
                "names the file: {msg}"
            );
            assert!(
                msg.contains(&format!("schema version {}", SCHEMA_VERSION + 1)),
                "{msg}"
            );
        }
        other => panic!("a newer schema must be refused, got {other:?}"),
    }
}

#[test]
fn backend_errors_say_what_failed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("updraft.db");
    match SqliteStore::open(&path) {
        Err(StoreError::Backend(msg)) => {
            assert!(msg.contains("missing-dir"), "names the file: {msg}");
            assert!(msg.contains("sqlite:"), "carries the sqlite error: {msg}");
        }
        other => panic!("opening in a missing directory must fail, got {other:?}"),
    }

    let path = dir.path().join("updraft.db");
    let store = SqliteStore::open(&path).unwrap();
    store.create_function(&function_config("f", "r0")).unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute(
        "UPDATE functions SET latest = '{not json' WHERE name = 'f'",
        [],
    )
    .unwrap();
    match store.get_version(&name("f"), LATEST) {
        Err(StoreError::Backend(msg)) => {
            assert!(
                msg.contains("get_version(f:$LATEST)"),
                "names the call and key: {msg}"
            );
            assert!(msg.contains("does not decode"), "{msg}");
        }
        other => panic!("a corrupt record must be a backend error, got {other:?}"),
    }
}

/// A schema-2 file kept one row per usage record; opening it moves them
/// into batches, every field intact, and drops the old table.
#[test]
fn usage_rows_of_schema_2_move_into_batches() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("updraft.db");
    drop(SqliteStore::open(&path).unwrap());
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch(
        "DROP TABLE usage_batches;
         DROP TABLE policies;
         CREATE TABLE usage (
            start_ms INTEGER NOT NULL, request_id TEXT NOT NULL, function TEXT NOT NULL,
            version TEXT NOT NULL, duration_us INTEGER NOT NULL, billed_ms INTEGER NOT NULL,
            memory_mb INTEGER NOT NULL, init_duration_us INTEGER, outcome TEXT NOT NULL,
            source TEXT NOT NULL, PRIMARY KEY (start_ms, request_id)) STRICT, WITHOUT ROWID;
         PRAGMA user_version = 2;",
    )
    .unwrap();
    let n = 5000;
    for i in 0..n {
        raw.execute(
            "INSERT INTO usage VALUES (?1, ?2, ?3, '$LATEST', 1500, 2, 128, ?4, 'success', 'url')",
            rusqlite::params![
                i64::from(i) * 10,
                format!("r{i:05}"),
                if i % 2 == 0 { "f" } else { "g" },
                (i == 7).then_some(300i64)
            ],
        )
        .unwrap();
    }
    drop(raw);

    let store = SqliteStore::open(&path).unwrap();
    let all = store
        .query_usage(&updraft_store::UsageQuery::default(), 0)
        .unwrap();
    assert_eq!(all.len(), n as usize);
    assert_eq!(all[7].request_id, "r00007");
    assert_eq!(all[7].init_duration_us, Some(300));
    assert_eq!(all[7].function, "g");
    assert_eq!((all[9].start_ms, all[9].trigger.as_str()), (90, "url"));
    let summary = store
        .usage_summary(
            &updraft_store::UsageQuery::default(),
            updraft_store::UsageGroup::Function,
        )
        .unwrap();
    assert_eq!(
        summary
            .iter()
            .map(|r| (r.key.as_str(), r.requests, r.mb_ms))
            .collect::<Vec<_>>(),
        [("f", 2500, 2500 * 256), ("g", 2500, 2500 * 256)]
    );
    drop(store);
    let raw = rusqlite::Connection::open(&path).unwrap();
    let batches: i64 = raw
        .query_row("SELECT COUNT(*) FROM usage_batches", [], |r| r.get(0))
        .unwrap();
    assert_eq!(batches, 2, "{n} records in batches of 4096");
    let old: i64 = raw
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'usage'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(old, 0, "the old table is gone");
}

/// A policy is on disk when `put_policy` returns: a store opened again on
/// the same file reads it back.
#[test]
fn policies_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("updraft.db");
    let policy = updraft_store::conformance::function_policy("f", Some("live"), "r1");
    {
        let store = SqliteStore::open(&path).unwrap();
        store
            .create_function(&updraft_store::conformance::function_config("f", "r0"))
            .unwrap();
        store.put_policy(&policy).unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.get_policy(&policy.function, Some("live")).unwrap(),
        Some(policy)
    );
}
