"""bench/idle: /live while N idle connections are held. Run through `bash bench/idle`."""

import math
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.environ.get("TKC_SERVER") or os.path.join(ROOT, "target/release/tkc-library")
CONNECTIONS = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
PER_HOLDER = 9000  # sockets per holder process (each needs a descriptor per socket)
PROBES = int(os.environ.get("IDLE_PROBES", "200"))  # /live requests per phase


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT = free_port()

# A holder: opens `n` connections, half of them with a partial request head, reports, then on
# each line of standard input reports how many the server has closed; exits on end of input or
# after 300 s.
HOLDER = r"""
import os, resource, select, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
n, port = int(sys.argv[1]), int(sys.argv[2])
held, failed = [], 0
deadline = time.monotonic() + 120
for i in range(n):
    if time.monotonic() > deadline:
        failed += n - i
        break
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        if i % 2:
            s.sendall(b"GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        s.setblocking(False)
        held.append(s)
    except OSError:
        s.close()
        failed += 1
print(f"held {len(held)} failed {failed}", flush=True)

def closed(s):
    try:
        return s.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True

end = time.monotonic() + 300
while time.monotonic() < end:
    ready, _, _ = select.select([sys.stdin], [], [], 1)
    if ready:
        if not sys.stdin.readline():
            break
        print(f"closed {sum(closed(s) for s in held)}", flush=True)
"""


def live_once():
    """One GET /live on a fresh connection: (ok, milliseconds)."""
    start = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", PORT), timeout=5) as s:
            s.sendall(b"GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        ok = data.startswith(b"HTTP/1.1 200")
    except OSError:
        ok = False
    return ok, (time.perf_counter() - start) * 1000


def probe():
    results = [live_once() for _ in range(PROBES)]
    times = sorted(ms for _, ms in results)
    failures = sum(not ok for ok, _ in results)
    p99 = times[min(len(times) - 1, math.ceil(0.99 * len(times)) - 1)]
    return statistics.median(times), p99, times[-1], failures


def server_figures(pid):
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds


def ask_closed(holders):
    total = 0
    for h in holders:
        h.stdin.write("check\n")
        h.stdin.flush()
        total += int(h.stdout.readline().split()[1])
    return total


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    tmp = tempfile.mkdtemp(prefix="tkc-idle-")
    log_path = os.path.join(tmp, "server.log")
    env = {**os.environ, "DATABASE_URL": f"sqlite://{tmp}/idle.db", "PORT": str(PORT), "HOST": "127.0.0.1",
           "APP_ENV": "development", "SEED_DEMO": "false", "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
    settings = {k: env[k] for k in ("HTTP_MAX_CONNECTIONS", "HTTP_HEADER_READ_TIMEOUT") if k in env}
    number, unit = re.fullmatch(r"(\d+)([smhd]?)", settings.get("HTTP_HEADER_READ_TIMEOUT", "10")).groups()
    header_timeout = int(number) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    log = open(log_path, "w")
    server = subprocess.Popen([SERVER, "serve"], stdout=log, stderr=log, env=env)
    holders = []
    try:
        for _ in range(300):
            if live_once()[0]:
                break
            time.sleep(0.1)
        else:
            sys.exit(f"the server did not start; see {log_path}")
        print(f"server {SERVER} pid {server.pid}, settings {settings or 'defaults'}, "
              f"descriptor limit {soft}/{hard}, {CONNECTIONS} idle connections", flush=True)
        rows = [("before", *probe(), *server_figures(server.pid), "-")]

        started = time.monotonic()
        sizes = [PER_HOLDER] * (CONNECTIONS // PER_HOLDER) + ([CONNECTIONS % PER_HOLDER] if CONNECTIONS % PER_HOLDER else [])
        for n in sizes:
            holders.append(subprocess.Popen([sys.executable, "-c", HOLDER, str(n), str(PORT)],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        held = failed = 0
        for h in holders:
            words = h.stdout.readline().split()
            held, failed = held + int(words[1]), failed + int(words[3])
        opened_at = time.monotonic()
        opened_in = opened_at - started
        print(f"opened {held} idle connections in {opened_in:.1f}s ({failed} failed to connect)", flush=True)
        rows.append(("held", *probe(), *server_figures(server.pid), ask_closed(holders)))

        # The newest connections time out header_timeout after they were opened.
        wait = header_timeout + 2 - (time.monotonic() - opened_at)
        if header_timeout <= 60:
            time.sleep(max(wait, 0))
            rows.append((f"held, +{header_timeout + 2}s", *probe(), *server_figures(server.pid), ask_closed(holders)))

        print()
        print(f"| phase | /live p50 ms | p99 ms | max ms | failed of {PROBES} | server RSS MiB | server fds | held sockets closed by the server |")
        print("|---|---|---|---|---|---|---|---|")
        for phase, p50, p99, worst, failures, rss, fds, closed in rows:
            print(f"| {phase} | {p50:.2f} | {p99:.2f} | {worst:.2f} | {failures} | {rss:.1f} | {fds} | {closed} |")
        with open(log_path) as f:
            text = f.read()
        print(f"\nserver log: {text.count('accept failed')} 'accept failed' warnings, "
              f"{text.count('every connection is busy')} 'busy' warnings, "
              f"{text.count('Too many open files')} 'Too many open files'")
    finally:
        for h in holders:
            try:
                h.stdin.close()
            except OSError:
                pass
        for h in holders:
            try:
                h.wait(timeout=10)
            except subprocess.TimeoutExpired:
                h.kill()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


if __name__ == "__main__":
    main()
