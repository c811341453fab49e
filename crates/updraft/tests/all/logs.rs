//! CloudWatch Logs through boto3 and the aws CLI v2: groups, streams,
//! retention, tags, PutLogEvents, GetLogEvents' tokens, FilterLogEvents'
//! patterns, a function's own `/aws/lambda/NAME` group, and `aws logs
//! tail` with and without `--follow`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::json;

use crate::support::*;

static SERVER: OnceLock<Server> = OnceLock::new();

fn server() -> &'static Server {
    Server::shared(&SERVER, &[])
}

/// Groups, streams, events, retention and tags of an application's own
/// group, with CloudWatch's errors.
#[test]
fn boto3_groups_streams_events_and_tags() {
    let s = server();
    let prefix = format!("/app/{}", unique("g"));
    let out = s.boto3_inline(
        r#"
import boto3, sys, time
from botocore.exceptions import ClientError
endpoint, prefix = sys.argv[1], sys.argv[2]
logs = boto3.client("logs", endpoint_url=endpoint, region_name="us-east-1")

def code(call, **kw):
    try:
        call(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]
    raise AssertionError("accepted: %r" % (kw,))

group = prefix + "/orders"
logs.create_log_group(logGroupName=group, tags={"team": "shop"})
assert code(logs.create_log_group, logGroupName=group)[0] == "ResourceAlreadyExistsException"
assert code(logs.create_log_group, logGroupName="bad name!")[0] == "InvalidParameterException"
for other in ("payments", "Search-API"):
    logs.create_log_group(logGroupName=prefix + "/" + other)

# DescribeLogGroups: prefix, pattern, paging.
pages = logs.get_paginator("describe_log_groups").paginate(
    logGroupNamePrefix=prefix, PaginationConfig={"PageSize": 1})
names = [g["logGroupName"] for p in pages for g in p["logGroups"]]
assert names == sorted([group, prefix + "/payments", prefix + "/Search-API"]), names
found = logs.describe_log_groups(logGroupNamePattern="search-api")["logGroups"]
assert [g["logGroupName"] for g in found] == [prefix + "/Search-API"], found
g = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
assert g["arn"] == "arn:aws:logs:us-east-1:000000000000:log-group:%s:*" % group, g
assert abs(g["creationTime"] - time.time() * 1000) < 60000, g
assert g["storedBytes"] == 0 and "retentionInDays" not in g, g
assert code(logs.describe_log_groups, logGroupNamePrefix="/a", logGroupNamePattern="b")[0] == "InvalidParameterException"

# Retention.
logs.put_retention_policy(logGroupName=group, retentionInDays=14)
assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == 14
c, m = code(logs.put_retention_policy, logGroupName=group, retentionInDays=2)
assert c == "InvalidParameterException" and "retentionInDays" in m, m
c, m = code(logs.put_retention_policy, logGroupName=prefix + "/none", retentionInDays=1)
assert (c, m) == ("ResourceNotFoundException", "The specified log group does not exist."), (c, m)
logs.delete_retention_policy(logGroupName=group)
assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]

# Streams and PutLogEvents.
logs.create_log_stream(logGroupName=group, logStreamName="web-1")
logs.create_log_stream(logGroupName=group, logStreamName="web-2")
assert code(logs.create_log_stream, logGroupName=group, logStreamName="web-1")[0] == "ResourceAlreadyExistsException"
c, m = code(logs.create_log_stream, logGroupName=prefix + "/none", logStreamName="x")
assert (c, m) == ("ResourceNotFoundException", "The specified log group does not exist."), (c, m)
now = int(time.time() * 1000)
lines = [
    '{"level":"INFO","latency":20,"path":"/cart"}',
    '{"level":"ERROR","latency":250,"path":"/pay"}',
    '{"level":"WARN","latency":120,"path":"/cart"}',
    'plain text: order 17 shipped to Oslo',
    'plain text: order 18 failed, will retry',
]
r = logs.put_log_events(logGroupName=group, logStreamName="web-1", sequenceToken="ignored",
                        logEvents=[{"timestamp": now - 5000 + i, "message": l} for i, l in enumerate(lines)])
assert "nextSequenceToken" in r and "rejectedLogEventsInfo" not in r, r
r = logs.put_log_events(logGroupName=group, logStreamName="web-2",
                        logEvents=[{"timestamp": now - 4000, "message": "second stream ERROR"}])
c, m = code(logs.put_log_events, logGroupName=group, logStreamName="web-1",
            logEvents=[{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}])
assert c == "InvalidParameterException" and "chronological" in m, m
c, m = code(logs.put_log_events, logGroupName=group, logStreamName="nope",
            logEvents=[{"timestamp": now, "message": "x"}])
assert (c, m) == ("ResourceNotFoundException", "The specified log stream does not exist."), (c, m)
r = logs.put_log_events(logGroupName=group, logStreamName="web-2", logEvents=[
    {"timestamp": now - 15 * 86400000, "message": "too old"}])
assert r["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 0}, r
r = logs.put_log_events(logGroupName=group, logStreamName="web-2", logEvents=[
    {"timestamp": now - 3000, "message": "kept"},
    {"timestamp": now + 3 * 3600000, "message": "too new"}])
assert r["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}, r
c, m = code(logs.put_log_events, logGroupName=group, logStreamName="web-2", logEvents=[
    {"timestamp": now - 2 * 86400000, "message": "a"}, {"timestamp": now, "message": "b"}])
assert c == "InvalidParameterException" and "24 hours" in m, m
assert code(logs.put_log_events, logGroupName=group, logStreamName="web-2",
            logEvents=[{"timestamp": now, "message": "x"}] * 10001)[0] == "InvalidParameterException"
assert code(logs.put_log_events, logGroupName=group, logStreamName="web-2",
            logEvents=[{"timestamp": now, "message": "x" * 600000}] * 2)[0] == "InvalidParameterException"

# DescribeLogStreams.
streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
assert [s["logStreamName"] for s in streams] == ["web-1", "web-2"], streams
web1 = streams[0]
assert web1["firstEventTimestamp"] == now - 5000 and web1["lastEventTimestamp"] == now - 5000 + 4, web1
assert web1["lastIngestionTime"] >= now and web1["storedBytes"] == sum(len(l) for l in lines), web1
by_time = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True)["logStreams"]
assert [s["logStreamName"] for s in by_time] == ["web-2", "web-1"], by_time
assert [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="web-2")["logStreams"]] == ["web-2"]
assert code(logs.describe_log_streams, logGroupName=group, orderBy="LastEventTime", logStreamNamePrefix="w")[0] == "InvalidParameterException"
paged = logs.get_paginator("describe_log_streams").paginate(logGroupName=group, PaginationConfig={"PageSize": 1})
assert [s["logStreamName"] for p in paged for s in p["logStreams"]] == ["web-1", "web-2"]

# GetLogEvents: from the head forward, the same token at the end, backward.
r = logs.get_log_events(logGroupName=group, logStreamName="web-1", startFromHead=True, limit=2)
assert [e["message"] for e in r["events"]] == lines[:2], r
seen = [e["message"] for e in r["events"]]
token = r["nextForwardToken"]
while True:
    r = logs.get_log_events(logGroupName=group, logStreamName="web-1", nextToken=token, limit=2)
    if r["nextForwardToken"] == token:
        assert r["events"] == [], r
        break
    seen += [e["message"] for e in r["events"]]
    token = r["nextForwardToken"]
assert seen == lines, seen
back = logs.get_log_events(logGroupName=group, logStreamName="web-1", nextToken=r["nextBackwardToken"], limit=2)
assert [e["message"] for e in back["events"]] == lines[3:], back
back = logs.get_log_events(logGroupName=group, logStreamName="web-1", nextToken=back["nextBackwardToken"], limit=2)
assert [e["message"] for e in back["events"]] == lines[1:3], back
tail = logs.get_log_events(logGroupName=group, logStreamName="web-1", limit=1)
assert [e["message"] for e in tail["events"]] == lines[-1:], tail
window = logs.get_log_events(logGroupName=group, logStreamName="web-1", startTime=now - 4999, endTime=now - 4997, startFromHead=True)
assert [e["message"] for e in window["events"]] == lines[1:3], window
assert code(logs.get_log_events, logGroupName=group, logStreamName="none")[0] == "ResourceNotFoundException"

# FilterLogEvents with CloudWatch patterns.
def matching(pattern, **kw):
    events = logs.filter_log_events(logGroupName=group, filterPattern=pattern, **kw)["events"]
    return [e["message"] for e in events]
assert matching('{ $.level = "ERROR" }') == [lines[1]]
assert matching('{ $.latency > 100 }') == [lines[1], lines[2]]
assert matching('{ $.latency > 100 && $.path = "/cart" }') == [lines[2]]
assert matching('{ $.level = "INFO" || $.level = "WARN" }') == [lines[0], lines[2]]
assert matching('{ $.path = "/ca*" }') == [lines[0], lines[2]]
assert matching('ERROR') == [lines[1], "second stream ERROR"]
assert matching('"order 17"') == [lines[3]]
assert matching('?Oslo ?retry') == [lines[3], lines[4]]
assert matching('plain -retry') == [lines[3]]
assert matching('[kind, text, word = order, number > 17, ...]') == [lines[4]]
assert matching('ERROR', logStreamNames=["web-2"]) == ["second stream ERROR"]
assert matching('', startTime=now - 3500, endTime=now) == ["kept"]
c, m = code(logs.filter_log_events, logGroupName=group, filterPattern='{ $.level = }')
assert c == "InvalidParameterException", (c, m)
pages = list(logs.get_paginator("filter_log_events").paginate(logGroupName=group, PaginationConfig={"PageSize": 2}))
assert len(pages) >= 4, pages
assert [e["message"] for p in pages for e in p["events"]] == lines + ["second stream ERROR", "kept"], pages
r = logs.filter_log_events(logGroupName=group)
assert sorted(s["logStreamName"] for s in r["searchedLogStreams"]) == ["web-1", "web-2"], r
last = logs.filter_log_events(logGroupName=group, nextToken=r["nextToken"])
assert last["events"] == [] and "nextToken" not in last, last

# Tags, by group name and by ARN.
arn = "arn:aws:logs:us-east-1:000000000000:log-group:" + group
assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"team": "shop"}
logs.tag_log_group(logGroupName=group, tags={"env": "prod"})
logs.untag_log_group(logGroupName=group, tags=["team"])
assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"env": "prod"}
logs.tag_resource(resourceArn=arn, tags={"owner": "ann"})
assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "prod", "owner": "ann"}
logs.untag_resource(resourceArn=arn, tagKeys=["env"])
assert logs.list_tags_for_resource(resourceArn=arn + ":*")["tags"] == {"owner": "ann"}

