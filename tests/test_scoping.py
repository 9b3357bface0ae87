"""Who sees and may touch what: roles against objects, in querysets, services and HTTP.

The world (built on conftest's `world`):

    徐州市: county A (鼓楼区) with a1, a2; county B (云龙区) with b1, b2; their two county offices
    宿迁市 (another city): enterprise x1

    key   assignee          latest check-in state
    a1    a1                scored (8 points)
    a2    a2                pending_county_review
    b1    b1                pending_city_review
    b2    b2                returned (by county B)
    offA  county A office   returned (by the city)
    offB  county B office   pending_city_review
    x1    x1 (other city)   pending_county_review

Users: liaison_a1, county_A, county_B, city, observer_A (county A), observer_a1 (enterprise a1),
other_city (宿迁市 city office), no_role (a superuser without a profile).
"""

from types import SimpleNamespace

import pytest
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.urls import NoReverseMatch, reverse

from enterprises.models import Enterprise, Profile
from scoring.engine import compute_snapshot
from tasks import services
from tasks.models import (
    Assignment,
    CheckIn,
    CheckInState,
    EnterpriseProgress,
    Evidence,
    IndicatorProgress,
    ReviewEvent,
)
from tasks.workflow import WorkflowError

from . import factories as f
from .helpers_domain import PNG_BYTES, drive, fingerprint, pdf, upload

S = CheckInState
R = Profile.Role
A = ReviewEvent.Action

pytestmark = pytest.mark.django_db

KEYS = ["a1", "a2", "b1", "b2", "offA", "offB", "x1"]
ENTERPRISE_KEYS = ["a1", "a2", "b1", "b2", "x1"]
STATE = {
    "a1": S.SCORED,
    "a2": S.PENDING_COUNTY_REVIEW,
    "b1": S.PENDING_CITY_REVIEW,
    "b2": S.RETURNED,
    "offA": S.RETURNED,
    "offB": S.PENDING_CITY_REVIEW,
    "x1": S.PENDING_COUNTY_REVIEW,
}
ROLE = {
    "liaison_a1": R.ENTERPRISE_LIAISON,
    "county_A": R.COUNTY_OFFICE,
    "county_B": R.COUNTY_OFFICE,
    "city": R.CITY_OFFICE,
    "observer_A": R.OBSERVER,
    "observer_a1": R.OBSERVER,
    "other_city": R.CITY_OFFICE,
    "no_role": None,
}
USERS = list(ROLE)
VISIBLE = {
    "liaison_a1": {"a1"},
    "county_A": {"a1", "a2", "offA"},
    "county_B": {"b1", "b2", "offB"},
    "city": {"a1", "a2", "b1", "b2", "offA", "offB"},
    "observer_A": {"a1", "a2", "offA"},
    "observer_a1": {"a1"},
    "other_city": {"x1"},
    "no_role": set(),
}
# The transitions of DOMAIN.md and the roles that may take each action at all.
ALLOWED = {
    (A.APPROVE, S.PENDING_COUNTY_REVIEW, R.COUNTY_OFFICE): S.PENDING_CITY_REVIEW,
    (A.RETURN, S.PENDING_COUNTY_REVIEW, R.COUNTY_OFFICE): S.RETURNED,
    (A.RETURN, S.PENDING_CITY_REVIEW, R.CITY_OFFICE): S.RETURNED,
    (A.SCORE, S.PENDING_CITY_REVIEW, R.CITY_OFFICE): S.SCORED,
    (A.REOPEN, S.SCORED, R.CITY_OFFICE): S.PENDING_CITY_REVIEW,
}
MAY_EVER = {
    A.APPROVE: {R.COUNTY_OFFICE},
    A.RETURN: {R.COUNTY_OFFICE, R.CITY_OFFICE},
    A.SCORE: {R.CITY_OFFICE},
    A.REOPEN: {R.CITY_OFFICE},
}


def submitter_role(key):
    return R.COUNTY_OFFICE if key.startswith("off") else R.ENTERPRISE_LIAISON


