//! Identity and access end to end: users, policies, role sessions and the
//! refusals every service words its own way, with boto3 and both aws CLIs.

use serde_json::json;

use crate::support::*;

/// A user with a narrow policy, a role session, explicit denies and
/// revoked keys, across Lambda, SQS, EventBridge, Scheduler, Logs and IAM
/// (tests/py/iam_access.py).
#[test]
fn users_policies_and_sessions_across_services_with_boto3() {
    let server = Server::start(&[]);
    let allowed = unique("iam-allowed");
    let other = unique("iam-other");
    server.deploy(&allowed, guests::EXAMPLE_HELLO_HTTP, json!({}));
    server.deploy(&other, guests::EXAMPLE_HELLO_HTTP, json!({}));
    let out = server.boto3("iam_access.py", &[&allowed, &other]);
    assert_eq!(ok(&out, "tests/py/iam_access.py").trim(), "OK");
}

/// The aws CLI v1 and v2 drive IAM and STS: a user with a key, the key's
/// caller identity, and a malformed policy refused with AWS's message.
#[test]
fn aws_cli_v1_and_v2_manage_users_and_see_who_they_are() {
    let server = Server::start(&[]);
    for (cli, user) in [("v1", "cli-user-1"), ("v2", "cli-user-2")] {
        let aws = |args: &[&str]| match cli {
            "v1" => server.aws_v1(args),
            _ => server.aws_v2(args),
        };
        let created = ok_json(
            &aws(&["iam", "create-user", "--user-name", user]),
            "create-user",
        );
        assert_eq!(created["User"]["UserName"], user);
        assert_eq!(
            created["User"]["Arn"],
            format!("arn:aws:iam::000000000000:user/{user}")
        );
        let key = ok_json(
            &aws(&["iam", "create-access-key", "--user-name", user]),
            "create-access-key",
        );
        let key_id = key["AccessKey"]["AccessKeyId"]
            .as_str()
            .unwrap()
            .to_string();
        let secret = key["AccessKey"]["SecretAccessKey"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(key_id.starts_with("AKIA"), "{key}");
        let listed = ok_json(
            &aws(&["iam", "list-access-keys", "--user-name", user]),
            "list-access-keys",
        );
        assert_eq!(
            listed["AccessKeyMetadata"][0]["AccessKeyId"],
            key_id.as_str()
        );
        assert!(listed["AccessKeyMetadata"][0]
            .get("SecretAccessKey")
            .is_none());

        let bad = failed(
            &aws(&[
                "iam",
                "create-policy",
                "--policy-name",
                "bad",
                "--policy-document",
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"*"}}"#,
            ]),
            "create-policy with no Action",
        );
        assert!(bad.contains("MalformedPolicyDocument"), "{bad}");
        assert!(
            bad.contains("Policy statement must contain actions."),
            "{bad}"
        );

        // The user's own identity, through a profile of its own.
        let mut file = std::fs::read_to_string(&server.credentials_path).unwrap();
        file.push_str(&format!(
            "\n[{user}]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
        ));
        std::fs::write(&server.credentials_path, file).unwrap();
        let me = ok_json(
            &aws(&["--profile", user, "sts", "get-caller-identity"]),
            "get-caller-identity",
        );
        assert_eq!(me["Arn"], format!("arn:aws:iam::000000000000:user/{user}"));
        assert_eq!(me["Account"], "000000000000");
        let denied = failed(
            &aws(&["--profile", user, "lambda", "list-functions"]),
            "list-functions without a policy",
        );
        assert!(denied.contains("AccessDeniedException"), "{denied}");
        assert!(denied.contains("lambda:ListFunctions"), "{denied}");
    }
}

