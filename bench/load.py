#!/usr/bin/env python
"""Load benchmark (issue 7): the whole stack under Locust, then a consistency count.

Run by hand (not a test; pytest only collects tests/), on a quiet machine:

    cd /work/main && .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/load.py                       # 50 users, 10/s, 2 minutes
    .venv/bin/python bench/load.py --users 5 --run-time 20s --county-users 2   # a smoke test

What it does:

1. Drops and creates the database --db-url (its name must start with "bench_"), flushes the
   Redis DB of --redis-url (never DB 0), migrates and runs `seed_demo` (767 enterprises, the
   demo city, with its demo progress) with the bench password --password, so no account has the demo
   password (outside DEBUG that one must be changed first).
2. Starts the stack as docker-compose.yml runs it, with DEBUG off over plain HTTP on 127.0.0.1
   (SECURE_SSL_REDIRECT, SESSION_COOKIE_SECURE and CSRF_COOKIE_SECURE off, HSTS 0; MEDIA_ROOT a
   temporary folder; e-mail to Django's in-memory backend): gunicorn with gunicorn.conf.py and
   --web-workers (2) workers on 127.0.0.1:--port, a Celery worker `-Q celery --concurrency=2`,
   one `-Q rankings --concurrency=1` and beat (the ranking sweep every RANKING_SWEEP_EVERY s).
3. Runs Locust headless (bench/locustfile.py: liaisons, county offices, the city office,
   ranking readers) for --run-time with --users at --spawn-rate, writing Locust's CSVs and a
   JSON line per request to --out-dir.
4. Waits until the rankings have caught up (--settle seconds at most), stops everything and
   prints: throughput, p50 / p95 / p99 per request type and overall (all of the run, and p95
   after the ramp-up, i.e. after the last login), errors (anything but 2xx/3xx, except 409s,
   which are counted apart), the machine, and the consistency count: every check-in the run
   submitted is in the database with all its files on disk (size and SHA-256), no orphan
   files, no check-in without files, every score and approval the run gave is on its
   check-in and in one ReviewEvent, and the newest ranking snapshot has every enterprise's and
   county office's points.

Targets (issue 7): zero errors; p95 ≤ 300 ms for pages; p95 ≤ 1 s for a 5 MB upload.
bench/faults.py reuses the harness below (database, stack, consistency checks).
"""

import argparse
import collections
import hashlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bench_load"
DEFAULT_REDIS = "redis://127.0.0.1:6379/9"
# Not the demo password: outside DEBUG the demo password must be changed before any work.
DEFAULT_PASSWORD = "Bench-load-2026!"
PAGE_TARGET_MS = 300
UPLOAD_TARGET_MS = 1000
UPLOAD_NAME = "upload 5 MB"
LOGIN_NAMES = ("login page", "login")


# -- small helpers --------------------------------------------------------------------------


def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def fmt_ms(value):
    return "—" if value is None else f"{value:,.0f}"


def log(message):
    # UTC: Django sets the process time zone (TIME_ZONE) once it is set up.
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())} UTC] {message}", flush=True)


def machine_info():
    """nproc, memory, CPU model, load averages, versions: the numbers a result needs next to it."""
    info = {"nproc": os.cpu_count(), "loadavg": os.getloadavg(), "python": platform.python_version()}
    try:
        meminfo = Path("/proc/meminfo").read_text()
        for line in meminfo.splitlines():
            if line.startswith(("MemTotal:", "MemAvailable:")):
                key, value = line.split(":", 1)
                info[key] = f"{int(value.split()[0]) / 1024 / 1024:.1f} GiB"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["kernel"] = platform.release()
    return info