@pytest.fixture
def scoped(world, assignment_of):
    a1, a2, b1, b2 = world.enterprises
    county_a, county_b = world.counties
    assignments = {
        "a1": assignment_of(a1),
        "a2": assignment_of(a2),
        "b1": assignment_of(b1),
        "b2": assignment_of(b2),
        "offA": assignment_of(county_a),
        "offB": assignment_of(county_b),
    }
    for key, assignment in assignments.items():
        drive(world, assignment, STATE[key])
    # One more version for b2's history: it was returned, resubmitted and returned again.
    v2 = services.submit_checkin(world.liaisons[3], assignments["b2"], "补充材料", [upload("照片.png", PNG_BYTES)])
    services.return_checkin(world.county_users[1], v2, "照片不清晰")

    other_city = f.RegionFactory.city(parent=world.province, name="宿迁市", code="321300")
    other_county = f.RegionFactory.county(parent=other_city, name="宿城区", code="321302")
    x1 = f.EnterpriseFactory(county=other_county, name="宿迁洋河酿酒配套有限公司")
    other_period = f.PeriodFactory(city=other_city, name="2026年度")
    f.IndicatorFactory(city=other_city, code="B01", max_points=10)
    services.generate_assignments(other_period)
    assignments["x1"] = Assignment.objects.get(period=other_period, enterprise=x1)
    services.submit_checkin(f.liaison(x1, username="ent_x1"), assignments["x1"], "已开展", [pdf()])

    compute_snapshot(world.period)
    compute_snapshot(other_period)

    users = {
        "liaison_a1": world.liaisons[0],
        "county_A": world.county_users[0],
        "county_B": world.county_users[1],
        "city": world.city_user,
        "observer_A": world.observer,
        "observer_a1": f.observer(a1, username="observer_a1"),
        "other_city": f.city_office(other_city, username="city_sq"),
        "no_role": world.admin,
    }
    enterprises = {"a1": a1, "a2": a2, "b1": b1, "b2": b2, "x1": x1}
    checkins = {key: a.checkins.order_by("-version").first() for key, a in assignments.items()}
    for key, checkin in checkins.items():
        assert checkin.state == STATE[key], key
    return SimpleNamespace(
        world=world, users=users, assignments=assignments, enterprises=enterprises, checkins=checkins
    )


# --- (i) querysets ----------------------------------------------------------------------


def _ids(queryset):
    return set(queryset.values_list("pk", flat=True))


@pytest.mark.parametrize("who", USERS)
def test_enterprises_visible_to_each_role(scoped, who):
    visible = _ids(Enterprise.objects.visible_to(scoped.users[who]))
    expected = {scoped.enterprises[k].pk for k in VISIBLE[who] if k in ENTERPRISE_KEYS}
    # A county office or county observer sees every enterprise of its county, with or without check-ins.
    assert visible == expected


@pytest.mark.parametrize("who", USERS)
def test_assignments_visible_to_each_role(scoped, who):
    visible = _ids(Assignment.objects.visible_to(scoped.users[who]))
    assert visible == {scoped.assignments[k].pk for k in VISIBLE[who]}


@pytest.mark.parametrize("who", USERS)
def test_checkins_of_every_version_visible_to_each_role(scoped, who):
    visible = _ids(CheckIn.objects.visible_to(scoped.users[who]))
    expected = _ids(CheckIn.objects.filter(assignment__in=[scoped.assignments[k] for k in VISIBLE[who]]))
    assert visible == expected
    if "b2" in VISIBLE[who]:
        assert CheckIn.objects.visible_to(scoped.users[who]).filter(assignment=scoped.assignments["b2"]).count() == 2


@pytest.mark.parametrize("who", USERS)
def test_evidence_visible_to_each_role(scoped, who):
    visible = _ids(Evidence.objects.visible_to(scoped.users[who]))
    expected = _ids(Evidence.objects.filter(checkin__assignment__in=[scoped.assignments[k] for k in VISIBLE[who]]))
    assert visible == expected
    assert len(expected) >= len(VISIBLE[who])  # every visible assignment has evidence


@pytest.mark.parametrize("who", USERS)
def test_review_events_visible_to_each_role(scoped, who):
    visible = _ids(ReviewEvent.objects.visible_to(scoped.users[who]))
    expected = _ids(
        ReviewEvent.objects.filter(checkin__assignment__in=[scoped.assignments[k] for k in VISIBLE[who]])
    )
    assert visible == expected


