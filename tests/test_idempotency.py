"""Retrying a POST is safe (issue 13, point 14): a change that committed and then failed to
answer is answered on the retry, not refused with 409.

The API takes an `Idempotency-Key` header on every POST, the site's forms a hidden token:
the same key and request replay the first answer, the same key with another request is a
422, keys are per user, and the change happens exactly once (idempotency.keys).
"""

import datetime
import re
import uuid

import pytest
from django.conf import settings
from django.db import OperationalError, connection, connections, transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.views import APIView

from api import views as api_views
from api.idempotent import IdempotentPostMixin
from api.views import LogoutAllView, LogoutView, TokenView
from idempotency import keys
from idempotency.models import IdempotencyKey
from tasks import services
from tasks.models import CheckIn, CheckInState, EnterpriseMove, Evidence, ReviewEvent

from . import factories as f
from .test_api import CHINESE, api_client, assert_error
from .test_concurrency import race

S = CheckInState
A = ReviewEvent.Action

pytestmark = pytest.mark.django_db(transaction=True)


def new_key():
    return str(uuid.uuid4())


@pytest.fixture
def pending_county(world, assignment_of):
    return services.submit_checkin(world.liaisons[0], assignment_of(world.enterprises[0]), "已开展技能竞赛。", [f.pdf_upload()])


@pytest.fixture
def pending_city(world, pending_county):
    return services.approve(world.county_users[0], pending_county)


def post(user, url, data, key=None, format="json", client=None):
    client = client or api_client(user)
    client.raise_request_exception = False  # a server error is a 500 answer, as a real client sees it
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(url, data, format=format, **headers)


def events(checkin, action):
    return ReviewEvent.objects.filter(checkin__assignment=checkin.assignment, action=action).count()


def _lose_the_connection_on_commit(monkeypatch, action):
    """The COMMIT of the next `action` event happens on the server, then the connection drops
    before the answer (other commits, such as a token's or a session's, go through)."""
    wrapper = connections["default"]
    real_commit = wrapper.commit
    before = ReviewEvent.objects.filter(action=action).count()

    def commit_then_lose_the_connection():
        if ReviewEvent.objects.filter(action=action).count() == before:
            return real_commit()
        monkeypatch.undo()
        real_commit()
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(wrapper, "commit", commit_then_lose_the_connection)


def _fail_after_the_next_commit(monkeypatch):
    """Something after the next COMMIT fails (the request answers 500, the change is committed)."""
    real_notify = services.notify_checkin_event

    def notify_then_fail_after_commit(event):
        real_notify(event)
        monkeypatch.undo()

        def fail():
            raise RuntimeError("failed after the commit")

        transaction.on_commit(fail)

    monkeypatch.setattr(services, "notify_checkin_event", notify_then_fail_after_commit)


# --- the fault: committed, answered 500, retried ------------------------------------------
def test_a_score_whose_answer_was_lost_after_commit_is_answered_on_retry_not_409(world, pending_city, monkeypatch):
    key, url = new_key(), f"/api/checkins/{pending_city.pk}/score/"
    _lose_the_connection_on_commit(monkeypatch, A.SCORE)

    first = post(world.city_user, url, {"points": "8", "comment": "很好"}, key)
    assert first.status_code == 503  # a lost database: 503, retry (api.errors)
    assert CheckIn.objects.get(pk=pending_city.pk).state == S.SCORED  # it did commit

    retry = post(world.city_user, url, {"points": "8", "comment": "很好"}, key)
    assert retry.status_code == 200, retry.content
    assert retry.json()["state"] == S.SCORED and retry.json()["points"] == "8.00"
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert events(pending_city, A.SCORE) == 1  # scored exactly once

    # Without a key the same retry is what the review found: a 409.
    assert post(world.city_user, url, {"points": "8", "comment": "很好"}).status_code == 409


def test_a_submission_that_failed_after_commit_is_answered_on_retry_with_its_one_version(
    world, assignment_of, monkeypatch
):
    assignment, liaison, key = assignment_of(world.enterprises[0]), world.liaisons[0], new_key()
    data = {"assignment": assignment.pk, "description": "组织开展了劳动技能竞赛。"}
    _fail_after_the_next_commit(monkeypatch)

    first = post(liaison, "/api/checkins/", {**data, "files": [f.pdf_upload("方案.pdf")]}, key, "multipart")
    assert first.status_code == 500
    committed = CheckIn.objects.get(assignment=assignment)

    retry = post(liaison, "/api/checkins/", {**data, "files": [f.pdf_upload("方案.pdf")]}, key, "multipart")
    assert retry.status_code == 201, retry.content
    body = retry.json()
    assert body["id"] == committed.pk and body["version"] == 1 and body["state"] == S.PENDING_COUNTY_REVIEW
    assert [file["name"] for file in body["files"]] == ["方案.pdf"]
    assert CheckIn.objects.filter(assignment=assignment).count() == 1
    assert Evidence.objects.filter(checkin__assignment=assignment).count() == 1


