"""No select of the portal offers Django's `---------`: a filter's blank choice reads 全部 (all), a form's
required choice reads 请选择 (choose), an optional one reads 不限/无 as its meaning says."""

import pytest
from django.urls import reverse

from .e2e.main_pages import main_pages

DASHES = "---------"
THIRD_PARTY = {"auth", "axes", "knox"}


def _users(world):
    return {
        "liaison": world.liaisons[0],
        "county": world.county_users[0],
        "city": world.city_user,
        "observer": world.observer,
    }


def _form_pages(role):
    """The create forms behind the main pages (not in main_pages); the import forms are on the spreadsheets page."""
    pages = {
        "liaison": [("need-new", reverse("notices:need_create"))],
        "county": [("notice-new", reverse("notices:notice_create"))],
        "city": [("notice-new", reverse("notices:notice_create"))],
    }.get(role, [])
    return pages


@pytest.mark.django_db
def test_no_page_of_any_role_offers_dashes_as_a_choice(client, world):
    pages = main_pages(world)
    seen, offenders = [], []
    for role, user in _users(world).items():
        client.force_login(user)
        for label, path in pages[role] + _form_pages(role):
            response = client.get(path)
            if response.status_code != 200:
                continue  # a form the role may not open (403/404) shows no select
            seen.append((role, label))
            if DASHES in response.content.decode():
                offenders.append(f"{role} {label} {path}")
    assert not offenders, f"{DASHES} offered on: " + ", ".join(offenders)
    assert len(seen) > 40


@pytest.mark.django_db
def test_no_admin_form_or_action_menu_offers_dashes(client, world):
    """Every add form and change list of the portal's admin, as a superuser (who sees every field and action)
    and as the city office's staff (who reaches only the portal's own models). The action menus of Django's
    and axes' own admins (users, access logs), reached by a superuser only, keep Django's blank."""
    from django.contrib import admin

    main_pages(world)  # rows in every change list, so that the action menus render
    offenders = []
    for user in (world.admin, world.city_user):
        client.force_login(user)
        for model in admin.site._registry:
            if user.is_superuser and model._meta.app_label in THIRD_PARTY:
                continue
            info = model._meta.app_label, model._meta.model_name
            for view in ("add", "changelist"):
                path = reverse(f"admin:{info[0]}_{info[1]}_{view}")
                response = client.get(path)
                if response.status_code == 200 and DASHES in response.content.decode():
                    offenders.append(f"{user.username} {path}")
    assert not offenders, f"{DASHES} offered on: " + ", ".join(offenders)


def test_the_blank_choice_reads_please_choose_when_required_and_none_when_optional():
    from enterprises.admin import blank_choice_label
    from enterprises.models import Enterprise

    assert str(blank_choice_label(Enterprise._meta.get_field("county"))) == "请选择"
    optional = next(f for f in Enterprise._meta.get_fields() if getattr(f, "blank", False) and f.concrete)
    assert str(blank_choice_label(optional)) == "无"
