"""An enterprise moved to another county-level unit of its city (tasks.moves): its tasks of
open periods follow it, with their check-ins, evidence, counters and ranking rows, so the new
county office reads and reviews them and the old one gets 404; closed periods keep their
history. The admin form, both spreadsheet imports and the API move through the one service.
"""

import io
import threading
import time
from decimal import Decimal

import pytest
import tablib
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from openpyxl import Workbook

from accounts import security
from enterprises.models import Enterprise
from scoring.engine import compute_snapshot
from scoring.models import CountyRanking, RankBand, RankingSnapshot, RecomputeRequest
from spreadsheets.imports.services import apply_import, preview_import
from spreadsheets.resources import EnterpriseResource
from tasks import moves, progress, services
from tasks.models import (
    Assignment,
    AssignmentState,
    CheckIn,
    CheckInState,
    EnterpriseMove,
    EnterpriseProgress,
    Evidence,
    ReviewEvent,
)

from . import factories as f
from .helpers_domain import drive

S = CheckInState

pytestmark = pytest.mark.django_db


@pytest.fixture
def mover(world, assignment_of):
    """e11 (of 鼓楼区) with a check-in waiting for its county office, and its liaison's file."""
    enterprise = world.enterprises[0]
    checkin = drive(world, assignment_of(enterprise), S.PENDING_COUNTY_REVIEW)
    return enterprise, checkin


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def _api(user):
    _token, key = security.issue_api_token(user)
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


def _move(world, enterprise, county=None, reason="企业注册地迁址", capture=None):
    county = county or world.counties[1]
    if capture is None:
        return moves.move_enterprise(world.city_user, enterprise, county, reason)
    with capture(execute=True):
        return moves.move_enterprise(world.city_user, enterprise, county, reason)


# --- who reads and reviews afterwards ---------------------------------------------------


def test_after_a_move_the_new_office_reviews_and_the_old_one_gets_404(world, mover):
    enterprise, checkin = mover
    old_office, new_office = world.county_users
    evidence = Evidence.objects.get(checkin=checkin)
    _move(world, enterprise)

    pages = [
        reverse("tasks:checkin_detail", args=[checkin.pk]),
        reverse("tasks:evidence_download", args=[evidence.pk]),
        reverse("tasks:assignment_detail", args=[checkin.assignment_id]),
    ]
    api = [
        reverse("api:checkin-detail", args=[checkin.pk]),
        reverse("api:evidence-download", args=[evidence.pk]),
        reverse("api:enterprise-detail", args=[enterprise.pk]),
    ]
    old_site, old_api = _client(old_office), _api(old_office)
    for url in pages:
        assert old_site.get(url).status_code == 404, url
    for url in api:
        assert old_api.get(url).status_code == 404, url
    assert old_site.post(reverse("tasks:approve", args=[checkin.pk]), {"comment": "同意"}).status_code == 404
    assert old_api.post(reverse("api:checkin-approve", args=[checkin.pk]), {}).status_code == 404
    with pytest.raises(CheckIn.DoesNotExist):
        services.approve(old_office, checkin, "同意")
    assert CheckIn.objects.get(pk=checkin.pk).state == S.PENDING_COUNTY_REVIEW

    new_site, new_api = _client(new_office), _api(new_office)
    for url in pages:
        assert new_site.get(url).status_code == 200, url
    for url in api:
        response = new_api.get(url)
        assert response.status_code == 200, url
        if response.streaming:
            b"".join(response.streaming_content)  # read to the end, as the test client expects
    response = new_api.post(reverse("api:checkin-approve", args=[checkin.pk]), {"comment": "同意上报"})
    assert response.status_code == 200, response.content
    assert response.json()["county"] == world.counties[1].pk
    assert CheckIn.objects.get(pk=checkin.pk).state == S.PENDING_CITY_REVIEW
    # The liaison still has its own task.
    assert _client(world.liaisons[0]).get(pages[0]).status_code == 200


