//! SQS on the wire: the aws CLI v1 (JSON protocol) and v2 (query
//! protocol) through a queue's whole life, boto3 scripts
//! (tests/py/sqs_*.py) for attributes, bad input, redrive, long polling
//! and visibility, and raw signed calls for the error formats.
//!
//! MD5s are checked against tests/py/sqs_common.py, which computes them
//! as the AWS SDKs do, independently of the server.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use crate::support::*;

static SERVER: OnceLock<Server> = OnceLock::new();

fn server() -> &'static Server {
    Server::shared(&SERVER, &[])
}

/// An MD5 as SQS answers it, computed by tests/py/sqs_common.py:
/// `kind` is `body` (text) or `attributes` (a JSON `MessageAttributes`).
fn md5(kind: &str, value: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/sqs_common.py");
    let out = Command::new("python3")
        .arg(script)
        .args([kind, value])
        .output()
        .expect("running python3");
    ok(&out, "sqs_common.py").trim().to_string()
}

/// Which aws CLI.
#[derive(Clone, Copy)]
enum Cli {
    /// pip's v1: the JSON protocol.
    V1,
    /// Debian's v2 2.9: the query protocol.
    V2,
}

impl Cli {
    fn run(self, args: &[&str]) -> std::process::Output {
        match self {
            Cli::V1 => server().aws_v1(args),
            Cli::V2 => server().aws_v2(args),
        }
    }

    /// `aws sqs ARGS`, which must succeed; its JSON output (`null` when it
    /// prints nothing).
    #[track_caller]
    fn sqs(self, args: &[&str]) -> Value {
        let mut all = vec!["sqs"];
        all.extend_from_slice(args);
        let stdout = ok(&self.run(&all), &format!("aws sqs {}", args.join(" ")));
        if stdout.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&stdout)
                .unwrap_or_else(|e| panic!("aws sqs {args:?}: not JSON ({e}): {stdout}"))
        }
    }

    /// `aws sqs ARGS`, which must fail; its stderr.
    #[track_caller]
    fn sqs_fails(self, args: &[&str]) -> String {
        let mut all = vec!["sqs"];
        all.extend_from_slice(args);
        failed(&self.run(&all), &format!("aws sqs {}", args.join(" ")))
    }

    /// Visible, in-flight and delayed messages of a queue.
    fn depth(self, url: &str) -> (u64, u64, u64) {
        let a = self.sqs(&[
            "get-queue-attributes",
            "--queue-url",
            url,
            "--attribute-names",
            "All",
        ]);
        let n = |k: &str| {
            a["Attributes"][k]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{k} in {a}"))
        };
        (
            n("ApproximateNumberOfMessages"),
            n("ApproximateNumberOfMessagesNotVisible"),
            n("ApproximateNumberOfMessagesDelayed"),
        )
    }

    /// Receives until `count` messages have arrived (long polls of 1 s, at
    /// most 15 s in all).
    fn receive(self, url: &str, count: usize, extra: &[&str]) -> Vec<Value> {
        let mut got = Vec::new();
        eventually(Duration::from_secs(15), "messages to receive", || {
            let mut args = vec![
                "receive-message",
                "--queue-url",
                url,
                "--max-number-of-messages",
                "10",
                "--wait-time-seconds",
                "1",
            ];
            args.extend_from_slice(extra);
            let r = self.sqs(&args);
            if let Some(ms) = r["Messages"].as_array() {
                got.extend(ms.iter().cloned());
            }
            (got.len() >= count).then_some(())
        });
        assert_eq!(got.len(), count, "received {got:?}");
        got
    }
}

