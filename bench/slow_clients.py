"""bench/faults.py slow-clients (issue 13, point 15): gunicorn reached directly by clients that
send their headers and stall the body, before (the threaded config) and after (gevent).

For each config, on the same seeded database and machine, one after the other:

1. gunicorn with that config file and --web-workers workers (no nginx in front);
2. --clients liaisons log in (one session each);
3. for each level in --levels (0, 4, 16, 64, 256): that many connections send a login POST's
   headers (Content-Length 100,000, a CSRF cookie so that the portal reads the body) and 9
   bytes of it, then nothing. One second later the liaisons load their dashboard (/dashboard/enterprise/) in a loop
   for --per-level seconds, each request waiting --request-timeout seconds at most. Recorded:
   answered / failed requests, p50 / p99 / max of the answered, requests per second, and the
   most PostgreSQL connections the bench database had meanwhile. Then the stalled connections
   are closed and the bench waits until the server answers again.

"before" is gunicorn.conf.py as of --before-rev (git show), "after" the working tree's. The
cost of gevent is the after/before ratio of p50, p99 and throughput with no stalled client.
Last, the after config with GUNICORN_CLIENT_TIMEOUT=--drop-timeout: how long until the server
drops --drop-clients stalled connections, and what it answered them.
"""

import collections
import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import load

log = load.log
# The last commit of gunicorn.conf.py with two threads per worker (gthread) and no client timeout.
BEFORE_REV = "81f5649"
STALL_REQUEST = (
    b"POST /accounts/login/ HTTP/1.1\r\n"
    b"Host: 127.0.0.1\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n"
    b"Cookie: csrftoken=" + b"a" * 32 + b"\r\n"
    b"Content-Length: 100000\r\n\r\n"
    b"username="
)


def stall(url, count):
    """`count` connections that sent a POST's headers and the start of its body."""
    address = urlparse(url)
    sockets = []
    for _ in range(count):
        s = socket.create_connection((address.hostname, address.port), timeout=10)
        s.sendall(STALL_REQUEST)
        sockets.append(s)
    return sockets


def close_all(sockets):
    for s in sockets:
        try:
            s.close()
        except OSError:
            pass


def logged_in_sessions(url, usernames, password):
    import re

    import requests

    token = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
    sessions = []
    for username in usernames:
        session = requests.Session()
        page = session.get(f"{url}/accounts/login/", timeout=30)
        response = session.post(
            f"{url}/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": token.search(page.text).group(1)},
            allow_redirects=False, timeout=30,
        )
        if response.status_code != 302:
            raise SystemExit(f"{username} could not log in: HTTP {response.status_code}")
        sessions.append(session)
    return sessions


class ConnectionSampler(threading.Thread):
    """The most connections PostgreSQL had to the bench database while it ran (every 0.2 s)."""

    def __init__(self, db_url):
        super().__init__(daemon=True)
        self.db_url, self.most, self.stop = db_url, 0, threading.Event()

    def run(self):
        import psycopg2

        name = urlparse(self.db_url).path.lstrip("/")
        conn = psycopg2.connect(self.db_url)
        conn.autocommit = True
        with conn.cursor() as cur:
            while not self.stop.is_set():
                cur.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [name]
                )
                self.most = max(self.most, cur.fetchone()[0])
                self.stop.wait(0.2)
        conn.close()


