"""The check-in workflow through the browser: HTTP requests against the site's URLs, as
CONTRACT.md names them, with the status codes it promises."""

import datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext, override

from tasks import services
from tasks.models import Assignment, CheckIn, CheckInState, Evidence, ReviewEvent

from . import factories as f
from .helpers_domain import fingerprint

S = CheckInState
A = ReviewEvent.Action

pytestmark = pytest.mark.django_db


def ui(msgid, **params):
    """A message as the site shows it: translated when the catalog has it, escaped as HTML."""
    with override("zh-hans"):
        text = gettext(msgid)
        if params:
            text = text % {key: gettext(value) if isinstance(value, str) else value for key, value in params.items()}
    return escape(text)


def body(response):
    return response.content.decode()


def submit(client, assignment, description="本年度组织了焊工技能竞赛。", files=None):
    files = [f.pdf_upload()] if files is None else files
    return client.post(
        reverse("tasks:submit", args=[assignment.pk]),
        {"description": description, "files": files},
    )


@pytest.fixture
def ent_assignment(world, assignment_of):
    return assignment_of(world.enterprises[0])


@pytest.fixture
def pending_county(world, ent_assignment):
    """A check-in of the first enterprise waiting for its county's review."""
    return services.submit_checkin(world.liaisons[0], ent_assignment, "已开展技能竞赛。", [f.pdf_upload()])


@pytest.fixture
def pending_city(world, pending_county):
    return services.approve(world.county_users[0], pending_county)


# ---------------------------------------------------------------------------------------
# The whole loop


