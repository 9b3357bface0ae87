"""Needs and problems (问题直通): the thread through every state, scoping and status codes."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from notices import needs
from notices.models import Need, NeedState
from notifications.models import Notification
from tasks.workflow import WorkflowError

from . import factories as f


@pytest.fixture
def need(world):
    """A need of e11 (鼓楼区) reported by its liaison."""
    return needs.report_need(world.liaisons[0], Need.Category.TRAINING, "希望组织数控车工技能培训")


def test_report_reaches_the_county_office(world, need):
    assert need.state == NeedState.PENDING
    assert need.county == world.counties[0]
    assert Notification.objects.filter(recipient=world.county_users[0], kind="need").count() == 1
    assert not Notification.objects.filter(recipient=world.county_users[1]).exists()


def test_the_thread_goes_through_every_state(world, need):
    county, city, liaison = world.county_users[0], world.city_user, world.liaisons[0]
    need = needs.reply_need(county, need, "已联系人社局，下周答复")
    assert need.state == NeedState.IN_PROGRESS
    need = needs.reply_need(county, need, "培训计划在制定中")
    assert need.state == NeedState.IN_PROGRESS
    need = needs.forward_need(county, need, "涉及市级培训补贴")
    assert need.state == NeedState.FORWARDED
    assert Notification.objects.filter(recipient=city, kind="need").count() == 1
    need = needs.reply_need(city, need, "市里将安排专项培训")
    assert need.state == NeedState.FORWARDED
    need = needs.resolve_need(city, need, "已安排")
    assert need.state == NeedState.RESOLVED
    actions = list(need.messages.values_list("action", "to_state"))
    assert actions == [
        ("report", "pending"),
        ("reply", "in_progress"),
        ("reply", "in_progress"),
        ("forward", "forwarded"),
        ("reply", "forwarded"),
        ("resolve", "resolved"),
    ]
    # The reporter heard of every step after the report.
    assert Notification.objects.filter(recipient=liaison, kind="need").count() == 5


def test_the_county_may_resolve_directly(world, need):
    assert needs.resolve_need(world.county_users[0], need, "").state == NeedState.RESOLVED


def test_illegal_transitions_are_409(world, need):
    with pytest.raises(WorkflowError):
        needs.reply_need(world.city_user, need, "市里抢答")  # not forwarded yet
    needs.resolve_need(world.county_users[0], need)
    with pytest.raises(WorkflowError):
        needs.reply_need(world.county_users[0], need, "再回复")
    with pytest.raises(WorkflowError):
        needs.forward_need(world.county_users[0], need)


def test_wrong_roles_are_403_and_outside_scope_404(world, need):
    with pytest.raises(PermissionDenied):
        needs.reply_need(world.liaisons[0], need, "自己回复")
    with pytest.raises(PermissionDenied):
        needs.forward_need(world.city_user, need)
    with pytest.raises(PermissionDenied):
        needs.report_need(world.county_users[0], Need.Category.OTHER, "县里报问题")
    with pytest.raises(Need.DoesNotExist):
        needs.reply_need(world.county_users[1], need, "别的县")
    with pytest.raises(ValidationError):
        needs.reply_need(world.county_users[0], need, "   ")
    need.refresh_from_db()
    assert need.state == NeedState.PENDING


def test_visible_to(world, need):
    other = needs.report_need(world.liaisons[2], Need.Category.RIGHTS, "云龙区的问题")
    assert set(Need.objects.visible_to(world.liaisons[0])) == {need}
    assert set(Need.objects.visible_to(world.liaisons[1])) == set()
    assert set(Need.objects.visible_to(world.county_users[0])) == {need}
    assert set(Need.objects.visible_to(world.county_users[1])) == {other}
    assert set(Need.objects.visible_to(world.city_user)) == {need, other}
    outsider = f.city_office(f.RegionFactory.city(), username="othercity")
    assert set(Need.objects.visible_to(outsider)) == set()


def test_web_thread_status_codes(client, world):
    client.force_login(world.liaisons[0])
    assert client.get(reverse("notices:need_create")).status_code == 200
    response = client.post(
        reverse("notices:need_create"),
        {"category": "policy", "text": "职工技能等级认定政策咨询", "attachment": f.pdf_upload("说明.pdf")},
    )
    assert response.status_code == 302
    need = Need.objects.get()
    detail = reverse("notices:need_detail", args=[need.pk])
    assert response["Location"] == detail
    assert client.get(reverse("notices:need_attachment", args=[need.pk])).status_code == 200
    # The liaison may not reply to its own need: 403.
    assert client.post(reverse("notices:need_reply", args=[need.pk]), {"text": "x"}).status_code == 403

    client.force_login(world.liaisons[2])  # another county's enterprise
    assert client.get(detail).status_code == 404
    assert client.get(reverse("notices:need_attachment", args=[need.pk])).status_code == 404

    client.force_login(world.county_users[1])
    assert client.post(reverse("notices:need_reply", args=[need.pk]), {"text": "x"}).status_code == 404

    client.force_login(world.county_users[0])
    assert client.get(reverse("notices:need_reply", args=[need.pk])).status_code == 405
    assert client.post(reverse("notices:need_reply", args=[need.pk]), {"text": ""}).status_code == 400
    response = client.post(reverse("notices:need_reply", args=[need.pk]), {"text": "已受理，三日内答复"})
    assert response.status_code == 302
    assert client.post(reverse("notices:need_resolve", args=[need.pk]), {"text": ""}).status_code == 302
    response = client.post(reverse("notices:need_forward", args=[need.pk]), {"text": ""})
    assert response.status_code == 409

    client.force_login(world.liaisons[0])
    page = client.get(detail)
    assert page.status_code == 200
    assert "已受理，三日内答复" in page.content.decode()
    assert page.context["need"].state == NeedState.RESOLVED


def test_a_county_office_cannot_report_through_the_page(client, world):
    client.force_login(world.county_users[0])
    assert client.get(reverse("notices:need_create")).status_code == 403


@pytest.mark.parametrize("rows", [2, 20])
def test_need_list_runs_a_constant_number_of_queries(client, world, rows, django_assert_max_num_queries):
    for i in range(rows):
        needs.report_need(world.liaisons[i % 2], Need.Category.OTHER, f"问题{i}")
    client.force_login(world.county_users[0])
    with django_assert_max_num_queries(8):
        response = client.get(reverse("notices:need_list"))
    assert len(response.context["page_obj"].object_list) == rows
    pending = client.get(reverse("notices:need_list"), {"state": "resolved"})
    assert len(pending.context["page_obj"].object_list) == 0
