"""Shared by the sqs_*.py boto3 scripts: an SQS client pointed at the
server, and the MD5s SQS answers, computed independently of the server.

Every script takes the endpoint URL as its first argument; credentials come
from AWS_SHARED_CREDENTIALS_FILE (the server's credentials file).

Run as a program it prints an MD5 for the end-to-end tests of the CLIs:
`sqs_common.py body TEXT` (MD5OfMessageBody) or `sqs_common.py attributes
JSON` (MD5OfMessageAttributes of a JSON-protocol `MessageAttributes` map).
"""

import base64
import hashlib
import json
import struct
import sys
import time


def sqs_client(endpoint):
    import boto3
    import botocore.config

    return boto3.session.Session().client(
        "sqs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=botocore.config.Config(
            retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60
        ),
    )


def md5_of_body(body):
    return hashlib.md5(body.encode("utf-8")).hexdigest()


def md5_of_attributes(attributes):
    """SQS's MD5OfMessageAttributes, as the AWS SDKs verify it: attributes
    sorted by name; each as length-prefixed name, data type, a transport
    byte (1 string, 2 binary) and length-prefixed value. Binary values are
    bytes (boto3) or base64 text (the JSON wire)."""

    def field(md5, data):
        md5.update(struct.pack(">I", len(data)))
        md5.update(data)

    md5 = hashlib.md5()
    for name in sorted(attributes):
        value = attributes[name]
        field(md5, name.encode("utf-8"))
        field(md5, value["DataType"].encode("utf-8"))
        if "BinaryValue" in value:
            data = value["BinaryValue"]
            if isinstance(data, str):
                data = base64.b64decode(data)
            md5.update(b"\x02")
            field(md5, data)
        else:
            md5.update(b"\x01")
            field(md5, value["StringValue"].encode("utf-8"))
    return md5.hexdigest()


def expect_code(code, fn, *args, **kwargs):
    """Calls fn and asserts it fails with the error code `code` (what the
    CLI prints); returns the exception."""
    from botocore.exceptions import ClientError

    try:
        fn(*args, **kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {e}"
        return e
    raise AssertionError(f"expected {code}")


def depth(sqs, url):
    """Visible + in flight + delayed messages."""
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return sum(
        int(a[k])
        for k in (
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        )
    )


def eventually(what, fn, bound=15.0):
    """Calls fn every 100 ms until it returns a true value, at most `bound`
    seconds; returns that value."""
    deadline = time.monotonic() + bound
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {bound}s waiting for {what}")
        time.sleep(0.1)


if __name__ == "__main__":
    kind, value = sys.argv[1:3]
    if kind == "body":
        print(md5_of_body(value))
    else:
        print(md5_of_attributes(json.loads(value)))