def test_enterprise_checkin_goes_through_return_resubmit_approve_and_score(
    client, world, ent_assignment, django_capture_on_commit_callbacks
):
    liaison, county, city = world.liaisons[0], world.county_users[0], world.city_user

    # The liaison sees the task in its list and submits v1 with a file.
    client.force_login(liaison)
    listing = client.get(reverse("tasks:assignment_list"))
    assert listing.status_code == 200
    assert world.ind.title in body(listing)
    page = client.get(reverse("tasks:assignment_detail", args=[ent_assignment.pk]))
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in body(page)
    assert 'accept=".doc,.docx,.jpeg,.jpg,.pdf,.png,.pptx,.xls,.xlsx"' in body(page)
    assert "PDF、JPG、PNG" in body(page)  # the accepted types are shown before uploading

    response = submit(client, ent_assignment, "第一版说明", [f.pdf_upload("竞赛方案.pdf"), f.png_upload()])
    assert response.status_code == 302
    assert response.url == reverse("tasks:assignment_detail", args=[ent_assignment.pk])
    v1 = CheckIn.objects.get(assignment=ent_assignment, version=1)
    assert v1.state == S.PENDING_COUNTY_REVIEW
    assert sorted(v1.evidence.values_list("original_name", flat=True)) == ["现场照片.png", "竞赛方案.pdf"]

    # The county office finds it in its queue and returns it with a reason.
    client.force_login(county)
    queue = client.get(reverse("tasks:review_queue"))
    assert queue.status_code == 200
    assert reverse("tasks:checkin_detail", args=[v1.pk]) in body(queue)
    detail = client.get(reverse("tasks:checkin_detail", args=[v1.pk]))
    assert detail.status_code == 200
    assert reverse("tasks:approve", args=[v1.pk]) in body(detail)
    assert reverse("tasks:return_checkin", args=[v1.pk]) in body(detail)
    assert reverse("tasks:score", args=[v1.pk]) not in body(detail)
    response = client.post(reverse("tasks:return_checkin", args=[v1.pk]), {"reason": "缺少获奖名单，请补充。"})
    assert response.status_code == 302
    v1.refresh_from_db()
    assert v1.state == S.RETURNED

    # The liaison sees the reason prominently and resubmits v2; v1 stays readable.
    client.force_login(liaison)
    page = client.get(reverse("tasks:assignment_detail", args=[ent_assignment.pk]))
    assert "缺少获奖名单，请补充。" in body(page)
    assert 'class="alert alert--returned"' in body(page)
    assert reverse("tasks:submit", args=[ent_assignment.pk]) in body(page)
    response = submit(client, ent_assignment, "第二版说明，补充了获奖名单", [f.pdf_upload("获奖名单.pdf")])
    assert response.status_code == 302
    v2 = CheckIn.objects.get(assignment=ent_assignment, version=2)
    assert v2.state == S.PENDING_COUNTY_REVIEW
    page = client.get(reverse("tasks:assignment_detail", args=[ent_assignment.pk]))
    text = body(page)
    assert "第一版说明" in text and "第二版说明" in text
    assert text.index("第二版说明") < text.index("第一版说明")  # newest first
    old_file = v1.evidence.get(original_name="竞赛方案.pdf")
    assert client.get(reverse("tasks:evidence_download", args=[old_file.pk])).status_code == 200

    # The county office approves v2 with a comment; the city office scores it.
    client.force_login(county)
    response = client.post(reverse("tasks:approve", args=[v2.pk]), {"comment": "材料齐全"})
    assert response.status_code == 302
    client.force_login(city)
    queue = client.get(reverse("tasks:review_queue"))
    assert reverse("tasks:checkin_detail", args=[v2.pk]) in body(queue)
    detail = client.get(reverse("tasks:checkin_detail", args=[v2.pk]))
    assert reverse("tasks:score", args=[v2.pk]) in body(detail)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("tasks:score", args=[v2.pk]), {"points": "8.5", "comment": "效果显著"})
    assert response.status_code == 302

    v1.refresh_from_db()
    v2.refresh_from_db()
    ent_assignment.refresh_from_db()
    assert (v1.state, v2.state) == (S.RETURNED, S.SCORED)
    assert v2.points == Decimal("8.50")
    assert ent_assignment.state == S.SCORED
    assert ent_assignment.points == Decimal("8.50")
    trail = list(
        ReviewEvent.objects.filter(checkin__assignment=ent_assignment)
        .order_by("at", "pk")
        .values_list("checkin__version", "action", "actor__username", "from_state", "to_state", "comment", "points")
    )
    assert trail == [
        (1, A.SUBMIT, "ent0001", "", S.PENDING_COUNTY_REVIEW, "", None),
        (1, A.RETURN, "county01", S.PENDING_COUNTY_REVIEW, S.RETURNED, "缺少获奖名单，请补充。", None),
        (2, A.SUBMIT, "ent0001", "", S.PENDING_COUNTY_REVIEW, "", None),
        (2, A.APPROVE, "county01", S.PENDING_COUNTY_REVIEW, S.PENDING_CITY_REVIEW, "材料齐全", None),
        (2, A.SCORE, "city", S.PENDING_CITY_REVIEW, S.SCORED, "效果显著", Decimal("8.50")),
    ]

    # The liaison sees the points and the comment; no submit form on a scored task.
    client.force_login(liaison)
    page = client.get(reverse("tasks:assignment_detail", args=[ent_assignment.pk]))
    assert "8.5" in body(page) and "效果显著" in body(page)
    assert reverse("tasks:submit", args=[ent_assignment.pk]) not in body(page)


def test_county_office_checkin_goes_straight_to_the_city_and_is_scored(
    client, world, assignment_of, django_capture_on_commit_callbacks
):
    office_task = assignment_of(world.counties[0])
    county, city = world.county_users[0], world.city_user

    client.force_login(county)
    listing = client.get(reverse("tasks:assignment_list"))
    assert world.office_ind.title in body(listing)
    assert world.ind.title not in body(listing)  # the enterprises' tasks are not the office's own
    assert submit(client, office_task, "组织观察员开展了两次督查调研。").status_code == 302
    checkin = CheckIn.objects.get(assignment=office_task)
    assert checkin.state == S.PENDING_CITY_REVIEW
    assert reverse("tasks:checkin_detail", args=[checkin.pk]) not in body(client.get(reverse("tasks:review_queue")))

    client.force_login(city)
    queue = client.get(reverse("tasks:review_queue"))
    assert reverse("tasks:checkin_detail", args=[checkin.pk]) in body(queue)
    assert ui("County office") in body(queue)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("tasks:score", args=[checkin.pk]), {"points": "10"})
    assert response.status_code == 302
    office_task.refresh_from_db()
    checkin.refresh_from_db()
    assert (checkin.state, checkin.points) == (S.SCORED, Decimal("10.00"))
    assert (office_task.state, office_task.points) == (S.SCORED, Decimal("10.00"))


