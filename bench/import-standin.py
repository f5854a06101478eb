"""Local stand-in Management API for bench/import.sh: client-credentials token and user PATCH,
with Auth0's rate limiting when RATE is given: a token bucket of BURST requests refilled at RATE
per second; a request over it gets 429 with x-ratelimit-limit, -remaining and -reset (Unix
seconds), as Auth0 answers.

Usage: python3 import-standin.py PORT [RATE BURST]   (stdlib only; prints nothing)
At exit (SIGTERM) writes "patches=N limited=M" to stderr.
"""
import json
import math
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
RATE = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
BURST = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
lock = threading.Lock()
bucket = {"tokens": BURST, "at": time.monotonic(), "patches": 0, "limited": 0}


def take():
    """None when the request may go; else the Unix second at which one token is back."""
    if RATE <= 0:
        return None
    with lock:
        now = time.monotonic()
        bucket["tokens"] = min(BURST, bucket["tokens"] + (now - bucket["at"]) * RATE)
        bucket["at"] = now
        if bucket["tokens"] >= 1:
            bucket["tokens"] -= 1
            return None
        bucket["limited"] += 1
        return math.ceil(time.time() + (1 - bucket["tokens"]) / RATE)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes: without this, Nagle's algorithm makes some answers
    # on a kept-alive connection wait for the client's delayed ACK (up to 40 ms; see
    # BENCHMARKS.md, "Upload end to end").
    disable_nagle_algorithm = True

    def answer(self, status, body, headers=()):
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def drain(self):
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def do_POST(self):  # /oauth/token
        self.drain()
        token = {"access_token": "bench", "expires_in": 86400, "token_type": "Bearer"}
        self.answer(200, json.dumps(token).encode())

    def do_PATCH(self):  # /api/v2/users/{id}
        self.drain()
        reset = take()
        if reset is not None:
            limit = [("x-ratelimit-limit", str(int(BURST))), ("x-ratelimit-remaining", "0"),
                     ("x-ratelimit-reset", str(reset))]
            self.answer(429, b'{"statusCode":429,"error":"Too Many Requests"}', limit)
            return
        with lock:
            bucket["patches"] += 1
        self.answer(200, b"{}")

    def log_message(self, *args):
        pass


def stop(*_):
    sys.stderr.write(f"patches={bucket['patches']} limited={bucket['limited']}\n")
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
