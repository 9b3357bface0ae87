"""The audit trail cannot be rewritten: review events and scoring-rule changes are never
edited or deleted through the site, the API or the admin (not even by a superuser), and
every change of a check-in's points is a review event.

Already covered elsewhere and not repeated here: the model refuses save()/delete() and
bulk update()/delete() of review events (test_workflow), the admin's ReviewEvent change,
delete and bulk-delete for a superuser (test_admin), who may score, in which state and
within 0..max (test_workflow, test_web_workflow, test_api).
"""

import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse

from accounts import security
from notices.models import NoticeRead
from notices.publishing import publish_notice, record_notice_read
from scoring import services as scoring_services
from scoring.models import ScoringRule, ScoringRuleChange
from tasks import services
from tasks.models import Assignment, CheckIn, ReviewEvent

from . import factories as f

A = ReviewEvent.Action

_PARAM = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>(?:[^()\\]|\\.|\([^()]*\))*\)")


def _routes(patterns=None, prefix=""):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern)


def _url(route, ids):
    """The route with each parameter filled from `ids` (by parameter name, else `pk`)."""

    def value(match):
        name = match.group(1) or match.group(2)
        return str(ids.get(name, ids["pk"]))

    return "/" + _PARAM.sub(value, route).replace("^", "").replace("$", "").replace("\\.", ".")


def trail():
    """Every audit row as stored."""
    return (
        list(ReviewEvent.objects.order_by("pk").values()),
        list(ScoringRuleChange.objects.order_by("pk").values()),
        list(NoticeRead.objects.order_by("pk").values()),
        list(CheckIn.objects.order_by("pk").values_list("pk", "state", "points")),
        list(Assignment.objects.order_by("pk").values_list("pk", "state", "points")),
    )


@pytest.fixture
def audited(world, assignment_of, pdf_upload):
    """A scored enterprise check-in, a reopened-and-rescored one, a scoring-rule change and a
    read notice: one row of every kind of audit record."""
    w = world
    first = services.submit_checkin(w.liaisons[0], assignment_of(w.enterprises[0]), "举办安康杯竞赛", [pdf_upload()])
    services.approve(w.county_users[0], first, "同意上报")
    w.scored = services.score(w.city_user, first, "8", "材料齐全")
    other = services.submit_checkin(w.liaisons[2], assignment_of(w.enterprises[2]), "开展技能比武", [pdf_upload()])
    services.approve(w.county_users[1], other)
    services.score(w.city_user, other, "6")
    services.reopen(w.city_user, other, "复核")
    w.rescored = services.score(w.city_user, other, "7.5", "复核后评分")
    scoring_services.change_scoring_rule(w.city_user, w.period, "50", "50", "dense", True)
    notice = publish_notice(w.city_user, "关于开展安康杯竞赛的通知", "请各企业按时报送。", "city")
    record_notice_read(w.liaisons[0], notice)
    w.notice = notice
    w.event = ReviewEvent.objects.filter(action=A.SCORE).order_by("pk").first()
    w.change = ScoringRuleChange.objects.get()
    assert ReviewEvent.objects.count() == 8 and NoticeRead.objects.count() == 1
    return w


def _ids(w):
    return {
        "pk": w.event.pk,
        "checkin_pk": w.scored.pk,
        "county_id": w.counties[0].pk,
        "enterprise_id": w.enterprises[0].pk,
        "evidence_pk": w.scored.evidence.first().pk,
        "content_type_id": 1,
        "object_id": w.event.pk,
        "id": w.city_user.pk,
        "kind": "enterprises",
        "token": "0" * 32 + ".xlsx",
        "app_label": "tasks",
        "url": "tasks/reviewevent/",
    }


# --- the points -------------------------------------------------------------------------