def test_a_retry_replays_the_first_answer_and_changes_nothing_more(world, pending_county):
    key, url = new_key(), f"/api/checkins/{pending_county.pk}/approve/"
    first = post(world.county_users[0], url, {"comment": "同意"}, key)
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers

    again = post(world.county_users[0], url, {"comment": "同意"}, key)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert events(pending_county, A.APPROVE) == 1


def test_every_workflow_post_replays(world, assignment_of):
    """submit, approve, return, resubmit, approve, score, reopen: each sent twice with its key."""
    assignment = assignment_of(world.enterprises[0])
    liaison, county, city = world.liaisons[0], world.county_users[0], world.city_user
    before = ReviewEvent.objects.count()

    def twice(user, url, data, format="json"):
        key = new_key()
        first = post(user, url, data() if callable(data) else data, key, format)
        second = post(user, url, data() if callable(data) else data, key, format)
        assert first.status_code in (200, 201), first.content
        assert (second.status_code, second.json()) == (first.status_code, first.json())
        return first.json()["id"]

    files = lambda: {"assignment": assignment.pk, "description": "说明", "files": [f.pdf_upload()]}  # noqa: E731
    v1 = twice(liaison, "/api/checkins/", files, "multipart")
    twice(county, f"/api/checkins/{v1}/return/", {"reason": "材料不全"})
    v2 = twice(liaison, "/api/checkins/", files, "multipart")
    twice(county, f"/api/checkins/{v2}/approve/", {})
    twice(city, f"/api/checkins/{v2}/score/", {"points": "7.5"})
    twice(city, f"/api/checkins/{v2}/reopen/", {"reason": "复核"})

    assert CheckIn.objects.filter(assignment=assignment).count() == 2
    assert ReviewEvent.objects.count() - before == 6  # two submits, return, approve, score, reopen


