"""Shared fixtures of the deployment checks: the repository, the tools, the images.

tests/deploy/run.sh installs the tools and runs these checks; scripts/test calls it. Under it
(VISAGE_TEST_REQUIRE_DEPLOY=1) or CI=true, a missing tool fails its check with a sentence;
run by hand without them, it skips with the same sentence.
"""

import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
FIXTURES = REPO / "tests" / "fixtures"
# The binary packaged into the test image: the one `cargo test` already built (scripts/image
# builds the release image; a second build from nothing would cost CI 10+ minutes).
BINARY = Path(os.environ.get("VISAGE_DEPLOY_BINARY", REPO / "target" / "debug" / "visage"))
TEST_IMAGE = "localhost/visage:deploy-test"
GARAGE_IMAGE = "localhost/visage-test-garage:latest"


def required():
    return os.environ.get("VISAGE_TEST_REQUIRE_DEPLOY") == "1" or os.environ.get("CI") == "true"


def missing(sentence):
    """A dependency is missing: fail under the suite or CI, else skip, saying which."""
    if required():
        pytest.fail(sentence, pytrace=False)
    pytest.skip(sentence)


def tool(name, hint):
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed ({hint}); tests/deploy/run.sh installs it")
    return path


def run(args, check=True, timeout=600, **kwargs):
    """A command, its output captured; a failure shows both streams."""
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, **kwargs
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
        )
    return result


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=10):
    """(status, headers (case-insensitive), body bytes) of one request; HTTP errors are answers,
    not exceptions."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def wait_until(what, probe, seconds=120, interval=0.25):
    """Polls `probe` until it returns something true; bounded, never a measurement."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            last = probe()
            if last:
                return last
        except OSError as error:  # not listening yet
            last = error
        time.sleep(interval)
    raise AssertionError(f"{what} within {seconds} s (last: {last!r})")


def ready(base):
    status, _, _ = http("GET", f"{base}/readyz", timeout=2)
    return status == 200


@pytest.fixture(scope="session")
def podman():
    path = tool("podman", "Debian package podman, with runc")
    if not os.environ.get("CONTAINERS_CONF"):
        os.environ["CONTAINERS_CONF"] = str(REPO / "tests" / "deploy" / "containers.conf")
    return path


@pytest.fixture(scope="session")
def base_images(podman):
    """The local stand-ins for distroless/cc-debian12 and debian:bookworm-slim."""
    tool("mmdebstrap", "Debian package mmdebstrap")
    runtime = run([DEPLOY / "image" / "local-base.sh", "runtime"]).stdout.split()[-1]
    shell = run([DEPLOY / "image" / "local-base.sh", "shell"]).stdout.split()[-1]
    return {"runtime": runtime, "shell": shell}


@pytest.fixture(scope="session")
def visage_image(podman, base_images):
    """The image of deploy/image/Dockerfile over the test build, made by scripts/image."""
    if not BINARY.is_file():
        missing(f"no visage binary at {BINARY}: run `cargo build` (scripts/test does) first")
    env = dict(
        os.environ,
        VISAGE_BINARY=str(BINARY),
        VISAGE_BASE_IMAGE=base_images["runtime"],
        VISAGE_IMAGE=TEST_IMAGE,
    )
    run([REPO / "scripts" / "image"], env=env)
    yield TEST_IMAGE
    # Built anew by every run: leave no layers behind (the base images stay, as a cache).
    run([podman, "image", "rm", "--force", TEST_IMAGE], check=False)


@pytest.fixture(scope="session")
def garage_image(podman, base_images, tmp_path_factory):
    """A Garage image from the installed Garage binary (the suite's stand-in for dxflrs/garage)."""
    garage = shutil.which("garage") or str(Path.home() / ".cargo" / "bin" / "garage")
    if not Path(garage).is_file():
        missing("garage is not installed (cargo install garage --locked; scripts/test does)")
    context = tmp_path_factory.mktemp("garage-image")
    shutil.copy2(garage, context / "garage")
    run([
        podman, "build", "--format", "docker", "--build-arg", f"BASE_IMAGE={base_images['runtime']}",
        "--file", REPO / "tests" / "deploy" / "garage.Dockerfile", "--tag", GARAGE_IMAGE, context,
    ])
    yield GARAGE_IMAGE
    run([podman, "image", "rm", "--force", GARAGE_IMAGE], check=False)


class Tokens:
    """RS256 access tokens from the committed test tenant's key (tests/fixtures/keys), signed by
    openssl, and the JWKS that verifies them, served on a loopback port."""

    KID = "tenant-key-1"
    AUDIENCE = "https://visage.test/api"

    def __init__(self, issuer):
        self.issuer = issuer

    def token(self, sub):
        def part(obj):
            raw = json.dumps(obj, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        now = int(time.time())
        signing_input = ".".join([
            part({"alg": "RS256", "typ": "JWT", "kid": self.KID}),
            part({"iss": self.issuer, "aud": self.AUDIENCE, "sub": sub, "iat": now, "exp": now + 3600}),
        ])
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", FIXTURES / "keys" / "tenant.pem"],
            input=signing_input.encode(), capture_output=True, check=True,
        ).stdout
        return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


@pytest.fixture(scope="session")
def tenant():
    """A stand-in issuer whose JWKS is the committed test tenant's."""
    import http.server
    import threading

    jwks = (FIXTURES / "keys" / "tenant.jwks.json").read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def do_GET(self):
            if self.path != "/.well-known/jwks.json":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(jwks)))
            self.end_headers()
            self.wfile.write(jwks)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Tokens(f"http://127.0.0.1:{server.server_address[1]}/")
    server.shutdown()
    server.server_close()


def upload(base, token, path):
    """POST /v1/me/picture with the raw image; (status, JSON body)."""
    status, _, body = http(
        "POST", f"{base}/v1/me/picture", body=path.read_bytes(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "image/jpeg"},
        timeout=30,
    )
    return status, json.loads(body)


def sha256(data):
    return hashlib.sha256(data).hexdigest()
