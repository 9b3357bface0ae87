"""Batch approve of 200 check-ins (issue 15): server time, queries, and what follows each item.

    .venv/bin/python bench/batch.py --db-url postgres://postgres@127.0.0.1:5432/bench_batch \\
        --redis-url redis://127.0.0.1:6379/4 [--items 200] [--rounds 2]

Creates --db-url afresh (bench_* names only), migrates and seeds the demo city (767 enterprises,
eagerly), gives every city office user an e-mail address (so each notification writes an
outbox row and asks for an e-mail job), and submits check-ins of one county (鼓楼区, county01)
through the services. Then, in this process with DEBUG off and Celery on the real Redis broker
(REDIS_URL: jobs are enqueued as in production; no worker runs, so the queue is counted, not
drained), each request goes through Django's whole WSGI stack (django.test.Client: middleware,
session, the view, templates) and is timed around the call ("server time": no network, no
browser; the web process's CPU time is given beside it, as this shared 2-core machine's
load inflates wall times). Per round, on fresh check-ins:

- trivial: GET /api/me/ (session auth) 50 times: the floor of an authenticated request;
- baseline: the single approve form (POST /tasks/checkins/{id}/approve/ with its token) for
  --items check-ins one after another: what a county office did before batches;
- batch web: the confirmation page for --items check-ins (POST /tasks/review/batch/), then the
  decision (POST /tasks/review/batch/decide/ with its token), then its result page;
- batch API: POST /api/checkins/batch/ {"action": "approve", "ids": [...]} (token auth).

Checked after each set: every item is pending city review with exactly one approve event and
one notification per city office user; the jobs enqueued (Redis queue `celery`, by task name)
and RecomputeRequest rows written.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load  # noqa: E402  (bench/load.py)

log = load.log
SMALL_PDF = b"%PDF-1.4\n% bench batch evidence\n%%EOF\n"


def prepare(args):
    media_root = Path(tempfile.mkdtemp(prefix="bench_batch_media_"))
    out_dir = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    env = load.portal_env(args.db_url, args.redis_url, media_root, ALLOWED_HOSTS="127.0.0.1,localhost,testserver")
    load.recreate_database(args.db_url)
    load.flush_redis(args.redis_url)
    started = time.monotonic()
    load.prepare_database(env, out_dir, "demo12345")
    log(f"migrated and seeded in {time.monotonic() - started:.0f} s (log {out_dir / 'seed.log'})")
    load.setup_django(env)


def submit_pending(count):
    """`count` new check-ins pending county review, of the enterprises of the county with the
    most tasks not yet submitted (a round uses one county office); returns (its user, ids)."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db.models import Count

    from enterprises.models import Profile
    from tasks import services
    from tasks.models import Assignment

    liaisons = {p.enterprise_id: p.user for p in Profile.objects.filter(role="enterprise_liaison").select_related("user")}
    free = Assignment.objects.filter(enterprise__isnull=False, state="not_submitted", enterprise_id__in=list(liaisons))
    county_id = free.values("county_id").annotate(n=Count("pk")).order_by("-n").first()["county_id"]
    county_user = Profile.objects.filter(role="county_office", region_id=county_id).select_related("user").first().user
    ids = []
    for assignment in free.filter(county_id=county_id).order_by("enterprise_id", "pk")[:count]:
        upload = SimpleUploadedFile("bench.pdf", SMALL_PDF, content_type="application/pdf")
        ids.append(services.submit_checkin(liaisons[assignment.enterprise_id], assignment, "bench batch", [upload]).pk)
    if len(ids) < count:
        raise SystemExit(f"only {len(ids)} check-ins could be submitted in one county, {count} asked")
    return county_user, ids


