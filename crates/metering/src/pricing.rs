//! What the usage would cost on AWS Lambda: prices and the estimate.
//!
//! Lambda charges per request and per GB-second of compute (memory ×
//! billed duration), after a monthly free tier. The estimate follows that
//! model with these simplifications:
//!
//! - one price per request and per GB-second (x86, us-east-1 list prices
//!   by default); Lambda's volume tiers (cheaper beyond 6 billion
//!   GB-seconds a month), Arm pricing, ephemeral storage and data transfer
//!   are left out;
//! - the free tier is applied per calendar month (UTC) that has usage in
//!   the period, in full, against that month's usage *inside the period*:
//!   usage of the same month outside the period is not counted, so a
//!   period covering part of a month is estimated as if it were the
//!   month's only usage;
//! - the free tier is the account's: a report filtered to one function
//!   applies it to that function alone;
//! - init duration is not billed (Lambda bills it only for some runtimes).

use serde::{Deserialize, Serialize};
use updraft_store::UsageGroupRow;

/// Prices in USD. The defaults are AWS Lambda's x86 list prices
/// (us-east-1) and its monthly free tier.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Prices {
    pub per_million_requests: f64,
    pub per_gb_second: f64,
    pub free_requests_per_month: u64,
    pub free_gb_seconds_per_month: f64,
}

impl Default for Prices {
    fn default() -> Self {
        Prices::AWS_LAMBDA_X86
    }
}

impl Prices {
    pub const AWS_LAMBDA_X86: Prices = Prices {
        per_million_requests: 0.20,
        per_gb_second: 0.000_016_666_7,
        free_requests_per_month: 1_000_000,
        free_gb_seconds_per_month: 400_000.0,
    };

    /// Whether these are AWS Lambda's x86 list prices and free tier.
    pub fn is_aws_list(&self) -> bool {
        *self == Prices::AWS_LAMBDA_X86
    }

    pub fn has_free_tier(&self) -> bool {
        self.free_requests_per_month > 0 || self.free_gb_seconds_per_month > 0.0
    }

    /// The cost of `requests` requests, without any free tier.
    pub fn requests_cost(&self, requests: u64) -> f64 {
        requests as f64 * self.per_million_requests / 1_000_000.0
    }

    /// The cost of `gb_seconds` of compute, without any free tier.
    pub fn compute_cost(&self, gb_seconds: f64) -> f64 {
        gb_seconds * self.per_gb_second
    }

    /// What `row`'s usage costs at list price, without any free tier.
    pub fn list_cost(&self, row: &UsageGroupRow) -> f64 {
        self.requests_cost(row.requests) + self.compute_cost(row.gb_seconds)
    }

    /// One line saying where the prices come from, for people.
    pub fn note(&self) -> String {
        let source = if self.is_aws_list() {
            "AWS Lambda x86 list prices (us-east-1)"
        } else {
            "configured prices"
        };
        let free = if self.has_free_tier() {
            format!(
                "the monthly free tier ({} requests, {} GB-seconds) applied per calendar month (UTC) of the period",
                thousands(self.free_requests_per_month as f64),
                thousands(self.free_gb_seconds_per_month)
            )
        } else {
            "no free tier".to_string()
        };
        format!(
            "Estimated from {source}: ${} per 1M requests and ${} per GB-second, with {free}. \
             Prices are configurable; this is an estimate, not a bill.",
            dollars(self.per_million_requests),
            self.per_gb_second
        )
    }
}

/// `0.2` -> `0.20`; more digits only when they matter.
fn dollars(x: f64) -> String {
    let cents = format!("{x:.2}");
    if cents.parse::<f64>() == Ok(x) {
        cents
    } else {
        x.to_string()
    }
}