def test_city_office_reopens_a_scored_checkin_with_a_reason(client, world, pending_city):
    scored = services.score(world.city_user, pending_city, "6")
    client.force_login(world.city_user)
    assert reverse("tasks:reopen", args=[scored.pk]) in body(client.get(reverse("tasks:checkin_detail", args=[scored.pk])))
    response = client.post(reverse("tasks:reopen", args=[scored.pk]), {"reason": "评分有误，重新评审"})
    assert response.status_code == 302
    scored.refresh_from_db()
    assert (scored.state, scored.points) == (S.PENDING_CITY_REVIEW, None)
    assert Assignment.objects.get(pk=scored.assignment_id).points is None


# ---------------------------------------------------------------------------------------
# Bad input: 400, the message, nothing changed


def test_return_without_a_reason_is_refused_with_400(client, world, pending_county):
    before = fingerprint(pending_county.assignment)
    client.force_login(world.county_users[0])
    response = client.post(reverse("tasks:return_checkin", args=[pending_county.pk]), {"reason": "  "})
    assert response.status_code == 400
    assert ui("%(field)s is required.", field="Reason for return") in body(response)
    assert fingerprint(pending_county.assignment) == before


def test_reopen_without_a_reason_is_refused_with_400(client, world, pending_city):
    scored = services.score(world.city_user, pending_city, "6")
    before = fingerprint(scored.assignment)
    client.force_login(world.city_user)
    response = client.post(reverse("tasks:reopen", args=[scored.pk]), {"reason": ""})
    assert response.status_code == 400
    assert fingerprint(scored.assignment) == before


@pytest.mark.parametrize("points", ["10.01", "-1", "abc", "", "3.333"])
def test_points_outside_the_range_or_malformed_are_refused_with_400(client, world, pending_city, points):
    before = fingerprint(pending_city.assignment)
    client.force_login(world.city_user)
    response = client.post(reverse("tasks:score", args=[pending_city.pk]), {"points": points})
    assert response.status_code == 400
    assert 'class="alert alert--error"' in body(response)
    assert fingerprint(pending_city.assignment) == before


def test_points_above_the_maximum_show_the_range(client, world, pending_city):
    client.force_login(world.city_user)
    response = client.post(reverse("tasks:score", args=[pending_city.pk]), {"points": "11"})
    assert response.status_code == 400
    with override("zh-hans"):
        expected = escape(gettext("Points must be between 0 and %(max)s.") % {"max": "10"})
    assert expected in body(response)


def test_submission_without_a_file_is_refused_with_400(client, world, ent_assignment):
    before = fingerprint(ent_assignment)
    client.force_login(world.liaisons[0])
    response = submit(client, ent_assignment, files=[])
    assert response.status_code == 400
    assert ui("Attach at least one evidence file.") in body(response)
    assert "本年度组织了焊工技能竞赛。" in body(response)  # what was typed is kept
    assert fingerprint(ent_assignment) == before


def test_submission_without_a_description_is_refused_with_400(client, world, ent_assignment):
    before = fingerprint(ent_assignment)
    client.force_login(world.liaisons[0])
    response = submit(client, ent_assignment, description="   ")
    assert response.status_code == 400
    assert ui("%(field)s is required.", field="Description") in body(response)
    assert fingerprint(ent_assignment) == before


@pytest.mark.parametrize(
    "upload",
    [
        SimpleUploadedFile("脚本.exe", b"MZ\x90\x00", content_type="application/octet-stream"),
        SimpleUploadedFile("伪装.pdf", b"<html><script>alert(1)</script>", content_type="application/pdf"),
    ],
    ids=["wrong extension", "content does not match"],
)
def test_submission_with_a_wrong_file_type_is_refused_with_400(client, world, ent_assignment, upload):
    before = fingerprint(ent_assignment)
    client.force_login(world.liaisons[0])
    upload.seek(0)
    response = submit(client, ent_assignment, files=[upload])
    assert response.status_code == 400
    assert "PDF、JPG、PNG" in body(response)
    assert fingerprint(ent_assignment) == before


