#!/usr/bin/env python
"""Benchmark: ranking freshness with a REAL Celery worker on Redis (issue 3).

Run by hand (not a test; pytest only collects tests/):

    cd /work/main && .venv/bin/python bench/latency.py \
        --db-url postgres://postgres@127.0.0.1:5432/bench_rankings_100000 \
        --redis-url redis://127.0.0.1:6379/7

The database must already be seeded (bench/rankings.py --sizes 100000 --keep: seed_demo plus half
of the assignments scored in SQL). What it does:

1. Prepares, through the real services, --isolated + 1 (the first is a warm-up, not counted)
   + --burst check-ins in `pending_city_review`, each for a DIFFERENT enterprise: the
   enterprise's liaison submits a not-yet-submitted assignment with a small PDF (uploads go to a
   temporary MEDIA_ROOT), the county office user of its county approves it. Check-ins already
   pending city review from an earlier run are reused.
2. Makes sure today's snapshot exists (a full recompute_now in this process if not; it is
   never part of the stats) and applies any pending RecomputeRequests.
3. Starts two workers as docker-compose.yml runs them, `celery -A chanjgai_portal worker
   --pool=solo --concurrency=1 -Q rankings` (logging to --worker-log, whose jobs are counted)
   and the same with `-Q celery` for the notification e-mails (logging to --worker-log.celery),
   with the same DATABASE_URL and REDIS_URL (DB 7).
4. Isolated scores: one every --spacing seconds; for each, services.score(city, checkin, points)
   and then polls every --poll seconds until the newest snapshot shows the enterprise with its
   expected points. Latency is measured from the COMMIT of the score (the connection's
   _commit() is wrapped) and, for reference, from the service's return (after its on-commit
   hook enqueued the job).
5. Burst: --burst scores at --burst-rate per second from --threads threads (each with its own
   connection); measures the time from the last commit until that score is visible, and until
   ALL burst scores are visible, and counts the worker's jobs.
6. Stops the worker and prints a summary (and JSON with --json).

--vacuum runs VACUUM ANALYZE on the ranking tables before the timed phases (the bench server runs
with autovacuum off, and every in-place re-rank leaves dead tuples). --explain only runs one
refresh_rankings after one score in a rolled-back transaction, timing each statement and
printing EXPLAIN (ANALYZE, BUFFERS) for the writes to scoring_enterpriseranking.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bench_rankings_100000"
DEFAULT_REDIS = "redis://127.0.0.1:6379/7"
PDF = b"%PDF-1.4\n% bench evidence\n%%EOF\n"
JOB_RE = re.compile(r"\[(?P<ts>[\d\- :,]+): \w+/\w+\] Task scoring\.recompute_rankings\[[^\]]+\] succeeded in (?P<s>[\d.]+)s")


def configure(args):
    os.environ.update(
        DATABASE_URL=args.db_url,
        REDIS_URL=args.redis_url,
        SECRET_KEY="bench",
        DEBUG="1",
        MEDIA_ROOT=args.media_root,
        LOG_LEVEL="WARNING",
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chanjgai_portal.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def stats_ms(values):
    return {
        "n": len(values),
        "p50_ms": round(pct(values, 50) * 1000, 1),
        "p95_ms": round(pct(values, 95) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1) if values else None,
    }


# -- commit timing --------------------------------------------------------------------------

_commit_times = threading.local()


def install_commit_timer():
    """Record, per thread, when the last COMMIT of the default connection returned."""
    from django.db.backends.postgresql.base import DatabaseWrapper

    real = DatabaseWrapper._commit

    def timed(self):
        result = real(self)
        _commit_times.last = time.perf_counter()
        return result

    DatabaseWrapper._commit = timed


# -- preparation ----------------------------------------------------------------------------


def prepare(count):
    """`count` check-ins pending city review, one per enterprise, made through the services."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection

    from enterprises.models import Profile
    from tasks import services
    from tasks.models import Assignment, CheckIn, CheckInState, Period

    period = Period.objects.get()
    # Reuse what an earlier run left pending (one per enterprise).
    pending = {}
    for c in (
        CheckIn.objects.filter(
            state=CheckInState.PENDING_CITY_REVIEW, assignment__period=period, assignment__enterprise__isnull=False
        )
        .select_related("assignment__indicator")
        .order_by("pk")
    ):
        pending.setdefault(c.assignment.enterprise_id, c)
    print(f"  reusing {len(pending)} check-ins already pending city review", flush=True)
    need = count - len(pending)
    if need > 0:
        # One not-submitted assignment per enterprise that has nothing in review, spread over
        # all counties (ordered by a hash of the id rather than by id).
        with connection.cursor() as cur:
            cur.execute(
                """
                SELECT DISTINCT ON (a.enterprise_id) a.id, a.enterprise_id
                  FROM tasks_assignment a JOIN enterprises_enterprise e ON e.id = a.enterprise_id
                 WHERE a.period_id = %s AND a.state = 'not_submitted' AND e.is_active
                   AND NOT EXISTS (SELECT 1 FROM tasks_assignment b WHERE b.enterprise_id = a.enterprise_id
                                   AND b.period_id = a.period_id
                                   AND b.state IN ('pending_county_review', 'pending_city_review', 'returned'))
                 ORDER BY a.enterprise_id, a.id
                """,
                [period.pk],
            )
            rows = [r for r in cur.fetchall() if r[1] not in pending]
        rows.sort(key=lambda r: (r[1] * 2654435761) % 4294967296)
        rows = rows[:need]
        assignments = Assignment.objects.in_bulk([r[0] for r in rows])
        liaisons = {
            p.enterprise_id: p.user
            for p in Profile.objects.filter(role="enterprise_liaison", enterprise_id__in=[r[1] for r in rows])
            .select_related("user")
            .order_by("pk")
        }
        county_users = {
            p.region_id: p.user for p in Profile.objects.filter(role="county_office").select_related("user")
        }
        started = time.monotonic()
        for i, (assignment_id, enterprise_id) in enumerate(rows, 1):
            assignment = assignments[assignment_id]
            checkin = services.submit_checkin(
                liaisons[enterprise_id],
                assignment,
                "bench：开展劳动技能竞赛",
                [SimpleUploadedFile("bench.pdf", PDF, content_type="application/pdf")],
            )
            checkin = services.approve(county_users[assignment.county_id], checkin)
            pending[enterprise_id] = checkin
            if i % 200 == 0:
                print(f"    prepared {i}/{len(rows)} ({time.monotonic() - started:.0f}s)", flush=True)
        print(f"  prepared {len(rows)} new check-ins in {time.monotonic() - started:.1f}s", flush=True)
    checkins = list(pending.values())[:count]
    if len(checkins) < count:
        raise SystemExit(f"only {len(checkins)} check-ins could be prepared, {count} needed")
    return list(
        CheckIn.objects.filter(pk__in=[c.pk for c in checkins]).select_related("assignment__indicator").order_by("?")
    )


