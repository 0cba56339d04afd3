#!/usr/bin/python3
"""A webhook receiver for tests/api/test_webhooks.c, written as a receiver
would be from the Standard Webhooks specification alone (nothing of allot's
code): it checks webhook-id, webhook-timestamp (within five minutes) and
webhook-signature ("v1,<base64 HMAC-SHA256 of id.timestamp.body>", keyed with
the base64 bytes after "whsec_"), answers 204 to a valid delivery and 401 to
any other, and appends one JSON line per request to LOG:
{"id", "timestamp", "valid", "why", "type", "body"}.

    webhook_receiver.py PORT SECRETS LOG

SECRETS holds the subscriptions' secrets, one a line, read again at each
request (a test adds a secret once it has created its subscription).  While
the file LOG.hang exists, a request is logged as {"hanging": id} and then
held for 60 s and never answered (for a test that kills the sender
mid-delivery); while LOG.slow exists, each answer takes 0.2 s.
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, SECRETS, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
TOLERANCE = 300


def secrets():
    try:
        with open(SECRETS) as f:
            return [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return []


def log(entry):
    with open(LOG, "a") as f:
        f.write(json.dumps(entry) + "\n")
        f.flush()
        os.fsync(f.fileno())


def verify(msg_id, timestamp, signature, body):
    if not msg_id or not timestamp or not signature:
        return "a webhook header is missing"
    try:
        ts = int(timestamp)
    except ValueError:
        return "webhook-timestamp is not an integer"
    if abs(time.time() - ts) > TOLERANCE:
        return "webhook-timestamp is too far from now"
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    given = [s.split(",", 1)[1] for s in signature.split(" ") if s.startswith("v1,")]
    for secret in secrets():
        if not secret.startswith("whsec_"):
            continue
        key = base64.b64decode(secret[len("whsec_"):])
        want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        if any(hmac.compare_digest(want, g) for g in given):
            return None
    return "no signature matches a known secret"


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        msg_id = self.headers.get("webhook-id")
        if os.path.exists(LOG + ".hang"):
            log({"hanging": msg_id})
            time.sleep(60)
            return  # never answers: the connection just closes
        if os.path.exists(LOG + ".slow"):
            time.sleep(0.2)
        why = verify(msg_id, self.headers.get("webhook-timestamp"),
                     self.headers.get("webhook-signature"), body)
        try:
            kind = json.loads(body).get("type")
        except ValueError:
            kind = None
        log({"id": msg_id, "timestamp": self.headers.get("webhook-timestamp"),
             "valid": why is None, "why": why, "type": kind,
             "contentType": self.headers.get("Content-Type"),
             "body": body.decode("utf-8", "replace")})
        self.send_response(204 if why is None else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.allow_reuse_address = True
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
