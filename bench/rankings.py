#!/usr/bin/env python
"""Benchmark: the full ranking recompute of one period on PostgreSQL, by number of enterprises.

Run by hand (it is not a test; pytest only collects tests/):

    cd /work/main && .venv/bin/python bench/rankings.py --sizes 1000,10000,100000

For each size N it
  1. creates a dedicated database bench_rankings_<N> on the server of --pg-url (dropped first
     if it exists),
  2. runs `manage.py migrate` and `manage.py seed_demo --enterprises N --no-progress` as
     subprocesses (DEBUG=1 SECRET_KEY=bench DATABASE_URL=…): the demo city, N enterprises and
     the demo task library's assignments (about 16-17 per enterprise),
  3. marks about half of the assignments scored DIRECTLY IN SQL — every assignment with an even
     id gets state 'scored' and points = max_points × (10 + id % 11) / 20 (50 %–100 %, one
     decimal) — and runs VACUUM ANALYZE. This bypasses the check-in workflow on purpose: the
     bench measures the recompute, not the workflow, and the recompute reads only
     Assignment.state/points,
  4. in a fresh Python process configured for that database (django.setup() with the
     environment set first), times scoring.engine.compute_snapshot(period) --repeat times
     (default 5) and reports min / median / max wall time, the time spent in SQL statements
     and in the COMMIT (where PostgreSQL checks the deferred foreign keys), the
     number of enterprise assignments and of ranking rows per snapshot, and the process's
     peak RSS (resource.getrusage, ru_maxrss),
  5. drops the database, unless --keep.

Every compute_snapshot() call writes a new snapshot, as in production (snapshots are kept so
movement can be shown); seed_demo has already written one before the timed runs.

It also prints the machine (nproc, memory, CPU model, load average, PostgreSQL, Python and
Django versions) and, at the end, a Markdown table for bench/RESULTS.md.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"


# -- helpers -----------------------------------------------------------------------------


def db_url(pg_url, name):
    parts = urlsplit(pg_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def admin_connect(pg_url):
    import psycopg2

    conn = psycopg2.connect(pg_url)
    conn.autocommit = True
    return conn


def django_env(url):
    env = dict(os.environ)
    env.update(DEBUG="1", SECRET_KEY="bench", DATABASE_URL=url)
    env.pop("REDIS_URL", None)  # Celery eager, no broker needed
    return env


def run(cmd, env, label):
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"{label} failed (exit {proc.returncode})")
    return elapsed, proc.stdout


def load_average():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine(pg_url):
    info = {"nproc": os.cpu_count()}
    try:
        info["nproc"] = int(subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip())
    except (OSError, ValueError):
        pass
    try:
        free = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.splitlines()
        info["memory_total"] = next(line.split()[1] for line in free if line.startswith("Mem:"))
    except (OSError, StopIteration, IndexError):
        info["memory_total"] = "?"
    info["cpu_model"] = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    conn = admin_connect(pg_url)
    with conn.cursor() as cur:
        cur.execute("SELECT version()")
        info["postgres"] = cur.fetchone()[0]
        settings = {}
        for name in ("shared_buffers", "work_mem", "max_parallel_workers_per_gather", "jit"):
            cur.execute(f"SHOW {name}")
            settings[name] = cur.fetchone()[0]
        info["postgres_settings"] = settings
    conn.close()
    info["python"] = platform.python_version()
    import django

    info["django"] = django.get_version()
    info["platform"] = platform.platform()
    return info


# -- one size ------------------------------------------------------------------------------

SCORE_SQL = """
UPDATE tasks_assignment a
   SET state = 'scored',
       points = ROUND(i.max_points * (10 + a.id % 11) / 20.0, 1)
  FROM tasks_indicator i
 WHERE i.id = a.indicator_id AND a.id % 2 = 0
