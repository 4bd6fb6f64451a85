#!/usr/bin/env python3
"""Scale-out benchmark: a dnsbl primary with a dnsbl secondary and an NSD secondary, on loopback.

Run by `scripts/bench-peer.sh transfer`, which builds the binary and the bench list. Measures:
  - the AXFR of the zone: time, messages, bytes (read by a plain client);
  - each secondary's first copy: from its start to serving the primary's serial; its memory
    (dnsbl: RSS; NSD: PSS summed over its processes);
  - change -> answered: CHANGES new /32 listings added through the API at RATE per second;
    for each, the time from the API's answer to the first listed answer from each secondary
    (both are NOTIFYed; each asks IXFR). Median, p99 and max.
Every wait is bounded; the servers it starts are stopped at the end.
"""
import argparse
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.request
import json

from dnsprobe import query


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def soa_serial(port, zone):
    """The zone's SOA serial from 127.0.0.1:port over UDP, or None."""
    qid = random.randint(0, 0xFFFF)
    packet = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in zone.split("."):
        packet += bytes([len(label)]) + label.encode()
    packet += b"\x00" + struct.pack(">HH", 6, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.3)
    try:
        s.sendto(packet, ("127.0.0.1", port))
        data, _ = s.recvfrom(4096)
    except OSError:
        return None
    finally:
        s.close()
    if struct.unpack(">H", data[6:8])[0] == 0:
        return None

    def skip_name(at):
        while True:
            n = data[at]
            if n == 0:
                return at + 1
            if n & 0xC0:
                return at + 2
            at += 1 + n

    at = skip_name(12) + 4  # the question
    at = skip_name(at)  # the answer's owner
    rtype = struct.unpack(">H", data[at:at + 2])[0]
    if rtype != 6:
        return None
    at = skip_name(skip_name(at + 10))  # type, class, TTL, length; then mname and rname
    return struct.unpack(">I", data[at:at + 4])[0]


def wait_serial(port, zone, serial, limit, proc=None):
    deadline = time.time() + limit
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the server stopped (exit {proc.returncode}); see its log")
        if soa_serial(port, zone) == serial:
            return True
        time.sleep(0.02)
    return False


def axfr(port, zone):
    """Reads a whole AXFR; returns (seconds, messages, bytes). The transfer ends with the SOA it
    starts with: the last 20 bytes of its data (serial and timers) end the last message."""
    q = struct.pack(">HHHHHH", 0x1234, 0, 1, 0, 0, 0)
    for label in zone.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack(">HH", 252, 1)
    t0 = time.time()
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(120)
    s.sendall(struct.pack(">H", len(q)) + q)
    f = s.makefile("rb", buffering=1 << 20)
    messages = size = 0
    tail = None
    while True:
        head = f.read(2)
        if len(head) < 2:
            break
        body = f.read(struct.unpack(">H", head)[0])
        messages += 1
        size += len(body)
        if tail is None:
            # The first record: the SOA, right after the question (its RDATA ends 20 bytes of
            # serial and timers).
            at = 12
            while body[at] != 0:
                at += 1 + body[at]
            at += 5  # root, type, class
            owner_end = at
            while body[owner_end] != 0 and body[owner_end] & 0xC0 == 0:
                owner_end += 1 + body[owner_end]
            owner_end += 2 if body[owner_end] & 0xC0 else 1
            rdlen = struct.unpack(">H", body[owner_end + 8:owner_end + 10])[0]
            rdata_end = owner_end + 10 + rdlen
            tail = body[rdata_end - 20:rdata_end]
            if messages == 1 and body.endswith(tail) and body.count(tail) >= 2:
                break
        elif body.endswith(tail):
            break
    s.close()
    return time.time() - t0, messages, size


