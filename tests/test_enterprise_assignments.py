"""An enterprise that enters the reform gets its check-in tasks at once: created by the
spreadsheet import, by the admin's form or its django-import-export import, or back in the
reform (is_active False → True), in the same transaction (tasks.services.assign_enterprises).

The API has no enterprise create (it is read-only plus move), so it has no path to test here.
"""

import pytest
import tablib
from django.contrib.auth.models import Permission
from django.urls import reverse

from enterprises.models import Enterprise, Profile
from scoring.models import RecomputeRequest
from spreadsheets.imports import services as import_services
from spreadsheets.resources import EnterpriseResource
from tasks import services
from tasks.models import Assignment

from . import factories as f
from .test_imports import code, row, stored, upload, xlsx


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def library(world):
    """Besides the world's B01 (every enterprise) and X01 (county offices): B02 for large
    enterprises only, an inactive B03, a closed period and another city's open one."""
    f.IndicatorFactory(city=world.city, code="B02", applies_to_sizes=["large"])
    f.IndicatorFactory(city=world.city, code="B03", is_active=False)
    closed = f.PeriodFactory(city=world.city, name="2025年度", is_closed=True)
    return closed


def tasks_of(credit_code):
    return sorted(
        Assignment.objects.filter(enterprise__credit_code=credit_code).values_list("period__name", "indicator__code")
    )


def test_import_creates_the_enterprises_with_their_tasks_of_every_open_period(world, library, other_city, tmp_path):
    office_tasks = Assignment.objects.filter(enterprise__isnull=True).count()
    other_tasks = Assignment.objects.filter(period=other_city.period).count()
    sheet = stored(tmp_path, xlsx([row(1), row(2, **{"Size class": "Small"}), row(3, **{"In the reform": "No"})]))
    result = import_services.apply_import(world.city_user, "enterprises", sheet)
    assert result.created == 3
    assert tasks_of(code(1)) == [("2026年度", "B01"), ("2026年度", "B02")]  # not the closed period, not inactive B03
    assert tasks_of(code(2)) == [("2026年度", "B01")]  # B02 is for large enterprises
    assert tasks_of(code(3)) == []  # not in the reform
    assert result.tasks_created == 3
    assert Assignment.objects.get(enterprise__credit_code=code(1), indicator__code="B01").county == world.counties[0]
    assert Assignment.objects.filter(enterprise__isnull=True).count() == office_tasks
    assert Assignment.objects.filter(period=other_city.period).count() == other_tasks
    # Their rankings are asked for with them.
    new_ids = set(Enterprise.objects.filter(credit_code__in=[code(1), code(2)]).values_list("pk", flat=True))
    assert new_ids <= set(RecomputeRequest.objects.values_list("enterprise_id", flat=True))

    # Importing the same sheet again creates nothing more.
    again = import_services.apply_import(world.city_user, "enterprises", stored(tmp_path, xlsx([row(1)]), "again.xlsx"))
    assert (again.unchanged, again.tasks_created) == (1, 0)
    assert len(tasks_of(code(1))) == 2


def test_an_import_that_fails_mid_way_leaves_neither_enterprises_nor_tasks(world, tmp_path, monkeypatch):
    before = (Enterprise.objects.count(), Assignment.objects.count())

    def boom(*args, **kwargs):
        raise RuntimeError("the database went away")

    # The accounts are written after the enterprises and their tasks.
    monkeypatch.setattr(Profile.objects, "bulk_create", boom)
    with pytest.raises(RuntimeError):
        import_services.apply_import(world.city_user, "enterprises", stored(tmp_path, xlsx([row(1), row(2)])))
    assert (Enterprise.objects.count(), Assignment.objects.count()) == before


def test_an_enterprise_back_in_the_reform_gets_its_missing_tasks(world, library, tmp_path):
    enterprise = world.enterprises[0]  # large: B01 and B02
    Enterprise.objects.filter(pk=enterprise.pk).update(is_active=False)
    kept = Assignment.objects.get(enterprise=enterprise, indicator=world.ind)
    sheet_row = row(
        1, **{"Unified social credit code": enterprise.credit_code, "Enterprise name": enterprise.name,
              "Size class": "Large", "Ownership": enterprise.get_ownership_display(),
              "Pilot level": enterprise.get_pilot_level_display(), "Employees": enterprise.employees,
              "Liaison account": "", "In the reform": "Yes"}
    )
    result = import_services.apply_import(world.city_user, "enterprises", stored(tmp_path, xlsx([sheet_row])))
    assert result.updated == 1 and result.tasks_created == 1
    assert tasks_of(enterprise.credit_code) == [("2026年度", "B01"), ("2026年度", "B02")]
    assert Assignment.objects.get(enterprise=enterprise, indicator=world.ind).pk == kept.pk  # its work is kept


