"""Shared by the boto3 scripts: a Lambda client pointed at the server.

Every script takes the endpoint URL as its first argument; credentials come
from AWS_SHARED_CREDENTIALS_FILE (the server's credentials file).
"""

import boto3
import botocore.config


def lambda_client(endpoint):
    session = boto3.session.Session()
    return session.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def logs_client(endpoint):
    session = boto3.session.Session()
    return session.client("logs", endpoint_url=endpoint, region_name="us-east-1")


def expect_error(exception_type, fn, *args, **kwargs):
    """Calls fn and asserts it raises the typed exception; returns it."""
    try:
        fn(*args, **kwargs)
    except exception_type as e:
        return e
    raise AssertionError(f"expected {exception_type.__name__}")
