# Sourced by bench/avatar.sh and bench/initials.sh: sets workers, pin_server, pin_load, setup.
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
