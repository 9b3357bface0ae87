#!/usr/bin/env python
"""Request-body benchmark (issue 13, point 8): a huge body to the unauthenticated token endpoint.

Before the fix DRF's parsers read the whole body of an API request whatever its size: a
60 MB JSON or form body to /api/auth/token/ took seconds and ~180 MB of one worker without
logging in. This starts gunicorn (gunicorn.conf.py, one worker with one thread, DEBUG off)
from --code (a checkout of the portal; default this one) and, per body kind, sends a
--size-mb body from a raw socket while watching for the answer, and reports:

- status and seconds until the answer arrived, and how many bytes the client had sent by then;
- the worker's peak memory (VmHWM) growth over its peak after a warm-up login;
- as the baseline measured in the same run: a small refused login (empty fields, so no
  password hashing; ratio = huge / small).

    .venv/bin/python bench/bodies.py                          # this tree
    .venv/bin/python bench/bodies.py --code /tmp/portal-main  # e.g. `git archive main | tar -x -C …`

Needs a PostgreSQL database (--db-url, dropped and migrated) and nothing else (Celery eager).
"""

import argparse
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


def env_for(db_url, port):
    env = dict(os.environ)
    env.pop("REDIS_URL", None)  # Celery eager: no broker needed for logins
    env.update(
        DJANGO_SETTINGS_MODULE="chanjgai_portal.settings",
        DATABASE_URL=db_url,
        SECRET_KEY="bench-bodies-secret-key-0123456789abcdef0123456789",
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        SECURE_HSTS_SECONDS="0",
        LOG_LEVEL="WARNING",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="1",
        GUNICORN_KEEPALIVE="0",
        PYTHONUNBUFFERED="1",
    )
    return env


def recreate_database(db_url):
    name = db_url.rsplit("/", 1)[1]
    server = db_url.rsplit("/", 1)[0] + "/postgres"
    for sql in (f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", server, "-qc", sql], check=True, stdout=subprocess.DEVNULL)


def worker_pid(master_pid):
    for _attempt in range(100):
        try:
            children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
        except FileNotFoundError:
            children = []
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise SystemExit("no gunicorn worker")


def peak_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise SystemExit("no VmHWM")


def post(port, body_size, content_type, body_byte=b" ", prefix=b"", timeout=120):
    """POST a body of `body_size` bytes to the token endpoint from a raw socket; stop sending
    when the answer arrives. Returns (status, seconds, bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setblocking(False)
    head = (
        f"POST /api/auth/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {body_size}\r\nConnection: close\r\n\r\n"
    ).encode()
    chunk = body_byte * (256 * 1024)
    started = time.perf_counter()
    pending, sent_body, answer = head + prefix, len(prefix), b""
    deadline = started + timeout
    try:
        while time.perf_counter() < deadline:
            want_write = bool(pending) or sent_body < body_size
            readable, writable, _ = select.select([sock], [sock] if want_write else [], [], 1)
            if readable:
                data = sock.recv(65536)
                answer += data
                if not data or b"\r\n\r\n" in answer:
                    break
            if writable:
                if not pending:
                    n = min(len(chunk), body_size - sent_body)
                    pending = chunk[:n]
                    sent_body += n
                try:
                    pending = pending[sock.send(pending):]
                except (BrokenPipeError, ConnectionResetError):
                    break
        elapsed = time.perf_counter() - started
        if b"\r\n\r\n" not in answer:
            # The server may have answered and closed while we were still sending.
            try:
                sock.setblocking(True)
                sock.settimeout(5)
                answer += sock.recv(65536)
            except OSError:
                pass
    finally:
        sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else None
    return status, elapsed, sent_body - len(pending)


def run(code, db_url, port, size_mb, repeat):
    recreate_database(db_url)
    env = env_for(db_url, port)
    python = str(ROOT / ".venv" / "bin" / "python")
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=code, env=env, check=True)
    log = tempfile.NamedTemporaryFile(prefix="bench-bodies-", suffix=".log", delete=False)
    master = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "chanjgai_portal.wsgi", "--config", "gunicorn.conf.py"],
        cwd=code, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    results = {"code": str(code), "size_mb": size_mb}
    try:
        # Refused by the serializer before any password hashing: the cost of a request itself.
        small = json.dumps({"username": "", "password": ""}).encode()
        for _attempt in range(100):
            try:
                post(port, len(small), "application/json", prefix=small, timeout=5)
                break
            except OSError:
                time.sleep(0.2)
        baseline = []
        for _ in range(repeat):
            status, seconds, _sent = post(port, len(small), "application/json", prefix=small)
            baseline.append(seconds)
        results["small_login"] = {"status": status, "seconds": min(baseline)}
        size = size_mb * MB
        kinds = {
            # A JSON string of spaces-and-"a"s, and a form field of "a"s: valid, just huge.
            "json": ("application/json", b'{"username": "', b"a"),
            "form": ("application/x-www-form-urlencoded", b"username=", b"a"),
        }
        for kind, (content_type, prefix, byte) in kinds.items():
            runs = []
            for _ in range(repeat):
                pid = worker_pid(master.pid)
                before = peak_kb(pid)
                status, seconds, sent = post(port, size, content_type, body_byte=byte, prefix=prefix)
                time.sleep(0.5)
                pid_after = worker_pid(master.pid)
                growth = (peak_kb(pid_after) - before) / 1024 if pid_after == pid else None
                runs.append({"status": status, "seconds": seconds, "sent_mb": sent / MB, "peak_growth_mb": growth})
            results[kind] = runs
    finally:
        master.terminate()
        master.wait(30)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--code", default=str(ROOT), help="the portal checkout to serve (default: this one)")
    parser.add_argument("--db-url", default="postgres://postgres@127.0.0.1:5432/chanjgai_input_bench")
    parser.add_argument("--port", type=int, default=18450)
    parser.add_argument("--size-mb", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = run(Path(args.code), args.db_url, args.port, args.size_mb, args.repeat)
    base = results["small_login"]["seconds"]
    print(json.dumps(results, indent=2))
    for kind in ("json", "form"):
        best = min(run["seconds"] for run in results[kind])
        growth = max((run["peak_growth_mb"] or 0) for run in results[kind])
        statuses = sorted({run["status"] for run in results[kind]}, key=str)
        print(
            f"{kind}: {args.size_mb} MB → {statuses}, {best:.3f} s ({best / base:.1f}× a small refused login of "
            f"{base * 1000:.1f} ms), client sent ≤ {max(r['sent_mb'] for r in results[kind]):.1f} MB, "
            f"worker peak +{growth:.1f} MB"
        )
    sys.exit(0)


if __name__ == "__main__":
    main()
