#!/usr/bin/env python3
"""Self time of a `perf record` profile, summed by crate: the kernel, libc, and each Rust crate
(the first path segment of a demangled symbol; `<T as crate::Trait>::f` counts for the crate of
`T`). Used by bench/profile.sh and bench/initials.sh.

Usage: perf report -i perf.data --no-children --sort symbol --stdio 2>/dev/null |
       perf-by-crate.py [TOP]
Prints "crate share%" lines, largest first (TOP of them, default 12).
"""

import re
import sys
from collections import Counter

LINE = re.compile(r"^\s+([0-9.]+)%\s+\[(.)\]\s+(.*?)\s*$")
LIBC = ("__memmove", "__memcpy", "__memset", "__memcmp", "__strlen", "malloc", "free", "_int_",
        "cfree", "realloc", "__libc", "pthread", "__GI_", "__lll", "syscall", "epoll_wait",
        "__send", "__recv", "__write", "__read", "clock_gettime", "__vdso", "__clock", "roundf",
        "__futex")


def crate_of(kind, symbol):
    if kind == "k":
        return "kernel"
    symbol = symbol.strip()
    if symbol.startswith("0x") or symbol.startswith("[unknown]"):
        return "unknown"
    if symbol.startswith(LIBC) or symbol.startswith("_") and "::" not in symbol:
        return "libc"
    # `<T as Trait>::method` and `<T>::method`: the crate of T.
    if symbol.startswith("<"):
        symbol = symbol[1:]
        for prefix in ("&mut ", "&", "dyn ", "*const ", "*mut "):
            if symbol.startswith(prefix):
                symbol = symbol[len(prefix):]
    head = re.split(r"::|<| as |>", symbol, maxsplit=1)[0]
    return head or "unknown"


def main():
    top = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    shares = Counter()
    for line in sys.stdin:
        match = LINE.match(line)
        if match:
            share, kind, symbol = match.groups()
            shares[crate_of(kind, symbol)] += float(share)
    for crate, share in shares.most_common(top):
        print(f"{crate} {share:.1f}%")


if __name__ == "__main__":
    main()
