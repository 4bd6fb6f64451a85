#!/usr/bin/env python3
"""Generates the peer-benchmark dataset (rbldnsd format) and a dnsperf query file.

Deterministic (fixed seed). Address spaces are disjoint per dataset so that rbldnsd, which applies
exclusions only inside the dataset that holds them, and dnsbl, which merges everything into one
list, give the same answers:
  v4set.rbldnsd   ip4set   1,000,000 IPv4 /32s in 1.0.0.0-126.255.255.255, code 127.0.0.3
  v4trie.rbldnsd  ip4trie    100,000 CIDRs /16-/31 in 128.0.0.0-223.255.255.255, code 127.0.0.4,
                             and 20,000 /32 exclusions inside them
  v6.rbldnsd      ip6trie    100,000 IPv6 prefixes (/48, /56, /64, /128) in 2a00::/12, code 127.0.0.3
  all.rbldnsd     the three concatenated (what `dnsbl zone import` reads)
  queries.txt     dnsperf input: ~30 % listed names, ~15 % IPv6, ~10 % TXT
Usage: bench-data.py OUTDIR ZONE [SCALE]   (SCALE divides every count, for quick runs)
"""
import ipaddress
import os
import random
import sys


def main():
    out, zone = sys.argv[1], sys.argv[2]
    scale = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    rnd = random.Random(5782)
    os.makedirs(out, exist_ok=True)

    singles = set()
    while len(singles) < 1_000_000 // scale:
        singles.add(rnd.randrange(1 << 24, 127 << 24))
    singles = sorted(singles)

    cidrs = {}
    while len(cidrs) < 100_000 // scale:
        length = rnd.randint(16, 31)
        net = rnd.randrange(128 << 24, 224 << 24) & ~((1 << (32 - length)) - 1) & 0xFFFFFFFF
        cidrs[(net, length)] = True
    cidrs = list(cidrs)
    exclusions = set()
    while len(exclusions) < 20_000 // scale:
        net, length = rnd.choice(cidrs)
        exclusions.add(net + rnd.randrange(0, 1 << (32 - length)))

    v6 = {}
    base = int(ipaddress.IPv6Address("2a00::"))
    while len(v6) < 100_000 // scale:
        length = rnd.choice([48, 56, 64, 128])
        addr = (base | rnd.getrandbits(116)) & ~((1 << (128 - length)) - 1)
        v6[(addr, length)] = True
    v6 = list(v6)

    ip4 = lambda a: str(ipaddress.IPv4Address(a))
    ip6 = lambda a: str(ipaddress.IPv6Address(a))
    soa = f"$SOA 3600 ns1.{zone} hostmaster.{zone} 0 3600 600 604800 60\n"
    with open(f"{out}/v4set.rbldnsd", "w") as f:
        f.write(soa + ":3:Email marketing seen from $\n")
        f.writelines(ip4(a) + "\n" for a in singles)
    with open(f"{out}/v4trie.rbldnsd", "w") as f:
        f.write(":4:Listed from evidence: $\n")
        f.writelines(f"{ip4(n)}/{l}\n" for n, l in cidrs)
        f.writelines(f"!{ip4(a)}\n" for a in sorted(exclusions))
    with open(f"{out}/v6.rbldnsd", "w") as f:
        f.write(":3:IPv6 marketing sender $\n")
        f.writelines(f"{ip6(a)}/{l}\n" for a, l in v6)
    with open(f"{out}/all.rbldnsd", "w") as f:
        for part in ("v4set", "v4trie", "v6"):
            with open(f"{out}/{part}.rbldnsd") as p:
                f.write(p.read())

    def v4_name(a):
        return ".".join(reversed(ip4(a).split("."))) + "." + zone

    def v6_name(a):
        return ".".join(reversed(f"{a:032x}")) + "." + zone

    with open(f"{out}/queries.txt", "w") as f:
        for _ in range(300_000 // scale):
            r = rnd.random()
            if r < 0.15:
                net, length = rnd.choice(v6)
                addr = net + rnd.getrandbits(128 - length) if rnd.random() < 0.3 else base | rnd.getrandbits(116)
                name = v6_name(addr)
            elif r < 0.40:
                name = v4_name(rnd.choice(singles))
            elif r < 0.45:
                net, length = rnd.choice(cidrs)
                name = v4_name(net + rnd.randrange(0, 1 << (32 - length)))
            else:
                name = v4_name(rnd.randrange(1 << 24, 224 << 24))
            f.write(f"{name} {'TXT' if rnd.random() < 0.1 else 'A'}\n")


if __name__ == "__main__":
    main()
