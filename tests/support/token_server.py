#!/usr/bin/env python3
"""A Docker-Hub-style token server for the tests' CNCF distribution registry.

The registry (config `auth.token`) answers 401 with
`WWW-Authenticate: Bearer realm="http://127.0.0.1:PORT/token",service="registry.local",scope=…`;
a client then asks this server for a token, exactly as it would ask auth.docker.io:

    GET /token?service=registry.local&scope=repository:NAME:pull,push[&scope=…][&account=USER]
        Authorization: Basic …   (optional: anonymous callers get pull only)
    → 200 {"token", "access_token", "expires_in", "issued_at"}
    → 401 {"details": "incorrect username or password"}   (bad credentials, like Docker Hub)

    POST /token   (OAuth2 form: grant_type=password, username, password, service, scope)
    GET  /stats   counters per user plus a log of the last requests (JSON), for tests
    POST /stats/reset
    GET  /healthz

Tokens are ES256 JWTs carrying the signing certificate in `x5c`, `aud` = the service as a string,
`iss`, `exp`/`nbf`/`iat`/`jti` and an `access` list granting each requested scope, limited to what
the user may do. `nbf` is set a few seconds in the past to survive the one-second JWT time
granularity. distribution 2.8.2 accepts a token until `exp` + 60 s (its clock-skew leeway, measured
here), so by default (--leeway 60) the `exp` claim is put 60 s earlier than `expires_in` says: the
registry then really refuses a token once `expires_in` has passed (the 2 s `shortlived` user proves a
client re-authenticates mid-push). Clients must go by `expires_in`, as Docker's token spec says,
not by decoding the JWT.

Users come from --users FILE or the env var TOKEN_SERVER_USERS (JSON, same shape as DEFAULT_USERS):
    {"name": {"password": "…", "lifetime": 300, "actions": ["pull", "push"]}}
"""
import argparse
import base64
import binascii
import datetime
import hmac
import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

PASSWORD = "testpass-S3cr3t"
DEFAULT_USERS = {
    # A normal account: tokens live 300 s like Docker Hub's.
    "testuser": {"password": PASSWORD, "lifetime": 300, "actions": ["pull", "push"]},
    # Tokens expire after 2 s: lets tests prove a client re-authenticates mid-push.
    "shortlived": {"password": PASSWORD, "lifetime": 2, "actions": ["pull", "push"]},
    # Never granted push: the registry answers 401 insufficient_scope on a push.
    "pullonly": {"password": PASSWORD, "lifetime": 300, "actions": ["pull"]},
}
ANONYMOUS = "<anonymous>"
ANONYMOUS_USER = {"lifetime": 300, "actions": ["pull"]}
NBF_SKEW = 5  # seconds: JWT times are whole seconds; never let a fresh token look "not yet valid"
LOG_LIMIT = 2000


class State:
    def __init__(self, users, signing_key, x5c, issuer, leeway):
        self.users = users
        self.key = signing_key
        self.x5c = x5c
        self.issuer = issuer
        self.leeway = leeway
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.issued = {}  # user → tokens issued
            self.rejected = {}  # user → requests refused (bad credentials)
            self.log = []  # [{time, user, ok, scopes, granted}]

    def record(self, user, ok, scopes, granted):
        with self.lock:
            table = self.issued if ok else self.rejected
            table[user] = table.get(user, 0) + 1
            self.log.append({"time": time.time(), "user": user, "ok": ok,
                             "scopes": scopes, "granted": granted})
            del self.log[:-LOG_LIMIT]

    def stats(self):
        with self.lock:
            return {"issued": dict(self.issued), "rejected": dict(self.rejected),
                    "total": sum(self.issued.values()) + sum(self.rejected.values()),
                    "log": list(self.log)}


def parse_scopes(values):
    """`repository:NAME:pull,push` → {"type", "name", "actions"}; several may share one value."""
    scopes = []
    for value in values:
        for item in value.split():
            kind, sep, rest = item.partition(":")
            name, sep2, actions = rest.rpartition(":")
            if not sep or not sep2 or not name:
                continue
            scopes.append({"type": kind, "name": name,
                           "actions": [a for a in actions.split(",") if a]})
    return scopes


