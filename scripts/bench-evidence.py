#!/usr/bin/env python3
"""Evidence benchmark against a running dnsbl: ingest throughput (one API upload of an mbox of
reports, and `dnsbl evidence ingest` of the same), JSON records per second, and the time from the
qualifying report to the DNS answer (the third mailing's complaint of three-strikes, uploaded on
its own, until a UDP query answers 127.0.0.4), on a nearly empty store and again after
preloading `--preload` evidence records.

Usage: bench-evidence.py --api URL --token-file FILE --dns HOST:PORT --zone ZONE --cli PATH
                         [--preload 1000000] [-n 200] [--reports 5000]
Bounded: a fixed number of uploads and queries, each DNS wait at most 2 s.
"""
import argparse
import json
import os
import socket
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from dnsprobe import add_server_args, summary, wait_answered  # scripts/dnsprobe.py

RUN = f"{os.getpid()}-{int(time.time())}"


def report(ip, mailing, report_id):
    return (
        "From: fbl@reporter.example\r\nTo: reports@bl.example.org\r\nSubject: FBL\r\n"
        f"Message-ID: <{report_id}>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n"
        "--B\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n"
        f"User-Agent: bench\r\nVersion: 1\r\nSource-IP: {ip}\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: news@shop.example\r\nSubject: Deals\r\n"
        f"Feedback-ID: {mailing}\r\n\r\n--B--\r\n"
    )


def mbox(reports):
    return "".join(f"From fbl@reporter.example Tue Dec  1 10:00:00 2026\n{r}\n" for r in reports).encode()


def ip_of(n):
    # Public addresses outside every default denied range: 45.0.0.0/8 and up.
    return socket.inet_ntoa(struct.pack(">I", (45 << 24) + n))


class Api:
    def __init__(self, base, token):
        self.base, self.token = base, token

    def post(self, path, body, content_type):
        req = urllib.request.Request(self.base + path, data=body, method="POST",
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": content_type})
        try:
            return json.loads(urllib.request.urlopen(req, timeout=120).read())
        except urllib.error.HTTPError as e:
            if e.code == 409:
                return None
            raise SystemExit(f"{path}: HTTP {e.code}: {e.read().decode(errors='replace')}")


def latency(api, sock, dns, zone, first, n):
    times = []
    for i in range(n):
        ip = ip_of(first + i)
        name = ".".join(reversed(ip.split("."))) + "." + zone
        api.post("/v1/evidence?reporter=isp-a",
                 mbox([report(ip, "m1", f"{RUN}-{ip}-1"), report(ip, "m2", f"{RUN}-{ip}-2")]), "application/mbox")
        t0 = time.perf_counter()
        answer = api.post("/v1/evidence?reporter=isp-b", report(ip, "m3", f"{RUN}-{ip}-3").encode(), "message/rfc822")
        if not answer["listed"]:
            raise SystemExit(f"{ip} not listed: {answer}")
        wait_answered(sock, dns, name, t0)
        times.append((time.perf_counter() - t0) * 1000)
    return f"{summary(times)} over {n}"


def main():
    ap = argparse.ArgumentParser()
    add_server_args(ap)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--preload", type=int, default=1_000_000)
    ap.add_argument("--reports", type=int, default=5000)
    ap.add_argument("-n", type=int, default=200)
    args = ap.parse_args()
    api = Api(args.api, open(args.token_file).read().strip())
    host, port = args.dns.rsplit(":", 1)
    dns = (host, int(port))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(1.0)
    for name in ["isp-a", "isp-b", "traps"]:
        api.post("/v1/reporters", json.dumps({"name": name, "contact": "bench@example.net"}).encode(),
                 "application/json")
    next_ip = 1 << 16
    for run in range(3):
        body = mbox([report(ip_of(next_ip + i), f"m{i % 7}", f"{RUN}-api{run}-{i}") for i in range(args.reports)])
        next_ip += args.reports
        t0 = time.perf_counter()
        answer = api.post("/v1/evidence?reporter=isp-a", body, "application/mbox")
        took = time.perf_counter() - t0
        assert answer["accepted"] == args.reports, answer
        print(f"API upload of {args.reports} reports ({len(body) / 1e6:.1f} MB): {took:.3f} s, "
              f"{args.reports / took:,.0f} reports/s")
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(3):
            path = os.path.join(tmp, f"fbl{run}.mbox")
            with open(path, "wb") as f:
                f.write(mbox([report(ip_of(next_ip + i), f"m{i % 7}", f"{RUN}-cli{run}-{i}")
                              for i in range(args.reports)]))
            next_ip += args.reports
            t0 = time.perf_counter()
            subprocess.run([args.cli, "evidence", "ingest", "--reporter", "isp-a", path, "--server", args.api,
                            "--token-file", args.token_file], check=True, stdout=subprocess.DEVNULL)
            took = time.perf_counter() - t0
            print(f"dnsbl evidence ingest of {args.reports} reports: {took:.3f} s, {args.reports / took:,.0f} reports/s")
    print(f"report to DNS answer, store nearly empty: {latency(api, sock, dns, args.zone, next_ip, args.n)}")
    next_ip += args.n
    # Preload: trap hits, ten per address to one trap address (trap-hits wants two: none lists).
    per_upload, loaded, t0 = 20_000, 0, time.perf_counter()
    now = int(time.time())
    while loaded < args.preload:
        lines = "\n".join(json.dumps({"kind": "trap", "ip": ip_of(next_ip + (loaded + k) // 10), "at": now - k % 10,
                                      "recipient": "t1@traps.example"})
                          for k in range(min(per_upload, args.preload - loaded)))
        answer = api.post("/v1/evidence?reporter=traps", lines.encode(), "application/json")
        loaded += answer["accepted"]
        if answer["refused"]:
            raise SystemExit(f"preload refused: {answer['refused'][:3]}")
    took = time.perf_counter() - t0
    next_ip += loaded // 10 + 1
    print(f"preload of {loaded:,} JSON trap records in uploads of {per_upload:,}: {took:.1f} s, "
          f"{loaded / took:,.0f} records/s")
    print(f"report to DNS answer, {loaded:,} records stored: {latency(api, sock, dns, args.zone, next_ip, args.n)}")


if __name__ == "__main__":
    main()