def test_moving_an_enterprise_twice_with_one_key_moves_it_once(world):
    enterprise, key = world.enterprises[0], new_key()
    url = f"/api/enterprises/{enterprise.pk}/move/"
    data = {"county": world.counties[1].pk, "reason": "企业搬迁"}
    first = post(world.city_user, url, data, key)
    assert first.status_code == 200, first.content

    again = post(world.city_user, url, data, key)
    assert (again.status_code, again.json()) == (200, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert EnterpriseMove.objects.filter(enterprise=enterprise).count() == 1


# --- keys: one request each, per user, well-formed ------------------------------------------
def test_the_same_key_with_another_body_is_422_and_changes_nothing(world, pending_city):
    key, url = new_key(), f"/api/checkins/{pending_city.pk}/score/"
    assert post(world.city_user, url, {"points": "8"}, key).status_code == 200

    other = post(world.city_user, url, {"points": "9"}, key)
    assert_error(other, 422)
    assert "Idempotency-Key" in other.json()["detail"]
    assert CheckIn.objects.get(pk=pending_city.pk).points == 8
    assert events(pending_city, A.SCORE) == 1


def test_the_same_key_on_another_checkin_is_422_and_that_checkin_is_untouched(world, assignment_of):
    first = services.submit_checkin(world.liaisons[0], assignment_of(world.enterprises[0]), "说明", [f.pdf_upload()])
    second = services.submit_checkin(world.liaisons[1], assignment_of(world.enterprises[1]), "说明", [f.pdf_upload()])
    key = new_key()
    assert post(world.county_users[0], f"/api/checkins/{first.pk}/approve/", {}, key).status_code == 200

    assert_error(post(world.county_users[0], f"/api/checkins/{second.pk}/approve/", {}, key), 422)
    assert CheckIn.objects.get(pk=second.pk).state == S.PENDING_COUNTY_REVIEW


def test_keys_are_per_user(world, assignment_of):
    key = new_key()
    for liaison, enterprise in zip(world.liaisons[:2], world.enterprises[:2], strict=True):
        data = {"assignment": assignment_of(enterprise).pk, "description": "说明", "files": [f.pdf_upload()]}
        response = post(liaison, "/api/checkins/", data, key, "multipart")
        assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
        assert response.json()["enterprise"] == enterprise.pk
    assert IdempotencyKey.objects.filter(key=key).count() == 2


def test_a_refused_request_is_not_remembered_and_may_be_corrected_under_its_key(world, pending_city):
    key, url = new_key(), f"/api/checkins/{pending_city.pk}/score/"
    assert_error(post(world.city_user, url, {"points": "99"}, key), 400, "points")
    assert not IdempotencyKey.objects.filter(key=key).exists()

    assert post(world.city_user, url, {"points": "9"}, key).status_code == 200


@pytest.mark.parametrize("bad_key", ["", "带中文的键", "has space", "x" * 256])
def test_a_malformed_key_is_a_chinese_400_and_changes_nothing(world, pending_county, bad_key):
    response = post(world.county_users[0], f"/api/checkins/{pending_county.pk}/approve/", {}, bad_key)
    assert_error(response, 400)
    assert CheckIn.objects.get(pk=pending_county.pk).state == S.PENDING_COUNTY_REVIEW


def test_an_upload_stopped_at_the_file_limit_with_a_key_is_the_usual_refusal(world, assignment_of, settings):
    """The stopped upload's files are closed before the key's request hash reads them (found by the fuzz)."""
    data = {
        "assignment": assignment_of(world.enterprises[0]).pk,
        "description": "说明",
        "files": [f.pdf_upload(f"第{i}份.pdf") for i in range(settings.EVIDENCE_MAX_FILES + 2)],
    }
    response = post(world.liaisons[0], "/api/checkins/", data, new_key(), "multipart")
    assert_error(response, 400)
    assert not CheckIn.objects.exists()


def test_the_key_is_recorded_in_the_transaction_of_the_change(world, pending_city, monkeypatch):
    """A change that rolls back leaves no key behind, so the retry runs again."""
    key, url = new_key(), f"/api/checkins/{pending_city.pk}/score/"

    wrapper = connections["default"]
    real_commit = wrapper.commit

    def fail_the_scores_commit():
        if not ReviewEvent.objects.filter(action=A.SCORE).exists():
            return real_commit()
        wrapper.rollback()
        raise OperationalError("the database went away before COMMIT")

    monkeypatch.setattr(wrapper, "commit", fail_the_scores_commit)
    assert post(world.city_user, url, {"points": "8"}, key).status_code == 503
    monkeypatch.undo()
    assert CheckIn.objects.get(pk=pending_city.pk).state == S.PENDING_CITY_REVIEW
    assert not IdempotencyKey.objects.filter(key=key).exists()

    retry = post(world.city_user, url, {"points": "8"}, key)
    assert retry.status_code == 200 and "Idempotent-Replayed" not in retry.headers
    assert events(pending_city, A.SCORE) == 1


def test_two_requests_with_one_key_at_once_make_one_change_and_both_get_its_answer(world, pending_county):
    if connection.vendor != "postgresql":
        pytest.skip("needs Postgres row locks")
    key, url = new_key(), f"/api/checkins/{pending_county.pk}/approve/"
    results = race(
        lambda: post(world.county_users[0], url, {"comment": "同意"}, key),
        lambda: post(world.county_users[0], url, {"comment": "同意"}, key),
        hold=(CheckIn, pending_county.pk),
    )
    responses = [value for kind, value in results if kind == "ok"]
    assert len(responses) == 2, results
    assert [r.status_code for r in responses] == [200, 200], [r.content for r in responses]
    assert responses[0].json() == responses[1].json()
    assert events(pending_county, A.APPROVE) == 1


# --- the browser forms ------------------------------------------------------------------------
def _token(page):
    found = re.findall(r'name="idempotency_key" value="([0-9a-f]{32})"', page.content.decode())
    assert found, "the form carries no idempotency token"
    return found[0]


def _messages(client, url):
    return [str(m) for m in client.get(url).context["messages"]]


def test_the_review_and_submit_forms_carry_a_fresh_hidden_token(client, world, pending_city, assignment_of):
    client.force_login(world.city_user)
    page = client.get(reverse("tasks:checkin_detail", args=[pending_city.pk]))
    tokens = re.findall(r'name="idempotency_key" value="([0-9a-f]{32})"', page.content.decode())
    assert len(tokens) == 2 and len(set(tokens)) == 2  # score and return, one each
    assert _token(client.get(reverse("tasks:checkin_detail", args=[pending_city.pk]))) not in tokens

    client.force_login(world.liaisons[1])
    assert _token(client.get(reverse("tasks:assignment_detail", args=[assignment_of(world.enterprises[1]).pk])))


def test_submitting_the_score_form_twice_redirects_the_same_way_with_the_same_message(client, world, pending_city):
    client.force_login(world.city_user)
    token = _token(client.get(reverse("tasks:checkin_detail", args=[pending_city.pk])))
    url = reverse("tasks:score", args=[pending_city.pk])
    data = {"points": "8", "comment": "", "idempotency_key": token}

    first = client.post(url, data)
    assert first.status_code == 302
    first_messages = _messages(client, first.url)

    second = client.post(url, data)
    assert second.status_code == 302 and second.url == first.url
    assert _messages(client, second.url) == first_messages and first_messages
    assert events(pending_city, A.SCORE) == 1

    # Without the token the second submit is the 409 page the review found.
    assert client.post(url, {"points": "8", "comment": ""}).status_code == 409


def test_submitting_the_checkin_form_twice_makes_one_version(client, world, assignment_of):
    assignment = assignment_of(world.enterprises[0])
    client.force_login(world.liaisons[0])
    token = _token(client.get(reverse("tasks:assignment_detail", args=[assignment.pk])))
    url = reverse("tasks:submit", args=[assignment.pk])

    def send():
        return client.post(url, {"description": "说明", "files": [f.pdf_upload("方案.pdf")], "idempotency_key": token})

    first, second = send(), send()
    assert first.status_code == second.status_code == 302 and first.url == second.url
    assert CheckIn.objects.filter(assignment=assignment).count() == 1
    assert Evidence.objects.filter(checkin__assignment=assignment).count() == 1


def test_a_form_answer_lost_after_commit_is_given_on_the_second_submit(client, world, pending_county, monkeypatch):
    client.force_login(world.county_users[0])
    client.raise_request_exception = False
    token = _token(client.get(reverse("tasks:checkin_detail", args=[pending_county.pk])))
    url = reverse("tasks:approve", args=[pending_county.pk])
    _lose_the_connection_on_commit(monkeypatch, A.APPROVE)

    assert client.post(url, {"comment": "", "idempotency_key": token}).status_code == 503
    second = client.post(url, {"comment": "", "idempotency_key": token})
    assert second.status_code == 302 and second.url == reverse("tasks:review_queue")
    assert events(pending_county, A.APPROVE) == 1


def test_the_same_form_token_with_other_content_is_a_422_page(client, world, pending_city):
    client.force_login(world.city_user)
    token = _token(client.get(reverse("tasks:checkin_detail", args=[pending_city.pk])))
    url = reverse("tasks:score", args=[pending_city.pk])
    assert client.post(url, {"points": "8", "comment": "", "idempotency_key": token}).status_code == 302

    other = client.post(url, {"points": "6", "comment": "", "idempotency_key": token})
    assert other.status_code == 422
    assert CHINESE.search(other.content.decode())
    assert CheckIn.objects.get(pk=pending_city.pk).points == 8


# --- the contract: every POST, documented -----------------------------------------------------
def _api_routes(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _api_routes(pattern, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/"):
            yield route, pattern.callback


# The auth endpoints take no key (api.idempotent): logging in has no user yet to keep a key
# for, and a logout ends the token its retry would be sent with.
AUTH_VIEWS = (TokenView, LogoutView, LogoutAllView)


def test_every_api_view_that_takes_post_honours_the_key():
    """Every API view taking POST, except the auth endpoints, honours Idempotency-Key."""
    posting = set()
    for route, callback in _api_routes():
        view_class = getattr(callback, "cls", None)
        if view_class is None or not issubclass(view_class, APIView) or view_class in AUTH_VIEWS:
            continue
        actions = getattr(callback, "actions", None)
        takes_post = "post" in actions if actions is not None else hasattr(view_class, "post")
        if takes_post and callback is not api_views.unknown_endpoint:  # the catch-all 404
            posting.add(view_class)
            assert issubclass(view_class, IdempotentPostMixin), f"{route}: {view_class.__name__} ignores the key"
    assert posting  # the sweep found the check-in endpoints


def test_the_schema_documents_the_header_and_422_on_every_post(schema):
    posts = {path: ops["post"] for path, ops in schema["paths"].items() if "post" in ops}
    assert "/api/checkins/{id}/score/" in posts
    for path, operation in posts.items():
        if path.startswith("/api/auth/"):
            assert "Idempotency-Key" not in str(operation.get("parameters", [])), path
            continue
        headers = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}
        assert "Idempotency-Key" in headers, path
        assert not headers["Idempotency-Key"].get("required", False)
        assert "422" in operation["responses"], path


# --- housekeeping -----------------------------------------------------------------------------
def test_old_keys_are_forgotten_by_the_beat_job(world, pending_county):
    key = new_key()
    assert post(world.county_users[0], f"/api/checkins/{pending_county.pk}/approve/", {}, key).status_code == 200
    row = IdempotencyKey.objects.get(key=key)
    keep = datetime.timedelta(hours=settings.IDEMPOTENCY_KEYS_KEEP_HOURS)

    assert keys.remove_old_keys(now=row.created_at + keep - datetime.timedelta(minutes=1)) == 0
    assert keys.remove_old_keys(now=row.created_at + keep + datetime.timedelta(minutes=1)) == 1
    assert not IdempotencyKey.objects.filter(key=key).exists()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "idempotency.remove_old_keys" in scheduled