def plan(checkins):
    """(checkin, enterprise_id, points, expected enterprise points) for each check-in."""
    from django.db.models import Sum

    from tasks.models import Assignment

    ids = [c.assignment.enterprise_id for c in checkins]
    period_id = checkins[0].assignment.period_id
    current = dict(
        Assignment.objects.filter(period_id=period_id, enterprise_id__in=ids, state="scored")
        .values("enterprise_id")
        .annotate(s=Sum("points"))
        .values_list("enterprise_id", "s")
    )
    out = []
    for c in checkins:
        max_points = c.assignment.indicator.max_points
        points = max(Decimal("1.00"), (max_points * Decimal("0.75")).quantize(Decimal("0.01")))
        points = min(points, max_points)
        out.append((c, c.assignment.enterprise_id, points, (current.get(c.assignment.enterprise_id) or 0) + points))
    return out


# -- visibility -----------------------------------------------------------------------------


def dead_tuples():
    """(live, dead) tuples of scoring_enterpriseranking from pg_stat_user_tables."""
    from django.db import connection

    with connection.cursor() as cur:
        if connection.pg_version >= 150000:
            cur.execute("SELECT pg_stat_force_next_flush()")
        cur.execute(
            "SELECT n_live_tup, n_dead_tup FROM pg_stat_user_tables WHERE relname = 'scoring_enterpriseranking'"
        )
        return cur.fetchone()


def latest_snapshot_id(period_id):
    from scoring.models import RankingSnapshot

    return (
        RankingSnapshot.objects.filter(period_id=period_id)
        .order_by("-created_at", "-pk")
        .values_list("pk", flat=True)
        .first()
    )


def visible(period_id, enterprise_id, expected):
    from scoring.models import EnterpriseRanking

    return EnterpriseRanking.objects.filter(
        snapshot_id=latest_snapshot_id(period_id), enterprise_id=enterprise_id, points=expected
    ).exists()


def wait_visible(period_id, enterprise_id, expected, poll, timeout):
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if visible(period_id, enterprise_id, expected):
            return time.perf_counter()
        time.sleep(poll)
    return None


