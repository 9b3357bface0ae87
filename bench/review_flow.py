#!/usr/bin/env python
"""Benchmark: a county office reviews 50 check-ins, each with a photo and a PDF, in a real browser.

Run by hand (not a test; pytest only collects tests/):

    cd /work/main && .venv/bin/python bench/review_flow.py --items 50

What it does, in this order:
1. setup (a child process on --db, a PostgreSQL database it drops and creates): migrate,
   seed_demo (150 enterprises), approve whatever seed_demo left in county01's queue, then submit
   --items fresh check-ins in county01's county, each with a 2400×1800 JPEG photo and a 3-page
   PDF, through tasks.services.submit_checkin: the previews are made by the Celery job the
   submission enqueues after commit (eager here, as in the demo);
2. serve: `manage.py runserver --noreload` on 127.0.0.1:--port (DEBUG=1 so it serves the static
   files; threads on), against that database;
3. review: Playwright drives Debian's Chromium (1366×768) as county01: log in, open the review
   queue, open the first item, then for each item wait for its first evidence thumbnail to be
   painted and approve it with the keyboard. Per item it records
   - page loads (main-frame `load` events between arriving on one item and the next),
   - keystrokes (every page.keyboard.press the script makes),
   - server time: the document's responseStart − requestStart from the Navigation Timing of
     each page (the approve POST's redirect included: the time the browser waited for the
     server, loopback only),
   - time to first evidence pixel: the paint time of the first thumbnail (Element Timing,
     `elementtiming` on the thumbnail) minus the document's responseEnd ("after the page").
   The baseline, measured in the same browser and run: the server time of a trivial
   authenticated page (the notification list), fetched 30 times.

`--mode before` runs step 3 the way the portal worked before issue 15 (commit 50d06be: no
shortcuts, no landing on the next item, no inline evidence): from the queue, Tab until the
first 审核 link is focused, Enter, Tab until the 审核通过 button is focused, Enter (back on the
queue). Run it from a checkout of that commit with --mode before.
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
PY = sys.executable
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def env_for(args):
    env = dict(os.environ)
    env.update(
        DATABASE_URL=args.db,
        DEBUG="1",
        SECRET_KEY="bench-review-flow",
        MEDIA_ROOT=args.media,
        DJANGO_SETTINGS_MODULE="chanjgai_portal.settings",
    )
    env.pop("REDIS_URL", None)  # eager Celery: previews are made right after each submission commits
    return env


# ---------------------------------------------------------------------------------------- setup


def photo_bytes(index):
    """A photo-like JPEG (gradients and shapes, no text) of 2400×1800."""
    import io

    from PIL import Image, ImageDraw

    horizontal = Image.linear_gradient("L").rotate(90).resize((2400, 1800))
    vertical = Image.linear_gradient("L").resize((2400, 1800))
    flat = Image.new("L", (2400, 1800), (index * 37) % 256)
    image = Image.merge("RGB", (horizontal, vertical, flat))
    draw = ImageDraw.Draw(image)
    draw.ellipse((600, 400, 1800, 1400), outline=(255, 255, 255), width=24)
    draw.rectangle((200 + index * 10, 200, 900 + index * 10, 700), fill=(200, 30, 40))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def pdf_bytes(index):
    """A 3-page PDF (Pillow's PDF writer), A4-ish pages with shapes."""
    import io

    from PIL import Image, ImageDraw

    pages = []
    for number in range(3):
        page = Image.new("RGB", (1240, 1754), "white")
        draw = ImageDraw.Draw(page)
        draw.rectangle((100, 100, 1140, 300), fill=(180, 20, 30))
        for line in range(20):
            y = 400 + line * 60
            draw.rectangle((100, y, 100 + ((index + line + number) * 97) % 1000, y + 24), fill=(60, 60, 60))
        pages.append(page)
    out = io.BytesIO()
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:], resolution=150)
    return out.getvalue()


