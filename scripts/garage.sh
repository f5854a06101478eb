#!/usr/bin/env bash
# Starts a one-node Garage on free loopback ports in a temporary folder and prints, as
# shell assignments, how to reach it. Usage: eval "$(scripts/garage.sh start DIR)"; stop: scripts/garage.sh stop DIR
set -euo pipefail

cmd=${1:?start|stop}
dir=${2:?folder}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Stops the process named by a pid file and waits until it is gone (a zombie is gone: only its
# parent can reap it): SIGTERM, then SIGKILL after 10 s.
stop_pidfile() {
  local pidfile=$1 pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$pidfile"
}
alive() { local state; state=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $state != Z* ]]; }

case "$cmd" in
stop)
  stop_pidfile "$dir/garage.pid"
  exit 0
  ;;
start) ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac

command -v garage >/dev/null || { echo "garage is not on PATH" >&2; exit 1; }
mkdir -p "$dir/meta" "$dir/data"
rpc=$(free_port); s3=$(free_port); admin=$(free_port)
secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
cat >"$dir/garage.toml" <<TOML
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$secret"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin"
TOML
chmod 600 "$dir/garage.toml"
g() { garage -c "$dir/garage.toml" "$@"; }

RUST_LOG=warn garage -c "$dir/garage.toml" server >"$dir/garage.log" 2>&1 &
echo $! >"$dir/garage.pid"

# `node id` reads the key from disk and can answer before the RPC port listens, so wait for
# `status` (which goes through RPC) before changing the layout; on a busy machine that takes a while.
node=""
for _ in $(seq 1 300); do
  if g status >/dev/null 2>&1; then
    node=$(g node id -q 2>/dev/null | cut -d@ -f1) || node=""
    [[ "$node" =~ ^[0-9a-f]{64}$ ]] && break
  fi
  node=""
  sleep 0.2
done
[ -n "$node" ] || { echo "garage did not start within 60 s; its log:" >&2; cat "$dir/garage.log" >&2; exit 1; }

g layout assign -z dc1 -c 1G "$node" >/dev/null
g layout apply --version 1 >/dev/null
key_id="GK$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
key_secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
g key import --yes -n visage-test "$key_id" "$key_secret" >/dev/null
g bucket create visage-test >/dev/null
g bucket allow --read --write --owner visage-test --key visage-test >/dev/null

# The S3 API answers once the layout has propagated.
for _ in $(seq 1 100); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$s3/" || true)
  [ "$code" != "000" ] && break
  sleep 0.1
done

cat <<ENV
export VISAGE_TEST_S3_ENDPOINT=http://127.0.0.1:$s3
export VISAGE_TEST_S3_REGION=garage
export VISAGE_TEST_S3_BUCKET=visage-test
export VISAGE_TEST_S3_ACCESS_KEY_ID=$key_id
export VISAGE_TEST_S3_SECRET_ACCESS_KEY=$key_secret
export VISAGE_TEST_GARAGE_PID=$(cat "$dir/garage.pid")
ENV