def test_the_move_is_recorded_on_the_enterprise_and_on_each_moved_check_in(world, mover, assignment_of):
    enterprise, checkin = mover
    office_task = assignment_of(world.counties[0])
    drive(world, office_task, S.PENDING_CITY_REVIEW)  # a county office's own task never moves
    move = _move(world, enterprise, reason="企业整体搬迁至云龙区")

    move = EnterpriseMove.objects.get(pk=move.pk)
    assert (move.enterprise, move.from_county, move.to_county, move.moved_by) == (
        enterprise, world.counties[0], world.counties[1], world.city_user
    )
    assert move.reason == "企业整体搬迁至云龙区" and move.assignments_moved == 1
    event = ReviewEvent.objects.get(action=ReviewEvent.Action.MOVE)
    assert event.checkin == checkin and event.actor == world.city_user
    assert event.from_state == event.to_state == S.PENDING_COUNTY_REVIEW
    assert "鼓楼区" in event.comment and "云龙区" in event.comment and "企业整体搬迁至云龙区" in event.comment
    assert Enterprise.objects.get(pk=enterprise.pk).county == world.counties[1]
    assert Assignment.objects.get(pk=office_task.pk).county == world.counties[0]
    # The audit record cannot be rewritten.
    with pytest.raises(ValidationError):
        move.save()


def test_a_closed_period_keeps_the_old_county(world, mover):
    enterprise, _checkin = mover
    old = f.PeriodFactory(city=world.city, name="2025年度")
    services.generate_assignments(old)
    closed_task = Assignment.objects.get(period=old, enterprise=enterprise)
    Assignment.objects.filter(pk=closed_task.pk).update(state=AssignmentState.SCORED, points=Decimal("7"))
    old_snapshot = compute_snapshot(old)
    old.is_closed = True
    old.save(update_fields=["is_closed"])

    move = _move(world, enterprise)

    assert move.assignments_moved == 1
    assert Assignment.objects.get(pk=closed_task.pk).county == world.counties[0]
    assert Assignment.objects.get(period=world.period, enterprise=enterprise).county == world.counties[1]
    assert old_snapshot.enterprise_rankings.get(enterprise=enterprise).county == world.counties[0]
    assert not RecomputeRequest.objects.filter(period=old).exists()
    # The old office still reads the closed year's task; the new office does not.
    url = reverse("tasks:assignment_detail", args=[closed_task.pk])
    assert _client(world.county_users[0]).get(url).status_code == 200
    assert _client(world.county_users[1]).get(url).status_code == 404
    assert EnterpriseProgress.objects.get(period=old, enterprise=enterprise).county == world.counties[0]


# --- counters and rankings --------------------------------------------------------------


def test_counters_move_to_the_new_county(world, mover):
    enterprise, _checkin = mover
    before = {
        c.pk: EnterpriseProgress.objects.filter(period=world.period, county=c).values_list("enterprise", flat=True)
        for c in world.counties
    }
    assert enterprise.pk in before[world.counties[0].pk]
    _move(world, enterprise)

    rows = EnterpriseProgress.objects.filter(period=world.period, enterprise=enterprise)
    assert [(r.county_id, r.assigned, r.pending_county) for r in rows] == [(world.counties[1].pk, 1, 1)]
    assert progress.drift() == []
    new_office = world.county_users[1]
    mine = EnterpriseProgress.objects.visible_to(new_office).filter(period=world.period)
    assert sorted(mine.values_list("enterprise__name", flat=True)) == sorted(
        e.name for e in (*world.enterprises[2:], enterprise)
    )


def _bands(snapshot):
    return sorted(snapshot.rank_bands.values_list("county_id", "points", "enterprises", "rank"), key=str)


def _ranking(snapshot):
    rows = snapshot.enterprise_rankings.with_ranks().order_by("enterprise_id")
    return [(r.enterprise_id, r.county_id, r.points, r.rank_in_county, r.rank_in_city) for r in rows]


def _counties(snapshot):
    return sorted(
        CountyRanking.objects.filter(snapshot=snapshot).values_list("county_id", "enterprises_counted", "score", "rank")
    )