# Deleting.
logs.delete_log_stream(logGroupName=group, logStreamName="web-2")
assert code(logs.delete_log_stream, logGroupName=group, logStreamName="web-2")[0] == "ResourceNotFoundException"
assert matching("ERROR") == [lines[1]]
logs.delete_log_group(logGroupName=group)
c, m = code(logs.delete_log_group, logGroupName=group)
assert (c, m) == ("ResourceNotFoundException", "The specified log group does not exist."), (c, m)
assert code(logs.filter_log_events, logGroupName=group)[0] == "ResourceNotFoundException"
assert group not in [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]]
print("OK")
"#,
        &[&prefix],
    );
    assert_eq!(ok(&out, "CloudWatch Logs with boto3").trim(), "OK");
}

/// A function's logs appear in `/aws/lambda/NAME` with Lambda's stream
/// names, one event per line; its retention and deletion work as on any
/// group, and the next invocation makes the group again.
#[test]
fn boto3_reads_a_functions_group() {
    let s = server();
    let name = unique("logs-fn");
    s.deploy(&name, guests::CMD_RECORD, json!({}));
    for payload in [r#"{"step":"boom ERROR"}"#, r#"{"step":"fine"}"#] {
        let r = s.invoke(&name, payload.as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let out = s.boto3_inline(
        r#"
import boto3, re, sys, time
from botocore.exceptions import ClientError
endpoint, name = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=endpoint, region_name="us-east-1")
logs, lam = boto3.client("logs", **kw), boto3.client("lambda", **kw)
group = "/aws/lambda/" + name
for _ in range(100):
    events = logs.filter_log_events(logGroupName=group, filterPattern="REPORT")["events"]
    if len(events) == 2:
        break
    time.sleep(0.2)
assert len(events) == 2, events
groups = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
assert [g["logGroupName"] for g in groups] == [group] and groups[0]["storedBytes"] > 0, groups
streams = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True)["logStreams"]
assert streams and all(re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f-]+", s["logStreamName"]) for s in streams), streams
stream = streams[0]["logStreamName"]
r = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
messages = [e["message"] for e in r["events"]]
starts = [m for m in messages if m.startswith("START RequestId: ")]
assert starts and all(m.endswith("\n") for m in messages), messages
assert any(m.startswith("REPORT RequestId: ") and "Billed Duration" in m for m in messages), messages
errors = [e["message"] for e in logs.filter_log_events(logGroupName=group, filterPattern="?ERROR ?Exception")["events"]]
assert len(errors) == 1 and "boom ERROR" in errors[0], errors
assert [e["message"] for e in logs.filter_log_events(logGroupName=group, filterPattern="event -boom")["events"]] == ['event: {"step":"fine"}\n']

logs.put_retention_policy(logGroupName=group, retentionInDays=1)
assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == 1
logs.delete_log_group(logGroupName=group)
try:
    logs.describe_log_streams(logGroupName=group)
    raise AssertionError("the group is still there")
except ClientError as e:
    assert e.response["Error"]["Code"] == "ResourceNotFoundException", e.response
# The function still exists: reading its (empty) group is no error.
assert logs.filter_log_events(logGroupName=group)["events"] == []
lam.invoke(FunctionName=name, Payload=b'{"step":"again"}')
for _ in range(100):
    events = logs.filter_log_events(logGroupName=group, filterPattern="again")["events"]
    if events:
        break
    time.sleep(0.2)
assert [e["message"] for e in events] == ['event: {"step":"again"}\n'], events
assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
print("OK")
"#,
        &[&name],
    );
    assert_eq!(ok(&out, "a function's log group with boto3").trim(), "OK");
}

