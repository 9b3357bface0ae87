#!/usr/bin/env python
"""Fault benchmarks (issue 7): a component fails during work; afterwards, nothing is lost.

Run by hand (not a test), on a quiet machine where nobody else needs Redis or PostgreSQL:
`stop-redis` stops THE machine's Redis (every DB) for --down seconds and `restart-postgres`
restarts THE PostgreSQL server. --dry-run does everything except the stop/restart itself.

    cd /work/main && .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/faults.py kill-worker         # kill -9 the rankings worker in a burst of scores
    .venv/bin/python bench/faults.py stop-redis          # Redis down 30 s while scores go on
    .venv/bin/python bench/faults.py restart-postgres    # PostgreSQL restarted during HTTP uploads
    .venv/bin/python bench/faults.py stop-redis --dry-run
    .venv/bin/python bench/faults.py kill-upload         # kill -9 the web worker mid-upload ×20 (bench/upload_faults.py)
    .venv/bin/python bench/faults.py disk-full           # uploads into a tiny tmpfs MEDIA_ROOT (needs root to mount)
    .venv/bin/python bench/faults.py hung-redis --db-url postgres://postgres@127.0.0.1:5432/bench_faults_outbox
    .venv/bin/python bench/faults.py redeliver --db-url postgres://postgres@127.0.0.1:5432/bench_faults_outbox
    .venv/bin/python bench/faults.py lost-answers --db-url postgres://postgres@127.0.0.1:5432/bench_idem --port 19000

Each scenario drops and creates --db-url (bench_faults), flushes the Redis DB of --redis-url
(DB 10), migrates and seeds the demo city (bench/load.py's harness: DEBUG off, plain HTTP on
127.0.0.1, the bench password), starts the Celery workers as docker-compose.yml runs them plus
beat (the ranking sweep every --sweep-every s), and ends with the "nothing lost" count:

- every score a caller was told succeeded is on its check-in with its points and in exactly
  one ReviewEvent; the newest ranking snapshot has every enterprise's and county office's
  points, its bands match its rows, and no ranking change is left pending;
- every evidence row has its file on disk (size and SHA-256), no file in MEDIA_ROOT is
  without a row (orphan), no check-in is without its files;
- restart-postgres: exactly one check-in version per assignment whose upload succeeded
  (none for one that never did), and every error a client saw was the site's 500 page or a 503.

Scenarios:

kill-worker   Prepares --scores check-ins pending city review (through the services: a
              liaison submits, the county office approves), then scores them through
              tasks.services.score from --threads threads at --rate per second. After
              --kill-after scores it waits (≤ 5 s) until the rankings worker holds a ranking
              job it has not finished, kills its process group with SIGKILL, restarts it after
              --down seconds, and waits until the ranking includes every score (acks_late
              redelivery or the beat sweep, whichever comes first).
stop-redis    The same scoring, spread over --duration seconds; --stop-at seconds in it runs
              `redis-cli shutdown nosave`, and --down seconds later starts Redis again with
              --redis-start. Scores must keep committing while Redis is down; afterwards the
              ranking must catch up (the sweep: the pending changes are in PostgreSQL).
hung-redis    (issue 13, points 10-11) Starts a redis-server of its own on --own-redis-port
              (never the machine's shared one) as the broker; scores --rate per second for
              --phase seconds with Redis answering (baseline), then SIGSTOPs that redis-server
              for --down seconds while as many scores go on, then SIGCONT. Reports the score
              call's p50/p99 in both phases (and their ratio), then waits until every score's
              notification e-mail is sent (the file e-mail backend writes them; each is counted
              by its Message-ID: exactly once each) and the ranking includes every score.
redeliver     (issue 13, point 12) Own redis-server too. Records an export job, holds its row
              locked so the worker that takes it blocks inside it, kills the whole worker
              (kill -9 of its process group) while it is in the job, restarts it after --down s
              and measures until the job is done: Redis hands the unacknowledged job out again
              after the visibility timeout (--visibility-timeout, default the settings').
              The export sweep is switched off for this run, so only redelivery can finish it.
restart-postgres
              Starts gunicorn too; --clients liaisons (threads with their own session) each
              submit --uploads tasks with one --upload-bytes PDF over HTTP; --restart-at
              seconds in, `pg_ctlcluster … restart`. A client retries an upload that got a
              500/503/connection error (every --retry-wait s, --attempts at most); a 409 on
              a retry means the earlier attempt went in after all, which the database check
              confirms.
slow-clients  Issue 13, point 15 (bench/slow_clients.py): gunicorn reached directly while 0, 4,
              16, 64, 256 connections stall a request body; p50/p99 of liaisons' dashboards,
              the old threaded config against the gevent one, and when stalled ones are dropped.
lost-answers  Issue 13, point 14 (bench/idempotency_faults.py): county approve / city score POSTs
              over HTTP whose answer the client loses (request sent, socket closed unread), then
              retried with the same Idempotency-Key (200, replayed) and, as the baseline, without
              one (409); counts duplicate ReviewEvents and the latency cost of a key.
"""

