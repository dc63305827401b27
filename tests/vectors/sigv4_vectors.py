#!/usr/bin/env python3
"""Generate independent SigV4 test vectors for Kiln's Rust signer and verifier.

Every case is produced by botocore itself at a frozen clock:

* the ``boto3 over http`` case runs a real boto3 client against a local HTTP server and records the request as it
  arrived on the wire (Host with port, Content-Length, every header in order);
* ``boto3`` cases run a real ``boto3`` CodeBuild client and capture the exact HTTP request it would send
  (the ``before-send`` event fires after signing; we stop the call there, so nothing touches the network);
* ``botocore`` cases sign a hand-built ``AWSRequest`` with ``botocore.auth.SigV4Auth`` (GET with a query string,
  a path with spaces and unicode, messy header whitespace, an S3 request with single encoding);
* ``codecommit`` cases compute the git password exactly as the AWS CLI credential helper and
  git-remote-codecommit do: ``SigV4Auth.string_to_sign``/``signature`` over the canonical request
  ``GIT\\n<path>\\n\\nhost:<host>\\n\\nhost\\n`` (note: empty payload hash).

Run from the repository root:  .venv/bin/python tests/vectors/sigv4_vectors.py
It rewrites tests/vectors/sigv4.json; reruns on one machine differ only in the local server's port (boto3's
unsigned User-Agent header also names the OS and Python versions).
"""

import datetime
import json
import logging
import pathlib
import uuid

import boto3
import botocore.auth
import botocore.credentials
from botocore.awsrequest import AWSRequest
from botocore.utils import percent_encode_sequence

OUT = pathlib.Path(__file__).with_name("sigv4.json")

# AWS's documentation example key pair: not a real secret.
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCWV1LXdlc3QtMSJHMEUCIQDexample+token/=="
FROZEN = datetime.datetime(2026, 11, 24, 12, 34, 56)
AMZ_DATE = FROZEN.strftime("%Y%m%dT%H%M%SZ")


class Captured(Exception):
    """Raised from the before-send hook to stop boto3 once the signed request exists."""

    def __init__(self, request):
        super().__init__("captured")
        self.request = request


