//! End-to-end tests: event source mappings from SQS queues, driven by the
//! aws CLI v1 and boto3, observed through the function's logs and the
//! queues' attributes.

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{eventually, failed, guests, metric, ok, ok_json, unique, Server, REGION};

/// How long deliveries may take (receives, invocations, log batching).
const BOUND: Duration = Duration::from_secs(30);

fn server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    Server::shared(&S, &[])
}

/// An execution role Lambda may poll the account's queues with (as
/// `AWSLambdaSQSQueueExecutionRole` grants), as `{"Role": ARN}` for
/// CreateFunction.
fn reader(s: &Server) -> Value {
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
        "Resource": "arn:aws:sqs:*:000000000000:*"}]});
    json!({"Role": s.role_with_policy("queue-reader", "lambda.amazonaws.com", policy)})
}

/// `extra` with the queue-reading execution role.
fn with_reader(s: &Server, extra: Value) -> Value {
    let mut out = reader(s);
    if let (Some(o), Some(e)) = (out.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    out
}

fn attributes_of(s: &Server, url: &str) -> Value {
    let r = s.json_call(
        "sqs",
        "AmazonSQS.GetQueueAttributes",
        json!({"QueueUrl": url, "AttributeNames": ["All"]}),
    );
    assert_eq!(r.status, 200, "GetQueueAttributes: {}", r.text());
    r.json()["Attributes"].clone()
}

/// `(visible, in flight)` messages of a queue.
fn depth(s: &Server, url: &str) -> (u64, u64) {
    let a = attributes_of(s, url);
    let n = |k: &str| {
        a[k].as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or(u64::MAX)
    };
    (
        n("ApproximateNumberOfMessages"),
        n("ApproximateNumberOfMessagesNotVisible"),
    )
}

fn wait_until_empty(s: &Server, url: &str) {
    eventually(BOUND, "the queue to drain", || {
        (depth(s, url) == (0, 0)).then_some(())
    });
}

fn send(s: &Server, url: &str, bodies: &[&str]) {
    let entries: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| json!({"Id": format!("m{i}"), "MessageBody": b}))
        .collect();
    for chunk in entries.chunks(10) {
        let r = s.json_call(
            "sqs",
            "AmazonSQS.SendMessageBatch",
            json!({"QueueUrl": url, "Entries": chunk}),
        );
        assert_eq!(r.status, 200, "SendMessageBatch: {}", r.text());
        assert_eq!(
            r.json()["Successful"].as_array().map(Vec::len),
            Some(chunk.len()),
            "SendMessageBatch: {}",
            r.text()
        );
    }
}