import argparse
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import idempotency_faults  # bench/idempotency_faults.py: lost-answers (issue 13, point 14)
import load  # bench/load.py: the database, the stack and the consistency checks
import slow_clients  # the slow-clients scenario
import upload_faults  # bench/upload_faults.py: kill-upload and disk-full (issue 13)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bench_faults"
DEFAULT_REDIS = "redis://127.0.0.1:6379/10"
REDIS_STOP = "redis-cli shutdown nosave"
REDIS_START = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no '
    "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
)
PG_RESTART = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main restart"
SMALL_PDF = b"%PDF-1.4\n% bench fault evidence\n%%EOF\n"
RECEIVED = re.compile(r"Task (scoring\.\w+)\[([0-9a-f-]+)\] received")
SUCCEEDED = re.compile(r"Task (scoring\.\w+)\[([0-9a-f-]+)\] succeeded in ([\d.]+)s")
SITE_500_MARKER = 'error-page__code">500<'

log = load.log


# -- setup ----------------------------------------------------------------------------------


def setup(args, name, **extra_env):
    out_dir = Path(args.out_dir or tempfile.mkdtemp(prefix=f"bench_faults_{name}_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    args.out_dir = str(out_dir)
    media_root = Path(tempfile.mkdtemp(prefix="bench_faults_media_"))
    args.media_root = media_root
    env = load.portal_env(args.db_url, args.redis_url, media_root, RANKING_SWEEP_EVERY=args.sweep_every, **extra_env)
    log(f"{name}: output in {out_dir}; MEDIA_ROOT {media_root}; load average {os.getloadavg()}")
    log(f"recreating {args.db_url}, flushing {args.redis_url}, migrate + seed_demo ...")
    load.recreate_database(args.db_url)
    load.flush_redis(args.redis_url)
    seed_s = load.prepare_database(env, out_dir, args.password)
    log(f"  seeded in {seed_s:.0f} s")
    load.setup_django(env)
    from tasks.models import Period

    return out_dir, env, Period.objects.get()


def run_command(command, dry_run):
    """Run a fault command through the shell (or only say it with --dry-run); seconds taken."""
    if dry_run:
        log(f"DRY RUN: would run: {command}")
        return 0.0
    log(f"running: {command}")
    started = time.monotonic()
    done = subprocess.run(command, shell=True, capture_output=True, text=True)
    if done.returncode != 0:
        log(f"  exit {done.returncode}: {done.stdout.strip()} {done.stderr.strip()}")
    return time.monotonic() - started


def pending_city_checkins(period, count):
    """`count` check-ins pending city review, one per enterprise where possible: the seed's,
    then new ones made through the services (liaison submits a small PDF, county approves)."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db.models import Exists, OuterRef

    from enterprises.models import Profile
    from tasks import services
    from tasks.models import Assignment, CheckIn, CheckInState

    checkins = list(
        CheckIn.objects.filter(state=CheckInState.PENDING_CITY_REVIEW, assignment__period=period)
        .select_related("assignment__indicator")
        .order_by("pk")[:count]
    )
    busy = CheckIn.objects.filter(assignment__enterprise_id=OuterRef("enterprise_id"))
    fresh = (
        Assignment.objects.filter(period=period, enterprise__isnull=False, state="not_submitted")
        .annotate(busy=Exists(busy))
        .filter(busy=False)
        .order_by("enterprise_id", "pk")
    )
    liaisons = {p.enterprise_id: p.user for p in Profile.objects.filter(role="enterprise_liaison").select_related("user")}
    county_users = {p.region_id: p.user for p in Profile.objects.filter(role="county_office").select_related("user")}
    used = set()
    for assignment in fresh.iterator():
        if len(checkins) >= count:
            break
        if assignment.enterprise_id in used:
            continue
        used.add(assignment.enterprise_id)
        checkin = services.submit_checkin(
            liaisons[assignment.enterprise_id], assignment, "bench faults: evidence",
            [SimpleUploadedFile("bench.pdf", SMALL_PDF, content_type="application/pdf")],
        )
        checkins.append(services.approve(county_users[assignment.county_id], checkin))
    if len(checkins) < count:
        raise SystemExit(f"only {len(checkins)} check-ins pending city review could be made, {count} asked")
    return list(CheckIn.objects.filter(pk__in=[c.pk for c in checkins]).select_related("assignment__indicator"))


def score_points(checkin):
    max_points = checkin.assignment.indicator.max_points
    return min(max_points, max(Decimal("0.50"), (max_points * Decimal("0.75")).quantize(Decimal("0.01"))))


def score_all(checkins, threads, rate, on_progress=None):
    """Score `checkins` through the services from `threads` threads at `rate` per second.
    Returns [{checkin, points, ok, error, s, at}] in the order given."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from tasks import services

    city = get_user_model().objects.get(username="city")
    results = [None] * len(checkins)
    start = time.monotonic() + 0.2
    done = collections.Counter()
    lock = threading.Lock()

    def run(offset):
        try:
            for k in range(offset, len(checkins), threads):
                time.sleep(max(0.0, start + k / rate - time.monotonic()))
                checkin = checkins[k]
                points = score_points(checkin)
                t0 = time.monotonic()
                try:
                    services.score(city, checkin, points, "bench faults")
                    ok, error = True, None
                except Exception as exc:  # counted and reported
                    ok, error = False, f"{exc.__class__.__name__}: {str(exc)[:200]}"
                    connection.close()
                results[k] = {"checkin": checkin.pk, "points": str(points), "ok": ok, "error": error,
                              "s": time.monotonic() - t0, "at": time.monotonic()}
                with lock:
                    done["n"] += 1
                    n = done["n"]
                if on_progress:
                    on_progress(n)
        finally:
            connection.close()

    workers = [threading.Thread(target=run, args=(j,), daemon=True) for j in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return results


def ranking_jobs(stack, offset=0):
    """(received, succeeded) ranking-worker task ids in its log from `offset`."""
    text = stack.read_log("worker-rankings", offset)
    received = [(m.group(1), m.group(2)) for m in RECEIVED.finditer(text)]
    succeeded = [(m.group(1), m.group(2), float(m.group(3))) for m in SUCCEEDED.finditer(text)]
    return received, succeeded


def final_checks(period, scores, since, settle):
    """Wait for the rankings (≤ `settle` s), then count scores, rankings and files.
    Returns (monotonic time the ranking was complete or None, counts, nothing lost?)."""
    started = time.monotonic()
    caught_up, rankings = load.wait_rankings(period, settle)
    complete_at = None if caught_up is None else started + caught_up
    confirmed = [s for s in scores if s and s["ok"]]
    result = load.check_scores(confirmed, since)
    result["scores_failed_for_caller"] = sum(1 for s in scores if s and not s["ok"])
    result.update({f"rankings_{k}": v for k, v in rankings.items()})
    result.update(load.check_files())
    ok = load.rankings_ok(rankings) and not any(
        result.get(k) for k in ("scores_wrong", "files_missing", "files_damaged", "orphan_files",
                                "checkins_without_files")
    )
    return complete_at, result, ok


def seconds_between(start, end):
    return None if start is None or end is None else round(end - start, 2)


def summarise(name, facts, counts, ok, args, out_dir):
    if not args.keep_media:
        shutil.rmtree(args.media_root, ignore_errors=True)
    print()
    print(f"== Fault scenario {name}{' (DRY RUN: no fault injected)' if args.dry_run else ''}")
    m = load.machine_info()
    print(f"machine: nproc {m['nproc']}, {m.get('cpu', '?')}, memory {m.get('MemTotal', '?')}, "
          f"load averages {m['loadavg']}; {load.service_versions(args.db_url, args.redis_url)}")
    for key, value in facts.items():
        print(f"  {key}: {value}")
    print("nothing-lost count:")
    for key, value in counts.items():
        print(f"  {key}: {value}")
    print(f"nothing lost: {'yes' if ok else 'NO'}")
    print(f"(logs in {out_dir})")
    if args.json:
        Path(args.json).write_text(json.dumps({"scenario": name, "dry_run": args.dry_run, "facts": facts,
                                               "counts": counts, "nothing_lost": ok, "machine": m},
                                              indent=2, default=str, ensure_ascii=False))
    return 0 if ok else 1


def score_stats(scores):
    times = [s["s"] * 1000 for s in scores if s]
    return {"p50_ms": round(load.pct(times, 50) or 0, 1), "p95_ms": round(load.pct(times, 95) or 0, 1),
            "max_ms": round(max(times), 1) if times else None}


# -- (a) kill -9 the rankings worker --------------------------------------------------------


def kill_worker(args):
    out_dir, env, period = setup(args, "kill-worker")
    from django.db import connection
    from django.utils import timezone

    checkins = pending_city_checkins(period, args.scores)
    log(f"{len(checkins)} check-ins pending city review ready")
    connection.close()
    stack = load.Stack(env, out_dir, args.port)
    facts = {}
    try:
        stack.start_all(web=False)
        settled, _r = load.wait_rankings(period, 60)
        log(f"workers and beat up; rankings clean before the burst: {settled is not None}")
        since = timezone.now()
        kill = {}
        offset = stack.log_size("worker-rankings")

        def killer():
            # After --kill-after scores: kill while the worker holds a ranking job it has not
            # finished (received, not succeeded), or after 5 s whatever it is doing.
            while kill.get("go") is None:
                time.sleep(0.005)
            deadline = time.monotonic() + 5
            in_flight = []
            while time.monotonic() < deadline:
                received, succeeded = ranking_jobs(stack, offset)
                finished = {task_id for _n, task_id, _s in succeeded}
                in_flight = [task_id for n, task_id in received if n == "scoring.recompute_rankings" and task_id not in finished]
                if in_flight:
                    break
                time.sleep(0.003)
            kill["in_flight"] = in_flight
            kill["killed_at"] = time.monotonic()
            kill["pid"] = stack.kill("worker-rankings")
            log(f"kill -9 of the rankings worker (process group {kill['pid']}); jobs held: {in_flight or 'none'}")
            time.sleep(args.down)
            kill["restart_at"] = time.monotonic()
            stack.start_worker("worker-rankings")
            kill["ready_at"] = time.monotonic()
            log(f"rankings worker restarted ({kill['ready_at'] - kill['restart_at']:.1f} s to ready)")

        def progress(n):
            if n >= args.kill_after and "go" not in kill:
                kill["go"] = True

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        log(f"scoring {len(checkins)} check-ins at {args.rate}/s from {args.threads} threads; kill after {args.kill_after}")
        scores = score_all(checkins, args.threads, args.rate, progress)
        last_score = max(s["at"] for s in scores if s)
        kill.setdefault("go", True)
        thread.join()
        log("burst done; waiting for the ranking to include every score")
        complete_at, counts, ok = final_checks(period, scores, since, args.settle)
        received, succeeded = ranking_jobs(stack, 0)
        redelivered = [t for t in kill.get("in_flight", []) if sum(1 for _n, i in received if i == t) > 1]
        sweeps = stack.read_log("worker-rankings").count("Sweep: applying pending ranking changes")
        facts = {
            "scores": len(scores),
            "rate_per_s": args.rate,
            "score_call": score_stats(scores),
            "killed_after_scores": args.kill_after,
            "ranking_jobs_held_by_the_killed_worker": kill.get("in_flight"),
            "held_jobs_redelivered_after_restart": redelivered,
            "worker_down_s": seconds_between(kill.get("killed_at"), kill.get("restart_at")),
            "restart_to_worker_ready_s": seconds_between(kill.get("restart_at"), kill.get("ready_at")),
            "ranking_jobs_succeeded": sum(1 for n, _i, _s in succeeded if n == "scoring.recompute_rankings"),
            "sweeps_that_applied_changes": sweeps,
            "last_score_to_ranking_complete_s": seconds_between(last_score, complete_at),
            "worker_restart_to_ranking_complete_s": seconds_between(kill.get("restart_at"), complete_at),
        }
    finally:
        stack.stop_all()
    return summarise("kill-worker", facts, counts, ok, args, out_dir)


# -- (b) Redis down during scoring ----------------------------------------------------------


def redis_answers(redis_url):
    import redis

    try:
        return bool(redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1).ping())
    except Exception:  # down is an answer too
        return False


def stop_redis(args):
    out_dir, env, period = setup(args, "stop-redis")
    from django.db import connection
    from django.utils import timezone

    checkins = pending_city_checkins(period, args.scores)
    log(f"{len(checkins)} check-ins pending city review ready")
    connection.close()
    stack = load.Stack(env, out_dir, args.port)
    try:
        stack.start_all(web=False)
        settled, _r = load.wait_rankings(period, 60)
        log(f"workers and beat up; rankings clean before scoring: {settled is not None}")
        since = timezone.now()
        fault = {}
        began = time.monotonic()

        def faulter():
            time.sleep(max(0.0, began + args.stop_at - time.monotonic()))
            fault["stopped_at"] = time.monotonic()
            run_command(args.redis_stop, args.dry_run)
            fault["redis_answered_while_stopped"] = redis_answers(args.redis_url)
            time.sleep(max(0.0, fault["stopped_at"] + args.down - time.monotonic()))
            fault["started_at"] = time.monotonic()
            run_command(args.redis_start, args.dry_run)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not redis_answers(args.redis_url):
                time.sleep(0.1)
            fault["up_at"] = time.monotonic()
            log(f"Redis answers again ({fault['up_at'] - fault['started_at']:.1f} s after the start command)")

        thread = threading.Thread(target=faulter, daemon=True)
        thread.start()
        rate = len(checkins) / args.duration
        log(f"scoring {len(checkins)} check-ins over {args.duration:.0f} s ({rate:.1f}/s, {args.threads} threads); "
            f"Redis stops at {args.stop_at:.0f} s for {args.down:.0f} s")
        scores = score_all(checkins, args.threads, rate)
        thread.join()
        last_score = max(s["at"] for s in scores if s)
        log("scoring done; waiting for the ranking to include every score")
        complete_at, counts, ok = final_checks(period, scores, since, args.settle)
        during = [s for s in scores if s and fault["stopped_at"] <= s["at"] <= fault["started_at"]]
        text = stack.read_log("worker") + stack.read_log("worker-rankings") + stack.read_log("beat")
        facts = {
            "scores": len(scores),
            "rate_per_s": round(rate, 2),
            "redis_down_s": seconds_between(fault["stopped_at"], fault["started_at"]),
            "redis_answered_while_stopped": fault["redis_answered_while_stopped"],
            "scores_returned_while_redis_down": len(during),
            "of_which_committed": sum(1 for s in during if s["ok"]),
            "score_call_all": score_stats(scores),
            "score_call_while_redis_down": score_stats(during),
            "sweeps_that_applied_changes": stack.read_log("worker-rankings").count(
                "Sweep: applying pending ranking changes"
            ),
            "broker_connection_lost_messages": text.count("Connection to broker lost")
            + text.count("Cannot connect to redis"),
            "redis_up_to_ranking_complete_s": seconds_between(fault["up_at"], complete_at),
            "last_score_to_ranking_complete_s": seconds_between(last_score, complete_at),
        }
    finally:
        stack.stop_all()
    return summarise("stop-redis", facts, counts, ok, args, out_dir)


# -- (c) PostgreSQL restarted during HTTP uploads -------------------------------------------


def upload_plan(period, clients, uploads):
    """`clients` liaisons whose enterprise has no check-in yet, each with `uploads` tasks."""
    from django.db.models import Count, Exists, OuterRef, Q

    from enterprises.models import Profile
    from tasks.models import Assignment, CheckIn

    busy = CheckIn.objects.filter(assignment__enterprise_id=OuterRef("enterprise_id"))
    profiles = (
        Profile.objects.filter(role="enterprise_liaison", enterprise__isnull=False)
        .annotate(busy=Exists(busy))
        .filter(busy=False)
        .annotate(open=Count("enterprise__assignments", filter=Q(enterprise__assignments__period=period)))
        .filter(open__gte=uploads)
        .select_related("user")
        .order_by("-enterprise_id")[:clients]
    )
    plan = []
    for profile in profiles:
        ids = list(
            Assignment.objects.filter(period=period, enterprise_id=profile.enterprise_id, state="not_submitted")
            .order_by("pk")
            .values_list("pk", flat=True)[:uploads]
        )
        plan.append((profile.user.username, ids))
    if len(plan) < clients:
        raise SystemExit(f"only {len(plan)} liaisons with {uploads} open tasks, {clients} asked")
    return plan


def classify(response):
    if response.status_code == 500 and SITE_500_MARKER in response.text:
        return "site 500 page"
    if response.status_code == 503:
        return "503"
    return f"HTTP {response.status_code} (unclear)"


def upload_client(base_url, username, password, assignment_ids, args, pdf, record):
    """One liaison: log in, then submit each task once, retrying after a clear error."""
    import requests

    session = requests.Session()
    csrf = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

    def wait():
        time.sleep(args.retry_wait)

    for _attempt in range(args.attempts):
        try:
            page = session.get(f"{base_url}/accounts/login/", timeout=30)
            if page.status_code == 200:
                response = session.post(
                    f"{base_url}/accounts/login/",
                    data={"username": username, "password": password,
                          "csrfmiddlewaretoken": csrf.search(page.text).group(1)},
                    allow_redirects=False, timeout=30,
                )
                if response.status_code == 302:
                    break
                record(username, None, "login", classify(response))
            else:
                record(username, None, "login page", classify(page))
        except requests.RequestException as exc:
            record(username, None, "login", f"connection error (unclear): {exc.__class__.__name__}")
        wait()
    else:
        record(username, None, "outcome", "could not log in")
        return

    for assignment_id in assignment_ids:
        page_url = f"{base_url}/tasks/assignments/{assignment_id}/"
        submit_url = f"/tasks/assignments/{assignment_id}/submit/"
        failed_before, outcome = False, "gave up"
        for _attempt in range(args.attempts):
            try:
                page = session.get(page_url, timeout=60)
            except requests.RequestException as exc:
                record(username, assignment_id, "task page", f"connection error (unclear): {exc.__class__.__name__}")
                wait()
                continue
            if page.status_code != 200:
                record(username, assignment_id, "task page", classify(page))
                wait()
                continue
            if f'action="{submit_url}"' not in page.text:
                # The task takes no submission any more: an earlier attempt went in after all.
                outcome = "in after an earlier error" if failed_before else "not submittable"
                break
            try:
                response = session.post(
                    base_url + submit_url,
                    data={"description": "bench faults: upload during a database restart",
                          "csrfmiddlewaretoken": csrf.search(page.text).group(1)},
                    files={"files": ("bench-evidence.pdf", pdf, "application/pdf")},
                    allow_redirects=False, timeout=120,
                )
            except requests.RequestException as exc:
                record(username, assignment_id, "upload", f"connection error (unclear): {exc.__class__.__name__}")
                failed_before = True
                wait()
                continue
            if response.status_code == 302:
                outcome = "accepted"
                break
            if response.status_code == 409:
                outcome = "in after an earlier error" if failed_before else "409 on a first attempt"
                break
            record(username, assignment_id, "upload", classify(response))
            failed_before = True
            wait()
        record(username, assignment_id, "outcome", outcome)


def restart_postgres(args):
    out_dir, env, period = setup(args, "restart-postgres")
    from django.db import connection
    from django.utils import timezone

    from tasks.models import CheckIn

    plan = upload_plan(period, args.clients, args.uploads)
    connection.close()
    stack = load.Stack(env, out_dir, args.port)
    events, lock = [], threading.Lock()

    def record(user, assignment, step, what):
        with lock:
            events.append({"t": time.monotonic(), "user": user, "assignment": assignment, "step": step, "what": what})

    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + os.urandom(max(0, args.upload_bytes - 24)) + b"\n%%EOF\n"
    try:
        stack.start_all(web_workers=args.web_workers)
        log(f"stack up on {stack.url}; {len(plan)} clients × {args.uploads} uploads of {args.upload_bytes} bytes")
        since = timezone.now()
        fault = {}
        began = time.monotonic()

        def faulter():
            time.sleep(max(0.0, began + args.restart_at - time.monotonic()))
            fault["restart_at"] = time.monotonic()
            fault["restart_command_s"] = round(run_command(args.pg_restart, args.dry_run), 2)
            fault["restarted_at"] = time.monotonic()

        fault_thread = threading.Thread(target=faulter, daemon=True)
        fault_thread.start()
        clients = [
            threading.Thread(
                target=upload_client, args=(stack.url, user, args.password, ids, args, pdf, record), daemon=True
            )
            for user, ids in plan
        ]
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        fault_thread.join()
        clients_done = time.monotonic()
        log("uploads done; checking the database")
        connection.close()
        complete_at, counts, ok = final_checks(period, [], since, args.settle)
    finally:
        stack.stop_all()

    outcomes = {(e["user"], e["assignment"]): e["what"] for e in events if e["step"] == "outcome"}
    errors = collections.Counter((e["step"], e["what"]) for e in events if e["step"] != "outcome")
    versions = collections.Counter(
        CheckIn.objects.filter(submitted_at__gte=since, assignment_id__in=[a for _u, ids in plan for a in ids])
        .values_list("assignment_id", flat=True)
    )
    went_in = {a for (_u, a), what in outcomes.items() if what in ("accepted", "in after an earlier error")}
    all_ids = [a for _u, ids in plan for a in ids]
    unclear = sum(n for (_step, what), n in errors.items() if "unclear" in what)
    counts.update(
        uploads_planned=len(all_ids),
        uploads_in=len(went_in),
        outcomes=dict(collections.Counter(outcomes.values())),
        assignments_with_more_than_one_version=sum(1 for a in all_ids if versions[a] > 1),
        uploads_in_but_no_checkin=sum(1 for a in went_in if versions[a] == 0),
        checkins_for_uploads_given_up=sum(1 for a in all_ids if a not in went_in and versions[a] > 0),
        unclear_errors=unclear,
    )
    ok = ok and not (
        counts["assignments_with_more_than_one_version"] or counts["uploads_in_but_no_checkin"]
        or counts["checkins_for_uploads_given_up"] or unclear or len(went_in) != len(all_ids)
    )
    first_error = min((e["t"] for e in events if e["step"] != "outcome"), default=None)
    last_error = max((e["t"] for e in events if e["step"] != "outcome"), default=None)
    facts = {
        "clients": len(plan),
        "uploads_each": args.uploads,
        "upload_bytes": args.upload_bytes,
        "restart_command_s": fault.get("restart_command_s"),
        "errors_seen_by_clients": {f"{step}: {what}": n for (step, what), n in errors.most_common()},
        "first_to_last_error_s": seconds_between(first_error, last_error),
        "restart_started_to_last_error_s": seconds_between(fault.get("restart_at"), last_error),
        "uploads_duration_s": seconds_between(began, clients_done),
    }
    return summarise("restart-postgres", facts, counts, ok, args, out_dir)


# -- (d) a hung Redis (SIGSTOP) during scoring: issue 13, points 10 and 11 -----------------


class OwnRedis:
    """A redis-server of the bench's own on --own-redis-port (never the machine's shared one):
    it is the one stopped with SIGSTOP. No persistence; its folder is removed at the end."""

    def __init__(self, port, out_dir):
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="bench_faults_redis_"))
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        self.log = Path(out_dir) / "own-redis.log"
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--logfile", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while not redis_answers(self.url(0)):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"own redis-server on port {port} did not start; see {self.log}")
            time.sleep(0.1)

    def url(self, db=1):
        return f"redis://127.0.0.1:{self.port}/{db}"

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self):
        if self.proc.poll() is None:
            self.signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def delivered_messages(mail_dir):
    """Message-IDs of the outbox e-mails the file backend wrote, with how often each was sent."""
    ids = collections.Counter()
    for path in Path(mail_dir).glob("*"):
        for line in path.read_text("utf-8", "replace").splitlines():
            if line.lower().startswith("message-id: <outbox-"):
                ids[line.split(":", 1)[1].strip()] += 1
    return ids


