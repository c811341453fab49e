//! The usage API: `GET /updraft/v1/usage`, signed for service `lambda`.
//!
//! ```text
//! ?since=<ms>&until=<ms>          records that started in [since, until);
//!                                 default the 24 hours before now
//! &by=function|day|hour|month|none  default function
//! &function=NAME                  one function only
//! &account=ID                     that account's usage (default: the
//!                                 caller's); the node's account may
//!                                 read every account's
//! ```
//!
//! The answer is [`updraft_metering::UsageReport`] as JSON: `groups`,
//! `totals`, `estimatedCost`, `prices` and a `note` saying where the prices
//! come from. With metering on (`AppState::metering`), the report first
//! commits what is being metered and uses the configured prices; without
//! it the report reads the store and prices at AWS Lambda's list prices.

use std::collections::HashMap;

use axum::extract::Query;
use axum::response::{IntoResponse, Response};
use axum::Json;
use updraft_api::LambdaError;
use updraft_metering::{report, Prices, UsageGroup, UsageQuery};
use updraft_types::FunctionName;

use crate::{ApiError, InAccount};

/// The period when `since` is not given: the day before `until`.
const DEFAULT_PERIOD_MS: i64 = 24 * 3600 * 1000;

/// A parsed usage request.
#[derive(Debug, PartialEq)]
struct UsageRequest {
    query: UsageQuery,
    group: UsageGroup,
}

fn invalid(message: String) -> LambdaError {
    LambdaError::InvalidParameterValue(message)
}

fn millis(params: &HashMap<String, String>, name: &str) -> Result<Option<i64>, LambdaError> {
    params
        .get(name)
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                invalid(format!(
                    "{name} must be a time in milliseconds since the Unix epoch, not '{v}'"
                ))
            })
        })
        .transpose()
}

fn parse(params: &HashMap<String, String>, now_ms: i64) -> Result<UsageRequest, LambdaError> {
    for key in params.keys() {
        let known = matches!(key.as_str(), "since" | "until" | "by" | "function" | "account")
            // A presigned request carries its signature in the query.
            || key.to_ascii_lowercase().starts_with("x-amz-");
        if !known {
            return Err(invalid(format!(
                "unknown parameter '{key}' (expected since, until, by, function, account)"
            )));
        }
    }
    let until_ms = millis(params, "until")?.unwrap_or(now_ms);
    let since_ms = millis(params, "since")?.unwrap_or(until_ms.saturating_sub(DEFAULT_PERIOD_MS));
    if since_ms >= until_ms {
        return Err(invalid(format!(
            "since ({since_ms}) must be before until ({until_ms})"
        )));
    }
    let group = match params.get("by") {
        None => UsageGroup::Function,
        Some(by) => UsageGroup::parse(by).ok_or_else(|| {
            invalid(format!(
                "by must be one of function, day, hour, month, none; not '{by}'"
            ))
        })?,
    };
    let function = params
        .get("function")
        .map(|f| FunctionName::new(f).map(|n| n.to_string()))
        .transpose()?;
    Ok(UsageRequest {
        query: UsageQuery {
            since_ms,
            until_ms,
            function,
        },
        group,
    })
}

pub async fn usage(
    s: InAccount,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let req = parse(&params, updraft_metering::now_ms())?;
    // The request acts in the account it names when the node holds it.
    if let Some(account) = params.get("account") {
        if *account != s.account.account_id {
            return Err(invalid(format!("account {account} has no resources on this node")).into());
        }
    }
    let store = s.store.clone();
    let metering = s.metering.clone();
    let built = tokio::task::spawn_blocking(move || match metering {
        Some(m) => m.report(&req.query, req.group),
        None => report::build(store.as_ref(), &req.query, req.group, &Prices::default()),
    })
    .await;
    match built {
        Ok(Ok(report)) => Ok(Json(report).into_response()),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "reading usage");
            Err(LambdaError::Service("could not read usage; see the server log".into()).into())
        }
        Err(e) => {
            tracing::error!(error = %e, "the usage report task failed");
            Err(LambdaError::Service("could not read usage; see the server log".into()).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn status(e: LambdaError) -> u16 {
        e.status().as_u16()
    }

    #[test]
    fn defaults_are_the_last_day_by_function() {
        let now = 1_800_000_000_000;
        assert_eq!(
            parse(&params(&[]), now).unwrap(),
            UsageRequest {
                query: UsageQuery {
                    since_ms: now - 86_400_000,
                    until_ms: now,
                    function: None,
                },
                group: UsageGroup::Function,
            }
        );
    }

    #[test]
    fn every_parameter() {
        let got = parse(
            &params(&[
                ("since", "1000"),
                ("until", "2000"),
                ("by", "hour"),
                ("function", "my-fn"),
                ("X-Amz-Signature", "ignored"),
            ]),
            5,
        )
        .unwrap();
        assert_eq!(
            got,
            UsageRequest {
                query: UsageQuery {
                    since_ms: 1000,
                    until_ms: 2000,
                    function: Some("my-fn".into()),
                },
                group: UsageGroup::Hour,
            }
        );
        for by in ["function", "day", "hour", "month", "none"] {
            assert_eq!(parse(&params(&[("by", by)]), 5).unwrap().group.as_str(), by);
        }
    }

    #[test]
    fn bad_parameters_are_400s() {
        for bad in [
            params(&[("since", "yesterday")]),
            params(&[("until", "1.5")]),
            params(&[("since", "10"), ("until", "10")]),
            params(&[("since", "11"), ("until", "10")]),
            params(&[("by", "week")]),
            params(&[("function", "not a name")]),
            params(&[("fn", "x")]),
        ] {
            let e = parse(&bad, 1_000).expect_err(&format!("{bad:?}"));
            assert_eq!(status(e), 400, "{bad:?}");
        }
    }
}