@pytest.mark.parametrize("who", USERS)
def test_enterprise_progress_visible_to_each_role(scoped, who):
    """The dashboards' per-enterprise counters are scoped as the tasks they count."""
    visible = set(
        EnterpriseProgress.objects.visible_to(scoped.users[who]).values_list("period_id", "enterprise_id")
    )
    expected = {
        (scoped.assignments[k].period_id, scoped.assignments[k].enterprise_id)
        for k in VISIBLE[who]
        if k in ENTERPRISE_KEYS
    }
    assert visible == expected


@pytest.mark.parametrize("who", USERS)
def test_indicator_progress_visible_to_each_role(scoped, who):
    """A county's figures per indicator: the offices of its scope see them, enterprise users never."""
    visible = set(IndicatorProgress.objects.visible_to(scoped.users[who]).values_list("indicator_id", "county_id"))
    if who in ("liaison_a1", "observer_a1"):
        assert visible == set()
    else:
        assert visible == {(scoped.assignments[k].indicator_id, scoped.assignments[k].county_id) for k in VISIBLE[who]}


def test_anonymous_users_see_nothing(scoped):
    from django.contrib.auth.models import AnonymousUser

    anonymous = AnonymousUser()
    for model in (Enterprise, Assignment, CheckIn, Evidence, ReviewEvent, EnterpriseProgress, IndicatorProgress):
        assert not model.objects.visible_to(anonymous).exists(), model


def test_observer_of_a_county_does_not_see_its_neighbour(scoped):
    names = set(Enterprise.objects.visible_to(scoped.users["observer_A"]).values_list("name", flat=True))
    assert names == {"徐州云集港口有限公司", "徐州恒达机械制造有限公司"}


# --- (ii) services ----------------------------------------------------------------------


def call(action, user, scoped, key):
    checkin = scoped.checkins[key]
    if action == "submit":
        return services.submit_checkin(user, scoped.assignments[key], "越权提交", [pdf()])
    if action == A.APPROVE:
        return services.approve(user, checkin, "")
    if action == A.RETURN:
        return services.return_checkin(user, checkin, "退回")
    if action == A.SCORE:
        return services.score(user, checkin, "5")
    if action == A.REOPEN:
        return services.reopen(user, checkin, "复核")
    raise AssertionError(action)


# A role that may take the action, on an object outside its scope, in a state where the
# action would be allowed: the object does not exist for that user.
OUT_OF_SCOPE = [
    ("county_B", A.APPROVE, "a2"),
    ("county_B", A.RETURN, "a2"),
    ("county_A", A.APPROVE, "x1"),
    ("other_city", A.SCORE, "b1"),
    ("other_city", A.RETURN, "offB"),
    ("other_city", A.REOPEN, "a1"),
    ("city", A.RETURN, "x1"),
    ("liaison_a1", "submit", "b2"),
    ("county_B", "submit", "offA"),
    ("liaison_a1", "submit", "offA"),
]


@pytest.mark.parametrize("who,action,key", OUT_OF_SCOPE)
def test_acting_outside_scope_finds_nothing_and_changes_nothing(scoped, who, action, key):
    before = fingerprint(scoped.assignments[key])
    with pytest.raises(ObjectDoesNotExist):
        call(action, scoped.users[who], scoped, key)
    assert fingerprint(scoped.assignments[key]) == before


FORBIDDEN_ROLE = [
    ("observer_A", A.APPROVE, "a2"),
    ("observer_A", A.RETURN, "b1"),
    ("observer_A", "submit", "offA"),
    ("observer_a1", "submit", "a1"),
    ("observer_a1", A.REOPEN, "a1"),
    ("liaison_a1", A.APPROVE, "a2"),
    ("liaison_a1", A.SCORE, "b1"),
    ("county_A", A.SCORE, "b1"),
    ("county_A", A.REOPEN, "a1"),
    ("county_A", "submit", "a2"),
    ("city", A.APPROVE, "a2"),
    ("city", "submit", "b2"),
    ("city", "submit", "offA"),
    ("no_role", A.APPROVE, "a2"),
    ("no_role", A.SCORE, "b1"),
    ("no_role", "submit", "b2"),
]