def test_todays_ranking_moves_the_enterprise_to_its_new_county(
    world, assignment_of, django_capture_on_commit_callbacks
):
    for enterprise, points in zip(world.enterprises, ("6", "4", "2", "1"), strict=True):
        Assignment.objects.filter(pk=assignment_of(enterprise).pk).update(
            state=AssignmentState.SCORED, points=Decimal(points)
        )
    snapshot = compute_snapshot(world.period)
    leader = world.enterprises[0]
    assert snapshot.enterprise_rankings.get(enterprise=leader).county == world.counties[0]

    _move(world, leader, capture=django_capture_on_commit_callbacks)

    assert RankingSnapshot.objects.latest_for(world.period) == snapshot  # updated in place
    assert not RecomputeRequest.objects.exists()
    row = snapshot.enterprise_rankings.with_ranks().get(enterprise=leader)
    assert (row.county_id, row.rank_in_county, row.rank_in_city) == (world.counties[1].pk, 1, 1)
    e12 = snapshot.enterprise_rankings.with_ranks().get(enterprise=world.enterprises[1])
    assert e12.rank_in_county == 1  # alone in 鼓楼区 now
    counted = dict(CountyRanking.objects.filter(snapshot=snapshot).values_list("county_id", "enterprises_counted"))
    assert counted == {world.counties[0].pk: 1, world.counties[1].pk: 3}
    # The same as a full recompute from the tasks.
    full = compute_snapshot(world.period)
    assert _ranking(snapshot) == [(e, c, p, rc, rr) for e, c, p, rc, rr in _ranking(full)]
    assert _bands(snapshot) == _bands(full)
    assert [row[1:] for row in _counties(snapshot)] == [row[1:] for row in _counties(full)]
    assert RankBand.objects.filter(snapshot=snapshot, county=world.counties[0]).count() == 1


# --- refusals ----------------------------------------------------------------------------


def _state():
    return (
        tuple(Enterprise.objects.order_by("pk").values_list("pk", "county_id")),
        tuple(Assignment.objects.order_by("pk").values_list("pk", "county_id")),
        ReviewEvent.objects.count(),
        EnterpriseMove.objects.count(),
    )


def test_only_the_city_office_moves_within_its_city(world, mover):
    enterprise, _checkin = mover
    other_city = f.RegionFactory.city(parent=world.province, name="南京市", code="320100")
    outside_county = f.RegionFactory.county(parent=other_city, name="玄武区", code="320102")
    outsider = f.EnterpriseFactory(county=outside_county)
    before = _state()
    for user in (world.county_users[0], world.liaisons[0], world.observer):
        with pytest.raises(PermissionDenied):
            moves.move_enterprise(user, enterprise, world.counties[1], "调整")
    with pytest.raises(Enterprise.DoesNotExist):
        moves.move_enterprise(world.city_user, outsider, world.counties[1], "调整")
    for county, code in ((outside_county, "other_city"), (world.counties[0], "same_county"), (world.city, "unknown_county"),
                         (10**9, "unknown_county"), ("abc", "unknown_county")):
        with pytest.raises(ValidationError) as refused:
            moves.move_enterprise(world.city_user, enterprise, county, "调整")
        assert refused.value.code == code
    with pytest.raises(ValidationError):
        moves.move_enterprise(world.city_user, enterprise, world.counties[1], "   ")
    assert _state() == before


# --- the admin, the imports and the API ---------------------------------------------------


@pytest.fixture
def staff(world):
    """The city office with the admin rights seed_demo gives the 市产改办 group."""
    user = world.city_user
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="enterprises"))
    return _client(user)


def _admin_form(enterprise, county, reason=None):
    data = {
        "name": enterprise.name,
        "credit_code": enterprise.credit_code,
        "county": county.pk,
        "is_active": "on",
        "size_class": enterprise.size_class,
        "ownership": enterprise.ownership,
        "pilot_level": enterprise.pilot_level,
        "employees": enterprise.employees,
        "liaison_name": enterprise.liaison_name,
        "liaison_phone": enterprise.liaison_phone,
    }
    if reason is not None:
        data["move_reason"] = reason
    return data