def test_the_import_result_says_how_many_tasks_were_created(client, world):
    client.force_login(world.city_user)
    location = upload(client, xlsx([row(1), row(2)]))["Location"]
    done = client.post(location + "confirm/", follow=True)
    text = done.content.decode()
    assert "2 created" in text
    assert "2 check-in tasks were created for the enterprises new in the reform." in text
    assert Assignment.objects.filter(enterprise__credit_code__in=[code(1), code(2)]).count() == 2


def test_generate_for_some_enterprises_only_and_in_chunks(world, monkeypatch):
    new = [f.EnterpriseFactory(county=world.counties[1]) for _ in range(3)]
    ignored = f.EnterpriseFactory(county=world.counties[0])
    monkeypatch.setattr(services, "ENTERPRISE_CHUNK", 2)
    assert services.generate_assignments(world.period, enterprises=[e.pk for e in new]) == 3
    assert not Assignment.objects.filter(enterprise=ignored).exists()
    assert services.generate_assignments(world.period, enterprises=[e.pk for e in new]) == 0
    assert services.generate_assignments(world.period, enterprises=[]) == 0
    assert services.assign_enterprises([ignored.pk]) == 1


# --- the admin ------------------------------------------------------------------------------


@pytest.fixture
def staff(world, client):
    """The city office with the admin rights seed_demo gives the 市产改办 group."""
    user = world.city_user
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="enterprises"))
    client.force_login(user)
    return client


def _form(**overrides):
    data = {
        "name": "徐州新建机械有限公司",
        "credit_code": code(7),
        "is_active": "on",
        "size_class": "large",
        "ownership": "private",
        "pilot_level": "none",
        "employees": 50,
        "liaison_name": "",
        "liaison_phone": "",
    }
    data.update(overrides)
    return data


def test_an_enterprise_added_in_the_admin_gets_its_tasks(world, library, staff):
    response = staff.post(
        reverse("admin:enterprises_enterprise_add"), _form(county=world.counties[1].pk), follow=True
    )
    assert response.status_code == 200
    assert tasks_of(code(7)) == [("2026年度", "B01"), ("2026年度", "B02")]
    assert "2 check-in tasks created in the open periods" in response.content.decode()


def test_an_enterprise_back_in_the_reform_in_the_admin_gets_its_tasks(world, staff):
    enterprise = world.enterprises[2]
    Enterprise.objects.filter(pk=enterprise.pk).update(is_active=False)
    Assignment.objects.filter(enterprise=enterprise).delete()
    url = reverse("admin:enterprises_enterprise_change", args=[enterprise.pk])
    data = _form(name=enterprise.name, credit_code=enterprise.credit_code, county=enterprise.county_id,
                 size_class=enterprise.size_class)
    assert staff.post(url, data).status_code == 302
    assert tasks_of(enterprise.credit_code) == [("2026年度", "B01")]
    # Another save changes nothing more.
    data["employees"] = 51
    assert staff.post(url, data).status_code == 302
    assert Assignment.objects.filter(enterprise=enterprise).count() == 1


def test_the_admin_import_gives_new_enterprises_their_tasks_and_a_dry_run_none(world):
    exported = EnterpriseResource().export(queryset=Enterprise.objects.filter(pk=world.enterprises[0].pk))
    cells = list(exported[0])
    cells[0], cells[1] = code(8), "徐州导入测试有限公司"
    data = tablib.Dataset(cells, headers=exported.headers)
    result = EnterpriseResource().import_data(data, dry_run=True, user=world.city_user, use_transactions=True)
    assert not result.has_errors() and not result.has_validation_errors()
    assert not Enterprise.objects.filter(credit_code=code(8)).exists()
    assert not Assignment.objects.filter(enterprise__credit_code=code(8)).exists()

    result = EnterpriseResource().import_data(data, dry_run=False, user=world.city_user, use_transactions=True)
    assert not result.has_errors() and not result.has_validation_errors()
    assert tasks_of(code(8)) == [("2026年度", "B01")]


def test_a_large_set_of_new_enterprises_asks_for_one_full_recompute(world, monkeypatch):
    monkeypatch.setattr(services, "FULL_RECOMPUTE_FROM", 1)
    new = [f.EnterpriseFactory(county=world.counties[0]) for _ in range(2)]
    assert services.assign_enterprises([e.pk for e in new]) == 2
    assert list(RecomputeRequest.objects.values_list("period_id", "enterprise_id", "full")) == [
        (world.period.pk, None, True)
    ]