/// `aws logs tail` (CLI v2) prints a function's log; with `--follow` it
/// prints what later invocations log while it runs.
#[test]
fn aws_cli_v2_logs_tail_and_follow() {
    let s = server();
    let name = unique("logs-tail");
    let group = format!("/aws/lambda/{name}");
    s.deploy(&name, guests::CMD_RECORD, json!({}));
    let r = s.invoke(&name, br#"{"marker":"first-call"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let printed = eventually(
        Duration::from_secs(15),
        "the first call in the tail",
        || {
            let out = s.aws_v2(&["logs", "tail", &group]);
            let text = ok(&out, "aws logs tail");
            text.contains("first-call").then_some(text)
        },
    );
    assert!(printed.contains("START RequestId: "), "{printed}");
    assert!(printed.contains("[$LATEST]"), "stream names: {printed}");

    let described = ok_json(
        &s.aws_v2(&[
            "logs",
            "describe-log-groups",
            "--log-group-name-prefix",
            &group,
        ]),
        "aws logs describe-log-groups",
    );
    assert_eq!(described["logGroups"][0]["logGroupName"], group.as_str());

    let creds = s.credentials();
    let mut command = Command::new(aws_v2_program());
    command
        .args([
            "--endpoint-url",
            &s.url,
            "--region",
            REGION,
            "logs",
            "tail",
            &group,
            "--follow",
            "--format",
            "short",
        ])
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_ACCESS_KEY_ID", &creds.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &creds.secret_access_key)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_PAGER", "")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let mut follower = Follower::spawn(command);
    eventually(
        Duration::from_secs(20),
        "the earlier call, followed",
        || follower.text().contains("first-call").then_some(()),
    );
    let r = s.invoke(&name, br#"{"marker":"second-call"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let followed = eventually(Duration::from_secs(30), "the new call, followed", || {
        let t = follower.text();
        t.contains("second-call").then_some(t)
    });
    follower.stop();
    assert_eq!(
        followed.matches("first-call").count(),
        1,
        "each event printed once: {followed}"
    );
}

