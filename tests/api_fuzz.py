#!/usr/bin/env python3
"""Fuzzes the CodeBuild JSON 1.1 API of a running `kiln serve` with requests generated from botocore's CodeBuild
service model: every operation of the model (those Kiln does not implement must be refused with a 4xx too),
valid inputs, invalid values, wrong types, missing required members, huge strings, odd unicode, deep nesting,
raw garbage bodies, bad headers, and junk on the server's other routes.

It counts the responses by status and fails (exit 1) on any response >= 500 other than 503 with Retry-After, and
on a well-formed request that gets no response at all, printing each such request. Request number I of seed S is
always the same request: `--seed S --only I` sends it alone again.

    api_fuzz.py --endpoint http://127.0.0.1:8950 [--requests 100000] [--seed 1] [--only I] [--sign KEY:SECRET]

With --sign (for a server started with those credentials) every request is SigV4-signed as botocore signs, so
the calls get past the signature check; one in twenty then has its signature or date spoilt.

The server should run with --paused (StartBuild queues builds; nothing needs to run them) on a scratch data
directory. Python (rather than Rust) because botocore, whose model this reads, is in the test venv, and the
generator needs no build.
"""

import argparse
import json
import random
import socket
import sys
import time
from collections import Counter
from urllib.parse import quote as url_quote, urlsplit

import botocore.loaders
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TARGET_PREFIX = "CodeBuild_20161006."
# The API's body limit (axum's default): a larger body may be refused with 413 before it is read.
BODY_LIMIT = 2 * 1024 * 1024
# Generated bodies stay under this, so a run stays quick.
BODY_MAX = 4 * 1024 * 1024
KNOWN_PROJECTS = ["fuzz-git", "fuzz-nosource"]
# Operations Kiln implements get most of the traffic; the rest of the model still gets a share.
IMPLEMENTED = {
    "StartBuild", "BatchGetBuilds", "StopBuild", "RetryBuild", "ListBuildsForProject", "ListBuilds",
    "ListProjects", "BatchGetProjects", "CreateProject", "UpdateProject", "DeleteProject", "CreateWebhook",
    "UpdateWebhook", "DeleteWebhook",
}
ODD_STRINGS = [
    "", " ", "\u0000", "\u0000\u0001\u001f", "\u202e\u202dabc", "\U0001F600" * 3, "\ufeff", "\uffff", "\u00e9",
    "e\u0301", "\u2028\u2029", "../../../../etc/passwd", "/etc/passwd", "..", ".", "%00", "%2e%2e%2f",
    "${HOME}", "$(id)", "`id`", "'; DROP TABLE builds; --", "<script>alert(1)</script>", "\\", "\\\\server\\x",
    "a" * 256, "\r\nX-Injected: 1", "arn:aws:s3:::bucket/key", "s3://bucket/../x", "file:///etc/passwd",
    "refs/heads/../../x", "pr/0", "pr/-1", "NaN", "null", "true", "{}", "[]", "0", "-1", "1e999",
    "web:00000000-0000-0000-0000-000000000000", "fuzz-git:", ":", "::", "a:b:c", "secret-id:key:stage:version",
    "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n",
    "a: &a [*a, *a]\nb: *a\n", "!!binary AAAA", "\t\t\t", "\ud800", "\udfff",
]
ODD_NUMBERS = [0, -1, 1, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64 + 1, -(2**63) - 1, 10**30, 1.5, -0.0, 1e308]


def load_model():
    loader = botocore.loaders.Loader()
    return loader.load_service_model("codebuild", "service-2")


