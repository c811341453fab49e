//! Checks of usage records: idempotent appends, queries, sums, pruning.

use super::*;
use crate::usage::{outcome, trigger};
use crate::{UsageBatch, UsageGroup, UsageGroupRow, UsageQuery, UsageRecord};

/// 2026-01-31T23:30:00Z, 2026-02-01T00:10Z, 00:50Z and 01:05Z: four hours,
/// two days, two months.
const JAN_31_2330: i64 = 1_769_902_200_000;
const FEB_01_0010: i64 = 1_769_904_600_000;
const FEB_01_0050: i64 = 1_769_907_000_000;
const FEB_01_0105: i64 = 1_769_907_900_000;

/// A record of `function` that ran for `duration_us` (billed rounded up
/// to the millisecond, at least 1), or was throttled (nothing billed).
pub fn usage_record(
    function: &str,
    request_id: &str,
    start_ms: i64,
    duration_us: u64,
    memory_mb: u32,
    result: &str,
) -> UsageRecord {
    let throttled = result == outcome::THROTTLED;
    UsageRecord {
        function: function.into(),
        version: LATEST.into(),
        request_id: request_id.into(),
        start_ms,
        duration_us: if throttled { 0 } else { duration_us },
        billed_ms: if throttled {
            0
        } else {
            duration_us.div_ceil(1000).max(1)
        },
        memory_mb,
        init_duration_us: None,
        outcome: result.into(),
        trigger: trigger::INVOKE.into(),
    }
}

fn all() -> UsageQuery {
    UsageQuery::default()
}