# ---------------------------------------------------------------------------------------
# Illegal transitions (409), forbidden roles (403), outside scope (404)


def test_approving_twice_is_a_conflict_and_changes_nothing(client, world, pending_city):
    before = fingerprint(pending_city.assignment)
    client.force_login(world.county_users[0])
    response = client.post(reverse("tasks:approve", args=[pending_city.pk]), {"comment": ""})
    assert response.status_code == 409
    assert "error-page" in body(response)
    assert fingerprint(pending_city.assignment) == before


def test_scoring_before_the_county_approved_is_a_conflict(client, world, pending_county):
    before = fingerprint(pending_county.assignment)
    client.force_login(world.city_user)
    response = client.post(reverse("tasks:score", args=[pending_county.pk]), {"points": "5"})
    assert response.status_code == 409
    assert fingerprint(pending_county.assignment) == before


def test_resubmitting_while_under_review_is_a_conflict(client, world, pending_county):
    before = fingerprint(pending_county.assignment)
    client.force_login(world.liaisons[0])
    response = submit(client, pending_county.assignment)
    assert response.status_code == 409
    assert fingerprint(pending_county.assignment) == before


def test_submitting_after_the_deadline_is_a_conflict(client, world, ent_assignment):
    world.period.submission_deadline = timezone.now() - datetime.timedelta(days=1)
    world.period.save()
    client.force_login(world.liaisons[0])
    page = client.get(reverse("tasks:assignment_detail", args=[ent_assignment.pk]))
    assert reverse("tasks:submit", args=[ent_assignment.pk]) not in body(page)
    before = fingerprint(ent_assignment)
    assert submit(client, ent_assignment).status_code == 409
    assert fingerprint(ent_assignment) == before


@pytest.mark.parametrize(
    "who, action, data",
    [
        ("liaison", "tasks:approve", {"comment": ""}),
        ("liaison", "tasks:score", {"points": "5"}),
        ("observer", "tasks:approve", {"comment": ""}),
        ("city", "tasks:approve", {"comment": ""}),
    ],
)
def test_a_role_that_may_not_act_gets_403(client, world, pending_county, who, action, data):
    user = {"liaison": world.liaisons[0], "observer": world.observer, "city": world.city_user}[who]
    before = fingerprint(pending_county.assignment)
    client.force_login(user)
    response = client.post(reverse(action, args=[pending_county.pk]), data)
    assert response.status_code == 403
    assert fingerprint(pending_county.assignment) == before


def test_county_office_may_not_score(client, world, pending_city):
    before = fingerprint(pending_city.assignment)
    client.force_login(world.county_users[0])
    assert client.post(reverse("tasks:score", args=[pending_city.pk]), {"points": "5"}).status_code == 403
    assert fingerprint(pending_city.assignment) == before


def test_observer_reads_but_may_not_submit(client, world, ent_assignment, pending_county):
    client.force_login(world.observer)
    page = client.get(reverse("tasks:assignment_detail", args=[ent_assignment.pk]))
    assert page.status_code == 200
    assert "已开展技能竞赛。" in body(page)
    assert reverse("tasks:submit", args=[ent_assignment.pk]) not in body(page)
    detail = client.get(reverse("tasks:checkin_detail", args=[pending_county.pk]))
    assert detail.status_code == 200
    assert reverse("tasks:approve", args=[pending_county.pk]) not in body(detail)
    before = fingerprint(ent_assignment)
    assert submit(client, ent_assignment).status_code == 403
    assert fingerprint(ent_assignment) == before


def test_roles_without_a_queue_get_403_on_the_review_queue(client, world):
    for user in (world.liaisons[0], world.observer):
        client.force_login(user)
        assert client.get(reverse("tasks:review_queue")).status_code == 403