def pss_mb(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    pids = [int(p) for p in out]
    for p in list(pids):
        pids += children(p)
    return pids


def pick(times, q):
    times = sorted(times)
    return times[min(len(times) - 1, int(len(times) * q))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dnsbl", required=True)
    ap.add_argument("--data", required=True, help="a data directory holding the bench list (copied)")
    ap.add_argument("--zone", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--changes", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--notify-interval", type=int, default=1)
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    primary_data = os.path.join(out, "primary")
    shutil.copytree(args.data, primary_data)
    p_dns, p_api, s_dns, s_api, n_port = (free_port() for _ in range(5))
    with open("config/dnsbl.toml") as fh:
        base = fh.read()
    primary_toml = base.replace("allow-transfer = []", 'allow-transfer = ["127.0.0.1"]')
    primary_toml = primary_toml.replace("notify = []", f'notify = ["127.0.0.1:{s_dns}", "127.0.0.1:{n_port}"]')
    primary_toml = primary_toml.replace("notify-interval = 1", f"notify-interval = {args.notify_interval}")
    secondary_toml = base.replace("allow-transfer = []", f'primary = "127.0.0.1:{p_dns}"')
    for name, text in [("primary.toml", primary_toml), ("secondary.toml", secondary_toml)]:
        with open(os.path.join(out, name), "w") as fh:
            fh.write(text)
    env = dict(os.environ, DNSBL_LOG="info")
    procs = []

    def start(config, data, dns, api, log):
        p = subprocess.Popen(
            [args.dnsbl, "serve", "--config", os.path.join(out, config), "--zone", args.zone, "--data-dir", data,
             "--listen", f"127.0.0.1:{dns}", "--api-listen", f"127.0.0.1:{api}", "--web-listen", "127.0.0.1:0"],
            stdout=open(os.path.join(out, log), "w"), stderr=subprocess.STDOUT, env=env)
        procs.append(p)
        return p

    try:
        primary = start("primary.toml", primary_data, p_dns, p_api, "primary.log")
        deadline = time.time() + 120
        while soa_serial(p_dns, args.zone) is None:
            if time.time() > deadline:
                raise SystemExit("the primary did not start")
            time.sleep(0.1)
        serial = soa_serial(p_dns, args.zone)
        seconds, messages, size = axfr(p_dns, args.zone)
        print(f"| AXFR of the zone (a plain client reading it) | {seconds:.1f} s, {messages} messages, "
              f"{size / 1e6:.0f} MB |")
        t0 = time.time()
        secondary = start("secondary.toml", os.path.join(out, "secondary"), s_dns, s_api, "secondary.log")
        if not wait_serial(s_dns, args.zone, serial, 300, secondary):
            raise SystemExit("the dnsbl secondary did not reach the primary's serial")
        print(f"| dnsbl secondary: start to serving the zone (AXFR) | {time.time() - t0:.1f} s |")
        print(f"| dnsbl secondary: resident memory | {rss_mb(secondary.pid):.0f} MB |")
        nsd_dir = os.path.join(out, "nsd")
        os.makedirs(nsd_dir)
        conf = (
            f"server:\n  ip-address: 127.0.0.1@{n_port}\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{nsd_dir}\"\n"
            f"  pidfile: \"{nsd_dir}/nsd.pid\"\n  xfrdfile: \"{nsd_dir}/xfrd.state\"\n  xfrdir: \"{nsd_dir}\"\n"
            f"  zonelistfile: \"{nsd_dir}/zone.list\"\n  database: \"\"\n  logfile: \"{nsd_dir}/nsd.log\"\n"
            f"  verbosity: 1\n  server-count: 1\n  reuseport: no\nremote-control:\n  control-enable: no\n"
            f"zone:\n  name: {args.zone}\n  zonefile: \"{nsd_dir}/secondary.zone\"\n"
            f"  request-xfr: 127.0.0.1@{p_dns} NOKEY\n  allow-notify: 127.0.0.1 NOKEY\n")
        with open(os.path.join(nsd_dir, "nsd.conf"), "w") as fh:
            fh.write(conf)
        t0 = time.time()
        nsd = subprocess.Popen(["nsd", "-d", "-c", os.path.join(nsd_dir, "nsd.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(nsd)
        if not wait_serial(n_port, args.zone, serial, 600, nsd):
            raise SystemExit("NSD did not reach the primary's serial")
        print(f"| NSD 4.6 secondary: start to serving the zone (AXFR) | {time.time() - t0:.1f} s |")
        time.sleep(2)
        print(f"| NSD secondary: memory (PSS of its processes) | {pss_mb([nsd.pid] + children(nsd.pid)):.0f} MB |")
        print(f"| dnsbl primary: resident memory now | {rss_mb(primary.pid):.0f} MB |")

        token = open(os.path.join(primary_data, "operator.token")).read().strip()
        pending = {}  # name -> (t_added, {secondary: None|latency})
        lock = threading.Lock()
        done = threading.Event()
        rng = random.Random(7)

        def add_changes():
            interval = 1.0 / args.rate
            start_t = time.perf_counter()
            for i in range(args.changes):
                ip = f"100.{64 + rng.randrange(64)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
                name = ".".join(reversed(ip.split("."))) + "." + args.zone
                body = json.dumps({"prefix": ip, "codes": ["127.0.0.2"], "reason": "bench"}).encode()
                req = urllib.request.Request(f"http://127.0.0.1:{p_api}/v1/zones/{args.zone}/listings", data=body,
                                             method="POST", headers={"Authorization": f"Bearer {token}",
                                                                     "Content-Type": "application/json"})
                urllib.request.urlopen(req, timeout=30).read()
                with lock:
                    pending[name] = (time.perf_counter(), {"dnsbl": None, "nsd": None})
                wake = start_t + (i + 1) * interval
                time.sleep(max(0.0, wake - time.perf_counter()))
            done.set()

        socks = {"dnsbl": socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
                 "nsd": socket.socket(socket.AF_INET, socket.SOCK_DGRAM)}
        for s in socks.values():
            s.settimeout(1.0)
        ports = {"dnsbl": s_dns, "nsd": n_port}
        results = {"dnsbl": [], "nsd": []}
        writer = threading.Thread(target=add_changes)
        writer.start()
        limit = time.time() + args.changes / args.rate + 120
        while time.time() < limit:
            with lock:
                open_items = [(n, t, seen) for n, (t, seen) in pending.items() if None in seen.values()]
            if done.is_set() and not open_items:
                break
            for name, t_added, seen in open_items:
                for who in ("dnsbl", "nsd"):
                    if seen[who] is None:
                        try:
                            answered = query(socks[who], ("127.0.0.1", ports[who]), name) > 0
                        except OSError:
                            answered = False
                        if answered:
                            seen[who] = (time.perf_counter() - t_added) * 1000
                            results[who].append(seen[who])
            time.sleep(0.002)
        writer.join(timeout=60)
        for who, label in (("dnsbl", "dnsbl secondary"), ("nsd", "NSD secondary")):
            r = results[who]
            if len(r) < args.changes:
                print(f"| change to answered by the {label} | only {len(r)} of {args.changes} seen |")
                continue
            print(f"| change to answered by the {label} ({args.changes} changes at {args.rate:g}/s, "
                  f"notify-interval {args.notify_interval}) | median {pick(r, 0.5):.0f} ms, p99 {pick(r, 0.99):.0f} ms, "
                  f"max {max(r):.0f} ms |")
        print(f"| dnsbl secondary: resident memory after the changes | {rss_mb(secondary.pid):.0f} MB |")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
