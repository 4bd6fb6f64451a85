#!/usr/bin/env python3
"""Change-to-visible latency: adds N listings through the operator API (or the CLI) and times each
from the start of the request until a DNS query over UDP sees the new answer.

Usage: bench-change.py --api URL --token-file FILE --dns HOST:PORT --zone ZONE [-n 1000] [--cli PATH]
With --cli, each add runs `dnsbl listing add` (process start included); otherwise one HTTP request.
Prints median, p99 and max in milliseconds. Bounded: N adds, each waiting at most 2 s.
"""
import argparse
import json
import socket
import struct
import subprocess
import time
import urllib.request

from dnsprobe import add_server_args, summary, wait_answered  # scripts/dnsprobe.py


def main():
    ap = argparse.ArgumentParser()
    add_server_args(ap)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--cli")
    ap.add_argument("--base", default="100.64.0.0", help="first address to list (one /32 per add)")
    args = ap.parse_args()
    token = open(args.token_file).read().strip()
    host, port = args.dns.rsplit(":", 1)
    dns = (host, int(port))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(1.0)
    base = struct.unpack(">I", socket.inet_aton(args.base))[0]
    times = []
    for i in range(args.n):
        ip = socket.inet_ntoa(struct.pack(">I", base + i))
        name = ".".join(reversed(ip.split("."))) + "." + args.zone
        t0 = time.perf_counter()
        if args.cli:
            subprocess.run([args.cli, "listing", "add", ip, "--code", "3", "--zone", args.zone,
                            "--server", args.api, "--token-file", args.token_file],
                           check=True, stdout=subprocess.DEVNULL)
        else:
            body = json.dumps({"prefix": ip, "codes": ["127.0.0.3"], "reason": "bench"}).encode()
            req = urllib.request.Request(f"{args.api}/v1/zones/{args.zone}/listings", data=body, method="POST",
                                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            urllib.request.urlopen(req).read()
        wait_answered(sock, dns, name, t0)
        times.append((time.perf_counter() - t0) * 1000)
    print(f"change-to-visible over {len(times)} adds ({'CLI' if args.cli else 'API'}): {summary(times)}")


if __name__ == "__main__":
    main()
