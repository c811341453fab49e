//! The usage report: sums per group, totals and the estimated cost, as
//! the usage API answers them (`GET /updraft/v1/usage`).

use serde::{Deserialize, Serialize};
use updraft_store::usage::MB_MS_PER_GB_SECOND;
use updraft_store::{Store, StoreError, UsageGroup, UsageGroupRow, UsageQuery};

use crate::pricing::{estimate, Cost, Prices};

/// One group's sums and what they cost at list price (before the free
/// tier, which is the account's and applies to the totals only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportGroup {
    #[serde(flatten)]
    pub usage: UsageGroupRow,
    pub list_cost: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageReport {
    /// The period: records that started in `[since, until)`, ms since the
    /// epoch.
    pub since: i64,
    pub until: i64,
    /// The grouping (`UsageGroup::as_str`).
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    pub groups: Vec<ReportGroup>,
    /// The sums over the whole period (key `"all"`).
    pub totals: UsageGroupRow,
    pub estimated_cost: Cost,
    pub prices: Prices,
    pub note: String,
}

/// Reads the report for `query` from `store`: two summaries (the groups
/// asked for, and months for the free tier and the totals).
pub fn build(
    store: &dyn Store,
    query: &UsageQuery,
    group: UsageGroup,
    prices: &Prices,
) -> Result<UsageReport, StoreError> {
    let months = store.usage_summary(query, UsageGroup::Month)?;
    let rows = if group == UsageGroup::Month {
        months.clone()
    } else {
        store.usage_summary(query, group)?
    };
    Ok(UsageReport {
        since: query.since_ms,
        until: query.until_ms,
        by: group.as_str().to_string(),
        function: query.function.clone(),
        groups: rows
            .into_iter()
            .map(|usage| ReportGroup {
                list_cost: prices.list_cost(&usage),
                usage,
            })
            .collect(),
        totals: total(&months),
        estimated_cost: estimate(&months, prices),
        prices: *prices,
        note: prices.note(),
    })
}

/// The sum of `rows` (key `"all"`); GB-seconds from the exact MB-ms sum.
pub fn total(rows: &[UsageGroupRow]) -> UsageGroupRow {
    let mut t = UsageGroupRow {
        key: UsageGroup::ALL.to_string(),
        ..UsageGroupRow::default()
    };
    for r in rows {
        t.requests += r.requests;
        t.errors += r.errors;
        t.timeouts += r.timeouts;
        t.throttles += r.throttles;
        t.cold_starts += r.cold_starts;
        t.duration_us += r.duration_us;
        t.billed_ms += r.billed_ms;
        t.init_duration_us += r.init_duration_us;
        t.mb_ms += r.mb_ms;
    }
    t.gb_seconds = t.mb_ms as f64 / MB_MS_PER_GB_SECOND;
    t
}
