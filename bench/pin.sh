# Sourced by bench/avatar.sh and bench/initials.sh: sets workers, pin_server, pin_load, setup, and
# defines the rounds' helpers (in_round_order, median).
# Pinning (the default on 2+ cores): wrk on the first core, the servers on the others with one
# worker per core. Unpinned on a 2-core machine, wrk and two workers take turns on two cores and
# the wait for a core, not the server, sets p99 (visage idles between batches more often than
# nginx, so it waits more). BENCH_PIN=0 runs unpinned with 2 workers each.
if [ "${BENCH_PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ]; then
  workers=$(( $(nproc) - 1 ))
  pin_server=(taskset -c "1-$workers"); pin_load=(taskset -c 0)
  setup="pinned: wrk on core 0, servers on cores 1-$workers, $workers worker(s) each"
else
  workers=2; pin_server=(); pin_load=()
  setup="unpinned, 2 workers each"
fi

# The contenders of round $1 in the order they run: as given in odd rounds, reversed in even ones
# (A B C D, D C B A, …), so that a machine slowing down or speeding up during a round favours no
# contender over two rounds.
in_round_order() { local round=$1; shift; if (( round % 2 )); then printf '%s\n' "$@"; else printf '%s\n' "$@" | tac; fi; }
# The median of the numbers on stdin, one per line.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# nginx's `access_log` for a file (or `off`), buffered as visage's request log is: visage appends
# lines to a 64 KiB batch that the request filling it writes, and flushes leftovers every 100 ms.
nginx_log() { if [ "$1" = off ]; then echo off; else echo "$1 combined buffer=64k flush=100ms"; fi; }
