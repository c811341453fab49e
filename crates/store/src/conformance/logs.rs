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

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn new_event(timestamp_ms: i64, message: &str) -> NewLogEvent {
    NewLogEvent {
        timestamp_ms,
        message: message.into(),
    }
}

fn messages(events: &[LogEvent]) -> Vec<&str> {
    events.iter().map(|e| e.message.as_str()).collect()
}

fn events_query(group: &str) -> LogEventQuery {
    LogEventQuery {
        group: group.into(),
        ..LogEventQuery::default()
    }
}

/// Groups: created once, listed by prefix in name order, retention and
/// tags changed in place, deleted with their streams and events.
pub fn log_groups_lifecycle(store: &dyn Store) {
    let tags = BTreeMap::from([("team".to_string(), "a".to_string())]);
    store.create_log_group("/app/b", 10, &tags).unwrap();
    store
        .create_log_group("/app/a", 20, &BTreeMap::new())
        .unwrap();
    store
        .create_log_group("/other", 30, &BTreeMap::new())
        .unwrap();
    assert!(is_conflict(store.create_log_group(
        "/app/a",
        40,
        &BTreeMap::new()
    )));
    let names = |prefix: &str| -> Vec<String> {
        store
            .list_log_groups(prefix)
            .unwrap()
            .into_iter()
            .map(|g| g.name)
            .collect()
    };
    assert_eq!(names(""), ["/app/a", "/app/b", "/other"]);
    assert_eq!(names("/app/"), ["/app/a", "/app/b"]);
    assert_eq!(names("/app_"), Vec::<String>::new(), "`_` is no wildcard");

    let b = store.get_log_group("/app/b").unwrap().expect("created");
    assert_eq!(
        (b.created_ms, b.retention_days, b.stored_bytes),
        (10, None, 0)
    );
    assert_eq!(b.tags, tags);
    assert!(store.get_log_group("/nope").unwrap().is_none());

    store.put_log_retention("/app/b", Some(7)).unwrap();
    assert_eq!(
        store
            .get_log_group("/app/b")
            .unwrap()
            .unwrap()
            .retention_days,
        Some(7)
    );
    store.put_log_retention("/app/b", None).unwrap();
    assert_eq!(
        store
            .get_log_group("/app/b")
            .unwrap()
            .unwrap()
            .retention_days,
        None
    );
    assert!(is_not_found(store.put_log_retention("/nope", Some(1))));

    let add = BTreeMap::from([("env".to_string(), "prod".to_string())]);
    store
        .tag_log_group("/app/b", &add, &["team".to_string()])
        .unwrap();
    assert_eq!(store.get_log_group("/app/b").unwrap().unwrap().tags, add);
    assert!(is_not_found(store.tag_log_group("/nope", &add, &[])));

    store.create_log_stream("/app/b", "s1", 50).unwrap();
    assert!(is_conflict(store.create_log_stream("/app/b", "s1", 60)));
    assert!(is_not_found(store.create_log_stream("/nope", "s1", 60)));
    store
        .put_log_events("/app/b", "s1", &[new_event(100, "hello")], 200)
        .unwrap();
    assert_eq!(
        store.get_log_group("/app/b").unwrap().unwrap().stored_bytes,
        5
    );

    store.delete_log_group("/app/b").unwrap();
    assert!(is_not_found(store.delete_log_group("/app/b")));
    assert!(store.get_log_group("/app/b").unwrap().is_none());
    store
        .create_log_group("/app/b", 70, &BTreeMap::new())
        .unwrap();
    assert!(
        store.list_log_streams("/app/b").unwrap().is_empty(),
        "a group made again starts empty"
    );
    assert!(store
        .query_log_events(&events_query("/app/b"))
        .unwrap()
        .is_empty());
}

/// Streams and events: stored in time order whatever the put order,
/// read after or before a position, by stream, name prefix and time.
pub fn log_events_order_and_filters(store: &dyn Store) {
    store.create_log_group("g", 1, &BTreeMap::new()).unwrap();
    store.create_log_stream("g", "a/1", 2).unwrap();
    store.create_log_stream("g", "b/1", 3).unwrap();
    assert!(is_not_found(store.put_log_events(
        "g",
        "missing",
        &[new_event(1, "x")],
        5
    )));
    assert!(is_not_found(store.put_log_events(
        "nope",
        "a/1",
        &[new_event(1, "x")],
        5
    )));
    store
        .put_log_events(
            "g",
            "a/1",
            &[new_event(300, "a300"), new_event(500, "a500")],
            900,
        )
        .unwrap();
    let last = store
        .put_log_events(
            "g",
            "b/1",
            &[new_event(100, "b100"), new_event(300, "b300")],
            950,
        )
        .unwrap();
    assert!(last > 0);

    let all = store.query_log_events(&events_query("g")).unwrap();
    assert_eq!(
        messages(&all),
        ["b100", "a300", "b300", "a500"],
        "by time, then id"
    );
    assert_eq!(all[3].ingestion_ms, 900);
    assert_eq!(all[2].id, last);

    let after = LogEventQuery {
        from: Some(all[1].position()),
        limit: 1,
        ..events_query("g")
    };
    assert_eq!(messages(&store.query_log_events(&after).unwrap()), ["b300"]);
    let before = LogEventQuery {
        from: Some(all[2].position()),
        descending: true,
        ..events_query("g")
    };
    assert_eq!(
        messages(&store.query_log_events(&before).unwrap()),
        ["a300", "b100"]
    );
    let one = LogEventQuery {
        streams: Some(vec!["b/1".into()]),
        ..events_query("g")
    };
    assert_eq!(
        messages(&store.query_log_events(&one).unwrap()),
        ["b100", "b300"]
    );
    let prefix = LogEventQuery {
        stream_prefix: Some("a/".into()),
        ..events_query("g")
    };
    assert_eq!(
        messages(&store.query_log_events(&prefix).unwrap()),
        ["a300", "a500"]
    );
    let window = LogEventQuery {
        start_ms: Some(300),
        end_ms: Some(500),
        ..events_query("g")
    };
    assert_eq!(
        messages(&store.query_log_events(&window).unwrap()),
        ["a300", "b300"],
        "start inclusive, end exclusive"
    );
    assert!(is_not_found(store.query_log_events(&events_query("nope"))));

    let streams = store.list_log_streams("g").unwrap();
    assert_eq!(streams.len(), 2);
    assert_eq!(
        (
            streams[0].name.as_str(),
            streams[0].created_ms,
            streams[0].first_event_ms,
            streams[0].last_event_ms,
            streams[0].last_ingestion_ms,
            streams[0].stored_bytes
        ),
        ("a/1", 2, Some(300), Some(500), Some(900), 8)
    );
    store.create_log_stream("g", "c", 4).unwrap();
    let empty = &store.list_log_streams("g").unwrap()[2];
    assert_eq!((empty.first_event_ms, empty.stored_bytes), (None, 0));

    store.delete_log_stream("g", "a/1").unwrap();
    assert!(is_not_found(store.delete_log_stream("g", "a/1")));
    assert_eq!(
        messages(&store.query_log_events(&events_query("g")).unwrap()),
        ["b100", "b300"]
    );
}