class Generator:
    """Builds request number `index` of `seed`: the same request every time."""

    def __init__(self, model, seed, builds):
        self.model = model
        self.shapes = model["shapes"]
        self.operations = sorted(model["operations"])
        self.seed = seed
        self.builds = builds

    def request(self, index):
        rng = random.Random(f"{self.seed}:{index}")
        kind = rng.choices(
            ["valid", "mutated", "not-an-object", "garbage-body", "bad-headers", "other-route"],
            weights=[33, 32, 5, 8, 12, 10],
        )[0]
        return kind, getattr(self, "gen_" + kind.replace("-", "_"))(rng)

    # --- operations and bodies ---------------------------------------------------------------------------

    def operation(self, rng):
        if rng.random() < 0.75:
            return rng.choice(sorted(IMPLEMENTED))
        return rng.choice(self.operations)

    def input_for(self, rng, operation):
        shape = self.model["operations"][operation].get("input")
        if not shape:
            return {}
        return self.value(rng, shape["shape"], 0, "")

    def value(self, rng, shape_name, depth, member):
        shape = self.shapes[shape_name]
        kind = shape["type"]
        if kind == "structure":
            out = {}
            required = set(shape.get("required", []))
            for name, ref in shape.get("members", {}).items():
                if name in required or (depth < 4 and rng.random() < 0.35):
                    out[name] = self.value(rng, ref["shape"], depth + 1, name)
            return out
        if kind == "list":
            low = shape.get("min", 0)
            count = rng.randint(low, max(low, min(shape.get("max", 3), 3)))
            return [self.value(rng, shape["member"]["shape"], depth + 1, member) for _ in range(count)]
        if kind == "map":
            return {
                self.string(rng, self.shapes[shape["key"]["shape"]], "key"): self.value(
                    rng, shape["value"]["shape"], depth + 1, member
                )
                for _ in range(rng.randint(0, 2))
            }
        if kind == "string":
            return self.string(rng, shape, member)
        if kind in ("integer", "long"):
            low, high = int(shape.get("min", 0)), int(shape.get("max", 100))
            return rng.randint(low, max(low, min(high, low + 1000)))
        if kind == "double":
            return round(rng.uniform(0, 100), 3)
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "timestamp":
            return rng.randint(1_600_000_000, 1_800_000_000)
        return None

    def string(self, rng, shape, member):
        if "enum" in shape:
            return rng.choice(shape["enum"])
        lowered = member.lower()
        if lowered in ("projectname", "name", "project", "projectnames") and rng.random() < 0.7:
            return rng.choice(KNOWN_PROJECTS)
        if lowered in ("id", "ids", "buildid") and self.builds and rng.random() < 0.7:
            return rng.choice(self.builds)
        low = int(shape.get("min", 0))
        high = max(low, min(int(shape.get("max", 24)), 24))
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(max(low, 2), max(high, 2))))
        return text if text[0].isalnum() else "p" + text[1:]

    def gen_valid(self, rng):
        operation = self.operation(rng)
        return self.api(operation, json.dumps(self.input_for(rng, operation)))

    def gen_mutated(self, rng):
        operation = self.operation(rng)
        body = self.input_for(rng, operation)
        for _ in range(rng.randint(1, 3)):
            body = self.mutate(rng, body, 0)
        text = dumps(rng, body)
        if len(text) > BODY_MAX:
            text = text[:BODY_MAX]
        return self.api(operation, text)

    def gen_not_an_object(self, rng):
        operation = self.operation(rng)
        body = rng.choice(["[]", "[{}]", '"text"', "0", "-1.5", "null", "true", "false", '""', "[1,2,3]"])
        return self.api(operation, body)

    def gen_garbage_body(self, rng):
        operation = self.operation(rng)
        valid = json.dumps(self.input_for(rng, operation))
        depth = rng.randint(100, 20000)
        choices = [
            lambda: bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 2000))),
            lambda: valid[: rng.randint(0, max(0, len(valid) - 1))].encode(),
            lambda: ("[" * depth + "]" * depth).encode(),
            lambda: ('{"a":' * depth + "1" + "}" * depth).encode(),
            lambda: ("[" * depth).encode(),
            lambda: b"\xef\xbb\xbf" + valid.encode(),
            lambda: b'{"projectName": "\xff\xfe\xc0\xaf"}',
            lambda: b'{"projectName": "fuzz-git", "projectName": 5}',
            lambda: b'{"projectName": NaN, "x": Infinity, "y": -Infinity}',
            lambda: b'{"projectName": "fuzz-git", "timeoutInMinutesOverride": 1e400}',
            lambda: b'{"projectName": "\\ud800\\udc00\\ud800"}',
            lambda: b'{"a": "' + b"\\u0000" * 1000 + b'"}',
            lambda: b"{" + b'"k":1,' * rng.randint(1000, 50000) + b'"k":1}',
            lambda: b"\x00" * rng.randint(1, 4096),
            lambda: b"   \r\n\t  ",
            lambda: (json.dumps({"projectName": "x" * rng.randint(100_000, 2_000_000)})).encode(),
            lambda: b"/* comment */ {}",
            lambda: b"{}{}",
            lambda: b"{} trailing",
        ]
        return self.api(operation, rng.choice(choices)())

    def mutate(self, rng, value, depth):
        """One change somewhere in `value`: a wrong type, an odd value, a dropped or an unknown member."""
        if isinstance(value, dict) and value and depth < 6 and rng.random() < 0.6:
            key = rng.choice(sorted(value))
            action = rng.random()
            if action < 0.15:
                del value[key]
                return value
            value[key] = self.mutate(rng, value[key], depth + 1)
            return value
        if isinstance(value, list) and value and depth < 6 and rng.random() < 0.6:
            position = rng.randrange(len(value))
            value[position] = self.mutate(rng, value[position], depth + 1)
            return value
        return self.odd_value(rng, value)

    def odd_value(self, rng, old):
        choice = rng.random()
        if choice < 0.25:
            return rng.choice(ODD_STRINGS)
        if choice < 0.45:
            return rng.choice(ODD_NUMBERS)
        if choice < 0.55:
            return rng.choice([None, True, False, [], {}, [None], {"": None}, [[[]]]])
        if choice < 0.62:
            return "x" * rng.choice([1000, 10_000, 100_000, 1_000_000])
        if choice < 0.70:
            depth = rng.randint(20, 300)
            nested = old
            for _ in range(depth):
                nested = [nested] if rng.random() < 0.5 else {"n": nested}
            return nested
        if choice < 0.78:
            # A tuple (a JSON array all the same): later mutations replace it whole instead of changing the one
            # element every entry shares, which would multiply the change.
            size = len(dumps(rng, old)) + 1
            return (old,) * max(1, min(rng.choice([100, 1000, 10_000]), BODY_LIMIT // size))
        if choice < 0.86 and isinstance(old, dict):
            old["unknownMember" + str(rng.randint(0, 9))] = rng.choice(ODD_STRINGS)
            return old
        if choice < 0.93 and isinstance(old, str):
            return old + rng.choice(ODD_STRINGS)
        return "".join(chr(rng.randint(1, 0x10FFFF)) for _ in range(rng.randint(1, 40)))

    # --- headers and other routes ------------------------------------------------------------------------

    def api(self, operation, body, target=None, content_type="application/x-amz-json-1.1", extra=()):
        if isinstance(body, str):
            body = body.encode("utf-8", "surrogatepass")
        headers = [("Content-Type", content_type)] if content_type is not None else []
        target = TARGET_PREFIX + operation if target is None else target
        if target is not False:
            headers.append(("X-Amz-Target", target))
        headers.extend(extra)
        return {"method": "POST", "path": "/", "headers": headers, "body": body}

    def gen_bad_headers(self, rng):
        operation = self.operation(rng)
        body = json.dumps(self.input_for(rng, operation)).encode()
        choices = [
            lambda: self.api(operation, body, target=False),
            lambda: self.api(operation, body, target=""),
            lambda: self.api(operation, body, target=TARGET_PREFIX),
            lambda: self.api(operation, body, target="CodeBuild_20161006." + rng.choice(ODD_STRINGS[:20])),
            lambda: self.api(operation, body, target="codebuild_20161006." + operation),
            lambda: self.api(operation, body, target="Other_2016." + operation),
            lambda: self.api(operation, body, target=TARGET_PREFIX + operation.lower()),
            lambda: self.api(operation, body, target=TARGET_PREFIX + operation + "." + operation),
            lambda: self.api(operation, body, target=TARGET_PREFIX + "x" * 10_000),
            lambda: self.api(operation, body, content_type=None),
            lambda: self.api(operation, body, content_type="text/plain"),
            lambda: self.api(operation, body, content_type="application/json; charset=latin1"),
            lambda: self.api(operation, body, extra=[("X-Amz-Target", TARGET_PREFIX + "ListProjects")]),
            lambda: self.api(operation, body, extra=[("Content-Encoding", "gzip")]),
            lambda: self.api(operation, body, extra=[("Expect", "100-continue")]),
            lambda: self.api(operation, body, extra=[("Authorization", "AWS4-HMAC-SHA256 " + "x" * 200)]),
            lambda: self.api(operation, body, extra=[("Authorization", "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host;x-amz-date, Signature=00")]),
            lambda: self.api(operation, body, extra=[("X-Amz-Date", "99999999T999999Z")]),
            lambda: self.api(operation, body, extra=[("X-Fuzz", "v" * 60_000)]),
            lambda: self.api(operation, body, extra=[("X-Fuzz-%d" % n, "1") for n in range(rng.choice([50, 150, 500]))]),
            lambda: self.api(operation, body, extra=[("Host", rng.choice(["", "evil.example", "a" * 300, "[::1"]))]),
            lambda: self.api(operation, body, extra=[("Cookie", "kiln_console=" + rng.choice(ODD_STRINGS[:30]))]),
            lambda: dict(self.api(operation, body), method=rng.choice(["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])),
            lambda: dict(self.api(operation, body), path="/?" + rng.choice(["a=b", "%", "x=%ff", "&&&"])),
            lambda: dict(self.api(operation, body), chunked=True),
            lambda: dict(self.api(operation, body), length=max(0, len(body) - rng.randint(1, 10))),
            lambda: dict(self.api(operation, body), raw_headers=[b"X-Bytes: \xff\xfe\x80"]),
            lambda: dict(self.api(operation, body), raw_headers=[b"X-Amz-Target: CodeBuild_20161006.\xff\xfe"]),
            lambda: dict(self.api(operation, body), raw_headers=[b"Content-Length: -1"], length=None),
            lambda: dict(self.api(operation, body), raw_headers=[b"Content-Length: 99999999999999999999"], length=None),
            lambda: dict(self.api(operation, body), raw_headers=[b"Transfer-Encoding: gzip, chunked"], length=None),
            lambda: dict(self.api(operation, body), version=rng.choice(["HTTP/1.0", "HTTP/0.9", "HTTP/2.0", "HTTP/1.1x"])),
        ]
        return rng.choice(choices)()

    def gen_other_route(self, rng):
        name = rng.choice(KNOWN_PROJECTS + [rng.choice(ODD_STRINGS), "x" * 300])
        build = rng.choice(self.builds + ["fuzz-git:" + rng.choice(ODD_STRINGS)]) if self.builds else "x"
        odd = quote(rng.choice(ODD_STRINGS), safe="")
        junk = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 500)))
        choices = [
            ("POST", "/webhooks/" + quote(name, safe=""), [("X-GitHub-Event", "push"), ("X-Hub-Signature-256", "sha256=" + "0" * 64), ("X-GitHub-Delivery", odd)], junk),
            ("POST", "/webhooks/" + quote(name, safe=""), [("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", odd)], b"{}"),
            ("POST", "/webhooks/" + quote(name, safe=""), [("Content-Type", "application/x-www-form-urlencoded"), ("X-GitHub-Event", "ping")], b"payload=" + quote(rng.choice(ODD_STRINGS)).encode()),
            ("POST", "/webhooks/" + odd, [], junk),
            ("POST", "/codecommit/events", [("Content-Type", "application/json")], junk),
            ("POST", "/codecommit/events", [("Content-Type", "application/json")], json.dumps({"detail-type": "CodeCommit Repository State Change", "detail": {"event": rng.choice(ODD_STRINGS), "referenceName": rng.choice(ODD_STRINGS)}}).encode("utf-8", "surrogatepass")),
            ("GET", "/builds/" + quote(build, safe="") + "/logs?offset=" + odd, [], b""),
            ("GET", "/builds/" + odd + "/logs", [], b""),
            ("GET", "/events?after=" + odd, [], b""),
            ("GET", "/console/projects/" + quote(name, safe="") + "?status=" + odd + "&page=" + odd, [], b""),
            ("GET", "/console/builds/" + quote(build, safe="") + "?line=" + odd, [], b""),
            ("GET", "/console/builds/" + quote(build, safe="") + "/log?offset=" + odd + "&line=" + odd, [], b""),
            ("GET", "/console/builds/" + quote(build, safe="") + "/artifact?name=" + odd, [], b""),
            ("GET", "/console/builds/" + quote(build, safe="") + "/live", [], b""),
            ("GET", "/console/login?next=" + odd + "&failed=" + odd, [], b""),
            ("POST", "/console/login", [("Content-Type", "application/x-www-form-urlencoded")], b"next=" + junk),
            ("POST", "/console/projects/" + quote(name, safe="") + "/start", [("Content-Type", "application/x-www-form-urlencoded")], b"csrf=" + junk),
            ("GET", "/console/sessions", [], b""),
            ("GET", "/" + odd + "/" + odd, [], b""),
            ("GET", "/console/assets/" + odd, [], b""),
        ]
        method, path, headers, body = rng.choice(choices)
        return {"method": method, "path": path, "headers": headers, "body": body}


def quote(text, safe="/"):
    """Percent-encodes `text`, lone surrogates included."""
    return url_quote(text, safe=safe, errors="surrogatepass")


def dumps(rng, value):
    """JSON text for `value`, keeping lone surrogates as escapes (they are odd input too)."""
    try:
        return json.dumps(value)
    except (ValueError, RecursionError):
        return '{"deep": ' + "[" * 500 + "]" * 500 + "}"


# --- HTTP over a raw socket ----------------------------------------------------------------------------------


def sign(request, host, credentials, rng):
    """Adds SigV4 headers (service codebuild) to `request`, sometimes spoilt; what cannot be signed stays as is."""
    try:
        headers = {name: value for name, value in request["headers"] if name.lower() != "host"}
        aws = AWSRequest(method=request["method"], url=f"http://{host}{request['path']}", data=request["body"], headers=headers)
        SigV4Auth(credentials, "codebuild", "us-east-1").add_auth(aws)
    except (ValueError, UnicodeError, KeyError):
        return request
    signed = [(name, value) for name, value in request["headers"] if name.lower() not in ("authorization", "x-amz-date")]
    auth, date = aws.headers["Authorization"], aws.headers["X-Amz-Date"]
    spoil = rng.random()
    if spoil < 0.02:
        auth = auth[:-1] + ("0" if auth[-1] != "0" else "1")
    elif spoil < 0.03:
        date = rng.choice(["20000101T000000Z", "99991231T235959Z", "garbage", ""])
    elif spoil < 0.05:
        auth = rng.choice(["AWS4-HMAC-SHA256", auth.replace("Credential=", "Credential=x/"), auth.replace(",", ""), auth + ", Extra=1"])
    signed += [("Authorization", auth), ("X-Amz-Date", date)]
    return dict(request, headers=signed)


def encode(request, host):
    method = request["method"]
    version = request.get("version", "HTTP/1.1")
    head = [f"{method} {request['path']} {version}".encode("latin-1", "replace"), b"Host: " + host.encode()]
    for name, value in request["headers"]:
        if name.lower() == "host":
            head[1] = b"Host: " + value.encode("utf-8", "surrogatepass")
            continue
        head.append(name.encode() + b": " + value.encode("utf-8", "surrogatepass"))
    head.extend(request.get("raw_headers", []))
    body = request["body"]
    if request.get("chunked"):
        head.append(b"Transfer-Encoding: chunked")
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:5], body[5:]) if part)
        body = chunks + b"0\r\n\r\n"
    else:
        length = request.get("length", len(body))
        if length is not None:
            head.append(b"Content-Length: %d" % length)
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class Connection:
    """One keep-alive connection, reopened whenever the server closes it."""

    def __init__(self, host, port, timeout):
        self.address = (host, port)
        self.timeout = timeout
        self.sock = None
        self.buffer = b""

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer = None, b""

    def send(self, data, fresh):
        if fresh:
            self.close()
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=self.timeout)
        self.sock.sendall(data)

    def read_until(self, marker):
        while marker not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(marker, 1)
        return head

    def read_exact(self, count):
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        out, self.buffer = self.buffer[:count], self.buffer[count:]
        return out

    def response(self, method):
        """(status, headers, body) of the next response; the connection is closed when it cannot be reused."""
        while True:
            head = self.read_until(b"\r\n\r\n").decode("latin-1")
            lines = head.split("\r\n")
            status = int(lines[0].split(" ")[1])
            if not 100 <= status < 200:
                break
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = b""
        if headers.get("content-type", "").startswith("text/event-stream"):
            self.close()
            return status, headers, body
        if method == "HEAD" or status in (204, 304):
            pass
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(self.read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self.read_until(b"\r\n")
                    break
                body += self.read_exact(size)
                self.read_exact(2)
        elif "content-length" in headers:
            body = self.read_exact(int(headers["content-length"]))
        else:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                body += chunk
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body


# --- the run -------------------------------------------------------------------------------------------------


def exchange(conn, request, host, fresh):
    """Sends `request` and reads its response, also when the server answered before taking the whole body. A
    kept-alive connection the server had already closed is retried once on a new one, as HTTP clients do."""
    reused = not fresh and conn.sock is not None
    try:
        conn.send(encode(request, host), fresh=fresh)
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        return conn.response(request["method"])
    except ConnectionError:
        if not reused or conn.buffer:
            raise
        conn.close()
        return exchange(conn, request, host, fresh=True)
    finally:
        if fresh:
            conn.close()


def call(conn, host, operation, body, credentials):
    request = {"method": "POST", "path": "/", "headers": [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", TARGET_PREFIX + operation)], "body": json.dumps(body).encode()}
    if credentials is not None:
        request = sign(request, host, credentials, random.Random(0))
    conn.send(encode(request, host), fresh=False)
    status, _, data = conn.response("POST")
    return status, json.loads(data or b"null")


def setup(conn, host, credentials):
    """Projects the generated requests name, restored to a known shape, and a build of each; the build ids."""
    environment = {"type": "LINUX_CONTAINER", "image": "local", "computeType": "BUILD_GENERAL1_SMALL"}
    projects = [
        {"name": "fuzz-git", "source": {"type": "GIT", "location": "file:///nonexistent/fuzz.git"}, "environment": environment, "artifacts": {"type": "NO_ARTIFACTS"}},
        {"name": "fuzz-nosource", "source": {"type": "NO_SOURCE", "buildspec": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n"}, "environment": environment, "artifacts": {"type": "NO_ARTIFACTS"}},
    ]
    builds = []
    for project in projects:
        status, _ = call(conn, host, "CreateProject", project, credentials)
        if status != 200:
            call(conn, host, "UpdateProject", project, credentials)
        status, answer = call(conn, host, "StartBuild", {"projectName": project["name"]}, credentials)
        if status == 200:
            builds.append(answer["build"]["id"])
    return builds


def describe(request, limit=3000):
    shown = dict(request)
    body = shown.pop("body")
    text = repr(body[:limit]) + (f"... ({len(body)} bytes)" if len(body) > limit else "")
    return json.dumps({k: v for k, v in shown.items()}, ensure_ascii=True, default=repr)[:limit] + "\n  body: " + text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", type=int, help="send request number ONLY alone")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--max-failures", type=int, default=20, help="stop after this many failures")
    parser.add_argument("--sign", metavar="KEY:SECRET", help="SigV4-sign every request with these credentials")
    args = parser.parse_args()

    url = urlsplit(args.endpoint)
    host = url.netloc
    conn = Connection(url.hostname, url.port or 80, args.timeout)
    credentials = Credentials(*args.sign.split(":", 1)) if args.sign else None
    builds = setup(conn, host, credentials)
    generator = Generator(load_model(), args.seed, builds)
    indices = [args.only] if args.only is not None else range(args.requests)
    statuses, kinds, failures = Counter(), Counter(), []
    started = time.monotonic()
    for done, index in enumerate(indices, 1):
        if done % 1000 == 0:
            setup(conn, host, credentials)
        kind, request = generator.request(index)
        if credentials is not None:
            request = sign(request, host, credentials, random.Random(f"{args.seed}:{index}:sign"))
        kinds[kind] += 1
        # Requests that break HTTP's own framing may be closed unanswered; any other must get a response.
        malformed = bool({"raw_headers", "version", "length"} & set(request))
        fresh = kind in ("bad-headers", "garbage-body")
        try:
            status, headers, body = exchange(conn, request, host, fresh)
        except (ConnectionError, OSError, ValueError, IndexError) as err:
            conn.close()
            if len(request["body"]) > BODY_LIMIT:
                # The server refuses a body over its limit before reading it, and closes.
                statuses["closed: body over the limit"] += 1
                continue
            statuses["no response"] += 1
            if not malformed:
                failures.append((index, kind, request, f"no response: {err!r}"))
        else:
            statuses[status] += 1
            if status >= 500 and not (status == 503 and "retry-after" in headers):
                failures.append((index, kind, request, f"{status}: {body[:500]!r}"))
        if failures and len(failures) >= args.max_failures:
            break
        if done % 10_000 == 0:
            rate = done / (time.monotonic() - started)
            print(f"api-fuzz: {done} requests ({rate:.0f}/s), {len(failures)} failures", file=sys.stderr, flush=True)

    for index, kind, request, outcome in failures:
        print(f"FAIL request {index} (seed {args.seed}, {kind}) -> {outcome}\n  {describe(request)}")
        signing = f" --sign {args.sign}" if args.sign else ""
        print(f"  reproduce: api_fuzz.py --endpoint {args.endpoint} --seed {args.seed} --only {index}{signing}")
    elapsed = time.monotonic() - started
    total = sum(statuses.values())
    by_status = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0])))
    print(f"api-fuzz: seed {args.seed}, {total} requests in {elapsed:.0f} s; by status {{{by_status}}}; by kind {dict(kinds)}")
    print(f"api-fuzz: {len(failures)} responses >= 500 (other than 503 with Retry-After) or missing")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
