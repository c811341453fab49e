//! EventBridge Scheduler's REST paths: schedules
//! (`schedule/GROUP/NAME`, the group from `?groupName=` or the body's
//! `GroupName`, `default` when absent) and schedule groups
//! (`schedule-group/NAME`).

use std::collections::BTreeMap;

use http::Method;
use serde::Deserialize;

use super::{decoded, parse_body, routed_method, Classified, Operation, Scope};

/// The service principal schedules' roles are passed to.
const SCHEDULER: &str = "scheduler.amazonaws.com";

/// The group a schedule is in when the request names none.
const DEFAULT_GROUP: &str = "default";

pub(super) fn classify(
    method: &Method,
    segments: &[&str],
    query: &BTreeMap<String, String>,
    body: &[u8],
    scope: Scope,
) -> Classified {
    let schedule = |action: &str, name: &str, group: Option<&str>| -> Classified {
        let group = group.unwrap_or(DEFAULT_GROUP);
        let name = decoded(name);
        Operation::new(
            action,
            scope.arn("scheduler", &format!("schedule/{group}/{name}")),
        )
        .into()
    };
    let in_body = |action: &str, name: &str| -> Classified {
        #[derive(Deserialize, Default)]
        struct Input {
            #[serde(rename = "GroupName")]
            group_name: Option<String>,
            #[serde(rename = "Target")]
            target: Option<Target>,
        }
        #[derive(Deserialize)]
        struct Target {
            #[serde(rename = "RoleArn")]
            role_arn: Option<String>,
        }
        match parse_body::<Input>(body) {
            Some(input) => {
                let role = input.target.and_then(|t| t.role_arn);
                match schedule(action, name, input.group_name.as_deref()) {
                    Classified::Operation(op) => op.passing(role.as_deref(), SCHEDULER).into(),
                    other => other,
                }
            }
            None => Operation::any(action).into(),
        }
    };
    let group = |action: &str, name: &str| -> Classified {
        let name = decoded(name);
        Operation::new(
            action,
            scope.arn("scheduler", &format!("schedule-group/{name}")),
        )
        .into()
    };
    let in_query = query.get("groupName").map(String::as_str);
    match (routed_method(method), segments) {
        ("GET", ["schedules"]) => Operation::any("scheduler:ListSchedules").into(),
        ("GET", ["schedules", name]) => schedule("scheduler:GetSchedule", name, in_query),
        ("DELETE", ["schedules", name]) => schedule("scheduler:DeleteSchedule", name, in_query),
        ("POST", ["schedules", name]) => in_body("scheduler:CreateSchedule", name),
        ("PUT", ["schedules", name]) => in_body("scheduler:UpdateSchedule", name),
        ("GET", ["schedule-groups"]) => Operation::any("scheduler:ListScheduleGroups").into(),
        ("GET", ["schedule-groups", name]) => group("scheduler:GetScheduleGroup", name),
        ("POST", ["schedule-groups", name]) => group("scheduler:CreateScheduleGroup", name),
        ("DELETE", ["schedule-groups", name]) => group("scheduler:DeleteScheduleGroup", name),
        _ => Classified::Unknown,
    }
}
