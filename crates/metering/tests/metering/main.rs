//! Metering against a real SQLite store: crash recovery (in process, and a
//! child process killed with SIGKILL), batching, reports that add up, and
//! a full disk ([`full_disk`]).

mod full_disk;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use updraft_metering::{
    outcome, trigger, Metering, MeteringConfig, Prices, UsageGroup, UsageQuery, UsageRecord,
};
use updraft_store::Store;
use updraft_store_sqlite::SqliteStore;

fn store_in(dir: &Path) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(&dir.join("updraft.db")).unwrap())
}

/// A configuration whose flusher never runs on its own.
fn manual() -> MeteringConfig {
    MeteringConfig {
        flush_interval: Duration::from_secs(3600),
        batch: usize::MAX,
        retention: None,
        ..MeteringConfig::default()
    }
}

fn record(i: u64) -> UsageRecord {
    UsageRecord {
        function: format!("f{}", i % 3),
        version: "$LATEST".into(),
        request_id: format!("req-{i:08}"),
        start_ms: 1_700_000_000_000 + i as i64,
        duration_us: 1_000 + i,
        billed_ms: 2,
        memory_mb: 128,
        init_duration_us: matches!(i % 10, 0).then_some(30_000),
        outcome: outcome::SUCCESS.into(),
        trigger: trigger::INVOKE.into(),
    }
}

fn stored(store: &dyn Store) -> Vec<UsageRecord> {
    store.query_usage(&UsageQuery::default(), 0).unwrap()
}

/// The files in the journal directory besides its lock.
fn segments(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("usage-journal"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "LOCK")
        .collect();
    names.sort();
    names
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_crash_loses_nothing_and_replay_stores_each_record_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let m = Metering::open_with(dir.path(), store.clone(), manual()).unwrap();
    let records: Vec<UsageRecord> = (0..1000).map(record).collect();
    for r in &records[..400] {
        m.record(r);
    }
    m.flush().unwrap();
    for r in &records[400..] {
        m.record(r);
    }
    assert_eq!(
        stored(&*store).len(),
        400,
        "only the flushed part is stored"
    );
    m.abandon(); // the flusher stops without committing: a crash

    let m = Metering::open_with(dir.path(), store.clone(), manual()).unwrap();
    assert_eq!(
        stored(&*store),
        records,
        "all of them, each once, as recorded"
    );
    assert_eq!(m.stats().stored, 600, "the journal's 600 were replayed");
    assert_eq!(segments(dir.path()).len(), 1, "only the new, empty segment");
}

#[test]
fn full_segments_are_replaced_and_every_record_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let small = MeteringConfig {
        segment_bytes: 4096,
        ..manual()
    };
    let m = Metering::open_with(dir.path(), store.clone(), small.clone()).unwrap();
    let records: Vec<UsageRecord> = (0..1000).map(record).collect();
    std::thread::scope(|scope| {
        for part in records.chunks(250) {
            let m = &m;
            scope.spawn(move || part.iter().for_each(|r| m.record(r)));
        }
    });
    assert!(
        segments(dir.path()).len() > 10,
        "1000 records fill many 4 KiB segments"
    );
    m.flush().unwrap();
    assert_eq!(stored(&*store), records, "stored, each once");
    for r in &records[..100] {
        m.record(r);
    }
    m.abandon();
    let m = Metering::open_with(dir.path(), store.clone(), small).unwrap();
    assert_eq!(stored(&*store).len(), 1100, "the journal's 100 too");
    assert_eq!(m.stats().journal_errors, 0);
}

#[test]
fn replaying_records_the_store_has_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let m = Metering::open_with(dir.path(), store.clone(), manual()).unwrap();
    for i in 0..10 {
        m.record(&record(i));
    }
    // A crash after the batch was committed but before its segment was
    // reused: keep a copy of the segment and put it back after the flush.
    let [segment] = segments(dir.path()).try_into().unwrap();
    let path = dir.path().join("usage-journal").join(&segment);
    let copy = std::fs::read(&path).unwrap();
    m.flush().unwrap();
    assert_ne!(
        std::fs::read(&path).unwrap()[..64],
        copy[..64],
        "a committed segment starts over under a new batch id"
    );
    m.record(&record(10));
    m.abandon();
    std::fs::write(&path, copy).unwrap();

    let _m = Metering::open_with(dir.path(), store.clone(), manual()).unwrap();
    assert_eq!(stored(&*store), (0..11).map(record).collect::<Vec<_>>());
}

