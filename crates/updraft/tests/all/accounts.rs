//! Accounts own their resources: two accounts on one node each have their
//! own functions, queues, function URLs, logs and usage, under their own
//! ids, and see nothing of each other's.

use updraft_auth::Credentials;

use crate::support::*;

const OTHER: &str = "111111111111";
const OTHER_KEY: &str = "AKIAOTHERACCOUNT0002";
const OTHER_SECRET: &str = "other-account-secret-2";

/// A server with a second account; the bootstrap file (read at every
/// start) lives as long as the returned directory.
fn server_with_other_account(extra: &[&str]) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let bootstrap = dir.path().join("accounts.toml");
    std::fs::write(
        &bootstrap,
        format!(
            "[[accounts]]\nid = \"{OTHER}\"\n\
             root_access_key_id = \"{OTHER_KEY}\"\n\
             root_secret_access_key = \"{OTHER_SECRET}\"\n"
        ),
    )
    .unwrap();
    let mut args = vec!["--bootstrap", bootstrap.to_str().unwrap()];
    args.extend_from_slice(extra);
    let server = Server::start(&args);
    (server, dir)
}

/// A GET signed (service `lambda`) by the other account's root.
fn get_as_other(server: &Server, path_and_query: &str) -> Resp {
    let root = Credentials {
        access_key_id: OTHER_KEY.into(),
        secret_access_key: OTHER_SECRET.into(),
    };
    let now = std::time::SystemTime::now();
    server.signed_with("GET", path_and_query, &[], b"", &root, "lambda", now)
}