def setup_child(args):
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from enterprises.models import Profile
    from tasks import selectors, services
    from tasks.models import Assignment, AssignmentState

    call_command("migrate", verbosity=0)
    call_command("seed_demo", enterprises=150, password="demo12345", verbosity=0)
    User = get_user_model()
    county_user = User.objects.get(username="county01")
    profile = Profile.for_user(county_user)
    # Clear what seed_demo left waiting, so that the queue holds exactly the bench's items.
    for checkin in list(selectors.review_queue(county_user, profile)):
        services.approve(county_user, checkin, "")
    candidates = (
        Assignment.objects.filter(county=profile.region, enterprise__isnull=False, state=AssignmentState.NOT_SUBMITTED)
        .select_related("enterprise", "indicator", "period")
        .order_by("enterprise__name", "indicator__order", "pk")
    )
    made = 0
    started = time.perf_counter()
    for assignment in candidates:
        if made >= args.items:
            break
        liaison = User.objects.filter(
            profile__enterprise=assignment.enterprise, profile__role=Profile.Role.ENTERPRISE_LIAISON
        ).first()
        if liaison is None or not assignment.period.accepts_submissions():
            continue
        files = [
            SimpleUploadedFile(f"现场照片{made + 1:02d}.jpg", photo_bytes(made), content_type="image/jpeg"),
            SimpleUploadedFile(f"佐证材料{made + 1:02d}.pdf", pdf_bytes(made), content_type="application/pdf"),
        ]
        services.submit_checkin(liaison, assignment, f"第{made + 1}条打卡：现场照片与制度文件。", files)
        made += 1
    if made < args.items:
        raise SystemExit(f"only {made} tasks of county01's county could take a check-in; seed more enterprises")
    print(json.dumps({"submitted": made, "seconds": round(time.perf_counter() - started, 1)}))