def measure(url, sessions, seconds, timeout, db_url):
    """Each session loads its dashboard in a loop for `seconds`: latencies and failures."""
    import requests

    latencies, failures = [], collections.Counter()
    lock = threading.Lock()
    began = time.monotonic()
    end = began + seconds

    def client(session):
        while time.monotonic() < end:
            started = time.monotonic()
            try:
                response = session.get(f"{url}/dashboard/enterprise/", timeout=timeout, allow_redirects=False)
                outcome = None if response.status_code == 200 else f"HTTP {response.status_code}"
            except requests.RequestException as exc:
                outcome = exc.__class__.__name__
            with lock:
                if outcome:
                    failures[outcome] += 1
                else:
                    latencies.append((time.monotonic() - started) * 1000)

    sampler = ConnectionSampler(db_url)
    sampler.start()
    threads = [threading.Thread(target=client, args=(s,), daemon=True) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    sampler.stop.set()
    sampler.join()
    return {
        "answered": len(latencies),
        "failed": sum(failures.values()),
        "failures": dict(failures),
        "p50_ms": round(load.pct(latencies, 50), 1) if latencies else None,
        "p99_ms": round(load.pct(latencies, 99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "per_s": round(len(latencies) / elapsed, 1),
        "db_connections_max": sampler.most,
    }


def wait_answering(url, limit=120):
    """Seconds until the login page answers again (after the stalled connections closed)."""
    import requests

    began = time.monotonic()
    while time.monotonic() - began < limit:
        try:
            if requests.get(f"{url}/accounts/login/", timeout=5).status_code == 200:
                return round(time.monotonic() - began, 1)
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the server did not answer within {limit} s after the stalled clients left")


def run_config(name, config, stack, args):
    log(f"{name}: gunicorn --config {config}, {args.web_workers} workers")
    stack.start_web(args.web_workers, config=config)
    try:
        usernames = [f"ent{i:04d}" for i in range(1, args.clients + 1)]
        sessions = logged_in_sessions(stack.url, usernames, args.password)
        measure(stack.url, sessions, 3, args.request_timeout, args.db_url)  # warm-up, not reported
        rows = []
        for level in args.levels:
            stalled = stall(stack.url, level)
            time.sleep(1)
            row = measure(stack.url, sessions, args.per_level, args.request_timeout, args.db_url)
            still_open = sum(1 for s in stalled if _open(s))
            close_all(stalled)
            row.update(config=name, stalled=level, stalled_still_open=still_open,
                       recovered_in_s=wait_answering(stack.url))
            log(f"  {level:>3} stalled: {row}")
            rows.append(row)
        for s in sessions:
            s.close()
        return rows
    finally:
        stack.stop("gunicorn")


def _open(s):
    """True if the server has neither answered nor closed `s`."""
    s.setblocking(False)
    try:
        s.recv(1)  # an answer's first byte, or b"" once closed
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False


def drop_check(stack, args):
    """The after config with a short client timeout: when are stalled connections dropped?"""
    stack.start_web(args.web_workers, GUNICORN_CLIENT_TIMEOUT=args.drop_timeout)
    try:
        stalled = stall(stack.url, args.drop_clients)
        began = time.monotonic()
        closed_after, statuses = [], collections.Counter()
        for s in stalled:
            s.settimeout(max(1.0, began + 10 * args.drop_timeout + 30 - time.monotonic()))
            answer = b""
            try:
                while chunk := s.recv(65536):
                    answer += chunk
                closed_after.append(time.monotonic() - began)
                statuses[answer.split(b" ", 2)[1].decode() if answer else "closed without an answer"] += 1
            except (TimeoutError, OSError):
                statuses["still open"] += 1
        close_all(stalled)
        return {
            "client_timeout_s": args.drop_timeout,
            "stalled": args.drop_clients,
            "dropped": len(closed_after),
            "dropped_after_s_min": round(min(closed_after), 1) if closed_after else None,
            "dropped_after_s_max": round(max(closed_after), 1) if closed_after else None,
            "answers": dict(statuses),
        }
    finally:
        stack.stop("gunicorn")


def ratio(after, before):
    return round(after / before, 2) if after and before else None


def slow_clients(args, setup):
    out_dir, env, _period = setup(args, "slow-clients")
    from django.db import connection

    connection.close()
    before = out_dir / "gunicorn.before.conf.py"
    before.write_text(
        subprocess.run(["git", "show", f"{args.before_rev}:gunicorn.conf.py"], cwd=load.ROOT,
                       check=True, capture_output=True, text=True).stdout
    )
    stack = load.Stack(env, out_dir, args.port)
    try:
        rows = run_config("before", before, stack, args) + run_config("after", load.ROOT / "gunicorn.conf.py", stack, args)
        drop = drop_check(stack, args)
    finally:
        stack.stop_all()
        if not args.keep_media:
            shutil.rmtree(args.media_root, ignore_errors=True)

    print()
    print(f"== Fault scenario slow-clients: {args.clients} liaisons load /dashboard/enterprise/ for {args.per_level} s per level, "
          f"requests time out after {args.request_timeout} s; {args.web_workers} gunicorn workers")
    m = load.machine_info()
    print(f"machine: nproc {m['nproc']}, {m.get('cpu', '?')}, memory {m.get('MemTotal', '?')}, "
          f"load averages {m['loadavg']}; {load.service_versions(args.db_url, args.redis_url)}")
    print("| config | stalled | answered | failed | p50 ms | p99 ms | max ms | req/s | PG conns max | stalled still open | answers again after |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['config']} | {r['stalled']} | {r['answered']} | {r['failed']} {r['failures'] or ''} | "
              f"{load.fmt_ms(r['p50_ms'])} | {load.fmt_ms(r['p99_ms'])} | {load.fmt_ms(r['max_ms'])} | {r['per_s']} | "
              f"{r['db_connections_max']} | {r['stalled_still_open']} | {r['recovered_in_s']} s |")
    base = {r["config"]: r for r in rows if r["stalled"] == 0}
    cost = {}
    if "before" in base and "after" in base:
        b, a = base["before"], base["after"]
        cost = {"p50": ratio(a["p50_ms"], b["p50_ms"]), "p99": ratio(a["p99_ms"], b["p99_ms"]),
                "throughput": ratio(a["per_s"], b["per_s"])}
        print(f"gevent with no stalled client, after/before: p50 ×{cost['p50']}, p99 ×{cost['p99']}, "
              f"throughput ×{cost['throughput']}")
    print(f"drop check: {drop}")
    after_rows = [r for r in rows if r["config"] == "after"]
    ok = bool(after_rows) and all(r["failed"] == 0 and r["answered"] > 0 for r in after_rows) and (
        drop["dropped"] == drop["stalled"] and "500" not in drop["answers"]
    )
    print(f"after config serves everyone with stalled clients and drops them: {'yes' if ok else 'NO'}")
    print(f"(logs in {out_dir})")
    if args.json:
        Path(args.json).write_text(json.dumps({"scenario": "slow-clients", "rows": rows, "gevent_cost": cost,
                                               "drop": drop, "ok": ok, "machine": m}, indent=2, default=str))
    return 0 if ok else 1


def add_parser(sub, common, setup):
    p = sub.add_parser("slow-clients", parents=[common],
                       help="stalled request bodies against gunicorn reached directly, before and after")
    p.add_argument("--levels", type=lambda v: [int(x) for x in v.split(",")], default=[0, 4, 16, 64, 256],
                   help="stalled connections per step (default 0,4,16,64,256)")
    p.add_argument("--clients", type=int, default=4, help="liaisons loading their dashboard meanwhile (default 4)")
    p.add_argument("--per-level", type=float, default=10, help="seconds of normal requests per level (default 10)")
    p.add_argument("--request-timeout", type=float, default=10, help="seconds a normal request may wait (default 10)")
    p.add_argument("--web-workers", type=int, default=2)
    p.add_argument("--before-rev", default=BEFORE_REV, help=f"git revision of the 'before' gunicorn.conf.py ({BEFORE_REV})")
    p.add_argument("--drop-timeout", type=float, default=5, help="GUNICORN_CLIENT_TIMEOUT of the drop check (default 5)")
    p.add_argument("--drop-clients", type=int, default=64, help="stalled connections of the drop check (default 64)")
    p.set_defaults(run=lambda args: slow_clients(args, setup))