def missing(period_id, items):
    """The (enterprise, expected) pairs the newest snapshot does not show yet."""
    from scoring.models import EnterpriseRanking

    shown = dict(
        EnterpriseRanking.objects.filter(
            snapshot_id=latest_snapshot_id(period_id), enterprise_id__in=[e for e, _ in items]
        ).values_list("enterprise_id", "points")
    )
    return [(e, x) for e, x in items if shown.get(e) != x]


# -- worker ---------------------------------------------------------------------------------


def start_worker(args):
    env = dict(os.environ)
    env.update(DATABASE_URL=args.db_url, REDIS_URL=args.redis_url, SECRET_KEY="bench", DEBUG="1", LOG_LEVEL="INFO")
    log = open(args.worker_log, "w")
    celery = str(Path(sys.executable).parent / "celery")
    # As in docker-compose.yml: one worker for the rankings queue (timed), one for the rest
    # (the notification e-mails each score queues), logging next to the first.
    common = ["--pool=solo", "--concurrency=1", "--loglevel=INFO", "--without-heartbeat", "--without-gossip",
              "--without-mingle"]
    proc = subprocess.Popen(
        [celery, "-A", "chanjgai_portal", "worker", "-Q", "rankings", "-n", "rankings@%h", *common],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    other_log = open(args.worker_log + ".celery", "w")
    proc.other = subprocess.Popen(
        [celery, "-A", "chanjgai_portal", "worker", "-Q", "celery", "-n", "celery@%h", *common],
        cwd=ROOT, env=env, stdout=other_log, stderr=subprocess.STDOUT,
    )
    proc.other_log = other_log
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if "ready." in Path(args.worker_log).read_text(errors="replace"):
            return proc, log
        if proc.poll() is not None:
            raise SystemExit(f"worker exited {proc.returncode}; see {args.worker_log}")
        time.sleep(0.2)
    raise SystemExit(f"worker not ready after 60 s; see {args.worker_log}")


def stop_worker(proc, log):
    for p in (proc, proc.other):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in (proc, proc.other):
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    log.close()
    proc.other_log.close()


def worker_jobs(path, start_offset, end_offset=None):
    text = Path(path).read_text(errors="replace")
    text = text[start_offset:end_offset]
    return [float(m.group("s")) for m in JOB_RE.finditer(text)]


def log_offset(path):
    return len(Path(path).read_text(errors="replace"))


def wait_idle(period_id, quiet=1.5, timeout=60):
    """Until no RecomputeRequest is left and the queued key is gone."""
    from scoring import recompute
    from scoring.models import RecomputeRequest

    client = recompute.redis_client()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not RecomputeRequest.objects.filter(period_id=period_id).exists() and not client.exists(
            recompute.queued_key(period_id)
        ):
            time.sleep(quiet)
            if not RecomputeRequest.objects.filter(period_id=period_id).exists():
                return True
        time.sleep(0.1)
    return False


# -- phases ---------------------------------------------------------------------------------


def isolated_phase(args, period_id, city, items):
    from tasks import services

    from_commit, from_return, service_s, timeouts = [], [], [], 0
    started = time.perf_counter()
    for i, (checkin, enterprise_id, points, expected) in enumerate(items):
        slot = started + i * args.spacing
        time.sleep(max(0.0, slot - time.perf_counter()))
        t_call = time.perf_counter()
        services.score(city, checkin, points)
        t_return = time.perf_counter()
        t_commit = _commit_times.last
        seen = wait_visible(period_id, enterprise_id, expected, args.poll, args.timeout)
        if seen is None:
            timeouts += 1
            print(f"    score {i}: not visible after {args.timeout}s", flush=True)
            continue
        from_commit.append(seen - t_commit)
        from_return.append(seen - t_return)
        service_s.append(t_return - t_call)
        if (i + 1) % 50 == 0:
            print(
                f"    {i + 1}/{len(items)} scored; latency p50 {pct(from_commit, 50) * 1000:.0f} ms,"
                f" p95 {pct(from_commit, 95) * 1000:.0f} ms so far",
                flush=True,
            )
    return {"from_commit": from_commit, "from_return": from_return, "service": service_s, "timeouts": timeouts}


def burst_phase(args, period_id, city, items):
    from django.db import connection

    from tasks import services

    n = len(items)
    commits, returns, service_s, errors = [None] * n, [None] * n, [None] * n, []
    start = time.perf_counter() + 0.2

    def run(offset):
        try:
            for k in range(offset, n, args.threads):
                checkin, _e, points, _x = items[k]
                slot = start + k / args.burst_rate
                time.sleep(max(0.0, slot - time.perf_counter()))
                t_call = time.perf_counter()
                try:
                    services.score(city, checkin, points)
                except Exception as exc:
                    errors.append(f"{k}: {exc!r}")
                    continue
                returns[k] = time.perf_counter()
                commits[k] = _commit_times.last
                service_s[k] = returns[k] - t_call
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(j,)) for j in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = [k for k in range(n) if commits[k] is not None]
    last = max(done, key=lambda k: commits[k])
    t_last_commit = commits[last]
    _c, last_enterprise, _p, last_expected = items[last]
    seen_last = wait_visible(period_id, last_enterprise, last_expected, args.poll, args.timeout)
    pairs = [(items[k][1], items[k][3]) for k in done]
    deadline = time.perf_counter() + args.timeout
    seen_all = None
    while time.perf_counter() < deadline:
        if not missing(period_id, pairs):
            seen_all = time.perf_counter()
            break
        time.sleep(args.poll * 4)
    return {
        "scored": len(done),
        "errors": errors,
        "first_commit_to_last_commit_s": t_last_commit - min(commits[k] for k in done),
        "last_commit_to_last_visible_s": None if seen_last is None else seen_last - t_last_commit,
        "last_commit_to_all_visible_s": None if seen_all is None else seen_all - t_last_commit,
        "still_missing": len(missing(period_id, pairs)),
        "service": [service_s[k] for k in done],
    }


