"""deploy/systemd: systemd's own verifier and offline security audit on the units, and what
they must hold (a dynamic user, state and credentials shared by server and gc, gc then
reconcile, a timer)."""

import os
import re
import shutil
import subprocess

import pytest

from conftest import BINARY, DEPLOY, missing, run, tool

UNITS = ["visage.service", "visage-gc.service", "visage-gc.timer"]
# systemd-analyze security's exposure, from 0 (locked down) to 10, in the tenths that its
# --threshold takes: the units stay in what it calls "OK" (below 2.0).
MAX_EXPOSURE = "20"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A root folder with the units installed where systemd looks, the system's own units
    beside them, and the binary at ExecStart's path (verify checks that it is executable)."""
    tool("systemd-analyze", "Debian package systemd")
    root = tmp_path_factory.mktemp("systemd-root")
    system = root / "etc" / "systemd" / "system"
    system.mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(DEPLOY / "systemd" / unit, system / unit)
    shutil.copytree("/usr/lib/systemd/system", root / "usr" / "lib" / "systemd" / "system",
                    symlinks=True)
    binary = root / "usr" / "local" / "bin" / "visage"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    return root


def test_units_pass_systemd_analyze_verify(root):
    result = run(["systemd-analyze", "verify", f"--root={root}", *UNITS], check=False)
    # Unknown keys and bad values are warnings on stderr that keep the exit status at 0.
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


@pytest.mark.parametrize("unit", ["visage.service", "visage-gc.service"])
def test_services_pass_the_offline_security_audit(root, unit):
    result = run(["systemd-analyze", "security", "--offline=true", f"--root={root}",
                  f"--threshold={MAX_EXPOSURE}", "--no-pager", unit], check=False)
    verdict = next((l for l in result.stdout.splitlines() if "Overall exposure level" in l), "")
    assert result.returncode == 0, f"{verdict or result.stdout[-2000:]}\n{result.stderr}"


def unit(name):
    """{(section, key): [values]}: repeated keys (LoadCredential=, SystemCallFilter=) are lists."""
    text = (DEPLOY / "systemd" / name).read_text()
    values = {}
    section = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        values.setdefault((section, key), []).append(value)
    return values


def test_server_and_gc_share_user_state_settings_and_credentials():
    server, gc = unit("visage.service"), unit("visage-gc.service")
    for key in ["DynamicUser", "User", "StateDirectory", "EnvironmentFile", "LoadCredential",
                "WorkingDirectory", "Environment"]:
        assert server[("Service", key)] == gc[("Service", key)], key
    assert server[("Service", "DynamicUser")] == ["yes"]
    assert server[("Service", "StateDirectory")] == ["visage"]
    assert "VISAGE__STORAGE__FS__ROOT=/var/lib/visage" in server[("Service", "Environment")]
    assert server[("Service", "ExecStart")] == ["/usr/local/bin/visage serve"]
    assert gc[("Service", "ExecStart")] == ["/usr/local/bin/visage gc",
                                            "/usr/local/bin/visage reconcile"]
    assert gc[("Service", "Type")] == ["oneshot"]
    # The drain (server.shutdown_timeout_secs, 30 s) fits in the stop timeout.
    assert int(server[("Service", "TimeoutStopSec")][0]) > 30
    timer = unit("visage-gc.timer")
    assert timer[("Timer", "OnCalendar")] and timer[("Timer", "Persistent")] == ["true"]


def test_the_example_settings_are_settings_visage_knows(tmp_path):
    if not BINARY.is_file():
        missing(f"no visage binary at {BINARY}: run `cargo build` (scripts/test does) first")
    env = {}
    for line in (DEPLOY / "systemd" / "visage.env").read_text().splitlines():
        # Commented-out keys too: each is meant to be switched on.
        line = line.lstrip("#").strip()
        if re.fullmatch(r"VISAGE__[A-Z0-9_]+=\S*", line):
            key, _, value = line.partition("=")
            env[key] = value
    assert "VISAGE__AUTH0__MANAGEMENT__CLIENT_SECRET_FILE" in env
    # The *_FILE keys are relative to the credentials directory, the working directory.
    for key, value in env.items():
        if key.endswith("_FILE"):
            (tmp_path / value).write_text("made-up")
    env["VISAGE__SERVER__BIND"] = "127.0.0.1:9"
    result = subprocess.run([BINARY, "healthcheck"], env={"PATH": os.environ["PATH"], **env},
                            cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert "invalid settings" not in result.stderr, result.stderr
    assert "cannot reach 127.0.0.1:9" in result.stderr, result.stderr
