//! EventBridge end to end: buses, rules and targets through the aws CLI
//! v1 (`aws events`), boto3 and raw JSON-protocol calls; matched events
//! arrive at a recording function (its log, read with
//! `aws logs filter-log-events`) and at an SQS queue; events that do not
//! match never arrive; bad input answers EventBridge's errors and changes
//! nothing.
//!
//! One server for the module; every test uses its own buses, rules,
//! functions and queues.

use std::process::Output;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

static SERVER: OnceLock<Server> = OnceLock::new();

fn server() -> &'static Server {
    Server::shared(&SERVER, &[])
}

/// How long a delivery may take to show up.
const DELIVERY: Duration = Duration::from_secs(60);

/// `aws events ...` (CLI v1); panics unless it succeeds, returns its JSON
/// output (`{}` when it prints nothing).
#[track_caller]
fn events(s: &Server, args: &[&str]) -> Value {
    let mut all = vec!["events"];
    all.extend_from_slice(args);
    let out = s.aws_v1(&all);
    let stdout = ok(&out, &format!("aws events {}", args[0]));
    if stdout.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(&stdout).expect("aws events prints JSON")
    }
}

/// A signed EventBridge JSON-protocol call.
fn eb(s: &Server, operation: &str, body: Value) -> Resp {
    s.json_call("events", &format!("AWSEvents.{operation}"), body)
}

/// Asserts an EventBridge error answer; returns its message.
#[track_caller]
fn assert_eb_error(r: &Resp, code: &str) -> String {
    assert_eq!(
        (r.status, r.error_type()),
        (400, Some(code)),
        "expected {code}: {}",
        r.text()
    );
    let body = r.json();
    assert_eq!(body["__type"], code, "{body}");
    body["message"].as_str().expect("a message").to_string()
}

/// The events a CMD_RECORD function logged (its `event: ...` lines), read
/// with `aws logs filter-log-events`.
fn recorded(s: &Server, function: &str) -> Vec<String> {
    let out = s.aws_v1(&[
        "logs",
        "filter-log-events",
        "--log-group-name",
        &format!("/aws/lambda/{function}"),
        "--filter-pattern",
        "event:",
    ]);
    events_of(&ok_json(&out, "aws logs filter-log-events"))
}

/// Waits until the function logged an event containing `marker`; returns
/// it parsed.
fn wait_recorded(s: &Server, function: &str, marker: &str) -> Value {
    eventually(DELIVERY, &format!("{marker} in {function}'s log"), || {
        s.recorded_events(function)
            .into_iter()
            .find(|e| e.contains(marker))
    })
    .parse::<Value>()
    .expect("the function received JSON")
}

/// Runs `code` with boto3 (an `events` client is in `client`); returns
/// the process output.
fn boto3(s: &Server, code: &str) -> Output {
    s.boto3_inline(
        &format!("import sys, json, boto3\nclient = boto3.client('events', endpoint_url=sys.argv[1], region_name='{REGION}')\n{code}"),
        &[],
    )
}

fn entry(bus: &str, source: &str, detail: Value) -> Value {
    json!({"EventBusName": bus, "Source": source, "DetailType": "order placed", "Detail": detail.to_string()})
}

