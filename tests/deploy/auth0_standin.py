"""A stand-in Auth0 tenant over HTTPS for the Deploy CLI check (test_tenant.py).

It answers the Management API calls that `a0deploy import` makes for the asset types visage
manages (resource servers, clients, client grants, actions and their triggers, log streams), keeping what it
is sent in memory so that the CLI's reads after its writes see them, and records every request
(method, path, query, JSON body) for the test to assert on. Only the shapes the CLI reads are
emulated; anything else answers 404, which the test sees in the record.
"""

import json
import re
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TOKEN = "deploy-cli-test-token"


class Tenant:
    """What the tenant holds, and the requests it received."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.resource_servers = []
        self.clients = []
        self.client_grants = []
        self.actions = []
        self.bindings = {"post-login": []}
        self.log_streams = []

    def record(self, method, path, query, body):
        with self.lock:
            self.requests.append({"method": method, "path": path, "query": query, "body": body,
                                  "at": time.monotonic()})

    def writes(self):
        with self.lock:
            return [r for r in self.requests if r["method"] in ("POST", "PATCH", "PUT", "DELETE")]


def _page(items, query, key):
    """Auth0's paged list: a bare array, or {key: [...], total, start, limit} with include_totals."""
    page = int(query.get("page", ["0"])[0])
    per_page = int(query.get("per_page", ["50"])[0])
    chunk = items[page * per_page:(page + 1) * per_page]
    if query.get("include_totals", ["false"])[0] == "true":
        return {key: chunk, "total": len(items), "start": page * per_page, "limit": per_page}
    return chunk


def make_handler(tenant):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def _send(self, status, payload=None):
            body = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return json.loads(raw) if raw else None
            except ValueError:
                return {"_raw": raw.decode("utf-8", "replace")}

        def _handle(self, method):
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            body = self._body() if method in ("POST", "PATCH", "PUT") else None
            tenant.record(method, url.path, query, body)
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._send(401, {"statusCode": 401, "error": "Unauthorized"})
            with tenant.lock:
                status, payload = route(tenant, method, url.path, query, body)
            self._send(status, payload)

        def do_GET(self):
            self._handle("GET")

        def do_POST(self):
            self._handle("POST")

        def do_PATCH(self):
            self._handle("PATCH")

        def do_PUT(self):
            self._handle("PUT")

        def do_DELETE(self):
            self._handle("DELETE")

    return Handler


def _find(items, key, value):
    return next((item for item in items if item.get(key) == value), None)


def route(tenant, method, path, query, body):
    """One Management API call against the in-memory tenant: (status, JSON payload)."""
    api = "/api/v2"
    if not path.startswith(api):
        return 404, {"statusCode": 404, "error": "Not Found"}
    path = path[len(api):]

    if path == "/resource-servers":
        if method == "GET":
            return 200, _page(tenant.resource_servers, query, "resource_servers")
        if method == "POST":
            server = {"id": uuid.uuid4().hex[:24], **body}
            tenant.resource_servers.append(server)
            return 201, server
    if path == "/clients":
        if method == "GET":
            return 200, _page(tenant.clients, query, "clients")
        if method == "POST":
            client = {"client_id": uuid.uuid4().hex, "client_secret": uuid.uuid4().hex, **body}
            tenant.clients.append(client)
            return 201, client
    if path == "/client-grants":
        if method == "GET":
            return 200, _page(tenant.client_grants, query, "client_grants")
        if method == "POST":
            grant = {"id": "cgr_" + uuid.uuid4().hex[:16], **body}
            tenant.client_grants.append(grant)
            return 201, grant
    if path == "/actions/actions":
        if method == "GET":
            # Actions are listed with their totals whether or not the client asks.
            return 200, {"actions": tenant.actions, "total": len(tenant.actions), "page": 0,
                         "per_page": len(tenant.actions)}
        if method == "POST":
            action = {"id": str(uuid.uuid4()), "status": "built", "all_changes_deployed": False, **body}
            tenant.actions.append(action)
            return 201, action
    match = re.fullmatch(r"/actions/actions/([^/]+)(/deploy)?", path)
    if match:
        action = _find(tenant.actions, "id", match.group(1))
        if action is None:
            return 404, {"statusCode": 404, "error": "Not Found"}
        if match.group(2) and method == "POST":
            action["all_changes_deployed"] = True
            action["deployed"] = True
            return 200, {"id": str(uuid.uuid4()), "action": action, "deployed": True}
        if method == "GET":
            return 200, action
        if method == "PATCH":
            action.update(body or {})
            return 200, action
    if path == "/log-streams":
        if method == "GET":
            return 200, tenant.log_streams
        if method == "POST":
            stream = {"id": "lst_" + uuid.uuid4().hex[:16], "status": "active", **body}
            tenant.log_streams.append(stream)
            return 200, stream
    if path == "/actions/modules" and method == "GET":
        return 200, {"modules": [], "total": 0, "page": 0, "per_page": 0}
    if path == "/actions/triggers" and method == "GET":
        return 200, {"triggers": [
            {"id": "post-login", "version": "v3", "status": "CURRENT",
             "runtimes": ["node18", "node22"], "default_runtime": "node22",
             "compatible_triggers": []},
        ]}
    match = re.fullmatch(r"/actions/triggers/([^/]+)/bindings", path)
    if match:
        trigger = match.group(1)
        if method == "GET":
            return 200, {"bindings": tenant.bindings.get(trigger, []), "total": len(tenant.bindings.get(trigger, [])),
                         "page": 0, "per_page": 50}
        if method == "PATCH":
            bound = []
            for binding in (body or {}).get("bindings", []):
                ref = binding.get("ref", {})
                action = _find(tenant.actions, ref.get("type", "action_name") == "action_name" and "name" or "id",
                               ref.get("value"))
                bound.append({"id": str(uuid.uuid4()), "trigger_id": trigger,
                              "display_name": binding.get("display_name"), "action": action})
            tenant.bindings[trigger] = bound
            return 200, {"bindings": bound}
    return 404, {"statusCode": 404, "error": "Not Found", "message": f"{method} {api}{path}"}


class Standin:
    """The stand-in on a free loopback port, with its own certificate."""

    def __init__(self, cert, key):
        self.tenant = Tenant()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.tenant))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def domain(self):
        return f"127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.server.shutdown()
        self.server.server_close()