def setup(args):
    name = args.db.rsplit("/", 1)[1]
    base = args.db.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", base, "-qc", f'DROP DATABASE IF EXISTS "{name}"'], check=True)
    subprocess.run(["psql", base, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    out = subprocess.run(
        [PY, __file__, "--child-setup", "--db", args.db, "--items", str(args.items), "--media", args.media],
        env=env_for(args),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit("setup failed:\n" + out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------- serve


def serve(args):
    log = open(Path(args.media) / "runserver.log", "w")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        [PY, "manage.py", "runserver", f"127.0.0.1:{args.port}", "--noreload"],
        env=env_for(args),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    import urllib.request

    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{args.port}/accounts/login/", timeout=1)
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("runserver did not start; see " + str(Path(args.media) / "runserver.log"))


# ---------------------------------------------------------------------------------------- review

NAV_TIMING = """() => {
  const [n] = performance.getEntriesByType('navigation');
  return n ? {server: n.responseStart - n.requestStart, redirect: n.redirectEnd - n.redirectStart,
              responseEnd: n.responseEnd, dcl: n.domContentLoadedEventEnd} : null;
}"""

# The paint time of the first evidence thumbnail (Element Timing), or, where the browser gives
# none, the moment its image finished decoding seen from the page.
FIRST_EVIDENCE_PIXEL = """() => new Promise((resolve) => {
  const done = (t) => resolve(t);
  const img = document.querySelector('.evidence img');
  if (!img) { resolve(null); return; }
  let settled = false;
  const po = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (!settled) { settled = true; po.disconnect(); done(e.renderTime || e.loadTime); }
    }
  });
  try { po.observe({type: 'element', buffered: true}); } catch (e) { /* no Element Timing */ }
  const fallback = () => { if (!settled) { settled = true; po.disconnect(); done(performance.now()); } };
  if (!img.hasAttribute('elementtiming')) {
    if (img.complete && img.naturalWidth) { img.decode().then(fallback, fallback); }
    else { img.addEventListener('load', () => img.decode().then(fallback, fallback)); }
  }
  setTimeout(() => { if (!settled) { settled = true; resolve(-1); } }, 10000);
})"""


class Counter:
    def __init__(self, page):
        self.page = page
        self.keys = 0
        self.loads = 0
        page.on("load", lambda _page: self._loaded())

    def _loaded(self):
        self.loads += 1

    def press(self, key):
        self.keys += 1
        self.page.keyboard.press(key)


def tab_until(counter, predicate_js, limit=200):
    for _ in range(limit):
        counter.press("Tab")
        if counter.page.evaluate(predicate_js):
            return
    raise SystemExit("Tab never reached the element: " + predicate_js)


def review(args):
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{args.port}"
    items = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        page = context.new_page()
        page.goto(base + "/accounts/login/")
        page.fill("input[name=username]", "county01")
        page.fill("input[name=password]", "demo12345")
        page.click("main form button[type=submit]")
        page.wait_for_load_state()

        baseline = []
        for _ in range(30):
            page.goto(base + "/notices/notifications/")
            baseline.append(page.evaluate(NAV_TIMING)["server"])

        page.goto(base + "/tasks/review/")
        counter = Counter(page)
        if args.mode == "before":
            for _ in range(args.items):
                counter.keys = counter.loads = 0
                tab_until(
                    counter,
                    "() => !!document.activeElement.closest('td') && document.activeElement.matches('a.button')",
                )
                with page.expect_navigation():
                    counter.press("Enter")
                page.wait_for_load_state()
                server = [page.evaluate(NAV_TIMING)["server"]]
                tab_until(
                    counter, "() => document.activeElement.matches('form[action$=\"/approve/\"] button[type=submit]')"
                )
                with page.expect_navigation():
                    counter.press("Enter")
                page.wait_for_load_state()
                back = page.evaluate(NAV_TIMING)
                server.append(back["redirect"])  # the approve POST (redirected to the queue)
                server.append(back["server"])  # the queue page it lands on
                items.append({"loads": counter.loads, "keys": counter.keys, "server": sum(server), "pixel": None})
        else:
            # Open the first item from the queue with the keyboard: j highlights it, Enter opens it.
            with page.expect_navigation():
                counter.press("j")
                counter.press("Enter")
            page.wait_for_load_state()
            opening = {"keys": counter.keys, "loads": counter.loads}
            timing = page.evaluate(NAV_TIMING)
            for index in range(args.items):
                painted = page.evaluate(FIRST_EVIDENCE_PIXEL)
                pixel = None if painted in (None, -1) else painted - timing["responseEnd"]
                counter.keys = counter.loads = 0
                url = page.url
                counter.press("a")  # focus 审核通过
                with page.expect_navigation():
                    counter.press("Enter")
                page.wait_for_load_state()
                if index + 1 < args.items and page.url == url:
                    raise SystemExit(f"did not move on from {url}")
                after = page.evaluate(NAV_TIMING)
                # This item's server time: its page's GET, plus its approve POST (the redirect
                # that brought the browser to the next page).
                items.append(
                    {
                        "loads": counter.loads,
                        "keys": counter.keys,
                        "server": timing["server"] + after["redirect"],
                        "pixel": pixel,
                    }
                )
                timing = after
            items[0]["opening"] = opening
        browser.close()
    return items, baseline


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--db", default="postgres://postgres@127.0.0.1:5432/bench_review_flow")
    parser.add_argument("--port", type=int, default=8190)
    parser.add_argument("--media", default="/tmp/bench_review_flow_media")
    parser.add_argument("--mode", choices=["current", "before"], default="current")
    parser.add_argument("--skip-setup", action="store_true")
    parser.add_argument("--child-setup", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_setup:
        setup_child(args)
        return
    Path(args.media).mkdir(parents=True, exist_ok=True)
    made = None if args.skip_setup else setup(args)
    server = serve(args)
    try:
        items, baseline = review(args)
    finally:
        server.terminate()
        server.wait(10)
    base_p50 = statistics.median(baseline)
    server_times = [i["server"] for i in items]
    pixels = [i["pixel"] for i in items if i["pixel"] is not None]
    report = {
        "mode": args.mode,
        "setup": made,
        "items": len(items),
        "page_loads_per_item": {
            "mean": statistics.mean(i["loads"] for i in items),
            "max": max(i["loads"] for i in items),
        },
        "keystrokes_per_item": {
            "mean": statistics.mean(i["keys"] for i in items),
            "max": max(i["keys"] for i in items),
        },
        "server_ms_per_item": {"p50": round(pct(server_times, 50), 1), "p95": round(pct(server_times, 95), 1)},
        "baseline_server_ms_p50": round(base_p50, 1),
        "server_ratio_p50": round(pct(server_times, 50) / base_p50, 2) if base_p50 else None,
        "first_evidence_pixel_ms": (
            {"p50": round(pct(pixels, 50), 1), "p95": round(pct(pixels, 95), 1), "max": round(max(pixels), 1)}
            if pixels
            else None
        ),
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
