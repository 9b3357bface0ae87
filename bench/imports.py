#!/usr/bin/env python
"""Benchmark: a city's 20,000-row enterprise import, with the tasks of the new enterprises, and
its preview (the dry run) computed once by a job instead of on every page load.

Run by hand (it is not a test):

    cd /work/main && .venv/bin/python bench/imports.py [--rows 20000] [--pg-url postgres://…/postgres]

It creates a database bench_imports_<pid> (migrate + `seed_demo --enterprises 1 --no-progress`:
the demo city, its 11 counties, its task library of 17 enterprise and 4 county-office
indicators and the open period 2026年度), writes an .xlsx of --rows new enterprises with liaison
accounts and, in one child process, times (each variant in a transaction rolled back after it,
so every one starts from the same database):

  assignments
    baseline  the import's confirm without tasks (assign_enterprises made a no-op), then the
              admin action's generate_assignments(period) over the whole city, as before;
    shipped   the confirm as shipped: the new enterprises' tasks in the same transaction
              (tasks.services.assign_enterprises: one INSERT … SELECT per 10,000 enterprises);
  preview
    baseline  preview_import() as every page load of the preview ran it before;
    job       run_preview_job(): the same dry run, stored once (ImportPreview), with progress;
    reload    what a reload of the preview page costs now: reading the stored result.

Each variant runs in a fresh database (dropped afterwards unless --keep); ratios are to the
baseline of the same invocation.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from exports import QueryCounter, drop, fresh_database, rss_mb, setup_django  # noqa: E402
from rankings import django_env, load_average, machine, run  # noqa: E402

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"


class Rollback(Exception):
    pass


def timed(call):
    from django.db import connection

    counter = QueryCounter()
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        value = call()
    return time.perf_counter() - started, counter.count, value


def rolled_back(call):
    """Run `call` in a transaction that is rolled back: (seconds, statements, its value)."""
    from django.db import transaction

    box = {}
    try:
        with transaction.atomic():
            box["result"] = timed(call)
            raise Rollback
    except Rollback:
        pass
    return box["result"]


def write_sheet(importer, counties, rows):
    from openpyxl import Workbook

    from enterprises.credit_code import make_code

    path = Path(tempfile.mkdtemp()) / "enterprises.xlsx"
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append([c.header for c in importer.columns])
    sizes, owners = ["大型", "中型", "小型", "微型"], ["国有", "民营", "外资", "合资", "其他"]
    for n in range(rows):
        sheet.append([
            make_code("9", "1", "320300", 70_000_000 + n), f"徐州导入测试{n}号有限公司", counties[n % len(counties)],
            sizes[n % 4], owners[n % 5], "非试点", 50 + n % 900, "王芳", "13900000000", f"imp{n:06d}", "是",
        ])
    workbook.save(path)
    return path


def child(rows, parts, variant=""):
    setup_django()
    from enterprises.models import Profile, Region
    from spreadsheets.imports import services
    from tasks import services as task_services
    from tasks.models import Assignment, Period

    user = Profile.objects.select_related("user").get(user__username="city").user
    city = Profile.for_user(user).city
    counties = list(Region.objects.filter(parent=city).order_by("order").values_list("name", flat=True))
    path = write_sheet(services.importer_for(user, "enterprises"), counties, rows)
    period = Period.objects.get(city=city, is_closed=False)
    results = {"rows": rows}

    if "assignments" in parts:
        def baseline():
            original = task_services.assign_enterprises
            task_services.assign_enterprises = lambda ids: 0  # the import as it was
            try:
                preview = services.apply_import(user, "enterprises", path)
            finally:
                task_services.assign_enterprises = original
            tasks = task_services.generate_assignments(period)
            return preview.created, tasks, Assignment.objects.filter(enterprise__isnull=False).count()

        def shipped():
            preview = services.apply_import(user, "enterprises", path)
            return preview.created, preview.tasks_created, Assignment.objects.filter(enterprise__isnull=False).count()

        for label, call in (("baseline", baseline), ("shipped", shipped)):
            if variant and label != variant:
                continue
            seconds, queries, value = rolled_back(call)
            results[f"assign_{label}"] = {"s": round(seconds, 2), "queries": queries, "created_tasks_total": value}

    if "preview" in parts:
        from spreadsheets.imports import previews
        from spreadsheets.imports.uploads import Upload

        seconds, queries, preview = timed(lambda: services.preview_import(user, "enterprises", path))
        results["preview_baseline"] = {"s": round(seconds, 2), "queries": queries, "rows": len(preview.rows)}

        def job():
            from django.core.files.storage import default_storage

            with open(path, "rb") as fh:
                name = default_storage.save(f"imports/{user.pk}/{'0' * 32}.xlsx", fh)
            upload = Upload(token=Path(name).name, name=name, original_name="enterprises.xlsx")
            record = previews.start_preview(user, "enterprises", upload, run_task=None)
            previews.run_preview(record.pk)
            return record.pk

        seconds, queries, pk = timed(job)
        results["preview_job"] = {"s": round(seconds, 2), "queries": queries}
        seconds, queries, stored = timed(lambda: previews.stored_preview(previews.previews_for(user).get(pk=pk)))
        results["preview_reload"] = {"s": round(seconds, 3), "queries": queries, "rows": len(stored.rows)}
    results["peak_rss_mb"] = round(rss_mb())
    print(json.dumps(results, ensure_ascii=False))


def spawn(url, *args):
    env = django_env(url)
    env["LANGUAGE_CODE"] = "zh-hans"
    _elapsed, out = run([sys.executable, __file__, *args], env, " ".join(args))
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--parts", default="assignments,preview")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--variant", default="")
    args = parser.parse_args()
    if args.child:
        return child(args.rows, args.parts.split(","), args.variant)
    print(json.dumps(machine(args.pg_url), ensure_ascii=False))
    # Each variant in a fresh database: a rolled-back run leaves dead rows and index entries
    # that would slow down the next one.
    runs = [("assignments", "baseline"), ("assignments", "shipped")] if "assignments" in args.parts else []
    runs += [("preview", "")] if "preview" in args.parts else []
    for part, variant in runs:
        name = f"bench_imports_{os.getpid()}"
        url = fresh_database(args.pg_url, name, 1)
        try:
            load = load_average()
            result = spawn(url, "--child", "--rows", str(args.rows), "--parts", part, "--variant", variant)
            result["load_before"], result["load_after"] = load, load_average()
            print(json.dumps(result, ensure_ascii=False), flush=True)
        finally:
            if not args.keep:
                drop(args.pg_url, name)


if __name__ == "__main__":
    main()
