//! Third-party suites against a live server: moto's IAM policy-validation,
//! S3 and DynamoDB tests in server mode (`scripts/conformance/moto-iam`,
//! `moto-suite`) and the MinIO Python client's functional tests
//! (`scripts/conformance/minio-functional`), installed from the sdists by
//! `scripts/install-test-deps`; accepted failures and the pass counts in
//! `conformance/`.

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

/// Runs a conformance runner from `scripts/conformance/` against a server
/// started with `conformance/bootstrap.toml` and returns its summary line
/// (the one starting with `summary_prefix`), failing when the runner does
/// (a failure not in the suite's accepted list, or a listed one passing).
fn run_conformance_script(script: &str, args: &[&str], summary_prefix: &str) -> String {
    let bootstrap = repo().join("conformance/bootstrap.toml");
    let server = Server::start(&["--bootstrap", bootstrap.to_str().unwrap()]);
    let mut cmd = Command::new(repo().join("scripts/conformance").join(script));
    cmd.args(args).arg(&server.url);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running scripts/conformance/{script}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let summary = stdout
        .lines()
        .find(|l| l.starts_with(summary_prefix))
        .unwrap_or_else(|| panic!("no summary line:\n{stdout}\n{stderr}"))
        .to_string();
    note(&summary);
    summary
}

/// The pass count of a `N passed, M failed` summary.
fn passed_count(summary: &str) -> usize {
    summary
        .split_once(": ")
        .and_then(|(_, rest)| rest.split_once(" passed"))
        .and_then(|(n, _)| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pass count in `{summary}`"))
}

/// The MinIO Python client's functional tests (full mode) through the S3
/// API: every test passes or is listed in
/// `conformance/minio-functional.accepted` with its reason.
#[test]
fn minio_functional_tests() {
    let summary = run_conformance_script("minio-functional", &[], "minio functional:");
    assert!(passed_count(&summary) >= 46, "{summary}");
}

/// moto's S3 tests in server mode (the files `scripts/conformance/moto-suite`
/// names): every failure is listed in `conformance/moto-s3.accepted`.
#[test]
fn moto_s3_in_server_mode() {
    let summary = run_conformance_script("moto-suite", &["s3"], "moto s3:");
    // conformance/README.md's count: fewer passes with no unlisted failure
    // means tests stopped running (skipped or gone).
    assert!(passed_count(&summary) >= 170, "{summary}");
}

/// moto's DynamoDB tests in server mode: every failure is listed in
/// `conformance/moto-dynamodb.accepted`.
#[test]
fn moto_dynamodb_in_server_mode() {
    let summary = run_conformance_script("moto-suite", &["dynamodb"], "moto dynamodb:");
    assert!(passed_count(&summary) >= 566, "{summary}");
}

/// moto's CloudWatch Logs tests in server mode: every failure is listed in
/// `conformance/moto-logs.accepted`.
#[test]
fn moto_logs_in_server_mode() {
    let summary = run_conformance_script("moto-suite", &["logs"], "moto logs:");
    assert!(passed_count(&summary) >= 41, "{summary}");
}
