//! Object storage with the real clients: the aws CLI v1 and v2 (`s3` and
//! `s3api`, a multipart upload above the CLI's 8 MiB threshold), boto3
//! (objects, listings, copies, versions, tags, conditional writes,
//! presigned URLs fetched with curl, bucket policies and anonymous reads),
//! and notifications that run a Python function and fill an SQS queue.

use std::sync::OnceLock;

use serde_json::json;

use crate::support::*;

fn server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    Server::shared(&S, &[])
}

/// 20 MiB that are not all the same byte (so a misplaced part shows).
fn big_payload() -> Vec<u8> {
    (0..20u32 * 1024 * 1024)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

#[test]
fn the_aws_cli_v1_and_v2_copy_sync_list_and_remove() {
    let s = server();
    let big = s.write_file("big.bin", &big_payload());
    let dir = s.scratch().join("tree");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("one.txt"), b"one").unwrap();
    std::fs::write(dir.join("sub/two.txt"), b"two").unwrap();
    type Cli = fn(&Server, &[&str]) -> std::process::Output;
    for (version, cli) in [("v1", Server::aws_v1 as Cli), ("v2", Server::aws_v2 as Cli)] {
        let bucket = unique(&format!("cli-{version}"));
        let b = format!("s3://{bucket}");
        ok(&cli(s, &["s3", "mb", &b]), "s3 mb");
        ok(
            &cli(
                s,
                &["s3", "cp", big.to_str().unwrap(), &format!("{b}/big.bin")],
            ),
            "s3 cp (multipart)",
        );
        ok(
            &cli(
                s,
                &["s3", "sync", dir.to_str().unwrap(), &format!("{b}/tree/")],
            ),
            "s3 sync",
        );
        let listed = ok(&cli(s, &["s3", "ls", &b, "--recursive"]), "s3 ls");
        for key in ["big.bin", "tree/one.txt", "tree/sub/two.txt"] {
            assert!(
                listed.contains(key),
                "{version}: {key} missing from {listed}"
            );
        }
        let head = ok_json(
            &cli(
                s,
                &[
                    "s3api",
                    "head-object",
                    "--bucket",
                    &bucket,
                    "--key",
                    "big.bin",
                ],
            ),
            "s3api head-object",
        );
        assert_eq!(head["ContentLength"], 20 * 1024 * 1024, "{head}");
        // 20 MiB in the CLI's 8 MiB parts: a multipart ETag of 3 parts.
        assert!(
            head["ETag"].as_str().unwrap().ends_with("-3\""),
            "{version}: {head}"
        );
        let back = s.scratch().join(format!("big-{version}.out"));
        ok(
            &cli(
                s,
                &["s3", "cp", &format!("{b}/big.bin"), back.to_str().unwrap()],
            ),
            "s3 cp down",
        );
        assert!(
            std::fs::read(&back).unwrap() == big_payload(),
            "{version}: the object read back differs"
        );
        let missing = cli(
            s,
            &["s3api", "head-object", "--bucket", &bucket, "--key", "nope"],
        );
        assert!(!missing.status.success());
        assert!(failed(&missing, "head of a missing key").contains("404"));
        let not_empty = cli(s, &["s3", "rb", &b]);
        assert!(failed(&not_empty, "rb of a full bucket").contains("BucketNotEmpty"));
        ok(&cli(s, &["s3", "rm", &b, "--recursive"]), "s3 rm");
        ok(&cli(s, &["s3", "rb", &b]), "s3 rb");
        let gone = ok(&cli(s, &["s3", "ls"]), "s3 ls buckets");
        assert!(!gone.contains(&bucket), "{gone}");
    }
}

