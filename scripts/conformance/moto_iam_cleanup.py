"""pytest plugin for scripts/conformance/moto-iam: the account's state around
each of moto's IAM policy tests.

moto's server mode resets a moto server between tests (POST /moto-api/reset).
A server that is not moto has no such call, so moto-iam turns it off and this
plugin deletes, through the IAM API itself, the one policy the tests create
(TestCreatePolicy), before and after every test. Each test then starts from
the same state on any server.
"""

import functools
import os

import boto3
import pytest
from botocore.exceptions import ClientError

POLICY_NAME = "TestCreatePolicy"


@functools.cache
def _iam():
    session = boto3.session.Session(
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    return session.client("iam", endpoint_url=os.environ["TEST_SERVER_MODE_ENDPOINT"])


def _error_code(err):
    return err.response.get("Error", {}).get("Code")


def delete_test_policy():
    iam = _iam()
    account = os.environ.get("MOTO_IAM_ACCOUNT_ID", "123456789012")
    arn = f"arn:aws:iam::{account}:policy/{POLICY_NAME}"
    try:
        iam.delete_policy(PolicyArn=arn)
    except ClientError as err:
        if _error_code(err) == "NoSuchEntity":
            return
        if _error_code(err) != "DeleteConflict":
            raise
        versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
        for version in versions:
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
        iam.delete_policy(PolicyArn=arn)


@pytest.fixture(autouse=True)
def clean_iam_account():
    delete_test_policy()
    yield
    delete_test_policy()
