"""Peak RSS under oversized responses (see bench/memory)."""

import http.cookiejar
import json
import os
import re
import subprocess
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(ROOT, "target/release/tkc-library")
PG = "postgres://postgres@127.0.0.1:5432"
PORT = 8198
BASE = f"http://127.0.0.1:{PORT}"
PARALLEL = 5

HIDDEN = ("query($n: Int = 100) { posts(first: $n) { edges { node { author { posts(first: $n) "
          "{ edges { node { body } } } } } } } }")
ALIASED = "{ posts(first: 100) { edges { node { " + " ".join(f"b{i}: body" for i in range(30)) + " } } } }"
HONEST = "{ posts(first: 100) { edges { node { title body } } } }"


def post(opener, query, variables=None, timeout=60):
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"{BASE}/graphql", body, {"Content-Type": "application/json"})
    with opener.open(request, timeout=timeout) as response:
        return response.read()


def rss_mib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(rf"{field}:\s+(\d+)", f.read()).group(1)) / 1024


def answer(raw):
    data = json.loads(raw)
    codes = [e.get("extensions", {}).get("code") for e in data.get("errors", [])]
    return ",".join(sorted(set(codes))) or "ok"


def burst(query):
    """PARALLEL clients at once, each with its own connection; their answers."""
    results = [None] * PARALLEL

    def one(i):
        raw = post(urllib.request.build_opener(), query)
        results[i] = (answer(raw), len(raw))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(PARALLEL)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def measure(backend, url):
    env = {**os.environ, "DATABASE_URL": url, "PORT": str(PORT), "APP_ENV": "development",
           "SEED_DEMO": "false", "RUST_LOG": "warn", "REQUEST_TIMEOUT": "60s"}
    subprocess.run([SERVER, "migrate", "up"], env=env, check=True, capture_output=True)
    subprocess.run([SERVER, "create-user", "--username", "writer", "--email", "writer@bench.example",
                    "--password-stdin"], env=env, input="writer password\n", text=True, check=True,
                   capture_output=True)
    log = open(os.path.join(tempfile.gettempdir(), f"tkc-memory-{backend}.log"), "w")
    server = subprocess.Popen([SERVER, "serve"], stdout=log, stderr=log, env=env)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{BASE}/live", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        writer = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        post(writer, 'mutation { login(username: "writer", password: "writer password") { id } }')
        text = ("All work and no play makes a long post. " * 500)[:20_000]
        for i in range(100):
            post(writer, "mutation($i: CreatePostInput!) { createPost(input: $i) { id } }",
                 {"i": {"title": f"long post {i}", "body": text}})
        start = rss_mib(server.pid, "VmRSS")
        print(f"{backend}: RSS after writing 100 posts of 20,000 characters: {start:.1f} MiB")
        for name, query in [("hidden in a default", HIDDEN), ("30 aliases of body", ALIASED),
                            ("honest 100-post page", HONEST)]:
            results = burst(query)
            codes = sorted({r[0] for r in results if r})
            sizes = sorted({r[1] for r in results if r})
            print(f"{backend}: {PARALLEL} x {name:22} -> {', '.join(codes):22} "
                  f"{max(sizes) / 1024:9.1f} KiB each; peak RSS so far {rss_mib(server.pid, 'VmHWM'):6.1f} MiB, "
                  f"now {rss_mib(server.pid, 'VmRSS'):6.1f} MiB")
    finally:
        server.terminate()
        server.wait(timeout=30)


def main():
    with tempfile.TemporaryDirectory() as folder:
        measure("SQLite", f"sqlite://{folder}/memory.db")
    database = f"tkc_memory_{os.getpid()}"
    subprocess.run(["psql", "-q", f"{PG}/test", "-c", f"CREATE DATABASE {database}"], check=True)
    try:
        measure("PostgreSQL", f"{PG}/{database}")
    finally:
        subprocess.run(["psql", "-q", f"{PG}/test", "-c", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"],
                       check=True)


if __name__ == "__main__":
    main()
