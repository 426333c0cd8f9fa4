"""The benchmark harness (see bench/run): prints one table row per backend and operation."""

import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone

SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 10
CONCURRENCY = int(sys.argv[2]) if len(sys.argv) > 2 else 16
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(ROOT, "target/release/tkc-library")
PG = "postgres://postgres@127.0.0.1:5432"
PORT = 8197
BASE = f"http://127.0.0.1:{PORT}"

LOGIN = 'mutation { login(username: \\"bench\\", password: \\"bench password\\") { id } }'
OPS = [
    ("a", "items(first: 50)",
     '{"query":"{ items(first: 50) { edges { node { id name createdAt } } } }"}',
     "SELECT id, name, description, created_at FROM items ORDER BY created_at DESC, id DESC LIMIT 51;"),
    ("b", "posts(first: 100) + author",
     '{"query":"{ posts(first: 100) { edges { node { title createdAt author { username } } } } }"}',
     "SELECT id, title, body, created_at, updated_at, author_id FROM posts ORDER BY created_at DESC, id DESC LIMIT 101;\n"
     "SELECT * FROM users WHERE id IN (SELECT author_id FROM (SELECT author_id FROM posts ORDER BY created_at DESC, id DESC LIMIT 101) p);"),
    ("c", "users(20) + posts(10)",
     '{"query":"{ users(first: 20) { edges { node { username posts(first: 10) { edges { node { title } } } } } } }"}',
     "SELECT * FROM users ORDER BY created_at, id LIMIT 21;\n"
     "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY author_id ORDER BY created_at DESC, id DESC) AS r "
     "FROM posts WHERE author_id IN (SELECT id FROM users ORDER BY created_at, id LIMIT 20)) n WHERE r <= 11;"),
    ("d", "item(id:)",
     '{"query":"query($id: ID!) { item(id: $id) { id name description createdAt } }","variables":{"id":"{ID}"}}',
     "\\set id random(1, 2000)\nSELECT id, name, description, created_at FROM items WHERE id = :id;"),
    ("e", "login (argon2)", '{"query":"' + LOGIN + '"}', None),
]


def run(cmd, env=None, stdin=None):
    return subprocess.run(cmd, env={**os.environ, **(env or {})}, input=stdin, text=True,
                          capture_output=True, check=True).stdout


def tkc(url, *args, stdin=None):
    return run([SERVER, *args], env={"DATABASE_URL": url, "RUST_LOG": "warn", "APP_ENV": "development"}, stdin=stdin)


def stamp(base, seconds):
    """A timestamp as the server writes it (RFC 3339, +00:00), for SQLite's text columns."""
    return (base + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def load_postgres(url):
    sql = """
    INSERT INTO users (username, email, password_hash, role, image_file, created_at)
      SELECT 'user' || g, 'user' || g || '@bench.example',
             (SELECT password_hash FROM users WHERE username = 'bench'), 'borrower', 'default.jpg',
             TIMESTAMPTZ '2026-01-01 00:00:00+00' + g * INTERVAL '1 minute'
      FROM generate_series(1, 999) g;
    INSERT INTO posts (title, body, created_at, updated_at, author_id)
      SELECT 'Post ' || g, 'The body of post ' || g || '.',
             TIMESTAMPTZ '2026-02-01 00:00:00+00' + g * INTERVAL '1 second',
             TIMESTAMPTZ '2026-02-01 00:00:00+00' + g * INTERVAL '1 second', 1 + (g % 1000)
      FROM generate_series(1, 20000) g;
    INSERT INTO items (name, description, created_at)
      SELECT 'Item ' || g, 'Description of item ' || g || '.',
             TIMESTAMPTZ '2026-03-01 00:00:00+00' + g * INTERVAL '1 second'
      FROM generate_series(1, 2000) g;
    ANALYZE;
    """
    run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql])


def load_sqlite(path):
    db = sqlite3.connect(path)
    (hash_,) = db.execute("SELECT password_hash FROM users WHERE username = 'bench'").fetchone()
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    db.executemany(
        "INSERT INTO users (username, email, password_hash, role, image_file, created_at) VALUES (?, ?, ?, 'borrower', 'default.jpg', ?)",
        [(f"user{g}", f"user{g}@bench.example", hash_, stamp(start, g * 60)) for g in range(1, 1000)])
    posts = datetime(2026, 2, 1, tzinfo=timezone.utc)
    db.executemany(
        "INSERT INTO posts (title, body, created_at, updated_at, author_id) VALUES (?, ?, ?, ?, ?)",
        [(f"Post {g}", f"The body of post {g}.", stamp(posts, g), stamp(posts, g), 1 + g % 1000) for g in range(1, 20001)])
    items = datetime(2026, 3, 1, tzinfo=timezone.utc)
    db.executemany(
        "INSERT INTO items (name, description, created_at) VALUES (?, ?, ?)",
        [(f"Item {g}", f"Description of item {g}.", stamp(items, g)) for g in range(1, 2001)])
    db.commit()
    db.execute("ANALYZE")
    db.close()


