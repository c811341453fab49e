//! Schedule expressions and the instants they name: `rate(...)`,
//! `cron(...)` and `at(...)`, in a time zone.
//!
//! `rate` slots are absolute: every period from an anchor, whatever the
//! time zone. `cron` and `at` name wall-clock times in the schedule's time
//! zone (UTC by default). Where daylight saving time makes a wall-clock
//! time ambiguous or nonexistent:
//!
//! - a time that occurs twice (clocks go back) fires once, at its first
//!   occurrence (as Scheduler does);
//! - a `cron` time that does not exist (clocks go forward) is skipped that
//!   day (as Scheduler does);
//! - an `at` time that does not exist fires at the same distance after the
//!   transition as it would have had the clocks not changed (02:30 on a
//!   night that jumps from 02:00 to 03:00 fires at 03:30), so a one-time
//!   schedule always fires.

use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use crate::cron::Cron;

/// A parsed `ScheduleExpression`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expression {
    /// `rate(5 minutes)`: every period, from an anchor.
    Rate(Duration),
    Cron(Box<Cron>),
    /// `at(2026-11-26T21:00:00)`: once, at a wall-clock time.
    At(NaiveDateTime),
}

impl Expression {
    /// Parses an expression; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Expression, String> {
        let text = text.trim();
        let inner = |prefix: &str| {
            text.strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(')'))
        };
        if let Some(body) = inner("rate(") {
            parse_rate(body).map(Expression::Rate)
        } else if let Some(body) = inner("cron(") {
            Cron::parse(body).map(|c| Expression::Cron(Box::new(c)))
        } else if let Some(body) = inner("at(") {
            NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S")
                .map(Expression::At)
                .map_err(|_| {
                    format!("'{body}' is not a date and time of the form yyyy-mm-ddThh:mm:ss")
                })
        } else {
            Err("the expression must be rate(...), cron(...) or at(...)".to_string())
        }
    }

    /// Whether the expression names a single slot.
    pub fn is_one_time(&self) -> bool {
        matches!(self, Expression::At(_))
    }

    /// The first slot strictly after `after`. `anchor` is where `rate`
    /// slots count from (`anchor + k * period`, k >= 0); the others ignore
    /// it.
    pub fn next_after(
        &self,
        after: DateTime<Utc>,
        anchor: DateTime<Utc>,
        tz: Tz,
    ) -> Option<DateTime<Utc>> {
        match self {
            Expression::Rate(period) => {
                if after < anchor {
                    return Some(anchor);
                }
                let periods = (after - anchor).num_seconds() / period.num_seconds() + 1;
                // In i64 and checked: a count of periods past `i32` (an
                // anchor thousands of years back) must not wrap around to
                // a slot before `after`.
                let offset = period
                    .num_seconds()
                    .checked_mul(periods)
                    .and_then(Duration::try_seconds)?;
                anchor.checked_add_signed(offset)
            }
            Expression::Cron(cron) => {
                let mut local = after.with_timezone(&tz).naive_local();
                loop {
                    local = cron.next_after(local)?;
                    let slot = tz.from_local_datetime(&local).earliest();
                    if let Some(slot) = slot.map(|t| t.with_timezone(&Utc)) {
                        if slot > after {
                            return Some(slot);
                        }
                    }
                }
            }
            Expression::At(local) => Some(resolve(tz, *local)).filter(|t| *t > after),
        }
    }
}

/// Parses a `ScheduleExpressionTimezone` (an IANA name such as
/// `Europe/Paris`, or `UTC`).
pub fn parse_time_zone(name: &str) -> Result<Tz, String> {
    Tz::from_str(name).map_err(|_| format!("Invalid time zone: {name}"))
}

/// `5 minutes`, `1 hour`, `2 days`: a positive count and its unit, singular
/// for 1 and plural otherwise, as AWS requires.
fn parse_rate(body: &str) -> Result<Duration, String> {
    let mut parts = body.split_whitespace();
    let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err("a rate expression is rate(value unit), for example rate(5 minutes)".into());
    };
    let value: i64 = value
        .parse()
        .ok()
        .filter(|v| (1..=1_000_000).contains(v))
        .ok_or_else(|| format!("'{value}' is not a positive whole number"))?;
    let (singular, seconds) = match unit {
        "minute" | "minutes" => ("minute", 60),
        "hour" | "hours" => ("hour", 3600),
        "day" | "days" => ("day", 86_400),
        _ => return Err(format!("'{unit}' is not minute(s), hour(s) or day(s)")),
    };
    let plural = unit.ends_with('s');
    if (value == 1) == plural {
        return Err(if plural {
            format!("a rate of 1 takes the singular unit: rate(1 {singular})")
        } else {
            format!("a rate above 1 takes the plural unit: rate({value} {singular}s)")
        });
    }
    Ok(Duration::seconds(value * seconds))
}

