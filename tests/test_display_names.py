"""One rule names people to others (Profile.display_name): offices by their office name,
liaisons by person and enterprise, never a username when a name is known."""

import pytest
from django.template import Context, Template
from django.utils import translation

from enterprises.models import display_name

from .factories import EnterpriseFactory, RegionFactory, UserFactory, city_office, county_office, liaison, observer

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
