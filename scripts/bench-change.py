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


def query(sock, addr, name):
    qid = int(time.monotonic_ns() & 0xFFFF)
    packet = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in name.split("."):
        packet += bytes([len(label)]) + label.encode()
    packet += b"\x00" + struct.pack(">HH", 1, 1)
    sock.sendto(packet, addr)
    while True:
        data, _ = sock.recvfrom(4096)
        if struct.unpack(">H", data[:2])[0] == qid:
            return struct.unpack(">H", data[6:8])[0]  # answer count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--dns", required=True)
    ap.add_argument("--zone", required=True)
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
        deadline = t0 + 2.0
        while query(sock, dns, name) == 0:
            if time.perf_counter() > deadline:
                raise SystemExit(f"{ip} not visible after 2 s")
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    pick = lambda q: times[min(len(times) - 1, int(len(times) * q))]
    print(f"change-to-visible over {len(times)} adds ({'CLI' if args.cli else 'API'}): "
          f"median {pick(0.5):.2f} ms, p99 {pick(0.99):.2f} ms, max {times[-1]:.2f} ms")


if __name__ == "__main__":
    main()
