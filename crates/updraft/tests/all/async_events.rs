//! Async invocation end to end: `Invoke` with `Event` is durable before
//! the 202 and runs in the background with the request id it answered;
//! event-invoke configs (boto3) drive retries, the maximum event age and
//! destinations (an SQS queue, another function, the event bus); every
//! final failure is also a platform event on the default bus; the
//! function's dead-letter queue takes what has no failure destination.
//!
//! One server for the module, with a 200 ms retry base so retries come
//! quickly; every test uses its own functions and queues.

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

static SERVER: OnceLock<Server> = OnceLock::new();

fn server() -> &'static Server {
    Server::shared(&SERVER, &["--async-retry-base", "200ms"])
}

/// How long a delivery may take to show up.
const DELIVERY: Duration = Duration::from_secs(20);

/// The messages of a function's log (FilterLogEvents), optionally of one
/// request id.
fn log_lines(s: &Server, function: &str, request_id: Option<&str>) -> Vec<String> {
    let mut body = json!({"logGroupName": format!("/aws/lambda/{function}")});
    if let Some(id) = request_id {
        body["requestId"] = json!(id);
    }
    let r = s.json_call("logs", "Logs_20140328.FilterLogEvents", body);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["message"].as_str().expect("message").to_string())
        .collect()
}

/// How many START lines the log has for `request_id`.
fn starts(s: &Server, function: &str, request_id: &str) -> usize {
    log_lines(s, function, Some(request_id))
        .iter()
        .filter(|l| l.starts_with(&format!("START RequestId: {request_id}")))
        .count()
}

/// Receives from a queue until one message arrives (deleting it).
fn receive_one(s: &Server, url: &str, bound: Duration) -> Value {
    eventually(bound, "a message in the queue", || {
        let r = s.json_call(
            "sqs",
            "AmazonSQS.ReceiveMessage",
            json!({"QueueUrl": url, "MaxNumberOfMessages": 1, "WaitTimeSeconds": 1,
                   "MessageAttributeNames": ["All"]}),
        );
        assert_eq!(r.status, 200, "ReceiveMessage: {}", r.text());
        let message = r.json()["Messages"].as_array()?.first()?.clone();
        let d = s.json_call(
            "sqs",
            "AmazonSQS.DeleteMessage",
            json!({"QueueUrl": url, "ReceiptHandle": message["ReceiptHandle"]}),
        );
        assert_eq!(d.status, 200, "DeleteMessage: {}", d.text());
        Some(message)
    })
}

fn put_config(s: &Server, function: &str, body: Value) {
    let r = s.api(
        "PUT",
        &format!("/2019-09-25/functions/{function}/event-invoke-config"),
        Some(body),
    );
    assert_eq!(r.status, 200, "PutFunctionEventInvokeConfig: {}", r.text());
}

