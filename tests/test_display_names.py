"""One rule names people to others (Profile.display_name): offices by their office name,
liaisons by person and enterprise, never a username when a name is known."""

import pytest
from django.template import Context, Template
from django.utils import translation

from enterprises.models import display_name

from .factories import (
    EnterpriseFactory,
    RegionFactory,
    UserFactory,
    city_office,
    county_office,
    liaison,
    observer,
    pdf_upload,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _chinese():
    with translation.override("zh-hans"):
        yield


def test_an_office_is_named_by_its_office_not_its_username():
    city = RegionFactory.city(name="徐州市")
    county = RegionFactory.county(parent=city, name="邳州市")
    assert display_name(county_office(county, username="county10")) == "邳州市产改办"
    assert display_name(city_office(city, username="city")) == "徐州市产改办"


def test_a_liaison_is_named_by_person_and_enterprise_with_full_width_brackets():
    enterprise = EnterpriseFactory(name="徐州云集港口有限公司", liaison_name="张三")
    user = liaison(enterprise, username="ent0001")
    assert display_name(user) == "张三（徐州云集港口有限公司）"
    user.profile.person_name = "李四"
    user.profile.save()
    fresh = type(user).objects.get(pk=user.pk)
    assert display_name(fresh) == "李四（徐州云集港口有限公司）"


def test_an_observer_and_an_account_without_a_role():
    county = RegionFactory.county(name="鼓楼区")
    assert display_name(observer(county, username="obs1")) == "obs1（鼓楼区）"
    assert display_name(UserFactory(username="root")) == "root"
    assert display_name(None) == ""


def test_the_template_filter_uses_the_same_rule():
    enterprise = EnterpriseFactory(name="徐州测试公司", liaison_name="王五")
    user = liaison(enterprise)
    rendered = Template("{% load people %}{{ user|display_name }}").render(Context({"user": user}))
    assert rendered == "王五（徐州测试公司）"


# --- Every page that names a person to others uses the rule --------------------------------


@pytest.fixture
def named_world(world):
    """The conftest world with people's names: the liaison of 徐州云集港口有限公司 is 王五."""
    profile = world.liaisons[0].profile
    profile.person_name = "王五"
    profile.save()
    return world


LIAISON_NAME = "王五（徐州云集港口有限公司）"
COUNTY_OFFICE = "鼓楼区产改办"
CITY_OFFICE = "徐州市产改办"


def _reviewed_twice(world):
    """e11's check-in returned by the city after the county approved, then resubmitted."""
    from tasks import services

    assignment = world.period.assignments.get(enterprise=world.enterprises[0], indicator=world.ind)
    first = services.submit_checkin(world.liaisons[0], assignment, "已开展技能竞赛。", [pdf_upload()])
    services.approve(world.county_users[0], first, "材料齐全")
    services.return_checkin(world.city_user, first, "请补充照片")
    second = services.submit_checkin(world.liaisons[0], assignment, "已补充。", [pdf_upload()])
    services.approve(world.county_users[0], second, "同意")
    return assignment, second


def _text(response):
    import re

    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_review_records_and_history_name_people_not_accounts(client, named_world, django_assert_max_num_queries):
    from django.urls import reverse

    world = named_world
    assignment, second = _reviewed_twice(world)
    client.force_login(world.city_user)
    html = _text(client.get(reverse("tasks:checkin_detail", args=[second.pk])))
    assert LIAISON_NAME in html  # "Submitted by" of both versions
    assert COUNTY_OFFICE in html and CITY_OFFICE in html  # the review record of both versions
    for username in ("ent0001", "county01"):
        assert username not in html
    # The liaison's own page says who returned the first version.
    client.force_login(world.liaisons[0])
    page = client.get(reverse("tasks:assignment_detail", args=[assignment.pk]))
    assert CITY_OFFICE in _text(page) and "county01" not in _text(page) and ">city<" not in page.content.decode()

    # Names cost no query per version or event: a third version adds none.
    client.force_login(world.city_user)
    with django_assert_max_num_queries(40) as before:
        client.get(reverse("tasks:checkin_detail", args=[second.pk]))
    from tasks import services

    services.return_checkin(world.city_user, second, "再补充")
    third = services.submit_checkin(world.liaisons[0], assignment, "再次补充。", [pdf_upload()])
    services.approve(world.county_users[0], third, "同意")
    with django_assert_max_num_queries(len(before.captured_queries)):
        client.get(reverse("tasks:checkin_detail", args=[third.pk]))


def test_the_banner_names_the_signed_in_person_and_scope(client, named_world):
    from django.urls import reverse

    client.force_login(named_world.liaisons[0])
    html = client.get(reverse("tasks:assignment_list")).content.decode()
    # The person, and beside it the role and the scope (not twice the enterprise).
    assert '<span class="whoami__name">王五</span>' in html
    assert '<span class="whoami__scope">徐州云集港口有限公司</span>' in html and LIAISON_NAME not in html
    client.force_login(named_world.county_users[0])
    html = client.get(reverse("tasks:assignment_list")).content.decode()
    assert f'<span class="whoami__name">{COUNTY_OFFICE}</span>' in html and ">county01<" not in html


def test_a_need_thread_names_the_liaison_and_the_offices(client, named_world):
    from django.urls import reverse

    from notices import needs
    from notices.models import Need

    world = named_world
    need = needs.report_need(world.liaisons[0], Need.Category.TRAINING, "希望组织数控车工技能培训")
    needs.reply_need(world.county_users[0], need, "已联系人社局")
    client.force_login(world.county_users[0])
    html = _text(client.get(reverse("notices:need_detail", args=[need.pk])))
    assert LIAISON_NAME in html and COUNTY_OFFICE in html
    assert "ent0001" not in html and "county01" not in html


def test_notices_are_signed_by_the_office_and_readers_are_named(client, named_world, django_assert_max_num_queries):
    from django.urls import reverse

    from notices.models import Notice
    from notices.publishing import publish_notice, record_notice_read

    world = named_world
    notice = publish_notice(world.city_user, "全市通知", "请按时打卡。", Notice.Audience.CITY)
    record_notice_read(world.liaisons[0], notice)
    client.force_login(world.liaisons[0])
    assert CITY_OFFICE in _text(client.get(reverse("notices:notice_list")))
    assert CITY_OFFICE in _text(client.get(reverse("notices:notice_detail", args=[notice.pk])))

    client.force_login(world.city_user)
    url = reverse("notices:notice_readers", args=[notice.pk])
    html = _text(client.get(url))
    assert LIAISON_NAME in html and COUNTY_OFFICE in html and "云龙区产改办" in html
    assert "ent0001" not in html and "county01" not in html
    with django_assert_max_num_queries(30) as few:
        client.get(url)
    for n in range(5):  # more readers, the same queries
        liaison(EnterpriseFactory(county=world.counties[0], name=f"徐州新增{n}号有限公司"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert "徐州新增4号有限公司" in _text(response)


def test_the_scoring_rule_history_names_the_office(client, named_world):
    from django.urls import reverse

    from scoring.services import change_scoring_rule

    world = named_world
    change_scoring_rule(world.city_user, world.period, "50", "50", "dense", True)
    client.force_login(world.city_user)
    html = client.get(f"{reverse('scoring:rule')}?period={world.period.pk}").content.decode()
    history = _text_of(html[html.index('id="rule-changes"') : html.index("</table>", html.index('id="rule-changes"'))])
    assert CITY_OFFICE in history and " city " not in f" {history} "


def _text_of(html):
    import re

    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_api_names_actors_beside_their_usernames(named_world, django_assert_max_num_queries):
    from rest_framework.test import APIClient

    world = named_world
    _reviewed_twice(world)
    client = APIClient()
    client.force_authenticate(world.city_user)
    me = client.get("/api/me/").json()
    assert (me["username"], me["display_name"]) == ("city", CITY_OFFICE)
    with django_assert_max_num_queries(20) as few:
        checkins = client.get("/api/checkins/").json()["results"]
    latest = checkins[0]
    assert (latest["submitted_by"], latest["submitted_by_name"]) == ("ent0001", LIAISON_NAME)
    assert [(e["actor"], e["actor_name"]) for e in latest["events"]] == [
        ("ent0001", LIAISON_NAME),
        ("county01", COUNTY_OFFICE),
    ]
    # A check-in of another enterprise adds no query.
    from tasks import services

    other = world.period.assignments.get(enterprise=world.enterprises[1], indicator=world.ind)
    services.submit_checkin(world.liaisons[1], other, "说明", [pdf_upload()])
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get("/api/checkins/").json()["results"]) == 3


def test_the_api_schema_documents_the_name_fields(schema):
    schemas = schema["components"]["schemas"]
    assert "display_name" in schemas["Me"]["properties"]
    assert "邳州市产改办" in schemas["ReviewEvent"]["properties"]["actor_name"]["description"]
    assert schemas["CheckIn"]["properties"]["submitted_by_name"]["readOnly"] is True
    assert "moved_by_name" in schemas["EnterpriseMoveRecord"]["properties"]
    assert "actor" in schemas["ReviewEvent"]["properties"]  # the username stays, for compatibility


def test_the_admin_lists_name_the_actors(client, named_world):
    from django.urls import reverse

    world = named_world
    _reviewed_twice_result = _reviewed_twice(world)
    client.force_login(world.admin)
    html = client.get(reverse("admin:tasks_reviewevent_changelist")).content.decode()
    assert LIAISON_NAME in html and COUNTY_OFFICE in html and CITY_OFFICE in html
    html = client.get(reverse("admin:tasks_checkin_changelist")).content.decode()
    assert LIAISON_NAME in html
    # The review trail inline of a check-in's page, too.
    _assignment, second = _reviewed_twice_result
    html = client.get(reverse("admin:tasks_checkin_change", args=[second.pk])).content.decode()
    assert COUNTY_OFFICE in html and LIAISON_NAME in html