def wait_emails_sent(expected, since, timeout):
    """Wait until `expected` outbox rows written since `since` are sent (or none is pending
    any more); (seconds taken or None, the rows by status)."""
    from django.db.models import Count

    from notifications.models import OutgoingEmail

    started = time.monotonic()
    counts = {}
    while time.monotonic() - started < timeout:
        counts = dict(
            OutgoingEmail.objects.filter(created_at__gte=since).values("status").annotate(n=Count("pk"))
            .values_list("status", "n")
        )
        if counts.get("sent", 0) >= expected or (counts and not counts.get("pending")):
            return time.monotonic() - started, counts
        time.sleep(0.5)
    return None, counts


def hung_redis(args):
    args.out_dir = args.out_dir or tempfile.mkdtemp(prefix="bench_faults_hung-redis_")
    own = OwnRedis(args.own_redis_port, args.out_dir)
    args.redis_url = own.url(1)
    mail_dir = Path(args.out_dir) / "mail"
    mail_dir.mkdir(parents=True, exist_ok=True)
    stack = None
    try:
        out_dir, env, period = setup(
            args, "hung-redis",
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend", EMAIL_FILE_PATH=str(mail_dir),
            OUTBOX_SWEEP_EVERY=args.sweep_every,
        )
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.utils import timezone

        from chanjgai_portal import broker

        per_phase = int(args.rate * args.phase)
        checkins = pending_city_checkins(period, 2 * per_phase)
        # The submitters get an address, so that every score sends one e-mail.
        submitters = {c.submitted_by_id for c in checkins}
        for user in get_user_model().objects.filter(pk__in=submitters):
            get_user_model().objects.filter(pk=user.pk).update(email=f"{user.username}@bench.invalid")
        log(f"{len(checkins)} check-ins pending city review ready; {len(submitters)} submitters with an address")
        connection.close()
        stack = load.Stack(env, out_dir, args.port)
        stack.start_all(web=False)
        settled, _r = load.wait_rankings(period, 60)
        log(f"workers and beat up; rankings clean before scoring: {settled is not None}")
        since = timezone.now()

        log(f"baseline: {per_phase} scores at {args.rate}/s from {args.threads} threads, Redis answering")
        baseline = score_all(checkins[:per_phase], args.threads, args.rate)

        log(f"SIGSTOP of the own redis-server (pid {own.proc.pid}) for {args.down:.0f} s while {per_phase} more scores go on")
        fault = {}

        def faulter():
            fault["stopped_at"] = time.monotonic()
            if not args.dry_run:
                own.signal(signal.SIGSTOP)
            time.sleep(args.down)
            if not args.dry_run:
                own.signal(signal.SIGCONT)
            fault["continued_at"] = time.monotonic()
            log("SIGCONT: Redis answers again")

        thread = threading.Thread(target=faulter, daemon=True)
        thread.start()
        time.sleep(0.2)
        during = score_all(checkins[per_phase:], args.threads, per_phase / max(args.down - 1, 1))
        fault["scores_done_at"] = time.monotonic()
        fault["backing_off_after"] = broker.backing_off()
        thread.join()
        scores = baseline + during
        last_score = max(s["at"] for s in scores if s)

        log("waiting for every e-mail to be sent and the ranking to include every score")
        confirmed = sum(1 for s in scores if s and s["ok"])
        sent_s, outbox_counts = wait_emails_sent(confirmed, since, args.settle)
        complete_at, counts, ok = final_checks(period, scores, since, args.settle)
        time.sleep(2)  # a send still in flight would show as a second copy
        delivered = delivered_messages(mail_dir)
        from notifications.models import OutgoingEmail

        rows = OutgoingEmail.objects.filter(created_at__gte=since)
        counts.update(
            emails_expected=confirmed,
            outbox_rows=rows.count(),
            outbox_rows_by_status=dict(collections.Counter(rows.values_list("status", flat=True))),
            emails_delivered=sum(delivered.values()),
            emails_delivered_distinct=len(delivered),
            emails_delivered_twice_or_more=sum(1 for n in delivered.values() if n > 1),
        )
        ok = ok and counts["outbox_rows"] == confirmed and counts["emails_delivered_distinct"] == confirmed and not counts["emails_delivered_twice_or_more"] and counts["emails_delivered"] == confirmed

        def stats(items):
            times = [s["s"] * 1000 for s in items if s]
            return {"n": len(times), "p50_ms": round(load.pct(times, 50) or 0, 1), "p99_ms": round(load.pct(times, 99) or 0, 1),
                    "max_ms": round(max(times), 1) if times else None}

        base_stats, hang_stats = stats(baseline), stats(during)
        facts = {
            "scores": len(scores),
            "redis_hung_s": seconds_between(fault["stopped_at"], fault["continued_at"]),
            "score_call_baseline": base_stats,
            "score_call_while_redis_hung": hang_stats,
            "p99_ratio_hung_to_baseline": round(hang_stats["p99_ms"] / base_stats["p99_ms"], 2) if base_stats["p99_ms"] else None,
            "scores_failed_for_caller": sum(1 for s in scores if s and not s["ok"]),
            "bench_process_backing_off_at_end_of_hang": fault["backing_off_after"],
            "last_score_to_all_emails_sent_s": None if sent_s is None else round(sent_s, 1),
            "outbox_at_end": outbox_counts,
            "last_score_to_ranking_complete_s": seconds_between(last_score, complete_at),
        }
    finally:
        if stack is not None:
            stack.stop_all()
        own.stop()
    return summarise("hung-redis", facts, counts, ok, args, out_dir)


