#!/usr/bin/env bash
# Starts a three-node Garage cluster (replication factor 3, one zone per node) on free loopback
# ports in a temporary folder and prints, as shell assignments, how to reach it: one S3 endpoint
# per node, the key, and each node's folder (its garage.toml and garage.pid), so that a test can
# kill a node and start it again with `garage -c DIR/nodeN/garage.toml server`.
# Usage: eval "$(scripts/garage-cluster.sh start DIR)"; stop: scripts/garage-cluster.sh stop DIR
set -euo pipefail

cmd=${1:?start|stop}
dir=${2:?folder}
nodes=(1 2 3)

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
  for n in "${nodes[@]}"; do
    stop_pidfile "$dir/node$n/garage.pid"
  done
  exit 0
  ;;
start) ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac

command -v garage >/dev/null || { echo "garage is not on PATH" >&2; exit 1; }
secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
declare -A rpc s3
for n in "${nodes[@]}"; do
  node_dir="$dir/node$n"
  mkdir -p "$node_dir/meta" "$node_dir/data"
  rpc[$n]=$(free_port); s3[$n]=$(free_port); admin=$(free_port)
  cat >"$node_dir/garage.toml" <<TOML
metadata_dir = "$node_dir/meta"
data_dir = "$node_dir/data"
db_engine = "sqlite"
replication_factor = 3
rpc_bind_addr = "127.0.0.1:${rpc[$n]}"
rpc_public_addr = "127.0.0.1:${rpc[$n]}"
rpc_secret = "$secret"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:${s3[$n]}"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin"
TOML
  chmod 600 "$node_dir/garage.toml"
  RUST_LOG=warn garage -c "$node_dir/garage.toml" server >"$node_dir/garage.log" 2>&1 &
  echo $! >"$node_dir/garage.pid"
done
g() { local n=$1; shift; garage -c "$dir/node$n/garage.toml" "$@"; }

# Each node answers over RPC before the cluster is wired (see scripts/garage.sh for why `status`).
declare -A id
for n in "${nodes[@]}"; do
  id[$n]=""
  for _ in $(seq 1 300); do
    if g "$n" status >/dev/null 2>&1; then
      id[$n]=$(g "$n" node id -q 2>/dev/null | cut -d@ -f1) || id[$n]=""
      [[ "${id[$n]}" =~ ^[0-9a-f]{64}$ ]] && break
    fi
    id[$n]=""
    sleep 0.2
  done
  [ -n "${id[$n]}" ] || { echo "garage node $n did not start within 60 s; its log:" >&2; cat "$dir/node$n/garage.log" >&2; exit 1; }
done

for n in 2 3; do
  for _ in $(seq 1 50); do
    g 1 node connect "${id[$n]}@127.0.0.1:${rpc[$n]}" >/dev/null 2>&1 && break
    sleep 0.2
  done
done
for n in "${nodes[@]}"; do
  g 1 layout assign -z "dc$n" -c 1G "${id[$n]}" >/dev/null
done
g 1 layout apply --version 1 >/dev/null

key_id="GK$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
key_secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
# The layout reaches every node, and the key and bucket a write quorum, within a few seconds.
for _ in $(seq 1 100); do
  g 1 key import --yes -n visage-test "$key_id" "$key_secret" >/dev/null 2>&1 && break
  sleep 0.2
done
g 1 bucket create visage-test >/dev/null
g 1 bucket allow --read --write --owner visage-test --key visage-test >/dev/null

# Every node's S3 API answers (it does once it knows the layout).
for n in "${nodes[@]}"; do
  for _ in $(seq 1 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${s3[$n]}/" || true)
    [ "$code" != "000" ] && break
    sleep 0.1
  done
done

cat <<ENV
export VISAGE_TEST_CLUSTER_S3_ENDPOINTS=http://127.0.0.1:${s3[1]},http://127.0.0.1:${s3[2]},http://127.0.0.1:${s3[3]}
export VISAGE_TEST_CLUSTER_DIR=$dir
export VISAGE_TEST_CLUSTER_BUCKET=visage-test
export VISAGE_TEST_CLUSTER_ACCESS_KEY_ID=$key_id
export VISAGE_TEST_CLUSTER_SECRET_ACCESS_KEY=$key_secret
ENV