/// The core flow both CLIs run: create, find, send with attributes (MD5s
/// checked), receive with every attribute, change visibility, delete,
/// batches, attributes, tags, purge, list, delete the queue.
fn core_flow(cli: Cli, prefix: &str) {
    let name = format!("{prefix}-life");
    let created = cli.sqs(&[
        "create-queue",
        "--queue-name",
        &name,
        "--attributes",
        "VisibilityTimeout=20,DelaySeconds=0",
        "--tags",
        "team=core",
    ]);
    let url = created["QueueUrl"].as_str().expect("QueueUrl").to_string();
    assert!(
        url.starts_with(&server().url) && url.ends_with(&format!("/{name}")),
        "{url}"
    );
    let account = url
        .rsplit('/')
        .nth(1)
        .expect("/{account}/{name}")
        .to_string();
    let found = cli.sqs(&["get-queue-url", "--queue-name", &name]);
    assert_eq!(found["QueueUrl"], url.as_str());
    // Creating it again with the same settings answers the same queue.
    let again = cli.sqs(&[
        "create-queue",
        "--queue-name",
        &name,
        "--attributes",
        "VisibilityTimeout=20",
    ]);
    assert_eq!(again["QueueUrl"], url.as_str());

    // Send with message attributes: the MD5s are SQS's.
    let body = "hello, queue & <xml> ✓";
    let attributes = json!({
        "colour": {"DataType": "String", "StringValue": "blue"},
        "size": {"DataType": "Number", "StringValue": "12.5"},
    });
    let sent = cli.sqs(&[
        "send-message",
        "--queue-url",
        &url,
        "--message-body",
        body,
        "--message-attributes",
        &attributes.to_string(),
    ]);
    assert_eq!(
        sent["MD5OfMessageBody"],
        md5("body", body).as_str(),
        "{sent}"
    );
    assert_eq!(
        sent["MD5OfMessageAttributes"],
        md5("attributes", &attributes.to_string()).as_str(),
        "{sent}"
    );
    let id = sent["MessageId"].as_str().expect("MessageId").to_string();

    let received = cli.sqs(&[
        "receive-message",
        "--queue-url",
        &url,
        "--attribute-names",
        "All",
        "--message-attribute-names",
        "All",
        "--wait-time-seconds",
        "5",
    ]);
    let m = &received["Messages"][0];
    assert_eq!(m["MessageId"], id.as_str(), "{received}");
    assert_eq!(m["Body"], body);
    assert_eq!(m["MD5OfBody"], sent["MD5OfMessageBody"]);
    assert_eq!(m["MessageAttributes"], attributes, "{received}");
    assert_eq!(m["MD5OfMessageAttributes"], sent["MD5OfMessageAttributes"]);
    assert_eq!(m["Attributes"]["ApproximateReceiveCount"], "1", "{m}");
    for a in [
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    ] {
        assert!(m["Attributes"][a].is_string(), "{a} missing: {m}");
    }
    assert_eq!(cli.depth(&url), (0, 1, 0));

    // Visible again at once, then deleted.
    let handle = m["ReceiptHandle"].as_str().expect("ReceiptHandle");
    cli.sqs(&[
        "change-message-visibility",
        "--queue-url",
        &url,
        "--receipt-handle",
        handle,
        "--visibility-timeout",
        "0",
    ]);
    let m = &cli.receive(&url, 1, &["--attribute-names", "ApproximateReceiveCount"])[0];
    assert_eq!(m["MessageId"], id.as_str());
    assert_eq!(m["Attributes"]["ApproximateReceiveCount"], "2", "{m}");
    cli.sqs(&[
        "delete-message",
        "--queue-url",
        &url,
        "--receipt-handle",
        m["ReceiptHandle"].as_str().expect("ReceiptHandle"),
    ]);
    assert_eq!(cli.depth(&url), (0, 0, 0));

    // Batches.
    let batch = cli.sqs(&[
        "send-message-batch",
        "--queue-url",
        &url,
        "--entries",
        "Id=a,MessageBody=one",
        "Id=b,MessageBody=two",
        "Id=c,MessageBody=three",
    ]);
    let mut ids: Vec<&str> = batch["Successful"]
        .as_array()
        .unwrap_or_else(|| panic!("Successful in {batch}"))
        .iter()
        .map(|s| s["Id"].as_str().expect("Id"))
        .collect();
    ids.sort();
    assert_eq!(ids, ["a", "b", "c"], "{batch}");
    assert!(
        batch["Failed"].as_array().is_none_or(Vec::is_empty),
        "{batch}"
    );
    for s in batch["Successful"].as_array().expect("checked") {
        let body = match s["Id"].as_str() {
            Some("a") => "one",
            Some("b") => "two",
            _ => "three",
        };
        assert_eq!(s["MD5OfMessageBody"], md5("body", body).as_str(), "{s}");
    }
    let got = cli.receive(&url, 3, &[]);
    let mut bodies: Vec<&str> = got.iter().map(|m| m["Body"].as_str().unwrap()).collect();
    bodies.sort();
    assert_eq!(bodies, ["one", "three", "two"]);
    let mut args = vec![
        "delete-message-batch".to_string(),
        "--queue-url".to_string(),
        url.clone(),
        "--entries".to_string(),
    ];
    for (i, m) in got.iter().enumerate() {
        args.push(format!(
            "Id=d{i},ReceiptHandle={}",
            m["ReceiptHandle"].as_str().unwrap()
        ));
    }
    let deleted = cli.sqs(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        deleted["Successful"].as_array().map(Vec::len),
        Some(3),
        "{deleted}"
    );
    assert_eq!(cli.depth(&url), (0, 0, 0));

    // Attributes and tags.
    cli.sqs(&[
        "set-queue-attributes",
        "--queue-url",
        &url,
        "--attributes",
        "VisibilityTimeout=45,MessageRetentionPeriod=3600",
    ]);
    let attrs = cli.sqs(&[
        "get-queue-attributes",
        "--queue-url",
        &url,
        "--attribute-names",
        "VisibilityTimeout",
        "MessageRetentionPeriod",
        "QueueArn",
    ]);
    assert_eq!(
        attrs["Attributes"],
        json!({
            "VisibilityTimeout": "45",
            "MessageRetentionPeriod": "3600",
            "QueueArn": format!("arn:aws:sqs:{REGION}:{account}:{name}"),
        })
    );
    let bad = cli.sqs_fails(&[
        "set-queue-attributes",
        "--queue-url",
        &url,
        "--attributes",
        "VisibilityTimeout=99999",
    ]);
    assert!(bad.contains("InvalidAttributeValue"), "{bad}");
    let attrs = cli.sqs(&[
        "get-queue-attributes",
        "--queue-url",
        &url,
        "--attribute-names",
        "VisibilityTimeout",
    ]);
    assert_eq!(attrs["Attributes"]["VisibilityTimeout"], "45");
    cli.sqs(&["tag-queue", "--queue-url", &url, "--tags", "env=test"]);
    let tags = cli.sqs(&["list-queue-tags", "--queue-url", &url]);
    assert_eq!(tags["Tags"], json!({"team": "core", "env": "test"}));
    cli.sqs(&["untag-queue", "--queue-url", &url, "--tag-keys", "team"]);
    let tags = cli.sqs(&["list-queue-tags", "--queue-url", &url]);
    assert_eq!(tags["Tags"], json!({"env": "test"}));

    // Purge.
    cli.sqs(&["send-message", "--queue-url", &url, "--message-body", "x"]);
    assert_eq!(cli.depth(&url), (1, 0, 0));
    cli.sqs(&["purge-queue", "--queue-url", &url]);
    assert_eq!(cli.depth(&url), (0, 0, 0));

    // List by prefix.
    let other = cli.sqs(&["create-queue", "--queue-name", &format!("{prefix}-other")]);
    let listed = cli.sqs(&["list-queues", "--queue-name-prefix", prefix]);
    assert_eq!(
        listed["QueueUrls"],
        json!([url, other["QueueUrl"]]),
        "{listed}"
    );
    let none = cli.sqs(&[
        "list-queues",
        "--queue-name-prefix",
        &format!("{prefix}-none"),
    ]);
    assert!(
        none["QueueUrls"].as_array().is_none_or(Vec::is_empty),
        "{none}"
    );

    // Delete: gone for every operation.
    cli.sqs(&["delete-queue", "--queue-url", &url]);
    let err = cli.sqs_fails(&["get-queue-url", "--queue-name", &name]);
    assert!(
        err.contains("AWS.SimpleQueueService.NonExistentQueue"),
        "{err}"
    );
    let err = cli.sqs_fails(&["send-message", "--queue-url", &url, "--message-body", "x"]);
    assert!(
        err.contains("AWS.SimpleQueueService.NonExistentQueue"),
        "{err}"
    );
}

