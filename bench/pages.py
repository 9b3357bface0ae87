#!/usr/bin/env python
"""Benchmark: server time and query counts of the ranking pages, by number of enterprises.

Run by hand (not a test; pytest only collects tests/):

    cd /work/main && .venv/bin/python bench/pages.py \
        --db-urls postgres://postgres@127.0.0.1:5432/bench_rankings_1000,postgres://postgres@127.0.0.1:5432/bench_rankings_100000

The databases must exist (bench/rankings.py --sizes 1000,100000 --keep). For each database, in a
fresh Python process configured for it (DEBUG off, ALLOWED_HOSTS including testserver), it
requests each page in-process with django.test.Client (force_login): --warmup requests first,
then one request under CaptureQueriesContext to count the queries, then --requests timed
requests (wall time of client.get, no query capture), and reports p50 / p95 / max.

Pages: scoring:rankings as `city` (first page, the middle and the last page of the enterprise table) and as
`county01`; scoring:county_detail of county01's county as `city` and as `county01`;
scoring:enterprise_detail of ent0001's enterprise as `city`, `county01`-style county user of its
county and as its liaison `ent0001` — the two detail pages only if scoring/urls.py has them;
then the dashboards (city as `city`, county as `county01`, enterprise as `ent0001`), the liaison's
task list, the county review queue and the city's two drill-down lists. `--only dashboard,list`
keeps the pages whose label contains one of the words.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URLS = (
    "postgres://postgres@127.0.0.1:5432/bench_rankings_1000,"
    "postgres://postgres@127.0.0.1:5432/bench_rankings_100000"
)


def pct(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def child(args):
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chanjgai_portal.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import NoReverseMatch, reverse

    from enterprises.models import Enterprise, Profile
    from scoring.models import EnterpriseRanking, RankingSnapshot

    User = get_user_model()
    users = {u.username: u for u in User.objects.filter(username__in=["city", "county01", "ent0001"])}
    county01 = Profile.objects.get(user=users["county01"]).region
    ent_profile = Profile.objects.select_related("enterprise").get(user=users["ent0001"])
    enterprise = ent_profile.enterprise
    ent_county_user = User.objects.get(profile__role="county_office", profile__region_id=enterprise.county_id)
    snapshot = RankingSnapshot.objects.order_by("-created_at", "-pk").first()
    ranked = EnterpriseRanking.objects.filter(snapshot=snapshot).count()
    last_page = max(1, -(-ranked // 50))

    pages = [
        ("rankings", "city", "scoring:rankings", {}, ""),
        # The worst page for OFFSET: TwoEndedPaginator reads later pages from the other end.
        ("rankings (middle page)", "city", "scoring:rankings", {}, f"?page={(last_page + 1) // 2}"),
        ("rankings (last page)", "city", "scoring:rankings", {}, f"?page={last_page}"),
        ("rankings", "county01", "scoring:rankings", {}, ""),
    ]
    try:
        reverse("scoring:county_detail", kwargs={"county_id": county01.pk})
        pages += [
            ("county_detail", "city", "scoring:county_detail", {"county_id": county01.pk}, ""),
            ("county_detail", "county01", "scoring:county_detail", {"county_id": county01.pk}, ""),
        ]
    except NoReverseMatch:
        print("  scoring:county_detail does not exist: skipped", flush=True)
    try:
        reverse("scoring:enterprise_detail", kwargs={"enterprise_id": enterprise.pk})
        pages += [
            ("enterprise_detail", "city", "scoring:enterprise_detail", {"enterprise_id": enterprise.pk}, ""),
            (
                "enterprise_detail",
                ent_county_user.username,
                "scoring:enterprise_detail",
                {"enterprise_id": enterprise.pk},
                "",
            ),
            ("enterprise_detail", "ent0001", "scoring:enterprise_detail", {"enterprise_id": enterprise.pk}, ""),
        ]
    except NoReverseMatch:
        print("  scoring:enterprise_detail does not exist: skipped", flush=True)

    # Each office's dashboard and the everyday lists: they aggregate the period's tasks.
    pages += [
        ("city dashboard", "city", "dashboards:city", {}, ""),
        ("county dashboard", "county01", "dashboards:county", {}, ""),
        ("enterprise dashboard", "ent0001", "dashboards:enterprise", {}, ""),
        ("task list", "ent0001", "tasks:assignment_list", {}, ""),
        ("review queue", "county01", "tasks:review_queue", {}, ""),
        ("enterprise list", "city", "dashboards:enterprise_list", {}, ""),
        ("task drill-down", "city", "dashboards:assignment_list", {}, ""),
    ]
    if args.only:
        pages = [page for page in pages if any(word in page[0] for word in args.only.split(","))]

    results = []
    for label, username, name, kwargs, query in pages:
        user = users.get(username) or User.objects.get(username=username)
        client = Client()
        client.force_login(user)
        url = reverse(name, kwargs=kwargs) + query
        for _ in range(args.warmup):
            response = client.get(url)
            if response.status_code != 200:
                raise SystemExit(f"{url} as {username}: HTTP {response.status_code}")
        with CaptureQueriesContext(connection) as ctx:
            client.get(url)
        queries = len(ctx.captured_queries)
        slowest = sorted(ctx.captured_queries, key=lambda q: float(q["time"]), reverse=True)[:3]
        times = []
        for _ in range(args.requests):
            started = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200
        results.append(
            {
                "page": label,
                "user": username,
                "url": url,
                "queries": queries,
                "p50_ms": round(pct(times, 50) * 1000, 1),
                "p95_ms": round(pct(times, 95) * 1000, 1),
                "max_ms": round(max(times) * 1000, 1),
                "mean_ms": round(statistics.mean(times) * 1000, 1),
                "bytes": len(response.content),
                "slowest_queries": [{"ms": round(float(q["time"]) * 1000, 1), "sql": q["sql"][:300]} for q in slowest],
            }
        )
        print(f"  {label:22} as {username:10} {queries:3d} queries  p50 {results[-1]['p50_ms']:7.1f} ms"
              f"  p95 {results[-1]['p95_ms']:7.1f} ms  max {results[-1]['max_ms']:7.1f} ms", flush=True)
    print("RESULT " + json.dumps({"enterprises": Enterprise.objects.count(), "ranked": ranked, "pages": results}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db-urls", default=DEFAULT_URLS, help="comma-separated database URLs")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page (default 50)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests first (default 5)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--only", help="comma-separated words: only the pages whose label has one")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    print(f"load average at start: {os.getloadavg()}", flush=True)
    all_results = []
    for url in [u.strip() for u in args.db_urls.split(",") if u.strip()]:
        print(f"\n== {url} ==", flush=True)
        env = dict(os.environ)
        env.update(
            DATABASE_URL=url, SECRET_KEY="bench", DEBUG="0", ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
            SESSION_COOKIE_SECURE="0", CSRF_COOKIE_SECURE="0", LOG_LEVEL="WARNING",
            # The test client speaks plain http: no redirect to https, no HSTS header work.
            SECURE_SSL_REDIRECT="0", SECURE_HSTS_SECONDS="0",
        )
        env.pop("REDIS_URL", None)
        load = os.getloadavg()
        proc = subprocess.run(
            [sys.executable, __file__, "--child", "--requests", str(args.requests), "--warmup", str(args.warmup)]
            + (["--only", args.only] if args.only else []),
            cwd=ROOT, env=env, capture_output=True, text=True,
        )
        sys.stdout.write("\n".join(line for line in proc.stdout.splitlines() if not line.startswith("RESULT ")) + "\n")
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-4000:])
            raise SystemExit(f"child failed for {url}")
        result = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))[7:])
        result.update(db_url=url, load_before=load)
        all_results.append(result)

    print("\n| page | user | " + " | ".join(f"{r['enterprises']:,} ent.: queries / p50 / p95" for r in all_results) + " |")
    print("|---|---|" + "---:|" * len(all_results))
    for i, page in enumerate(all_results[0]["pages"]):
        cells = []
        for r in all_results:
            p = r["pages"][i]
            cells.append(f"{p['queries']} / {p['p50_ms']:.1f} ms / {p['p95_ms']:.1f} ms")
        print(f"| {page['page']} | {page['user']} | " + " | ".join(cells) + " |")
    print(f"load average at end: {os.getloadavg()}")
    if args.json:
        Path(args.json).write_text(json.dumps(all_results, indent=2))


if __name__ == "__main__":
    main()