@pytest.mark.parametrize("who,action,key", FORBIDDEN_ROLE)
def test_a_role_that_may_not_act_is_refused_and_nothing_changes(scoped, who, action, key):
    before = fingerprint(scoped.assignments[key])
    with pytest.raises(PermissionDenied):
        call(action, scoped.users[who], scoped, key)
    assert fingerprint(scoped.assignments[key]) == before


def test_each_county_office_reviews_only_its_own_county(scoped):
    # County A may approve its enterprise's check-in; county B may not even find it.
    checkin = scoped.checkins["a2"]
    with pytest.raises(ObjectDoesNotExist):
        services.approve(scoped.users["county_B"], checkin)
    services.approve(scoped.users["county_A"], checkin)
    checkin.refresh_from_db()
    assert checkin.state == S.PENDING_CITY_REVIEW
    with pytest.raises(WorkflowError):
        services.approve(scoped.users["county_A"], checkin)


# --- (iii) HTTP -------------------------------------------------------------------------


def _views_ready():
    try:
        reverse("tasks:approve", args=[1])
        reverse("scoring:rankings")
    except NoReverseMatch:
        return False
    return True


http = pytest.mark.skipif(not _views_ready(), reason="the views of docs/CONTRACT.md are not wired yet")


def _login(client, scoped, who):
    client.force_login(scoped.users[who])
    return client


@http
@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("who", USERS)
def test_http_assignment_detail(client, scoped, who, key):
    response = _login(client, scoped, who).get(reverse("tasks:assignment_detail", args=[scoped.assignments[key].pk]))
    assert response.status_code == (200 if key in VISIBLE[who] else 404)


@http
@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("who", USERS)
def test_http_checkin_detail(client, scoped, who, key):
    response = _login(client, scoped, who).get(reverse("tasks:checkin_detail", args=[scoped.checkins[key].pk]))
    assert response.status_code == (200 if key in VISIBLE[who] else 404)


@http
@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("who", USERS)
def test_http_evidence_download(client, scoped, who, key):
    evidence = scoped.checkins[key].evidence.first()
    response = _login(client, scoped, who).get(reverse("tasks:evidence_download", args=[evidence.pk]))
    if key not in VISIBLE[who]:
        assert response.status_code == 404
        return
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    with evidence.file.open("rb") as fh:
        assert b"".join(response.streaming_content) == fh.read()


def _expected_post(who, action, key):
    """The status a POST of `action` on `key` by `who` must get, per CONTRACT.md."""
    if key not in VISIBLE[who]:
        return 404
    role = ROLE[who]
    if action == "submit":
        if role != submitter_role(key):
            return 403
        return 302 if STATE[key] == S.RETURNED else 409
    if role not in MAY_EVER[action]:
        return 403
    return 302 if (action, STATE[key], role) in ALLOWED else 409


POST_URL = {
    "submit": "tasks:submit",
    A.APPROVE: "tasks:approve",
    A.RETURN: "tasks:return_checkin",
    A.SCORE: "tasks:score",
    A.REOPEN: "tasks:reopen",
}


def _post_data(action):
    return {
        "submit": {"description": "补充材料", "files": [pdf()]},
        A.APPROVE: {"comment": "同意"},
        A.RETURN: {"reason": "材料不全"},
        A.SCORE: {"points": "6.5", "comment": ""},
        A.REOPEN: {"reason": "复核"},
    }[action]


@http
@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("action", list(POST_URL))
@pytest.mark.parametrize("who", USERS)
def test_http_actions(client, scoped, who, action, key):
    target = scoped.assignments[key] if action == "submit" else scoped.checkins[key]
    before = fingerprint(scoped.assignments[key])
    response = _login(client, scoped, who).post(reverse(POST_URL[action], args=[target.pk]), _post_data(action))
    expected = _expected_post(who, action, key)
    assert response.status_code == expected
    after = fingerprint(scoped.assignments[key])
    if expected != 302:
        assert after == before
        return
    if action == "submit":
        assert after.versions == before.versions + 1
        assert after.assignment_state == (S.PENDING_CITY_REVIEW if key.startswith("off") else S.PENDING_COUNTY_REVIEW)
    else:
        assert after.assignment_state == ALLOWED[(action, STATE[key], ROLE[who])]
        assert after.events == before.events + 1


