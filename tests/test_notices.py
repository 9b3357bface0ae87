"""Notices (政策直达): who receives which notice, read receipts, the sender's read list."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from notices.models import Notice, NoticeRead
from notices.publishing import publish_notice, record_notice_read
from notifications.models import Notification

from . import factories as f

Audience = Notice.Audience


def visible(user):
    return set(Notice.objects.visible_to(user).values_list("title", flat=True))


@pytest.fixture
def notices(world):
    """One notice of each kind: the city to all, to 鼓楼区, to small enterprises; 云龙区 to itself."""
    return {
        "all": publish_notice(world.city_user, "全市通知", "正文", Audience.CITY),
        "county": publish_notice(world.city_user, "鼓楼区通知", "正文", Audience.COUNTY, target_county=world.counties[0]),
        "small": publish_notice(world.city_user, "小型企业通知", "正文", Audience.SIZE_CLASS, target_size="small"),
        "own": publish_notice(world.county_users[1], "云龙区自发通知", "正文", ""),
    }


def test_each_audience_reaches_exactly_its_enterprises(world, notices):
    # e11 (鼓楼区, large), e12 (鼓楼区, medium), e21 (云龙区, small), e22 (云龙区, micro)
    assert visible(world.liaisons[0]) == {"全市通知", "鼓楼区通知"}
    assert visible(world.liaisons[1]) == {"全市通知", "鼓楼区通知"}
    assert visible(world.liaisons[2]) == {"全市通知", "小型企业通知", "云龙区自发通知"}
    assert visible(world.liaisons[3]) == {"全市通知", "云龙区自发通知"}


def test_county_offices_receive_city_notices_concerning_them_and_their_own(world, notices):
    assert visible(world.county_users[0]) == {"全市通知", "鼓楼区通知", "小型企业通知"}
    assert visible(world.county_users[1]) == {"全市通知", "小型企业通知", "云龙区自发通知"}
    assert visible(world.city_user) == {"全市通知", "鼓楼区通知", "小型企业通知", "云龙区自发通知"}


def test_a_liaison_in_another_county_gets_404_on_a_county_notice(client, world, notices):
    client.force_login(world.liaisons[2])  # 云龙区
    assert client.get(reverse("notices:notice_detail", args=[notices["county"].pk])).status_code == 404
    assert not NoticeRead.objects.exists()


def test_publishing_notifies_the_audience(world, notices):
    notified = set(
        Notification.objects.filter(kind=Notification.Kind.NOTICE, link__endswith=f"/{notices['county'].pk}/")
        .values_list("recipient__username", flat=True)
    )
    assert notified == {"ent0001", "ent0002", "county01"}


def test_a_county_office_publishes_to_its_own_county_only(world):
    with pytest.raises(PermissionDenied):
        publish_notice(world.county_users[0], "越权通知", "正文", Audience.CITY)
    with pytest.raises(PermissionDenied):
        publish_notice(world.county_users[0], "越权通知", "正文", Audience.COUNTY, target_county=world.counties[1])
    with pytest.raises(PermissionDenied):
        publish_notice(world.liaisons[0], "企业通知", "正文", Audience.CITY)
    with pytest.raises(ValidationError):
        publish_notice(world.city_user, "", "正文", Audience.CITY)
    other_county = f.RegionFactory.county()
    with pytest.raises(ValidationError):
        publish_notice(world.city_user, "外市", "正文", Audience.COUNTY, target_county=other_county)
    assert not Notice.objects.exists()


def test_opening_records_one_read_receipt_and_the_list_marks_unread(client, world, notices):
    liaison = world.liaisons[0]
    client.force_login(liaison)
    response = client.get(reverse("notices:notice_list"))
    flags = {n.title: n.is_read for n in response.context["page_obj"]}
    assert flags == {"全市通知": False, "鼓楼区通知": False}
    for _ in range(2):
        assert client.get(reverse("notices:notice_detail", args=[notices["all"].pk])).status_code == 200
    assert NoticeRead.objects.filter(notice=notices["all"], user=liaison).count() == 1
    response = client.get(reverse("notices:notice_list"))
    assert {n.title: n.is_read for n in response.context["page_obj"]} == {"全市通知": True, "鼓楼区通知": False}


def test_the_sender_sees_who_has_read_and_who_has_not(client, world, notices):
    notice = notices["county"]
    record_notice_read(world.liaisons[0], notice)
    client.force_login(world.city_user)
    response = client.get(reverse("notices:notice_readers", args=[notice.pk]))
    assert response.status_code == 200
    assert (response.context["total"], response.context["read"], response.context["unread"]) == (3, 1, 2)
    rows = {u.username: u.read_at is not None for u in response.context["page_obj"]}
    assert rows == {"ent0001": True, "ent0002": False, "county01": False}
    unread = client.get(reverse("notices:notice_readers", args=[notice.pk]), {"show": "unread"})
    assert {u.username for u in unread.context["page_obj"]} == {"ent0002", "county01"}


def test_only_the_sending_office_sees_the_read_list(client, world, notices):
    client.force_login(world.county_users[0])  # receives the notice, did not send it
    assert client.get(reverse("notices:notice_readers", args=[notices["county"].pk])).status_code == 403
    client.force_login(world.liaisons[0])
    assert client.get(reverse("notices:notice_readers", args=[notices["county"].pk])).status_code == 403
    client.force_login(world.county_users[1])
    assert client.get(reverse("notices:notice_readers", args=[notices["own"].pk])).status_code == 200
    assert client.get(reverse("notices:notice_readers", args=[notices["county"].pk])).status_code == 404


@pytest.mark.parametrize("rows", [2, 20])
def test_read_list_runs_a_constant_number_of_queries(client, world, rows, django_assert_max_num_queries):
    for i in range(rows):
        f.liaison(f.EnterpriseFactory(county=world.counties[0]), username=f"many{i:02d}")
    notice = publish_notice(world.city_user, "全市通知", "正文", Audience.CITY)
    for user in list(f.UserFactory._meta.model.objects.filter(username__startswith="many"))[: rows // 2]:
        record_notice_read(user, notice)
    client.force_login(world.city_user)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("notices:notice_readers", args=[notice.pk]))
    assert response.context["total"] == rows + 6  # + 4 world liaisons + 2 county offices
    assert response.context["read"] == rows // 2


@pytest.mark.parametrize("rows", [2, 20])
def test_notice_list_runs_a_constant_number_of_queries(client, world, rows, django_assert_max_num_queries):
    for i in range(rows):
        publish_notice(world.city_user, f"通知{i}", "正文", Audience.COUNTY, target_county=world.counties[0])
    client.force_login(world.liaisons[0])
    with django_assert_max_num_queries(8):
        response = client.get(reverse("notices:notice_list"))
    assert len(response.context["page_obj"].object_list) == rows


def test_publish_through_the_page_with_an_attachment_and_download_it(client, world):
    client.force_login(world.city_user)
    assert client.get(reverse("notices:notice_create")).status_code == 200
    response = client.post(
        reverse("notices:notice_create"),
        {
            "title": "关于开展劳动技能竞赛的通知",
            "body": "各企业：……",
            "audience": "county",
            "target_county": world.counties[1].pk,
            "target_size": "",
            "files": [f.pdf_upload("竞赛方案.pdf")],
        },
    )
    assert response.status_code == 302
    notice = Notice.objects.get()
    attachment = notice.attachments.get()
    url = reverse("notices:notice_attachment", args=[attachment.pk])

    client.force_login(world.liaisons[2])  # 云龙区: in the audience
    response = client.get(url)
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "attachment" in response["Content-Disposition"]
    client.force_login(world.liaisons[0])  # 鼓楼区: not
    assert client.get(url).status_code == 404


def test_a_bad_attachment_is_refused_with_400_and_nothing_saved(client, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(world.county_users[0])
    response = client.post(
        reverse("notices:notice_create"),
        {"title": "通知", "body": "正文", "files": [SimpleUploadedFile("脚本.exe", b"MZ....")]},
    )
    assert response.status_code == 400
    assert not Notice.objects.exists()


def test_liaisons_may_not_open_the_publish_page(client, world):
    client.force_login(world.liaisons[0])
    assert client.get(reverse("notices:notice_create")).status_code == 403