class _Rollback(Exception):
    pass


def explain_refresh(args):
    """One refresh_rankings as the worker runs it after one score, in a transaction that is
    rolled back: every statement timed, and EXPLAIN (ANALYZE, BUFFERS) for the writes."""
    from django.db import connection, transaction

    from scoring.engine import refresh_rankings
    from scoring.models import RecomputeRequest
    from tasks.models import Assignment, Period

    period = Period.objects.get()
    log = []

    def wrapper(execute, sql, params, many, context):
        head = sql.lstrip().split(None, 1)[0].upper()
        started = time.perf_counter()
        if head in ("INSERT", "UPDATE", "DELETE") and not many and ("scoring_enterpriseranking" in sql or "scoring_rankband" in sql) and "RETURNING" not in sql:
            with connection.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                plan = "\n".join(r[0] for r in cur.fetchall())
            log.append((time.perf_counter() - started, sql, plan))
            return None
        try:
            return execute(sql, params, many, context)
        finally:
            log.append((time.perf_counter() - started, sql, None))

    assignment = (
        Assignment.objects.filter(period=period, enterprise__isnull=False, state="not_submitted")
        .select_related("indicator")
        .order_by("pk")
        .first()
    )
    try:
        with transaction.atomic():
            Assignment.objects.filter(pk=assignment.pk).update(state="scored", points=assignment.indicator.max_points)
            RecomputeRequest.objects.create(period=period, enterprise_id=assignment.enterprise_id)
            started = time.perf_counter()
            with connection.execute_wrapper(wrapper):
                refresh_rankings(period, trigger="bench-explain")
            total = time.perf_counter() - started
            raise _Rollback
    except _Rollback:
        pass
    print(f"refresh_rankings after one score (rolled back): {total * 1000:.0f} ms in all, statements:")
    for seconds, sql, plan in log:
        print(f"\n-- {seconds * 1000:8.1f} ms  {sql[:400]}")
        if plan:
            print(plan)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db-url", default=DEFAULT_DB)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--isolated", type=int, default=200, help="isolated scores timed (default 200)")
    parser.add_argument("--spacing", type=float, default=1.0, help="seconds between isolated scores (default 1)")
    parser.add_argument("--burst", type=int, default=1000, help="scores in the burst (default 1000; 0 = skip)")
    parser.add_argument("--burst-rate", type=float, default=100.0, help="scores per second in the burst")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--poll", type=float, default=0.005, help="polling interval, s (default 0.005)")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up waiting for a score after this, s")
    parser.add_argument("--worker-log", default="/tmp/bench_latency_worker.log")
    parser.add_argument("--media-root", default=None, help="MEDIA_ROOT for the uploads (default: a temp dir)")
    parser.add_argument("--json", help="also write the raw numbers here")
    parser.add_argument(
        "--vacuum", action="store_true",
        help="VACUUM ANALYZE the ranking tables before the timed phases (the server may run without autovacuum)",
    )
    parser.add_argument(
        "--explain", action="store_true",
        help="only time refresh_rankings' statements after one score (EXPLAIN ANALYZE, rolled back)",
    )
    args = parser.parse_args()
    if args.media_root is None:
        args.media_root = tempfile.mkdtemp(prefix="bench_latency_media_")
    configure(args)
    if args.explain:
        explain_refresh(args)
        return
    install_commit_timer()

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from scoring import recompute
    from scoring.engine import refresh_rankings
    from scoring.models import RankingSnapshot, ScoringRule
    from tasks.models import Period

    period = Period.objects.get()
    city = get_user_model().objects.get(username="city")
    print(f"load average at start: {os.getloadavg()}", flush=True)

    total = args.isolated + 1 + args.burst
    print(f"preparing {total} check-ins pending city review ...", flush=True)
    t = time.monotonic()
    checkins = prepare(total)
    print(f"  ready in {time.monotonic() - t:.1f}s", flush=True)

    latest = RankingSnapshot.objects.latest_for(period)
    if latest is None or latest.taken_on != timezone.localdate() or not latest.matches(ScoringRule.for_period(period)):
        t = time.monotonic()
        recompute.recompute_now(period, trigger="bench-latency")
        print(f"  today's snapshot computed in full in-process: {time.monotonic() - t:.2f}s (not in the stats)")
    t = time.monotonic()
    refresh_rankings(period, trigger="bench-latency")
    print(f"  pending changes applied in-process: {time.monotonic() - t:.2f}s (not in the stats)", flush=True)
    client = recompute.redis_client()
    client.delete(recompute.queued_key(period.pk), recompute.recent_key(period.pk))

    result_dead = {"before": dead_tuples()}
    if args.vacuum:
        t = time.monotonic()
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE scoring_enterpriseranking")
            cur.execute("VACUUM ANALYZE scoring_countyranking")
        print(f"  VACUUM ANALYZE of the ranking tables: {time.monotonic() - t:.1f}s", flush=True)
    result_dead["after_vacuum"] = dead_tuples()
    print(f"  scoring_enterpriseranking (live, dead) tuples: {result_dead}", flush=True)
    plans = plan(checkins)
    warmup, isolated, burst = plans[0], plans[1 : 1 + args.isolated], plans[1 + args.isolated :]

    proc, log = start_worker(args)
    result = {"args": {k: v for k, v in vars(args).items()}, "dead_tuples": result_dead}
    try:
        # Warm-up: the worker's first job (imports, connection) is not counted.
        off0 = log_offset(args.worker_log)
        w = isolated_phase(args, period.pk, city, [warmup])
        wait_idle(period.pk)
        result["warmup_ms"] = [round(x * 1000, 1) for x in w["from_commit"]]
        print(f"warm-up score visible after {result['warmup_ms']} ms (not counted)", flush=True)

        off1 = log_offset(args.worker_log)
        load = os.getloadavg()
        print(f"isolated: {len(isolated)} scores, {args.spacing}s apart; load {load}", flush=True)
        iso = isolated_phase(args, period.pk, city, isolated)
        wait_idle(period.pk)
        off2 = log_offset(args.worker_log)
        jobs_iso = worker_jobs(args.worker_log, off1, off2)
        result["isolated"] = {
            "load_before": load,
            "latency_from_commit": stats_ms(iso["from_commit"]),
            "latency_from_service_return": stats_ms(iso["from_return"]),
            "score_service": stats_ms(iso["service"]),
            "timeouts": iso["timeouts"],
            "jobs": len(jobs_iso),
            "job_duration": stats_ms(jobs_iso),
            "raw_from_commit_ms": [round(x * 1000, 1) for x in iso["from_commit"]],
        }
        print(json.dumps({k: v for k, v in result["isolated"].items() if not k.startswith("raw")}, indent=1), flush=True)

        if burst:
            load = os.getloadavg()
            print(f"burst: {len(burst)} scores at {args.burst_rate}/s from {args.threads} threads; load {load}", flush=True)
            b = burst_phase(args, period.pk, city, burst)
            wait_idle(period.pk, quiet=3)
            off3 = log_offset(args.worker_log)
            jobs_burst = worker_jobs(args.worker_log, off2, off3)
            b_service = b.pop("service")
            result["burst"] = {
                **b,
                "load_before": load,
                "score_service": stats_ms(b_service),
                "jobs": len(jobs_burst),
                "job_durations_s": jobs_burst,
                "job_duration": stats_ms(jobs_burst),
            }
            print(json.dumps(result["burst"], indent=1, default=str), flush=True)
        result["warmup_jobs_s"] = worker_jobs(args.worker_log, off0, off1)
    finally:
        stop_worker(proc, log)
    result["load_at_end"] = os.getloadavg()
    result_dead["at_end"] = dead_tuples()
    print(f"scoring_enterpriseranking (live, dead) tuples: {result_dead}")
    print(f"load average at end: {result['load_at_end']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