/// The function's log lines, trimmed, through `aws logs filter-log-events`.
fn log_messages(s: &Server, function: &str) -> Vec<String> {
    let out = s.aws_v1(&[
        "logs",
        "filter-log-events",
        "--log-group-name",
        &format!("/aws/lambda/{function}"),
    ]);
    ok_json(&out, "aws logs filter-log-events")["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| Some(e["message"].as_str()?.trim().to_string()))
        .collect()
}

/// The SQS events a `CMD_RECORD` function logged (`event: {...}` lines).
fn recorded_events(s: &Server, function: &str) -> Vec<Value> {
    log_messages(s, function)
        .iter()
        .filter_map(|m| m.strip_prefix("event: ")?.parse().ok())
        .collect()
}

/// Every record body the function received, in the order logged.
fn recorded_bodies(s: &Server, function: &str) -> Vec<String> {
    recorded_events(s, function)
        .iter()
        .flat_map(|e| e["Records"].as_array().cloned().unwrap_or_default())
        .map(|r| r["body"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn cli_mapping(s: &Server, args: &[&str], what: &str) -> Value {
    let mut full = vec!["lambda"];
    full.extend(args);
    ok_json(&s.aws_v1(&full), what)
}

#[test]
fn a_queue_feeds_its_function_in_batches_until_disabled_and_deleted() {
    let s = server();
    let function = unique("esm-record");
    s.deploy(&function, guests::CMD_RECORD, reader(s));
    let (url, arn) = s.create_queue(&unique("esm-orders"), json!({}));

    let created = cli_mapping(
        s,
        &[
            "create-event-source-mapping",
            "--function-name",
            &function,
            "--event-source-arn",
            &arn,
            "--batch-size",
            "4",
        ],
        "aws lambda create-event-source-mapping",
    );
    let uuid = created["UUID"].as_str().expect("UUID").to_string();
    assert_eq!(created["State"], "Creating");
    assert_eq!(created["BatchSize"], 4);
    assert_eq!(created["MaximumBatchingWindowInSeconds"], 0);
    assert_eq!(created["EventSourceArn"], arn.as_str());
    assert_eq!(
        created["FunctionArn"],
        format!("arn:aws:lambda:{REGION}:000000000000:function:{function}")
    );
    assert!(created["LastModified"].as_f64().is_some(), "{created}");

    let bodies: Vec<String> = (0..11).map(|i| format!("order {i}")).collect();
    send(
        s,
        &url,
        &bodies.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let seen = eventually(BOUND, "all 11 records in the function's log", || {
        let seen: BTreeSet<String> = recorded_bodies(s, &function).into_iter().collect();
        (seen.len() == bodies.len()).then_some(seen)
    });
    assert_eq!(seen, bodies.iter().cloned().collect::<BTreeSet<_>>());
    wait_until_empty(s, &url);

    let events = recorded_events(s, &function);
    assert!(events.len() >= 3, "11 messages in batches of 4: {events:?}");
    for event in &events {
        let records = event["Records"].as_array().expect("Records");
        assert!((1..=4).contains(&records.len()), "batch size: {event}");
        for r in records {
            assert_eq!(r["eventSource"], "aws:sqs");
            assert_eq!(r["eventSourceARN"], arn.as_str());
            assert_eq!(r["awsRegion"], REGION);
            assert_eq!(r["attributes"]["ApproximateReceiveCount"], "1");
            assert!(r["messageId"].as_str().is_some_and(|id| !id.is_empty()));
            assert!(r["receiptHandle"].as_str().is_some_and(|h| !h.is_empty()));
            assert!(r["md5OfBody"].as_str().is_some_and(|m| m.len() == 32));
        }
    }
    let text = s.metrics();
    let delivered = metric(
        &text,
        &format!(
            r#"updraft_event_deliveries_total{{function="{function}",source="sqs",result="Success"}}"#
        ),
    );
    assert_eq!(delivered, Some(events.len() as f64), "{text}");

    let got = cli_mapping(
        s,
        &["get-event-source-mapping", "--uuid", &uuid],
        "aws lambda get-event-source-mapping",
    );
    assert_eq!(got["State"], "Enabled");
    assert_eq!(got["StateTransitionReason"], "USER_INITIATED");
    let listed = cli_mapping(
        s,
        &["list-event-source-mappings", "--function-name", &function],
        "aws lambda list-event-source-mappings",
    );
    let uuids: Vec<&str> = listed["EventSourceMappings"]
        .as_array()
        .expect("EventSourceMappings")
        .iter()
        .filter_map(|m| m["UUID"].as_str())
        .collect();
    assert_eq!(uuids, [uuid.as_str()]);

    // Disabled: new messages stay in the queue, and flow again once enabled.
    let disabled = cli_mapping(
        s,
        &[
            "update-event-source-mapping",
            "--uuid",
            &uuid,
            "--no-enabled",
        ],
        "aws lambda update-event-source-mapping --no-enabled",
    );
    assert_eq!(disabled["State"], "Disabling");
    let got = cli_mapping(
        s,
        &["get-event-source-mapping", "--uuid", &uuid],
        "aws lambda get-event-source-mapping",
    );
    assert_eq!(got["State"], "Disabled");
    send(s, &url, &["while disabled"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        depth(s, &url),
        (1, 0),
        "a disabled mapping receives nothing"
    );
    assert!(!recorded_bodies(s, &function).contains(&"while disabled".to_string()));

    let enabled = cli_mapping(
        s,
        &[
            "update-event-source-mapping",
            "--uuid",
            &uuid,
            "--enabled",
            "--batch-size",
            "2",
        ],
        "aws lambda update-event-source-mapping --enabled",
    );
    assert_eq!(enabled["State"], "Enabling");
    assert_eq!(enabled["BatchSize"], 2);
    eventually(BOUND, "the message sent while disabled", || {
        recorded_bodies(s, &function)
            .contains(&"while disabled".to_string())
            .then_some(())
    });
    wait_until_empty(s, &url);

    let deleted = cli_mapping(
        s,
        &["delete-event-source-mapping", "--uuid", &uuid],
        "aws lambda delete-event-source-mapping",
    );
    assert_eq!(deleted["State"], "Deleting");
    let err = failed(
        &s.aws_v1(&["lambda", "get-event-source-mapping", "--uuid", &uuid]),
        "get of a deleted mapping",
    );
    assert!(err.contains("ResourceNotFoundException"), "{err}");
    send(s, &url, &["after delete"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(depth(s, &url), (1, 0), "a deleted mapping receives nothing");
}

#[test]
fn a_failing_batch_returns_to_the_queue_and_ends_in_the_dead_letter_queue() {
    let s = server();
    let function = unique("esm-redrive");
    s.deploy(
        &function,
        guests::CMD_RECORD,
        with_reader(s, json!({"Timeout": 1})),
    );
    let (dlq_url, dlq_arn) = s.create_queue(&unique("esm-dlq"), json!({}));
    let redrive = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}).to_string();
    let (url, arn) = s.create_queue(
        &unique("esm-work"),
        json!({"VisibilityTimeout": "1", "RedrivePolicy": redrive}),
    );
    cli_mapping(
        s,
        &[
            "create-event-source-mapping",
            "--function-name",
            &function,
            "--event-source-arn",
            &arn,
        ],
        "aws lambda create-event-source-mapping",
    );
    // `CMD_RECORD` fails on an event with the JSON string "fail".
    send(s, &url, &["fail"]);

    eventually(BOUND, "the message in the dead-letter queue", || {
        (depth(s, &dlq_url) == (1, 0)).then_some(())
    });
    wait_until_empty(s, &url);
    let counts = eventually(BOUND, "both attempts in the function's log", || {
        let counts: Vec<String> = recorded_events(s, &function)
            .iter()
            .flat_map(|e| e["Records"].as_array().cloned().unwrap_or_default())
            .map(|r| {
                r["attributes"]["ApproximateReceiveCount"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        (counts.len() >= 2).then_some(counts)
    });
    assert_eq!(counts, ["1", "2"], "tried maxReceiveCount times");
    let retries = metric(
        &s.metrics(),
        &format!(
            r#"updraft_event_deliveries_total{{function="{function}",source="sqs",result="Retry"}}"#
        ),
    );
    assert_eq!(retries, Some(2.0));
}

/// A Python handler that reports the records whose body contains "fail".
const PARTIAL_HANDLER: &str = r#"
def handler(event, context):
    bodies = [r["body"] for r in event["Records"]]
    print("batch:", "|".join(bodies))
    return {"batchItemFailures": [
        {"itemIdentifier": r["messageId"]} for r in event["Records"] if "fail" in r["body"]
    ]}
"#;

const BOTO3_PARTIAL: &str = r#"
import json, sys, boto3
endpoint, function, arn = sys.argv[1:4]
client = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1")
m = client.create_event_source_mapping(
    FunctionName=function, EventSourceArn=arn, BatchSize=10,
    FunctionResponseTypes=["ReportBatchItemFailures"],
    ScalingConfig={"MaximumConcurrency": 2},
)
got = client.get_event_source_mapping(UUID=m["UUID"])
try:
    client.get_event_source_mapping(UUID="00000000-0000-0000-0000-000000000000")
    missing = None
except client.exceptions.ResourceNotFoundException as e:
    missing = e.response["Error"]["Code"]
try:
    client.create_event_source_mapping(FunctionName=function, EventSourceArn=arn)
    duplicate = None
except client.exceptions.ResourceConflictException as e:
    duplicate = e.response["Error"]["Code"]
print(json.dumps({
    "uuid": m["UUID"],
    "state": got["State"],
    "types": got["FunctionResponseTypes"],
    "scaling": got["ScalingConfig"],
    "missing": missing,
    "duplicate": duplicate,
}))
"#;

#[test]
fn reported_batch_item_failures_are_retried_alone() {
    let s = server();
    let function = unique("esm-partial");
    let zip = guests::zip_single("app.py", PARTIAL_HANDLER.as_bytes());
    let r = s.create_function_zip(
        &function,
        &zip,
        with_reader(
            s,
            json!({"Runtime": "python3.11", "Handler": "app.handler", "Timeout": 3}),
        ),
    );
    assert_eq!(r.status, 201, "creating {function}: {}", r.text());
    let (dlq_url, dlq_arn) = s.create_queue(&unique("esm-partial-dlq"), json!({}));
    let redrive = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}).to_string();
    let (url, arn) = s.create_queue(
        &unique("esm-partial-q"),
        json!({"VisibilityTimeout": "3", "RedrivePolicy": redrive}),
    );
    send(s, &url, &["first ok", "this one fails", "second ok"]);

    let out = s.boto3_inline(BOTO3_PARTIAL, &[&function, &arn]);
    let v: Value = serde_json::from_str(ok(&out, "boto3 event source mapping").trim()).unwrap();
    assert_eq!(v["state"], "Enabled");
    assert_eq!(v["types"], json!(["ReportBatchItemFailures"]));
    assert_eq!(v["scaling"], json!({"MaximumConcurrency": 2}));
    assert_eq!(v["missing"], "ResourceNotFoundException");
    assert_eq!(v["duplicate"], "ResourceConflictException");

    // The reported message comes back alone, fails again, and goes to the
    // dead-letter queue after maxReceiveCount (2) receives; the others were
    // deleted after the first batch.
    eventually(BOUND, "the failed item in the dead-letter queue", || {
        (depth(s, &dlq_url) == (1, 0)).then_some(())
    });
    wait_until_empty(s, &url);
    let r = s.json_call(
        "sqs",
        "AmazonSQS.ReceiveMessage",
        json!({"QueueUrl": dlq_url, "MaxNumberOfMessages": 10}),
    );
    let dead: Vec<String> = r.json()["Messages"]
        .as_array()
        .expect("Messages")
        .iter()
        .map(|m| m["Body"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(dead, ["this one fails"]);
    let batches = eventually(BOUND, "both batches in the function's log", || {
        let batches: Vec<String> = log_messages(s, &function)
            .into_iter()
            .filter(|m| m.starts_with("batch: "))
            .collect();
        (batches.len() >= 2).then_some(batches)
    });
    assert_eq!(
        batches,
        [
            "batch: first ok|this one fails|second ok",
            "batch: this one fails"
        ]
    );
}

/// A Python handler that takes a second per batch and logs when it ran.
const SLOW_HANDLER: &str = r#"
import time
def handler(event, context):
    start = time.time()
    time.sleep(1)
    print("span:", start, time.time())
"#;

#[test]
fn pollers_scale_with_the_backlog_up_to_the_maximum_concurrency() {
    let s = server();
    let function = unique("esm-scale");
    let zip = guests::zip_single("app.py", SLOW_HANDLER.as_bytes());
    let r = s.create_function_zip(
        &function,
        &zip,
        with_reader(
            s,
            json!({"Runtime": "python3.11", "Handler": "app.handler"}),
        ),
    );
    assert_eq!(r.status, 201, "creating {function}: {}", r.text());
    let (url, arn) = s.create_queue(&unique("esm-backlog"), json!({}));
    let bodies: Vec<String> = (0..12).map(|i| format!("job {i}")).collect();
    send(
        s,
        &url,
        &bodies.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    cli_mapping(
        s,
        &[
            "create-event-source-mapping",
            "--function-name",
            &function,
            "--event-source-arn",
            &arn,
            "--batch-size",
            "1",
            "--scaling-config",
            "MaximumConcurrency=3",
        ],
        "aws lambda create-event-source-mapping",
    );
    wait_until_empty(s, &url);
    let spans: Vec<(f64, f64)> = eventually(BOUND, "12 invocations in the log", || {
        let spans: Vec<(f64, f64)> = log_messages(s, &function)
            .iter()
            .filter_map(|m| {
                let mut it = m.strip_prefix("span: ")?.split(' ');
                Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
            })
            .collect();
        (spans.len() == bodies.len()).then_some(spans)
    });
    // The most invocations running at once: one poller per invocation.
    let most = spans
        .iter()
        .map(|(start, _)| {
            spans
                .iter()
                .filter(|(a, b)| a <= start && start < b)
                .count()
        })
        .max();
    assert_eq!(
        most,
        Some(3),
        "backlog of 12 with MaximumConcurrency 3: {spans:?}"
    );
}

#[test]
fn a_mapping_survives_a_restart() {
    let mut s = Server::start(&[]);
    let function = unique("esm-restart");
    s.deploy(&function, guests::CMD_RECORD, reader(&s));
    let (url, arn) = s.create_queue(&unique("esm-durable"), json!({}));
    let created = cli_mapping(
        &s,
        &[
            "create-event-source-mapping",
            "--function-name",
            &function,
            "--event-source-arn",
            &arn,
            "--batch-size",
            "20",
            "--maximum-batching-window-in-seconds",
            "2",
        ],
        "aws lambda create-event-source-mapping",
    );
    s.restart();
    let got = cli_mapping(
        &s,
        &[
            "get-event-source-mapping",
            "--uuid",
            created["UUID"].as_str().unwrap(),
        ],
        "aws lambda get-event-source-mapping",
    );
    assert_eq!(got["State"], "Enabled");
    assert_eq!(got["BatchSize"], 20);
    assert_eq!(got["MaximumBatchingWindowInSeconds"], 2);

    let bodies: Vec<String> = (0..15).map(|i| format!("after restart {i}")).collect();
    send(
        &s,
        &url,
        &bodies.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    eventually(BOUND, "every message after the restart", || {
        (recorded_bodies(&s, &function).len() == bodies.len()).then_some(())
    });
    wait_until_empty(&s, &url);
    // The batching window gathers messages sent together beyond the 10 one
    // receive returns.
    let largest = recorded_events(&s, &function)
        .iter()
        .map(|e| e["Records"].as_array().map_or(0, Vec::len))
        .max();
    assert_eq!(largest, Some(15));
}

#[test]
fn bad_mappings_answer_lambdas_errors_and_create_nothing() {
    let s = server();
    let function = unique("esm-bad");
    s.deploy(&function, guests::CMD_RECORD, reader(s));
    let (_, arn) = s.create_queue(&unique("esm-bad-q"), json!({}));
    let missing_queue = format!("arn:aws:sqs:{REGION}:000000000000:{}", unique("esm-none"));
    let create = |body: Value| s.api("POST", "/2015-03-31/event-source-mappings/", Some(body));

    let cases = [
        (
            json!({"FunctionName": function, "EventSourceArn": arn, "BatchSize": 0}),
            "ValidationException",
        ),
        (
            json!({"FunctionName": function, "EventSourceArn": arn, "BatchSize": 10001}),
            "ValidationException",
        ),
        (
            json!({"FunctionName": function, "EventSourceArn": arn, "BatchSize": 11}),
            "InvalidParameterValueException",
        ),
        (
            json!({"FunctionName": function, "EventSourceArn": arn, "MaximumBatchingWindowInSeconds": 301}),
            "ValidationException",
        ),
        (
            json!({"FunctionName": function, "EventSourceArn": arn, "ScalingConfig": {"MaximumConcurrency": 1}}),
            "ValidationException",
        ),
        (
            json!({"FunctionName": function, "EventSourceArn": arn, "FunctionResponseTypes": ["Everything"]}),
            "ValidationException",
        ),
        (
            json!({"FunctionName": function, "EventSourceArn": arn, "StartingPosition": "LATEST"}),
            "InvalidParameterValueException",
        ),
        (
            json!({"FunctionName": function, "EventSourceArn": "not-an-arn"}),
            "ValidationException",
        ),
        (
            json!({"FunctionName": function, "EventSourceArn": missing_queue}),
            "InvalidParameterValueException",
        ),
        (json!({"EventSourceArn": arn}), "ValidationException"),
        (
            json!({"FunctionName": function, "EventSourceArn": arn, "Surprise": 1}),
            "InvalidRequestContentException",
        ),
    ];
    for (body, error) in cases {
        create(body).assert_error(400, error);
    }
    create(json!({"FunctionName": "esm-no-such-function", "EventSourceArn": arn}))
        .assert_error(404, "ResourceNotFoundException");
    // Lambda polls with the function's execution role: one that may not
    // receive from the queue (the default role has no permissions) is
    // refused in Lambda's words.
    let unread = unique("esm-no-perms");
    s.deploy(&unread, guests::CMD_RECORD, json!({}));
    let message = create(json!({"FunctionName": unread, "EventSourceArn": arn}))
        .assert_error(400, "InvalidParameterValueException");
    assert_eq!(
        message,
        "The function execution role does not have permissions to call ReceiveMessage on SQS"
    );

    // The CLI shows the same errors.
    let err = failed(
        &s.aws_v1(&[
            "lambda",
            "create-event-source-mapping",
            "--function-name",
            &function,
            "--event-source-arn",
            &missing_queue,
        ]),
        "a mapping of a missing queue",
    );
    assert!(err.contains("InvalidParameterValueException"), "{err}");

    let listed = s.api(
        "GET",
        &format!("/2015-03-31/event-source-mappings?FunctionName={function}"),
        None,
    );
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(listed.json()["EventSourceMappings"], json!([]));

    s.api(
        "GET",
        "/2015-03-31/event-source-mappings/no-such-uuid",
        None,
    )
    .assert_error(404, "ResourceNotFoundException");
    s.api(
        "PUT",
        "/2015-03-31/event-source-mappings/no-such-uuid",
        Some(json!({"Enabled": false})),
    )
    .assert_error(404, "ResourceNotFoundException");
    s.api(
        "DELETE",
        "/2015-03-31/event-source-mappings/no-such-uuid",
        None,
    )
    .assert_error(404, "ResourceNotFoundException");

    // A valid mapping: a bad update changes nothing.
    let r = create(json!({"FunctionName": function, "EventSourceArn": arn}));
    assert_eq!(r.status, 202, "{}", r.text());
    let uuid = r.json()["UUID"].as_str().unwrap().to_string();
    let path = format!("/2015-03-31/event-source-mappings/{uuid}");
    s.api("PUT", &path, Some(json!({"BatchSize": 50})))
        .assert_error(400, "InvalidParameterValueException");
    let got = s.api("GET", &path, None).json();
    assert_eq!(got["BatchSize"], 10);
    let r = s.api("DELETE", &path, None);
    assert_eq!(r.status, 202, "{}", r.text());
}