#[test]
fn cli_v1_rule_delivers_matching_events_to_a_function() {
    let s = server();
    let function = unique("eb-record");
    s.deploy(&function, guests::CMD_RECORD, json!({}));
    let bus = unique("shop");
    let created = events(s, &["create-event-bus", "--name", &bus]);
    assert_eq!(
        created["EventBusArn"],
        format!("arn:aws:events:{REGION}:000000000000:event-bus/{bus}")
    );
    let pattern = r#"{"source":["shop.orders"],"detail":{"total":[{"numeric":[">",100]}]}}"#;
    let rule = events(
        s,
        &[
            "put-rule",
            "--name",
            "big-orders",
            "--event-bus-name",
            &bus,
            "--event-pattern",
            pattern,
            "--description",
            "orders over 100",
        ],
    );
    assert_eq!(
        rule["RuleArn"],
        format!("arn:aws:events:{REGION}:000000000000:rule/{bus}/big-orders")
    );
    let targets = json!([{"Id": "record", "Arn": function_arn(&function)}]).to_string();
    let put = events(
        s,
        &[
            "put-targets",
            "--rule",
            "big-orders",
            "--event-bus-name",
            &bus,
            "--targets",
            &targets,
        ],
    );
    assert_eq!(put["FailedEntryCount"], 0, "{put}");

    // A small order first: it does not match, so it never reaches the
    // function, while the big one after it does.
    let small = json!([entry(
        &bus,
        "shop.orders",
        json!({"total": 5, "marker": "small-order"})
    )]);
    let r = events(s, &["put-events", "--entries", &small.to_string()]);
    assert_eq!(r["FailedEntryCount"], 0, "{r}");
    let big = json!([entry(
        &bus,
        "shop.orders",
        json!({"total": 250, "marker": "big-order"})
    )]);
    let r = events(s, &["put-events", "--entries", &big.to_string()]);
    assert_eq!(r["FailedEntryCount"], 0, "{r}");
    let event_id = r["Entries"][0]["EventId"].as_str().expect("an EventId");

    let event = wait_recorded(s, &function, "big-order");
    assert_eq!(event["id"], event_id);
    assert_eq!(event["source"], "shop.orders");
    assert_eq!(event["detail-type"], "order placed");
    assert_eq!(
        event["detail"],
        json!({"total": 250, "marker": "big-order"})
    );
    assert_eq!(event["version"], "0");
    assert_eq!(event["region"], REGION);
    assert!(
        !recorded(s, &function)
            .iter()
            .any(|e| e.contains("small-order")),
        "a non-matching event reached the function"
    );

    let rules = events(
        s,
        &[
            "list-rules",
            "--event-bus-name",
            &bus,
            "--name-prefix",
            "big",
        ],
    );
    assert_eq!(rules["Rules"].as_array().map(Vec::len), Some(1), "{rules}");
    assert_eq!(rules["Rules"][0]["Name"], "big-orders");
    assert_eq!(rules["Rules"][0]["State"], "ENABLED");
    let described = events(
        s,
        &[
            "describe-rule",
            "--name",
            "big-orders",
            "--event-bus-name",
            &bus,
        ],
    );
    assert_eq!(described["EventPattern"], pattern);
    assert_eq!(described["Description"], "orders over 100");
    assert_eq!(described["EventBusName"], bus.as_str());
    let listed = events(
        s,
        &[
            "list-targets-by-rule",
            "--rule",
            "big-orders",
            "--event-bus-name",
            &bus,
        ],
    );
    assert_eq!(
        listed["Targets"],
        json!([{"Id": "record", "Arn": function_arn(&function)}])
    );

    // A rule with targets cannot be deleted; without them it can.
    let out = s.aws_v1(&[
        "events",
        "delete-rule",
        "--name",
        "big-orders",
        "--event-bus-name",
        &bus,
    ]);
    let err = failed(&out, "delete-rule with targets");
    assert!(
        err.contains("ValidationException") && err.contains("has targets"),
        "{err}"
    );
    let removed = events(
        s,
        &[
            "remove-targets",
            "--rule",
            "big-orders",
            "--event-bus-name",
            &bus,
            "--ids",
            "record",
        ],
    );
    assert_eq!(removed["FailedEntryCount"], 0);
    events(
        s,
        &[
            "delete-rule",
            "--name",
            "big-orders",
            "--event-bus-name",
            &bus,
        ],
    );
    let out = s.aws_v1(&[
        "events",
        "describe-rule",
        "--name",
        "big-orders",
        "--event-bus-name",
        &bus,
    ]);
    let err = failed(&out, "describe-rule after delete");
    assert!(err.contains("ResourceNotFoundException"), "{err}");
    events(s, &["delete-event-bus", "--name", &bus]);
    let out = s.aws_v1(&["events", "describe-event-bus", "--name", &bus]);
    assert!(failed(&out, "describe a deleted bus").contains("ResourceNotFoundException"));
}