/// CreateFunction needs a role that exists and trusts Lambda.
#[test]
fn a_function_role_must_exist_and_trust_lambda() {
    let server = Server::start(&[]);
    let zip = guest_zip(guests::EXAMPLE_HELLO_HTTP);
    let r = server.create_function_zip(
        &unique("norole"),
        &zip,
        json!({"Role": "arn:aws:iam::000000000000:role/does-not-exist"}),
    );
    let message = r.assert_error(400, "InvalidParameterValueException");
    assert_eq!(
        message,
        "The role defined for the function cannot be assumed by Lambda."
    );

    let out = server.boto3_inline(
        r#"
import boto3, json, sys
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1")
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
         "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
iam.create_role(RoleName="not-lambda", AssumeRolePolicyDocument=json.dumps(trust))
trust["Statement"][0]["Principal"]["Service"] = "lambda.amazonaws.com"
iam.create_role(RoleName="for-lambda", AssumeRolePolicyDocument=json.dumps(trust))
print("OK")
"#,
        &[],
    );
    assert_eq!(ok(&out, "create roles").trim(), "OK");
    let r = server.create_function_zip(
        &unique("notlambda"),
        &zip,
        json!({"Role": "arn:aws:iam::000000000000:role/not-lambda"}),
    );
    r.assert_error(400, "InvalidParameterValueException");
    let r = server.create_function_zip(
        &unique("forlambda"),
        &zip,
        json!({"Role": "arn:aws:iam::000000000000:role/for-lambda"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
}

/// A Python handler that sends to a queue with the boto3 the runtime
/// provides, with nothing but its environment: its role allows
/// `sqs:SendMessage` on one queue, so that send succeeds and a send to
/// another queue is refused.
#[test]
fn a_function_calls_the_platform_with_its_execution_role() {
    let server = Server::start(&[]);
    let (allowed_url, _) = server.create_queue(&unique("role-allowed"), json!({}));
    let (other_url, _) = server.create_queue(&unique("role-other"), json!({}));
    let allowed_name = allowed_url.rsplit('/').next().unwrap().to_string();
    let out = server.boto3_inline(
        r#"
import boto3, json, sys
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1")
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
         "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
iam.create_role(RoleName="sender", AssumeRolePolicyDocument=json.dumps(trust))
iam.put_role_policy(RoleName="sender", PolicyName="send", PolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage",
    "Resource": "arn:aws:sqs:us-east-1:000000000000:" + sys.argv[2]}]}))
print("OK")
"#,
        &[&allowed_name],
    );
    assert_eq!(ok(&out, "create the role").trim(), "OK");

    let handler = br#"
import os
import boto3

def handler(event, context):
    sqs = boto3.client("sqs")
    try:
        sqs.send_message(QueueUrl=event["queue"], MessageBody="from the function")
        return {"sent": True, "endpoint": os.environ["AWS_ENDPOINT_URL"]}
    except Exception as e:
        return {"sent": False, "error": str(e)}
