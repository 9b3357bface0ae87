"""Lost answers and retries (issue 13, point 14: the API's Idempotency-Key), run through
bench/faults.py:

    .venv/bin/python bench/faults.py lost-answers --db-url postgres://postgres@127.0.0.1:5432/bench_idem \\
        --redis-url redis://127.0.0.1:6379/10 --port 19000

Creates --db-url afresh, migrates and seeds a small demo city (--enterprises), submits --posts
check-ins through the services (liaisons, a small PDF) and starts a real gunicorn (the project's
gunicorn.conf.py, --web-workers workers) with DEBUG off. Then --posts workflow POSTs over HTTP
(county office approve, then city office score, each with its own API token from
accounts.security.issue_api_token) from --threads client threads, in two sets run side by
side on different check-ins:

- keyed: every POST carries a fresh Idempotency-Key (a UUID);
- unkeyed: the same POSTs without a key, the baseline (what a client saw before point 14).

For --lost-fraction of the POSTs the client LOSES the answer: it sends the whole request on a raw
socket and closes it without reading a byte of the response; then retries with the same key and
body 1 to --max-retries times. Every other lost POST sends its first retry at once, while the
lost one is still being handled (concurrent with it); the others wait up to 200 ms first.
A keyed retry must be a 200; the one that ran after the first got `Idempotent-Replayed: true`
(a concurrent retry can run first: then it is the fresh 200 and the lost request is the replay).
An unkeyed retry meets the changed state: 409.

Afterwards the database must have exactly one approve and one score ReviewEvent per check-in
(no duplicate transitions), and one idempotency key row per keyed transition.
Figures: counts, p50/p99 of first attempts (not lost) keyed and unkeyed and their ratio (the
cost of a key), p50/p99 of keyed replays.
"""

import collections
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

import load  # bench/load.py

log = load.log

SMALL_PDF = b"%PDF-1.4\n% bench idempotency evidence\n%%EOF\n"


# -- the portal -----------------------------------------------------------------------------