#[test]
fn closing_commits_what_is_pending() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let m = Metering::open_with(dir.path(), store.clone(), manual()).unwrap();
    for i in 0..5 {
        m.record(&record(i));
    }
    drop(m);
    assert_eq!(stored(&*store).len(), 5);
    let m = Metering::open_with(dir.path(), store.clone(), manual()).unwrap();
    assert_eq!(m.stats().stored, 0, "nothing is left to replay");
    assert_eq!(stored(&*store).len(), 5);
}

#[test]
fn the_flusher_commits_on_a_full_batch_and_on_its_interval() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let m = Metering::open_with(
        dir.path(),
        store.clone(),
        MeteringConfig {
            batch: 100,
            ..manual()
        },
    )
    .unwrap();
    for i in 0..99 {
        m.record(&record(i));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(stored(&*store).len(), 0, "99 records are not a batch");
    m.record(&record(99));
    wait_for("a full batch to be committed", || m.stats().stored == 100);
    assert_eq!(stored(&*store).len(), 100);
    drop(m);

    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let m = Metering::open_with(
        dir.path(),
        store.clone(),
        MeteringConfig {
            flush_interval: Duration::from_millis(20),
            ..manual()
        },
    )
    .unwrap();
    for i in 0..7 {
        m.record(&record(i));
    }
    wait_for("the interval flush", || m.stats().stored == 7);
    assert_eq!(stored(&*store).len(), 7);
    assert_eq!(
        m.stats(),
        updraft_metering::MeteringStats {
            recorded: 7,
            stored: 7,
            journal_errors: 0,
            store_errors: 0,
            dropped: 0,
            buffered: 0,
        }
    );
}

#[test]
fn one_process_meters_a_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let _m = Metering::open(dir.path(), store.clone()).unwrap();
    let second = Metering::open(dir.path(), store).err().expect("locked");
    assert!(
        format!("{:?}", second).contains("in use by another process"),
        "{second:?}"
    );
}

// ---------------------------------------------------------------------------
// SIGKILL: a child process (this test binary, running `kill9_child`) meters
// as fast as it can and prints each request number once `record` returned;
// it is killed mid-stream, mid-flush.

const CHILD_DIR: &str = "UPDRAFT_METERING_TEST_CHILD_DIR";

