"""Local stand-in Auth0 tenant for bench/upload.sh: JWKS, client-credentials token, user PATCH.

Usage: python3 upload-standin.py PORT JWKS_FILE   (stdlib only; answers like Auth0, instantly)
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, JWKS = int(sys.argv[1]), open(sys.argv[2], "rb").read()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; with Nagle's algorithm on, the body waits for the
    # client's delayed ACK of the headers on a kept-alive connection: up to 40 ms added to some
    # write-backs (mean 12-26 ms per 2 MP upload before this line, under 1 ms after).
    disable_nagle_algorithm = True

    def answer(self, body):
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def drain(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))

    def do_GET(self):
        self.answer(JWKS)

    def do_POST(self):  # /oauth/token
        self.drain()
        self.answer(json.dumps({"access_token": "bench", "expires_in": 86400, "token_type": "Bearer"}).encode())

    def do_PATCH(self):  # /api/v2/users/{id}
        self.drain()
        self.answer(b"{}")

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