def test_objects_outside_the_scope_do_not_exist(client, world, pending_county):
    evidence = pending_county.evidence.get()
    other_county, other_liaison = world.county_users[1], world.liaisons[2]
    pages = [
        reverse("tasks:assignment_detail", args=[pending_county.assignment_id]),
        reverse("tasks:checkin_detail", args=[pending_county.pk]),
        reverse("tasks:evidence_download", args=[evidence.pk]),
    ]
    for user in (other_county, other_liaison):
        client.force_login(user)
        for url in pages:
            assert client.get(url).status_code == 404, (user, url)
    # A second liaison of the same county is still outside the first enterprise.
    client.force_login(world.liaisons[1])
    for url in pages:
        assert client.get(url).status_code == 404

    before = fingerprint(pending_county.assignment)
    client.force_login(other_county)
    assert client.post(reverse("tasks:approve", args=[pending_county.pk])).status_code == 404
    assert client.post(reverse("tasks:return_checkin", args=[pending_county.pk]), {"reason": "x"}).status_code == 404
    client.force_login(other_liaison)
    assert submit(client, pending_county.assignment).status_code == 404
    assert fingerprint(pending_county.assignment) == before


def test_the_city_office_sees_everything_in_its_city(client, world, pending_county):
    client.force_login(world.city_user)
    assert client.get(reverse("tasks:checkin_detail", args=[pending_county.pk])).status_code == 200


def test_a_period_of_another_city_is_not_found(client, world):
    other = f.PeriodFactory()
    client.force_login(world.liaisons[0])
    assert client.get(reverse("tasks:assignment_list"), {"period": other.pk}).status_code == 404
    assert client.get(reverse("tasks:assignment_list"), {"period": "x"}).status_code == 404
    assert client.get(reverse("tasks:assignment_list"), {"period": world.period.pk}).status_code == 200


@pytest.mark.parametrize("name", ["tasks:submit", "tasks:approve", "tasks:return_checkin", "tasks:score", "tasks:reopen"])
def test_post_only_urls_answer_get_with_405(client, world, name):
    client.force_login(world.city_user)
    assert client.get(reverse(name, args=[1])).status_code == 405


