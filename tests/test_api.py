"""The REST API drives the whole check-in workflow with token auth: submit with evidence,
approve, score, return and resubmit, county-office tasks, reopen, rankings; every error is
JSON with a Chinese `detail`; the token endpoint is throttled on failed logins."""

import re
import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts import security
from api.throttles import LoginFailureThrottle
from tasks.models import Assignment, CheckIn

from . import factories as f

CHINESE = re.compile(r"[\u4e00-\u9fff]")

pytestmark = pytest.mark.usefixtures("fresh_throttles")



def api_client(user=None):
    """An APIClient sending `Authorization: Token …` for `user` (anonymous when None)."""
    client = APIClient()
    if user is not None:
        _token, key = security.issue_api_token(user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def submit(user, assignment, description="组织开展了劳动技能竞赛。", files=None):
    files = [f.pdf_upload()] if files is None else files
    return api_client(user).post(
        "/api/checkins/",
        {"assignment": assignment.pk, "description": description, "files": files},
        format="multipart",
    )


def act(user, checkin_id, action, **data):
    return api_client(user).post(f"/api/checkins/{checkin_id}/{action}/", data, format="json")


def assert_error(response, status, field=None):
    """The response is `status` with a Chinese `detail` (and errors for `field` when given)."""
    assert response.status_code == status, response.content
    body = response.json()
    assert CHINESE.search(body["detail"]), body
    if field is not None:
        assert body[field] and all(isinstance(m, str) for m in body[field]), body
    return body


# --- the workflow paths --------------------------------------------------------------------
def test_submit_approve_score_moves_the_checkin_and_the_rankings(world, assignment_of, django_capture_on_commit_callbacks):
    ent = world.enterprises[0]
    assignment = assignment_of(ent)

    response = submit(world.liaisons[0], assignment, files=[f.pdf_upload("方案.pdf"), f.png_upload()])
    assert response.status_code == 201, response.content
    checkin = response.json()
    assert checkin["state"] == "pending_county_review"
    assert checkin["version"] == 1
    assert checkin["assignment"] == assignment.pk
    assert [file["name"] for file in checkin["files"]] == ["方案.pdf", "现场照片.png"]
    assert checkin["files"][0]["content_type"] == "application/pdf"
    assert checkin["files"][0]["download_url"] == f"/api/evidence/{checkin['files'][0]['id']}/download/"
    assert [(e["action"], e["from_state"], e["to_state"]) for e in checkin["events"]] == [
        ("submit", None, "pending_county_review")
    ]

    response = act(world.county_users[0], checkin["id"], "approve", comment="材料齐全")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "pending_city_review"

    with django_capture_on_commit_callbacks(execute=True):
        response = act(world.city_user, checkin["id"], "score", points="8.5", comment="完成较好")
    assert response.status_code == 200, response.content
    scored = response.json()
    assert scored["state"] == "scored"
    assert scored["points"] == "8.50"
    assert [(e["actor"], e["role"], e["action"], e["to_state"], e["comment"]) for e in scored["events"]] == [
        ("ent0001", "enterprise_liaison", "submit", "pending_county_review", ""),
        ("county01", "county_office", "approve", "pending_city_review", "材料齐全"),
        ("city", "city_office", "score", "scored", "完成较好"),
    ]
    assert scored["events"][-1]["points"] == "8.50"

    row = api_client(world.liaisons[0]).get(f"/api/assignments/{assignment.pk}/").json()
    assert (row["state"], row["points"]) == ("scored", "8.50")

    city = api_client(world.city_user)
    enterprises = city.get(f"/api/rankings/enterprises/?period={world.period.pk}").json()
    first = enterprises["results"][0]
    assert (first["enterprise"]["id"], first["points"], first["rank_in_city"], first["rank_in_county"]) == (
        ent.pk,
        "8.50",
        1,
        1,
    )
    counties = city.get(f"/api/rankings/counties/?period={world.period.pk}").json()
    assert [row["county"]["name"] for row in counties] == ["鼓楼区", "云龙区"]
    assert counties[0]["rank"] == 1 and float(counties[0]["score"]) > float(counties[1]["score"])
    assert {"office_rate", "enterprise_mean_rate", "enterprises_counted", "movement"} <= set(counties[0])


def test_return_then_resubmit_keeps_both_versions(world, assignment_of):
    assignment = assignment_of(world.enterprises[0])
    first = submit(world.liaisons[0], assignment).json()

    response = act(world.county_users[0], first["id"], "return", reason="缺少获奖名单")
    assert response.status_code == 200, response.content
    returned = response.json()
    assert returned["state"] == "returned"
    assert returned["events"][-1]["comment"] == "缺少获奖名单"

    response = submit(world.liaisons[0], assignment, description="补充了获奖名单。")
    assert response.status_code == 201, response.content
    second = response.json()
    assert (second["version"], second["state"]) == (2, "pending_county_review")

    versions = api_client(world.liaisons[0]).get(f"/api/checkins/?assignment={assignment.pk}").json()["results"]
    assert [(c["version"], c["state"]) for c in versions] == [(2, "pending_county_review"), (1, "returned")]


def test_county_office_checkin_goes_straight_to_city_review(world, assignment_of):
    county = world.counties[0]
    office_assignment = assignment_of(county)

    response = submit(world.county_users[0], office_assignment)
    assert response.status_code == 201, response.content
    checkin = response.json()
    assert checkin["state"] == "pending_city_review"
    assert checkin["enterprise"] is None and checkin["county"] == county.pk

    returned = act(world.city_user, checkin["id"], "return", reason="请补充调研报告").json()
    assert returned["state"] == "returned"
    again = submit(world.county_users[0], office_assignment).json()
    assert (again["version"], again["state"]) == (2, "pending_city_review")


def test_reopen_takes_a_scored_checkin_back_to_city_review(world, assignment_of, django_capture_on_commit_callbacks):
    assignment = assignment_of(world.enterprises[0])
    checkin = submit(world.liaisons[0], assignment).json()
    act(world.county_users[0], checkin["id"], "approve")
    with django_capture_on_commit_callbacks(execute=True):
        assert act(world.city_user, checkin["id"], "score", points=9).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = act(world.city_user, checkin["id"], "reopen", reason="复核佐证材料")
    assert response.status_code == 200, response.content
    reopened = response.json()
    assert (reopened["state"], reopened["points"]) == ("pending_city_review", None)
    assert reopened["events"][-1]["action"] == "reopen"
    assert reopened["events"][-1]["comment"] == "复核佐证材料"
    assignment.refresh_from_db()
    assert (assignment.state, assignment.points) == ("pending_city_review", None)


def test_evidence_downloads_as_an_attachment(world, assignment_of):
    checkin = submit(world.liaisons[0], assignment_of(world.enterprises[0])).json()
    url = checkin["files"][0]["download_url"]
    response = api_client(world.county_users[0]).get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == f.PDF_BYTES


def test_me_names_the_role_and_scope(world):
    me = api_client(world.liaisons[0]).get("/api/me/").json()
    assert me == {
        "username": "ent0001",
        "display_name": f"张伟（{world.enterprises[0].name}）",
        "role": "enterprise_liaison",
        "enterprise": world.enterprises[0].pk,
        "county": world.counties[0].pk,
        "city": world.city.pk,
        "scope_label": world.enterprises[0].name,
    }
    county = api_client(world.county_users[1]).get("/api/me/").json()
    assert (county["role"], county["enterprise"], county["county"], county["city"]) == (
        "county_office",
        None,
        world.counties[1].pk,
        world.city.pk,
    )
    city = api_client(world.city_user).get("/api/me/").json()
    assert (city["role"], city["county"], city["city"]) == ("city_office", None, world.city.pk)
    assert api_client(world.observer).get("/api/me/").json()["role"] == "observer"


# --- errors --------------------------------------------------------------------------------
def test_return_without_a_reason_is_400(world, assignment_of):
    checkin = submit(world.liaisons[0], assignment_of(world.enterprises[0])).json()
    assert_error(act(world.county_users[0], checkin["id"], "return"), 400, "reason")
    assert_error(act(world.county_users[0], checkin["id"], "return", reason="   "), 400, "reason")
    assert CheckIn.objects.get(pk=checkin["id"]).state == "pending_county_review"


@pytest.mark.parametrize("points", ["abc", "11", "-1", "8.123", "NaN", ""])
def test_bad_points_are_400(world, assignment_of, points):
    checkin = submit(world.liaisons[0], assignment_of(world.enterprises[0])).json()
    act(world.county_users[0], checkin["id"], "approve")
    assert_error(act(world.city_user, checkin["id"], "score", points=points), 400, "points")
    assert CheckIn.objects.get(pk=checkin["id"]).state == "pending_city_review"


def test_score_above_max_names_the_limit(world, assignment_of):
    checkin = submit(world.liaisons[0], assignment_of(world.enterprises[0])).json()
    act(world.county_users[0], checkin["id"], "approve")
    body = assert_error(act(world.city_user, checkin["id"], "score", points="11"), 400, "points")
    assert "10" in body["detail"]


@pytest.mark.parametrize(
    "description, files, field",
    [
        ("说明", "exe", "files"),
        ("说明", "fake-pdf", "files"),
        ("说明", [], "files"),
        ("   ", None, "description"),
    ],
)
def test_bad_submissions_are_400_and_change_nothing(world, assignment_of, description, files, field):
    from django.core.files.uploadedfile import SimpleUploadedFile

    if files == "exe":
        files = [SimpleUploadedFile("程序.exe", b"MZ\x90\x00", content_type="application/octet-stream")]
    elif files == "fake-pdf":
        files = [SimpleUploadedFile("伪装.pdf", b"<html>not a pdf</html>", content_type="application/pdf")]
    assignment = assignment_of(world.enterprises[0])
    assert_error(submit(world.liaisons[0], assignment, description=description, files=files), 400, field)
    assert not CheckIn.objects.filter(assignment=assignment).exists()


def test_a_role_that_may_not_act_is_403(world, assignment_of):
    checkin = submit(world.liaisons[0], assignment_of(world.enterprises[0])).json()
    assert_error(act(world.liaisons[0], checkin["id"], "approve"), 403)
    assert_error(act(world.observer, checkin["id"], "return", reason="x"), 403)
    assert_error(act(world.county_users[0], checkin["id"], "score", points="5"), 403)
    # an observer sees the enterprise's task but may not submit for it
    assert_error(submit(world.observer, assignment_of(world.enterprises[0])), 403)


def test_outside_the_scope_is_404(world, assignment_of):
    checkin = submit(world.liaisons[0], assignment_of(world.enterprises[0])).json()
    other_county = world.county_users[1]
    assert_error(act(other_county, checkin["id"], "approve"), 404)
    assert_error(api_client(other_county).get(f"/api/checkins/{checkin['id']}/"), 404)
    assert_error(api_client(other_county).get(checkin["files"][0]["download_url"]), 404)
    assert_error(submit(world.liaisons[1], assignment_of(world.enterprises[0])), 404)
    assert_error(api_client(world.liaisons[1]).get(f"/api/checkins/{checkin['id']}/"), 404)


def test_an_illegal_transition_is_409(world, assignment_of):
    assignment = assignment_of(world.enterprises[0])
    checkin = submit(world.liaisons[0], assignment).json()
    assert act(world.county_users[0], checkin["id"], "approve").status_code == 200
    assert_error(act(world.county_users[0], checkin["id"], "approve"), 409)
    assert_error(act(world.city_user, checkin["id"], "reopen", reason="复核"), 409)
    # a new version only after a return
    assert_error(submit(world.liaisons[0], assignment), 409)


def test_without_credentials_is_401(world):
    response = APIClient().get("/api/checkins/")
    assert response.status_code == 401
    assert CHINESE.search(response.json()["detail"])
    assert response["WWW-Authenticate"] == "Token"


# --- the token endpoint --------------------------------------------------------------------
def test_token_for_good_credentials_works_as_auth(world):
    response = APIClient().post("/api/auth/token/", {"username": "ent0001", "password": f.PASSWORD}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/me/").json()["username"] == "ent0001"


def test_token_for_a_bad_password_is_400(world):
    response = APIClient().post("/api/auth/token/", {"username": "ent0001", "password": "wrong"}, format="json")
    assert_error(response, 400)
    assert "token" not in response.json()


def test_token_is_throttled_after_repeated_failures(world, monkeypatch):
    monkeypatch.setattr(LoginFailureThrottle, "THROTTLE_RATES", {"login": "3/min"})
    client = APIClient()

    def login(username, password):
        return client.post("/api/auth/token/", {"username": username, "password": password}, format="json")

    assert login("ent0001", f.PASSWORD).status_code == 200  # successes are not counted
    for _attempt in range(3):
        assert login("ent0001", "wrong").status_code == 400
    throttled = login("ent0001", f.PASSWORD)
    assert_error(throttled, 429)
    assert "Retry-After" in throttled
    # keyed by username and address: a colleague behind the same address can still log in
    assert login("ent0002", f.PASSWORD).status_code == 200


# --- lists: pagination, filters, query counts ----------------------------------------------
def test_lists_are_paginated(world):
    body = api_client(world.city_user).get("/api/assignments/").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == Assignment.objects.count() == 6
    assert_error(api_client(world.city_user).get("/api/assignments/?page=99"), 404)


def test_list_filters(world, assignment_of):
    city = api_client(world.city_user)
    c1, c2 = world.counties
    e11 = world.enterprises[0]
    submit(world.liaisons[0], assignment_of(e11))

    rows = city.get(f"/api/assignments/?period={world.period.pk}&county={c2.pk}").json()["results"]
    assert {r["county"] for r in rows} == {c2.pk} and len(rows) == 3
    rows = city.get("/api/assignments/?county_office=true").json()["results"]
    assert {r["is_county_office_task"] for r in rows} == {True} and len(rows) == 2
    rows = city.get(f"/api/assignments/?state=pending_county_review&indicator={world.ind.pk}").json()["results"]
    assert [r["enterprise"] for r in rows] == [e11.pk]
    rows = city.get(f"/api/enterprises/?county={c1.pk}").json()["results"]
    assert {r["id"] for r in rows} == {world.enterprises[0].pk, world.enterprises[1].pk}
    rows = city.get(f"/api/checkins/?enterprise={e11.pk}&state=pending_county_review").json()["results"]
    assert len(rows) == 1
    assert city.get("/api/checkins/?state=scored").json()["count"] == 0
    assert city.get(f"/api/checkins/?county={c2.pk}").json()["count"] == 0
    assert city.get(f"/api/checkins/?period={world.period.pk}").json()["count"] == 1

    regions = city.get("/api/regions/").json()["results"]
    assert {r["name"] for r in regions} == {"徐州市", "鼓楼区", "云龙区"}
    assert [p["name"] for p in city.get("/api/periods/").json()["results"]] == ["2026年度"]
    assert {i["code"] for i in city.get("/api/indicators/").json()["results"]} == {"B01", "X01"}
    assert {i["code"] for i in city.get("/api/indicators/?target=county_office").json()["results"]} == {"X01"}

    assert_error(city.get("/api/checkins/?state=approved"), 400, "state")
    assert_error(city.get("/api/assignments/?period=abc"), 400, "period")


def _more_submitted_checkins(world, count):
    """`count` more enterprises in county 1, each with a submitted check-in."""
    from tasks import services

    enterprises = [f.EnterpriseFactory(county=world.counties[0]) for _ in range(count)]
    services.generate_assignments(world.period)
    for ent in enterprises:
        assignment = Assignment.objects.get(period=world.period, indicator=world.ind, enterprise=ent)
        services.submit_checkin(f.liaison(ent), assignment, "说明", [f.pdf_upload()])


@pytest.mark.parametrize("url", ["/api/checkins/", "/api/assignments/", "/api/enterprises/"])
def test_lists_do_not_query_per_row(world, django_assert_max_num_queries, url):
    client = api_client(world.city_user)
    _more_submitted_checkins(world, 2)
    with django_assert_max_num_queries(8) as small:
        client.get(url)
    _more_submitted_checkins(world, 18)
    with django_assert_max_num_queries(len(small.captured_queries)):
        body = client.get(url).json()
    assert body["count"] >= 20


def test_ranking_endpoints_follow_the_sites_scope(world):
    assert_error(api_client(world.liaisons[0]).get("/api/rankings/counties/"), 403)
    assert api_client(world.county_users[1]).get("/api/rankings/counties/").status_code == 200
    assert_error(api_client(world.county_users[1]).get(f"/api/rankings/enterprises/?county={world.counties[0].pk}"), 404)
    assert_error(api_client(world.city_user).get("/api/rankings/enterprises/?period=999999"), 404)


# --- two reviewers at once ----------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_two_approves_at_once_one_wins_the_other_gets_409(world, assignment_of):
    if connection.vendor != "postgresql":
        pytest.skip("needs Postgres row locks (SELECT … FOR UPDATE); SQLite serialises whole transactions")
    checkin = submit(world.liaisons[0], assignment_of(world.enterprises[0])).json()
    reviewer = world.county_users[0]
    second = f.county_office(world.counties[0], username="county01b")
    barrier = threading.Barrier(2)
    results = []

    def approve(client):
        try:
            barrier.wait(timeout=10)
            results.append(client.post(f"/api/checkins/{checkin['id']}/approve/", {}, format="json").status_code)
        finally:
            connection.close()

    clients = [api_client(user) for user in (reviewer, second)]  # tokens made before the race
    threads = [threading.Thread(target=approve, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [200, 409]
    events = CheckIn.objects.get(pk=checkin["id"]).events.filter(action="approve")
    assert events.count() == 1


@pytest.mark.parametrize(
    "url, status",
    [
        ("/api/checkins/99999999999999999999999/", 404),
        ("/api/evidence/99999999999999999999999/download/", 404),
        ("/api/rankings/enterprises/?period=99999999999999999999999", 404),
        ("/api/rankings/counties/?period=abc", 404),
        ("/api/assignments/?period=99999999999999999999999", 400),
        ("/api/checkins/abc/", 404),
        ("/api/no-such-endpoint/", 404),
    ],
)
def test_malformed_ids_are_json_errors_not_500(world, url, status):
    assert_error(api_client(world.city_user).get(url), status)


def test_a_forged_forwarded_for_header_does_not_reset_the_login_throttle(world, monkeypatch):
    monkeypatch.setattr(LoginFailureThrottle, "THROTTLE_RATES", {"login": "2/min"})
    client = APIClient()
    for attempt in range(2):
        client.post("/api/auth/token/", {"username": "ent0001", "password": "x"}, HTTP_X_FORWARDED_FOR=f"10.0.0.{attempt}")
    response = client.post(
        "/api/auth/token/", {"username": "ent0001", "password": f.PASSWORD}, HTTP_X_FORWARDED_FOR="10.0.0.99"
    )
    assert response.status_code == 429
