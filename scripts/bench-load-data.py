#!/usr/bin/env python3
"""Writes a 10M-entry rbldnsd list for the load benchmark (`scripts/bench-peer.sh load`).

Deterministic (fixed seed): 9,000,000 distinct IPv4 /32s (code 127.0.0.3), 900,000 CIDRs /16-/31
(code 127.0.0.4) and 100,000 /32 exclusions, all in 1.0.0.0-222.255.255.255.
Usage: bench-load-data.py FILE
"""
import random
import sys


def dotted(a):
    return f"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}"


def main():
    rnd = random.Random(10)
    low, high = 1 << 24, 223 << 24
    with open(sys.argv[1], "w") as f:
        f.write(":3:Email marketing seen from $\n")
        singles = set()
        while len(singles) < 9_000_000:
            singles.add(rnd.randrange(low, high))
        for a in sorted(singles):
            f.write(dotted(a) + "\n")
        f.write(":4:Listed from evidence: $\n")
        for _ in range(900_000):
            length = rnd.randrange(16, 32)
            a = rnd.randrange(low, high) & ~((1 << (32 - length)) - 1)
            f.write(f"{dotted(a)}/{length}\n")
        for _ in range(100_000):
            f.write("!" + dotted(rnd.randrange(low, high)) + "\n")


if __name__ == "__main__":
    main()
