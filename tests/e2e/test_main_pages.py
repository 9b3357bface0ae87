"""The list of every role's main pages (tests/e2e/main_pages.py) that the browser sweeps use:
each page answers 200 to its role, so a sweep never measures an error page."""

import pytest

from tests.e2e.main_pages import ROLES, USERNAMES, main_pages

pytestmark = pytest.mark.django_db


def test_every_main_page_answers_its_role(client, world):
    from django.contrib.auth import get_user_model

    pages = main_pages(world)
    assert set(pages) == set(ROLES)
    for role in ROLES:
        client.force_login(get_user_model().objects.get(username=USERNAMES[role]))
        for label, path in pages[role]:
            response = client.get(path)
            assert response.status_code == 200, f"{role} {label} {path}: {response.status_code}"