"#;
    let name = unique("role-fn");
    let zip = guests::zip_files(&[("app.py", handler)]);
    let r = server.create_function_zip(
        &name,
        &zip,
        json!({"Runtime": "python3.12", "Handler": "app.handler", "Timeout": 30,
               "Role": "arn:aws:iam::000000000000:role/sender"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());

    let sent = server.invoke(&name, json!({"queue": allowed_url}).to_string().as_bytes());
    assert_eq!(sent.status, 200, "{}", sent.text());
    let v = sent.json();
    assert_eq!(v["sent"], true, "{v}");
    assert_eq!(v["endpoint"], "http://127.0.0.1:9000", "{v}");
    let got = server.json_call(
        "sqs",
        "AmazonSQS.ReceiveMessage",
        json!({"QueueUrl": allowed_url, "WaitTimeSeconds": 1}),
    );
    assert_eq!(got.json()["Messages"][0]["Body"], "from the function");

    let refused = server.invoke(&name, json!({"queue": other_url}).to_string().as_bytes());
    let v = refused.json();
    assert_eq!(v["sent"], false, "{v}");
    let error = v["error"].as_str().unwrap_or_default();
    assert!(error.contains("AccessDenied"), "{error}");
    assert!(
        error.contains("assumed-role/sender/") && error.contains("sqs:SendMessage"),
        "{error}"
    );
}

/// The updraft CLI signs with temporary credentials from the environment,
/// session token included.
#[test]
fn the_updraft_cli_works_with_a_role_session() {
    let server = Server::start(&[]);
    let out = server.boto3_inline(
        r#"
import boto3, json, sys
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1")
sts = boto3.client("sts", endpoint_url=sys.argv[1], region_name="us-east-1")
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "sts:AssumeRole"}]}
iam.create_role(RoleName="lister", AssumeRolePolicyDocument=json.dumps(trust))
iam.put_role_policy(RoleName="lister", PolicyName="list", PolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*"}]}))
c = sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/lister", RoleSessionName="cli")["Credentials"]
print(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
"#,
        &[],
    );
    let text = ok(&out, "assume a role");
    let parts: Vec<&str> = text.split_whitespace().collect();
    let cli = |token: Option<&str>, args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_updraft"));
        cmd.arg("--endpoint")
            .arg(&server.url)
            .args(args)
            .env("AWS_ACCESS_KEY_ID", parts[0])
            .env("AWS_SECRET_ACCESS_KEY", parts[1])
            .env_remove("AWS_SESSION_TOKEN")
            .stdin(std::process::Stdio::null());
        if let Some(t) = token {
            cmd.env("AWS_SESSION_TOKEN", t);
        }
        cmd.output().expect("running the updraft CLI")
    };
    let listed = cli(Some(parts[2]), &["ls", "--json"]);
    ok(&listed, "updraft ls with a session");
    let whoami = cli(Some(parts[2]), &["iam", "whoami", "--json"]);
    let who = ok(&whoami, "updraft iam whoami with a session");
    assert!(who.contains("assumed-role/lister/cli"), "{who}");
    let refused = cli(Some(parts[2]), &["rm", "anything"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("AccessDenied"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let without_token = cli(None, &["ls"]);
    assert!(
        !without_token.status.success(),
        "a session key worked without its token"
    );
}

/// libfaketime (Debian's `faketime`), which moves a process's wall clock.
const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

/// Temporary credentials are refused once their session has expired,
/// with AWS's `ExpiredToken`: the server's clock (and the client's, so
/// its signature is not too far from the server's time) is moved past the
/// session's end with libfaketime.
#[test]
fn an_expired_session_is_refused_with_expired_token() {
    assert!(
        std::path::Path::new(LIBFAKETIME).exists(),
        "{LIBFAKETIME} is missing: scripts/install-test-deps installs Debian's faketime"
    );
    let dir = tempfile::tempdir().unwrap();
    let offset = dir.path().join("faketime");
    std::fs::write(&offset, "+0\n").unwrap();
    let offset_path = offset.to_str().unwrap().to_string();
    let server = Server::start_with_env(
        &[],
        &[
            ("LD_PRELOAD", LIBFAKETIME),
            ("FAKETIME_TIMESTAMP_FILE", &offset_path),
            ("FAKETIME_NO_CACHE", "1"),
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
        ],
    );
    let out = server.boto3_inline(
        r#"
import boto3, json, sys
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1")
sts = boto3.client("sts", endpoint_url=sys.argv[1], region_name="us-east-1")
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "sts:AssumeRole"}]}
iam.create_role(RoleName="short", AssumeRolePolicyDocument=json.dumps(trust))
iam.put_role_policy(RoleName="short", PolicyName="list", PolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*"}]}))
c = sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/short", RoleSessionName="brief",
                    DurationSeconds=900)["Credentials"]
print(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
"#,
        &[],
    );
    let text = ok(&out, "assume a role for 15 minutes");
    let creds: Vec<&str> = text.split_whitespace().collect();
    let call = |clock: &str| {
        let script = r#"
import sys, boto3
from botocore.exceptions import ClientError
endpoint, key, secret, token = sys.argv[1:5]
session = dict(aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token)
sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", **session)
lam = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", **session)
for call in (sts.get_caller_identity, lam.list_functions):
    try:
        call()
        print("ok")
    except ClientError as e:
        print(e.response["Error"]["Code"], "|", e.response["Error"]["Message"])
"#;
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&server.url)
            .args(&creds)
            .env("LD_PRELOAD", LIBFAKETIME)
            .env("FAKETIME", clock)
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env_remove("AWS_SHARED_CREDENTIALS_FILE")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("running python3");
        ok(&out, "calls with the session")
    };
    // The session works while it lasts...
    assert_eq!(call("+0").trim(), "ok\nok");
    // ... and not an hour later, on the server's clock and the client's.
    std::fs::write(&offset, "+1h\n").unwrap();
    let later = call("+1h");
    let lines: Vec<&str> = later.lines().collect();
    assert_eq!(
        lines,
        [
            "ExpiredToken | The security token included in the request is expired",
            "ExpiredTokenException | The security token included in the request is expired",
        ],
        "{later}"
    );
    // The root key, which never expires, still works on the moved clock.
    std::fs::write(&offset, "+1h\n").unwrap();
    let root = server.credentials();
    let still = std::process::Command::new("python3")
        .arg("-c")
        .arg("import sys, boto3; print(boto3.client('sts', endpoint_url=sys.argv[1], region_name='us-east-1').get_caller_identity()['Arn'])")
        .arg(&server.url)
        .env("LD_PRELOAD", LIBFAKETIME)
        .env("FAKETIME", "+1h")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env("AWS_ACCESS_KEY_ID", &root.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &root.secret_access_key)
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running python3");
    assert_eq!(
        ok(&still, "root on the moved clock").trim(),
        "arn:aws:iam::000000000000:root"
    );
}