def metrics():
    text = urllib.request.urlopen(f"{BASE}/metrics").read().decode()
    values = dict(line.split() for line in text.splitlines() if line and not line.startswith("#"))
    return int(values["tkc_sql_statements_total"]), int(values["tkc_graphql_requests_total"])


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) / 1024


def wrk(body, seconds):
    out = run(["wrk", "-t2", f"-c{CONCURRENCY}", f"-d{seconds}s", "--latency", "-s",
               os.path.join(ROOT, "bench/request.lua"), f"{BASE}/graphql"], env={"BODY": body})
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = float(re.search(r"p50_ms ([\d.]+)", out).group(1))
    p99 = float(re.search(r"p99_ms ([\d.]+)", out).group(1))
    errors = int(re.search(r"graphql_errors (\d+)", out).group(1))
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket:
        errors += sum(int(x) for x in socket.groups())
    return rps, p50, p99, errors


def pgbench(url, sql, seconds):
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(sql + "\n")
    out = run(["pgbench", "-n", "-M", "prepared", f"-c{CONCURRENCY}", "-j2", f"-T{seconds}", "-f", f.name, url])
    os.unlink(f.name)
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


ONLY = set(filter(None, os.environ.get("BENCH_OPS", "").split(",")))  # e.g. BENCH_OPS=a,d


def bench(backend, url):
    tkc(url, "migrate", "up")
    tkc(url, "create-user", "--username", "bench", "--email", "bench@bench.example", "--password-stdin",
        stdin="bench password\n")
    if backend == "postgres":
        load_postgres(url)
    else:
        load_sqlite(url.removeprefix("sqlite://"))
    log = open(os.path.join(tempfile.gettempdir(), f"tkc-bench-{backend}.log"), "w")
    server = subprocess.Popen([SERVER, "serve"], stdout=log, stderr=log, env={
        **os.environ, "DATABASE_URL": url, "PORT": str(PORT), "APP_ENV": "development",
        "SEED_DEMO": "false", "METRICS": "true", "LOGIN_MAX_FAILURES_PER_CLIENT": "1000000",
        # (e) logs one account in from 16 connections at once: attempts in flight count.
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": "1000000"})
    rows = []
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{BASE}/live")
                break
            except OSError:
                time.sleep(0.1)
        for key, name, body, _sql in OPS:
            if ONLY and key not in ONLY:
                continue
            wrk(body, 2)  # warm-up, not measured
            before = metrics()
            rps, p50, p99, errors = wrk(body, SECONDS)
            after = metrics()
            per_request = (after[0] - before[0]) / max(after[1] - before[1], 1)
            rows.append({"backend": backend, "op": key, "name": name, "rps": rps, "p50": p50, "p99": p99,
                         "errors": errors, "rss": peak_rss_mib(server.pid), "sql": per_request})
    finally:
        server.terminate()
        server.wait()
    return rows


def main():
    database = f"tkc_bench_{os.getpid()}"
    run(["psql", "-q", f"{PG}/postgres", "-c", f"CREATE DATABASE {database}"])
    folder = tempfile.mkdtemp()
    try:
        pg_url = f"{PG}/{database}"
        rows = bench("postgres", pg_url)
        ceilings = {key: pgbench(pg_url, sql, SECONDS) for key, _, _, sql in OPS
                    if sql and (not ONLY or key in ONLY)}
        if os.environ.get("BENCH_BACKENDS", "postgres,sqlite") != "postgres":
            rows += bench("sqlite", f"sqlite://{folder}/bench.db")
    finally:
        run(["psql", "-q", f"{PG}/postgres", "-c", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"])
    print(f"\n{SECONDS} s per operation, concurrency {CONCURRENCY}, {os.cpu_count()} cores; "
          f"ceiling = pgbench running the operation's SQL (prepared) at the same concurrency\n")
    header = f"{'backend':9} {'operation':28} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'peak RSS':>9} {'SQL/req':>7} {'ceiling':>8} {'of ceiling':>10}"
    print(header)
    print("-" * len(header))
    pg_rps = {}
    for r in rows:
        ceiling = ceilings.get(r["op"]) if r["backend"] == "postgres" else None
        if r["backend"] == "postgres":
            pg_rps[r["op"]] = r["rps"]
        share = f"{100 * r['rps'] / ceiling:9.0f}%" if ceiling else ("" if r["backend"] == "postgres" or r["op"] not in pg_rps else f"{r['rps'] / pg_rps[r['op']]:9.2f}x")
        print(f"{r['backend']:9} ({r['op']}) {r['name']:24} {r['rps']:8.0f} {r['p50']:7.2f} {r['p99']:7.2f} {r['errors']:6d} "
              f"{r['rss']:6.1f} MiB {r['sql']:7.2f} {ceiling or 0:8.0f} {share:>10}")
    print("\n(for SQLite rows the last column is its throughput relative to PostgreSQL's)")
    json.dump({"rows": rows, "ceilings": ceilings}, open(os.path.join(tempfile.gettempdir(), "tkc-bench.json"), "w"), indent=1)


main()
