#!/usr/bin/env bash
# Coverage-guided fuzzing with cargo fuzz (libFuzzer, AddressSanitizer), one target at a time.
# Usage: scripts/fuzz.sh TARGET|all SECONDS
#   targets: upload_pipeline initials avatar_query upload_body crop percent_decode
# Needs nightly (`rustup toolchain install nightly`) and cargo-fuzz (installed when missing).
# Corpora grow in fuzz/corpus/TARGET (seeded from tests/fixtures on the first run), crashes and
# hangs land in fuzz/artifacts/TARGET, logs in fuzz/logs. Not part of CI: a run is a decision.
# Runs at the lowest CPU priority, one libFuzzer process at a time (the machine is shared).
# Never pause a running fuzzer (SIGSTOP): libFuzzer times units in wall time, so a pause is
# reported as a hang. Two targets may run side by side (two invocations) on a 2-core machine.
# VISAGE_FUZZ_PREBUILT=1 runs the binaries already built instead of `cargo fuzz run`.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(upload_pipeline initials avatar_query upload_body crop percent_decode)
target=${1:?usage: scripts/fuzz.sh TARGET|all SECONDS}
seconds=${2:?usage: scripts/fuzz.sh TARGET|all SECONDS}
export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

seed() {
  local name=$1 dir=fuzz/corpus/$1
  [ -n "$(ls -A "$dir" 2>/dev/null)" ] && return
  mkdir -p "$dir"
  case $name in
    upload_pipeline)
      for f in tests/fixtures/*; do [ -f "$f" ] && [ "$(stat -c %s "$f")" -le 1048576 ] && cp "$f" "$dir/"; done ;;
    upload_body)
      # selector 0: multipart (boundary XyZ), 1: raw image/png, 3: own Content-Type line
      for f in tests/fixtures/one-pixel.png tests/fixtures/grey-alpha.png tests/fixtures/truncated.png; do
        { printf '\x05'; cat "$f"; } >"$dir/raw-$(basename "$f")"
        { printf '\x04--XyZ\r\nContent-Disposition: form-data; name="picture"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'
          cat "$f"; printf '\r\n--XyZ\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n--XyZ--\r\n'; } >"$dir/form-$(basename "$f")"
      done
      printf '\x07multipart/form-data; boundary=b\n--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nGIF89a\r\n--b--\r\n' >"$dir/own-type" ;;
    initials)
      i=0
      for t in 'Jane Doe' 'jane.doe@example.com' 'Élodie Ñúñez' 'Иван Петров' 'महात्मा गांधी' 'สมชาย ใจดี' '李小龍' '김민준' 'محمد علي' 'דוד לוי' '👩‍🚀 Astro' ''; do
        for q in '' 'size=64&bg=336699&fg=fff' 's=1024&length=3&shape=circle&bold=true' 'size=16&length=1' 'size=%31%32%38&bg=zzz'; do
          i=$((i + 1)); printf '%b%s?%s' "\\x0$((i % 3))" "$t" "$q" >"$dir/seed-$i"
        done
      done ;;
    avatar_query)
      h=205e460b479e2e5b48aec07710c08d50; s=$(printf '%s' user@example.com | sha256sum | cut -c1-64)
      printf '%s' "$h" >"$dir/md5"
      printf '%s.png?s=200&d=identicon&r=pg' "$h" >"$dir/md5-png"
      printf '%s?size=64&default=initials&name=Jane%%20Doe&forcedefault=y' "$s" >"$dir/sha256"
      printf '%s?d=404&rating=X&initials=JD&f=n' "$s" >"$dir/d404"
      printf '%s?d=https%%3A%%2F%%2Fevil.example%%2Fa.png&s=0' "$s" >"$dir/url-default" ;;
    crop)
      # selector byte (which picture, fuzz/src/lib.rs CROP_SOURCES), then `x,y,w,h`
      i=0
      for c in '0,0,1600,1200' '100,50,16,16' '1584,1184,16,16' '0,0,1601,1200' '3,5,18,16' ' 40 , 30 , 700 , 500 ' '0,0,15,900' '4294967295,0,16,16'; do
        for s in 0 1 2 3 4 5; do i=$((i + 1)); printf '%b%s' "\\x0$s" "$c" >"$dir/seed-$i"; done
      done ;;
    percent_decode)
      i=0
      for t in 'Jane%20Doe' '%C3%A9lodie' '%e9' '%' '%%41' '%zz%2' 'caf%C3%A9%20%E2%98%95' '100%25' 'a/b%2Fc'; do
        i=$((i + 1)); printf '%s' "$t" >"$dir/seed-$i"
      done ;;
    *) echo "unknown target $name (one of: ${targets[*]})" >&2; exit 2 ;;
  esac
}

run() {
  local name=$1 stamp
  seed "$name"
  mkdir -p fuzz/logs "fuzz/artifacts/$name"
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  echo "== $name for ${seconds}s (log fuzz/logs/$name-$stamp.log)" >&2
  # -timeout: an input running longer than 10 s is a hang and is saved as an artifact.
  local flags=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="artifacts/$name/")
  # actix-web's TestRequest (used to build the HttpRequest these targets parse) keeps an Rc
  # cycle that LeakSanitizer reports on the first input; it is test scaffolding, not visage.
  case $name in initials|upload_body) flags+=(-detect_leaks=0) ;; esac
  if [ -n "${VISAGE_FUZZ_PREBUILT:-}" ]; then
    # The binaries of the last `cargo fuzz build`, without checking they are up to date.
    ( cd fuzz && nice -n 19 "target/x86_64-unknown-linux-gnu/release/$name" "${flags[@]}" "corpus/$name" ) \
      >"fuzz/logs/$name-$stamp.log" 2>&1 && status=0 || status=$?
  else
    ( cd fuzz && nice -n 19 cargo +nightly fuzz run "$name" "corpus/$name" -- "${flags[@]}" ) \
      >"fuzz/logs/$name-$stamp.log" 2>&1 && status=0 || status=$?
  fi
  grep -E '^stat::|^#[0-9]+ +DONE' "fuzz/logs/$name-$stamp.log" >&2 || true
  [ "$status" = 0 ] || { echo "!! $name stopped with status $status: see the log and fuzz/artifacts/$name" >&2; return "$status"; }
}

if [ "$target" = all ]; then
  failed=0
  for t in "${targets[@]}"; do run "$t" || failed=1; done
  exit "$failed"
fi
run "$target"