#[test]
fn input_transformer_output_arrives_transformed() {
    let s = server();
    let function = unique("eb-transform");
    s.deploy(&function, guests::CMD_RECORD, json!({}));
    let rule = unique("greet");
    let source = unique("app.users");
    events(
        s,
        &[
            "put-rule",
            "--name",
            &rule,
            "--event-pattern",
            &json!({"source": [source], "detail-type": [{"prefix": "user"}]}).to_string(),
        ],
    );
    let targets = json!([{
        "Id": "t",
        "Arn": function_arn(&function),
        "InputTransformer": {
            "InputPathsMap": {"name": "$.detail.name", "n": "$.detail.count"},
            "InputTemplate": "{\"greeting\": \"hello <name>\", \"name\": <name>, \"n\": <n>, \"rule\": <aws.events.rule-name>}"
        }
    }]);
    let put = events(
        s,
        &[
            "put-targets",
            "--rule",
            &rule,
            "--targets",
            &targets.to_string(),
        ],
    );
    assert_eq!(put["FailedEntryCount"], 0, "{put}");
    let entries = json!([{"Source": source, "DetailType": "user signed up", "Detail": "{\"name\": \"transformed-ada\", \"count\": 3}"}]);
    events(s, &["put-events", "--entries", &entries.to_string()]);
    let got = wait_recorded(s, &function, "transformed-ada");
    assert_eq!(
        got,
        json!({"greeting": "hello transformed-ada", "name": "transformed-ada", "n": 3, "rule": rule})
    );
}

#[test]
fn an_sqs_target_receives_the_event() {
    let s = server();
    let queue = unique("eb-queue");
    let r = s.json_call("sqs", "AmazonSQS.CreateQueue", json!({"QueueName": queue}));
    assert_eq!(r.status, 200, "CreateQueue: {}", r.text());
    let url = r.json()["QueueUrl"].as_str().expect("QueueUrl").to_string();
    let rule = unique("to-queue");
    let source = unique("billing");
    let r = eb(
        s,
        "PutRule",
        json!({"Name": rule, "EventPattern": json!({"source": [source]}).to_string()}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = eb(
        s,
        "PutTargets",
        json!({"Rule": rule, "Targets": [{"Id": "q", "Arn": format!("arn:aws:sqs:{REGION}:000000000000:{queue}"), "InputPath": "$.detail"}]}),
    );
    assert_eq!(r.json()["FailedEntryCount"], 0, "{}", r.text());
    let r = eb(
        s,
        "PutEvents",
        json!({"Entries": [{"Source": source, "DetailType": "invoice", "Detail": "{\"invoice\": 42}"}]}),
    );
    assert_eq!(r.json()["FailedEntryCount"], 0, "{}", r.text());
    let message = eventually(DELIVERY, "the event in the queue", || {
        let r = s.json_call(
            "sqs",
            "AmazonSQS.ReceiveMessage",
            json!({"QueueUrl": url, "MaxNumberOfMessages": 1, "WaitTimeSeconds": 1}),
        );
        assert_eq!(r.status, 200, "ReceiveMessage: {}", r.text());
        r.json()["Messages"].as_array()?.first().cloned()
    });
    let body: Value = serde_json::from_str(message["Body"].as_str().expect("Body")).unwrap();
    assert_eq!(body, json!({"invoice": 42}));
}

#[test]
fn boto3_put_events_to_a_missing_bus_raises_the_typed_error() {
    let s = server();
    let out = boto3(
        s,
        "try:\n    client.put_events(Entries=[{'Source': 's', 'DetailType': 'd', 'Detail': '{}', 'EventBusName': 'no-such-bus'}])\n    print('no error')\nexcept client.exceptions.ResourceNotFoundException as e:\n    print('typed:', e.response['Error']['Message'])\nr = client.put_events(Entries=[{'Source': 's', 'DetailType': 'd', 'Detail': 'not json'}, {'Source': 's', 'DetailType': 'd', 'Detail': '{}'}])\nprint(json.dumps(r['FailedEntryCount']), r['Entries'][0]['ErrorCode'], 'EventId' in r['Entries'][1])\nbuses = client.list_event_buses()['EventBuses']\nprint('default' in [b['Name'] for b in buses])\n",
    );
    let stdout = ok(&out, "boto3 put_events");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "typed: Event bus no-such-bus does not exist.",
            "1 MalformedDetail True",
            "True"
        ],
        "{stdout}"
    );
}

