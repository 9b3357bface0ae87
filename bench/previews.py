#!/usr/bin/env python
"""Benchmark: evidence previews rendered on the server (pypdfium2 + Pillow, tasks/previews.py)
against PDF.js in the browser. Run by hand (it is not a test):

    cd /work/main && .venv/bin/python bench/previews.py --pdfjs /tmp/pdfjs/node_modules/pdfjs-dist

PDF.js is NOT part of the portal: install it for the comparison only, outside the repository
(`mkdir /tmp/pdfjs && cd /tmp/pdfjs && npm install pdfjs-dist`).

1. Server render time per page (p50/p95 over --runs runs) of tasks.previews.render for a 1-page
   and a 20-page PDF (A4 scans, as liaisons upload them: demo/evidence_samples.py) and for a
   4000×3000 camera JPEG, and the bytes of the images it makes (view image per page, thumbnail).
2. Time to first pixel in Chromium (/usr/bin/chromium, headless, a fresh context each run, so a
   cold cache like a first visit), for page 1 of the same PDFs:
   - PDF.js: a page that imports pdf.min.mjs, starts its worker, fetches the PDF, renders
     page 1 into a canvas; time from navigation start to the end of the render;
   - our page image: a page with <img src=page-1.jpg>; time from navigation start to `load`
     (decoded and painted by the next frame).
   Both are served by the same local static HTTP server; also with the CPU slowed 4× (CDP
   Emulation.setCPUThrottlingRate), roughly a mid-range phone. Bytes fetched per approach.
Prints a Markdown table (absolute figures and ratios) for bench/RESULTS.md.
"""

import argparse
import functools
import http.server
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chanjgai_portal.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/bench_previews.sqlite3")

import django  # noqa: E402

django.setup()

from demo.evidence_samples import sample_pdf, sample_photo  # noqa: E402
from tasks import previews  # noqa: E402

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

PDFJS_PAGE = """<!doctype html><meta charset="utf-8"><title>pdf.js</title>
<canvas id="c"></canvas>
<script type="module">
import * as pdfjs from "./pdfjs/pdf.min.mjs";
pdfjs.GlobalWorkerOptions.workerSrc = "./pdfjs/pdf.worker.min.mjs";
const doc = await pdfjs.getDocument({url: "./%(pdf)s"}).promise;
const page = await doc.getPage(1);
const viewport = page.getViewport({scale: %(scale)s});
const canvas = document.getElementById("c");
canvas.width = viewport.width; canvas.height = viewport.height;
await page.render({canvasContext: canvas.getContext("2d"), viewport, canvas}).promise;
requestAnimationFrame(() => { window.__firstPixel = performance.now(); });
</script>"""

IMAGE_PAGE = """<!doctype html><meta charset="utf-8"><title>image</title>
<img id="i" src="./%(image)s" width="%(width)s" height="%(height)s" alt="">
<script src="./image.js"></script>"""

IMAGE_JS = """const img = document.getElementById("i");
function done() { requestAnimationFrame(() => { window.__firstPixel = performance.now(); }); }
if (img.complete) { img.decode().then(done); } else { img.addEventListener("load", () => img.decode().then(done)); }
"""


