"""The scoping matrix through the API: every role against every scope's check-ins, files,
tasks and review actions. Outside the scope an object does not exist (404, never listed);
inside it, a role that may not act gets 403; the state decides between 200 and 409."""

from types import SimpleNamespace

import pytest
from django.core.cache import cache

from tasks import workflow
from tasks.models import Assignment, CheckIn, CheckInState, Evidence

from . import factories as f
from .test_api import api_client

# Who, and which of the scoped objects each may see: e11 and e21 are enterprises of
# county 1 and county 2; office1 and office2 are the two county offices' own tasks; x1 and
# officeX the enterprise and the county office of another city (宿迁市, conftest
# `other_city`), whose every role is tried against 徐州's objects and the other way round.
USERS = {
    "liaison_e11": {"e11"},
    "liaison_e21": {"e21"},
    "county1_office": {"e11", "office1"},
    "county2_office": {"e21", "office2"},
    "city_office": {"e11", "e21", "office1", "office2"},
    "observer_county1": {"e11", "office1"},
    "sq_liaison": {"x1"},
    "sq_county": {"x1", "officeX"},
    "sq_city": {"x1", "officeX"},
    "sq_observer": {"x1", "officeX"},
}
OBJECTS = ["e11", "e21", "office1", "office2", "x1", "officeX"]
ROLE_OF = {
    "liaison_e11": "enterprise_liaison",
    "liaison_e21": "enterprise_liaison",
    "county1_office": "county_office",
    "county2_office": "county_office",
    "city_office": "city_office",
    "observer_county1": "observer",
    "sq_liaison": "enterprise_liaison",
    "sq_county": "county_office",
    "sq_city": "city_office",
    "sq_observer": "observer",
}


def users_of(world, other_city):
    return {
        "liaison_e11": world.liaisons[0],
        "liaison_e21": world.liaisons[2],
        "county1_office": world.county_users[0],
        "county2_office": world.county_users[1],
        "city_office": world.city_user,
        "observer_county1": world.observer,
        "sq_liaison": other_city.liaison,
        "sq_county": other_city.county_user,
        "sq_city": other_city.city_user,
        "sq_observer": other_city.observer,
    }


def assignments_of(world, other_city, assignment_of):
    return {
        "e11": assignment_of(world.enterprises[0]),
        "e21": assignment_of(world.enterprises[2]),
        "office1": assignment_of(world.counties[0]),
        "office2": assignment_of(world.counties[1]),
        "x1": other_city.assignment,
        "officeX": other_city.office_assignment,
    }
# The body each action needs to be valid, so only role, scope and state decide the outcome.
ACTIONS = {
    "approve": ("approve", {}),
    "return": ("return", {"reason": "材料不全"}),
    "score": ("score", {"points": "6"}),
    "reopen": ("reopen", {"reason": "复核"}),
}


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


@pytest.fixture
def scene(world, other_city, assignment_of):
    """One submitted check-in per scoped object (enterprises wait for the county, the
    offices' own for the city), and the users by name."""
    from tasks import services

    assignments = assignments_of(world, other_city, assignment_of)
    submitters = {
        "e11": world.liaisons[0],
        "e21": world.liaisons[2],
        "office1": world.county_users[0],
        "office2": world.county_users[1],
        "x1": other_city.liaison,
        "officeX": other_city.county_user,
    }
    checkins = {
        key: services.submit_checkin(submitters[key], assignment, "说明", [f.pdf_upload()])
        for key, assignment in assignments.items()
    }
    users = users_of(world, other_city)
    return SimpleNamespace(
        assignments=assignments,
        checkins=checkins,
        evidence={key: Evidence.objects.get(checkin=c) for key, c in checkins.items()},
        users=users,
    )


@pytest.mark.parametrize("who", USERS)
def test_lists_show_exactly_the_scope(scene, who):
    client = api_client(scene.users[who])
    visible = USERS[who]

    checkins = client.get("/api/checkins/").json()["results"]
    assert {c["id"] for c in checkins} == {scene.checkins[key].pk for key in visible}
    files = {file["id"] for c in checkins for file in c["files"]}
    assert files == {scene.evidence[key].pk for key in visible}

    assignment_ids = {a["id"] for a in client.get("/api/assignments/").json()["results"]}
    in_scope = Assignment.objects.visible_to(scene.users[who])
    assert assignment_ids == set(in_scope.values_list("pk", flat=True))
    for key in OBJECTS:
        assert (scene.assignments[key].pk in assignment_ids) == (key in visible)

    # Filtering by another scope's id finds nothing rather than telling it exists.
    for key in set(OBJECTS) - visible:
        assert client.get(f"/api/checkins/?assignment={scene.assignments[key].pk}").json()["count"] == 0


