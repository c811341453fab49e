//! Third-party suites against a live server: moto's IAM policy-validation
//! tests in server mode (`scripts/conformance/moto-iam`, installed from
//! moto's sdist by `scripts/install-test-deps`; accepted failures and the
//! pass count in `conformance/`).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::*;

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Every invalid document moto's tests send is refused with AWS's message
/// and every valid one accepted, through the account moto signs as (from
/// `conformance/bootstrap.toml`).
#[test]
fn moto_iam_policy_validation_in_server_mode() {
    let bootstrap = repo().join("conformance/bootstrap.toml");
    let server = Server::start(&["--bootstrap", bootstrap.to_str().unwrap()]);
    let out = Command::new(repo().join("scripts/conformance/moto-iam"))
        .arg(&server.url)
        .stdin(Stdio::null())
        .output()
        .expect("running scripts/conformance/moto-iam");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "moto-iam failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("moto test_iam_policies:"))
        .unwrap_or_else(|| panic!("no summary line:\n{stdout}\n{stderr}"));
    note(summary);
    assert!(summary.contains(" 0 failed"), "{summary}");
}

/// Another account's root is refused a function of this account until the
/// function's policy (AddPermission) names that account; removing the
/// statement refuses it again.
#[test]
fn cross_account_invoke_through_add_permission() {
    let dir = tempfile::tempdir().unwrap();
    let bootstrap = dir.path().join("accounts.toml");
    std::fs::write(
        &bootstrap,
        "[[accounts]]\nid = \"111111111111\"\n\
         root_access_key_id = \"AKIAOTHERACCOUNT0001\"\n\
         root_secret_access_key = \"other-account-secret\"\n",
    )
    .unwrap();
    let server = Server::start(&["--bootstrap", bootstrap.to_str().unwrap()]);
    let name = unique("xacct");
    server.deploy(&name, guests::EXAMPLE_HELLO_HTTP, serde_json::json!({}));
    let out = server.boto3_inline(
        r#"
import boto3, json, sys
from botocore.exceptions import ClientError
endpoint, name = sys.argv[1], sys.argv[2]
arn = "arn:aws:lambda:us-east-1:000000000000:function:" + name
mine = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1")
other = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1",
                     aws_access_key_id="AKIAOTHERACCOUNT0001",
                     aws_secret_access_key="other-account-secret")
sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="AKIAOTHERACCOUNT0001",
                   aws_secret_access_key="other-account-secret")
assert sts.get_caller_identity()["Account"] == "111111111111"

def refused():
    try:
        other.invoke(FunctionName=arn, Payload=b"{}")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "AccessDeniedException", e.response
        return e.response["Error"]["Message"]
    raise AssertionError("another account invoked without a policy")

message = refused()
assert "arn:aws:iam::111111111111:root" in message and "resource-based policy" in message, message
mine.add_permission(FunctionName=name, StatementId="other-account",
                    Action="lambda:InvokeFunction", Principal="111111111111")
policy = json.loads(mine.get_policy(FunctionName=name)["Policy"])
assert policy["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}, policy
assert other.invoke(FunctionName=arn, Payload=b"{}")["StatusCode"] == 200
# The grant is for invoking, nothing else.
try:
    other.get_function(FunctionName=arn)
    raise AssertionError("the grant allowed more than invoking")
except ClientError as e:
    assert e.response["Error"]["Code"] == "AccessDeniedException", e.response
mine.remove_permission(FunctionName=name, StatementId="other-account")
refused()
print("OK")
"#,
        &[&name],
    );
    assert_eq!(ok(&out, "cross-account invoke").trim(), "OK");
}