def test_pages_need_a_login(client, world, pending_county):
    for url in (
        reverse("tasks:assignment_list"),
        reverse("tasks:review_queue"),
        reverse("tasks:checkin_detail", args=[pending_county.pk]),
        reverse("tasks:evidence_download", args=[pending_county.evidence.get().pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


# ---------------------------------------------------------------------------------------
# Evidence download


def test_evidence_downloads_as_an_attachment_with_its_original_name(client, world, pending_county):
    evidence = pending_county.evidence.get()
    client.force_login(world.county_users[0])
    response = client.get(reverse("tasks:evidence_download", args=[evidence.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''%E6%96%B9%E6%A1%88.pdf" in response["Content-Disposition"]  # 方案.pdf
    assert b"".join(response.streaming_content) == f.PDF_BYTES


def test_evidence_of_a_missing_file_is_not_found(client, world, pending_county):
    evidence = pending_county.evidence.get()
    evidence.file.storage.delete(evidence.file.name)
    client.force_login(world.liaisons[0])
    assert client.get(reverse("tasks:evidence_download", args=[evidence.pk])).status_code == 404


# ---------------------------------------------------------------------------------------
# Home, login, logout


def test_home_sends_each_role_to_its_start_page(client, world):
    expected = {
        world.liaisons[0]: reverse("dashboards:enterprise"),
        world.county_users[0]: reverse("dashboards:county"),
        world.city_user: reverse("dashboards:city"),
        world.observer: reverse("scoring:rankings"),
        world.admin: reverse("admin:index"),
    }
    for user, url in expected.items():
        client.force_login(user)
        response = client.get(reverse("home"))
        assert response.status_code == 302 and response.url == url, user


def test_login_page_logs_in_and_logout_is_a_post(client, world):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert 'name="password"' in body(page)
    response = client.post(reverse("login"), {"username": "ent0001", "password": f.PASSWORD})
    assert response.status_code == 302 and response.url == reverse("home")
    start = client.get(reverse("tasks:assignment_list"))
    assert ">张伟<" in body(start) and world.enterprises[0].name in body(start)  # who am I: the person and the scope
    assert reverse("logout") in body(start)
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("tasks:assignment_list")).status_code == 302


def test_wrong_password_shows_the_login_page_again(client, world):
    response = client.post(reverse("login"), {"username": "ent0001", "password": "wrong"})
    assert response.status_code == 200
    assert 'class="alert alert--error"' in body(response)


# ---------------------------------------------------------------------------------------
# Query counts stay constant as the lists grow


def _fill_county_queue(world, count):
    """`count` enterprise check-ins waiting in the first county, each of its own enterprise."""
    for _ in range(count):
        enterprise = f.EnterpriseFactory(county=world.counties[0])
        assignment = Assignment.objects.create(
            period=world.period, indicator=world.ind, enterprise=enterprise, county=enterprise.county
        )
        services.submit_checkin(f.liaison(enterprise), assignment, "说明", [f.pdf_upload()])


def _fill_city_queue(world, count):
    """`count` check-ins waiting for the city: half forwarded enterprise ones, half county offices'."""
    _fill_county_queue(world, count // 2)
    for checkin in CheckIn.objects.filter(state=S.PENDING_COUNTY_REVIEW):
        services.approve(world.county_users[0], checkin)
    for _ in range(count - count // 2):
        county = f.RegionFactory.county(parent=world.city)
        assignment = Assignment.objects.create(period=world.period, indicator=world.office_ind, county=county)
        services.submit_checkin(f.county_office(county), assignment, "说明", [f.pdf_upload()])


def _queries(client, url, django_assert_max_num_queries, limit):
    with django_assert_max_num_queries(limit) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize(
    "fill, reviewer",
    [(_fill_county_queue, lambda w: w.county_users[0]), (_fill_city_queue, lambda w: w.city_user)],
    ids=["county queue", "city queue"],
)
def test_review_queue_runs_the_same_queries_for_2_and_20_rows(
    client, world, django_assert_max_num_queries, fill, reviewer
):
    client.force_login(reviewer(world))
    url = reverse("tasks:review_queue")
    fill(world, 2)
    small = _queries(client, url, django_assert_max_num_queries, 8)
    fill(world, 18)
    response = client.get(url)
    assert body(response).count('href="/tasks/checkins/') == 20
    large = _queries(client, url, django_assert_max_num_queries, 8)
    assert large == small


def test_assignment_list_runs_the_same_queries_for_2_and_20_rows(client, world, django_assert_max_num_queries):
    enterprise = world.enterprises[0]
    client.force_login(world.liaisons[0])
    url = reverse("tasks:assignment_list")
    f.IndicatorFactory(city=world.city)
    services.generate_assignments(world.period)
    assert Assignment.objects.filter(enterprise=enterprise).count() == 2
    small = _queries(client, url, django_assert_max_num_queries, 9)
    for _ in range(18):
        f.IndicatorFactory(city=world.city)
    services.generate_assignments(world.period)
    assert Assignment.objects.filter(enterprise=enterprise).count() == 20
    assert body(client.get(url)).count('href="/tasks/assignments/') == 20
    large = _queries(client, url, django_assert_max_num_queries, 9)
    assert large == small


def test_lists_are_paginated_by_50(client, world):
    for _ in range(51):
        f.IndicatorFactory(city=world.city)
    services.generate_assignments(world.period)
    client.force_login(world.liaisons[0])
    first = body(client.get(reverse("tasks:assignment_list")))
    assert first.count('href="/tasks/assignments/') == 50
    second = body(client.get(reverse("tasks:assignment_list"), {"page": 2}))
    assert second.count('href="/tasks/assignments/') == 2


def test_checkin_detail_queries_do_not_grow_with_the_history(
    client, world, ent_assignment, django_assert_max_num_queries
):
    liaison, county = world.liaisons[0], world.county_users[0]
    checkin = services.submit_checkin(liaison, ent_assignment, "v1", [f.pdf_upload()])
    client.force_login(county)
    small = _queries(client, reverse("tasks:checkin_detail", args=[checkin.pk]), django_assert_max_num_queries, 12)
    for n in range(4):
        services.return_checkin(county, checkin, f"退回{n}")
        checkin = services.submit_checkin(liaison, ent_assignment, f"v{n + 2}", [f.pdf_upload(), f.png_upload()])
    large = _queries(client, reverse("tasks:checkin_detail", args=[checkin.pk]), django_assert_max_num_queries, 12)
    assert large == small
    assert Evidence.objects.filter(checkin__assignment=ent_assignment).count() == 9
