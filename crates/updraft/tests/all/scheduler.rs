//! EventBridge Scheduler end to end: schedules and groups through the aws
//! CLI v1 and v2 (`aws scheduler`), boto3 and raw signed calls; firings
//! arrive at a recording function (its log, read with
//! `aws logs filter-log-events`), once per slot, also across restarts;
//! bad input answers Scheduler's errors and creates nothing.
//!
//! One shared server for the tests that do not restart it; every test
//! uses its own functions and schedules.

use std::process::Output;
use std::sync::OnceLock;
use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Value};

use crate::support::*;

/// The role schedules act with: the account's default scheduler role,
/// allowed to invoke its functions and send to its queues.
const ROLE: &str = "arn:aws:iam::000000000000:role/updraft-scheduler";

static SERVER: OnceLock<Server> = OnceLock::new();

fn server() -> &'static Server {
    Server::shared(&SERVER, &[])
}

/// How long a firing may take to reach the function's log.
const DELIVERY: Duration = Duration::from_secs(30);

/// `at(...)` for `secs` seconds from now, in UTC.
fn at_in(secs: i64) -> String {
    let t = Utc::now() + chrono::Duration::seconds(secs);
    format!("at({})", t.format("%Y-%m-%dT%H:%M:%S"))
}

/// `aws scheduler ...` with the CLI v1; panics unless it succeeds, returns
/// its JSON output (`{}` when it prints nothing).
#[track_caller]
fn scheduler(s: &Server, args: &[&str]) -> Value {
    let out = scheduler_out(s, args);
    let stdout = ok(&out, &format!("aws scheduler {}", args[0]));
    if stdout.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(&stdout).expect("aws scheduler prints JSON")
    }
}

fn scheduler_out(s: &Server, args: &[&str]) -> Output {
    let mut all = vec!["scheduler"];
    all.extend_from_slice(args);
    s.aws_v1(&all)
}

/// Creates a schedule with the CLI v1 that sends `input` to `function`.
#[track_caller]
fn create(s: &Server, name: &str, expression: &str, function: &str, input: &str) -> Value {
    scheduler(
        s,
        &[
            "create-schedule",
            "--name",
            name,
            "--schedule-expression",
            expression,
            "--target",
            &format!(
                "Arn={},RoleArn={ROLE},Input='{input}'",
                function_arn(function)
            ),
            "--flexible-time-window",
            "Mode=OFF",
        ],
    )
}

fn count(s: &Server, function: &str, event: &str) -> usize {
    s.recorded_events(function)
        .iter()
        .filter(|e| *e == event)
        .count()
}

/// Waits until `function` logged `event`.
fn wait_recorded(s: &Server, function: &str, event: &str) {
    eventually(DELIVERY, &format!("{event} in {function}'s log"), || {
        (count(s, function, event) > 0).then_some(())
    });
}

/// Asserts a Scheduler error answer; returns its message.
#[track_caller]
fn assert_scheduler_error(r: &Resp, status: u16, code: &str) -> String {
    assert_eq!(
        (r.status, r.error_type()),
        (status, Some(code)),
        "expected {code}: {}",
        r.text()
    );
    r.json()["Message"].as_str().expect("a Message").to_string()
}