@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("target", OBJECTS)
def test_detail_and_download(scene, who, target):
    client = api_client(scene.users[who])
    expected = 200 if target in USERS[who] else 404
    assert client.get(f"/api/checkins/{scene.checkins[target].pk}/").status_code == expected
    assert client.get(f"/api/assignments/{scene.assignments[target].pk}/").status_code == expected
    assert client.get(f"/api/evidence/{scene.evidence[target].pk}/download/").status_code == expected


def _expected_action_status(who, target, action, state):
    role = ROLE_OF[who]
    if role not in workflow.ROLES_FOR_ACTION[action]:
        return 403
    if target not in USERS[who]:
        return 404
    legal = any(
        t.action == action and t.from_state == state and t.role == role for t in workflow.TRANSITIONS
    )
    return 200 if legal else 409


@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("target", OBJECTS)
@pytest.mark.parametrize("action", ACTIONS)
def test_review_actions(scene, who, target, action):
    checkin = scene.checkins[target]
    url_part, body = ACTIONS[action]
    expected = _expected_action_status(who, target, action, checkin.state)
    response = api_client(scene.users[who]).post(f"/api/checkins/{checkin.pk}/{url_part}/", body, format="json")
    assert response.status_code == expected, response.content
    assert response.json()["detail" if expected != 200 else "state"]
    checkin.refresh_from_db()
    if expected != 200:
        assert checkin.state in (CheckInState.PENDING_COUNTY_REVIEW, CheckInState.PENDING_CITY_REVIEW)
        assert checkin.events.count() == 1


@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("target", OBJECTS)
def test_submit(scene, who, target):
    """A new version for a task: 404 outside the scope, 403 for the wrong role, and for the
    assignee 409 (the submitted version waits for review)."""
    assignment = scene.assignments[target]
    response = api_client(scene.users[who]).post(
        "/api/checkins/",
        {"assignment": assignment.pk, "description": "说明", "files": [f.pdf_upload()]},
        format="multipart",
    )
    if target not in USERS[who]:
        expected = 404
    elif ROLE_OF[who] != workflow.submitter_role(assignment):
        expected = 403
    else:
        expected = 409
    assert response.status_code == expected, response.content
    assert CheckIn.objects.filter(assignment=assignment).count() == 1


@pytest.mark.parametrize("who", USERS)
def test_first_submission_only_by_the_assignee(world, other_city, assignment_of, who):
    """On tasks nobody has submitted yet, exactly the assignee of each gets 201."""
    users = users_of(world, other_city)
    own = {"liaison_e11": "e11", "liaison_e21": "e21", "county1_office": "office1", "county2_office": "office2",
           "sq_liaison": "x1", "sq_county": "officeX"}
    assignments = assignments_of(world, other_city, assignment_of)
    client = api_client(users[who])
    for key, assignment in assignments.items():
        response = client.post(
            "/api/checkins/",
            {"assignment": assignment.pk, "description": "说明", "files": [f.pdf_upload()]},
            format="multipart",
        )
        expected = 201 if own.get(who) == key else (404 if key not in USERS[who] else 403)
        assert response.status_code == expected, (key, response.content)


@pytest.mark.parametrize("who", USERS)
def test_library_lists_are_the_users_city(world, other_city, who):
    """Each city's periods, library, regions and enterprises; never the other city's, nor a
    third city's (连云港市) that has no users at all."""
    third_city = f.RegionFactory.city(parent=world.province, name="连云港市", code="320700")
    f.PeriodFactory(city=third_city, name="2026年度")
    f.IndicatorFactory(city=third_city, code="Z99")
    own, other = (other_city, world) if who.startswith("sq_") else (world, other_city)
    client = api_client(users_of(world, other_city)[who])
    assert [p["id"] for p in client.get("/api/periods/").json()["results"]] == [own.period.pk]
    assert {i["id"] for i in client.get("/api/indicators/").json()["results"]} == {own.ind.pk, own.office_ind.pk}
    regions = {r["name"] for r in client.get("/api/regions/").json()["results"]}
    assert not regions & {"连云港市", other.city.name, *(c.name for c in _counties(other))}
    enterprise_ids = {e["id"] for e in client.get("/api/enterprises/").json()["results"]}
    expected = {
        "liaison_e11": {0},
        "liaison_e21": {2},
        "county1_office": {0, 1},
        "county2_office": {2, 3},
        "city_office": {0, 1, 2, 3},
        "observer_county1": {0, 1},
    }
    if who.startswith("sq_"):
        assert enterprise_ids == {other_city.enterprise.pk}
    else:
        assert enterprise_ids == {world.enterprises[i].pk for i in expected[who]}


def _counties(city_world):
    return getattr(city_world, "counties", None) or [city_world.county]


def test_a_user_without_a_role_sees_nothing(world):
    client = api_client(world.admin)
    for url in ["/api/checkins/", "/api/assignments/", "/api/enterprises/", "/api/periods/", "/api/regions/"]:
        assert client.get(url).json()["count"] == 0
    assert client.get("/api/me/").json()["role"] is None
    assert client.get("/api/rankings/counties/").status_code == 403