def test_the_admin_form_moves_through_the_service_with_a_reason(world, mover, staff):
    enterprise, checkin = mover
    url = reverse("admin:enterprises_enterprise_change", args=[enterprise.pk])
    before = _state()
    response = staff.post(url, _admin_form(enterprise, world.counties[1]))
    assert response.status_code == 200  # the form again, asking for the reason
    assert "move_reason" in response.context["adminform"].form.errors
    assert _state() == before

    response = staff.post(url, _admin_form(enterprise, world.counties[1], "企业搬迁"))
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    move = EnterpriseMove.objects.get()
    assert (move.to_county, move.reason, move.moved_by) == (world.counties[1], "企业搬迁", world.city_user)
    assert Assignment.objects.get(pk=checkin.assignment_id).county == world.counties[1]
    assert ReviewEvent.objects.filter(checkin=checkin, action=ReviewEvent.Action.MOVE).exists()

    # Other edits need no reason and move nothing.
    data = _admin_form(Enterprise.objects.get(pk=enterprise.pk), world.counties[1])
    data["employees"] = 321
    assert staff.post(url, data).status_code == 302
    assert EnterpriseMove.objects.count() == 1


def test_a_superuser_cannot_move_an_enterprise_past_the_service(world, mover, admin_client):
    enterprise, checkin = mover
    url = reverse("admin:enterprises_enterprise_change", args=[enterprise.pk])
    response = admin_client.post(url, _admin_form(enterprise, world.counties[1], "企业搬迁"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert Assignment.objects.get(pk=checkin.assignment_id).county == world.counties[0]
    assert Enterprise.objects.get(pk=enterprise.pk).county == world.counties[0]


def _sheet(path, enterprise, county_name, settings):
    settings.LANGUAGE_CODE = "en"  # the sheet's headers are the English msgids
    dataset = EnterpriseResource().export(queryset=Enterprise.objects.order_by("pk"))
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(dataset.headers)
    code, county = dataset.headers.index("Unified social credit code"), dataset.headers.index("County-level unit")
    for values in dataset:
        values = list(values)
        if values[code] == enterprise.credit_code:
            values[county] = county_name
        sheet.append(values)
    out = io.BytesIO()
    workbook.save(out)
    path.write_bytes(out.getvalue())
    return dataset


def test_the_spreadsheet_import_moves_an_enterprise_whose_county_changed(
    world, mover, tmp_path, settings, django_capture_on_commit_callbacks
):
    enterprise, checkin = mover
    path = tmp_path / "sheet.xlsx"
    _sheet(path, enterprise, world.counties[1].name, settings)
    preview = preview_import(world.city_user, "enterprises", path)
    assert preview.ok and preview.updated == 1
    assert not EnterpriseMove.objects.exists()  # the preview writes nothing

    with django_capture_on_commit_callbacks(execute=True):
        result = apply_import(world.city_user, "enterprises", path)
    assert result.updated == 1
    move = EnterpriseMove.objects.get()
    assert move.to_county == world.counties[1] and move.reason == "Changed by a spreadsheet import"
    assert Assignment.objects.get(pk=checkin.assignment_id).county == world.counties[1]
    assert progress.drift() == []


def test_the_admin_resource_import_moves_through_the_service(world, mover, settings):
    settings.LANGUAGE_CODE = "en"  # the sheet's headers are the English msgids
    enterprise, checkin = mover
    dataset = EnterpriseResource().export(queryset=Enterprise.objects.filter(pk=enterprise.pk))
    data = tablib.Dataset(headers=dataset.headers)
    row = list(dataset[0])
    row[dataset.headers.index("County-level unit")] = world.counties[1].name
    data.append(row)

    # Without a city-office importer a county change is a row error, and nothing moves.
    result = EnterpriseResource().import_data(data, dry_run=False)
    assert result.has_validation_errors()
    assert Enterprise.objects.get(pk=enterprise.pk).county == world.counties[0]

    result = EnterpriseResource().import_data(data, dry_run=False, user=world.city_user)
    assert not result.has_errors() and not result.has_validation_errors(), result.invalid_rows
    assert Enterprise.objects.get(pk=enterprise.pk).county == world.counties[1]
    assert Assignment.objects.get(pk=checkin.assignment_id).county == world.counties[1]
    assert EnterpriseMove.objects.get().moved_by == world.city_user


def test_the_api_moves_for_the_city_office_only(world, mover):
    enterprise, checkin = mover
    url = reverse("api:enterprise-move", args=[enterprise.pk])
    before = _state()
    response = _api(world.county_users[0]).post(url, {"county": world.counties[1].pk, "reason": "搬迁"})
    assert response.status_code == 403 and response.json()["detail"]
    city = _api(world.city_user)
    for body in ({"county": world.counties[0].pk, "reason": "搬迁"}, {"county": "abc", "reason": "搬迁"},
                 {"county": world.counties[1].pk, "reason": " "}, {"county": 10**9, "reason": "搬迁"}, {}):
        response = city.post(url, body, content_type="application/json")
        assert response.status_code == 400, (body, response.content)
        detail = response.json()["detail"]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in detail), detail
    assert _state() == before

    response = city.post(url, {"county": world.counties[1].pk, "reason": "企业搬迁"}, content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["enterprise"] == enterprise.pk
    assert (body["from_county"], body["to_county"]) == (world.counties[0].pk, world.counties[1].pk)
    assert body["assignments_moved"] == 1
    assert Assignment.objects.get(pk=checkin.assignment_id).county == world.counties[1]


def test_the_move_endpoint_is_in_the_openapi_schema(client):
    schema = client.get(reverse("api:schema"), {"format": "json"}).json()
    operation = schema["paths"]["/api/enterprises/{id}/move/"]["post"]
    assert {"200", "400", "403", "404"} <= set(operation["responses"])
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][body]["properties"]) == {"county", "reason"}