def test_every_points_change_is_a_review_event_and_the_trail_replays_to_the_points(audited):
    """Scoring, reopening and rescoring: the assignment's points are always what the
    trail's last score or reopen says, and each step names the city office that took it."""
    w = audited
    assignment = Assignment.objects.get(pk=w.rescored.assignment_id)
    events = list(ReviewEvent.objects.filter(checkin__assignment=assignment).order_by("at", "pk"))
    steps = [(e.action, e.points) for e in events if e.action in (A.SCORE, A.REOPEN)]
    assert [(action, str(points) if points is not None else None) for action, points in steps] == [
        (A.SCORE, "6.00"),
        (A.REOPEN, None),
        (A.SCORE, "7.50"),
    ]
    assert all(e.actor_id == w.city_user.pk and e.actor_role == "city_office" for e in events if e.action in (A.SCORE, A.REOPEN))
    assert assignment.points == steps[-1][1]
    # Every check-in that holds points got them from its own last score event.
    for checkin in CheckIn.objects.filter(points__isnull=False):
        last = checkin.events.filter(action__in=[A.SCORE, A.REOPEN]).order_by("at", "pk").last()
        assert last.action == A.SCORE and last.points == checkin.points and last.to_state == "scored"


# --- the site and the API ---------------------------------------------------------------


def _site_and_api_routes():
    return [route for route in _routes() if not route.startswith("admin/")]


@pytest.mark.parametrize("who", ["city", "superuser"])
def test_no_route_of_the_site_or_the_api_edits_or_deletes_the_trail(audited, who):
    """PUT, PATCH and DELETE on every route of the site and the API, with the ids of audit
    rows in every parameter: never a success, and the trail is unchanged to the last field."""
    w = audited
    user = w.city_user if who == "city" else w.admin
    site = Client()
    site.force_login(user)
    api = Client(HTTP_AUTHORIZATION=f"Token {security.issue_api_token(user)[1]}")
    ids = _ids(w)
    before = trail()
    routes = _site_and_api_routes()
    assert any(r.startswith("api/") for r in routes) and any(r.startswith("tasks/") for r in routes)
    for route in routes:
        url = _url(route, ids)
        client = api if route.startswith("api/") else site
        for method in ("PUT", "PATCH", "DELETE"):
            body = json.dumps({"comment": "篡改", "points": "10", "to_state": "returned", "after": {}})
            response = client.generic(method, url, body, content_type="application/json")
            # The API never answers these with a success. A site page may re-render a form
            # (Django's form views treat PUT like POST) or redirect (the home page): what
            # counts there is that the trail is untouched, checked once every route is tried.
            if route.startswith("api/"):
                assert not 200 <= response.status_code < 300, f"{who} {method} {url}: {response.status_code}"
            assert response.status_code != 500, f"{who} {method} {url}"
    assert trail() == before


def test_the_api_has_no_route_to_review_events_or_rule_changes(audited):
    """The API exposes the trail only nested, read-only, in a check-in."""
    token = security.issue_api_token(audited.city_user)[1]
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    before = trail()
    for path in ("/api/events/", "/api/review-events/", "/api/reviewevents/", "/api/scoring-rule-changes/"):
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            response = api.generic(method, path, "{}", content_type="application/json")
            assert response.status_code == 404, f"{method} {path}"
    detail = api.get(reverse("api:checkin-detail", args=[audited.scored.pk]))
    assert detail.status_code == 200
    for method in ("PUT", "PATCH", "DELETE"):
        url = reverse("api:checkin-detail", args=[audited.scored.pk])
        response = api.generic(method, url, json.dumps({"events": []}), content_type="application/json")
        assert response.status_code == 405
    assert trail() == before


