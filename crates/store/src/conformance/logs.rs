//! Checks of invocation logs, and of concurrent writers.

use super::*;

fn query(function: &str) -> LogQuery {
    LogQuery {
        function: function.into(),
        ..LogQuery::default()
    }
}

fn request_ids(records: &[LogRecord]) -> Vec<&str> {
    records.iter().map(|r| r.request_id.as_str()).collect()
}

/// `append_logs` assigns increasing `seq`s in slice order and stores every
/// other field as given.
pub fn append_logs_assigns_seq(store: &dyn Store) {
    store.append_logs(&[]).expect("appending nothing is fine");
    assert!(
        store.query_logs(&query("f")).unwrap().is_empty(),
        "a new store has no logs"
    );

    let mut first = vec![
        log_record("f", "a", 100, 110, false),
        log_record("f", "b", 120, 130, true),
        log_record("g", "c", 140, 150, false),
    ];
    first[1].seq = 999; // ignored: the store assigns seqs
    store.append_logs(&first).expect("append_logs");
    store
        .append_logs(&[log_record("f", "d", 160, 170, false)])
        .unwrap();

    let got = store.query_logs(&query("f")).unwrap();
    assert_eq!(
        request_ids(&got),
        ["a", "b", "d"],
        "query returns the function's records, oldest first"
    );
    assert!(got[0].seq > 0, "assigned seqs are positive");
    assert!(
        got.windows(2).all(|w| w[0].seq < w[1].seq),
        "seqs increase in append order: {got:?}"
    );
    for (stored, given) in got.iter().zip([&first[0], &first[1]]) {
        let mut expected = given.clone();
        expected.seq = stored.seq;
        assert_eq!(stored, &expected, "every field but seq is stored as given");
    }
    let g = store.query_logs(&query("g")).unwrap();
    assert_eq!(request_ids(&g), ["c"], "records are per function");
    assert!(
        got[1].seq < g[0].seq && g[0].seq < got[2].seq,
        "seqs follow append order across functions"
    );
    assert!(
        store.query_logs(&query("unknown")).unwrap().is_empty(),
        "a function without records has no logs"
    );
}

/// Every `LogQuery` filter, alone and combined; results are oldest first.
pub fn query_logs_filters(store: &dyn Store) {
    // request, start, end, error
    let rows = [
        ("r1", 1_000, 1_100, false),
        ("r2", 2_000, 2_500, true),
        ("r3", 3_000, 3_100, false),
        ("r4", 4_000, 4_900, true),
        ("r5", 5_000, 5_100, false),
    ];
    let records: Vec<LogRecord> = rows
        .iter()
        .map(|&(id, s, e, err)| log_record("f", id, s, e, err))
        .collect();
    store.append_logs(&records).unwrap();
    store
        .append_logs(&[log_record("g", "r2", 2_000, 2_500, true)])
        .unwrap();
    let all = store.query_logs(&query("f")).unwrap();
    assert_eq!(
        request_ids(&all),
        ["r1", "r2", "r3", "r4", "r5"],
        "oldest first"
    );
    let seq = |id: &str| all.iter().find(|r| r.request_id == id).unwrap().seq;

    let run = |q: LogQuery| request_ids(&store.query_logs(&q).unwrap()).join(",");
    let q = query("f");

    assert_eq!(
        run(LogQuery {
            after_seq: Some(seq("r2")),
            ..q.clone()
        }),
        "r3,r4,r5",
        "after_seq is exclusive"
    );
    assert_eq!(
        run(LogQuery {
            after_seq: Some(seq("r5")),
            ..q.clone()
        }),
        "",
        "nothing after the last seq"
    );
    assert_eq!(
        run(LogQuery {
            after_seq: Some(0),
            ..q.clone()
        }),
        "r1,r2,r3,r4,r5",
        "after_seq 0 is everything"
    );

    assert_eq!(
        run(LogQuery {
            since_ms: Some(2_500),
            ..q.clone()
        }),
        "r2,r3,r4,r5",
        "since_ms: ended at or after"
    );
    assert_eq!(
        run(LogQuery {
            since_ms: Some(2_501),
            ..q.clone()
        }),
        "r3,r4,r5",
        "since_ms compares end_ms"
    );
    assert_eq!(
        run(LogQuery {
            until_ms: Some(3_000),
            ..q.clone()
        }),
        "r1,r2,r3",
        "until_ms: started at or before"
    );
    assert_eq!(
        run(LogQuery {
            until_ms: Some(2_999),
            ..q.clone()
        }),
        "r1,r2",
        "until_ms compares start_ms"
    );
    assert_eq!(
        run(LogQuery {
            since_ms: Some(2_400),
            until_ms: Some(4_000),
            ..q.clone()
        }),
        "r2,r3,r4",
        "since_ms and until_ms select overlapping invocations"
    );

    assert_eq!(
        run(LogQuery {
            request_id: Some("r3".into()),
            ..q.clone()
        }),
        "r3",
        "request_id matches exactly"
    );
    assert_eq!(
        run(LogQuery {
            request_id: Some("r".into()),
            ..q.clone()
        }),
        "",
        "request_id is not a prefix"
    );
    assert_eq!(
        run(LogQuery {
            errors_only: true,
            ..q.clone()
        }),
        "r2,r4",
        "errors_only"
    );

    assert_eq!(
        run(LogQuery {
            limit: 2,
            ..q.clone()
        }),
        "r1,r2",
        "limit keeps the oldest"
    );
    assert_eq!(
        run(LogQuery {
            limit: 0,
            ..q.clone()
        }),
        "r1,r2,r3,r4,r5",
        "limit 0 is no limit"
    );
    assert_eq!(
        run(LogQuery {
            limit: 10,
            ..q.clone()
        }),
        "r1,r2,r3,r4,r5",
        "a large limit returns all"
    );
    assert_eq!(
        run(LogQuery {
            after_seq: Some(seq("r1")),
            limit: 2,
            ..q.clone()
        }),
        "r2,r3",
        "limit applies after after_seq (following in pages)"
    );
    assert_eq!(
        run(LogQuery {
            errors_only: true,
            since_ms: Some(3_000),
            limit: 5,
            ..q.clone()
        }),
        "r4",
        "filters combine"
    );
    assert_eq!(
        run(LogQuery {
            errors_only: true,
            limit: 1,
            ..q.clone()
        }),
        "r2",
        "limit applies after filters"
    );
    assert_eq!(
        run(LogQuery {
            request_id: Some("r2".into()),
            ..query("g")
        }),
        "r2",
        "the same request id under another function is separate"
    );
}

