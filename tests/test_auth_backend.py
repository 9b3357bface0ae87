"""The session's user is loaded with its profile and scope chain in one query
(enterprises.auth.PortalModelBackend), and who may be loaded is Django's rule."""

import pytest
from django.urls import reverse

from enterprises.auth import PortalModelBackend
from enterprises.models import Profile

from . import factories as f

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("who", ["liaison", "county", "city"])
def test_the_user_comes_with_its_profile_and_scope_chain(world, who, django_assert_num_queries):
    user = {"liaison": world.liaisons[0], "county": world.county_users[0], "city": world.city_user}[who]
    with django_assert_num_queries(1):
        loaded = PortalModelBackend().get_user(user.pk)
    with django_assert_num_queries(0):
        profile = Profile.for_user(loaded)
        assert profile.user_id == user.pk
        assert profile.city == world.city  # the whole chain up to the city is loaded
        assert profile.scope_label


def test_a_user_without_a_profile_has_none_without_another_query(db, django_assert_num_queries):
    user = f.UserFactory()
    loaded = PortalModelBackend().get_user(user.pk)
    with django_assert_num_queries(0):
        assert Profile.for_user(loaded) is None


def test_inactive_and_unknown_users_are_not_loaded(world):
    user = world.liaisons[0]
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert PortalModelBackend().get_user(user.pk) is None
    assert PortalModelBackend().get_user(10**9) is None


def test_a_page_loads_the_profile_once_with_the_user(client, world, django_assert_max_num_queries):
    client.force_login(world.liaisons[0])
    client.get(reverse("tasks:assignment_list"))  # warm up the period and content type caches
    with django_assert_max_num_queries(20) as queries:
        assert client.get(reverse("tasks:assignment_list")).status_code == 200
    profile_reads = [q["sql"] for q in queries.captured_queries if 'FROM "enterprises_profile"' in q["sql"]]
    assert profile_reads == []  # it came joined to the user's row
