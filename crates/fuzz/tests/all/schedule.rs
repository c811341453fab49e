//! Schedule expressions (`updraft_schedules::expression`): `rate(...)`,
//! `cron(...)` and `at(...)` parsed, then asked for their next slot in a
//! time zone.
//!
//! Corpus files hold one expression each (`valid-*` parse, `invalid-*`
//! are refused).
//!
//! Properties: parsing and `next_after` never panic or hang; a refusal has
//! a message; the next slot is strictly after the instant asked about; a
//! `rate` slot is a whole number of periods from its anchor, and the first
//! such after the instant; in UTC, asking again from just before a `cron`
//! slot gives the same slot.

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use updraft_fuzz::{
    assert_message, bytes, config, corpus, corpus_bytes, hostile_string, mutated, watched, Expect,
};
use updraft_schedules::expression::{parse_time_zone, Expression};

const TARGET: &str = "schedule";

/// Seconds since the epoch chrono can represent (about ±262,000 years):
/// a `StartDate` (the rate anchor) may be anywhere in it.
const MIN_SECONDS: i64 = DateTime::<Utc>::MIN_UTC.timestamp();
const MAX_SECONDS: i64 = DateTime::<Utc>::MAX_UTC.timestamp();

/// 1970 to 2200: the instants a running server asks about.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..7_258_118_400).prop_map(|s| Utc.timestamp_opt(s, 0).single().unwrap_or_default())
}

/// Anchors: mostly near the instants, some anywhere at all.
fn anchor() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        3 => instant(),
        1 => (MIN_SECONDS..=MAX_SECONDS)
            .prop_map(|s| Utc.timestamp_opt(s, 0).single().unwrap_or_default()),
    ]
}

fn time_zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(&chrono_tz::TZ_VARIANTS[..])
}

/// Parses `text` and, when it parses, asks for the next slot after
/// `after`; checks what holds of every expression.
fn check(text: &[u8], after: DateTime<Utc>, anchor: DateTime<Utc>, tz: Tz) -> Option<Expression> {
    let text = String::from_utf8_lossy(text);
    watched(TARGET, text.as_bytes(), || {
        let expression = match Expression::parse(&text) {
            Ok(e) => e,
            Err(message) => {
                assert_message(TARGET, text.as_bytes(), &message);
                return None;
            }
        };
        let next = expression.next_after(after, anchor, tz);
        if let Some(slot) = next {
            assert!(slot > after, "{text} in {tz}: {slot} is not after {after}");
        }
        match &expression {
            Expression::Rate(period) => {
                let slot = next.unwrap_or_else(|| panic!("{text}: a rate has no next slot"));
                assert!(slot >= anchor, "{text}: {slot} before its anchor {anchor}");
                let since = slot - anchor;
                assert_eq!(
                    since.num_seconds() % period.num_seconds(),
                    0,
                    "{text}: {slot} is not a whole number of periods from {anchor}"
                );
                if slot > anchor {
                    assert!(
                        slot - *period <= after,
                        "{text}: {slot} is not the first after {after}"
                    );
                }
            }
            Expression::Cron(_) if tz == Tz::UTC => {
                if let Some(slot) = next {
                    let again = expression.next_after(slot - Duration::seconds(1), anchor, tz);
                    assert_eq!(again, Some(slot), "{text}: asked again just before {slot}");
                }
            }
            _ => {}
        }
        Some(expression)
    })
}

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0).single().unwrap_or_default()
}

/// Each seed is scheduled in four time zones, from anchors at the
/// instant, at the epoch, 5,000 years back, at the earliest and latest
/// instants chrono has (a `StartDate` may be any of them).
#[test]
fn corpus_replays() {
    let after = Utc
        .with_ymd_and_hms(2026, 12, 3, 12, 0, 0)
        .single()
        .unwrap_or_default();
    let anchors = [
        after,
        at(0),
        at(-157_784_760_000),
        at(MIN_SECONDS),
        at(MAX_SECONDS),
    ];
    for seed in corpus(TARGET) {
        for tz in [
            Tz::UTC,
            Tz::Europe__Paris,
            Tz::America__New_York,
            Tz::Australia__Lord_Howe,
        ] {
            for anchor in anchors {
                let parsed = check(&seed.bytes, after, anchor, tz);
                match seed.expect() {
                    Expect::Valid => assert!(parsed.is_some(), "{}: refused", seed.name),
                    Expect::Invalid => assert!(parsed.is_none(), "{}: accepted", seed.name),
                    Expect::Any => {}
                }
            }
        }
    }
}