class CanonicalLog(logging.Handler):
    """Collects the canonical request and string to sign that botocore logs while signing."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.canonical_request = None
        self.string_to_sign = None

    def emit(self, record):
        if record.msg.startswith("CanonicalRequest:"):
            self.canonical_request = record.args[0] if isinstance(record.args, tuple) else record.args
        elif record.msg.startswith("StringToSign:"):
            self.string_to_sign = record.args[0] if isinstance(record.args, tuple) else record.args


LOG = CanonicalLog()
_auth_logger = logging.getLogger("botocore.auth")
_auth_logger.setLevel(logging.DEBUG)
_auth_logger.addHandler(LOG)
_auth_logger.propagate = False

# boto3's amz-sdk-invocation-id header (unsigned) is a random UUID: pin it so reruns diff cleanly.
uuid.uuid4 = lambda: uuid.UUID("00000000-0000-4000-8000-000000000000")

# Freeze the signer's clock (botocore.auth imports get_current_datetime by name).
botocore.auth.get_current_datetime = lambda *args, **kwargs: FROZEN


def split_url(url):
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.path or "/", parts.query


def body_text(body):
    if body is None:
        return ""
    if isinstance(body, bytes):
        return body.decode("utf-8")
    return body


def auth_parts(authorization):
    signature = authorization.rsplit("Signature=", 1)[1]
    signed = authorization.split("SignedHeaders=", 1)[1].split(",", 1)[0]
    return signed, signature


def case(name, source, service, region, token, method, url, headers, body):
    path, query = split_url(url)
    # botocore signs the host it derives from the URL; the HTTP client (urllib3) sends that same value.
    if not any(k.lower() == "host" for k, _ in headers):
        headers = [("Host", botocore.auth._host_from_url(url))] + headers
    header_pairs = [[k, v if isinstance(v, str) else v.decode("utf-8")] for k, v in headers]
    authorization = dict((k.lower(), v) for k, v in header_pairs)["authorization"]
    signed_headers, signature = auth_parts(authorization)
    return {
        "name": name,
        "source": source,
        "service": service,
        "region": region,
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
        "session_token": token,
        "amz_date": AMZ_DATE,
        "method": method,
        "path": path,
        "query": query,
        "headers": header_pairs,
        "body": body_text(body),
        "expected": {
            "canonical_request": LOG.canonical_request,
            "string_to_sign": LOG.string_to_sign,
            "signed_headers": signed_headers,
            "signature": signature,
            "authorization": authorization,
        },
    }


def boto3_case(name, operation, params, token=None, endpoint_url=None, region="eu-west-1"):
    session = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        aws_session_token=token,
        region_name=region,
    )
    client = session.client("codebuild", endpoint_url=endpoint_url)

    def stop(request, **kwargs):
        raise Captured(request)

    client.meta.events.register("before-send", stop)
    try:
        getattr(client, operation)(**params)
    except Captured as captured:
        req = captured.request
        headers = list(req.headers.items())
        return case(name, "boto3", "codebuild", region, token, req.method, req.url, headers, req.body)
    raise RuntimeError(f"{operation} was not captured")


def boto3_wire_case(name, operation, params, region="eu-west-1"):
    """Runs boto3 against a real local HTTP server and records the request exactly as it arrived."""
    import http.server
    import threading

    seen = {}

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            seen.update(method=self.command, target=self.path, headers=list(self.headers.items()))
            seen["body"] = self.rfile.read(length)
            reply = b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    session = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=region
    )
    endpoint = f"http://127.0.0.1:{server.server_port}"
    getattr(session.client("codebuild", endpoint_url=endpoint), operation)(**params)
    thread.join()
    server.server_close()
    url = endpoint + seen["target"]
    return case(name, "boto3 over http", "codebuild", region, None, seen["method"], url, seen["headers"], seen["body"])


def botocore_case(name, method, url, headers, body, service="codebuild", region="us-east-1", token=None, s3=False):
    creds = botocore.credentials.Credentials(ACCESS_KEY, SECRET_KEY, token)
    request = AWSRequest(method=method, url=url, data=body)
    for key, value in headers:
        request.headers[key] = value  # HTTPHeaders appends, so a repeated name stays repeated
    signer_class = botocore.auth.S3SigV4Auth if s3 else botocore.auth.SigV4Auth
    signer_class(creds, service, region).add_auth(request)
    # botocore signs the host it derives from the URL; an HTTP client sends the same value.
    return case(name, "botocore", service, region, token, method, url, list(request.headers.items()), body)


def codecommit_case(name, host, repo_path, region, token):
    creds = botocore.credentials.Credentials(ACCESS_KEY, SECRET_KEY, token)
    signer = botocore.auth.SigV4Auth(creds, "codecommit", region)
    request = AWSRequest(method="GIT", url=f"https://{host}{repo_path}")
    request.context["timestamp"] = FROZEN.strftime("%Y%m%dT%H%M%S")
    canonical_request = f"GIT\n{repo_path}\n\nhost:{host}\n\nhost\n"
    string_to_sign = signer.string_to_sign(request, canonical_request)
    signature = signer.signature(string_to_sign, request)
    username = ACCESS_KEY + ("%" + token if token else "")
    return {
        "name": name,
        "host": host,
        "repo_path": repo_path,
        "region": region,
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
        "session_token": token,
        "amz_date": AMZ_DATE,
        "expected": {
            "canonical_request": canonical_request,
            "string_to_sign": string_to_sign,
            "username": username,
            "password": f"{request.context['timestamp']}Z{signature}",
        },
    }


def main():
    start_build = {
        "projectName": "web",
        "sourceVersion": "refs/heads/main^{9fceb02d0ae598e95dc970b74767f19372d61af8}",
        "environmentVariablesOverride": [{"name": "STAGE", "value": "prod ✓", "type": "PLAINTEXT"}],
        "timeoutInMinutesOverride": 30,
        "idempotencyToken": "0b6c3b1e-2f5e-4a7a-9c1d-3b8c2a7d9e10",
    }
    signing = [
        boto3_case("boto3 StartBuild (eu-west-1, default endpoint)", "start_build", start_build),
        boto3_case("boto3 BatchGetBuilds", "batch_get_builds", {"ids": ["web:0b6c3b1e-2f5e-4a7a-9c1d-3b8c2a7d9e10"]}),
        boto3_case("boto3 ListProjects with no input (body {})", "list_projects", {}),
        boto3_case(
            "boto3 StartBuild with a session token",
            "start_build",
            {"projectName": "web"},
            token=SESSION_TOKEN,
        ),
        boto3_case(
            "boto3 StopBuild against a local endpoint with a port",
            "stop_build",
            {"id": "web:1"},
            endpoint_url="http://127.0.0.1:4566",
            region="us-west-2",
        ),
        boto3_wire_case(
            "boto3 CreateProject as received by a local HTTP server",
            "create_project",
            {
                "name": "web",
                "source": {"type": "NO_SOURCE", "buildspec": "version: 0.2\nphases:\n  build:\n    commands: [echo hi]\n"},
                "artifacts": {"type": "NO_ARTIFACTS"},
                "environment": {
                    "type": "LINUX_CONTAINER",
                    "image": "aws/codebuild/standard:7.0",
                    "computeType": "BUILD_GENERAL1_SMALL",
                },
                "serviceRole": "arn:aws:iam::111122223333:role/kiln",
            },
        ),
        botocore_case(
            "GET with a query string needing encoding",
            "GET",
            "https://codebuild.us-east-1.amazonaws.com/?"
            + percent_encode_sequence(
                [("Param2", "value 2/ä+="), ("Param1", "value1"), ("a", "z"), ("a", "b"), ("empty", "")]
            ),
            [("Accept", "application/json")],
            b"",
        ),
        botocore_case(
            "path with spaces, unicode and a dot segment",
            "GET",
            "https://example.amazonaws.com/docs/./my%20file/%E2%82%AC%20%C3%A9t%C3%A9/a%2Fb:c",
            [("X-Custom", "  spaced   value\tand  tab  ")],
            b"",
        ),
        botocore_case(
            "POST with repeated header and session token",
            "POST",
            "https://codebuild.ap-southeast-2.amazonaws.com/",
            [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("X-Amz-Target", "CodeBuild_20161006.ListBuilds"),
                ("X-Dup", "first"),
                ("User-Agent", "not-signed/1.0"),
                ("x-dup", "  second   value "),
            ],
            b'{"sortOrder":"DESCENDING"}',
            region="ap-southeast-2",
            token=SESSION_TOKEN,
        ),
        botocore_case(
            "S3 GET keeps the path encoded once and sends x-amz-content-sha256",
            "GET",
            "https://bucket.s3.eu-west-1.amazonaws.com/my%20key/%E2%82%AC.txt",
            [],
            b"",
            service="s3",
            region="eu-west-1",
            s3=True,
        ),
    ]
    codecommit = [
        codecommit_case(
            "codecommit password with long-term keys",
            "git-codecommit.eu-west-1.amazonaws.com",
            "/v1/repos/my-repo",
            "eu-west-1",
            None,
        ),
        codecommit_case(
            "codecommit password with a session token",
            "git-codecommit.us-east-2.amazonaws.com",
            "/v1/repos/Other.Repo_1",
            "us-east-2",
            SESSION_TOKEN,
        ),
    ]
    doc = {
        "generator": "tests/vectors/sigv4_vectors.py",
        "botocore_version": botocore.__version__,
        "boto3_version": boto3.__version__,
        "signing": signing,
        "codecommit": codecommit,
    }
    OUT.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(signing)} signing and {len(codecommit)} codecommit vectors to {OUT}")


if __name__ == "__main__":
    main()