"""


def prepare(pg_url, size):
    name = f"bench_rankings_{size}"
    url = db_url(pg_url, name)
    conn = admin_connect(pg_url)
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    env = django_env(url)
    manage = [sys.executable, "manage.py"]
    t_migrate, _ = run([*manage, "migrate", "--no-input", "-v", "0"], env, "migrate")
    print(f"  migrate: {t_migrate:.1f}s", flush=True)
    t_seed, out = run([*manage, "seed_demo", "--enterprises", str(size), "--no-progress"], env, "seed_demo")
    for line in out.splitlines():
        if line.startswith("["):
            print(f"    {line}")
    print(f"  seed_demo: {t_seed:.1f}s", flush=True)
    conn = admin_connect(url)
    with conn.cursor() as cur:
        started = time.monotonic()
        cur.execute(SCORE_SQL)
        scored = cur.rowcount
        cur.execute("VACUUM ANALYZE")
        t_score = time.monotonic() - started
    conn.close()
    print(f"  scored {scored} assignments in SQL + VACUUM ANALYZE: {t_score:.1f}s", flush=True)
    return name, url, {"migrate_s": t_migrate, "seed_s": t_seed, "score_sql_s": t_score}


def drop(pg_url, name):
    conn = admin_connect(pg_url)
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def measure_child(repeat):
    """Runs in a fresh process whose environment already names the bench database."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chanjgai_portal.settings")
    import django

    django.setup()
    from django.db import connection

    from scoring.engine import compute_snapshot
    from scoring.models import CountyRanking, EnterpriseRanking
    from tasks.models import Assignment, AssignmentState, Period

    period = Period.objects.get()
    enterprise_assignments = Assignment.objects.filter(period=period, enterprise__isnull=False).count()
    office_assignments = Assignment.objects.filter(period=period, enterprise__isnull=True).count()
    scored = Assignment.objects.filter(period=period, state=AssignmentState.SCORED).count()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    sql_time = [0.0]
    commit_time = [0.0]
    # COMMIT is not a cursor.execute(): time it separately. Django's PostgreSQL foreign keys are
    # DEFERRABLE INITIALLY DEFERRED, so the FK checks of the inserted rows run at COMMIT.
    real_commit = connection._commit

    def timed_commit():
        started = time.perf_counter()
        try:
            return real_commit()
        finally:
            commit_time[0] += time.perf_counter() - started

    connection._commit = timed_commit

    def timer(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            sql_time[0] += time.perf_counter() - started

    walls, sqls, commits, snapshot = [], [], [], None
    with connection.execute_wrapper(timer):
        for _ in range(repeat):
            sql_time[0] = commit_time[0] = 0.0
            started = time.perf_counter()
            snapshot = compute_snapshot(period, trigger="bench")
            walls.append(time.perf_counter() - started)
            sqls.append(sql_time[0])
            commits.append(commit_time[0])
    result = {
        "enterprise_assignments": enterprise_assignments,
        "office_assignments": office_assignments,
        "scored_assignments": scored,
        "enterprise_rankings": EnterpriseRanking.objects.filter(snapshot=snapshot).count(),
        "county_rankings": CountyRanking.objects.filter(snapshot=snapshot).count(),
        "runs_s": walls,
        "sql_s": sqls,
        "min_s": min(walls),
        "median_s": statistics.median(walls),
        "max_s": max(walls),
        "commit_s": commits,
        "median_sql_s": statistics.median(sqls),
        "median_commit_s": statistics.median(commits),
        "rss_after_setup_mb": rss_before / 1024,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # ru_maxrss is KiB on Linux
    }
    print("RESULT " + json.dumps(result))


def measure(url, repeat):
    env = django_env(url)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure-child", "--repeat", str(repeat)]
    _, out = run(cmd, env, "measure")
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


# -- main ------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="Comma-separated enterprise counts.")
    parser.add_argument("--repeat", type=int, default=5, help="Timed recomputes per size (default 5).")
    parser.add_argument("--keep", action="store_true", help="Keep the bench_rankings_<N> databases.")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help=f"Maintenance database URL (default {DEFAULT_PG_URL}).")
    parser.add_argument("--json", help="Also write the results as JSON to this file.")
    parser.add_argument("--measure-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure_child:
        measure_child(args.repeat)
        return

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    info = machine(args.pg_url)
    print("machine:")
    for key, value in info.items():
        print(f"  {key}: {value}")
    print(f"  load average at start (1/5/15 min): {load_average()}", flush=True)

    results = []
    for size in sizes:
        print(f"\n== {size} enterprises ==", flush=True)
        name, url = f"bench_rankings_{size}", db_url(args.pg_url, f"bench_rankings_{size}")
        try:
            name, url, prep = prepare(args.pg_url, size)
            load_start = load_average()
            r = measure(url, args.repeat)
            r.update(prep, size=size, load_before=load_start, load_after=load_average())
            results.append(r)
            print(
                f"  compute_snapshot x{args.repeat}: median {r['median_s']:.3f}s"
                f" (min {r['min_s']:.3f}, max {r['max_s']:.3f}; median in statements {r['median_sql_s']:.3f}s,"
                f" in COMMIT {r['median_commit_s']:.3f}s);"
                f" runs {', '.join(f'{t:.3f}' for t in r['runs_s'])}",
            )
            print(
                f"  {r['enterprise_assignments']} enterprise assignments ({r['scored_assignments']} scored in all),"
                f" {r['enterprise_rankings']} enterprise + {r['county_rankings']} county ranking rows per snapshot,"
                f" peak RSS {r['peak_rss_mb']:.0f} MB; load {load_start} -> {r['load_after']}",
                flush=True,
            )
        finally:
            if not args.keep:
                drop(args.pg_url, name)

    print("\n| enterprises | enterprise assignments (scored) | ranking rows (enterprise + county) "
          "| recompute median | min | max | of which statements / COMMIT (median) | peak RSS |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['size']:,} | {r['enterprise_assignments']:,} ({r['scored_assignments']:,} incl. offices) "
            f"| {r['enterprise_rankings']:,} + {r['county_rankings']} "
            f"| {r['median_s']:.3f} s | {r['min_s']:.3f} s | {r['max_s']:.3f} s "
            f"| {r['median_sql_s']:.3f} s / {r['median_commit_s']:.3f} s | {r['peak_rss_mb']:.0f} MB |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "results": results}, indent=2))


if __name__ == "__main__":
    main()
