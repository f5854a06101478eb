"""deploy/compose.yaml brought up for real with podman-compose: Garage made ready by the stack's
own one-shot services, visage on it with secrets from files, an upload through the stack with a
real token, and the picture read back after the whole stack went down and came up again.

The only override (written here) is networking: no container network on these machines, so
every service shares the host's, each on free loopback ports, and images come from the local
stand-ins (tests/deploy/garage.Dockerfile, deploy/image/local-base.sh)."""

import json
import os
import textwrap
import time
import uuid

import pytest

from conftest import DEPLOY, FIXTURES, free_port, http, ready, run, sha256, tool, upload, wait_until


class Stack:
    def __init__(self, compose, project, files, env):
        self.compose, self.project, self.files, self.env = compose, project, files, env

    def __call__(self, *args, check=True, timeout=600):
        command = [self.compose, "--project-name", self.project]
        for file in self.files:
            command += ["--file", file]
        return run(command + list(args), check=check, timeout=timeout, env=self.env)

    def container(self, service):
        return f"{self.project}_{service}_1"


@pytest.fixture(scope="module")
def stack(podman, base_images, visage_image, garage_image, tenant, tmp_path_factory):
    compose = tool("podman-compose", "PyPI podman-compose")
    work = tmp_path_factory.mktemp("compose")
    ports = {name: free_port() for name in ("s3", "rpc", "admin", "http", "metrics")}
    garage_toml = work / "garage.toml"
    garage_toml.write_text(
        (DEPLOY / "garage" / "garage.toml").read_text()
        .replace('"[::]:3901"', f'"127.0.0.1:{ports["rpc"]}"')
        .replace('"garage:3901"', f'"127.0.0.1:{ports["rpc"]}"')
        .replace('"[::]:3900"', f'"127.0.0.1:{ports["s3"]}"')
        .replace('"[::]:3903"', f'"127.0.0.1:{ports["admin"]}"')
    )
    base = f"http://127.0.0.1:{ports['http']}"
    override = work / "compose.host-network.yaml"
    override.write_text(textwrap.dedent(f"""\
        services:
          secrets:
            network_mode: host
          garage:
            network_mode: host
            volumes: !override
              - {garage_toml}:/etc/garage.toml:ro
              - garage-secrets:/run/secrets/garage:ro
              - garage-meta:/var/lib/garage/meta
              - garage-data:/var/lib/garage/data
          garage-init:
            network_mode: host
            volumes: !override
              - {garage_toml}:/etc/garage.toml:ro
              - garage-secrets:/run/secrets/garage:ro
              - visage-secrets:/run/secrets/visage:ro
              - garage-meta:/var/lib/garage/meta:ro
          visage:
            network_mode: host
            ports: !reset []
            environment:
              VISAGE__SERVER__BIND: 127.0.0.1:{ports['http']}
              VISAGE__SERVER__METRICS_BIND: 127.0.0.1:{ports['metrics']}
              VISAGE__STORAGE__S3__ENDPOINT: http://127.0.0.1:{ports['s3']}
        """))
    project = f"visage-test-{uuid.uuid4().hex[:6]}"
    env = dict(
        os.environ,
        VISAGE_IMAGE=visage_image,
        GARAGE_IMAGE=garage_image,
        INIT_SHELL_IMAGE=base_images["shell"],
        GARAGE_VERSION="test",
        VISAGE_PUBLIC_URL=base,
        AUTH0_ISSUER=tenant.issuer,
        AUTH0_AUDIENCE=tenant.AUDIENCE,
    )
    stack = Stack(compose, project, [DEPLOY / "compose.yaml", override], env)
    stack.base, stack.metrics = base, f"http://127.0.0.1:{ports['metrics']}"
    try:
        yield stack
    finally:
        for service in ("garage-init", "garage", "visage"):
            logs = run([podman, "logs", stack.container(service)], check=False)
            print(f"--- {service}\n{logs.stdout[-2000:]}{logs.stderr[-2000:]}")
        stack("down", "--volumes", check=False)
        run([podman, "image", "rm", "--force", "localhost/visage-garage-init:test"], check=False)
        # Both one-shot services build the helper image: the first build is left untagged.
        run([podman, "image", "prune", "--force",
             "--filter", "label=org.opencontainers.image.title=visage-garage-init"], check=False)


def up(stack):
    """`compose up -d`, then the seconds until /readyz answers 200 (printed, never asserted)."""
    started = time.monotonic()
    stack("up", "--detach")
    wait_until("the stack's visage answers /readyz", lambda: ready(stack.base), seconds=180)
    return time.monotonic() - started


def test_compose_stack_serves_uploads_that_survive_a_restart(stack, podman, tenant):
    print(f"compose up to a ready /readyz: {up(stack):.1f} s")

    # Secrets from files that the one-shot service made: visage reads its S3 key as 65532.
    visage = json.loads(run([podman, "inspect", stack.container("visage")]).stdout)[0]
    env = dict(item.split("=", 1) for item in visage["Config"]["Env"])
    assert env["VISAGE__STORAGE__S3__SECRET_ACCESS_KEY_FILE"] == "/run/secrets/visage/s3_secret_access_key"
    assert "VISAGE__STORAGE__S3__SECRET_ACCESS_KEY" not in env
    assert visage["HostConfig"]["ReadonlyRootfs"] is True
    assert visage["Config"]["User"] == "65532:65532"

    status, _, body = http("GET", f"{stack.metrics}/metrics")
    assert status == 200 and b"visage_http_requests_total" in body

    token = tenant.token("auth0|compose-user")
    status, created = upload(stack.base, token, FIXTURES / "small-100.jpg")
    assert status == 201, created
    assert created["user_id"] == "auth0|compose-user"
    picture = f"{stack.base}/pictures/{created['key']}"
    status, _, before = http("GET", picture)
    assert status == 200 and sha256(before) == created["sha256"]

    # Down (containers gone, named volumes kept) and up again: the one-shot steps run again
    # and change nothing, and the picture is still in Garage.
    stack("down")
    print(f"compose up again to a ready /readyz: {up(stack):.1f} s")
    status, _, after = http("GET", picture)
    assert status == 200 and after == before
    init = run([podman, "logs", stack.container("secrets")])
    assert "made " not in init.stdout + init.stderr, "the secrets were made again"