#[test]
fn aws_cli_v1_json_protocol_lifecycle() {
    core_flow(Cli::V1, &unique("cliv1"));
}

#[test]
fn aws_cli_v2_query_protocol_lifecycle() {
    core_flow(Cli::V2, &unique("cliv2"));
}

#[test]
fn both_protocols_see_the_same_queue() {
    let name = unique("both");
    let url = Cli::V2.sqs(&["create-queue", "--queue-name", &name])["QueueUrl"]
        .as_str()
        .expect("QueueUrl")
        .to_string();
    let binary = json!({"b": {"DataType": "Binary", "BinaryValue": "AAEC/w=="}});
    let sent = Cli::V2.sqs(&[
        "send-message",
        "--queue-url",
        &url,
        "--message-body",
        "from v2",
        "--message-attributes",
        &binary.to_string(),
    ]);
    let m = &Cli::V1.receive(&url, 1, &["--message-attribute-names", "All"])[0];
    assert_eq!(m["Body"], "from v2");
    assert_eq!(m["MessageAttributes"], binary, "{m}");
    assert_eq!(m["MD5OfMessageAttributes"], sent["MD5OfMessageAttributes"]);
    assert_eq!(
        sent["MD5OfMessageAttributes"],
        md5("attributes", &binary.to_string()).as_str()
    );
}

