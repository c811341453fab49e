//! boto3 through a function's whole life (tests/py/lifecycle.py).

use crate::support::*;

#[test]
fn full_lifecycle_and_paginator() {
    let server = Server::start(&[]);
    let hello = server.write_file("hello.zip", &guest_zip(guests::EXAMPLE_HELLO_HTTP));
    let echo = server.write_file("echo.zip", &guest_zip(guests::HTTP_ECHO));
    let env = server.write_file("env.zip", &guest_zip(guests::HTTP_ENV));
    let out = server.boto3(
        "lifecycle.py",
        &[
            hello.to_str().unwrap(),
            echo.to_str().unwrap(),
            env.to_str().unwrap(),
        ],
    );
    let stdout = ok(&out, "tests/py/lifecycle.py");
    assert_eq!(stdout.trim(), "OK");
}

/// FilterLogEvents honours `logStreamNames` and `logStreamNamePrefix`
/// (each version writes its own streams) and refuses both at once.
#[test]
fn log_events_are_filtered_by_stream() {
    let s = Server::start(&[]);
    let name = unique("streams");
    s.deploy(&name, guests::CMD_RECORD, serde_json::json!({}));
    let out = s.boto3_inline(
        r#"
import boto3, sys, time
from botocore.exceptions import ClientError
endpoint, name = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=endpoint, region_name="us-east-1")
lam, logs = boto3.client("lambda", **kw), boto3.client("logs", **kw)
version = lam.publish_version(FunctionName=name)["Version"]
lam.invoke(FunctionName=name, Payload=b'{"latest":1}')
lam.invoke(FunctionName=name, Qualifier=version, Payload=b'{"published":1}')
group = "/aws/lambda/" + name
for _ in range(100):
    events = logs.filter_log_events(logGroupName=group, filterPattern="event")["events"]
    if len(events) >= 2:
        break
    time.sleep(0.2)
streams = {e["logStreamName"]: e["message"] for e in events}
latest = [s for s in streams if "[$LATEST]" in s]
published = [s for s in streams if "[%s]" % version in s]
assert latest and published, streams
only = logs.filter_log_events(logGroupName=group, logStreamNames=published, filterPattern="event")["events"]
assert only and all(e["logStreamName"] in published for e in only), only
assert any("published" in e["message"] for e in only), only
assert not any("latest" in e["message"] for e in only), only
day = latest[0].split("[")[0]
assert len(logs.filter_log_events(logGroupName=group, logStreamNamePrefix=day, filterPattern="event")["events"]) >= 2
assert logs.filter_log_events(logGroupName=group, logStreamNamePrefix="1999/")["events"] == []
try:
    logs.filter_log_events(logGroupName=group, logStreamNames=published, logStreamNamePrefix=day)
    raise AssertionError("both filters accepted")
except ClientError as e:
    assert e.response["Error"]["Code"] == "InvalidParameterException", e.response
print("OK")
"#,
        &[&name],
    );
    assert_eq!(ok(&out, "stream filters").trim(), "OK");
}