#[test]
fn cli_v1_at_schedule_fires_once_into_the_function() {
    let s = server();
    let function = unique("sched-record");
    s.deploy(&function, guests::CMD_RECORD, json!({}));
    let name = unique("once");
    let created = create(s, &name, &at_in(3), &function, r#"{"k":"v"}"#);
    assert_eq!(
        created["ScheduleArn"],
        format!("arn:aws:scheduler:{REGION}:000000000000:schedule/default/{name}")
    );
    wait_recorded(s, &function, r#"{"k":"v"}"#);
    // A barrier: a later slot of another schedule has fired, so the
    // first one had every chance to fire twice.
    let barrier = unique("barrier");
    create(s, &barrier, &at_in(2), &function, r#"{"barrier":1}"#);
    wait_recorded(s, &function, r#"{"barrier":1}"#);
    assert_eq!(
        count(s, &function, r#"{"k":"v"}"#),
        1,
        "{:?}",
        s.recorded_events(&function)
    );
    // The schedule stays (ActionAfterCompletion NONE).
    let got = scheduler(s, &["get-schedule", "--name", &name]);
    assert_eq!(got["State"], "ENABLED");
}

#[test]
fn cli_v1_get_list_update_and_delete() {
    let s = server();
    let function = unique("sched-crud");
    let name = unique("crud");
    scheduler(
        s,
        &[
            "create-schedule",
            "--name",
            &name,
            "--schedule-expression",
            "cron(0 9 ? * MON-FRI *)",
            "--schedule-expression-timezone",
            "Europe/Paris",
            "--description",
            "weekday mornings",
            "--target",
            &format!("Arn={}:live,RoleArn={ROLE}", function_arn(&function)),
            "--flexible-time-window",
            "Mode=FLEXIBLE,MaximumWindowInMinutes=15",
        ],
    );
    let got = scheduler(s, &["get-schedule", "--name", &name]);
    assert_eq!(got["Name"], name.as_str());
    assert_eq!(got["GroupName"], "default");
    assert_eq!(got["ScheduleExpression"], "cron(0 9 ? * MON-FRI *)");
    assert_eq!(got["ScheduleExpressionTimezone"], "Europe/Paris");
    assert_eq!(got["Description"], "weekday mornings");
    assert_eq!(got["State"], "ENABLED");
    assert_eq!(got["ActionAfterCompletion"], "NONE");
    assert_eq!(
        got["FlexibleTimeWindow"],
        json!({"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15})
    );
    assert_eq!(
        got["Target"]["Arn"],
        format!("{}:live", function_arn(&function))
    );
    assert_eq!(
        got["Target"]["RetryPolicy"],
        json!({"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185})
    );
    assert!(
        got["CreationDate"].as_f64().is_some(),
        "epoch seconds: {got}"
    );

    let listed = scheduler(s, &["list-schedules", "--name-prefix", &name]);
    let names: Vec<&str> = listed["Schedules"]
        .as_array()
        .expect("Schedules")
        .iter()
        .filter_map(|s| s["Name"].as_str())
        .collect();
    assert_eq!(names, [name.as_str()]);
    assert_eq!(
        listed["Schedules"][0]["Target"],
        json!({"Arn": format!("{}:live", function_arn(&function))})
    );

    // UpdateSchedule replaces everything: the description is gone.
    scheduler(
        s,
        &[
            "update-schedule",
            "--name",
            &name,
            "--schedule-expression",
            "rate(5 minutes)",
            "--state",
            "DISABLED",
            "--target",
            &format!("Arn={},RoleArn={ROLE}", function_arn(&function)),
            "--flexible-time-window",
            "Mode=OFF",
        ],
    );
    let got = scheduler(s, &["get-schedule", "--name", &name]);
    assert_eq!(got["ScheduleExpression"], "rate(5 minutes)");
    assert_eq!(got["State"], "DISABLED");
    assert_eq!(got["ScheduleExpressionTimezone"], "UTC");
    assert!(got.get("Description").is_none(), "{got}");
    let disabled = scheduler(
        s,
        &[
            "list-schedules",
            "--name-prefix",
            &name,
            "--state",
            "DISABLED",
        ],
    );
    assert_eq!(disabled["Schedules"].as_array().map(Vec::len), Some(1));

    let again = scheduler_out(
        s,
        &[
            "create-schedule",
            "--name",
            &name,
            "--schedule-expression",
            "rate(1 day)",
            "--target",
            &format!("Arn={},RoleArn={ROLE}", function_arn(&function)),
            "--flexible-time-window",
            "Mode=OFF",
        ],
    );
    assert!(failed(&again, "a second create").contains("ConflictException"));

    scheduler(s, &["delete-schedule", "--name", &name]);
    let gone = scheduler_out(s, &["get-schedule", "--name", &name]);
    assert!(failed(&gone, "get after delete").contains("ResourceNotFoundException"));
    let gone = scheduler_out(s, &["delete-schedule", "--name", &name]);
    assert!(failed(&gone, "delete after delete").contains("ResourceNotFoundException"));
}

#[test]
fn cli_v1_schedule_groups() {
    let s = server();
    let group = unique("team");
    let function = unique("sched-group");
    let default = scheduler(s, &["get-schedule-group", "--name", "default"]);
    assert_eq!(default["State"], "ACTIVE");

    let created = scheduler(s, &["create-schedule-group", "--name", &group]);
    assert_eq!(
        created["ScheduleGroupArn"],
        format!("arn:aws:scheduler:{REGION}:000000000000:schedule-group/{group}")
    );
    let dup = scheduler_out(s, &["create-schedule-group", "--name", &group]);
    assert!(failed(&dup, "a second group create").contains("ConflictException"));

    let name = unique("in-group");
    scheduler(
        s,
        &[
            "create-schedule",
            "--name",
            &name,
            "--group-name",
            &group,
            "--schedule-expression",
            "rate(1 hour)",
            "--target",
            &format!("Arn={},RoleArn={ROLE}", function_arn(&function)),
            "--flexible-time-window",
            "Mode=OFF",
        ],
    );
    let in_default = scheduler_out(s, &["get-schedule", "--name", &name]);
    assert!(failed(&in_default, "get in the default group").contains("ResourceNotFoundException"));
    let got = scheduler(
        s,
        &["get-schedule", "--name", &name, "--group-name", &group],
    );
    assert_eq!(got["GroupName"], group.as_str());
    let listed = scheduler(s, &["list-schedules", "--group-name", &group]);
    assert_eq!(listed["Schedules"][0]["Name"], name.as_str());

    let groups = scheduler(s, &["list-schedule-groups", "--name-prefix", &group]);
    assert_eq!(groups["ScheduleGroups"][0]["Name"], group.as_str());

    // Deleting a group deletes its schedules.
    scheduler(s, &["delete-schedule-group", "--name", &group]);
    let gone = scheduler_out(s, &["get-schedule-group", "--name", &group]);
    assert!(failed(&gone, "get a deleted group").contains("ResourceNotFoundException"));
    let listed = scheduler(s, &["list-schedules", "--name-prefix", &name]);
    assert_eq!(listed["Schedules"], json!([]));

    let default = scheduler_out(s, &["delete-schedule-group", "--name", "default"]);
    assert!(failed(&default, "deleting the default group").contains("ValidationException"));
}

/// A schedule acts with its role, as on AWS: a slot whose role may not
/// invoke the target (the execution role `updraft` has no permissions;
/// `narrow` may invoke one function only) is skipped and says so in the
/// server log, its event going to the target's dead-letter queue with
/// Scheduler's error attributes, while the default scheduler role
/// delivers.
#[test]
fn a_schedule_acts_with_its_role_and_a_role_without_permission_delivers_nothing() {
    let s = server();
    let function = unique("sched-role");
    s.deploy(&function, guests::CMD_RECORD, json!({}));
    let narrow = unique("narrow");
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": "lambda:InvokeFunction", "Resource": function_arn("some-other-function")}]});
    ok(
        &s.aws_v2(&[
            "iam",
            "create-role",
            "--role-name",
            &narrow,
            "--assume-role-policy-document",
            &trust.to_string(),
        ]),
        "create-role",
    );
    ok(
        &s.aws_v2(&[
            "iam",
            "put-role-policy",
            "--role-name",
            &narrow,
            "--policy-name",
            "one",
            "--policy-document",
            &policy.to_string(),
        ]),
        "put-role-policy",
    );
    let refused = [
        (
            unique("no-perms"),
            "arn:aws:iam::000000000000:role/updraft".to_string(),
        ),
        (
            unique("narrow"),
            format!("arn:aws:iam::000000000000:role/{narrow}"),
        ),
    ];
    // The first one has a dead-letter queue: its event lands there.
    let (dlq_url, dlq_arn) = s.create_queue(&unique("sched-dlq"), json!({}));
    for (i, (name, role)) in refused.iter().enumerate() {
        let mut target = json!({"Arn": function_arn(&function), "RoleArn": role,
            "Input": format!("{{\"{name}\":1}}")});
        if i == 0 {
            target["DeadLetterConfig"] = json!({"Arn": dlq_arn});
        }
        let r = s.rest_call(
            "scheduler",
            "POST",
            &format!("/schedules/{name}"),
            Some(json!({
                "ScheduleExpression": at_in(2),
                "FlexibleTimeWindow": {"Mode": "OFF"},
                "Target": target,
            })),
        );
        assert_eq!(r.status, 200, "CreateSchedule {name}: {}", r.text());
    }
    // A later slot with the default role arrives; the refused ones,
    // due before it, never do.
    let barrier = unique("barrier");
    create(s, &barrier, &at_in(5), &function, r#"{"barrier":4}"#);
    wait_recorded(s, &function, r#"{"barrier":4}"#);
    assert_eq!(s.recorded_events(&function), [r#"{"barrier":4}"#]);
    let received = s.json_call(
        "sqs",
        "AmazonSQS.ReceiveMessage",
        json!({"QueueUrl": dlq_url, "MessageAttributeNames": ["All"], "WaitTimeSeconds": 5}),
    );
    assert_eq!(received.status, 200, "{}", received.text());
    let messages = received.json()["Messages"].clone();
    let first = &messages[0];
    assert_eq!(
        first["Body"],
        format!("{{\"{}\":1}}", refused[0].0),
        "{messages}"
    );
    let attrs = &first["MessageAttributes"];
    assert_eq!(
        attrs["ERROR_CODE"]["StringValue"], "AccessDeniedException",
        "{attrs}"
    );
    assert!(
        attrs["SCHEDULE_ARN"]["StringValue"]
            .as_str()
            .is_some_and(|a| a.ends_with(&format!("schedule/default/{}", refused[0].0))),
        "{attrs}"
    );
    assert_eq!(attrs["TARGET_ARN"]["StringValue"], function_arn(&function));
    let log = s.server_log();
    for (name, role) in &refused {
        assert!(
            log.lines().any(|l| l.contains("could not be reached")
                && l.contains(&format!("schedule/default/{name}"))
                && l.contains(role.as_str())),
            "{name} is skipped for its role: {log}"
        );
    }
}

#[test]
fn disabled_and_deleted_schedules_do_not_fire() {
    let s = server();
    let function = unique("sched-stop");
    s.deploy(&function, guests::CMD_RECORD, json!({}));
    let disabled = unique("disabled");
    let deleted = unique("deleted");
    let body = |input: &str, state: &str| {
        json!({
            "ScheduleExpression": at_in(3),
            "State": state,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {"Arn": function_arn(&function), "RoleArn": ROLE, "Input": input},
        })
    };
    // Raw calls: the changes land well before the slots.
    for (name, input) in [
        (&disabled, r#"{"disabled":1}"#),
        (&deleted, r#"{"deleted":1}"#),
    ] {
        let r = s.rest_call(
            "scheduler",
            "POST",
            &format!("/schedules/{name}"),
            Some(body(input, "ENABLED")),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = s.rest_call(
        "scheduler",
        "PUT",
        &format!("/schedules/{disabled}"),
        Some(body(r#"{"disabled":1}"#, "DISABLED")),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s.rest_call(
        "scheduler",
        "DELETE",
        &format!("/schedules/{deleted}"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());

    let barrier = unique("barrier");
    create(s, &barrier, &at_in(5), &function, r#"{"barrier":2}"#);
    wait_recorded(s, &function, r#"{"barrier":2}"#);
    assert_eq!(s.recorded_events(&function), [r#"{"barrier":2}"#]);
}

/// CreateSchedule with a raw signed call (fast: no CLI start-up).
#[track_caller]
fn create_raw(s: &Server, name: &str, expression: &str, target_arn: &str, input: &str) {
    let r = s.rest_call(
        "scheduler",
        "POST",
        &format!("/schedules/{name}"),
        Some(json!({
            "ScheduleExpression": expression,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {"Arn": target_arn, "RoleArn": ROLE, "Input": input},
        })),
    );
    assert_eq!(r.status, 200, "CreateSchedule {name}: {}", r.text());
}

#[test]
fn slots_fire_once_across_restarts_and_a_missed_at_slot_fires_after_start() {
    let mut s = Server::start(&[]);
    let function = unique("sched-restart");
    s.deploy(&function, guests::CMD_RECORD, json!({}));

    let fired = unique("fired");
    create(&s, &fired, &at_in(2), &function, r#"{"fired":1}"#);
    wait_recorded(&s, &function, r#"{"fired":1}"#);

    // A slot that passes while the server is down.
    let missed = unique("missed");
    let slot = Utc::now() + chrono::Duration::seconds(4);
    let expression = format!("at({})", slot.format("%Y-%m-%dT%H:%M:%S"));
    create_raw(
        &s,
        &missed,
        &expression,
        &function_arn(&function),
        r#"{"missed":1}"#,
    );
    let status = s.terminate();
    assert!(status.success(), "updraft serve exited with {status}");
    let wait = slot + chrono::Duration::seconds(1) - Utc::now();
    std::thread::sleep(wait.to_std().unwrap_or_default());
    s.restart_after_exit();

    wait_recorded(&s, &function, r#"{"missed":1}"#);
    let log = s.server_log();
    assert!(
        log.contains(&format!("schedule/default/{missed}"))
            && !log.contains(&format!("schedule/default/{fired}\"")),
        "the missed slot fires after the start, the fired one does not: {log}"
    );
    let barrier = unique("barrier");
    create(&s, &barrier, &at_in(2), &function, r#"{"barrier":3}"#);
    wait_recorded(&s, &function, r#"{"barrier":3}"#);
    let events = s.recorded_events(&function);
    for event in [r#"{"fired":1}"#, r#"{"missed":1}"#] {
        assert_eq!(
            events.iter().filter(|e| *e == event).count(),
            1,
            "{event} once: {events:?}"
        );
    }
}

#[test]
fn a_rate_schedule_fires_at_creation_and_an_sqs_target_gets_the_input() {
    let s = server();
    let function = unique("sched-rate");
    s.deploy(&function, guests::CMD_RECORD, json!({}));
    let rate = unique("rate");
    create_raw(
        s,
        &rate,
        "rate(1 day)",
        &function_arn(&function),
        r#"{"rate":1}"#,
    );
    wait_recorded(s, &function, r#"{"rate":1}"#);

    let queue = unique("sched-queue");
    let r = s.json_call("sqs", "AmazonSQS.CreateQueue", json!({"QueueName": queue}));
    assert_eq!(r.status, 200, "CreateQueue: {}", r.text());
    let url = r.json()["QueueUrl"].as_str().expect("QueueUrl").to_string();
    let to_queue = unique("to-queue");
    create_raw(
        s,
        &to_queue,
        &at_in(1),
        &format!("arn:aws:sqs:{REGION}:000000000000:{queue}"),
        r#"{"queued":1}"#,
    );
    let body = eventually(DELIVERY, "the scheduled message", || {
        let r = s.json_call(
            "sqs",
            "AmazonSQS.ReceiveMessage",
            json!({"QueueUrl": url, "MaxNumberOfMessages": 1, "WaitTimeSeconds": 1}),
        );
        assert_eq!(r.status, 200, "ReceiveMessage: {}", r.text());
        r.json()["Messages"][0]["Body"].as_str().map(str::to_string)
    });
    assert_eq!(body, r#"{"queued":1}"#);
}

/// Runs `code` with boto3 (a `scheduler` client is in `client`).
fn boto3(s: &Server, code: &str) -> Output {
    s.boto3_inline(
        &format!("import sys, boto3\nclient = boto3.client('scheduler', endpoint_url=sys.argv[1], region_name='{REGION}')\n{code}"),
        &[],
    )
}

#[test]
fn boto3_invalid_expressions_are_validation_exceptions_and_create_nothing() {
    let s = server();
    let name = unique("invalid");
    let out = boto3(
        s,
        &format!(
            r#"
target = {{'Arn': '{arn}', 'RoleArn': '{ROLE}'}}
for expression, zone in [('cron(0 12 * * * *)', 'UTC'), ('rate(0 minutes)', 'UTC'), ('cron(0 12 * * ? *)', 'Mars/Base')]:
    try:
        client.create_schedule(Name='{name}', ScheduleExpression=expression, ScheduleExpressionTimezone=zone,
                               Target=target, FlexibleTimeWindow={{'Mode': 'OFF'}})
        print('created', expression)
    except client.exceptions.ValidationException as e:
        print('ValidationException', e.response['Error']['Message'])
try:
    client.get_schedule(Name='{name}')
    print('exists')
except client.exceptions.ResourceNotFoundException:
    print('not found')
"#,
            arn = function_arn("nothing")
        ),
    );
    let stdout = ok(&out, "the boto3 scheduler script");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(
        lines[..3]
            .iter()
            .all(|l| l.starts_with("ValidationException")),
        "{stdout}"
    );
    assert!(lines[0].contains("cron(0 12 * * * *)"), "{stdout}");
    assert!(lines[2].contains("Mars/Base"), "{stdout}");
    assert_eq!(lines[3], "not found");
}

#[test]
fn boto3_round_trips_a_schedule() {
    let s = server();
    let name = unique("boto3");
    let out = boto3(
        s,
        &format!(
            r#"
import datetime
start = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
end = datetime.datetime(2031, 1, 1, tzinfo=datetime.timezone.utc)
arn = client.create_schedule(Name='{name}', ScheduleExpression='rate(1 day)', StartDate=start, EndDate=end,
    Target={{'Arn': '{arn}', 'RoleArn': '{ROLE}', 'Input': '{{}}',
            'DeadLetterConfig': {{'Arn': 'arn:aws:sqs:{REGION}:000000000000:dlq'}},
            'RetryPolicy': {{'MaximumRetryAttempts': 3, 'MaximumEventAgeInSeconds': 600}}}},
    FlexibleTimeWindow={{'Mode': 'OFF'}}, ActionAfterCompletion='DELETE')['ScheduleArn']
got = client.get_schedule(Name='{name}', GroupName='default')
assert got['Arn'] == arn, got
assert got['StartDate'] == start and got['EndDate'] == end, got
assert isinstance(got['CreationDate'], datetime.datetime), got
assert got['Target']['RetryPolicy'] == {{'MaximumRetryAttempts': 3, 'MaximumEventAgeInSeconds': 600}}, got
assert got['Target']['DeadLetterConfig']['Arn'].endswith(':dlq'), got
assert got['ActionAfterCompletion'] == 'DELETE', got
names = [s['Name'] for s in client.get_paginator('list_schedules').paginate(NamePrefix='{name}').build_full_result()['Schedules']]
assert names == ['{name}'], names
client.delete_schedule(Name='{name}')
print('ok')
"#,
            arn = function_arn("later")
        ),
    );
    assert_eq!(ok(&out, "the boto3 round trip").trim(), "ok");
}

#[test]
fn bad_requests_answer_scheduler_errors() {
    let s = server();
    let name = unique("raw");
    let body = json!({
        "ScheduleExpression": "rate(1 day)",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": function_arn("x"), "RoleArn": ROLE},
        "Surprise": true,
    });
    let r = s.rest_call(
        "scheduler",
        "POST",
        &format!("/schedules/{name}"),
        Some(body),
    );
    assert_scheduler_error(&r, 400, "ValidationException");
    let r = s.rest_call(
        "scheduler",
        "POST",
        &format!("/schedules/{name}"),
        Some(json!({
            "ScheduleExpression": "rate(1 day)",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {"Arn": function_arn("x"), "RoleArn": ROLE},
            "GroupName": "no-such-group",
        })),
    );
    assert!(assert_scheduler_error(&r, 404, "ResourceNotFoundException").contains("no-such-group"));
    let r = s.rest_call("scheduler", "GET", &format!("/schedules/{name}"), None);
    assert_scheduler_error(&r, 404, "ResourceNotFoundException");
    let r = s.rest_call("scheduler", "GET", "/schedules?MaxResults=0", None);
    assert_scheduler_error(&r, 400, "ValidationException");
}

#[test]
fn cli_v2_lists_schedules() {
    let s = server();
    let name = unique("v2");
    create(s, &name, "rate(1 day)", "nothing", "{}");
    let out = s.aws_v2(&["scheduler", "list-schedules", "--name-prefix", &name]);
    let listed = ok_json(&out, "aws v2 scheduler list-schedules");
    assert_eq!(listed["Schedules"][0]["Name"], name.as_str());
    assert_eq!(listed["Schedules"][0]["State"], "ENABLED");
}