/// The same names in two accounts are two resources: each account lists,
/// reads, invokes and deletes only its own, ARNs and queue URLs carry the
/// owner's id, another account's function is refused by ARN, and each
/// account's function URL, logs and usage are its own. After a restart
/// the other account's resources are still there.
#[test]
fn two_accounts_share_a_node_and_nothing_else() {
    let (mut server, _bootstrap) = server_with_other_account(&[]);
    let name = unique("acct-fn");
    let queue = unique("acct-q");
    server.deploy(&name, guests::EXAMPLE_HELLO_HTTP, serde_json::json!({}));
    let zip = server.write_file("hello.zip", &guest_zip(guests::EXAMPLE_HELLO_HTTP));
    let script = r#"
import boto3, json, sys, time, urllib.request
from botocore.exceptions import ClientError
endpoint, name, queue, zip_path, other, key, secret = sys.argv[1:8]
home_arn = "arn:aws:lambda:us-east-1:000000000000:function:" + name
kw = dict(endpoint_url=endpoint, region_name="us-east-1")
okw = dict(kw, aws_access_key_id=key, aws_secret_access_key=secret)
mine, theirs = boto3.client("lambda", **kw), boto3.client("lambda", **okw)
my_sqs, their_sqs = boto3.client("sqs", **kw), boto3.client("sqs", **okw)
their_iam = boto3.client("iam", **okw)

def code(f):
    try:
        f()
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError("no error")

# Another account starts empty, whatever the node's account holds.
assert all(f["FunctionName"] != name for f in theirs.list_functions()["Functions"])
assert code(lambda: theirs.get_function(FunctionName=name)) == "ResourceNotFoundException"
assert code(lambda: theirs.invoke(FunctionName=home_arn, Payload=b"{}")) == "AccessDeniedException"

# Its role must be its own and trust Lambda.
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
         "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
role = their_iam.create_role(RoleName="runner", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
assert role == "arn:aws:iam::%s:role/runner" % other, role
with open(zip_path, "rb") as f:
    package = f.read()
# Passing another account's role is refused.
assert code(lambda: theirs.create_function(FunctionName=name, Runtime="wasm", Handler="x",
        Role="arn:aws:iam::000000000000:role/updraft", Code={"ZipFile": package})) == "AccessDeniedException"
created = theirs.create_function(FunctionName=name, Runtime="wasm", Handler="x", Role=role,
                                 Code={"ZipFile": package})
their_arn = "arn:aws:lambda:us-east-1:%s:function:%s" % (other, name)
assert created["FunctionArn"] == their_arn, created["FunctionArn"]
listed = [f["FunctionArn"] for f in theirs.list_functions()["Functions"]]
assert listed == [their_arn], listed
assert their_arn not in [f["FunctionArn"] for f in mine.list_functions()["Functions"]]
assert mine.get_function(FunctionName=name)["Configuration"]["FunctionArn"] == home_arn
assert code(lambda: mine.get_function(FunctionName=their_arn)) == "AccessDeniedException"

# Each invocation runs the caller's own function and is logged and
# metered in its account.
for _ in range(3):
    out = theirs.invoke(FunctionName=name, Payload=b"{}")
    assert out["StatusCode"] == 200 and "FunctionError" not in out, out
assert mine.invoke(FunctionName=name, Payload=b"{}")["StatusCode"] == 200

# A function URL of another account's function: /fn/ACCOUNT.NAME/.
url = theirs.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
assert "/fn/%s.%s/" % (other, name) in url, url
with urllib.request.urlopen(url) as r:
    assert r.status == 200, r.status
mine_url = mine.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
assert "/fn/%s/" % name in mine_url, mine_url

# Queues: the same name twice, each URL under its owner's id; a message
# sent in one account is not in the other's queue.
their_q = their_sqs.create_queue(QueueName=queue)["QueueUrl"]
my_q = my_sqs.create_queue(QueueName=queue)["QueueUrl"]
assert their_q.endswith("/%s/%s" % (other, queue)) and my_q.endswith("/000000000000/" + queue), (their_q, my_q)
their_sqs.send_message(QueueUrl=their_q, MessageBody="theirs")
assert "Messages" not in my_sqs.receive_message(QueueUrl=my_q, WaitTimeSeconds=0)
got = their_sqs.receive_message(QueueUrl=their_q, WaitTimeSeconds=1)["Messages"]
assert [m["Body"] for m in got] == ["theirs"], got
assert code(lambda: their_sqs.send_message(QueueUrl=my_q, MessageBody="x")) in ("AccessDenied", "AccessDeniedException")

# Deleting a function touches only the caller's.
theirs.delete_function(FunctionName=name)
assert code(lambda: theirs.get_function(FunctionName=name)) == "ResourceNotFoundException"
assert mine.get_function(FunctionName=name)["Configuration"]["FunctionArn"] == home_arn
theirs.create_function(FunctionName=name, Runtime="wasm", Handler="x", Role=role,
                       Code={"ZipFile": package})
assert theirs.invoke(FunctionName=name, Payload=b"{}")["StatusCode"] == 200
print("OK")
"#;
    let out = server.boto3_inline(
        script,
        &[
            &name,
            &queue,
            zip.to_str().unwrap(),
            OTHER,
            OTHER_KEY,
            OTHER_SECRET,
        ],
    );
    assert_eq!(ok(&out, "two accounts").trim(), "OK");

    // Usage is per account: the node's root reads either account's; the
    // other account's root reads its own and is refused the node's.
    let usage = |account: Option<&str>| {
        let mut args = vec!["usage", "--json", "--function", name.as_str()];
        if let Some(a) = account {
            args.extend(["--account", a]);
        }
        let out = server.updraft_cli(&args);
        ok_json(&out, "updraft usage")
    };
    let requests = |report: &serde_json::Value| report["totals"]["requests"].as_u64().unwrap();
    // The node's account invoked once; the other three times, once by
    // its URL and once after re-creating the function.
    assert_eq!(requests(&usage(None)), 1, "{}", usage(None));
    assert_eq!(requests(&usage(Some(OTHER))), 5, "{}", usage(Some(OTHER)));
    let own = get_as_other(&server, &format!("/updraft/v1/usage?function={name}"));
    assert_eq!(own.status, 200, "{}", own.text());
    assert_eq!(requests(&own.json()), 5, "{}", own.text());
    get_as_other(&server, "/updraft/v1/usage?account=000000000000")
        .assert_error(403, "AccessDeniedException");

    // The other account's resources outlive a restart, where they were.
    server.restart();
    assert!(server
        .data_dir()
        .join("accounts")
        .join(OTHER)
        .join("updraft.db")
        .is_file());
    let after = get_as_other(&server, &format!("/2015-03-31/functions/{name}"));
    assert_eq!(after.status, 200, "{}", after.text());
    assert_eq!(
        after.json()["Configuration"]["FunctionArn"],
        format!("arn:aws:lambda:us-east-1:{OTHER}:function:{name}")
    );
}

/// The concurrency limit is each account's own: with the node's account's
/// one slot held by a slow invocation, its next Invoke is throttled while
/// the other account's function still runs.
#[test]
fn each_account_has_its_own_concurrency_limit() {
    let (server, _bootstrap) = server_with_other_account(&["--max-concurrency", "1"]);
    let name = unique("acct-slow");
    server.deploy(
        &name,
        guests::HTTP_SLEEP,
        serde_json::json!({"Timeout": 10}),
    );
    let home_url = server.create_url(&name, "NONE", None);
    let zip = server.write_file("sleep.zip", &guest_zip(guests::HTTP_SLEEP));
    let script = r#"
import boto3, json, sys
endpoint, name, zip_path, key, secret = sys.argv[1:6]
kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
          aws_secret_access_key=secret)
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
         "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
role = boto3.client("iam", **kw).create_role(
    RoleName="runner", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
lam = boto3.client("lambda", **kw)
with open(zip_path, "rb") as f:
    lam.create_function(FunctionName=name, Runtime="wasm", Handler="x", Role=role,
                        Code={"ZipFile": f.read()})
print(lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"])
"#;
    let out = server.boto3_inline(
        script,
        &[&name, zip.to_str().unwrap(), OTHER_KEY, OTHER_SECRET],
    );
    let other_url = ok(&out, "the other account's function").trim().to_string();

    // Hold the node's account's only slot.
    let held = std::thread::spawn({
        let url = format!("{home_url}?ms=5000");
        move || http().get(&url)
    });
    wait_running(&server, &name);
    let throttled = server.invoke(&name, b"{}");
    throttled.assert_error(429, "TooManyRequestsException");
    assert_eq!(
        throttled.json()["Reason"],
        "ConcurrentInvocationLimitExceeded"
    );
    let other = http().get(&format!("{other_url}?ms=10"));
    assert_eq!(other.status, 200, "{}", other.text());
    assert_eq!(held.join().unwrap().status, 200);
}
