//! `updraft usage`: metered usage and its estimated cost, from the usage
//! API (`GET /updraft/v1/usage`).

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context;
use http::Method;
use updraft_metering::{UsageGroupRow, UsageReport};

use crate::client::{seg, Client};

pub struct UsageArgs<'a> {
    pub since: Duration,
    /// `function`, `day`, `hour`, `month` or `none`.
    pub by: &'a str,
    pub function: Option<&'a str>,
    /// Another account than the caller's.
    pub account: Option<&'a str>,
}

pub async fn usage(c: &Client, a: UsageArgs<'_>, as_json: bool) -> anyhow::Result<()> {
    let until = chrono::Utc::now().timestamp_millis();
    let since = until.saturating_sub(i64::try_from(a.since.as_millis()).unwrap_or(i64::MAX));
    let mut path = format!(
        "/updraft/v1/usage?since={since}&until={until}&by={}",
        seg(a.by)
    );
    if let Some(f) = a.function {
        path.push_str(&format!("&function={}", seg(f)));
    }
    if let Some(account) = a.account {
        path.push_str(&format!("&account={}", seg(account)));
    }
    let answer = c
        .lambda(Method::GET, &path, None)
        .await?
        .error_for_status()?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&answer.json()?)?);
        return Ok(());
    }
    let report: UsageReport =
        serde_json::from_slice(&answer.body).context("the server's usage answer")?;
    print!("{}", render(&report));
    Ok(())
}

/// The report as a table for people.
pub fn render(r: &UsageReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "usage from {} to {}{}",
        utc(r.since),
        utc(r.until),
        r.function
            .as_deref()
            .map(|f| format!(", function {f}"))
            .unwrap_or_default()
    );
    out.push('\n');
    let key = match r.by.as_str() {
        "function" => "FUNCTION",
        "day" => "DAY (UTC)",
        "hour" => "HOUR (UTC)",
        "month" => "MONTH (UTC)",
        _ => "",
    };
    let width = r
        .groups
        .iter()
        .map(|g| g.usage.key.len())
        .chain([key.len(), 5])
        .max()
        .unwrap_or(5);
    let _ = writeln!(
        out,
        "{key:<width$}  {:>12}  {:>8}  {:>9}  {:>6}  {:>15}  {:>14}  {:>12}",
        "REQUESTS", "ERRORS", "THROTTLES", "COLD", "BILLED DURATION", "GB-SECONDS", "LIST COST"
    );
    let row = |out: &mut String, key: &str, u: &UsageGroupRow, cost: f64| {
        let _ = writeln!(
            out,
            "{key:<width$}  {:>12}  {:>8}  {:>9}  {:>6}  {:>15}  {:>14.4}  {:>12}",
            thousands(u.requests),
            thousands(u.errors),
            thousands(u.throttles),
            thousands(u.cold_starts),
            billed(u.billed_ms),
            u.gb_seconds,
            usd(cost),
        );
    };
    if r.by != "none" {
        for g in &r.groups {
            row(&mut out, &g.usage.key, &g.usage, g.list_cost);
        }
    }
    let c = &r.estimated_cost;
    row(&mut out, "TOTAL", &r.totals, c.list_total);
    if r.totals.requests == 0 && r.totals.throttles == 0 {
        out.push_str("(no invocations were metered in this period)\n");
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "estimated cost: {} {} (requests {} + compute {})",
        usd(c.total),
        c.currency,
        usd(c.requests),
        usd(c.compute)
    );
    let p = &r.prices;
    let tier = format!(
        "{} requests and {} GB-seconds a calendar month, UTC",
        thousands(p.free_requests_per_month),
        match p.free_gb_seconds_per_month {
            x if x.fract() == 0.0 && (0.0..1e15).contains(&x) => thousands(x as u64),
            x => x.to_string(),
        }
    );
    if c.free_tier_applied {
        let _ = writeln!(
            out,
            "free tier applied: {} request(s) and {:.4} GB-seconds were free ({tier})",
            thousands(c.free_requests),
            c.free_gb_seconds
        );
    } else if p.free_requests_per_month > 0 || p.free_gb_seconds_per_month > 0.0 {
        let _ = writeln!(out, "free tier not applied: no usage ({tier})");
    } else {
        out.push_str("free tier not applied: the configured prices have none\n");
    }
    let _ = writeln!(out, "{}", r.note);
    out
}

fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// `1234567` -> `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut groups = Vec::new();
    let mut end = digits.len();
    while end > 3 {
        groups.push(&digits[end - 3..end]);
        end -= 3;
    }
    groups.push(&digits[..end]);
    groups.reverse();
    groups.join(",")
}

fn billed(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..3_600_000 => format!("{:.3} s", ms as f64 / 1000.0),
        _ => format!("{:.2} h", ms as f64 / 3_600_000.0),
    }
}

/// Dollars: cents for amounts of a cent or more, else enough digits to
/// see a single request's price.
fn usd(x: f64) -> String {
    if x == 0.0 {
        "$0.00".into()
    } else if x >= 0.01 {
        format!("${x:.2}")
    } else {
        format!("${x:.8}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use updraft_metering::{estimate, Prices, ReportGroup};

    fn report(by: &str) -> UsageReport {
        let f = UsageGroupRow {
            key: "hello".into(),
            requests: 1_234_567,
            errors: 3,
            throttles: 1,
            cold_starts: 2,
            billed_ms: 2_469_134,
            mb_ms: 128 * 2_469_134,
            gb_seconds: (128 * 2_469_134) as f64 / 1_024_000.0,
            ..UsageGroupRow::default()
        };
        let prices = Prices::default();
        let mut month = f.clone();
        month.key = "2026-11".into();
        UsageReport {
            since: 1_764_000_000_000,
            until: 1_764_086_400_000,
            by: by.into(),
            function: None,
            groups: vec![ReportGroup {
                list_cost: prices.list_cost(&f),
                usage: f.clone(),
            }],
            totals: UsageGroupRow {
                key: "all".into(),
                ..f
            },
            estimated_cost: estimate(&[month], &prices),
            prices,
            note: prices.note(),
        }
    }

    #[test]
    fn the_table_says_what_was_used_and_how_it_is_priced() {
        let text = render(&report("function"));
        assert!(
            text.contains("usage from 2025-11-24 16:00:00 UTC to 2025-11-25 16:00:00 UTC"),
            "{text}"
        );
        assert!(text.contains("FUNCTION"), "{text}");
        let hello = text.lines().find(|l| l.starts_with("hello")).unwrap();
        for cell in ["1,234,567", "2469.134 s", "308.6418", "$0.25"] {
            assert!(hello.contains(cell), "{cell} in {hello}");
        }
        assert!(text.lines().any(|l| l.starts_with("TOTAL")), "{text}");
        assert!(text.contains("estimated cost: $0.05 USD"), "{text}");
        assert!(
            text.contains(
                "free tier applied: 1,000,000 request(s) and 308.6418 GB-seconds were free \
                 (1,000,000 requests and 400,000 GB-seconds a calendar month, UTC)"
            ),
            "{text}"
        );
        assert!(text.contains("AWS Lambda x86 list prices"), "{text}");
        assert!(text.contains("configurable"), "{text}");
    }

    #[test]
    fn by_none_prints_only_the_total() {
        let text = render(&report("none"));
        assert!(!text.lines().any(|l| l.starts_with("hello")), "{text}");
        assert!(text.lines().any(|l| l.starts_with("TOTAL")), "{text}");
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(12_345_678), "12,345,678");
        assert_eq!(billed(999), "999 ms");
        assert_eq!(billed(1_500), "1.500 s");
        assert_eq!(billed(7_200_000), "2.00 h");
        assert_eq!(usd(0.0), "$0.00");
        assert_eq!(usd(0.0000002), "$0.00000020");
        assert_eq!(usd(1.6875), "$1.69");
    }
}
