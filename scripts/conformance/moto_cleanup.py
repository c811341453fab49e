"""pytest plugin for scripts/conformance/moto-suite: moto's S3 and DynamoDB
tests start from an empty account on a server that is not moto.

In server mode moto resets its server (POST /moto-api/reset) whenever the
outermost mock_aws starts and stops: before and after each decorated test,
and around a whole class or module whose fixture holds one mock_aws open
(their tests share what the fixture made). This plugin resets at each of
those starts (not at the stops: the next start does it) through the APIs
themselves: with MOTO_SUITE=s3 it
deletes every bucket (object versions, delete markers, multipart uploads,
then the bucket), with MOTO_SUITE=dynamodb every table in the regions the
tests use. Cleanup errors are warnings, never failures: the test that follows
shows what was left.

moto's DynamoDB tests also have a fixture (aws_credentials) that sets
AWS_SESSION_TOKEN=testing in the environment, a token no real server issued;
the plugin removes it again right after that fixture, so the clients sign
with the account's key alone, as they would on AWS with a long-term key.

MOTO_SUITE_DESELECT holds exact test ids (one a line) to leave out; what
they are and why is in moto-suite.

Every client waits READ_TIMEOUT seconds for an answer instead of botocore's
60, and moto-suite sets AWS_MAX_ATTEMPTS=1: a request the server never
answers fails its test in seconds, visibly, rather than being retried on a
new connection after a minute (which would pass, slowly, and hide it).
"""

import functools
import os
import warnings

import boto3
import botocore.config
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.core.models import ServerModeMockAWS

READ_TIMEOUT = 30
# Clients the tests make take their defaults from here (moto's server mode
# passes a Config of its own, which does too).
botocore.config.Config.OPTION_DEFAULTS["read_timeout"] = READ_TIMEOUT

# Every region moto's S3 and DynamoDB tests name.
REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "ap-northeast-1",
    "ap-northeast-3",
)


@functools.cache
def _client(service, region="us-east-1"):
    session = boto3.session.Session(
        # moto's key pair (conformance/bootstrap.toml), not the environment,
        # which some tests' fixtures change.
        aws_access_key_id="FOOBARKEY",
        aws_secret_access_key="FOOBARSECRET",
        region_name=region,
    )
    return session.client(
        service,
        endpoint_url=os.environ["TEST_SERVER_MODE_ENDPOINT"],
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


def empty_bucket(s3, bucket):
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            try:
                s3.delete_object(
                    Bucket=bucket,
                    Key=entry["Key"],
                    VersionId=entry.get("VersionId") or "null",
                    BypassGovernanceRetention=True,
                )
            except ClientError as err:
                warnings.warn(f"cleanup: {bucket}/{entry['Key']}: {err}")
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    for upload in uploads:
        s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])


def delete_buckets():
    s3 = _client("s3")
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        try:
            # A policy a test left may deny what follows.
            s3.delete_bucket_policy(Bucket=name)
            empty_bucket(s3, name)
            s3.delete_bucket(Bucket=name)
        except ClientError as err:
            warnings.warn(f"cleanup: bucket {name}: {err}")


def delete_tables():
    for region in REGIONS:
        ddb = _client("dynamodb", region)
        for page in ddb.get_paginator("list_tables").paginate():
            for table in page.get("TableNames", []):
                try:
                    ddb.delete_table(TableName=table)
                except ClientError as err:
                    if "deletionprotection" not in str(err).lower():
                        warnings.warn(f"cleanup: table {table} in {region}: {err}")
                        continue
                    ddb.update_table(TableName=table, DeletionProtectionEnabled=False)
                    ddb.delete_table(TableName=table)


def delete_log_groups():
    logs = _client("logs")
    for page in logs.get_paginator("describe_log_groups").paginate():
        for group in page.get("logGroups", []):
            try:
                logs.delete_log_group(logGroupName=group["logGroupName"])
            except ClientError as err:
                warnings.warn(f"cleanup: log group {group['logGroupName']}: {err}")


CLEANUPS = {"s3": delete_buckets, "dynamodb": delete_tables, "logs": delete_log_groups}


def _reset(_mock):
    # Never raises: moto calls this half-way through starting and stopping
    # a mock, and an exception there would leave every later test talking
    # to AWS itself. (A test frozen in time by freezegun signs the cleanup
    # too far from the server's clock, for one.)
    try:
        CLEANUPS[os.environ["MOTO_SUITE"]]()
    except Exception as err:  # noqa: BLE001 (reported, see above)
        warnings.warn(f"cleanup failed: {err}")


# Replaces moto's POST /moto-api/reset (moto 5.2.1, moto/core/models.py).
ServerModeMockAWS.reset = _reset
_disable_patching = ServerModeMockAWS._disable_patching


def _disable_patching_keeping_data(mock, remove_data):
    # Empties the account only when a mock starts: the next start cleans
    # up anyway, and each cleanup costs a few dozen requests.
    del remove_data
    _disable_patching(mock, False)


ServerModeMockAWS._disable_patching = _disable_patching_keeping_data


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    yield
    if fixturedef.argname == "aws_credentials":
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.pop("AWS_SECURITY_TOKEN", None)


def pytest_collection_modifyitems(config, items):
    wanted = set(filter(None, os.environ.get("MOTO_SUITE_DESELECT", "").splitlines()))
    if not wanted:
        return
    kept = [item for item in items if item.nodeid not in wanted]
    dropped = [item for item in items if item.nodeid in wanted]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
