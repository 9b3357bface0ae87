"""Locust users for the load bench (issue 7). Run through bench/load.py, which seeds the
database, starts gunicorn and the Celery workers and sets the BENCH_* variables below; by hand:

    BENCH_PASSWORD=... .venv/bin/locust -f bench/locustfile.py --headless -H http://127.0.0.1:8100 \
        -u 50 -r 10 -t 2m

Four kinds of users, each logged in through the login form with its own session:

- LiaisonUser (weight BENCH_LIAISON_WEIGHT, default 30): enterprise liaison ent0001, ent0002, …
  (one account per simulated user, from BENCH_LIAISON_FIRST): the task list, one task page,
  and with probability BENCH_UPLOAD_SHARE a submission with one BENCH_UPLOAD_BYTES (5 MB) PDF
  when that task takes one (request name "upload 5 MB").
- CountyOfficeUser (BENCH_COUNTY_USERS simulated users, default 11, at most 11 before they
  share a county): county01 … county11, one county each: its review queue, the oldest
  check-in's page, approve it.
- CityOfficeUser (BENCH_CITY_USERS, default 1: one scorer, so no two score the same check-in):
  the review queue, score the oldest check-in with valid points, the rankings page.
- RankingReader (weight BENCH_READER_WEIGHT, default 8): reads as `city` or a county office
  (round robin): rankings page, a county and an enterprise explanation page, its dashboard.

Every request (and every submit / approve / score with its ids) is appended as one JSON line
to BENCH_EVENTS, from which bench/load.py computes percentiles and checks the database.
A 409 (someone acted first) is counted as expected, not as a failure, and logged.
"""

import itertools
import json
import os
import random
import re
import time
from decimal import ROUND_DOWN, Decimal

from locust import HttpUser, between, events, task

PASSWORD = os.environ.get("BENCH_PASSWORD", "")
EVENTS_PATH = os.environ.get("BENCH_EVENTS", "/tmp/bench_load_events.jsonl")
UPLOAD_SHARE = float(os.environ.get("BENCH_UPLOAD_SHARE", "0.3"))
UPLOAD_BYTES = int(os.environ.get("BENCH_UPLOAD_BYTES", str(5 * 1024 * 1024)))
UPLOAD_NAME = os.environ.get("BENCH_UPLOAD_NAME", "upload 5 MB")
WAIT_MIN = float(os.environ.get("BENCH_WAIT_MIN", "1"))
WAIT_MAX = float(os.environ.get("BENCH_WAIT_MAX", "3"))
COUNTIES = 11

ASSIGNMENT_LINK = re.compile(r'href="/tasks/assignments/(\d+)/"')
CHECKIN_LINK = re.compile(r'href="/tasks/checkins/(\d+)/"')
COUNTY_LINK = re.compile(r'href="/rankings/counties/(\d+)/')
ENTERPRISE_LINK = re.compile(r'href="/rankings/enterprises/(\d+)/')
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
POINTS_INPUT = re.compile(r'<input[^>]*name="points"[^>]*>')
MAX_ATTR = re.compile(r'max="([\d.]+)"')

_liaison_numbers = itertools.count(int(os.environ.get("BENCH_LIAISON_FIRST", "1")))
_county_numbers = itertools.count(0)
_reader_numbers = itertools.count(0)
_events_file = open(EVENTS_PATH, "a", buffering=1)


def record(**fields):
    fields.setdefault("t", time.time())
    _events_file.write(json.dumps(fields, ensure_ascii=False) + "\n")


@events.request.add_listener
def _log_request(request_type, name, response_time, response_length, response=None, context=None,
                 exception=None, start_time=None, **_kwargs):
    status = getattr(response, "status_code", None) if response is not None else None
    record(
        kind="request",
        t=start_time or time.time(),
        name=name,
        method=request_type,
        ms=round(response_time, 2),
        status=status,
        ok=exception is None,
        error=None if exception is None else str(exception)[:300],
        user=(context or {}).get("username"),
    )


@events.spawning_complete.add_listener
def _spawned(user_count, **_kwargs):
    record(kind="spawning_complete", users=user_count)


@events.test_start.add_listener
def _started(environment, **_kwargs):
    record(kind="test_start")


@events.test_stop.add_listener
def _stopped(environment, **_kwargs):
    record(kind="test_stop")
    _events_file.flush()


def _pdf(size):
    """A PDF the evidence check accepts (magic bytes at offset 0) of exactly `size` bytes."""
    head, tail = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", b"\n%%EOF\n"
    body = random.Random(7).randbytes(max(0, size - len(head) - len(tail)))
    return head + body + tail


UPLOAD = _pdf(UPLOAD_BYTES)


def _csrf(html, client):
    match = CSRF_FIELD.search(html or "")
    return match.group(1) if match else client.cookies.get("csrftoken", "")


def _ok(response, expected=(200,)):
    """Mark a catch_response request: the expected codes succeed, a 409 is expected (someone
    acted first) and logged, anything else is a failure."""
    if response.status_code in expected:
        response.success()
        return True
    if response.status_code == 409:
        response.success()
        record(kind="conflict", name=response.request_meta["name"], url=response.url)
        return False
    response.failure(f"HTTP {response.status_code}")
    return False