# --- the admin ----------------------------------------------------------------------------


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def staff_with_every_right(audited):
    """The city office's user with every right on tasks and scoring, deletes included."""
    user = audited.city_user
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=("tasks", "scoring")))
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("who", ["staff", "superuser"])
def test_admin_cannot_change_or_delete_review_events_even_with_every_right(audited, staff_with_every_right, client, who):
    w = audited
    if who == "superuser":
        client.force_login(w.admin)
    else:
        client = staff_with_every_right
    before = trail()
    event = w.event
    assert client.get(admin_url(ReviewEvent, "change", event.pk)).status_code == 200  # read-only view
    assert client.post(admin_url(ReviewEvent, "change", event.pk), {"comment": "篡改", "points": "10"}).status_code == 403
    assert client.get(admin_url(ReviewEvent, "delete", event.pk)).status_code == 403
    assert client.post(admin_url(ReviewEvent, "delete", event.pk), {"post": "yes"}).status_code == 403
    all_events = list(ReviewEvent.objects.values_list("pk", flat=True))
    client.post(
        admin_url(ReviewEvent, "changelist"), {"action": "delete_selected", "_selected_action": all_events, "post": "yes"}
    )
    # The check-in's page shows its events inline, read-only: posting an edited inline changes nothing.
    response = client.post(
        admin_url(CheckIn, "change", w.scored.pk),
        {"events-TOTAL_FORMS": "1", "events-INITIAL_FORMS": "1", "events-0-id": event.pk, "events-0-comment": "篡改"},
    )
    assert response.status_code == 403
    assert trail() == before


@pytest.mark.parametrize("who", ["staff", "superuser"])
def test_admin_cannot_change_or_delete_scoring_rule_changes(audited, staff_with_every_right, client, who):
    w = audited
    if who == "superuser":
        client.force_login(w.admin)
    else:
        client = staff_with_every_right
    rule = ScoringRule.objects.get(period=w.period)
    before = trail()
    page = client.get(admin_url(ScoringRule, "change", rule.pk))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    data = {
        "office_weight": "90",
        "enterprise_weight": "10",
        "changes-TOTAL_FORMS": "1",
        "changes-INITIAL_FORMS": "1",
        "changes-0-id": w.change.pk,
        "changes-0-DELETE": "on",
    }
    assert client.post(admin_url(ScoringRule, "change", rule.pk), data).status_code == 403
    assert client.post(admin_url(ScoringRule, "delete", rule.pk), {"post": "yes"}).status_code == 403
    client.post(admin_url(ScoringRule, "changelist"), {"action": "delete_selected", "_selected_action": [rule.pk], "post": "yes"})
    assert trail() == before


@pytest.mark.parametrize("target", ["enterprise", "checkin", "actor", "period"])
def test_superuser_cannot_remove_the_trail_by_deleting_what_it_hangs_on(audited, client, target):
    """Deleting the enterprise, the check-in, the acting user or the period (on its own page
    or with the bulk action) would cascade to the trail: the admin refuses, nothing goes."""
    w = audited
    client.force_login(w.admin)
    model, pk = {
        "enterprise": (type(w.enterprises[0]), w.enterprises[0].pk),
        "checkin": (CheckIn, w.scored.pk),
        "actor": (type(w.city_user), w.city_user.pk),
        "period": (type(w.period), w.period.pk),
    }[target]
    before = trail()
    response = client.post(admin_url(model, "delete", pk), {"post": "yes"})
    assert response.status_code in (200, 403)  # 200: the "cannot delete, protected" page
    client.post(admin_url(model, "changelist"), {"action": "delete_selected", "_selected_action": [pk], "post": "yes"})
    assert model.objects.filter(pk=pk).exists()
    assert trail() == before


def test_deleting_a_period_without_tasks_keeps_its_scoring_rule_changes(audited, client):
    """ScoringRule.period and ScoringRuleChange.rule cascade in the database: the admin must
    refuse the delete of a period whose rule has recorded changes (the read-only
    ScoringRuleAdmin makes the cascade a permission the superuser lacks)."""
    w = audited
    empty = f.PeriodFactory(city=w.city, name="2027年度")
    scoring_services.change_scoring_rule(w.city_user, empty, "30", "70", "shared", True)
    changes = ScoringRuleChange.objects.filter(rule__period=empty).count()
    assert changes == 1
    client.force_login(w.admin)
    client.post(admin_url(type(empty), "delete", empty.pk), {"post": "yes"})
    client.post(
        admin_url(type(empty), "changelist"), {"action": "delete_selected", "_selected_action": [empty.pk], "post": "yes"}
    )
    assert type(empty).objects.filter(pk=empty.pk).exists()
    assert ScoringRuleChange.objects.count() == 2
