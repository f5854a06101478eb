#!/usr/bin/env bash
# Local stand-ins for the stack's base images, made from Debian's own packages, for machines
# that reach Debian's archive but no image registry. Prints the image's name.
#   runtime: for gcr.io/distroless/cc-debian12:nonroot (the visage image's default base): glibc,
#            libgcc, OpenSSL, CA certificates, time zones, /etc/services, users root, nobody and
#            nonroot (65532); no shell, no package manager.
#   shell:   for debian:bookworm-slim (the Garage init helper's base in deploy/compose.yaml):
#            the same plus busybox as /bin/sh and its tools.
# Usage: deploy/image/local-base.sh [runtime|shell] [IMAGE]
#        (default IMAGE: localhost/visage-base:bookworm, localhost/visage-base:bookworm-shell)
# Env: VISAGE_BASE_CACHE, a folder that keeps the tarballs between runs (default
#      ~/.cache/visage); CONTAINER_ENGINE (podman, else docker).
set -euo pipefail

kind=${1:-runtime}
case "$kind" in
runtime) image=${2:-localhost/visage-base:bookworm}; extra="" ;;
shell) image=${2:-localhost/visage-base:bookworm-shell}; extra=",busybox-static" ;;
*) echo "usage: $0 [runtime|shell] [IMAGE]" >&2; exit 2 ;;
esac
engine=${CONTAINER_ENGINE:-$(command -v podman >/dev/null && echo podman || echo docker)}
cache=${VISAGE_BASE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/visage}
# The recipe's version: a change to this file makes new tarballs.
recipe=$(sha256sum "$0" | cut -c1-16)
tarball="$cache/visage-base-bookworm-$kind-$recipe.tar"

label() { "$engine" image inspect --format '{{ index .Config.Labels "org.visage.base-recipe" }}' "$image" 2>/dev/null || true; }
if [ "$(label)" = "$recipe-$kind" ]; then
  echo "$image"
  exit 0
fi
command -v mmdebstrap >/dev/null || { echo "local-base.sh needs mmdebstrap (apt-get install mmdebstrap)" >&2; exit 1; }
mkdir -p "$cache"
if [ ! -s "$tarball" ]; then
  rm -f "$cache"/visage-base-bookworm-"$kind"-*.tar
  # `extract` unpacks the packages without running their maintainer scripts (there is no
  # shell to run them with); the hook does the little those scripts would have done here.
  # shellcheck disable=SC2016 # the hook's $1 (the new root) is mmdebstrap's, not ours
  mmdebstrap --quiet --variant=extract --architectures=amd64 \
    --include="base-files,netbase,tzdata,libc6,libgcc-s1,libssl3,ca-certificates$extra" \
    --extract-hook='set -e; cd "$1"
      find usr/share/ca-certificates -name "*.crt" | sort | xargs cat > etc/ssl/certs/ca-certificates.crt
      printf "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n" > etc/passwd
      printf "root:x:0:\nnogroup:x:65534:\nnonroot:x:65532:\n" > etc/group
      mkdir -p home/nonroot tmp root && chown 65532:65532 home/nonroot && chmod 1777 tmp && chmod 0700 root
      if [ -x bin/busybox ]; then for a in $(bin/busybox --list); do [ -e "bin/$a" ] || [ -e "usr/bin/$a" ] || ln -s busybox "bin/$a"; done; fi
      rm -rf usr/share/doc usr/share/man usr/share/info usr/share/lintian var/lib/apt/lists/* var/cache/apt/*' \
    bookworm "$cache/partial-$kind-$recipe.tar"
  mv "$cache/partial-$kind-$recipe.tar" "$tarball"
fi
changes=(
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin'
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt'
  --change "LABEL org.visage.base-recipe=$recipe-$kind"
)
# Distroless' `nonroot` tag runs as 65532; debian:bookworm-slim runs as root.
[ "$kind" = runtime ] && changes+=(--change 'USER 65532:65532' --change 'WORKDIR /home/nonroot')
# The previous import of an older recipe would stay behind untagged.
"$engine" image rm "$image" >/dev/null 2>&1 || true
"$engine" import "${changes[@]}" "$tarball" "$image" >/dev/null
echo "$image"
