#!/usr/bin/env bash
# Mutation testing of the domain's decision code with cargo-mutants: each mutant (an operator
# flipped, a return value replaced) is built and the library's unit tests run against it; a
# mutant that the tests do not notice is "missed". docs/RELIABILITY.md keeps the record and the
# survivors accepted. Not part of CI (each mutant is a rebuild: minutes per file on 2 cores).
# Usage: scripts/mutants.sh [FILE ...]   (default: every decision file below)
#   VISAGE_MUTANTS_IN_PLACE=1 mutates this checkout itself (faster: no copy, the warm target
#   folder), then restores each file; never use it on a tree with uncommitted work.
# Results: mutants.out/FILE/{caught,missed,timeout,unviable}.txt, one summary line per file.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
command -v cargo-mutants >/dev/null || cargo install cargo-mutants --locked --version 27.1.0

# Authorization, rate limits, cache weighing and expiry, crop, keys and prefixes, cleanup's
# grace rule, negotiation, the stand-in policy.
decision_files=(
  src/domain/access.rs src/ports/tokens.rs src/domain/rate_limit.rs
  src/domain/avatar/cache_policy.rs src/domain/cache.rs src/ports/store.rs
  src/domain/picture.rs src/domain/cleanup.rs src/http/negotiate.rs src/domain/image/crop.rs
)
files=("$@")
[ ${#files[@]} -gt 0 ] || files=("${decision_files[@]}")

flags=(--no-shuffle --timeout 60 --build-timeout 900
  # The unit tests (the suite runs them too); no debug info for the crate under test, so a
  # mutant rebuilds in seconds rather than linking a 600 MB test binary.
  -C --lib -C --config=profile.dev.package.visage.debug=false)
[ -n "${VISAGE_MUTANTS_IN_PLACE:-}" ] && flags+=(--in-place --baseline skip)

status=0
for file in "${files[@]}"; do
  out=mutants.out/$(tr / _ <<<"$file")
  mkdir -p "$out"
  nice -n 19 cargo mutants "${flags[@]}" -f "$file" -o "$out" >"$out.log" 2>&1 || status=1
  echo "$file: $(tail -1 "$out.log")"
  if [ -n "${VISAGE_MUTANTS_IN_PLACE:-}" ] && ! git diff --quiet -- "$file"; then
    echo "!! $file is still mutated: git checkout -- $file" >&2; exit 2
  fi
done
exit "$status"