/// `updraft logs --follow` prints each line once, and what later
/// invocations log.
#[test]
fn updraft_logs_follow_prints_each_line_once() {
    let s = server();
    let name = unique("logs-follow");
    s.deploy(&name, guests::CMD_RECORD, json!({}));
    let r = s.invoke(&name, br#"{"marker":"one"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let mut command = Command::new(env!("CARGO_BIN_EXE_updraft"));
    command
        .arg("--endpoint")
        .arg(&s.url)
        .arg("--data-dir")
        .arg(s.data_dir())
        .args(["logs", &name, "--follow"]);
    let mut follower = Follower::spawn(command);
    eventually(Duration::from_secs(20), "the first call", || {
        follower
            .text()
            .contains(r#"{"marker":"one"}"#)
            .then_some(())
    });
    let r = s.invoke(&name, br#"{"marker":"two"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    eventually(Duration::from_secs(20), "the second call", || {
        (follower.text().matches("REPORT RequestId:").count() >= 2).then_some(())
    });
    // A moment more: nothing is printed twice while it polls.
    std::thread::sleep(Duration::from_secs(2));
    let text = follower.text();
    follower.stop();
    assert_eq!(text.matches("START RequestId:").count(), 2, "{text}");
    assert_eq!(text.matches(r#"{"marker":"one"}"#).count(), 1, "{text}");
    assert_eq!(text.matches(r#"{"marker":"two"}"#).count(), 1, "{text}");
}

/// A client process whose standard output is collected as it prints.
struct Follower {
    child: std::process::Child,
    seen: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Follower {
    fn spawn(mut command: Command) -> Follower {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting a follower");
        let stdout = child.stdout.take().expect("stdout");
        let seen = Arc::new(Mutex::new(String::new()));
        let reader = {
            let seen = seen.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                    seen.push_str(&line);
                    seen.push('\n');
                }
            })
        };
        Follower {
            child,
            seen,
            reader: Some(reader),
        }
    }

    fn text(&self) -> String {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop();
    }
}