/// Runs a tests/py/sqs_*.py script against the shared server.
fn boto3_script(script: &str) {
    let out = server().boto3(script, &[&unique("py")]);
    assert_eq!(ok(&out, script).trim(), "OK");
}

#[test]
fn boto3_messages_attributes_batches_tags_and_pages() {
    boto3_script("sqs_messages.py");
}

#[test]
fn boto3_bad_input_gets_sqs_errors_and_changes_nothing() {
    boto3_script("sqs_errors.py");
}

#[test]
fn boto3_redrive_moves_messages_to_the_dead_letter_queue() {
    boto3_script("sqs_redrive.py");
}

#[test]
fn boto3_long_polling_and_visibility_timeouts() {
    boto3_script("sqs_polling.py");
}

/// A signed query-protocol request (form body) to `path`.
fn query_call(path: &str, form: &str) -> Resp {
    let s = server();
    s.signed_with(
        "POST",
        path,
        &[("content-type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
        &s.credentials(),
        "sqs",
        SystemTime::now(),
    )
}

#[test]
fn json_errors_carry_the_query_error_code() {
    let s = server();
    let missing = s.json_call(
        "sqs",
        "AmazonSQS.GetQueueUrl",
        json!({"QueueName": "no-such-queue"}),
    );
    assert_eq!(missing.status, 400, "{}", missing.text());
    assert_eq!(
        missing.header("x-amzn-query-error"),
        Some("AWS.SimpleQueueService.NonExistentQueue;Sender")
    );
    assert_eq!(
        missing.json()["__type"],
        "com.amazonaws.sqs#QueueDoesNotExist"
    );
    assert!(missing.header("x-amzn-requestid").is_some());

    let unknown = s.json_call("sqs", "AmazonSQS.MakeCoffee", json!({}));
    assert_eq!(unknown.status, 400);
    assert_eq!(
        unknown.header("x-amzn-query-error"),
        Some("InvalidAction;Sender")
    );

    let no_param = s.json_call("sqs", "AmazonSQS.SendMessage", json!({"MessageBody": "x"}));
    assert_eq!(
        no_param.header("x-amzn-query-error"),
        Some("MissingParameter;Sender"),
        "{}",
        no_param.text()
    );
    assert!(no_param.json()["message"]
        .as_str()
        .is_some_and(|m| m.contains("QueueUrl")));

    let wrong_type = s.json_call("sqs", "AmazonSQS.ListQueues", json!({"MaxResults": "ten"}));
    assert_eq!(wrong_type.status, 400);
    assert_eq!(
        wrong_type.json()["__type"],
        "com.amazon.coral.service#SerializationException"
    );
}

#[test]
fn query_protocol_on_queue_urls_and_xml_errors() {
    let s = server();
    let name = unique("query");
    let created = query_call("/", &format!("Action=CreateQueue&QueueName={name}"));
    assert_eq!(created.status, 200, "{}", created.text());
    let xml = created.text();
    assert!(
        xml.contains("<CreateQueueResponse") && xml.contains(&format!("/{name}</QueueUrl>")),
        "{xml}"
    );
    let url = xml
        .split("<QueueUrl>")
        .nth(1)
        .and_then(|r| r.split("</QueueUrl>").next())
        .expect("a QueueUrl")
        .to_string();
    let path = url
        .strip_prefix(&s.url)
        .expect("the queue URL is on the server");

    // POSTed to the queue URL, without QueueUrl.
    let sent = query_call(path, "Action=SendMessage&MessageBody=to+the+url");
    assert_eq!(sent.status, 200, "{}", sent.text());
    assert!(sent.text().contains(&format!(
        "<MD5OfMessageBody>{}</MD5OfMessageBody>",
        md5("body", "to the url")
    )));
    let received = query_call(path, "Action=ReceiveMessage&AttributeName.1=All");
    let xml = received.text();
    assert!(
        xml.contains("<Body>to the url</Body>")
            && xml.contains(
                "<Attribute><Name>ApproximateReceiveCount</Name><Value>1</Value></Attribute>"
            ),
        "{xml}"
    );

    // Errors: an XML ErrorResponse with SQS's code.
    let missing = query_call(
        "/",
        &format!(
            "Action=GetQueueAttributes&QueueUrl={}x&AttributeName.1=All",
            url.replace(':', "%3A").replace('/', "%2F")
        ),
    );
    assert_eq!(missing.status, 400);
    let xml = missing.text();
    assert!(
        xml.contains("<ErrorResponse")
            && xml.contains("<Code>AWS.SimpleQueueService.NonExistentQueue</Code>")
            && xml.contains("<Type>Sender</Type>")
            && xml.contains("<RequestId>"),
        "{xml}"
    );
    let unknown = query_call("/", "Action=MakeCoffee");
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.text().contains("<Code>InvalidAction</Code>"),
        "{}",
        unknown.text()
    );
    let bad_int = query_call(path, "Action=ReceiveMessage&MaxNumberOfMessages=lots");
    assert!(
        bad_int
            .text()
            .contains("<Code>InvalidParameterValue</Code>"),
        "{}",
        bad_int.text()
    );

    // Other two-segment paths are no queue's: answered as paths no API
    // serves.
    let other = query_call("/not-an-account/x", "Action=ListQueues");
    let nowhere = query_call("/no/such/path", "Action=ListQueues");
    assert_eq!(
        (other.status, other.error_type()),
        (nowhere.status, nowhere.error_type()),
        "{}",
        other.text()
    );
    assert!(
        !other.text().contains("ListQueuesResponse"),
        "{}",
        other.text()
    );
}

#[test]
fn fifo_queues_keep_order_and_deduplicate() {
    let s = server();
    let name = format!("{}.fifo", unique("fifo"));
    let (url, _) = s.create_queue(&name, json!({"FifoQueue": "true"}));
    let send = |body: &str, dedup: &str| {
        s.json_call(
            "sqs",
            "AmazonSQS.SendMessage",
            json!({"QueueUrl": url, "MessageBody": body, "MessageGroupId": "g1",
                   "MessageDeduplicationId": dedup}),
        )
    };
    let first = send("first", "d1");
    assert_eq!(first.status, 200, "{}", first.text());
    assert!(
        first.json()["SequenceNumber"].is_string(),
        "{}",
        first.text()
    );
    let again = send("first again", "d1");
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(
        again.json()["MessageId"],
        first.json()["MessageId"],
        "a duplicate within five minutes is the same message"
    );
    assert_eq!(send("second", "d2").status, 200);

    // No group id: SQS's error, nothing sent.
    let r = s.json_call(
        "sqs",
        "AmazonSQS.SendMessage",
        json!({"QueueUrl": url, "MessageBody": "loose", "MessageDeduplicationId": "d3"}),
    );
    assert_eq!(r.status, 400, "{}", r.text());

    let receive = || {
        let r = s.json_call(
            "sqs",
            "AmazonSQS.ReceiveMessage",
            json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "VisibilityTimeout": 30}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["Messages"].as_array().cloned().unwrap_or_default()
    };
    let got = receive();
    let bodies: Vec<&str> = got.iter().map(|m| m["Body"].as_str().unwrap()).collect();
    assert_eq!(
        bodies,
        ["first", "second"],
        "in order, the duplicate dropped"
    );
    assert!(receive().is_empty(), "the group is in flight");
    for m in &got {
        let r = s.json_call(
            "sqs",
            "AmazonSQS.DeleteMessage",
            json!({"QueueUrl": url, "ReceiptHandle": m["ReceiptHandle"]}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert!(receive().is_empty(), "nothing left");
}
