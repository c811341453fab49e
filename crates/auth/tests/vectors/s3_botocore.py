#!/usr/bin/env python3
"""Records S3 requests as botocore signs them, for tests/s3_botocore.rs.

Run from this directory: `python3 s3_botocore.py > s3_botocore.json`.
Nothing is sent: a `before-send` hook captures each prepared request and
answers it with an empty 200. Presigned URLs and POST forms come from
`generate_presigned_url` / `generate_presigned_post`.
"""

import base64
import io
import json
import sys
import urllib.parse

import botocore
import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.config import Config

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLE//token+with/slashes="

KEYS = [
    "plain.txt",
    "a b+c/\u00fc%2F~x",
    "photos/2026/x (1).jpg",
    "!$&'()*+,;=:@",
    "a//b/../c/./d",
    "\u65e5\u672c\u8a9e/\u0444\u0430\u0439\u043b.txt",
]


class _Raw:
    def stream(self):
        return iter([b""])


def client(endpoint, token=None, style="path"):
    session = botocore.session.get_session()
    c = session.create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        aws_session_token=token,
        config=Config(signature_version="s3v4", s3={"addressing_style": style}),
    )
    captured = []

    def before_send(request, **kwargs):
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode()
        captured.append((request.method, request.url, request.headers, body or b""))
        return AWSResponse(request.url, 200, {}, _Raw())

    c.meta.events.register("before-send.s3", before_send)
    return c, captured


def header_text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def record(name, method, url, headers, body, expect, token=None):
    parts = urllib.parse.urlsplit(url)
    return {
        "name": name,
        "method": method,
        "authority": parts.netloc,
        "path": parts.path,
        "query": parts.query,
        "headers": [[k, header_text(v)] for k, v in headers.items()],
        "body_b64": base64.b64encode(body).decode(),
        "token": token,
        "expect": expect,
    }


def amz_date_of(headers, query):
    for k, v in headers.items():
        if k.lower() == "x-amz-date":
            return header_text(v)
    return urllib.parse.parse_qs(query)["X-Amz-Date"][0]


def main():
    cases = []

    # Plain HTTP: botocore signs the body's hash and sends a CRC32 header.
    c, cap = client("http://127.0.0.1:9000")
    for key in KEYS:
        c.put_object(Bucket="b", Key=key, Body=io.BytesIO(b"hello world"))
    c.get_object(Bucket="b", Key=KEYS[1], Range="bytes=0-3")
    c.list_objects_v2(Bucket="b", Prefix="a b+c/\u00fc", Delimiter="/", StartAfter="x=y&z")
    c.delete_objects(Bucket="b", Delete={"Objects": [{"Key": k} for k in KEYS[:2]]})
    for i, (m, u, h, b) in enumerate(cap):
        cases.append(record(f"http-{i}", m, u, h, b, "signed"))

    # HTTPS: uploads stream as aws-chunked with a trailing checksum.
    c, cap = client("https://127.0.0.1:9000")
    c.put_object(Bucket="b", Key=KEYS[1], Body=io.BytesIO(b"hello world"))
    c.put_object(
        Bucket="b", Key="big.bin", Body=io.BytesIO(bytes(range(256)) * 80),
        ChecksumAlgorithm="SHA256",
    )
    c.upload_part(Bucket="b", Key="k", UploadId="u1", PartNumber=3, Body=io.BytesIO(b"part" * 100))
    for i, (m, u, h, b) in enumerate(cap):
        cases.append(record(f"https-{i}", m, u, h, b, "unsigned-trailer"))

    # Virtual-hosted addressing with a session token.
    c, cap = client("http://localhost:9000", token=TOKEN, style="virtual")
    c.put_object(Bucket="b", Key=KEYS[2], Body=io.BytesIO(b"hello"))
    for i, (m, u, h, b) in enumerate(cap):
        cases.append(record(f"virtual-{i}", m, u, h, b, "signed", token=TOKEN))

    # Presigned URLs, GET and PUT, with and without a session token.
    for token in (None, TOKEN):
        c, _ = client("http://127.0.0.1:9000", token=token)
        for key in KEYS:
            for method, op in (("GET", "get_object"), ("PUT", "put_object")):
                url = c.generate_presigned_url(
                    op, Params={"Bucket": "b", "Key": key}, ExpiresIn=3600
                )
                cases.append(
                    record(
                        f"presigned-{method}-{len(cases)}", method, url, {}, b"",
                        "unsigned", token=token,
                    )
                )

    for case in cases:
        headers = {k: v for k, v in case["headers"]}
        case["amz_date"] = amz_date_of(headers, case["query"])

    # A browser POST form.
    c, _ = client("http://127.0.0.1:9000")
    post = c.generate_presigned_post(
        "b", "uploads/${filename}",
        Conditions=[["starts-with", "$key", "uploads/"]], ExpiresIn=3600,
    )
    out = {
        "botocore": botocore.__version__,
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "requests": cases,
        "post": {"fields": post["fields"]},
    }
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