#[test]
fn bad_input_answers_eventbridge_errors_and_changes_nothing() {
    let s = server();
    let bus = unique("strict");
    assert_eq!(eb(s, "CreateEventBus", json!({"Name": bus})).status, 200);

    // A malformed pattern, through the CLI and raw.
    let out = s.aws_v1(&[
        "events",
        "put-rule",
        "--name",
        "bad",
        "--event-bus-name",
        &bus,
        "--event-pattern",
        r#"{"source":"not-an-array"}"#,
    ]);
    let err = failed(&out, "put-rule with a malformed pattern");
    assert!(err.contains("InvalidEventPatternException"), "{err}");
    let message = assert_eb_error(
        &eb(
            s,
            "PutRule",
            json!({"Name": "bad", "EventBusName": bus, "EventPattern": "{\"detail\":{\"n\":[{\"numeric\":[\">\"]}]}}"}),
        ),
        "InvalidEventPatternException",
    );
    assert!(message.contains("numeric"), "{message}");
    assert_eb_error(
        &eb(
            s,
            "PutRule",
            json!({"Name": "sched", "EventBusName": bus, "ScheduleExpression": "rate(5 minutes)"}),
        ),
        "ValidationException",
    );
    let rules = eb(s, "ListRules", json!({"EventBusName": bus})).json();
    assert_eq!(rules["Rules"], json!([]), "no rule was created");

    // A target type that is not supported is a failed entry.
    let r = eb(
        s,
        "PutRule",
        json!({"Name": "r", "EventBusName": bus, "EventPattern": "{\"source\":[\"x\"]}"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = eb(
        s,
        "PutTargets",
        json!({"Rule": "r", "EventBusName": bus, "Targets": [{"Id": "t", "Arn": "arn:aws:sns:us-east-1:000000000000:topic"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["FailedEntryCount"], 1, "{body}");
    assert_eq!(body["FailedEntries"][0]["TargetId"], "t");
    assert!(body["FailedEntries"][0]["ErrorMessage"]
        .as_str()
        .unwrap()
        .contains("not supported"));
    let targets = eb(
        s,
        "ListTargetsByRule",
        json!({"Rule": "r", "EventBusName": bus}),
    )
    .json();
    assert_eq!(targets["Targets"], json!([]));

    // PutEvents: 11 entries, an oversized entry, a missing bus.
    let one = entry(&bus, "x", json!({}));
    assert_eb_error(
        &eb(s, "PutEvents", json!({"Entries": vec![one.clone(); 11]})),
        "ValidationException",
    );
    let huge = entry(&bus, "x", json!({"pad": "a".repeat(300 * 1024)}));
    let message = assert_eb_error(
        &eb(s, "PutEvents", json!({"Entries": [huge]})),
        "ValidationException",
    );
    assert!(message.contains("over the limit"), "{message}");
    assert_eb_error(
        &eb(
            s,
            "PutEvents",
            json!({"Entries": [entry("nope", "x", json!({}))]}),
        ),
        "ResourceNotFoundException",
    );

    // The default bus stays; unknown operations and fields are refused.
    assert_eb_error(
        &eb(s, "DeleteEventBus", json!({"Name": "default"})),
        "ValidationException",
    );
    assert_eq!(
        eb(s, "DescribeEventBus", json!({})).json()["Name"],
        "default"
    );
    assert_eb_error(
        &eb(s, "CreateEventBus", json!({"Name": bus})),
        "ResourceAlreadyExistsException",
    );
    assert_eb_error(
        &eb(
            s,
            "DescribeRule",
            json!({"Name": "absent", "EventBusName": bus}),
        ),
        "ResourceNotFoundException",
    );
    assert_eb_error(
        &eb(s, "PutRule", json!({"Nme": "typo"})),
        "ValidationException",
    );
    assert_eb_error(
        &eb(s, "NoSuchOperation", json!({})),
        "UnknownOperationException",
    );
    s.assert_alive();
}

#[test]
fn test_event_pattern_and_rule_states_through_the_cli() {
    let s = server();
    let event = json!({"id": "1", "account": "000000000000", "source": "shop", "time": "2026-01-01T00:00:00Z",
        "region": REGION, "resources": [], "detail-type": "d", "detail": {"size": "XL", "ip": "10.1.2.3"}})
    .to_string();
    let result = |pattern: Value| {
        events(
            s,
            &[
                "test-event-pattern",
                "--event-pattern",
                &pattern.to_string(),
                "--event",
                &event,
            ],
        )["Result"]
            .clone()
    };
    assert_eq!(
        result(json!({"detail": {"size": [{"equals-ignore-case": "xl"}]}})),
        true
    );
    assert_eq!(
        result(json!({"detail": {"ip": [{"cidr": "10.1.0.0/16"}]}})),
        true
    );
    assert_eq!(
        result(json!({"$or": [{"source": ["bank"]}, {"detail": {"size": ["S"]}}]})),
        false
    );
    let out = s.aws_v1(&[
        "events",
        "test-event-pattern",
        "--event-pattern",
        "{\"source\":[{\"bogus\":1}]}",
        "--event",
        &event,
    ]);
    assert!(failed(&out, "test-event-pattern with a bad pattern")
        .contains("InvalidEventPatternException"));

    let rule = unique("toggle");
    events(
        s,
        &[
            "put-rule",
            "--name",
            &rule,
            "--event-pattern",
            "{\"source\":[\"t\"]}",
            "--state",
            "DISABLED",
        ],
    );
    let state = |s: &Server| events(s, &["describe-rule", "--name", &rule])["State"].clone();
    assert_eq!(state(s), "DISABLED");
    events(s, &["enable-rule", "--name", &rule]);
    assert_eq!(state(s), "ENABLED");
    events(s, &["disable-rule", "--name", &rule]);
    assert_eq!(state(s), "DISABLED");
    events(s, &["delete-rule", "--name", &rule]);
}

/// Platform events (here an async invocation's success record, sent to a
/// bus as its destination) go through the same rules as `PutEvents`.
#[test]
fn platform_events_match_rules_like_put_events() {
    let s = server();
    let function = unique("eb-origin");
    s.deploy(&function, guests::CMD_RECORD, json!({}));
    let bus = unique("results");
    let r = eb(s, "CreateEventBus", json!({"Name": bus}));
    assert_eq!(r.status, 200, "{}", r.text());
    let bus_arn = r.json()["EventBusArn"]
        .as_str()
        .expect("an ARN")
        .to_string();
    let queue = unique("eb-results");
    let r = s.json_call("sqs", "AmazonSQS.CreateQueue", json!({"QueueName": queue}));
    assert_eq!(r.status, 200, "CreateQueue: {}", r.text());
    let url = r.json()["QueueUrl"].as_str().expect("QueueUrl").to_string();
    let pattern = json!({
        "source": ["lambda"],
        "detail-type": ["Lambda Function Invocation Result - Success"],
        "resources": [{"prefix": function_arn(&function)}],
    });
    let r = eb(
        s,
        "PutRule",
        json!({"Name": "successes", "EventBusName": bus, "EventPattern": pattern.to_string()}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = eb(
        s,
        "PutTargets",
        json!({"Rule": "successes", "EventBusName": bus_arn,
               "Targets": [{"Id": "q", "Arn": format!("arn:aws:sqs:{REGION}:000000000000:{queue}")}]}),
    );
    assert_eq!(r.json()["FailedEntryCount"], 0, "{}", r.text());
    let r = s.api(
        "PUT",
        &format!("/2019-09-25/functions/{function}/event-invoke-config"),
        Some(json!({"DestinationConfig": {"OnSuccess": {"Destination": bus_arn}}})),
    );
    assert_eq!(r.status, 200, "PutFunctionEventInvokeConfig: {}", r.text());
    let r = s.signed(
        "POST",
        &format!("/2015-03-31/functions/{function}/invocations"),
        &[("x-amz-invocation-type", "Event")],
        br#"{"marker": "platform-event"}"#,
    );
    assert_eq!(r.status, 202, "{}", r.text());

    let message = eventually(DELIVERY, "the success event in the queue", || {
        let r = s.json_call(
            "sqs",
            "AmazonSQS.ReceiveMessage",
            json!({"QueueUrl": url, "MaxNumberOfMessages": 1, "WaitTimeSeconds": 1}),
        );
        assert_eq!(r.status, 200, "ReceiveMessage: {}", r.text());
        r.json()["Messages"].as_array()?.first().cloned()
    });
    let event: Value = serde_json::from_str(message["Body"].as_str().expect("Body")).unwrap();
    assert_eq!(event["source"], "lambda");
    assert_eq!(
        event["detail-type"],
        "Lambda Function Invocation Result - Success"
    );
    assert!(
        event["detail"].to_string().contains("platform-event"),
        "the record carries the request: {event}"
    );
}

#[test]
fn function_state_changes_are_events_on_the_default_bus() {
    let s = server();
    let function = unique("eb-lifecycle");
    let rule = unique("lifecycle");
    let (url, queue_arn) = s.create_queue(&unique("eb-lifecycle-q"), json!({}));
    let pattern = json!({
        "source": ["updraft.lambda"],
        "detail-type": ["Function State Change"],
        "detail": {"functionName": [function.as_str()]},
    });
    let r = eb(
        s,
        "PutRule",
        json!({"Name": rule, "EventPattern": pattern.to_string()}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = eb(
        s,
        "PutTargets",
        json!({"Rule": rule, "Targets": [{"Id": "q", "Arn": queue_arn}]}),
    );
    assert_eq!(r.json()["FailedEntryCount"], 0, "{}", r.text());

    s.deploy(&function, guests::CMD_ECHO, json!({}));
    let r = s.api("DELETE", &format!("/2015-03-31/functions/{function}"), None);
    assert_eq!(r.status, 204, "{}", r.text());

    let mut states = Vec::new();
    eventually(DELIVERY, "both state changes in the queue", || {
        let r = s.json_call(
            "sqs",
            "AmazonSQS.ReceiveMessage",
            json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1}),
        );
        assert_eq!(r.status, 200, "ReceiveMessage: {}", r.text());
        for m in r.json()["Messages"].as_array().cloned().unwrap_or_default() {
            let event: Value = serde_json::from_str(m["Body"].as_str().expect("Body")).unwrap();
            assert_eq!(event["source"], "updraft.lambda", "{event}");
            assert_eq!(
                event["resources"][0],
                function_arn(&function).as_str(),
                "{event}"
            );
            states.push(
                event["detail"]["state"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        (states.len() >= 2).then_some(())
    });
    states.sort();
    assert_eq!(states, ["Active", "Deleted"]);
}