#[test]
fn boto3_objects_listings_copies_versions_and_presigned_urls() {
    let s = server();
    let bucket = unique("objects");
    let out = s.boto3_inline(
        r#"
import boto3, hashlib, json, subprocess, sys, time
from botocore.exceptions import ClientError
endpoint, b = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")

def code(call):
    try:
        call()
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError("no error")

s3.create_bucket(Bucket=b)
# us-east-1 answers its owner's second CreateBucket with 200, as S3 does.
s3.create_bucket(Bucket=b)
assert code(lambda: s3.create_bucket(Bucket="Not_Valid")) == "InvalidBucketName"
s3.put_object(Bucket=b, Key="a/1.txt", Body=b"one", ContentType="text/plain",
              Metadata={"colour": "blue"}, CacheControl="max-age=60")
got = s3.get_object(Bucket=b, Key="a/1.txt")
assert got["Body"].read() == b"one"
assert got["Metadata"] == {"colour": "blue"}, got["Metadata"]
assert got["ContentType"] == "text/plain" and got["CacheControl"] == "max-age=60"
assert got["ETag"] == '"%s"' % hashlib.md5(b"one").hexdigest(), got["ETag"]
assert s3.get_object(Bucket=b, Key="a/1.txt", Range="bytes=1-")["Body"].read() == b"ne"
assert code(lambda: s3.get_object(Bucket=b, Key="a/1.txt", Range="bytes=9-")) == "InvalidRange"
assert code(lambda: s3.get_object(Bucket=b, Key="a/1.txt", IfMatch='"0"')) == "PreconditionFailed"
assert code(lambda: s3.get_object(Bucket=b, Key="missing")) == "NoSuchKey"
assert code(lambda: s3.get_object(Bucket=b + "-none", Key="k")) == "NoSuchBucket"

s3.put_object(Bucket=b, Key="a/2.txt", Body=b"two")
s3.put_object(Bucket=b, Key="b c+d.txt", Body=b"spaces")
top = s3.list_objects_v2(Bucket=b, Delimiter="/")
assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/"], top
assert [o["Key"] for o in top["Contents"]] == ["b c+d.txt"], top
pages = s3.get_paginator("list_objects_v2").paginate(Bucket=b, PaginationConfig={"PageSize": 1})
assert [o["Key"] for p in pages for o in p.get("Contents", [])] == ["a/1.txt", "a/2.txt", "b c+d.txt"]
v1 = s3.list_objects(Bucket=b, Prefix="a/", Marker="a/1.txt")
assert [o["Key"] for o in v1["Contents"]] == ["a/2.txt"], v1
assert s3.get_object(Bucket=b, Key="b c+d.txt")["Body"].read() == b"spaces"

s3.copy_object(Bucket=b, Key="copy.txt", CopySource={"Bucket": b, "Key": "a/1.txt"},
               MetadataDirective="REPLACE", Metadata={"colour": "red"}, ContentType="text/x")
head = s3.head_object(Bucket=b, Key="copy.txt")
assert head["Metadata"] == {"colour": "red"} and head["ContentType"] == "text/x", head
assert code(lambda: s3.put_object(Bucket=b, Key="copy.txt", Body=b"x", IfNoneMatch="*")) == "PreconditionFailed"

s3.put_object_tagging(Bucket=b, Key="copy.txt", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
assert s3.get_object_tagging(Bucket=b, Key="copy.txt")["TagSet"] == [{"Key": "k", "Value": "v"}]

s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
first = s3.put_object(Bucket=b, Key="v.txt", Body=b"1")["VersionId"]
second = s3.put_object(Bucket=b, Key="v.txt", Body=b"2")["VersionId"]
assert first != second
s3.delete_object(Bucket=b, Key="v.txt")
assert code(lambda: s3.get_object(Bucket=b, Key="v.txt")) == "NoSuchKey"
assert s3.get_object(Bucket=b, Key="v.txt", VersionId=first)["Body"].read() == b"1"
versions = s3.list_object_versions(Bucket=b, Prefix="v.txt")
assert len(versions["Versions"]) == 2 and len(versions["DeleteMarkers"]) == 1, versions

url = s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "a/1.txt"}, ExpiresIn=60)
assert subprocess.run(["curl", "-sf", url], capture_output=True).stdout == b"one"
put = s3.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "up.txt"}, ExpiresIn=60)
subprocess.run(["curl", "-sf", "-X", "PUT", "-H", "Content-Type:", "--data-binary", "presigned", put], check=True)
assert s3.get_object(Bucket=b, Key="up.txt")["Body"].read() == b"presigned"
short = s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "a/1.txt"}, ExpiresIn=1)
time.sleep(2)
expired = subprocess.run(["curl", "-s", "-w", "%{http_code}", short], capture_output=True).stdout.decode()
assert expired.endswith("403") and "AccessDenied" in expired, expired