@http
@pytest.mark.parametrize("url", ["tasks:submit", "tasks:approve", "tasks:return_checkin", "tasks:score", "tasks:reopen"])
def test_http_post_only_urls_answer_get_with_405(client, scoped, url):
    response = _login(client, scoped, "city").get(reverse(url, args=[scoped.checkins["b1"].pk]))
    assert response.status_code == 405


@http
@pytest.mark.parametrize(
    "url,key",
    [
        ("tasks:assignment_list", None),
        ("tasks:review_queue", None),
        ("scoring:rankings", None),
        ("tasks:assignment_detail", "a1"),
        ("tasks:checkin_detail", "a1"),
        ("tasks:evidence_download", "a1"),
    ],
)
def test_http_anonymous_users_are_sent_to_login(client, scoped, url, key):
    if key is None:
        args = []
    elif url == "tasks:evidence_download":
        args = [scoped.checkins[key].evidence.first().pk]
    elif url == "tasks:assignment_detail":
        args = [scoped.assignments[key].pk]
    else:
        args = [scoped.checkins[key].pk]
    response = client.get(reverse(url, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def _out_of_scope_names(scoped, who):
    return [scoped.enterprises[k].name for k in ENTERPRISE_KEYS if k not in VISIBLE[who]]


# What each list shows: the user's own assignments (CONTRACT.md). A county office's own tasks
# are its office's; the city office and observers see their scope.
ASSIGNMENT_LIST = {
    "liaison_a1": {"a1"},
    "county_A": {"offA"},
    "county_B": {"offB"},
    "observer_A": {"a1", "a2", "offA"},
    "observer_a1": {"a1"},
    "other_city": {"x1"},
}


@http
@pytest.mark.parametrize("who", [w for w in USERS if w != "no_role"])
def test_http_assignment_list_shows_only_what_is_in_scope(client, scoped, who):
    response = _login(client, scoped, who).get(reverse("tasks:assignment_list"))
    assert response.status_code == 200
    listed = {a.pk for a in response.context["page_obj"].object_list}
    keys = {k for k, a in scoped.assignments.items() if a.pk in listed}
    assert keys <= VISIBLE[who]
    if who in ASSIGNMENT_LIST:
        assert keys == ASSIGNMENT_LIST[who]
    else:
        assert keys  # the city office sees its city's tasks
    content = response.content.decode()
    for name in _out_of_scope_names(scoped, who):
        assert name not in content


REVIEW_QUEUE = {
    "county_A": {"a2"},
    "county_B": set(),
    "city": {"b1", "offB"},
    "other_city": set(),
}


@http
@pytest.mark.parametrize("who", USERS)
def test_http_review_queue_holds_only_the_users_pending_checkins(client, scoped, who):
    response = _login(client, scoped, who).get(reverse("tasks:review_queue"))
    if who not in REVIEW_QUEUE:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    listed = {c.pk for c in response.context["page_obj"].object_list}
    assert {k for k, c in scoped.checkins.items() if c.pk in listed} == REVIEW_QUEUE[who]
    assert len(listed) == len(REVIEW_QUEUE[who])
    content = response.content.decode()
    for name in _out_of_scope_names(scoped, who):
        assert name not in content


# The enterprise rows each user may see in the rankings.
RANKED = {
    "liaison_a1": {"a1"},
    "county_A": {"a1", "a2"},
    "county_B": {"b1", "b2"},
    "city": {"a1", "a2", "b1", "b2"},
    "observer_A": {"a1", "a2"},
    "observer_a1": {"a1"},
    "other_city": {"x1"},
}


@http
@pytest.mark.parametrize("who", USERS)
def test_http_rankings_show_only_enterprises_in_scope(client, scoped, who):
    response = _login(client, scoped, who).get(reverse("scoring:rankings"))
    if who == "no_role":
        assert response.status_code == 403
        return
    assert response.status_code == 200
    rows = response.context["page_obj"].object_list
    assert {r.enterprise_id for r in rows} == {scoped.enterprises[k].pk for k in RANKED[who]}
    content = response.content.decode()
    for name in _out_of_scope_names(scoped, who):
        assert name not in content


@http
@pytest.mark.parametrize("who", ["county_A", "county_B", "city"])
def test_http_every_county_office_sees_the_citys_county_ranking(client, scoped, who):
    response = _login(client, scoped, who).get(reverse("scoring:rankings"))
    assert response.status_code == 200
    counties = {row.county.name for row in response.context["county_rows"]}
    assert counties == {"鼓楼区", "云龙区"}


@http
@pytest.mark.parametrize(
    "who,query",
    [("county_A", "county=B"), ("liaison_a1", "county=B"), ("other_city", "county=A"), ("county_A", "period=other")],
)
def test_http_rankings_filter_outside_scope_is_404(client, scoped, who, query):
    name, value = query.split("=")
    if name == "county":
        value = scoped.world.counties[0 if value == "A" else 1].pk
    else:
        value = Assignment.objects.get(pk=scoped.assignments["x1"].pk).period_id
    response = _login(client, scoped, who).get(reverse("scoring:rankings"), {name: value})
    assert response.status_code == 404


# --- (iv) two cities: every role of each city against the other city's objects ------------
#
# Lean on purpose (the matrices above already take every role through every state): the
# conftest `other_city` (宿迁市) with its own liaison, county office, city office (staff) and
# observer, one pending check-in on each side; each role of one city tries the other city's
# task, check-in, file and review actions on the site and gets 404, with nothing changed.

CITY_USERS = {
    "liaison": lambda w, o: (w.liaisons[0], o.liaison),
    "county": lambda w, o: (w.county_users[0], o.county_user),
    "city": lambda w, o: (w.city_user, o.city_user),
    "observer": lambda w, o: (w.observer, o.observer),
}


@pytest.fixture
def two_cities(world, other_city, assignment_of):
    own = services.submit_checkin(world.liaisons[0], assignment_of(world.enterprises[0]), "徐州说明", [pdf()])
    foreign = services.submit_checkin(other_city.liaison, other_city.assignment, "宿迁说明", [pdf()])
    office = services.submit_checkin(other_city.county_user, other_city.office_assignment, "宿迁县区说明", [pdf()])
    return world, other_city, {"xz": [own], "sq": [foreign, office]}


@http
@pytest.mark.parametrize("side", ["xz", "sq"])
@pytest.mark.parametrize("role", list(CITY_USERS))
def test_http_no_role_of_one_city_reaches_the_other_city(client, two_cities, role, side):
    world, other_city, checkins = two_cities
    xz_user, sq_user = CITY_USERS[role](world, other_city)
    user, targets = (xz_user, checkins["sq"]) if side == "xz" else (sq_user, checkins["xz"])
    client.force_login(user)
    for checkin in targets:
        before = fingerprint(checkin.assignment)
        assert client.get(reverse("tasks:assignment_detail", args=[checkin.assignment_id])).status_code == 404
        assert client.get(reverse("tasks:checkin_detail", args=[checkin.pk])).status_code == 404
        evidence = checkin.evidence.first()
        assert client.get(reverse("tasks:evidence_download", args=[evidence.pk])).status_code == 404
        for action, url in POST_URL.items():
            target = checkin.assignment_id if action == "submit" else checkin.pk
            assert client.post(reverse(url, args=[target]), _post_data(action)).status_code in (403, 404), action
        assert fingerprint(checkin.assignment) == before
    # The lists name nothing of the other city.
    other_names = {"xz": [other_city.enterprise.name, other_city.county.name], "sq": [e.name for e in world.enterprises]}
    for url in ("tasks:assignment_list", "scoring:rankings", "tasks:review_queue"):
        response = client.get(reverse(url))
        assert response.status_code in (200, 403, 404)
        for name in other_names[side]:
            assert name not in response.content.decode(), (url, name)
    # Querysets agree: nothing of the other city is visible.
    foreign_assignments = {c.assignment_id for c in targets}
    assert not foreign_assignments & _ids(Assignment.objects.visible_to(user))