def queued_jobs(redis_url):
    """{task name: count} of the messages waiting in the Celery queue."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    counts = {}
    for raw in client.lrange("celery", 0, -1):
        name = json.loads(raw)["headers"]["task"]
        counts[name] = counts.get(name, 0) + 1
    return counts


def clear_queue(redis_url):
    import redis

    redis.Redis.from_url(redis_url, socket_timeout=5).delete("celery")


class Timer:
    """Time and count the queries of one call."""

    def __init__(self):
        self.seconds, self.cpu, self.queries = [], [], []

    def __call__(self, call):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        connection.queries_log.clear()  # the log keeps 9,000 queries: count from empty
        with CaptureQueriesContext(connection) as queries:
            started, cpu = time.perf_counter(), time.process_time()
            response = call()
            self.seconds.append(time.perf_counter() - started)
            self.cpu.append(time.process_time() - cpu)
        self.queries.append(len(queries))
        return response


def check(ids, city_user_count, since_notifications):
    from notifications.models import Notification, OutgoingEmail
    from tasks.models import CheckIn, ReviewEvent

    states = set(CheckIn.objects.filter(pk__in=ids).values_list("state", flat=True))
    events = ReviewEvent.objects.filter(checkin__in=ids, action="approve").count()
    notifications = Notification.objects.filter(pk__gt=since_notifications, kind="forwarded").count()
    emails = OutgoingEmail.objects.filter(notification__pk__gt=since_notifications).count()
    ok = states == {"pending_city_review"} and events == len(ids) and notifications == len(ids) * city_user_count
    return {"states": sorted(states), "approve_events": events, "notifications": notifications, "emails": emails, "ok": ok}


def last_notification():
    from notifications.models import Notification

    return Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def run_round(args, number):
    import re

    from django.test import Client
    from django.urls import reverse

    from accounts.security import issue_api_token
    from enterprises.models import Profile
    from scoring.models import RecomputeRequest

    city_users = Profile.objects.filter(role="city_office").count()
    county_user, ids = submit_pending(3 * args.items)
    single_ids, web_ids, api_ids = ids[: args.items], ids[args.items : 2 * args.items], ids[2 * args.items :]
    out = {"round": number, "items": args.items, "city_office_users": city_users, "county_user": county_user.username}

    client = Client()
    client.force_login(county_user)

    trivial = Timer()
    for _ in range(50):
        assert trivial(lambda: client.get("/api/me/")).status_code == 200
    out["trivial_ms_median"] = statistics.median(trivial.seconds) * 1000
    out["trivial_cpu_ms_median"] = statistics.median(trivial.cpu) * 1000
    out["trivial_queries"] = trivial.queries[-1]

    # Baseline: one approve form per check-in, as before batches.
    clear_queue(args.redis_url)
    since, requests_before = last_notification(), RecomputeRequest.objects.count()
    single = Timer()
    for pk in single_ids:
        data = {"comment": "同意上报", "idempotency_key": uuid.uuid4().hex}
        assert single(lambda pk=pk, data=data: client.post(reverse("tasks:approve", args=[pk]), data)).status_code == 302
    out["single"] = {
        "total_s": sum(single.seconds), "cpu_s": sum(single.cpu), "median_ms": statistics.median(single.seconds) * 1000,
        "queries_total": sum(single.queries), "queries_per_item": statistics.median(single.queries),
        "jobs": queued_jobs(args.redis_url), "recompute_requests": RecomputeRequest.objects.count() - requests_before,
        "check": check(single_ids, city_users, since),
    }

    # Batch through the pages: confirm, decide, result.
    clear_queue(args.redis_url)
    since, requests_before = last_notification(), RecomputeRequest.objects.count()
    confirm, decide, result = Timer(), Timer(), Timer()
    page = confirm(lambda: client.post(reverse("tasks:batch_confirm"), {"ids": web_ids, "action": "approve"}))
    assert page.status_code == 200
    token = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', page.content.decode()).group(1)
    answer = decide(lambda: client.post(
        reverse("tasks:batch_decide"),
        {"ids": web_ids, "action": "approve", "text": "同意上报", "idempotency_key": token},
    ))
    assert answer.status_code == 302, answer.status_code
    assert result(lambda: client.get(answer.url)).status_code == 200
    out["batch_web"] = {
        "confirm_ms": confirm.seconds[0] * 1000, "confirm_queries": confirm.queries[0],
        "decide_s": decide.seconds[0], "decide_cpu_s": decide.cpu[0], "decide_queries": decide.queries[0],
        "result_ms": result.seconds[0] * 1000, "result_queries": result.queries[0],
        "jobs": queued_jobs(args.redis_url), "recompute_requests": RecomputeRequest.objects.count() - requests_before,
        "check": check(web_ids, city_users, since),
    }

    # Batch through the API.
    clear_queue(args.redis_url)
    since, requests_before = last_notification(), RecomputeRequest.objects.count()
    _token, key = issue_api_token(county_user)
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    batch_api = Timer()
    response = batch_api(lambda: api.post(
        "/api/checkins/batch/", {"action": "approve", "ids": api_ids, "comment": "同意上报"},
        content_type="application/json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    ))
    assert response.status_code == 200 and response.json()["succeeded"] == args.items, response.content[:300]
    out["batch_api"] = {
        "decide_s": batch_api.seconds[0], "decide_cpu_s": batch_api.cpu[0], "decide_queries": batch_api.queries[0],
        "jobs": queued_jobs(args.redis_url), "recompute_requests": RecomputeRequest.objects.count() - requests_before,
        "check": check(api_ids, city_users, since),
    }
    clear_queue(args.redis_url)
    return out


def report(result):
    single, web, api = result["single"], result["batch_web"], result["batch_api"]
    trivial_s = result["trivial_ms_median"] / 1000
    log(
        f"round {result['round']} ({result['county_user']}): {result['items']} items; trivial GET /api/me/ median "
        f"{result['trivial_ms_median']:.1f} ms, CPU {result['trivial_cpu_ms_median']:.1f} ms ({result['trivial_queries']} queries)"
    )
    log(
        f"  single approve x{result['items']}: {single['total_s']:.2f} s total, web-process CPU {single['cpu_s']:.2f} s (median {single['median_ms']:.1f} ms, "
        f"{single['queries_total']} queries, {single['queries_per_item']} per item); jobs {single['jobs']}; "
        f"ranking requests {single['recompute_requests']}; {single['check']}"
    )
    for name, part in (("batch web", web), ("batch API", api)):
        log(
            f"  {name}: {part['decide_s']:.2f} s, web-process CPU {part['decide_cpu_s']:.2f} s, {part['decide_queries']} queries; "
            f"= {part['decide_s'] / single['total_s']:.2f}x the {result['items']} single approves, "
            f"{part['decide_s'] / trivial_s:.0f}x a trivial request; jobs {part['jobs']}; "
            f"ranking requests {part['recompute_requests']}; {part['check']}"
        )
    log(
        f"  confirm page {web['confirm_ms']:.0f} ms ({web['confirm_queries']} queries); "
        f"result page {web['result_ms']:.0f} ms ({web['result_queries']} queries)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()
    log(f"machine {load.machine_info()}")
    prepare(args)
    log(f"services {load.service_versions(args.db_url, args.redis_url)}")
    from django.contrib.auth import get_user_model

    for user in get_user_model().objects.filter(profile__role="city_office"):
        user.email = f"{user.username}@bench.invalid"
        user.save(update_fields=["email"])
    load.analyze(args.db_url)
    results = []
    for number in range(1, args.rounds + 1):
        results.append(run_round(args, number))
        report(results[-1])
    log(f"load average {os.getloadavg()}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
