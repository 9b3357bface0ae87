#!/usr/bin/env python
"""Benchmark: the enterprise-ranking export and the enterprise import at province scale.

Run by hand (it is not a test):

    cd /work/main && .venv/bin/python bench/exports.py                 # exports on 100k, import of 10k
    .venv/bin/python bench/exports.py --plain-limit 10000              # (a) on 10,000 rows only

Exports read the database of --export-db (default bench_rankings_100000, seeded by
bench/rankings.py --keep: `seed_demo --enterprises 100000 --no-progress` plus a snapshot; it is
only read). If it does not exist it is created the same way. Each variant runs in a fresh
Python process and reports wall time, peak RSS (resource.getrusage ru_maxrss, which includes
Django itself: the baseline after django.setup() is printed too) and the number of SQL
statements:

  (a)  a plain django-import-export ModelResource of EnterpriseRanking with the related names
       as `enterprise__name` / `county__name` fields, dataset.export("xlsx");
  (a') the same with select_related("enterprise", "county");
  (b0) the portal's rows (spreadsheets.exports.specs.resolve: the spec's values_list iterator) written
       by XlsxWriter in constant_memory mode (needs `pip install xlsxwriter`; bench only);
  (b)  the portal's export as shipped (spreadsheets.exports.specs.resolve + write_xlsx: the same iterator
       and the portal's streaming SpreadsheetML writer), the code path of the export job.

The import bench creates a database bench_exports_import (migrate + seed_demo --enterprises 1
--no-progress: the demo city, its counties and one enterprise), writes a sheet of --import-rows enterprises
with liaison accounts and times spreadsheets.imports.services.preview_import (the dry run) and
apply_import (the confirm), twice: the first run creates everything, the second finds
everything unchanged. The database is dropped afterwards unless --keep.
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from rankings import admin_connect, db_url, django_env, load_average, machine, run  # noqa: E402

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def setup_django():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chanjgai_portal.settings")
    import django

    django.setup()


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


# -- children ------------------------------------------------------------------------------


def write_with_xlsxwriter(target, spec):
    """Variant b0: the same rows through XlsxWriter's constant_memory mode."""
    from decimal import Decimal

    import xlsxwriter

    from spreadsheets.exports.writer import _cell_text

    workbook = xlsxwriter.Workbook(
        target, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    )
    sheet = workbook.add_worksheet("Sheet1")
    formats = {k: workbook.add_format({"num_format": f}) for k, f in {"int": "0", "points": "0.00", "percent": "0.00%"}.items()}
    bold = workbook.add_format({"bold": True})
    for index, (_header, _kind, width) in enumerate(spec.columns):
        sheet.set_column(index, index, width)
    sheet.write_string(0, 0, spec.title_line, bold)
    for index, (header, _kind, _width) in enumerate(spec.columns):
        sheet.write_string(1, index, header, bold)
    cell_formats = [formats.get(kind) for _h, kind, _w in spec.columns]
    row_index = 1
    for row_index, row in enumerate(spec.rows(), start=2):
        for col, value in enumerate(row):
            if value is None or value == "":
                continue
            if isinstance(value, str):
                sheet.write_string(row_index, col, _cell_text(value))
            elif isinstance(value, (int, float, Decimal)):
                sheet.write_number(row_index, col, float(value), cell_formats[col])
    sheet.freeze_panes(2, 0)
    sheet.autofilter(1, 0, row_index, len(spec.columns) - 1)
    workbook.close()
    return row_index - 1


def child_export(mode, limit):
    setup_django()
    from django.db import connection
    from import_export import fields, resources

    from enterprises.inputs import profile_or_403
    from enterprises.models import Profile
    from scoring import selectors
    from scoring.models import EnterpriseRanking
    from spreadsheets.exports import specs, writer

    user = Profile.objects.select_related("user").get(user__username="city").user
    profile = profile_or_403(user)
    snapshot = selectors.latest_snapshot(selectors.period_for(profile))
    baseline = rss_mb()
    counter = QueryCounter()
    out = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)
    out.close()
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        if mode in ("a", "a_select_related"):

            class PlainEnterpriseRankingResource(resources.ModelResource):
                rank_in_city = fields.Field(attribute="rank_in_city", column_name="市内排名")
                rank_in_county = fields.Field(attribute="rank_in_county", column_name="县区内排名")
                enterprise_name = fields.Field(attribute="enterprise__name", column_name="企业名称")
                credit_code = fields.Field(attribute="enterprise__credit_code", column_name="统一社会信用代码")
                county_name = fields.Field(attribute="county__name", column_name="县（市）区")

                class Meta:
                    model = EnterpriseRanking
                    fields = (
                        "rank_in_city", "rank_in_county", "enterprise_name", "credit_code", "county_name",
                        "points", "max_points", "score_rate", "scored_count", "assigned_count",
                    )
                    export_order = fields

            queryset = EnterpriseRanking.objects.filter(snapshot=snapshot).with_ranks().order_by("rank_in_city", "county__order", "pk")
            if mode == "a_select_related":
                queryset = queryset.select_related("enterprise", "county")
            if limit:
                queryset = queryset[:limit]
            dataset = PlainEnterpriseRankingResource().export(queryset=queryset)
            Path(out.name).write_bytes(dataset.export("xlsx"))
            rows = len(dataset)
        else:
            spec = specs.resolve(user, "enterprises", {})
            if limit:
                queryset = selectors.enterprise_rankings_for(user, snapshot)[:limit]
                spec.rows = lambda: specs.sheet_rows(specs.ENTERPRISE_RANKING_COLUMNS, queryset)
            writer = write_with_xlsxwriter if mode == "b0" else writer.write_xlsx
            rows = writer(out.name, spec)
    elapsed = time.perf_counter() - started
    size = Path(out.name).stat().st_size
    os.unlink(out.name)
    print(json.dumps({"mode": mode, "rows": rows, "seconds": elapsed, "queries": counter.count,
                      "peak_rss_mb": rss_mb(), "baseline_rss_mb": baseline, "file_mb": size / 1e6}))


