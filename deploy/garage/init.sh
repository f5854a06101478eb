#!/bin/sh
# deploy/compose.yaml's one-shot steps; each is idempotent, so every `compose up` reruns them.
#   secrets: makes the stack's secrets once (random), in the volumes mounted at
#            /run/secrets/garage (Garage's RPC secret, root only) and /run/secrets/visage
#            (the S3 key, readable by visage's user 65532 only). Existing files are kept.
#   cluster: waits for the secrets and for Garage, then gives the node its role (layout), imports the S3 key and
#            makes the bucket, granting the key read and write on it.
# Env: VISAGE_BUCKET (default visage), GARAGE_CAPACITY (default 10G), GARAGE_RPC_SECRET_FILE.
set -eu

bucket=${VISAGE_BUCKET:-visage}
visage_uid=65532

random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

write_secret() { # FILE OWNER MODE VALUE: only when FILE is missing
  [ -s "$1" ] && return 0
  umask 077
  printf '%s' "$4" >"$1.tmp"
  chown "$2" "$1.tmp"
  chmod "$3" "$1.tmp"
  mv "$1.tmp" "$1"
  echo "made $1"
}

secrets() {
  write_secret /run/secrets/garage/rpc_secret 0:0 0600 "$(random_hex 32)"
  write_secret /run/secrets/visage/s3_access_key_id "$visage_uid:$visage_uid" 0400 "GK$(random_hex 12)"
  write_secret /run/secrets/visage/s3_secret_access_key "$visage_uid:$visage_uid" 0400 "$(random_hex 32)"
}

g() { garage -c /etc/garage.toml "$@"; }

cluster() {
  tries=0
  until [ -s /run/secrets/visage/s3_secret_access_key ] && g status >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -le 240 ] || { echo "Garage did not answer within 120 s" >&2; g status; exit 1; }
    sleep 0.5
  done
  if g status | grep -q 'NO ROLE ASSIGNED'; then
    # The one node: an empty prefix matches the only node id there is.
    g layout assign -z dc1 -c "${GARAGE_CAPACITY:-10G}" ""
  fi
  version=$(g layout show | sed -n 's/.*garage layout apply --version \([0-9][0-9]*\).*/\1/p')
  [ -z "$version" ] || g layout apply --version "$version"
  key_id=$(cat /run/secrets/visage/s3_access_key_id)
  if ! g key info "$key_id" >/dev/null 2>&1; then
    g key import --yes -n visage "$key_id" "$(cat /run/secrets/visage/s3_secret_access_key)" >/dev/null
    echo "imported the S3 key $key_id"
  fi
  g bucket info "$bucket" >/dev/null 2>&1 || g bucket create "$bucket"
  g bucket allow --read --write "$bucket" --key "$key_id"
}

case "${1:-}" in
secrets) secrets ;;
cluster) cluster ;;
*) echo "usage: visage-garage-init secrets|cluster" >&2; exit 2 ;;
esac