fn ids(records: &[UsageRecord]) -> String {
    records
        .iter()
        .map(|r| r.request_id.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The rows `group` should give for `records`, summed in memory.
fn expected_rows(
    records: &[UsageRecord],
    key: impl Fn(&UsageRecord) -> String,
) -> Vec<UsageGroupRow> {
    let mut rows: BTreeMap<String, UsageGroupRow> = BTreeMap::new();
    for r in records {
        let k = key(r);
        rows.entry(k.clone())
            .or_insert_with(|| UsageGroupRow {
                key: k,
                ..UsageGroupRow::default()
            })
            .add(r);
    }
    rows.into_values().collect()
}

/// A batch of `records` with id `id`.
fn batch(id: u64, records: &[UsageRecord]) -> UsageBatch {
    UsageBatch::from_records(id, records)
}

/// `append_usage` stores every field as given and ignores a batch whose
/// id it has; batches with other ids are stored whatever they hold (a
/// retry under the same request id is another record).
pub fn append_usage_is_idempotent(store: &dyn Store) {
    store
        .append_usage(&batch(1, &[]))
        .expect("appending nothing is fine");
    assert!(
        store.query_usage(&all(), 0).unwrap().is_empty(),
        "a new store has no usage"
    );

    let mut cold = usage_record("f", "a", 1_000, 1_500, 128, outcome::SUCCESS);
    cold.init_duration_us = Some(u64::from(u32::MAX) + 7);
    cold.version = "3".into();
    cold.trigger = trigger::URL.into();
    let big = UsageRecord {
        duration_us: i64::MAX as u64,
        billed_ms: i64::MAX as u64 / 1000,
        memory_mb: 10_240,
        ..usage_record("g", "b", 2_000, 0, 10_240, outcome::TIMEOUT)
    };
    let throttled = usage_record("f", "c", 3_000, 0, 128, outcome::THROTTLED);
    let first = vec![throttled.clone(), cold.clone(), big.clone()];
    store
        .append_usage(&batch(u64::MAX, &first))
        .expect("append_usage");
    assert_eq!(
        store.query_usage(&all(), 0).unwrap(),
        vec![cold.clone(), big.clone(), throttled.clone()],
        "every field is stored as given, read back by start time"
    );

    // The same id again, even with other records, changes nothing.
    let d = usage_record("f", "d", 4_000, 10, 256, outcome::ERROR);
    store
        .append_usage(&batch(u64::MAX, std::slice::from_ref(&d)))
        .expect("appending a known batch is not an error");
    assert_eq!(
        store.query_usage(&all(), 0).unwrap(),
        vec![cold.clone(), big.clone(), throttled.clone()],
        "a batch is stored once"
    );

    let mut retry = cold.clone();
    retry.start_ms = 5_000;
    store
        .append_usage(&batch(7, &[d.clone(), retry.clone()]))
        .unwrap();
    assert_eq!(
        store.query_usage(&all(), 0).unwrap(),
        vec![cold, big, throttled, d, retry],
        "a retry under the same request id is another record"
    );
}

/// `query_usage` takes records that started in `[since, until)`, of one
/// function or all, ordered by start then request id, up to `limit`.
pub fn query_usage_filters(store: &dyn Store) {
    let records = [
        usage_record("f", "r3", 3_000, 10, 128, outcome::SUCCESS),
        usage_record("f", "r1", 1_000, 10, 128, outcome::SUCCESS),
        usage_record("g", "r2", 2_000, 10, 128, outcome::ERROR),
        usage_record("f", "r2b", 2_000, 10, 128, outcome::SUCCESS),
        usage_record("f", "r4", 4_000, 10, 128, outcome::THROTTLED),
    ];
    // Two batches whose time ranges overlap.
    store.append_usage(&batch(1, &records[..2])).unwrap();
    store.append_usage(&batch(2, &records[2..])).unwrap();
    let run = |since_ms, until_ms, function: Option<&str>, limit| {
        ids(&store
            .query_usage(
                &UsageQuery {
                    since_ms,
                    until_ms,
                    function: function.map(str::to_string),
                },
                limit,
            )
            .unwrap())
    };
    let (min, max) = (i64::MIN, i64::MAX);
    assert_eq!(
        run(min, max, None, 0),
        "r1,r2,r2b,r3,r4",
        "by start, then request id"
    );
    assert_eq!(run(min, max, Some("f"), 0), "r1,r2b,r3,r4", "one function");
    assert_eq!(run(min, max, Some("h"), 0), "", "a function without usage");
    assert_eq!(
        run(2_000, 4_000, None, 0),
        "r2,r2b,r3",
        "since <= start < until"
    );
    assert_eq!(run(2_001, 3_001, None, 0), "r3");
    assert_eq!(run(3_000, 3_000, None, 0), "", "an empty range");
    assert_eq!(run(min, max, None, 2), "r1,r2", "limit keeps the first");
    assert_eq!(
        run(2_000, max, Some("f"), 1),
        "r2b",
        "filters and limit together"
    );
}

/// `usage_summary` sums per group exactly as [`UsageGroupRow::add`] does,
/// with UTC time keys, ordered by key; filters apply first.
pub fn usage_summary_sums(store: &dyn Store) {
    let mut cold = usage_record("f", "f1", JAN_31_2330, 1_200, 128, outcome::SUCCESS);
    cold.init_duration_us = Some(35_000);
    let records = vec![
        cold,
        usage_record("f", "f2", JAN_31_2330 + 5, 999, 128, outcome::SUCCESS),
        usage_record("g", "g1", FEB_01_0010, 3_000_001, 1_024, outcome::TIMEOUT),
        usage_record("f", "f3", FEB_01_0050, 7, 512, outcome::ERROR),
        usage_record("g", "g2", FEB_01_0050 + 1, 0, 1_024, outcome::THROTTLED),
        usage_record("f", "f4", FEB_01_0105, 250_000, 10_240, outcome::SUCCESS),
    ];
    store.append_usage(&batch(1, &records)).unwrap();
    let summary = |q: &UsageQuery, g| store.usage_summary(q, g).unwrap();

    // The one-row total, checked by hand once.
    let total = summary(&all(), UsageGroup::None);
    assert_eq!(
        total,
        vec![UsageGroupRow {
            key: "all".into(),
            requests: 5,
            errors: 2,
            timeouts: 1,
            throttles: 1,
            cold_starts: 1,
            duration_us: 1_200 + 999 + 3_000_001 + 7 + 250_000,
            billed_ms: 2 + 1 + 3_001 + 1 + 250,
            init_duration_us: 35_000,
            mb_ms: 128 * 2 + 128 + 1_024 * 3_001 + 512 + 10_240 * 250,
            gb_seconds: 5_633_920.0 / 1_024_000.0,
        }],
        "the total"
    );
    assert_eq!(total[0].gb_seconds, 5.501875, "exact GB-seconds");

    assert_eq!(
        summary(&all(), UsageGroup::Function),
        expected_rows(&records, |r| r.function.clone()),
        "by function"
    );
    let hours = summary(&all(), UsageGroup::Hour);
    assert_eq!(
        hours.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
        [
            "2026-01-31T23:00Z",
            "2026-02-01T00:00Z",
            "2026-02-01T01:00Z"
        ],
        "hour keys"
    );
    let hour_of = |r: &UsageRecord| {
        match r.start_ms {
            JAN_31_2330..FEB_01_0010 => "2026-01-31T23:00Z",
            FEB_01_0010..FEB_01_0105 => "2026-02-01T00:00Z",
            _ => "2026-02-01T01:00Z",
        }
        .to_string()
    };
    assert_eq!(hours, expected_rows(&records, hour_of), "by hour");
    let day_of = |r: &UsageRecord| {
        if r.start_ms < FEB_01_0010 {
            "2026-01-31"
        } else {
            "2026-02-01"
        }
        .to_string()
    };
    assert_eq!(
        summary(&all(), UsageGroup::Day),
        expected_rows(&records, day_of),
        "by day"
    );
    let month_of = |r: &UsageRecord| day_of(r)[..7].to_string();
    assert_eq!(
        summary(&all(), UsageGroup::Month),
        expected_rows(&records, month_of),
        "by month"
    );

    // Filters apply before grouping.
    let g_only = UsageQuery {
        function: Some("g".into()),
        ..all()
    };
    let g: Vec<UsageRecord> = records
        .iter()
        .filter(|r| r.function == "g")
        .cloned()
        .collect();
    assert_eq!(
        summary(&g_only, UsageGroup::Day),
        expected_rows(&g, |_| "2026-02-01".into()),
        "one function"
    );
    let window = UsageQuery {
        since_ms: FEB_01_0010,
        until_ms: FEB_01_0105,
        function: None,
    };
    let inside: Vec<UsageRecord> = records[2..5].to_vec();
    assert_eq!(
        summary(&window, UsageGroup::None),
        expected_rows(&inside, |_| "all".into()),
        "a time window"
    );
    assert_eq!(
        summary(&window, UsageGroup::None)[0].throttles,
        1,
        "throttles are counted, not billed"
    );
    let empty = UsageQuery {
        function: Some("nobody".into()),
        ..all()
    };
    for group in [
        UsageGroup::None,
        UsageGroup::Function,
        UsageGroup::Hour,
        UsageGroup::Day,
        UsageGroup::Month,
    ] {
        assert!(
            summary(&empty, group).is_empty(),
            "no records, no rows ({group:?})"
        );
    }
}

/// `prune_usage` deletes the records that started before the cutoff and
/// says how many.
pub fn prune_usage(store: &dyn Store) {
    let records: Vec<UsageRecord> = (1..=5)
        .map(|i| usage_record("f", &format!("r{i}"), i * 1_000, 10, 128, outcome::SUCCESS))
        .collect();
    // The first cutoff falls inside the first batch.
    store.append_usage(&batch(1, &records[..3])).unwrap();
    store.append_usage(&batch(2, &records[3..])).unwrap();
    assert_eq!(store.prune_usage(1_000).unwrap(), 0, "nothing before 1000");
    assert_eq!(store.prune_usage(3_000).unwrap(), 2, "before, not at");
    assert_eq!(ids(&store.query_usage(&all(), 0).unwrap()), "r3,r4,r5");
    assert_eq!(store.prune_usage(3_000).unwrap(), 0, "pruning again");
    assert_eq!(
        store.usage_summary(&all(), UsageGroup::None).unwrap()[0].requests,
        3,
        "sums see what is left"
    );
    assert_eq!(store.prune_usage(i64::MAX).unwrap(), 3);
    assert!(store.query_usage(&all(), 0).unwrap().is_empty());
}