/// `prune_logs` deletes records that ended before the cutoff and returns
/// how many; seqs are not reused afterwards.
pub fn prune_logs(store: &dyn Store) {
    assert_eq!(
        store.prune_logs(i64::MAX).unwrap(),
        0,
        "pruning an empty store deletes nothing"
    );
    store
        .append_logs(&[
            log_record("f", "r1", 100, 200, false),
            log_record("g", "r2", 150, 250, false),
            log_record("f", "r3", 250, 300, true),
            log_record("f", "r4", 290, 400, false),
        ])
        .unwrap();
    let max_seq = store.query_logs(&query("f")).unwrap().last().unwrap().seq;

    assert_eq!(
        store.prune_logs(100).unwrap(),
        0,
        "nothing ended before 100"
    );
    assert_eq!(
        store.prune_logs(300).unwrap(),
        2,
        "r1 and r2 ended before 300"
    );
    assert_eq!(
        request_ids(&store.query_logs(&query("f")).unwrap()),
        ["r3", "r4"],
        "end_ms == cutoff stays"
    );
    assert!(
        store.query_logs(&query("g")).unwrap().is_empty(),
        "pruning spans every function"
    );
    assert_eq!(
        store.prune_logs(300).unwrap(),
        0,
        "pruning again deletes nothing"
    );

    assert_eq!(
        store.prune_logs(i64::MAX).unwrap(),
        2,
        "everything ended before i64::MAX"
    );
    store
        .append_logs(&[log_record("f", "r5", 500, 600, false)])
        .unwrap();
    let after = store.query_logs(&query("f")).unwrap();
    assert_eq!(request_ids(&after), ["r5"], "only the new record is left");
    assert!(
        after[0].seq > max_seq,
        "seqs are not reused after pruning (followers would miss records)"
    );
}

/// The store is shared between threads: concurrent publishes get distinct
/// numbers without gaps, concurrent appends distinct seqs.
pub fn concurrent_writers(store: &dyn Store) {
    const THREADS: usize = 4;
    const EACH: usize = 10;
    store.create_function(&function_config("f", "r0")).unwrap();

    std::thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                for i in 0..EACH {
                    publish(store, "f", &format!("t{t}-{i}"));
                    let id = format!("t{t}-{i}");
                    store
                        .append_logs(&[log_record("f", &id, 0, 1, false)])
                        .unwrap();
                }
            });
        }
    });

    let expected: Vec<String> = std::iter::once(LATEST.to_string())
        .chain((1..=THREADS * EACH).map(|n| n.to_string()))
        .collect();
    assert_eq!(
        versions_of(store, "f"),
        expected,
        "concurrent publishes number 1..=N without gaps or repeats"
    );
    let logs = store.query_logs(&query("f")).unwrap();
    assert_eq!(
        logs.len(),
        THREADS * EACH,
        "every concurrent append is stored"
    );
    assert!(
        logs.windows(2).all(|w| w[0].seq < w[1].seq),
        "concurrent appends get distinct seqs"
    );
}