def service_versions(db_url, redis_url):
    out = {}
    try:
        import psycopg2

        with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
            cur.execute("SHOW server_version")
            out["postgres"] = cur.fetchone()[0]
    except Exception as exc:  # informational only
        out["postgres"] = f"? ({exc.__class__.__name__})"
    try:
        import redis

        out["redis"] = redis.Redis.from_url(redis_url, socket_timeout=2).info("server")["redis_version"]
    except Exception as exc:
        out["redis"] = f"? ({exc.__class__.__name__})"
    try:
        import django

        out["django"] = django.get_version()
    except ImportError:
        pass
    return out


# -- database and broker --------------------------------------------------------------------


def recreate_database(db_url):
    """DROP (forcing other sessions off) and CREATE the bench database; only bench_* names."""
    import psycopg2
    from psycopg2 import sql

    parsed = urlparse(db_url)
    name = parsed.path.lstrip("/")
    if not name.startswith("bench_"):
        raise SystemExit(f"refusing to drop database {name!r}: bench databases are named bench_*")
    conn = psycopg2.connect(parsed._replace(path="/postgres").geturl())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conn.close()


def flush_redis(redis_url):
    import redis

    db = int((urlparse(redis_url).path or "/0").lstrip("/") or 0)
    if db == 0:
        raise SystemExit("refusing to FLUSHDB Redis DB 0: give the bench its own DB, e.g. redis://127.0.0.1:6379/9")
    redis.Redis.from_url(redis_url, socket_timeout=2).flushdb()