/// `400000` -> `400,000`; fractions as they are.
fn thousands(x: f64) -> String {
    if x.fract() != 0.0 || x.abs() >= 1e15 {
        return x.to_string();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    format!("{sign}{}", group_digits(&(x.abs() as u64).to_string()))
}

/// `"1234567"` -> `"1,234,567"`.
fn group_digits(digits: &str) -> String {
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

/// An estimated cost in USD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    /// Requests beyond the free tier.
    pub requests: f64,
    /// GB-seconds beyond the free tier.
    pub compute: f64,
    /// `requests + compute`.
    pub total: f64,
    pub currency: String,
    /// What the usage costs before the free tier.
    pub list_total: f64,
    /// Whether a free tier was deducted (the prices have one and the
    /// period has usage).
    pub free_tier_applied: bool,
    /// The requests and GB-seconds the free tier covered.
    pub free_requests: u64,
    pub free_gb_seconds: f64,
}

/// Estimates the cost of usage given per calendar month (rows of
/// [`updraft_store::UsageGroup::Month`]): each month gets the free tier,
/// then the rest is priced. See the module docs for the simplifications.
pub fn estimate(months: &[UsageGroupRow], prices: &Prices) -> Cost {
    let mut cost = Cost {
        requests: 0.0,
        compute: 0.0,
        total: 0.0,
        currency: "USD".into(),
        list_total: 0.0,
        free_tier_applied: prices.has_free_tier() && !months.is_empty(),
        free_requests: 0,
        free_gb_seconds: 0.0,
    };
    for m in months {
        let free_requests = m.requests.min(prices.free_requests_per_month);
        let free_gb_seconds = m.gb_seconds.min(prices.free_gb_seconds_per_month);
        cost.free_requests += free_requests;
        cost.free_gb_seconds += free_gb_seconds;
        cost.requests += prices.requests_cost(m.requests - free_requests);
        cost.compute += prices.compute_cost(m.gb_seconds - free_gb_seconds);
        cost.list_total += prices.list_cost(m);
    }
    cost.total = cost.requests + cost.compute;
    cost
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(key: &str, requests: u64, gb_seconds: f64) -> UsageGroupRow {
        UsageGroupRow {
            key: key.into(),
            requests,
            gb_seconds,
            ..UsageGroupRow::default()
        }
    }

    #[test]
    fn defaults_are_aws_list_prices() {
        let p = Prices::default();
        assert_eq!(p.per_million_requests, 0.20);
        assert_eq!(p.per_gb_second, 0.0000166667);
        assert_eq!(p.free_requests_per_month, 1_000_000);
        assert_eq!(p.free_gb_seconds_per_month, 400_000.0);
        assert_eq!(
            p.note(),
            "Estimated from AWS Lambda x86 list prices (us-east-1): $0.20 per 1M requests and \
             $0.0000166667 per GB-second, with the monthly free tier (1,000,000 requests, \
             400,000 GB-seconds) applied per calendar month (UTC) of the period. Prices are \
             configurable; this is an estimate, not a bill."
        );
    }

    #[test]
    fn the_free_tier_is_per_month() {
        let p = Prices::default();
        // January: 3M requests, 500,000 GB-s; February: within the free tier.
        let cost = estimate(
            &[
                month("2026-01", 3_000_000, 500_000.0),
                month("2026-02", 10, 5.0),
            ],
            &p,
        );
        assert_eq!(cost.requests, 2_000_000.0 * 0.20 / 1_000_000.0);
        assert_eq!(cost.compute, 100_000.0 * 0.0000166667);
        assert_eq!(cost.total, cost.requests + cost.compute);
        assert!((cost.total - (0.40 + 1.66667)).abs() < 1e-9);
        assert!(cost.free_tier_applied);
        assert_eq!(cost.free_requests, 1_000_010);
        assert_eq!(cost.free_gb_seconds, 400_005.0);
        assert_eq!(
            cost.list_total,
            p.requests_cost(3_000_000)
                + p.compute_cost(500_000.0)
                + p.requests_cost(10)
                + p.compute_cost(5.0)
        );
    }

    #[test]
    fn without_a_free_tier_everything_is_priced() {
        let p = Prices {
            free_requests_per_month: 0,
            free_gb_seconds_per_month: 0.0,
            ..Prices::default()
        };
        let cost = estimate(&[month("2026-01", 1_000, 2.5)], &p);
        assert_eq!(cost.requests, 1_000.0 * 0.20 / 1_000_000.0);
        assert_eq!(cost.compute, 2.5 * 0.0000166667);
        assert_eq!(cost.total, cost.list_total);
        assert!(!cost.free_tier_applied);
        assert!(p.note().contains("no free tier"));
        assert!(!p.note().contains("AWS Lambda x86 list prices"));
    }

    #[test]
    fn no_usage_costs_nothing() {
        let cost = estimate(&[], &Prices::default());
        assert_eq!(cost.total, 0.0);
        assert!(!cost.free_tier_applied);
    }
}