/// Invocation records are also events of `/aws/lambda/FUNCTION`, one per
/// line, END and REPORT at the end time; deleting the group or a stream
/// deletes the records too.
pub fn invocation_logs_are_lambda_events(store: &dyn Store) {
    store
        .append_logs(&[log_record("f", "r1", 100, 200, false)])
        .unwrap();
    let group = store
        .get_log_group("/aws/lambda/f")
        .unwrap()
        .expect("made by the record");
    assert_eq!(group.created_ms, 100);
    let events = store
        .query_log_events(&events_query("/aws/lambda/f"))
        .unwrap();
    assert_eq!(
        messages(&events),
        ["START RequestId: r1\n", "hello\n", "REPORT RequestId: r1\n"]
    );
    assert_eq!(
        events.iter().map(|e| e.timestamp_ms).collect::<Vec<_>>(),
        [100, 100, 200]
    );
    assert!(events.iter().all(|e| e.ingestion_ms == 200));
    assert!(events
        .iter()
        .all(|e| e.stream == "2026/01/01/[$LATEST]0123456789abcdef"));

    // A retention policy set before the next record stays.
    store.put_log_retention("/aws/lambda/f", Some(30)).unwrap();
    store
        .append_logs(&[log_record("f", "r2", 300, 400, false)])
        .unwrap();
    let group = store.get_log_group("/aws/lambda/f").unwrap().unwrap();
    assert_eq!((group.created_ms, group.retention_days), (100, Some(30)));
    assert_eq!(store.list_log_streams("/aws/lambda/f").unwrap().len(), 1);

    store
        .delete_log_stream("/aws/lambda/f", "2026/01/01/[$LATEST]0123456789abcdef")
        .unwrap();
    assert!(store.query_logs(&query("f")).unwrap().is_empty());
    store
        .append_logs(&[log_record("f", "r3", 500, 600, false)])
        .unwrap();
    store.delete_log_group("/aws/lambda/f").unwrap();
    assert!(store.query_logs(&query("f")).unwrap().is_empty());
}

/// Retention: a group's policy decides how long its events (and its
/// function's records) stay; the others follow the default cutoff.
pub fn prune_logs_by_group_retention(store: &dyn Store) {
    let now = now_ms();
    let days = |n: i64| now - n * crate::logs::DAY_MS;
    for group in ["kept", "short", "default"] {
        store
            .create_log_group(group, days(20), &BTreeMap::new())
            .unwrap();
        store.create_log_stream(group, "s", days(20)).unwrap();
        store
            .put_log_events(
                group,
                "s",
                &[new_event(days(10), "old"), new_event(days(2), "new")],
                days(1),
            )
            .unwrap();
    }
    store.put_log_retention("kept", Some(30)).unwrap();
    store.put_log_retention("short", Some(5)).unwrap();
    store
        .append_logs(&[
            log_record("withpolicy", "p1", days(10), days(10), false),
            log_record("withpolicy", "p2", days(2), days(2), false),
        ])
        .unwrap();
    store
        .put_log_retention("/aws/lambda/withpolicy", Some(7))
        .unwrap();

    // The node's default cutoff: a day ago.
    assert_eq!(
        store.prune_logs(days(1) + 1).unwrap(),
        1,
        "p1 went, by its group's 7 days"
    );
    let left = |group: &str| -> Vec<String> {
        store
            .query_log_events(&events_query(group))
            .unwrap()
            .into_iter()
            .map(|e| e.message)
            .collect()
    };
    assert_eq!(left("kept"), ["old", "new"], "30 days keep both");
    assert_eq!(left("short"), ["new"], "5 days drop the 10-day-old one");
    assert!(left("default").is_empty(), "no policy: the default cutoff");
    assert_eq!(
        request_ids(&store.query_logs(&query("withpolicy")).unwrap()),
        ["p2"]
    );
}