def portal_env(db_url, redis_url, media_root, **extra):
    """The environment of every portal process: DEBUG off, plain HTTP on 127.0.0.1."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="chanjgai_portal.settings",
        DATABASE_URL=db_url,
        REDIS_URL=redis_url,
        SECRET_KEY="bench-" + secrets.token_hex(24),
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        MEDIA_ROOT=str(media_root),
        EVIDENCE_STORAGE="local",
        # Plain HTTP on the loopback: no redirect to https, cookies not limited to https.
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        SECURE_HSTS_SECONDS="0",
        # Notification e-mails go nowhere (no SMTP server on the bench machine).
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def manage(env, *args, log_path=None):
    """Run `manage.py <args>` in a child process with `env`; raise on failure."""
    out = open(log_path, "a") if log_path else None
    try:
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
            stdout=out or subprocess.DEVNULL, stderr=subprocess.STDOUT if out else None,
        )
    finally:
        if out:
            out.close()


def prepare_database(env, out_dir, password):
    """Fresh schema and the demo city with the bench password (seeded eagerly, without Redis)."""
    seed_env = dict(env, REDIS_URL="")
    started = time.monotonic()
    manage(seed_env, "migrate", "--noinput", log_path=out_dir / "seed.log")
    # With its demo progress (about 15 % of the enterprises submitted, reviewed, scored), so the
    # review queues have work from the first second.
    manage(seed_env, "seed_demo", "--password", password, log_path=out_dir / "seed.log")
    analyze(env["DATABASE_URL"])
    return time.monotonic() - started


def analyze(db_url):
    """VACUUM ANALYZE the fresh database, as autovacuum would within a minute of the seed in
    production. This machine's PostgreSQL runs with autovacuum off; without statistics the
    planner guessed 38 rows for a county's 1,130 tasks and chose nested loops (the city
    dashboard's check-in queries took 10-15 ms instead of 3)."""
    import psycopg2

    conn = psycopg2.connect(db_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    conn.close()


def setup_django(env):
    """Configure Django in this process with the stack's environment (for plans and checks)."""
    os.environ.update({k: v for k, v in env.items() if k not in ("PYTHONUNBUFFERED",)})
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# -- the stack ------------------------------------------------------------------------------


class Stack:
    """gunicorn, the two Celery workers and beat, each in its own process group (so that
    kill -9 reaches a worker's pool children too), each logging to out_dir/<name>.log."""

    def __init__(self, env, out_dir, port):
        self.env, self.out_dir, self.port = env, Path(out_dir), port
        self.procs = {}

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def log_path(self, name):
        return self.out_dir / f"{name}.log"

    def _spawn(self, name, argv, env=None):
        logfile = open(self.log_path(name), "a")
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env or self.env, stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[name] = (proc, logfile)
        return proc

    def start_web(self, workers=2, config="gunicorn.conf.py", **extra_env):
        env = dict(self.env, GUNICORN_BIND=f"127.0.0.1:{self.port}", WEB_CONCURRENCY=str(workers))
        env.update({k: str(v) for k, v in extra_env.items()})
        self._spawn("gunicorn", [str(BIN / "gunicorn"), "chanjgai_portal.wsgi", "--config", str(config)], env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/accounts/login/", timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, socket.timeout):
                pass
            if self.procs["gunicorn"][0].poll() is not None:
                raise SystemExit(f"gunicorn exited; see {self.log_path('gunicorn')}")
            time.sleep(0.3)
        raise SystemExit(f"gunicorn not answering after 60 s; see {self.log_path('gunicorn')}")

    # As in docker-compose.yml: `worker` (notifications, exports) and `worker-rankings`.
    WORKERS = {
        "worker": ["-Q", "celery", "--concurrency=2", "-n", "celery@%h"],
        "worker-rankings": ["-Q", "rankings", "--concurrency=1", "-n", "rankings@%h"],
    }

    def start_worker(self, name, timeout=60):
        offset = self.log_size(name)
        argv = [str(BIN / "celery"), "-A", "chanjgai_portal", "worker", *self.WORKERS[name], "--loglevel=INFO"]
        self._spawn(name, argv, dict(self.env, LOG_LEVEL="INFO"))
        self.wait_log(name, "ready.", offset, timeout)

    def start_beat(self):
        schedule = self.out_dir / "celerybeat-schedule"
        argv = [str(BIN / "celery"), "-A", "chanjgai_portal", "beat", "--loglevel=INFO", f"--schedule={schedule}"]
        self._spawn("beat", argv, dict(self.env, LOG_LEVEL="INFO"))

    def start_all(self, web_workers=2, web=True):
        if web:
            self.start_web(web_workers)
        for name in self.WORKERS:
            self.start_worker(name)
        self.start_beat()

    def log_size(self, name):
        path = self.log_path(name)
        return path.stat().st_size if path.exists() else 0

    def read_log(self, name, offset=0):
        path = self.log_path(name)
        if not path.exists():
            return ""
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def wait_log(self, name, needle, offset=0, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.read_log(name, offset):
                return True
            proc = self.procs.get(name, (None,))[0]
            if proc is not None and proc.poll() is not None:
                raise SystemExit(f"{name} exited ({proc.returncode}); see {self.log_path(name)}")
            time.sleep(0.1)
        raise SystemExit(f"{name}: no {needle!r} after {timeout} s; see {self.log_path(name)}")

    def cpu_seconds(self):
        """CPU time (user + system) of each component with its children so far (psutil)."""
        import psutil

        out = {}
        for name, (proc, _log) in self.procs.items():
            try:
                p = psutil.Process(proc.pid)
                total = sum(p.cpu_times()[:2])
                for child in p.children(recursive=True):
                    try:
                        total += sum(child.cpu_times()[:2])
                    except psutil.Error:
                        pass
                out[name] = round(total, 1)
            except psutil.Error:
                out[name] = None
        return out

    def kill(self, name, sig=signal.SIGKILL):
        """Signal the whole process group of `name` (kill -9 by default) and reap it."""
        proc, logfile = self.procs.pop(name)
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait()
        logfile.close()
        return proc.pid

    def stop(self, name, timeout=30):
        proc, logfile = self.procs.pop(name)
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        logfile.close()

    def stop_all(self):
        for name in list(self.procs):
            self.stop(name)


# -- consistency ----------------------------------------------------------------------------


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_files(checkin_ids=None, hash_files=True):
    """Evidence against MEDIA_ROOT: rows whose file is missing or differs (of `checkin_ids`,
    or all), files no row names (orphans), and check-ins without any file."""
    from django.conf import settings

    from tasks.models import CheckIn, Evidence

    media = Path(settings.MEDIA_ROOT)
    rows = Evidence.objects.all()
    if checkin_ids is not None:
        rows = rows.filter(checkin_id__in=checkin_ids)
    missing, damaged, checked = [], [], 0
    for pk, name, size, sha in rows.values_list("pk", "file", "size", "sha256").iterator():
        path = media / name
        checked += 1
        if not path.is_file():
            missing.append(pk)
        elif path.stat().st_size != size or (hash_files and file_sha256(path) != sha):
            damaged.append(pk)
    named = set(Evidence.objects.values_list("file", flat=True))
    on_disk = {str(p.relative_to(media)) for p in (media / "evidence").rglob("*") if p.is_file()} if (
        media / "evidence"
    ).is_dir() else set()
    orphans = sorted(on_disk - named)
    return {
        "evidence_checked": checked,
        "files_missing": len(missing),
        "files_damaged": len(damaged),
        "orphan_files": len(orphans),
        "orphan_examples": orphans[:5],
        "checkins_without_files": CheckIn.objects.filter(evidence__isnull=True).count(),
    }


def check_rankings(period):
    """The newest snapshot against the assignments: enterprises whose points differ, county
    rows whose office points differ, bands whose counts differ, and pending changes."""
    from django.db import connection

    from scoring.models import RankingSnapshot, RecomputeRequest

    latest = RankingSnapshot.objects.latest_for(period)
    pending = RecomputeRequest.objects.filter(period=period).count()
    if latest is None:
        return {"snapshot": None, "pending_changes": pending, "enterprises_wrong": None}
    with connection.cursor() as cur:
        cur.execute(
            """
            WITH expected AS (
                SELECT a.enterprise_id, COALESCE(SUM(a.points) FILTER (WHERE a.state = 'scored'), 0) AS points
                  FROM tasks_assignment a JOIN enterprises_enterprise e ON e.id = a.enterprise_id
                 WHERE a.period_id = %s AND e.is_active
                 GROUP BY a.enterprise_id),
            shown AS (SELECT enterprise_id, points FROM scoring_enterpriseranking WHERE snapshot_id = %s)
            SELECT count(*) FROM expected FULL JOIN shown USING (enterprise_id)
             WHERE expected.points IS DISTINCT FROM shown.points
            """,
            [period.pk, latest.pk],
        )
        enterprises_wrong = cur.fetchone()[0]
        cur.execute(
            """
            WITH expected AS (
                SELECT county_id, COALESCE(SUM(points) FILTER (WHERE state = 'scored'), 0) AS points
                  FROM tasks_assignment WHERE period_id = %s AND enterprise_id IS NULL GROUP BY county_id)
            SELECT count(*) FROM expected e LEFT JOIN scoring_countyranking c
                ON c.county_id = e.county_id AND c.snapshot_id = %s
             WHERE c.office_points IS DISTINCT FROM e.points
            """,
            [period.pk, latest.pk],
        )
        counties_wrong = cur.fetchone()[0]
        cur.execute(
            """
            WITH actual AS (
                SELECT county_id, points, count(*) AS n FROM scoring_enterpriseranking
                 WHERE snapshot_id = %s GROUP BY GROUPING SETS ((county_id, points), (points)))
            SELECT count(*) FROM actual a FULL JOIN
                (SELECT county_id, points, enterprises AS n FROM scoring_rankband WHERE snapshot_id = %s) b
                ON a.county_id IS NOT DISTINCT FROM b.county_id AND a.points = b.points
             WHERE a.n IS DISTINCT FROM b.n
            """,
            [latest.pk, latest.pk],
        )
        bands_wrong = cur.fetchone()[0]
    return {
        "snapshot": latest.pk,
        "pending_changes": pending,
        "enterprises_wrong": enterprises_wrong,
        "county_offices_wrong": counties_wrong,
        "bands_wrong": bands_wrong,
    }


def rankings_ok(result):
    return result.get("snapshot") is not None and not any(
        result.get(k) for k in ("pending_changes", "enterprises_wrong", "county_offices_wrong", "bands_wrong")
    )


def wait_rankings(period, timeout):
    """Poll check_rankings until it is clean; (seconds waited or None, last result)."""
    from django.db import connection

    started = time.monotonic()
    while True:
        result = check_rankings(period)
        if rankings_ok(result):
            return time.monotonic() - started, result
        if time.monotonic() - started > timeout:
            return None, result
        connection.close()
        time.sleep(0.5)


def check_scores(scores, since):
    """Every (checkin, points) the clients were told was scored is scored with those points
    and has exactly one matching score event; plus scores committed that no client saw."""
    from tasks.models import CheckIn, CheckInState, ReviewEvent

    wrong = []
    states = {c.pk: c for c in CheckIn.objects.filter(pk__in=[s["checkin"] for s in scores])}
    events = collections.Counter(
        ReviewEvent.objects.filter(checkin_id__in=states, action=ReviewEvent.Action.SCORE).values_list(
            "checkin_id", "points"
        )
    )
    for s in scores:
        points = Decimal(str(s["points"]))
        c = states.get(s["checkin"])
        if c is None or c.state != CheckInState.SCORED or c.points != points or events[(c.pk, points)] != 1:
            wrong.append(s["checkin"])
    in_db = ReviewEvent.objects.filter(action=ReviewEvent.Action.SCORE, at__gte=since).count()
    return {"scores_confirmed": len(scores), "scores_wrong": len(wrong), "score_events_in_run": in_db,
            "wrong_examples": wrong[:5]}


# -- the load run ---------------------------------------------------------------------------


def read_events(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return out


def request_stats(events):
    """Per request name: counts, errors, 409s and percentiles, for the run and after ramp-up."""
    requests = [e for e in events if e.get("kind") == "request"]
    logins = [e for e in requests if e["name"] in LOGIN_NAMES]
    steady_from = max((e["t"] + e["ms"] / 1000 for e in logins), default=None)
    start = min((e["t"] for e in requests), default=0)
    end = max((e["t"] + e["ms"] / 1000 for e in requests), default=0)
    rows = {}

    def summarise(name, items):
        times = [e["ms"] for e in items]
        steady = [e["ms"] for e in items if steady_from is None or e["t"] >= steady_from]
        return {
            "name": name,
            "requests": len(items),
            "errors": sum(1 for e in items if not e["ok"]),
            "conflicts_409": sum(1 for e in items if e.get("status") == 409),
            "p50_ms": pct(times, 50),
            "p95_ms": pct(times, 95),
            "p99_ms": pct(times, 99),
            "max_ms": max(times) if times else None,
            "steady_requests": len(steady),
            "steady_p95_ms": pct(steady, 95),
        }

    by_name = collections.defaultdict(list)
    for e in requests:
        by_name[e["name"]].append(e)
    for name in sorted(by_name):
        rows[name] = summarise(name, by_name[name])
    pages = [e for e in requests if e["name"] not in LOGIN_NAMES and e["name"] != UPLOAD_NAME]
    overall = {
        "all requests": summarise("all requests", requests),
        "pages (all but login and upload)": summarise("pages (all but login and upload)", pages),
    }
    duration = max(end - start, 1e-9)
    steady_requests = [e for e in requests if steady_from is not None and e["t"] >= steady_from]
    steady_duration = max(end - steady_from, 1e-9) if steady_from else None
    throughput = {
        "duration_s": round(duration, 1),
        "requests": len(requests),
        "requests_per_s": round(len(requests) / duration, 2),
        "ramp_up_s": round(steady_from - start, 1) if steady_from else None,
        "steady_requests_per_s": round(len(steady_requests) / steady_duration, 2) if steady_duration else None,
    }
    errors = collections.Counter(
        (e["name"], e.get("status"), (e.get("error") or "")[:120]) for e in requests if not e["ok"]
    )
    return rows, overall, throughput, errors


def print_table(rows, overall):
    header = f"{'request':<34}{'n':>7}{'err':>5}{'409':>5}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'p95 steady':>12}  target"
    print(header)
    print("-" * len(header))
    for row in [*rows.values(), *overall.values()]:
        name = row["name"]
        if name == UPLOAD_NAME:
            target = f"p95 ≤ {UPLOAD_TARGET_MS} ms"
        elif name in LOGIN_NAMES or name == "all requests":
            target = "—"
        else:
            target = f"p95 ≤ {PAGE_TARGET_MS} ms"
        if target != "—" and row["p95_ms"] is not None:
            limit = UPLOAD_TARGET_MS if name == UPLOAD_NAME else PAGE_TARGET_MS
            target += " met" if row["p95_ms"] <= limit else " MISSED"
        print(
            f"{name:<34}{row['requests']:>7}{row['errors']:>5}{row['conflicts_409']:>5}"
            f"{fmt_ms(row['p50_ms']):>8}{fmt_ms(row['p95_ms']):>8}{fmt_ms(row['p99_ms']):>8}"
            f"{fmt_ms(row['max_ms']):>8}{fmt_ms(row['steady_p95_ms']):>12}  {target}"
        )


def check_run(events, since, period, hash_files=True):
    """The consistency count after a load run (see the module docstring)."""
    from tasks.models import CheckIn, ReviewEvent

    submits = [e for e in events if e.get("kind") == "submit"]
    accepted = collections.Counter((e["user"], e["assignment"]) for e in submits if e["status"] == 302)
    in_db = list(
        CheckIn.objects.filter(submitted_at__gte=since, submitted_by__profile__role="enterprise_liaison").values_list(
            "pk", "submitted_by__username", "assignment_id"
        )
    )
    db_pairs = collections.Counter((u, a) for _pk, u, a in in_db)
    result = {
        "submissions_accepted": sum(accepted.values()),
        "submissions_refused_or_failed": sum(1 for e in submits if e["status"] != 302),
        "checkins_submitted_in_db": len(in_db),
        "accepted_but_not_in_db": sum((accepted - db_pairs).values()),
        "in_db_but_client_saw_failure": sum((db_pairs - accepted).values()),
    }
    result.update(check_files(checkin_ids=[pk for pk, _u, _a in in_db], hash_files=hash_files))
    approvals = [e["checkin"] for e in events if e.get("kind") == "approve" and e["status"] == 302]
    approve_events = set(
        ReviewEvent.objects.filter(checkin_id__in=approvals, action=ReviewEvent.Action.APPROVE).values_list(
            "checkin_id", flat=True
        )
    )
    result["approvals_confirmed"] = len(approvals)
    result["approvals_without_event"] = len(set(approvals) - approve_events)
    result["approve_events_in_run"] = ReviewEvent.objects.filter(
        action=ReviewEvent.Action.APPROVE, at__gte=since
    ).count()
    scores = [e for e in events if e.get("kind") == "score" and e["status"] == 302]
    result.update(check_scores(scores, since))
    result["conflicts_409_logged"] = sum(1 for e in events if e.get("kind") == "conflict")
    # The dashboards' per-enterprise counters (kept by triggers) against the tasks they count.
    from tasks import progress

    result["progress_counters_wrong"] = len(progress.drift(period))
    return result


def consistency_ok(result):
    return not any(
        result.get(k)
        for k in (
            "accepted_but_not_in_db", "files_missing", "files_damaged", "orphan_files", "checkins_without_files",
            "approvals_without_event", "scores_wrong", "progress_counters_wrong",
        )
    )


def run_locust(args, stack, out_dir, events_path):
    env = dict(
        os.environ,
        BENCH_PASSWORD=args.password,
        BENCH_EVENTS=str(events_path),
        BENCH_LIAISON_WEIGHT=str(args.liaison_weight),
        BENCH_READER_WEIGHT=str(args.reader_weight),
        BENCH_COUNTY_USERS=str(args.county_users),
        BENCH_CITY_USERS=str(args.city_users),
        BENCH_UPLOAD_SHARE=str(args.upload_share),
        BENCH_UPLOAD_BYTES=str(args.upload_bytes),
        BENCH_WAIT_MIN=str(args.wait[0]),
        BENCH_WAIT_MAX=str(args.wait[1]),
    )
    argv = [
        str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
        "-H", stack.url, "-u", str(args.users), "-r", str(args.spawn_rate), "-t", args.run_time,
        "--csv", str(out_dir / "locust"), "--stop-timeout", "60", "--exit-code-on-error", "0",
        "--only-summary",
    ]
    import psutil

    with open(out_dir / "locust.log", "w") as logfile:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=logfile, stderr=subprocess.STDOUT)
        cpu = 0.0
        ps = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                cpu = sum(ps.cpu_times()[:2])
            except psutil.Error:
                pass
            time.sleep(1)
    if proc.returncode != 0:
        raise SystemExit(f"locust exited {proc.returncode}; see {out_dir / 'locust.log'}")
    return round(cpu, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db-url", default=DEFAULT_DB, help=f"fresh database to create (default {DEFAULT_DB})")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS, help=f"Redis DB to flush and use (default {DEFAULT_REDIS})")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--run-time", default="2m", help="Locust's --run-time (default 2m)")
    parser.add_argument("--liaison-weight", type=int, default=30, help="weight of liaison users (default 30)")
    parser.add_argument("--reader-weight", type=int, default=8, help="weight of ranking readers (default 8)")
    parser.add_argument("--county-users", type=int, default=11, help="county office users, one county each (default 11)")
    parser.add_argument("--city-users", type=int, default=1, help="city office scorers (default 1)")
    parser.add_argument("--upload-share", type=float, default=0.3,
                        help="chance that a liaison submits when its task page takes a submission (default 0.3)")
    parser.add_argument("--upload-bytes", type=int, default=5 * 1024 * 1024, help="size of the uploaded PDF (5 MB)")
    parser.add_argument("--wait", type=float, nargs=2, default=(1.0, 3.0), metavar=("MIN", "MAX"),
                        help="think time between a user's tasks, seconds (default 1 3)")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--password", default=DEFAULT_PASSWORD, help="password given to every bench account")
    parser.add_argument("--settle", type=float, default=90, help="seconds to wait for the rankings to catch up")
    parser.add_argument("--out-dir", help="logs, Locust CSVs and events (default: a new temp dir)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--no-hash", action="store_true", help="check file sizes only, not SHA-256")
    parser.add_argument("--keep-media", action="store_true", help="keep the uploaded files (default: removed at the end)")
    args = parser.parse_args()

    out_dir = Path(args.out_dir or tempfile.mkdtemp(prefix="bench_load_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    media_root = Path(tempfile.mkdtemp(prefix="bench_load_media_"))
    events_path = out_dir / "events.jsonl"
    events_path.write_text("")
    machine_before = machine_info()
    log(f"output in {out_dir}; MEDIA_ROOT {media_root}; load average {machine_before['loadavg']}")

    env = portal_env(args.db_url, args.redis_url, media_root)
    log(f"recreating {args.db_url}, flushing {args.redis_url}, migrate + seed_demo ...")
    recreate_database(args.db_url)
    flush_redis(args.redis_url)
    seed_s = prepare_database(env, out_dir, args.password)
    log(f"  seeded in {seed_s:.0f} s")
    setup_django(env)
    from django.db import connection
    from django.utils import timezone

    from tasks.models import Period

    period = Period.objects.get()
    connection.close()

    stack = Stack(env, out_dir, args.port)
    result = {"args": vars(args), "out_dir": str(out_dir), "machine_before": machine_before}
    try:
        stack.start_all(web_workers=args.web_workers)
        log(f"stack up: gunicorn ({args.web_workers} workers) on {stack.url}, workers celery + rankings, beat")
        since = timezone.now()
        load_before = os.getloadavg()
        log(f"locust: {args.users} users at {args.spawn_rate}/s for {args.run_time}; load {load_before}")
        locust_cpu = run_locust(args, stack, out_dir, events_path)
        finished = time.monotonic()
        load_end = os.getloadavg()
        log(f"locust done; load {load_end}; waiting for the rankings to catch up (≤ {args.settle:.0f} s)")
        settle_s, rankings = wait_rankings(period, args.settle)
        cpu = stack.cpu_seconds()
        cpu["locust"] = locust_cpu
    finally:
        stack.stop_all()
    events = read_events(events_path)
    rows, overall, throughput, errors = request_stats(events)
    consistency = check_run(events, since, period, hash_files=not args.no_hash)
    if not args.keep_media:
        shutil.rmtree(media_root, ignore_errors=True)
    consistency.update({f"rankings_{k}": v for k, v in rankings.items()})
    consistency["rankings_caught_up_after_s"] = None if settle_s is None else round(settle_s, 1)
    versions = service_versions(args.db_url, args.redis_url)
    result.update(
        throughput=throughput, requests=rows, overall=overall,
        errors=[{"name": n, "status": s, "error": m, "count": c} for (n, s, m), c in errors.most_common()],
        consistency=consistency, load_at_start=load_before, load_at_end=load_end, cpu_seconds=cpu,
        versions=versions, seed_s=round(seed_s, 1), machine_after=machine_info(),
        finished_to_report_s=round(time.monotonic() - finished, 1),
    )

    print()
    print(f"== Load: {args.users} users (spawn {args.spawn_rate}/s) for {args.run_time}; "
          f"mix: liaison weight {args.liaison_weight}, reader weight {args.reader_weight}, "
          f"{args.county_users} county office users, {args.city_users} city scorer; "
          f"upload share {args.upload_share}, think time {args.wait[0]}–{args.wait[1]} s")
    m = machine_before
    print(f"machine: nproc {m['nproc']}, {m.get('cpu', '?')}, memory {m.get('MemTotal', '?')} "
          f"(available {m.get('MemAvailable', '?')}), kernel {m['kernel']}; {versions}")
    print(f"load averages (1/5/15 min): before seeding {m['loadavg']}, at the start {load_before}, at the end {load_end}")
    print(f"throughput: {throughput['requests']} requests in {throughput['duration_s']} s = "
          f"{throughput['requests_per_s']} req/s; after the ramp-up ({throughput['ramp_up_s']} s, until the last "
          f"login): {throughput['steady_requests_per_s']} req/s")
    print(f"CPU seconds used: {cpu}")
    print()
    print_table(rows, overall)
    print()
    total_errors = sum(errors.values())
    conflicts = overall["all requests"]["conflicts_409"]
    print(f"errors (not 2xx/3xx, 409 excluded): {total_errors}" + (" — target met" if not total_errors else " — target MISSED"))
    for (name, status, message), count in errors.most_common(15):
        print(f"  {count:>5} × {name}: HTTP {status} {message}")
    print(f"409 conflicts (counted apart): {conflicts}")
    print()
    print("consistency:")
    for key, value in consistency.items():
        print(f"  {key}: {value}")
    ok = consistency_ok(consistency) and rankings_ok(rankings)
    print(f"nothing lost: {'yes' if ok else 'NO'}")
    print(f"(logs, Locust CSVs and events in {out_dir})")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