def child_import(rows_wanted):
    setup_django()
    from django.db import connection
    from openpyxl import Workbook

    from enterprises.credit_code import make_code
    from enterprises.models import Profile, Region
    from spreadsheets.imports import services

    user = Profile.objects.select_related("user").get(user__username="city").user
    counties = list(Region.objects.filter(parent=Profile.for_user(user).city).values_list("name", flat=True))
    importer = services.importer_for(user, "enterprises")
    path = Path(tempfile.mkdtemp()) / "enterprises.xlsx"
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append([c.header for c in importer.columns])
    sizes, owners = ["大型", "中型", "小型", "微型"], ["国有", "民营", "外资", "合资", "其他"]
    for n in range(rows_wanted):
        sheet.append([
            make_code("9", "1", "320300", 70_000_000 + n), f"徐州导入测试{n}号有限公司", counties[n % len(counties)],
            sizes[n % 4], owners[n % 5], "非试点", 50 + n % 900, "王芳", "13900000000", f"imp{n:06d}", "是",
        ])
    workbook.save(path)
    results = {"rows": rows_wanted}
    for label in ("first", "again"):
        for step, call in (("dry_run", services.preview_import), ("confirm", services.apply_import)):
            counter = QueryCounter()
            started = time.perf_counter()
            with connection.execute_wrapper(counter):
                preview = call(user, "enterprises", path)
            results[f"{label}_{step}_s"] = time.perf_counter() - started
            results[f"{label}_{step}_queries"] = counter.count
            results[f"{label}_counts"] = [preview.created, preview.updated, preview.unchanged, len(preview.errors)]
    results["peak_rss_mb"] = rss_mb()
    print(json.dumps(results))


# -- parent --------------------------------------------------------------------------------


def spawn(url, *args):
    env = django_env(url)
    env["LANGUAGE_CODE"] = "zh-hans"
    _elapsed, out = run([sys.executable, __file__, *args], env, " ".join(args))
    return json.loads(out.strip().splitlines()[-1])


def database_exists(pg_url, name):
    conn = admin_connect(pg_url)
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        found = cur.fetchone() is not None
    conn.close()
    return found


def fresh_database(pg_url, name, enterprises):
    conn = admin_connect(pg_url)
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    url = db_url(pg_url, name)
    env = django_env(url)
    run([sys.executable, "manage.py", "migrate", "--noinput"], env, "migrate")
    run([sys.executable, "manage.py", "seed_demo", "--enterprises", str(enterprises), "--no-progress"], env, "seed_demo")
    return url


def drop(pg_url, name):
    conn = admin_connect(pg_url)
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--export-db", default="bench_rankings_100000")
    parser.add_argument("--plain-limit", type=int, default=0, help="Rows for (a) and (a') (0 = all).")
    parser.add_argument("--limit", type=int, default=0, help="Rows for (b) (0 = all).")
    parser.add_argument("--import-rows", type=int, default=10_000)
    parser.add_argument("--skip-import", action="store_true")
    parser.add_argument("--skip-plain", action="store_true")
    parser.add_argument("--skip-exports", action="store_true")
    parser.add_argument("--plain-modes", default="a,a_select_related", help="Which of a, a_select_related to run.")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--child", choices=["a", "a_select_related", "b0", "b", "import"])
    parser.add_argument("--rows", type=int, default=0)
    args = parser.parse_args()
    if args.child == "import":
        return child_import(args.rows)
    if args.child:
        return child_export(args.child, args.rows)

    print(json.dumps(machine(args.pg_url), ensure_ascii=False))
    if not database_exists(args.pg_url, args.export_db):
        print(f"seeding {args.export_db} …", flush=True)
        url = fresh_database(args.pg_url, args.export_db, 100_000)
        env = django_env(url)
        code = "from scoring import recompute; from tasks.models import Period; recompute.recompute_now(Period.objects.first(), trigger='bench')"
        run([sys.executable, "manage.py", "shell", "-c", code], env, "snapshot")
    url = db_url(args.pg_url, args.export_db)
    results = []
    if args.skip_exports:
        args.skip_plain = True
    modes = [("b0", args.limit), ("b", args.limit)]
    if not args.skip_plain:
        modes = [(mode, args.plain_limit) for mode in args.plain_modes.split(",") if mode] + modes
    for mode, limit in [] if args.skip_exports else modes:
        load = load_average()
        result = spawn(url, "--child", mode, "--rows", str(limit))
        result["load"] = load
        results.append(result)
        print(json.dumps(result), flush=True)
    if not args.skip_import:
        name = "bench_exports_import"
        import_url = fresh_database(args.pg_url, name, 1)
        try:
            load = load_average()
            result = spawn(import_url, "--child", "import", "--rows", str(args.import_rows))
            result["load"] = load
            print(json.dumps(result), flush=True)
        finally:
            if not args.keep:
                drop(args.pg_url, name)

    print("\n| variant | rows | time | peak RSS (baseline) | queries | file |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['mode']} | {r['rows']:,} | {r['seconds']:.2f} s | {r['peak_rss_mb']:.0f} MB ({r['baseline_rss_mb']:.0f} MB) "
              f"| {r['queries']:,} | {r['file_mb']:.1f} MB |")


if __name__ == "__main__":
    main()