/// `aws:ResourceTag/KEY` reads the queue's tags at the time of the call:
/// a user allowed to send only to queues tagged `team=blue` is refused a
/// `red` queue until it is tagged `blue`, and refused again once the tag
/// is gone.
#[test]
fn resource_tag_conditions_read_the_queues_current_tags() {
    let server = Server::start(&[]);
    let out = server.boto3_inline(
        r#"
import boto3, json, sys
from botocore.exceptions import ClientError
endpoint = sys.argv[1]
kw = dict(endpoint_url=endpoint, region_name="us-east-1")
iam, sqs = boto3.client("iam", **kw), boto3.client("sqs", **kw)
iam.create_user(UserName="tagged-sender")
iam.put_user_policy(UserName="tagged-sender", PolicyName="blue", PolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage",
    "Resource": "*", "Condition": {"StringEquals": {"aws:ResourceTag/team": "blue"}}}]}))
key = iam.create_access_key(UserName="tagged-sender")["AccessKey"]
user = boto3.client("sqs", aws_access_key_id=key["AccessKeyId"],
                    aws_secret_access_key=key["SecretAccessKey"], **kw)
blue = sqs.create_queue(QueueName="blue-jobs", tags={"team": "blue"})["QueueUrl"]
red = sqs.create_queue(QueueName="red-jobs", tags={"team": "red"})["QueueUrl"]

def sends(url):
    try:
        user.send_message(QueueUrl=url, MessageBody="x")
        return True
    except ClientError as e:
        assert e.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException"), e.response
        assert "sqs:SendMessage" in e.response["Error"]["Message"], e.response
        return False

for _ in range(2):
    assert sends(blue) and not sends(red)
sqs.tag_queue(QueueUrl=red, Tags={"team": "blue"})
assert sends(red)
sqs.untag_queue(QueueUrl=red, TagKeys=["team"])
assert not sends(red) and sends(blue)
print("OK")
"#,
        &[],
    );
    assert_eq!(ok(&out, "resource tags").trim(), "OK");
}
