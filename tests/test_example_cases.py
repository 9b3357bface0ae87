"""Good-practice cases (优秀案例): marking scored check-ins, browsing, and evidence privacy."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from notices.cases import mark_example_case
from notices.models import ExampleCase
from tasks import services
from tasks.workflow import WorkflowError

from . import factories as f


def scored_checkin(world, assignment_of, index=0):
    liaison = world.liaisons[index]
    enterprise = world.enterprises[index]
    county_user = world.county_users[0 if index < 2 else 1]
    checkin = services.submit_checkin(liaison, assignment_of(enterprise), "安康杯竞赛实施方案", [f.pdf_upload("安康杯方案.pdf")])
    services.approve(county_user, checkin)
    services.score(world.city_user, checkin, "10")
    return checkin


@pytest.fixture
def checkin(world, assignment_of):
    return scored_checkin(world, assignment_of)


def test_the_city_marks_a_scored_check_in_with_the_indicators_category(world, checkin):
    case = mark_example_case(world.city_user, checkin, "安康杯安全竞赛", "以赛促安全", True)
    assert case.category == world.ind.category
    assert case.city == world.city


def test_only_scored_check_ins_only_once_only_by_the_city(world, assignment_of, checkin):
    pending = services.submit_checkin(world.liaisons[1], assignment_of(world.enterprises[1]), "说明", [f.pdf_upload()])
    with pytest.raises(WorkflowError):
        mark_example_case(world.city_user, pending, "未评分", "x")
    with pytest.raises(PermissionDenied):
        mark_example_case(world.county_users[0], checkin, "县里标记", "x")
    mark_example_case(world.city_user, checkin, "案例", "摘要")
    with pytest.raises(WorkflowError):
        mark_example_case(world.city_user, checkin, "再标记", "摘要")
    other_city = f.city_office(f.RegionFactory.city(), username="othercity")
    with pytest.raises(type(checkin).DoesNotExist):
        mark_example_case(other_city, checkin, "外市", "摘要")
    assert ExampleCase.objects.count() == 1


@pytest.mark.parametrize("public", [False, True])
def test_evidence_of_a_case_never_leaks_unless_public(client, world, checkin, public):
    case = mark_example_case(world.city_user, checkin, "安康杯安全竞赛", "以赛促安全", public)
    evidence = checkin.evidence.get()
    url = reverse("notices:case_evidence", args=[case.pk, evidence.pk])

    client.force_login(world.liaisons[2])  # another enterprise, another county
    detail = client.get(reverse("notices:case_detail", args=[case.pk]))
    assert detail.status_code == 200
    assert "以赛促安全" in detail.content.decode()
    assert world.ind.title in detail.content.decode()
    assert (url in detail.content.decode()) is public
    assert client.get(url).status_code == (200 if public else 404)
    # The ordinary evidence download stays scoped either way.
    assert client.get(reverse("tasks:evidence_download", args=[evidence.pk])).status_code == 404

    client.force_login(world.liaisons[0])  # the enterprise itself always may
    assert client.get(url).status_code == 200


def test_a_case_url_cannot_fetch_another_check_ins_evidence(client, world, assignment_of, checkin):
    public_case = mark_example_case(world.city_user, checkin, "公开案例", "摘要", True)
    private = scored_checkin(world, assignment_of, index=3)  # e22, 云龙区
    private_evidence = private.evidence.get()
    client.force_login(world.liaisons[0])
    url = reverse("notices:case_evidence", args=[public_case.pk, private_evidence.pk])
    assert client.get(url).status_code == 404


def test_cases_are_browsable_by_category_by_every_user_of_the_city(client, world, checkin):
    mark_example_case(world.city_user, checkin, "安康杯安全竞赛", "以赛促安全")
    for user in (world.liaisons[3], world.county_users[1], world.observer, world.city_user):
        client.force_login(user)
        response = client.get(reverse("notices:case_list"), {"category": world.ind.category})
        assert [c.title for c in response.context["page_obj"]] == ["安康杯安全竞赛"]
    response = client.get(reverse("notices:case_list"), {"category": "political"})
    assert list(response.context["page_obj"]) == []
    client.force_login(f.liaison(username="elsewhere"))  # an enterprise of another city
    assert list(client.get(reverse("notices:case_list")).context["page_obj"]) == []


def test_marking_through_the_page(client, world, checkin):
    url = reverse("notices:case_create", args=[checkin.pk])
    client.force_login(world.county_users[0])
    assert client.get(url).status_code == 403
    client.force_login(world.city_user)
    assert client.get(url).status_code == 200
    assert client.post(url, {"title": "", "summary": "x"}).status_code == 400
    response = client.post(url, {"title": "安康杯", "summary": "经验做法", "is_public_evidence": "on"})
    assert response.status_code == 302
    case = ExampleCase.objects.get()
    assert case.is_public_evidence
    assert client.post(url, {"title": "再来", "summary": "x"}).status_code == 409


@pytest.mark.parametrize("rows", [2, 20])
def test_case_list_runs_a_constant_number_of_queries(client, world, rows, django_assert_max_num_queries):
    from tasks.models import Assignment, CheckIn

    for i in range(rows):
        enterprise = f.EnterpriseFactory(county=world.counties[i % 2])
        assignment = Assignment.objects.create(
            period=world.period, indicator=world.ind, enterprise=enterprise, county=enterprise.county, state="scored"
        )
        checkin = CheckIn.objects.create(
            assignment=assignment, version=1, description="x", state="scored", submitted_by=world.admin, points=9
        )
        ExampleCase.objects.create(
            city=world.city, checkin=checkin, title=f"案例{i}", summary="摘要", category="skills", marked_by=world.city_user
        )
    client.force_login(world.liaisons[0])
    with django_assert_max_num_queries(8):
        response = client.get(reverse("notices:case_list"))
    assert len(response.context["page_obj"].object_list) == rows
