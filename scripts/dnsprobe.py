"""One A query over UDP, for the benchmark scripts: how many answers the server gave."""
import struct
import time


def query(sock, addr, name):
    """Sends `name` A to `addr` on `sock` and returns the answer count of the reply."""
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


def wait_answered(sock, addr, name, t0, limit=2.0):
    """Queries until `name` has an answer; exits when `limit` seconds after `t0` pass first."""
    while query(sock, addr, name) == 0:
        if time.perf_counter() > t0 + limit:
            raise SystemExit(f"{name} not answered after {limit} s")


def summary(times_ms):
    """Median, p99 and max of a list of milliseconds, in words."""
    times = sorted(times_ms)
    pick = lambda q: times[min(len(times) - 1, int(len(times) * q))]
    return f"median {pick(0.5):.2f} ms, p99 {pick(0.99):.2f} ms, max {times[-1]:.2f} ms"


def add_server_args(ap):
    """The running server's addresses: --api URL, --token-file FILE, --dns HOST:PORT, --zone ZONE."""
    ap.add_argument("--api", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--dns", required=True)
    ap.add_argument("--zone", required=True)
