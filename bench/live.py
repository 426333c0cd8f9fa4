"""bench/live: N WebSocket subscribers on instance A watch one item; an admin returns it (and lends
it again) on instance B over the same PostgreSQL. Prints delivery latency (p50/p99, from just
before the mutation is sent to each subscriber's receipt), the SQL statements A ran per event, and
A's RSS before and after the subscribers connected. Run through `bash bench/live`.

A small WebSocket client of its own (the standard library only): handshake, masked text frames,
answers to pings. Talks to 127.0.0.1 only; every wait is bounded."""

import asyncio
import base64
import json
import os
import re
import resource
import socket
import statistics
import struct
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.environ.get("TKC_SERVER") or os.path.join(ROOT, "target/release/tkc-library")
SUBSCRIBERS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
ROUNDS = int(os.environ.get("LIVE_ROUNDS", "10"))
ADMIN_URL = "postgres://postgres@127.0.0.1:5432/test"
DATABASE = "tkc_bench_live"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(sql, url=ADMIN_URL):
    subprocess.run(["psql", url, "-qAtc", sql], check=True, capture_output=True, timeout=60)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def start(port, seed):
    env = dict(os.environ)
    env.update(
        DATABASE_URL=DATABASE_URL,
        PORT=str(port),
        APP_ENV="development",
        SEED_DEMO="true" if seed else "false",
        RUST_LOG="warn",
        PLAYGROUND="false",
        METRICS="true",
        LOGIN_MAX_FAILURES_PER_CLIENT="1000000",
    )
    proc = subprocess.Popen([SERVER, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/live", timeout=1).read()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    sys.exit(f"the server on port {port} did not start")


def post(port, query, variables=None, cookie=None):
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=body, method="POST")
    request.add_header("content-type", "application/json")
    if cookie:
        request.add_header("cookie", cookie)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read()), response.headers.get("set-cookie")


def statements(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return int(re.search(r"^tkc_sql_statements_total (\d+)", text, re.M).group(1))


class Socket:
    """A graphql-transport-ws client on a raw WebSocket."""

    async def open(self, port):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write(
            (
                f"GET /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
            ).encode()
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(head.split(b"\r\n")[0].decode())
        await self.send({"type": "connection_init"})
        assert (await self.receive())["type"] == "connection_ack"

    async def send(self, message):
        data = json.dumps(message).encode()
        mask = os.urandom(4)
        head = bytes([0x81])
        n = len(data)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.writer.write(head + mask + masked)
        await self.writer.drain()

    async def receive(self):
        """The next text message, as JSON (pings answered)."""
        while True:
            b0, b1 = await self.reader.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", await self.reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", await self.reader.readexactly(8))[0]
            payload = await self.reader.readexactly(n)
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise ConnectionError("closed")
            if opcode != 0x1:
                continue
            message = json.loads(payload)
            if message.get("type") == "ping":
                await self.send({"type": "pong"})
                continue
            return message


async def subscriber(port, item, ready, received, stop):
    socket = Socket()
    await socket.open(port)
    await socket.send(
        {
            "type": "subscribe",
            "id": "1",
            "payload": {
                "query": "subscription($ids: [ID!]) { itemChanged(ids: $ids) { id status dueAt holdCount } }",
                "variables": {"ids": [item]},
            },
        }
    )
    # A query on the same socket answers after the subscription is registered.
    await socket.send({"type": "subscribe", "id": "q", "payload": {"query": "{ __typename }"}})
    while (await socket.receive()).get("id") != "q":
        pass
    ready.append(socket)
    while not stop.is_set():
        try:
            message = await asyncio.wait_for(socket.receive(), timeout=1)
        except asyncio.TimeoutError:
            continue
        if message.get("type") == "next" and message.get("id") == "1":
            received.append((time.perf_counter(), message["payload"]["data"]["itemChanged"]["status"]))


async def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    psql(f"CREATE DATABASE {DATABASE}")
    port_a, port_b = free_port(), free_port()
    a = start(port_a, seed=True)
    b = start(port_b, seed=False)
    try:
        data, cookie = post(port_b, 'mutation { login(username: "admin", password: "admin") { id } }')
        cookie = cookie.split(";")[0]
        found, _ = post(port_b, '{ items(first: 50) { edges { node { id name status } } } }')
        kindred = next(e["node"] for e in found["data"]["items"]["edges"] if e["node"]["name"] == "Kindred")
        item = kindred["id"]
        member, _ = post(port_b, '{ userByUsername(username: "borrower") { id } }')
        member = member["data"]["userByUsername"]["id"]
        time.sleep(1)
        rss_before = rss_kib(a.pid)

        ready, received, stop = [], [], asyncio.Event()
        started = time.perf_counter()
        tasks = []
        for i in range(SUBSCRIBERS):
            tasks.append(asyncio.create_task(subscriber(port_a, item, ready, received, stop)))
            if i % 100 == 99:
                await asyncio.sleep(0.05)
        deadline = time.monotonic() + 120
        while len(ready) < SUBSCRIBERS and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if len(ready) < SUBSCRIBERS:
            sys.exit(f"only {len(ready)} of {SUBSCRIBERS} subscribers connected")
        connect_s = time.perf_counter() - started
        await asyncio.sleep(2)
        rss_after = rss_kib(a.pid)

        latencies, per_event = [], []
        mutations = [
            ("mutation($i: ID!) { returnItem(itemId: $i) { id } }", {"i": item}, "AVAILABLE"),
            ("mutation($i: ID!, $m: ID!) { checkOut(itemId: $i, memberId: $m) { id } }", {"i": item, "m": member}, "ON_LOAN"),
        ]
        for round_ in range(ROUNDS):
            for query, variables, status in mutations:
                received.clear()
                before = statements(port_a)
                sent = time.perf_counter()
                answer, _ = await asyncio.to_thread(post, port_b, query, variables, cookie)
                if "errors" in answer:
                    sys.exit(f"the mutation failed: {answer}")
                deadline = time.monotonic() + 10
                while len(received) < SUBSCRIBERS and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                if len(received) < SUBSCRIBERS:
                    sys.exit(f"only {len(received)} of {SUBSCRIBERS} subscribers got the event")
                assert all(s == status for _, s in received), "a subscriber got a wrong state"
                latencies.extend((t - sent) * 1000 for t, _ in received)
                await asyncio.sleep(0.3)
                # /metrics itself is not a statement; nothing else runs on A meanwhile.
                per_event.append(statements(port_a) - before)
        stop.set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

        latencies.sort()
        p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
        print(f"subscribers: {SUBSCRIBERS} on instance A (connected in {connect_s:.1f} s); events: {2 * ROUNDS} (returnItem, checkOut) sent to instance B")
        print(f"delivery latency: p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, max {latencies[-1]:.1f} ms ({len(latencies)} deliveries)")
        print(f"statements on A per event: {sorted(set(per_event))} (min {min(per_event)}, max {max(per_event)})")
        print(f"RSS of A: {rss_before / 1024:.1f} MiB before, {rss_after / 1024:.1f} MiB with {SUBSCRIBERS} subscribers: {(rss_after - rss_before) / SUBSCRIBERS:.1f} KiB per connection")
    finally:
        for proc in (a, b):
            proc.terminate()
        for proc in (a, b):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


asyncio.run(main())