#[test]
fn cli_v1_event_invoke_answers_202_and_the_event_runs() {
    let s = server();
    let f = unique("async-cli");
    s.deploy(&f, guests::CMD_RECORD, json!({}));
    let out = s.aws_v1(&[
        "lambda",
        "invoke",
        "--function-name",
        &f,
        "--invocation-type",
        "Event",
        "--payload",
        r#"{"from":"cli-v1"}"#,
        "out.json",
    ]);
    let answer = ok_json(&out, "aws lambda invoke --invocation-type Event");
    assert_eq!(answer["StatusCode"], 202, "{answer}");
    let lines = eventually(DELIVERY, "the event in the function's log", || {
        let lines = log_lines(s, &f, None);
        lines
            .iter()
            .any(|l| l.contains(r#"event: {"from":"cli-v1"}"#))
            .then_some(lines)
    });
    assert!(
        lines.iter().any(|l| l.starts_with("REPORT RequestId:")),
        "{lines:?}"
    );
}

#[test]
fn the_request_id_answered_is_the_one_the_function_sees() {
    let s = server();
    let f = unique("async-id");
    s.deploy(&f, guests::CMD_RECORD, json!({}));
    let id = s.event_invoke(&f, br#"{"n":1}"#);
    eventually(DELIVERY, "the invocation's REPORT line", || {
        log_lines(s, &f, Some(&id))
            .iter()
            .any(|l| l.starts_with(&format!("REPORT RequestId: {id}")))
            .then_some(())
    });
    assert_eq!(starts(s, &f, &id), 1, "a success runs once");
}

#[test]
fn bad_event_invokes_are_rejected_before_anything_is_queued() {
    let s = server();
    let f = unique("async-bad");
    s.deploy(&f, guests::CMD_RECORD, json!({}));
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(1024 * 1024));
    let r = s.signed(
        "POST",
        &format!("/2015-03-31/functions/{f}/invocations"),
        &[("x-amz-invocation-type", "Event")],
        big.as_bytes(),
    );
    r.assert_error(413, "RequestTooLargeException");
    let r = s.signed(
        "POST",
        &format!("/2015-03-31/functions/{}/invocations", unique("absent")),
        &[("x-amz-invocation-type", "Event")],
        b"{}",
    );
    r.assert_error(404, "ResourceNotFoundException");
    // Nothing of the rejected event ever runs.
    let id = s.event_invoke(&f, br#"{"after":"rejections"}"#);
    eventually(DELIVERY, "the later event", || {
        (starts(s, &f, &id) == 1).then_some(())
    });
    let lines = log_lines(s, &f, None);
    assert!(!lines.iter().any(|l| l.contains("pad")), "{lines:?}");
}

const CONFIG_SCRIPT: &str = r#"
import sys, boto3, botocore.config
from botocore.exceptions import ClientError

endpoint, function, queue_arn, other_arn = sys.argv[1:5]
c = boto3.session.Session().client(
    "lambda", endpoint_url=endpoint, region_name="us-east-1",
    config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}))

put = c.put_function_event_invoke_config(
    FunctionName=function, MaximumRetryAttempts=1,
    DestinationConfig={"OnFailure": {"Destination": queue_arn}})
assert put["MaximumRetryAttempts"] == 1, put
assert put["FunctionArn"].endswith(":function:" + function + ":$LATEST"), put
assert put["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn, put
assert "MaximumEventAgeInSeconds" not in put, put

got = c.get_function_event_invoke_config(FunctionName=function)
assert got["DestinationConfig"] == put["DestinationConfig"], got
assert got["LastModified"] == put["LastModified"], got

# Update merges: the retry count and the failure destination stay.
upd = c.update_function_event_invoke_config(
    FunctionName=function, MaximumEventAgeInSeconds=120,
    DestinationConfig={"OnSuccess": {"Destination": other_arn}})
assert upd["MaximumRetryAttempts"] == 1, upd
assert upd["MaximumEventAgeInSeconds"] == 120, upd
assert upd["DestinationConfig"]["OnSuccess"]["Destination"] == other_arn, upd
assert upd["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn, upd

# Put replaces: what it does not name is gone.
rep = c.put_function_event_invoke_config(FunctionName=function, MaximumEventAgeInSeconds=60)
assert "MaximumRetryAttempts" not in rep, rep
assert rep["DestinationConfig"]["OnFailure"] == {}, rep

listed = c.list_function_event_invoke_configs(FunctionName=function)["FunctionEventInvokeConfigs"]
assert [x["MaximumEventAgeInSeconds"] for x in listed] == [60], listed

def code(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]
    raise AssertionError("expected an error")

assert code(c.put_function_event_invoke_config, FunctionName=function,
            MaximumRetryAttempts=3)[0] == "ValidationException"
assert code(c.put_function_event_invoke_config, FunctionName=function,
            MaximumEventAgeInSeconds=21601)[0] == "ValidationException"
sns = "arn:aws:sns:us-east-1:000000000000:topic"
try:
    c.put_function_event_invoke_config(
        FunctionName=function, DestinationConfig={"OnFailure": {"Destination": sns}})
    raise AssertionError("an SNS destination was accepted")
except c.exceptions.InvalidParameterValueException as e:
    assert "SNS" in str(e), e
try:
    c.put_function_event_invoke_config(
        FunctionName=function, DestinationConfig={"OnSuccess": {"Destination": other_arn.rsplit(":", 1)[0] + ":" + function}})
    raise AssertionError("the function was accepted as its own destination")
except c.exceptions.InvalidParameterValueException:
    pass
# Rejected changes changed nothing.
assert c.get_function_event_invoke_config(FunctionName=function)["MaximumEventAgeInSeconds"] == 60
try:
    c.get_function_event_invoke_config(FunctionName=function + "-absent")
    raise AssertionError("a missing function has a config")
except c.exceptions.ResourceNotFoundException:
    pass
try:
    c.put_function_event_invoke_config(FunctionName=function, Qualifier="nosuchalias", MaximumRetryAttempts=0)
    raise AssertionError("a missing alias got a config")
except c.exceptions.ResourceNotFoundException:
    pass

c.delete_function_event_invoke_config(FunctionName=function)
try:
    c.get_function_event_invoke_config(FunctionName=function)
    raise AssertionError("the config survived its deletion")
except c.exceptions.ResourceNotFoundException as e:
    assert "doesn't have an EventInvokeConfig" in str(e), e
try:
    c.update_function_event_invoke_config(FunctionName=function, MaximumRetryAttempts=0)
    raise AssertionError("an update created a config")
except c.exceptions.ResourceNotFoundException:
    pass
assert c.list_function_event_invoke_configs(FunctionName=function)["FunctionEventInvokeConfigs"] == []
print("ok")
"#;

#[test]
fn boto3_event_invoke_config_round_trip_and_validation() {
    let s = server();
    let f = unique("async-config");
    let other = unique("async-config-other");
    s.deploy(&f, guests::CMD_RECORD, json!({}));
    let script = s.write_file(&format!("{f}.py"), CONFIG_SCRIPT.as_bytes());
    let queue_arn = format!("arn:aws:sqs:{REGION}:000000000000:{f}-failures");
    let out = s.boto3(
        script.to_str().expect("UTF-8 path"),
        &[&f, &queue_arn, &function_arn(&other)],
    );
    assert_eq!(
        ok(&out, "the boto3 event-invoke-config script").trim(),
        "ok"
    );
}

#[test]
fn a_failing_event_is_retried_then_lands_in_the_failure_queue() {
    let s = server();
    let f = unique("async-fail");
    s.deploy(&f, guests::CMD_RECORD, json!({}));
    let (url, arn) = s.create_queue(&format!("{f}-failures"), json!({}));
    put_config(
        s,
        &f,
        json!({"MaximumRetryAttempts": 1,
               "DestinationConfig": {"OnFailure": {"Destination": arn}}}),
    );
    let id = s.event_invoke(&f, br#"{"k":"fail"}"#);
    let message = receive_one(s, &url, DELIVERY);
    let record: Value =
        serde_json::from_str(message["Body"].as_str().expect("Body")).expect("a JSON record");
    assert_eq!(record["version"], "1.0", "{record}");
    let context = &record["requestContext"];
    assert_eq!(context["requestId"], id.as_str(), "{record}");
    assert_eq!(context["condition"], "RetriesExhausted", "{record}");
    assert_eq!(context["approximateInvokeCount"], 2, "{record}");
    assert_eq!(
        context["functionArn"],
        format!("{}:$LATEST", function_arn(&f)),
        "{record}"
    );
    assert_eq!(record["requestPayload"], json!({"k": "fail"}), "{record}");
    assert_eq!(record["responseContext"]["functionError"], "Unhandled");
    assert_eq!(record["responseContext"]["executedVersion"], "$LATEST");
    // Exactly two attempts, both under the request id the caller got
    // (logs reach the store in batches, so wait for them).
    eventually(DELIVERY, "two START lines", || {
        (starts(s, &f, &id) == 2).then_some(())
    });
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(starts(s, &f, &id), 2, "no attempt after the record");
    let metrics = s.metrics();
    for (result, n) in [("Retry", 1.0), ("DeadLettered", 1.0)] {
        let sample = format!(
            r#"updraft_event_deliveries_total{{function="{f}",source="async",result="{result}"}}"#
        );
        assert_eq!(metric(&metrics, &sample), Some(n), "{sample}\n{metrics}");
    }
}

#[test]
fn a_success_goes_to_the_on_success_function() {
    let s = server();
    let f = unique("async-ok");
    let sink = unique("async-sink");
    s.deploy(&f, guests::CMD_RECORD, json!({}));
    s.deploy(&sink, guests::CMD_RECORD, json!({}));
    put_config(
        s,
        &f,
        json!({"DestinationConfig": {"OnSuccess": {"Destination": function_arn(&sink)}}}),
    );
    let id = s.event_invoke(&f, br#"{"k":"fine"}"#);
    let line = eventually(DELIVERY, "the record in the destination's log", || {
        log_lines(s, &sink, None)
            .into_iter()
            .find(|l| l.starts_with("event: "))
    });
    let record: Value = serde_json::from_str(line.trim_start_matches("event: ").trim())
        .unwrap_or_else(|e| panic!("the destination got no JSON record ({e}): {line}"));
    assert_eq!(record["requestContext"]["requestId"], id.as_str());
    assert_eq!(record["requestContext"]["condition"], "Success");
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 1);
    assert_eq!(record["requestPayload"], json!({"k": "fine"}));
    assert_eq!(
        record["responsePayload"],
        json!({"received": r#"{"k":"fine"}"#})
    );
    assert!(record["responseContext"].get("functionError").is_none());
}

#[test]
fn an_event_too_old_for_a_throttled_function_goes_to_failure_with_event_age_exceeded() {
    let s = server();
    let f = unique("async-old");
    s.deploy(&f, guests::CMD_RECORD, json!({}));
    // Reserved concurrency 0: the event cannot run and waits until it
    // is older than its maximum age (60 s, Lambda's least).
    let r = s.api(
        "PUT",
        &format!("/2017-10-31/functions/{f}/concurrency"),
        Some(json!({"ReservedConcurrentExecutions": 0})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let (url, arn) = s.create_queue(&format!("{f}-failures"), json!({}));
    put_config(
        s,
        &f,
        json!({"MaximumEventAgeInSeconds": 60,
               "DestinationConfig": {"OnFailure": {"Destination": arn}}}),
    );
    let id = s.event_invoke(&f, br#"{"k":"late"}"#);
    let message = receive_one(s, &url, Duration::from_secs(90));
    let record: Value = serde_json::from_str(message["Body"].as_str().expect("Body")).unwrap();
    assert_eq!(record["requestContext"]["requestId"], id.as_str());
    assert_eq!(record["requestContext"]["condition"], "EventAgeExceeded");
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 0);
    assert_eq!(record["requestPayload"], json!({"k": "late"}));
    assert_eq!(starts(s, &f, &id), 0, "the event never ran");
}

/// A rule on the default bus that sends what `pattern` matches to a new
/// queue; returns the queue's URL.
fn rule_to_queue(s: &Server, name: &str, pattern: Value) -> String {
    let (url, arn) = s.create_queue(name, json!({}));
    let r = s.json_call(
        "events",
        "AWSEvents.PutRule",
        json!({"Name": name, "EventPattern": pattern.to_string()}),
    );
    assert_eq!(r.status, 200, "PutRule: {}", r.text());
    let r = s.json_call(
        "events",
        "AWSEvents.PutTargets",
        json!({"Rule": name, "Targets": [{"Id": "q", "Arn": arn}]}),
    );
    assert_eq!(r.json()["FailedEntryCount"], 0, "PutTargets: {}", r.text());
    url
}

#[test]
fn a_final_failure_reaches_the_event_bus_destination_and_the_platform_event() {
    let s = server();
    let f = unique("async-bus");
    s.deploy(&f, guests::CMD_RECORD, json!({}));
    let arn = format!("{}:$LATEST", function_arn(&f));
    let matching = |source: &str, detail_type: &str| {
        json!({"source": [source], "detail-type": [detail_type],
               "detail": {"requestContext": {"functionArn": [arn]}}})
    };
    let destination = rule_to_queue(
        s,
        &format!("{f}-dest"),
        matching("lambda", "Lambda Function Invocation Result - Failure"),
    );
    let platform = rule_to_queue(
        s,
        &format!("{f}-platform"),
        matching("updraft.lambda", "Async Invocation Failed"),
    );
    put_config(
        s,
        &f,
        json!({"MaximumRetryAttempts": 0, "DestinationConfig": {"OnFailure": {"Destination":
            format!("arn:aws:events:{REGION}:000000000000:event-bus/default")}}}),
    );
    let id = s.event_invoke(&f, br#"{"k":"fail"}"#);
    for (url, source) in [(&destination, "lambda"), (&platform, "updraft.lambda")] {
        let message = receive_one(s, url, DELIVERY);
        let event: Value = serde_json::from_str(message["Body"].as_str().expect("Body")).unwrap();
        assert_eq!(event["source"], source, "{event}");
        assert_eq!(event["resources"], json!([arn]), "{event}");
        let record = &event["detail"];
        assert_eq!(
            record["requestContext"]["requestId"],
            id.as_str(),
            "{event}"
        );
        assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
        assert_eq!(record["requestContext"]["approximateInvokeCount"], 1);
    }
}

#[test]
fn without_a_failure_destination_a_failed_event_goes_to_the_dead_letter_queue() {
    let s = server();
    let f = unique("async-dlq");
    let (url, arn) = s.create_queue(&format!("{f}-dlq"), json!({}));
    let created = s.deploy(
        &f,
        guests::CMD_RECORD,
        json!({"DeadLetterConfig": {"TargetArn": arn}}),
    );
    assert_eq!(created["DeadLetterConfig"]["TargetArn"], arn.as_str());
    let r = s.api(
        "GET",
        &format!("/2015-03-31/functions/{f}/configuration"),
        None,
    );
    assert_eq!(r.json()["DeadLetterConfig"]["TargetArn"], arn.as_str());
    put_config(s, &f, json!({"MaximumRetryAttempts": 0}));
    let payload = br#"{"k":"fail","n":7}"#;
    let id = s.event_invoke(&f, payload);
    let message = receive_one(s, &url, DELIVERY);
    assert_eq!(message["Body"], String::from_utf8_lossy(payload).as_ref());
    let attrs = &message["MessageAttributes"];
    assert_eq!(attrs["RequestID"]["StringValue"], id.as_str(), "{message}");
    assert_eq!(attrs["ErrorCode"]["DataType"], "Number", "{message}");
    assert_eq!(attrs["ErrorCode"]["StringValue"], "200", "{message}");
    assert!(
        attrs["ErrorMessage"]["StringValue"].is_string(),
        "{message}"
    );
    eventually(DELIVERY, "the attempt's START line", || {
        (starts(s, &f, &id) == 1).then_some(())
    });
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(starts(s, &f, &id), 1, "MaximumRetryAttempts 0: one attempt");
}

#[test]
fn a_dead_letter_queue_must_be_an_sqs_queue() {
    let s = server();
    let f = unique("async-dlq-sns");
    let zip = guest_zip(guests::CMD_RECORD);
    let r = s.create_function_zip(
        &f,
        &zip,
        json!({"DeadLetterConfig": {"TargetArn": "arn:aws:sns:us-east-1:000000000000:topic"}}),
    );
    let message = r.assert_error(400, "InvalidParameterValueException");
    assert!(
        message.contains("only SQS dead-letter queues are supported"),
        "{message}"
    );
    let r = s.api("GET", &format!("/2015-03-31/functions/{f}"), None);
    r.assert_error(404, "ResourceNotFoundException");

    s.deploy(&f, guests::CMD_RECORD, json!({}));
    let path = format!("/2015-03-31/functions/{f}/configuration");
    let r = s.api(
        "PUT",
        &path,
        Some(
            json!({"DeadLetterConfig": {"TargetArn": "arn:aws:sns:us-east-1:000000000000:topic"}}),
        ),
    );
    r.assert_error(400, "InvalidParameterValueException");
    let r = s.api("GET", &path, None);
    assert!(r.json().get("DeadLetterConfig").is_none(), "{}", r.text());
}