class PortalUser(HttpUser):
    abstract = True
    wait_time = between(WAIT_MIN, WAIT_MAX)
    username = ""

    def context(self):
        return {"username": self.username}

    def choose_username(self):
        raise NotImplementedError

    def on_start(self):
        self.username = self.choose_username()
        page = self.client.get("/accounts/login/", name="login page")
        with self.client.post(
            "/accounts/login/",
            data={"username": self.username, "password": PASSWORD, "csrfmiddlewaretoken": _csrf(page.text, self.client)},
            name="login",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"login of {self.username} refused (HTTP {response.status_code})")
            else:
                response.success()

    def get_page(self, url, name):
        with self.client.get(url, name=name, catch_response=True) as response:
            _ok(response)
            return response

    def post_form(self, url, name, data, page_html):
        data = {**data, "csrfmiddlewaretoken": _csrf(page_html, self.client)}
        with self.client.post(url, data=data, name=name, allow_redirects=False, catch_response=True) as response:
            _ok(response, expected=(302,))
            return response


class LiaisonUser(PortalUser):
    weight = int(os.environ.get("BENCH_LIAISON_WEIGHT", "30"))

    def choose_username(self):
        return f"ent{next(_liaison_numbers):04d}"

    @task
    def work_on_a_task(self):
        listing = self.get_page("/tasks/", "task list")
        ids = sorted(set(ASSIGNMENT_LINK.findall(listing.text or "")))
        if not ids:
            return
        pk = random.choice(ids)
        page = self.get_page(f"/tasks/assignments/{pk}/", "assignment page")
        submit_url = f"/tasks/assignments/{pk}/submit/"
        if f'action="{submit_url}"' not in (page.text or "") or random.random() >= UPLOAD_SHARE:
            return
        with self.client.post(
            submit_url,
            data={"description": "bench load: evidence of the task", "csrfmiddlewaretoken": _csrf(page.text, self.client)},
            files={"files": ("bench-evidence.pdf", UPLOAD, "application/pdf")},
            name=UPLOAD_NAME,
            allow_redirects=False,
            catch_response=True,
        ) as response:
            _ok(response, expected=(302,))
            record(kind="submit", user=self.username, assignment=int(pk), status=response.status_code)


class CountyOfficeUser(PortalUser):
    fixed_count = int(os.environ.get("BENCH_COUNTY_USERS", str(COUNTIES)))

    def choose_username(self):
        # One county per simulated user; past 11 they share (and may meet 409s, logged).
        return f"county{next(_county_numbers) % COUNTIES + 1:02d}"

    @task
    def review_oldest(self):
        queue = self.get_page("/tasks/review/", "review queue (county)")
        ids = CHECKIN_LINK.findall(queue.text or "")
        if not ids:
            return
        pk = ids[0]  # oldest first
        page = self.get_page(f"/tasks/checkins/{pk}/", "check-in page")
        approve_url = f"/tasks/checkins/{pk}/approve/"
        if f'action="{approve_url}"' not in (page.text or ""):
            return
        response = self.post_form(approve_url, "approve", {"comment": "bench load: approved"}, page.text)
        record(kind="approve", user=self.username, checkin=int(pk), status=response.status_code)


class CityOfficeUser(PortalUser):
    fixed_count = int(os.environ.get("BENCH_CITY_USERS", "1"))

    def choose_username(self):
        return "city"

    @task
    def score_oldest(self):
        queue = self.get_page("/tasks/review/", "review queue (city)")
        ids = CHECKIN_LINK.findall(queue.text or "")
        if ids:
            pk = ids[0]
            page = self.get_page(f"/tasks/checkins/{pk}/", "check-in page")
            field = POINTS_INPUT.search(page.text or "")
            limit = MAX_ATTR.search(field.group(0)) if field else None
            if limit:
                max_points = Decimal(limit.group(1))
                points = (max_points * Decimal(random.randint(50, 100)) / 100).quantize(Decimal("0.01"), ROUND_DOWN)
                response = self.post_form(
                    f"/tasks/checkins/{pk}/score/", "score", {"points": str(points), "comment": "bench load"}, page.text
                )
                record(kind="score", user=self.username, checkin=int(pk), points=str(points),
                       status=response.status_code)
        self.get_page("/rankings/", "rankings")


class RankingReader(PortalUser):
    weight = int(os.environ.get("BENCH_READER_WEIGHT", "8"))

    def choose_username(self):
        n = next(_reader_numbers) % (COUNTIES + 1)
        return "city" if n == 0 else f"county{n:02d}"

    @task
    def read_rankings(self):
        page = self.get_page("/rankings/", "rankings")
        html = page.text or ""
        counties, enterprises = COUNTY_LINK.findall(html), ENTERPRISE_LINK.findall(html)
        if counties:
            self.get_page(f"/rankings/counties/{random.choice(counties)}/", "county explanation")
        if enterprises:
            self.get_page(f"/rankings/enterprises/{random.choice(enterprises)}/", "enterprise explanation")
        dashboard = "/dashboard/city/" if self.username == "city" else "/dashboard/county/"
        self.get_page(dashboard, "dashboard")


# A kind of user asked for zero times is left out (Locust refuses a class with no weight).
if CountyOfficeUser.fixed_count <= 0:
    del CountyOfficeUser
if CityOfficeUser.fixed_count <= 0:
    del CityOfficeUser
if LiaisonUser.weight <= 0:
    del LiaisonUser
if RankingReader.weight <= 0:
    del RankingReader