# -- (e) the whole worker killed mid-job: redelivery after the visibility timeout (point 12) --


def redeliver(args):
    args.out_dir = args.out_dir or tempfile.mkdtemp(prefix="bench_faults_redeliver_")
    own = OwnRedis(args.own_redis_port, args.out_dir)
    args.redis_url = own.url(1)
    stack = lock = None
    extra = {"EXPORT_SWEEP_GRACE": 10**9}  # only redelivery may restart the job, not the sweep
    if args.visibility_timeout:
        extra["CELERY_VISIBILITY_TIMEOUT"] = args.visibility_timeout
    try:
        out_dir, env, period = setup(args, "redeliver", **extra)
        import psycopg2
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.db import connection

        from spreadsheets.celery_tasks import run_export_job
        from spreadsheets.exports import jobs
        from spreadsheets.models import ExportJob

        visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
        city = get_user_model().objects.get(username="city")
        job = ExportJob.objects.create(requester=city, kind=ExportJob.Kind.COMPLETION_MATRIX,
                                       params={"period": str(period.pk)})
        connection.close()
        stack = load.Stack(env, out_dir, args.port)
        stack.start_all(web=False)
        log(f"workers up; visibility timeout {visibility} s; export job {job.pk}")

        # Hold the job's row: the worker takes the job, starts it and blocks in its first write.
        lock = psycopg2.connect(args.db_url)
        with lock.cursor() as cur:
            cur.execute("SELECT id FROM scoring_exportjob WHERE id = %s FOR UPDATE", [job.pk])
        offset = stack.log_size("worker")
        jobs.enqueue_job(job.pk, run_task=run_export_job)
        stack.wait_log("worker", "Task scoring.run_export_job[", offset, 30)
        # Asked on a connection of its own: within the lock's transaction pg_stat_activity
        # would show the same snapshot every time.
        watcher = psycopg2.connect(args.db_url)
        watcher.autocommit = True
        deadline = time.monotonic() + 30
        blocked = False
        while time.monotonic() < deadline and not blocked:
            with watcher.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND query ILIKE 'UPDATE %%scoring_exportjob%%'")
                blocked = cur.fetchone()[0] > 0
            time.sleep(0.05)
        watcher.close()
        log(f"the worker is inside the job (blocked on the row: {blocked}); kill -9 of its process group")
        killed_at = time.monotonic()
        stack.kill("worker")
        lock.rollback()
        lock.close()
        lock = None
        time.sleep(args.down)
        restart_at = time.monotonic()
        stack.start_worker("worker")
        log(f"worker restarted after {args.down:.0f} s; waiting (≤ {visibility + args.settle:.0f} s) for the job")
        done_at = None
        while time.monotonic() - killed_at < visibility + args.settle:
            status = ExportJob.objects.filter(pk=job.pk).values_list("status", flat=True).first()
            if status in (ExportJob.Status.DONE, ExportJob.Status.FAILED):
                done_at = time.monotonic()
                break
            time.sleep(0.5)
        connection.close()
        job.refresh_from_db()
        received = sum(1 for m in RECEIVED.finditer(stack.read_log("worker")) if m.group(1) == "scoring.run_export_job")
        ok = job.status == ExportJob.Status.DONE and done_at is not None
        facts = {
            "visibility_timeout_s": visibility,
            "worker_inside_the_job_when_killed": blocked,
            "worker_down_s": seconds_between(killed_at, restart_at),
            "kill_to_job_done_s": seconds_between(killed_at, done_at),
            "restart_to_job_done_s": seconds_between(restart_at, done_at),
            "job_received_by_workers": received,
        }
        counts = {"job_status": job.status, "job_rows": job.row_count, "file_written": bool(job.file)}
    finally:
        if lock is not None:
            lock.close()
        if stack is not None:
            stack.stop_all()
        own.stop()
    return summarise("redeliver", facts, counts, ok, args, out_dir)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db-url", default=DEFAULT_DB, help=f"fresh database to create (default {DEFAULT_DB})")
    common.add_argument("--redis-url", default=DEFAULT_REDIS, help=f"Redis DB to flush and use (default {DEFAULT_REDIS})")
    common.add_argument("--password", default=load.DEFAULT_PASSWORD, help="password given to every bench account")
    common.add_argument("--port", type=int, default=8101, help="gunicorn port (restart-postgres)")
    common.add_argument("--sweep-every", type=float, default=10, help="RANKING_SWEEP_EVERY for beat (default 10 s)")
    common.add_argument("--settle", type=float, default=120, help="seconds to wait for the ranking to catch up")
    common.add_argument("--dry-run", action="store_true", help="do everything except stopping/restarting the service")
    common.add_argument("--out-dir", help="logs (default: a new temp dir)")
    common.add_argument("--json", help="also write the results here")
    common.add_argument("--keep-media", action="store_true", help="keep the uploaded files (default: removed at the end)")
    sub = parser.add_subparsers(dest="scenario", required=True)

    a = sub.add_parser("kill-worker", parents=[common], help="kill -9 the rankings worker during a burst of scores")
    a.add_argument("--scores", type=int, default=300)
    a.add_argument("--rate", type=float, default=50, help="scores per second (default 50)")
    a.add_argument("--threads", type=int, default=4)
    a.add_argument("--kill-after", type=int, default=100, help="kill once this many scores are in (default 100)")
    a.add_argument("--down", type=float, default=5, help="seconds before the worker is restarted (default 5)")
    a.set_defaults(run=kill_worker)

    b = sub.add_parser("stop-redis", parents=[common], help="stop Redis for --down seconds during scoring")
    b.add_argument("--scores", type=int, default=300)
    b.add_argument("--duration", type=float, default=60, help="seconds the scores are spread over (default 60)")
    b.add_argument("--threads", type=int, default=4)
    b.add_argument("--stop-at", type=float, default=10, help="seconds into the scoring Redis stops (default 10)")
    b.add_argument("--down", type=float, default=30, help="seconds Redis stays down (default 30)")
    b.add_argument("--redis-stop", default=REDIS_STOP)
    b.add_argument("--redis-start", default=REDIS_START)
    b.set_defaults(run=stop_redis)

    c = sub.add_parser("restart-postgres", parents=[common], help="restart PostgreSQL during HTTP uploads")
    c.add_argument("--clients", type=int, default=8, help="liaisons uploading at once (default 8)")
    c.add_argument("--uploads", type=int, default=5, help="tasks each client submits (default 5)")
    c.add_argument("--upload-bytes", type=int, default=5 * 1024 * 1024, help="size of each PDF (default 5 MB)")
    c.add_argument("--restart-at", type=float, default=3, help="seconds into the uploads the restart starts (default 3)")
    c.add_argument("--retry-wait", type=float, default=1, help="seconds between a client's retries (default 1)")
    c.add_argument("--attempts", type=int, default=60, help="attempts per upload before giving up (default 60)")
    c.add_argument("--web-workers", type=int, default=2)
    c.add_argument("--pg-restart", default=PG_RESTART)
    c.set_defaults(run=restart_postgres)

    slow_clients.add_parser(sub, common, setup)
    upload_faults.add_parsers(sub, common)
    idempotency_faults.add_parser(sub, common)

    d = sub.add_parser("hung-redis", parents=[common],
                       help="SIGSTOP the bench's own redis-server for --down s while scores go on")
    d.add_argument("--rate", type=float, default=5, help="scores per second in each phase (default 5)")
    d.add_argument("--phase", type=float, default=30, help="seconds of the baseline phase (default 30)")
    d.add_argument("--threads", type=int, default=4)
    d.add_argument("--down", type=float, default=30, help="seconds Redis stays stopped (default 30)")
    d.add_argument("--own-redis-port", type=int, default=18550, help="port of the bench's own redis-server")
    d.set_defaults(run=hung_redis)

    e = sub.add_parser("redeliver", parents=[common], help="kill -9 the whole worker inside a job")
    e.add_argument("--down", type=float, default=5, help="seconds before the worker is restarted (default 5)")
    e.add_argument("--visibility-timeout", type=int, help="CELERY_VISIBILITY_TIMEOUT (default: the settings')")
    e.add_argument("--own-redis-port", type=int, default=18551, help="port of the bench's own redis-server")
    e.set_defaults(run=redeliver)

    args = parser.parse_args()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