def percentile(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (k - low)


def server_side(runs):
    samples = {
        "PDF, 1 page": ("application/pdf", sample_pdf(1, "Bench", pages=1)),
        "PDF, 20 pages": ("application/pdf", sample_pdf(2, "Bench", pages=20)),
        "JPEG 4000×3000": ("image/jpeg", sample_photo(3, size=(4000, 3000), quality=92)),
    }
    results = {}
    for label, (content_type, data) in samples.items():
        previews.render(content_type, data)  # warm up (imports, pdfium init)
        per_page, images = [], None
        for _ in range(runs):
            start = time.perf_counter()
            count, images = previews.render(content_type, data)
            per_page.append((time.perf_counter() - start) / count * 1000)
        pages = [i for i in images if i.kind == "page"]
        thumb = next(i for i in images if i.kind == "thumb")
        results[label] = {
            "input_bytes": len(data),
            "pages": len(pages),
            "ms_per_page_p50": statistics.median(per_page),
            "ms_per_page_p95": percentile(per_page, 95),
            "page_bytes_mean": statistics.mean(len(i.data) for i in pages),
            "page_px": f"{pages[0].width}×{pages[0].height}",
            "thumb_bytes": len(thumb.data),
            "data": data,
            "page1": pages[0],
        }
    return results


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript"}

    def log_message(self, *args):
        pass


def browser_side(results, pdfjs_dir, runs):
    from playwright.sync_api import sync_playwright

    site = Path(tempfile.mkdtemp(prefix="bench_previews_"))
    shutil.copytree(Path(pdfjs_dir) / "build", site / "pdfjs")
    (site / "image.js").write_text(IMAGE_JS)
    cases = {}
    for index, (label, r) in enumerate(results.items()):
        if not label.startswith("PDF"):
            continue
        pdf, image = f"doc{index}.pdf", f"page{index}.jpg"
        (site / pdf).write_bytes(r["data"])
        (site / image).write_bytes(r["page1"].data)
        # The same pixel width as our view image (a page of 595.5 pt), so both draw as much.
        (site / f"pdfjs{index}.html").write_text(PDFJS_PAGE % {"pdf": pdf, "scale": f"{r['page1'].width / 595.5:.4f}"})
        (site / f"image{index}.html").write_text(
            IMAGE_PAGE % {"image": image, "width": r["page1"].width, "height": r["page1"].height}
        )
        cases[label] = index
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    out = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
            for label, index in cases.items():
                for throttle in (1, 4):
                    for kind in ("pdfjs", "image"):
                        times, transferred = [], []
                        for _ in range(runs):
                            context = browser.new_context(viewport={"width": 1366, "height": 768})
                            page = context.new_page()
                            if throttle > 1:
                                cdp = context.new_cdp_session(page)
                                cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
                            page.goto(f"{base}/{kind}{index}.html")
                            page.wait_for_function("window.__firstPixel !== undefined", timeout=120_000)
                            times.append(page.evaluate("window.__firstPixel"))
                            transferred.append(page.evaluate(
                                "performance.getEntriesByType('resource').reduce((s, e) => s + e.encodedBodySize, 0)"
                            ))
                            context.close()
                        out[(label, throttle, kind)] = {
                            "p50": statistics.median(times), "p95": percentile(times, 95),
                            "bytes": statistics.median(transferred),
                        }
            browser.close()
    finally:
        server.shutdown()
        shutil.rmtree(site, ignore_errors=True)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--browser-runs", type=int, default=9)
    parser.add_argument("--pdfjs", help="the pdfjs-dist package folder (npm install pdfjs-dist, outside the repo)")
    args = parser.parse_args()

    results = server_side(args.runs)
    print(f"## server render (tasks.previews.render), {args.runs} runs, load average {os.getloadavg()[0]:.1f}\n")
    print("| file | input | pages | ms per page p50 / p95 | view image per page | thumbnail |")
    print("|---|---|---|---|---|---|")
    for label, r in results.items():
        print(
            f"| {label} | {r['input_bytes'] / 1024:.0f} KiB | {r['pages']} | "
            f"{r['ms_per_page_p50']:.0f} / {r['ms_per_page_p95']:.0f} | "
            f"{r['page_px']}, {r['page_bytes_mean'] / 1024:.0f} KiB | {r['thumb_bytes'] / 1024:.1f} KiB |"
        )
    if not args.pdfjs:
        return
    version = json.loads((Path(args.pdfjs) / "package.json").read_text())["version"]
    out = browser_side(results, args.pdfjs, args.browser_runs)
    print(f"\n## time to first pixel of page 1 in Chromium (cold cache), pdfjs-dist {version}, "
          f"{args.browser_runs} runs, load average {os.getloadavg()[0]:.1f}\n")
    print("| PDF | CPU | PDF.js p50 / p95 | page image p50 / p95 | ratio (p50) | bytes PDF.js / image |")
    print("|---|---|---|---|---|---|")
    for (label, throttle, kind), r in out.items():
        if kind != "pdfjs":
            continue
        image = out[(label, throttle, "image")]
        print(
            f"| {label} | {'1×' if throttle == 1 else f'{throttle}× slower'} | {r['p50']:.0f} / {r['p95']:.0f} ms | "
            f"{image['p50']:.0f} / {image['p95']:.0f} ms | {r['p50'] / image['p50']:.1f}× | "
            f"{r['bytes'] / 1024:.0f} KiB / {image['bytes'] / 1024:.0f} KiB |"
        )


if __name__ == "__main__":
    main()