/// The instant an `at` wall-clock time names in `tz` (see the module docs
/// for times that DST makes ambiguous or skips).
fn resolve(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    if let Some(t) = tz.from_local_datetime(&local).earliest() {
        return t.with_timezone(&Utc);
    }
    // In a gap: use the offset in force just before it.
    (1..=48)
        .find_map(|h| {
            tz.from_local_datetime(&(local - Duration::hours(h)))
                .earliest()
        })
        .map(|before| {
            let offset = before.offset().fix().local_minus_utc();
            Utc.from_utc_datetime(&(local - Duration::seconds(offset.into())))
        })
        .unwrap_or_else(|| Utc.from_utc_datetime(&local))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn slots(expr: &str, tz: &str, after: &str, n: usize) -> Vec<String> {
        let e = Expression::parse(expr).unwrap();
        let tz = parse_time_zone(tz).unwrap();
        let anchor = utc(after);
        let mut t = anchor;
        let mut out = Vec::new();
        for _ in 0..n {
            match e.next_after(t, anchor, tz) {
                Some(next) => {
                    out.push(next.to_rfc3339());
                    t = next;
                }
                None => break,
            }
        }
        out
    }

    #[test]
    fn rate_counts_from_the_anchor() {
        let e = Expression::parse("rate(5 minutes)").unwrap();
        let anchor = utc("2026-11-26T21:00:00Z");
        let next = |after: &str| e.next_after(utc(after), anchor, Tz::UTC).unwrap();
        assert_eq!(next("2026-11-26T20:00:00Z"), anchor);
        assert_eq!(next("2026-11-26T21:00:00Z"), utc("2026-11-26T21:05:00Z"));
        assert_eq!(next("2026-11-26T21:07:59Z"), utc("2026-11-26T21:10:00Z"));
        assert_eq!(
            Expression::parse("rate(1 day)").unwrap(),
            Expression::Rate(Duration::days(1))
        );
        assert_eq!(
            Expression::parse("rate(2 hours)").unwrap(),
            Expression::Rate(Duration::hours(2))
        );
    }

    #[test]
    fn rate_ignores_daylight_saving_time() {
        // New York falls back on 2026-11-01 at 06:00 UTC: still every hour.
        assert_eq!(
            slots(
                "rate(1 hour)",
                "America/New_York",
                "2026-11-01T05:00:00Z",
                2
            ),
            ["2026-11-01T06:00:00+00:00", "2026-11-01T07:00:00+00:00"]
        );
    }

    #[test]
    fn cron_in_utc() {
        assert_eq!(
            slots("cron(0 9 ? * MON-FRI *)", "UTC", "2026-11-27T10:00:00Z", 2),
            ["2026-11-30T09:00:00+00:00", "2026-12-01T09:00:00+00:00"]
        );
    }

    #[test]
    fn cron_follows_the_wall_clock_across_dst() {
        // 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer
        // (clocks go forward on 2027-03-28).
        assert_eq!(
            slots(
                "cron(0 9 * * ? *)",
                "Europe/Paris",
                "2027-03-26T12:00:00Z",
                3
            ),
            [
                "2027-03-27T08:00:00+00:00",
                "2027-03-28T07:00:00+00:00",
                "2027-03-29T07:00:00+00:00"
            ]
        );
    }

    #[test]
    fn a_skipped_wall_clock_time_is_skipped_by_cron() {
        // New York jumps from 02:00 to 03:00 on 2027-03-14: 02:30 does not
        // exist that day.
        assert_eq!(
            slots(
                "cron(30 2 * * ? *)",
                "America/New_York",
                "2027-03-13T00:00:00Z",
                2
            ),
            ["2027-03-13T07:30:00+00:00", "2027-03-15T06:30:00+00:00"]
        );
    }

    #[test]
    fn a_skipped_wall_clock_time_still_fires_an_at_schedule() {
        // 02:30 on 2027-03-14 in New York fires at 03:30 EDT (07:30 UTC).
        assert_eq!(
            slots(
                "at(2027-03-14T02:30:00)",
                "America/New_York",
                "2027-03-13T12:00:00Z",
                2
            ),
            ["2027-03-14T07:30:00+00:00"]
        );
    }

    #[test]
    fn a_repeated_wall_clock_time_fires_once() {
        // New York repeats 01:00-02:00 on 2026-11-01: 01:30 fires at its
        // first occurrence (EDT, 05:30 UTC) only.
        assert_eq!(
            slots(
                "cron(30 1 * * ? *)",
                "America/New_York",
                "2026-10-31T12:00:00Z",
                2
            ),
            ["2026-11-01T05:30:00+00:00", "2026-11-02T06:30:00+00:00"]
        );
    }

    #[test]
    fn at_is_one_slot_in_its_time_zone() {
        assert_eq!(
            slots(
                "at(2026-12-25T08:00:00)",
                "Asia/Tokyo",
                "2026-11-26T00:00:00Z",
                3
            ),
            ["2026-12-24T23:00:00+00:00"]
        );
        assert!(slots("at(2026-11-25T08:00:00)", "UTC", "2026-11-26T00:00:00Z", 1).is_empty());
        assert!(Expression::parse("at(2026-12-25T08:00:00)")
            .unwrap()
            .is_one_time());
    }

    #[test]
    fn invalid_expressions() {
        for bad in [
            "",
            "rate(0 minutes)",
            "rate(-1 minutes)",
            "rate(1 minutes)",
            "rate(5 minute)",
            "rate(5 seconds)",
            "rate(5)",
            "rate(five minutes)",
            "rate(5 minutes",
            "cron(* * * * * *)",
            "cron(0 12 * * ?)",
            "at(2026-13-01T00:00:00)",
            "at(2026-11-26 21:00:00)",
            "at(2026-11-26T21:00)",
            "every(5 minutes)",
        ] {
            assert!(Expression::parse(bad).is_err(), "{bad} should be rejected");
        }
        assert!(parse_time_zone("Mars/Olympus").is_err());
        assert!(parse_time_zone("Europe/Paris").is_ok());
    }
}