#[test]
fn kill9_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return; // only runs as the child of `sigkill_loses_nothing`
    };
    let dir = Path::new(&dir);
    let m = Metering::open_with(
        dir,
        store_in(dir),
        MeteringConfig {
            flush_interval: Duration::from_millis(2),
            batch: 64,
            ..manual()
        },
    )
    .unwrap();
    let mut out = std::io::stdout().lock();
    for i in 0.. {
        m.record(&record(i));
        writeln!(out, "recorded {i}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn sigkill_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["kill9_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acknowledged = 0u64;
    while acknowledged < 3000 {
        let line = lines
            .next()
            .expect("the child stopped early")
            .expect("reading the child");
        if let Some(n) = line.strip_prefix("recorded ") {
            acknowledged = n.parse::<u64>().unwrap() + 1;
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let store = store_in(dir.path());
    let before = stored(&*store).len();
    let _m = Metering::open_with(dir.path(), store.clone(), manual()).unwrap();
    let after = stored(&*store);
    let ids: BTreeSet<&str> = after.iter().map(|r| r.request_id.as_str()).collect();
    assert_eq!(ids.len(), after.len(), "each record once");
    assert!(
        after.len() as u64 >= acknowledged,
        "{} stored, {acknowledged} acknowledged",
        after.len()
    );
    assert_eq!(
        after,
        (0..after.len() as u64).map(record).collect::<Vec<_>>(),
        "every record up to the kill, nothing else"
    );
    // Whether the flusher had committed everything before the kill depends
    // on timing; what was not committed came from the journal.
    eprintln!(
        "{before} records committed before the kill, {} after the replay",
        after.len()
    );
}

// ---------------------------------------------------------------------------
// Reports

/// 2026-01-31T23:30:00Z and 2026-02-01T00:10:00Z.
const JAN: i64 = 1_769_902_200_000;
const FEB: i64 = 1_769_904_600_000;

fn usage(
    function: &str,
    id: &str,
    start_ms: i64,
    memory_mb: u32,
    duration_us: u64,
    result: &str,
) -> UsageRecord {
    let ran = result != outcome::THROTTLED;
    UsageRecord {
        function: function.into(),
        version: "1".into(),
        request_id: id.into(),
        start_ms,
        duration_us: if ran { duration_us } else { 0 },
        billed_ms: if ran {
            updraft_telemetry::report::billed_ms(Duration::from_micros(duration_us))
        } else {
            0
        },
        memory_mb,
        init_duration_us: None,
        outcome: result.into(),
        trigger: trigger::URL.into(),
    }
}

/// Usage whose GB-seconds are exact in binary: f runs 0.25 + 0.5 GB-s in
/// January and 0.125 in February; g 1 GB-s in January, 3 in February.
fn known_usage() -> Vec<UsageRecord> {
    let mut cold = usage("f", "f1", JAN, 512, 499_001, outcome::SUCCESS);
    cold.init_duration_us = Some(50_000);
    vec![
        cold,
        usage("f", "f2", JAN + 1, 512, 1_000_000, outcome::SUCCESS),
        usage("f", "f3", FEB, 128, 999_500, outcome::SUCCESS),
        usage("g", "g1", JAN + 2, 1024, 1_000_000, outcome::ERROR),
        usage("g", "g2", FEB + 1, 1024, 3_000_000, outcome::TIMEOUT),
        usage("g", "g3", FEB + 2, 1024, 0, outcome::THROTTLED),
    ]
}

#[test]
fn reports_add_up_and_price_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    // A quarter per request, half a dollar per GB-second, and a free tier
    // of 2 requests and 1 GB-second a month: every amount exact in binary.
    let prices = Prices {
        per_million_requests: 250_000.0,
        per_gb_second: 0.5,
        free_requests_per_month: 2,
        free_gb_seconds_per_month: 1.0,
    };
    let m = Metering::open_with(
        dir.path(),
        store.clone(),
        MeteringConfig { prices, ..manual() },
    )
    .unwrap();
    for r in &known_usage() {
        m.record(r);
    }
    let period = UsageQuery {
        since_ms: JAN,
        until_ms: FEB + 3,
        function: None,
    };
    // No flush: the report commits what is pending itself.
    let report = m.report(&period, UsageGroup::Function).unwrap();

    let t = &report.totals;
    assert_eq!(t.key, "all");
    assert_eq!((t.requests, t.errors, t.timeouts), (5, 2, 1));
    assert_eq!(
        (t.throttles, t.cold_starts, t.init_duration_us),
        (1, 1, 50_000)
    );
    assert_eq!(
        t.duration_us,
        499_001 + 1_000_000 + 999_500 + 1_000_000 + 3_000_000
    );
    assert_eq!(t.billed_ms, 500 + 1_000 + 1_000 + 1_000 + 3_000);
    assert_eq!(t.gb_seconds, 4.875);

    let by_fn: Vec<(&str, u64, f64, f64)> = report
        .groups
        .iter()
        .map(|g| {
            (
                g.usage.key.as_str(),
                g.usage.requests,
                g.usage.gb_seconds,
                g.list_cost,
            )
        })
        .collect();
    assert_eq!(
        by_fn,
        [("f", 3, 0.875, 0.75 + 0.4375), ("g", 2, 4.0, 0.5 + 2.0)],
        "per function; the throttle is not billed"
    );

    // January: 3 requests, 1.75 GB-s; February: 2 requests, 3.125 GB-s.
    let c = &report.estimated_cost;
    assert_eq!(c.requests, 0.25, "January's third request");
    assert_eq!(c.compute, (0.75 + 2.125) * 0.5, "beyond 1 GB-s each month");
    assert_eq!(c.total, 1.6875);
    assert_eq!(c.list_total, 5.0 * 0.25 + 4.875 * 0.5);
    assert_eq!(
        c.list_total,
        report.groups.iter().map(|g| g.list_cost).sum::<f64>()
    );
    assert_eq!((c.free_requests, c.free_gb_seconds), (4, 2.0));
    assert!(c.free_tier_applied);
    assert_eq!(c.currency, "USD");
    assert_eq!(report.prices, prices);
    assert!(report.note.contains("configured prices"), "{}", report.note);

    let by_day = m.report(&period, UsageGroup::Day).unwrap();
    let days: Vec<(&str, u64)> = by_day
        .groups
        .iter()
        .map(|g| (g.usage.key.as_str(), g.usage.requests))
        .collect();
    assert_eq!(days, [("2026-01-31", 3), ("2026-02-01", 2)]);
    assert_eq!(
        by_day.totals, report.totals,
        "totals do not depend on grouping"
    );
    assert_eq!(by_day.estimated_cost, report.estimated_cost);

    let only_g = m
        .report(
            &UsageQuery {
                function: Some("g".into()),
                ..period.clone()
            },
            UsageGroup::Hour,
        )
        .unwrap();
    assert_eq!(only_g.totals.requests, 2);
    assert_eq!(only_g.totals.gb_seconds, 4.0);
    assert_eq!(
        only_g.estimated_cost.total,
        2.0 * 0.5,
        "January: g1 is free; February: g2's request is free, 2 of its 3 GB-s are not"
    );
}

#[test]
fn with_aws_prices_small_usage_is_free() {
    let dir = tempfile::tempdir().unwrap();
    let m = Metering::open_with(dir.path(), store_in(dir.path()), manual()).unwrap();
    for r in &known_usage() {
        m.record(r);
    }
    let report = m.report(&UsageQuery::default(), UsageGroup::None).unwrap();
    let c = &report.estimated_cost;
    assert_eq!(c.total, 0.0, "within the free tier");
    assert!(c.free_tier_applied);
    let list = 5.0 * 0.20 / 1e6 + 4.875 * 0.0000166667;
    assert!(
        (c.list_total - list).abs() < list * 1e-12,
        "{}",
        c.list_total
    );
    assert!(report.note.contains("AWS Lambda x86 list prices"));
    assert_eq!(report.groups.len(), 1);
    assert_eq!(report.groups[0].usage, report.totals);

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["totals"]["gbSeconds"], 4.875);
    assert_eq!(json["estimatedCost"]["currency"], "USD");
    assert_eq!(json["prices"]["perGbSecond"], 0.0000166667);
    let list_cost = json["groups"][0]["listCost"].as_f64().unwrap();
    assert!((list_cost - c.list_total).abs() < 1e-15, "{list_cost}");
}

/// This thread's CPU time so far (Linux schedstat, nanoseconds).
fn thread_cpu_ns() -> u64 {
    // Exact, unlike /proc's schedstat (updated at ticks and switches).
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// What metering costs in CPU time on this machine, on the invoking
/// thread (`record`) and on the flusher (sealing and storing, measured on this
/// thread). Run with `--release --ignored --nocapture`.
#[test]
#[ignore]
fn record_cost() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let m = Metering::open_with(dir.path(), store.clone(), manual()).unwrap();
    let n = 200_000u64;
    let id = |i: u64| {
        format!(
            "{:08x}-9c1e-4f2a-8d3b-{:012x}",
            i.wrapping_mul(0x9e37_79b9),
            i
        )
    };
    let records: Vec<UsageRecord> = (0..n)
        .map(|i| UsageRecord {
            request_id: id(i),
            ..record(i)
        })
        .collect();
    // As in a server: the flusher seals and stores every few thousand
    // records (here on this thread, timed apart from `record`).
    let (mut record_cpu, mut flush_cpu) = (0, 0);
    for round in records.chunks(4096) {
        let cpu = thread_cpu_ns();
        for r in round {
            m.record(r);
        }
        let between = thread_cpu_ns();
        m.flush().unwrap();
        flush_cpu += thread_cpu_ns() - between;
        record_cpu += between - cpu;
    }
    let record_ns = record_cpu as f64 / n as f64;
    let store_ns = flush_cpu as f64 / n as f64;
    assert_eq!(m.stats().stored, n);
    println!("CPU per record: record() {record_ns:.0} ns, flush (seal and store) {store_ns:.0} ns");
}