/// Found by `mutated_expressions_parse_and_schedule_or_are_refused`: from
/// an anchor (a `StartDate`) more than about 4,000 years back, the count
/// of periods passed `i32` and wrapped, and the next slot of
/// `rate(5 minutes)` came out 40,000 years in the past; the scheduler's
/// catch-up loop, which steps from slot to slot until the present, would
/// then have walked from there.
#[test]
fn regress_a_rate_anchored_far_back_still_comes_next() {
    let after = Utc
        .with_ymd_and_hms(2026, 12, 3, 12, 0, 30)
        .single()
        .unwrap_or_default();
    for (text, anchor) in [
        ("rate(5 minutes)", at(-1_226_316_556_500)),
        ("rate(1 minute)", at(-157_784_760_000)),
        ("rate(1 minute)", at(MIN_SECONDS)),
    ] {
        let expression = Expression::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let slot = expression
            .next_after(after, anchor, Tz::UTC)
            .unwrap_or_else(|| panic!("{text} from {anchor}: no slot"));
        assert!(
            slot > after && slot - after <= Duration::minutes(5),
            "{text} from {anchor}: {slot}"
        );
        check(text.as_bytes(), after, anchor, Tz::UTC);
    }
}

/// One item of a cron field, from the grammar and beyond it.
fn cron_item() -> impl Strategy<Value = String> {
    let n = prop_oneof![4 => 0u32..=60, 1 => any::<u32>(), 1 => 1960u32..2300];
    prop_oneof![
        3 => Just("*".to_string()),
        4 => n.clone().prop_map(|n| n.to_string()),
        2 => (n.clone(), n.clone()).prop_map(|(a, b)| format!("{a}-{b}")),
        2 => (prop_oneof![Just("*".to_string()), n.clone().prop_map(|n| n.to_string())], n.clone())
            .prop_map(|(a, s)| format!("{a}/{s}")),
        1 => prop::sample::select(&["JAN", "dec", "MON", "sun", "FRI-SUN", "L", "LW", "?"][..])
            .prop_map(str::to_string),
        1 => n.clone().prop_map(|n| format!("{n}W")),
        1 => n.clone().prop_map(|n| format!("{n}L")),
        1 => (n.clone(), n).prop_map(|(d, k)| format!("{d}#{k}")),
    ]
}

fn cron_field() -> impl Strategy<Value = String> {
    prop::collection::vec(cron_item(), 1..3).prop_map(|items| items.join(","))
}

fn cron_text() -> impl Strategy<Value = String> {
    (prop::collection::vec(cron_field(), 6), 0usize..2).prop_map(|(mut fields, question)| {
        // Exactly one of day-of-month and day-of-week is `?`, mostly.
        fields[2 + 2 * question] = "?".into();
        format!("cron({})", fields.join(" "))
    })
}

fn rate_text() -> impl Strategy<Value = String> {
    (
        prop_oneof![3 => 1i64..100, 1 => 1i64..=1_000_000, 1 => any::<i64>()],
        prop::sample::select(&["minute", "minutes", "hour", "hours", "day", "days", "week"][..]),
    )
        .prop_map(|(n, unit)| format!("rate({n} {unit})"))
}

fn at_text() -> impl Strategy<Value = String> {
    (
        1900i32..2300,
        0u32..14,
        0u32..33,
        0u32..25,
        0u32..61,
        0u32..61,
    )
        .prop_map(|(y, mo, d, h, mi, s)| format!("at({y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02})"))
}

proptest! {
    #![proptest_config(config(1))]

    #[test]
    fn random_bytes_are_refused_cleanly(text in bytes(64), after in instant(), tz in time_zone()) {
        check(&text, after, after, tz);
    }

    #[test]
    fn mutated_expressions_parse_and_schedule_or_are_refused(
        text in mutated(corpus_bytes(TARGET, ".txt")),
        after in instant(),
        anchor in anchor(),
        tz in time_zone(),
    ) {
        check(&text, after, anchor, tz);
    }

    #[test]
    fn generated_expressions_schedule_after_the_instant(
        text in prop_oneof![2 => cron_text(), 1 => rate_text(), 1 => at_text()],
        after in instant(),
        anchor in anchor(),
        tz in prop_oneof![1 => Just(Tz::UTC), 2 => time_zone()],
    ) {
        check(text.as_bytes(), after, anchor, tz);
    }

    #[test]
    fn time_zone_names_parse_or_are_refused(name in prop_oneof![
        hostile_string(),
        time_zone().prop_map(|tz| tz.name().to_string()),
    ]) {
        let result = watched(TARGET, name.as_bytes(), || parse_time_zone(&name));
        match result {
            Ok(tz) => prop_assert_eq!(tz.name(), name.as_str()),
            Err(message) => assert_message(TARGET, name.as_bytes(), &message),
        }
    }
}