def grant(scopes, allowed):
    access = []
    for scope in scopes:
        if scope["type"] != "repository":
            continue
        actions = [a for a in scope["actions"] if a in allowed]
        if "*" in scope["actions"] and "*" in allowed:
            actions = ["*"]
        access.append({"type": "repository", "name": scope["name"], "actions": actions})
    return access


class Handler(BaseHTTPRequestHandler):
    server_version = "test-token-server/1"
    protocol_version = "HTTP/1.1"
    state: State = None  # set by main

    def log_message(self, fmt, *args):  # one line per request on stderr (the state dir's log)
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def basic_credentials(self):
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return ("", "")
        return (user, password)

    def authenticate(self, creds):
        """→ (user name, user record) or None for bad credentials."""
        if creds is None:
            return ANONYMOUS, ANONYMOUS_USER
        user, password = creds
        record = self.state.users.get(user)
        if record is None or not hmac.compare_digest(record["password"].encode(), password.encode()):
            return None
        return user, record

    def issue(self, creds, service, scope_values):
        scopes = parse_scopes(scope_values)
        who = self.authenticate(creds)
        if who is None:
            self.state.record(creds[0] or ANONYMOUS, False, scopes, [])
            self.reply(401, {"details": "incorrect username or password"},
                       [("WWW-Authenticate", 'Basic realm="registry.local token server"')])
            return None
        user, record = who
        access = grant(scopes, record.get("actions", ["pull"]))
        now = int(time.time())
        lifetime = int(record.get("lifetime", 300))
        claims = {
            "iss": self.state.issuer,
            "sub": "" if user == ANONYMOUS else user,
            "aud": service,
            "exp": now + lifetime - self.state.leeway,
            "nbf": now - NBF_SKEW,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        token = jwt.encode(claims, self.state.key, algorithm="ES256",
                           headers={"x5c": self.state.x5c})
        self.state.record(user, True, scopes, access)
        issued_at = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
        return {"token": token, "access_token": token, "expires_in": lifetime,
                "issued_at": issued_at.strftime("%Y-%m-%dT%H:%M:%SZ")}

    def do_GET(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/token":
            body = self.issue(self.basic_credentials(), query.get("service", [""])[0],
                              query.get("scope", []))
            if body is not None:
                self.reply(200, body)
        elif url.path == "/stats":
            self.reply(200, self.state.stats())
        elif url.path == "/healthz":
            self.reply(200, {"ok": True})
        else:
            self.reply(404, {"details": "not found"})

    def do_POST(self):
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode()) if length else {}
        if url.path == "/stats/reset":
            self.state.reset()
            self.reply(200, {"ok": True})
        elif url.path == "/token":
            if form.get("grant_type", [""])[0] != "password":
                self.reply(400, {"error": "unsupported_grant_type"})
                return
            creds = (form.get("username", [""])[0], form.get("password", [""])[0])
            body = self.issue(creds, form.get("service", [""])[0], form.get("scope", []))
            if body is not None:
                body.pop("token")
                body["scope"] = " ".join(form.get("scope", []))
                self.reply(200, body)
        else:
            self.reply(404, {"details": "not found"})


def load_users(path):
    if path:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    if os.environ.get("TOKEN_SERVER_USERS"):
        return json.loads(os.environ["TOKEN_SERVER_USERS"])
    return DEFAULT_USERS


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--key", required=True, help="EC P-256 private key (PEM)")
    p.add_argument("--cert", required=True, help="self-signed certificate of --key (PEM)")
    p.add_argument("--issuer", default="test-token-server")
    p.add_argument("--users", help="JSON users file (default: $TOKEN_SERVER_USERS or built-in)")
    p.add_argument("--leeway", type=int, default=60,
                   help="seconds the registry adds to exp when checking (60 for distribution 2.8)")
    args = p.parse_args(argv)

    with open(args.key, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    with open(args.cert, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]

    Handler.state = State(load_users(args.users), key, x5c, args.issuer, args.leeway)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