# --- a review and a move at once ---------------------------------------------------------


def _waiting_on_locks():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _in_thread(call):
    result = {}

    def run():
        try:
            result["ok"] = call()
        except Exception as exc:  # reported to the test
            result["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def _wait_for_a_lock_wait():
    deadline = time.monotonic() + 10
    while _waiting_on_locks() < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _waiting_on_locks() >= 1, "the other transaction never waited"


@pytest.mark.django_db(transaction=True)
def test_an_approval_waiting_for_a_move_finds_the_check_in_gone(world, mover):
    """The old office's approval starts while the move is not yet committed: it waits for
    the move's row locks and then finds nothing (404), never approving in the old county."""
    if connection.vendor != "postgresql":
        pytest.skip("needs Postgres row locks")
    enterprise, checkin = mover
    old_office = world.county_users[0]
    with transaction.atomic():
        moves.move_enterprise(world.city_user, enterprise, world.counties[1], "企业搬迁")
        thread, result = _in_thread(lambda: services.approve(old_office, CheckIn.objects.get(pk=checkin.pk), "同意"))
        _wait_for_a_lock_wait()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert isinstance(result.get("error"), CheckIn.DoesNotExist), result
    assert CheckIn.objects.get(pk=checkin.pk).state == S.PENDING_COUNTY_REVIEW
    assert not ReviewEvent.objects.filter(checkin=checkin, action=ReviewEvent.Action.APPROVE).exists()
    services.approve(world.county_users[1], CheckIn.objects.get(pk=checkin.pk), "同意")


@pytest.mark.django_db(transaction=True)
def test_a_move_waiting_for_an_approval_moves_the_approved_check_in(world, mover):
    """The other order: the approval commits first, then the move carries the forwarded
    check-in to the new county, recording its new state; the counters agree."""
    if connection.vendor != "postgresql":
        pytest.skip("needs Postgres row locks")
    enterprise, checkin = mover
    with transaction.atomic():
        services.approve(world.county_users[0], CheckIn.objects.get(pk=checkin.pk), "同意")
        thread, result = _in_thread(
            lambda: moves.move_enterprise(world.city_user, enterprise, world.counties[1], "企业搬迁")
        )
        _wait_for_a_lock_wait()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert "ok" in result, result
    event = ReviewEvent.objects.get(checkin=checkin, action=ReviewEvent.Action.MOVE)
    assert event.to_state == S.PENDING_CITY_REVIEW
    assert Assignment.objects.get(pk=checkin.assignment_id).county == world.counties[1]
    assert progress.drift() == []
