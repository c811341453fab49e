"""Calls an AWS_IAM function URL signed by botocore's SigV4Auth.

usage: url_iam.py ENDPOINT FUNCTION_URL
Prints the status and body of the signed request, then of an unsigned one.
"""

import sys
import urllib.error
import urllib.request

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

_, url = sys.argv[1:3]
target = url.rstrip("/") + "/signed/path?x=1"
body = b'{"signed":true}'
creds = boto3.session.Session().get_credentials()
request = AWSRequest(method="POST", url=target, data=body, headers={"content-type": "application/json"})
SigV4Auth(creds, "lambda", "us-east-1").add_auth(request)


def send(req):
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


signed = urllib.request.Request(target, data=body, headers=dict(request.headers.items()), method="POST")
print(*send(signed))
print(*send(urllib.request.Request(target, data=body, method="POST")))
