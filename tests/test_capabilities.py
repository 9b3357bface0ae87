"""Who may do what outside the check-in workflow (enterprises/capabilities.py): every role
against every capability, as the code decided it before the rules were gathered in one
module, and the navigation that base.html draws from them."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from django.utils.translation import gettext

from enterprises import capabilities
from enterprises.capabilities import Capabilities
from enterprises.models import Profile
from tests import factories as f

CAPABILITIES = (
    "may_export",
    "may_import",
    "may_publish_notices",
    "may_report_needs",
    "may_curate_cases",
    "may_unlock_accounts",
    "may_change_scoring_rule",
    "may_see_county_rankings",
    "may_move_enterprises",
)

# Who -> the capabilities they hold (everything else is refused).
EXPECTED = {
    "city office": set(CAPABILITIES) - {"may_report_needs"},
    "other city's office": set(CAPABILITIES) - {"may_report_needs"},
    "county office": {"may_export", "may_publish_notices", "may_see_county_rankings"},
    "other city's county office": {"may_export", "may_publish_notices", "may_see_county_rankings"},
    "liaison": {"may_report_needs"},
    "other city's liaison": {"may_report_needs"},
    "county observer": {"may_see_county_rankings"},
    "city observer": {"may_see_county_rankings"},
    "enterprise observer": set(),
    "superuser without a role": set(),
    "anonymous": set(),
}


def _user(who, world, other_city):
    return {
        "city office": lambda: world.city_user,
        "other city's office": lambda: other_city.city_user,
        "county office": lambda: world.county_users[0],
        "other city's county office": lambda: other_city.county_user,
        "liaison": lambda: world.liaisons[0],
        "other city's liaison": lambda: other_city.liaison,
        "county observer": lambda: world.observer,
        "city observer": lambda: f.observer(world.city, username="city_observer"),
        "enterprise observer": lambda: f.observer(world.enterprises[0], username="ent_observer"),
        "superuser without a role": lambda: world.admin,
        "anonymous": AnonymousUser,
    }[who]()


@pytest.mark.parametrize("capability", CAPABILITIES)
@pytest.mark.parametrize("who", EXPECTED)
def test_each_role_holds_exactly_the_capabilities_it_held_before(world, other_city, who, capability):
    profile = Profile.for_user(_user(who, world, other_city))
    expected = capability in EXPECTED[who]
    assert getattr(capabilities, capability)(profile) is expected
    assert getattr(Capabilities.of(profile), capability) is expected


@pytest.mark.parametrize("who", EXPECTED)
def test_the_capabilities_object_has_nothing_the_functions_refuse(world, other_city, who):
    profile = Profile.for_user(_user(who, world, other_city))
    caps = Capabilities.of(profile)
    assert {name for name in CAPABILITIES if getattr(caps, name)} == EXPECTED[who]


# Who -> the links of the navigation bar and the who-am-I bar they see (as before: the
# offices' review queue, enterprise list and spreadsheets, the city office's locked logins).
NAV = {
    "dashboards:index": {"city office", "county office", "liaison"},
    "tasks:review_queue": {"city office", "county office"},
    "dashboards:enterprise_list": {"city office", "county office"},
    "spreadsheets:index": {"city office", "county office"},
    "unlock_accounts": {"city office"},
}


@pytest.mark.parametrize("who", ["city office", "county office", "liaison", "county observer", "superuser without a role"])
def test_the_navigation_shows_each_role_the_links_it_may_follow(client, world, other_city, who):
    client.force_login(_user(who, world, other_city))
    html = client.get(reverse("notices:notice_list")).content.decode()
    for name, holders in NAV.items():
        link = f'href="{reverse(name)}"'
        assert (link in html) is (who in holders), name


@pytest.mark.parametrize(
    ("who", "title"),
    [("city office", "All tasks"), ("county office", "My tasks"), ("liaison", "My tasks"), ("county observer", "My tasks")],
)
def test_the_task_link_is_named_for_whose_tasks_they_are(client, world, other_city, who, title):
    client.force_login(_user(who, world, other_city))
    response = client.get(reverse("notices:notice_list"))
    assert response.context["caps"] == Capabilities.of(Profile.for_user(_user(who, world, other_city)))
    assert f'href="{reverse("tasks:assignment_list")}">{gettext(title)}<' in response.content.decode()