def start(args, media_root):
    out_dir = Path(args.out_dir or tempfile.mkdtemp(prefix="bench_faults_lost_answers_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    args.out_dir = str(out_dir)
    env = load.portal_env(args.db_url, args.redis_url, media_root)
    log(f"lost-answers: code {load.ROOT}; output {out_dir}; load average {load_average()}")
    load.recreate_database(args.db_url)
    load.flush_redis(args.redis_url)
    seed_env = dict(env, REDIS_URL="")
    started = time.monotonic()
    load.manage(seed_env, "migrate", "--noinput", log_path=out_dir / "seed.log")
    load.manage(
        seed_env, "seed_demo", "--password", args.password, "--enterprises", str(args.enterprises), "--no-progress",
        log_path=out_dir / "seed.log",
    )
    log(f"  migrated and seeded in {time.monotonic() - started:.0f} s")
    load.setup_django(env)
    return out_dir, env


def load_average():
    return tuple(round(x, 2) for x in os.getloadavg())


def pending_county_checkins(count):
    """`count` new check-ins pending county review, submitted through the services.
    Returns [(checkin id, county user, indicator max points)]."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection

    from enterprises.models import Profile
    from tasks import services
    from tasks.models import Assignment

    liaisons = {p.enterprise_id: p.user for p in Profile.objects.filter(role="enterprise_liaison").select_related("user")}
    county_users = {p.region_id: p.user for p in Profile.objects.filter(role="county_office").select_related("user")}
    plan = []
    assignments = (
        Assignment.objects.filter(enterprise__isnull=False, state="not_submitted", enterprise_id__in=list(liaisons))
        .select_related("indicator")
        .order_by("enterprise_id", "pk")
    )
    for assignment in assignments.iterator():
        if len(plan) >= count:
            break
        if assignment.county_id not in county_users:
            continue
        checkin = services.submit_checkin(
            liaisons[assignment.enterprise_id], assignment, "bench lost answers: evidence",
            [SimpleUploadedFile("bench.pdf", SMALL_PDF, content_type="application/pdf")],
        )
        plan.append((checkin.pk, county_users[assignment.county_id], assignment.indicator.max_points))
    connection.close()
    if len(plan) < count:
        raise SystemExit(f"only {len(plan)} check-ins could be submitted, {count} asked (raise --enterprises)")
    return plan


def tokens_for(users):
    from django.db import connection

    from accounts.security import issue_api_token

    tokens = {}
    for user in users:
        if user.pk not in tokens:
            tokens[user.pk] = issue_api_token(user)[1]
    connection.close()
    return tokens


# -- the client -----------------------------------------------------------------------------


def request_bytes(path, token, body, key):
    head = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Token {token}",
        "Content-Type: application/json",
        "Accept: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    if key:
        head.append(f"Idempotency-Key: {key}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def lose(port, path, token, body, key):
    """Send the whole request and close the socket without reading the answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(request_bytes(path, token, body, key))
    sock.close()


def post(port, path, token, body, key):
    """(status, replayed, seconds, body) of one POST read to its end."""
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json", "Accept": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        replayed = response.getheader("Idempotent-Replayed") == "true"
        return response.status, replayed, time.perf_counter() - started, data
    except (OSError, http.client.HTTPException) as error:
        return f"error: {type(error).__name__}", False, time.perf_counter() - started, b""
    finally:
        conn.close()


def run_one(port, item, rng_seed, args, record):
    """One workflow POST: sent normally, or lost and retried."""
    rng = random.Random(rng_seed)
    key = str(uuid.uuid4()) if item["keyed"] else None
    body = json.dumps(item["body"]).encode()
    mode = "keyed" if item["keyed"] else "unkeyed"
    if not item["lost"]:
        status, replayed, seconds, data = post(port, item["path"], item["token"], body, key)
        record(mode, "first", status, replayed, seconds, data)
        return
    lose(port, item["path"], item["token"], body, key)
    record(mode, "lost", None, False, 0.0, b"")
    retries = rng.randint(1, args.max_retries)
    concurrent = item["concurrent"]
    threads = []
    for attempt in range(retries):
        if attempt == 0 and concurrent:
            def retry():
                status, replayed, seconds, data = post(port, item["path"], item["token"], body, key)
                record(mode, "retry-concurrent", status, replayed, seconds, data)

            thread = threading.Thread(target=retry)
            thread.start()
            threads.append(thread)
            continue
        time.sleep(rng.uniform(0, 0.2))
        status, replayed, seconds, data = post(port, item["path"], item["token"], body, key)
        record(mode, "retry", status, replayed, seconds, data)
    for thread in threads:
        thread.join()


def run_phase(port, items, args, record, seed):
    """Run `items` from args.threads client threads, in the order given."""
    queue = collections.deque(enumerate(items))
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                index, item = queue.popleft()
            run_one(port, item, seed * 100003 + index, args, record)

    threads = [threading.Thread(target=worker) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def percentile(values, q):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def ms(value):
    return None if value is None else round(value * 1000, 1)


def ratio(a, b):
    return None if not a or not b else round(a / b, 2)


# -- the scenario ---------------------------------------------------------------------------


def lost_answers(args):
    media_root = Path(tempfile.mkdtemp(prefix="bench_faults_media_"))
    stack = None
    try:
        out_dir, env = start(args, media_root)
        checkin_count = args.posts // 2  # two POSTs (approve, score) per check-in
        plan = pending_county_checkins(checkin_count * 2)  # the keyed set and the unkeyed set
        from django.contrib.auth import get_user_model

        city = get_user_model().objects.get(username="city")
        tokens = tokens_for([county for _, county, _ in plan] + [city])
        stack = load.Stack(env, out_dir, args.port)
        stack.start_web(workers=args.web_workers)

        rng = random.Random(args.seed)
        lost_counter = 0

        def items_for(action):
            nonlocal lost_counter
            items = []
            for index, (pk, county, max_points) in enumerate(plan):
                keyed = index % 2 == 0  # interleaved: keyed and unkeyed run side by side
                lost = rng.random() < args.lost_fraction
                concurrent = False
                if lost:
                    concurrent = lost_counter % 2 == 0
                    lost_counter += 1
                if action == "approve":
                    body = {"comment": "bench: approved"}
                    token = tokens[county.pk]
                else:
                    points = min(max_points, max(Decimal("0.50"), (max_points * Decimal("0.75")).quantize(Decimal("0.01"))))
                    body = {"points": str(points), "comment": "bench: scored"}
                    token = tokens[city.pk]
                items.append({
                    "keyed": keyed, "lost": lost, "concurrent": concurrent, "token": token, "body": body,
                    "path": f"/api/checkins/{pk}/{action}/", "action": action,
                })
            return items

        outcomes = []
        out_lock = threading.Lock()
        samples = []

        def record(mode, kind, status, replayed, seconds, data):
            with out_lock:
                outcomes.append((mode, kind, status, replayed))
                if status is not None:
                    samples.append((mode, kind, status, replayed, seconds))
                if status not in (None, 200, 409):
                    log(f"  unexpected {mode} {kind}: {status} {data[:300]!r}")

        log(f"load average before the POSTs {load_average()}")
        started = time.monotonic()
        for phase, action in enumerate(("approve", "score")):
            run_phase(args.port, items_for(action), args, record, seed=args.seed + phase)
            log(f"  {action}: done at {time.monotonic() - started:.1f} s")
        elapsed = time.monotonic() - started
        load_after = load_average()
        stack.stop_all()
        stack = None
        facts = count(outcomes, samples, plan)
        facts.update(
            posts=len(plan) * 2, elapsed_s=round(elapsed, 1), load_after=load_after, web_workers=args.web_workers,
            threads=args.threads, lost_fraction=args.lost_fraction, seed=args.seed,
        )
        ok = (
            facts["keyed"]["retry_not_200"] == 0
            and facts["keyed"]["retry_409"] == 0
            and facts["db"]["checkins_wrong_events"] == 0
            and facts["db"]["key_rows"] == facts["db"]["keyed_transitions"]
            and facts["keyed"]["lost"] > 0
        )
        facts["ok"] = ok
        text = json.dumps(facts, indent=2, ensure_ascii=False, default=str)
        print(text)
        (out_dir / "lost_answers.json").write_text(text)
        if args.json:
            Path(args.json).write_text(text)
        log(f"lost-answers: {'OK' if ok else 'FAILED'}; results in {out_dir / 'lost_answers.json'}")
        return 0 if ok else 1
    finally:
        if stack is not None:
            stack.stop_all()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # Django may not be set up yet
            pass
        if not args.keep_db:
            drop_database(args.db_url)
        shutil.rmtree(media_root, ignore_errors=True)


def count(outcomes, samples, plan):
    from django.db.models import Count

    from idempotency.models import IdempotencyKey
    from tasks.models import ReviewEvent

    facts = {}
    for mode in ("keyed", "unkeyed"):
        mine = [o for o in outcomes if o[0] == mode]
        retries = [o for o in mine if o[1].startswith("retry")]
        firsts = [s[4] for s in samples if s[0] == mode and s[1] == "first" and s[2] == 200]
        replays = [s[4] for s in samples if s[0] == mode and s[1].startswith("retry") and s[3]]
        facts[mode] = {
            "posts": sum(1 for o in mine if o[1] in ("first", "lost")),
            "first_attempts_not_200": sum(1 for o in mine if o[1] == "first" and o[2] != 200),
            "lost": sum(1 for o in mine if o[1] == "lost"),
            "retries": len(retries),
            "retries_concurrent": sum(1 for o in retries if o[1] == "retry-concurrent"),
            "retry_200_replayed": sum(1 for o in retries if o[2] == 200 and o[3]),
            "retry_200_fresh": sum(1 for o in retries if o[2] == 200 and not o[3]),
            "retry_200_fresh_concurrent": sum(
                1 for o in retries if o[2] == 200 and not o[3] and o[1] == "retry-concurrent"
            ),
            "retry_409": sum(1 for o in retries if o[2] == 409),
            "retry_not_200": sum(1 for o in retries if o[2] != 200),
            "retry_other": collections.Counter(str(o[2]) for o in retries if o[2] not in (200, 409)),
            "first_p50_ms": ms(percentile(firsts, 50)),
            "first_p99_ms": ms(percentile(firsts, 99)),
            "first_mean_ms": ms(statistics.fmean(firsts)) if firsts else None,
            "first_n": len(firsts),
            "replay_p50_ms": ms(percentile(replays, 50)),
            "replay_p99_ms": ms(percentile(replays, 99)),
        }
    k, u = facts["keyed"], facts["unkeyed"]
    facts["key_cost_p50_ratio"] = ratio(k["first_p50_ms"], u["first_p50_ms"])
    facts["key_cost_p99_ratio"] = ratio(k["first_p99_ms"], u["first_p99_ms"])
    facts["key_cost_mean_ratio"] = ratio(k["first_mean_ms"], u["first_mean_ms"])

    ids = [pk for pk, _, _ in plan]
    per = collections.defaultdict(collections.Counter)
    for row in ReviewEvent.objects.filter(checkin_id__in=ids).values("checkin_id", "action").annotate(n=Count("pk")):
        per[row["checkin_id"]][row["action"]] = row["n"]
    expected = {"submit": 1, "approve": 1, "score": 1}
    wrong = {pk: dict(per[pk]) for pk in ids if dict(per[pk]) != expected}
    duplicates = sum(max(0, n - 1) for pk in ids for n in per[pk].values())
    missing = sum(1 for pk in ids for action in expected if per[pk][action] == 0)
    facts["db"] = {
        "checkins": len(ids),
        "review_events": sum(sum(c.values()) for c in per.values()),
        "duplicate_events": duplicates,
        "missing_events": missing,
        "checkins_wrong_events": len(wrong),
        "wrong_examples": dict(list(wrong.items())[:5]),
        "key_rows": IdempotencyKey.objects.count(),
        "keyed_transitions": len(ids[0::2]) * 2,
    }
    return facts


def drop_database(db_url):
    from urllib.parse import urlparse

    import psycopg2
    from psycopg2 import sql

    parsed = urlparse(db_url)
    name = parsed.path.lstrip("/")
    if not name.startswith("bench_"):
        return
    conn = psycopg2.connect(parsed._replace(path="/postgres").geturl())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    conn.close()
    log(f"dropped {name}")


def add_parser(sub, common):
    """The scenario's sub-command for bench/faults.py."""
    p = sub.add_parser("lost-answers", parents=[common],
                       help="workflow POSTs whose answer the client loses, retried with and without a key")
    p.add_argument("--posts", type=int, default=200, help="workflow POSTs per set, keyed and unkeyed (default 200)")
    p.add_argument("--lost-fraction", type=float, default=0.5, help="share of POSTs whose answer is lost (default 0.5)")
    p.add_argument("--max-retries", type=int, default=3, help="retries of a lost POST: 1 to this (default 3)")
    p.add_argument("--threads", type=int, default=4, help="client threads (default 4)")
    p.add_argument("--web-workers", type=int, default=2)
    p.add_argument("--enterprises", type=int, default=60, help="seed_demo --enterprises (default 60)")
    p.add_argument("--seed", type=int, default=14)
    p.add_argument("--keep-db", action="store_true", help="keep --db-url at the end (default: dropped)")
    p.set_defaults(run=lost_answers)