plain = endpoint + "/" + b + "/a/1.txt"
anonymous = lambda u: subprocess.run(["curl", "-s", "-w", "%{http_code}", u], capture_output=True).stdout.decode()
assert anonymous(plain).endswith("403"), anonymous(plain)
s3.put_bucket_policy(Bucket=b, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::%s/a/*" % b}]}))
assert anonymous(plain) == "one200", anonymous(plain)
# Virtual-hosted: the bucket named by the Host (bucket.localhost).
port = endpoint.rsplit(":", 1)[1]
hosted = subprocess.run(["curl", "-s", "-w", "%{http_code}", "-H", "Host: %s.localhost:%s" % (b, port),
                         endpoint + "/a/1.txt"], capture_output=True).stdout.decode()
assert hosted == "one200", hosted
assert anonymous(endpoint + "/" + b + "/copy.txt").endswith("403")

deleted = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "a/1.txt"}, {"Key": "a/2.txt"}]})
assert sorted(d["Key"] for d in deleted["Deleted"]) == ["a/1.txt", "a/2.txt"], deleted
print("OK")
"#,
        &[&bucket],
    );
    assert_eq!(ok(&out, "boto3 objects").trim(), "OK");
}

/// A Python function with the execution role's credentials reads each
/// uploaded object and writes a derived one back; an SQS queue receives
/// the same bucket's removals.
#[test]
fn notifications_run_a_function_that_writes_back_and_fill_a_queue() {
    let s = server();
    let bucket = unique("thumbs");
    let name = unique("thumbnailer");
    let role = s.role_with_policy(
        &unique("thumbnailer-role"),
        "lambda.amazonaws.com",
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"], "Resource": format!("arn:aws:s3:::{bucket}/*")}]}),
    );
    let code = br#"
import boto3, urllib.parse
s3 = boto3.client("s3")

def handler(event, context):
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        s3.put_object(Bucket=bucket, Key="thumbs/" + key, Body=body.upper(),
                      Metadata={"event": record["eventName"]})
"#;
    let zip = updraft_test_support::zip_files(&[("app.py", code)]);
    let created = s.create_function_zip(
        &name,
        &zip,
        json!({"Runtime": "python3.11", "Handler": "app.handler", "Role": role, "Timeout": 30}),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let out = s.boto3_inline(
        r#"
import boto3, json, sys, time
from botocore.exceptions import ClientError
endpoint, b, name = sys.argv[1], sys.argv[2], sys.argv[3]
kw = dict(endpoint_url=endpoint, region_name="us-east-1")
s3, lam, sqs = boto3.client("s3", **kw), boto3.client("lambda", **kw), boto3.client("sqs", **kw)
s3.create_bucket(Bucket=b)
fn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
queue = sqs.create_queue(QueueName=b + "-removed")["QueueUrl"]
queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                   "Action": "sqs:SendMessage", "Resource": queue_arn}]})})
lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                   Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::" + b)
s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={
    "LambdaFunctionConfigurations": [{"Id": "thumbs", "LambdaFunctionArn": fn,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}}}],
    "QueueConfigurations": [{"Id": "removed", "QueueArn": queue_arn, "Events": ["s3:ObjectRemoved:*"]}]})
config = s3.get_bucket_notification_configuration(Bucket=b)
assert config["LambdaFunctionConfigurations"][0]["LambdaFunctionArn"] == fn, config

s3.put_object(Bucket=b, Key="uploads/cat picture.txt", Body=b"meow")
for _ in range(300):
    try:
        got = s3.get_object(Bucket=b, Key="thumbs/uploads/cat picture.txt")
        break
    except ClientError:
        time.sleep(0.1)
else:
    raise AssertionError("the function never wrote the derived object")
assert got["Body"].read() == b"MEOW"
assert got["Metadata"] == {"event": "ObjectCreated:Put"}, got["Metadata"]

s3.delete_object(Bucket=b, Key="uploads/cat picture.txt")
records = []
for _ in range(50):
    for m in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", []):
        body = json.loads(m["Body"])
        records += body.get("Records", [])
    if any(r["eventName"].startswith("ObjectRemoved") for r in records):
        break
removed = [r for r in records if r["eventName"].startswith("ObjectRemoved")]
assert removed, records
r = removed[0]
assert r["eventSource"] == "aws:s3" and r["awsRegion"] == "us-east-1", r
assert r["s3"]["bucket"]["name"] == b and r["s3"]["bucket"]["arn"] == "arn:aws:s3:::" + b, r
assert r["s3"]["object"]["key"] == "uploads/cat+picture.txt", r
assert r["s3"]["object"]["sequencer"], r
print("OK")
"#,
        &[&bucket, &name],
    );
    assert_eq!(ok(&out, "notifications").trim(), "OK");
}

/// Without a permission for S3 on the function, nothing runs it.
#[test]
fn a_function_without_a_permission_for_s3_is_not_invoked() {
    let s = server();
    let bucket = unique("noperm");
    let name = unique("noperm-fn");
    s.deploy(&name, guests::CMD_RECORD, json!({}));
    let out = s.boto3_inline(
        r#"
import boto3, sys
endpoint, b, name = sys.argv[1], sys.argv[2], sys.argv[3]
kw = dict(endpoint_url=endpoint, region_name="us-east-1")
s3, lam = boto3.client("s3", **kw), boto3.client("lambda", **kw)
s3.create_bucket(Bucket=b)
fn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
try:
    s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": fn, "Events": ["s3:ObjectCreated:*"]}]})
except Exception as e:
    print("refused", e)
s3.put_object(Bucket=b, Key="k", Body=b"x")
print("OK")
"#,
        &[&bucket, &name],
    );
    assert!(ok(&out, "put without a permission").contains("OK"));
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(
        s.recorded_events(&name).is_empty(),
        "the function ran without a permission for s3.amazonaws.com"
    );
}

/// `Code.S3Bucket`/`S3Key` deploys a function from a bucket (read with the
/// caller's permissions), UpdateFunctionCode takes a new version of the
/// object, a missing key is refused as Lambda words it, and `/metrics`
/// shows the bucket.
#[test]
fn functions_deploy_from_a_bucket_and_buckets_show_in_metrics() {
    let s = server();
    let bucket = unique("packages");
    let name = unique("from-s3");
    let zip = s.write_file("hello-from-s3.zip", &guest_zip(guests::EXAMPLE_HELLO_HTTP));
    let b = format!("s3://{bucket}");
    ok(&s.aws_v2(&["s3", "mb", &b]), "s3 mb");
    ok(
        &s.aws_v2(&["s3", "cp", zip.to_str().unwrap(), &format!("{b}/hello.zip")]),
        "s3 cp package",
    );
    let created = ok_json(
        &s.aws_v2(&[
            "lambda",
            "create-function",
            "--function-name",
            &name,
            "--runtime",
            "wasm",
            "--role",
            ROLE,
            "--code",
            &format!("S3Bucket={bucket},S3Key=hello.zip"),
        ]),
        "create-function from S3",
    );
    assert_eq!(created["FunctionName"], name.as_str(), "{created}");
    let invoked = s.invoke(&name, b"{}");
    assert_eq!(invoked.status, 200, "{}", invoked.text());
    ok(
        &s.aws_v2(&[
            "lambda",
            "update-function-code",
            "--function-name",
            &name,
            "--s3-bucket",
            &bucket,
            "--s3-key",
            "hello.zip",
        ]),
        "update-function-code from S3",
    );
    let missing = s.aws_v2(&[
        "lambda",
        "create-function",
        "--function-name",
        &unique("from-s3-missing"),
        "--runtime",
        "wasm",
        "--role",
        ROLE,
        "--code",
        &format!("S3Bucket={bucket},S3Key=nope.zip"),
    ]);
    let err = failed(&missing, "create-function from a missing key");
    assert!(
        err.contains("InvalidParameterValueException") && err.contains("NoSuchKey"),
        "{err}"
    );
    let metrics = s.metrics();
    assert!(
        metrics.contains(&format!(
            "updraft_s3_bucket_objects{{bucket=\"{bucket}\"}} 1"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "updraft_s3_bucket_requests_total{{bucket=\"{bucket}\"}}"
        )),
        "{metrics}"
    );
    assert!(metrics.trim_end().ends_with("# EOF"), "{metrics}");
}

/// A PUT answers only once its notification is durable in the function's
/// queue: the events of every acknowledged PUT reach the function even when
/// the server is killed (-9) right after the last answer.
#[test]
fn acknowledged_puts_keep_their_notifications_across_kill_9() {
    let mut s = Server::start(&[]);
    let bucket = unique("durable-events");
    let name = unique("recorder");
    s.deploy(&name, guests::CMD_RECORD, json!({}));
    let out = s.boto3_inline(
        r#"
import boto3, sys
endpoint, b, name = sys.argv[1], sys.argv[2], sys.argv[3]
kw = dict(endpoint_url=endpoint, region_name="us-east-1")
s3, lam = boto3.client("s3", **kw), boto3.client("lambda", **kw)
s3.create_bucket(Bucket=b)
fn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                   Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::" + b)
s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={
    "LambdaFunctionConfigurations": [{"LambdaFunctionArn": fn, "Events": ["s3:ObjectCreated:Put"]}]})
for i in range(25):
    s3.put_object(Bucket=b, Key="k%02d" % i, Body=b"x")
print("OK")
"#,
        &[&bucket, &name],
    );
    assert_eq!(ok(&out, "puts").trim(), "OK");
    s.kill_9();
    s.restart_after_exit();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let events = s.recorded_events(&name).join("\n");
        let missing: Vec<String> = (0..25)
            .map(|i| format!("\"k{i:02}\""))
            .filter(|k| !events.contains(k.as_str()))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "notifications lost after kill -9: {missing:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}
