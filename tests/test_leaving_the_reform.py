"""An enterprise leaving (or rejoining) the reform changes today's ranking within the same
job that a score would run, whichever way it was changed: a save (the admin, the admin's
import) or the spreadsheet import's bulk update. Closed periods keep their rankings."""

import io
from decimal import Decimal

import pytest
from openpyxl import Workbook

from enterprises.models import Enterprise
from scoring.engine import compute_snapshot
from scoring.models import RankingSnapshot, RecomputeRequest
from spreadsheets.imports.services import apply_import
from spreadsheets.resources import EnterpriseResource
from tasks.models import Assignment, AssignmentState

pytestmark = pytest.mark.django_db


@pytest.fixture
def ranked(world, assignment_of):
    for enterprise, points in zip(world.enterprises, ("6", "4", "2", "1"), strict=True):
        Assignment.objects.filter(pk=assignment_of(enterprise).pk).update(
            state=AssignmentState.SCORED, points=Decimal(points)
        )
    return compute_snapshot(world.period)


def ranked_names(snapshot):
    return list(snapshot.enterprise_rankings.with_ranks().order_by("rank_in_city", "enterprise__name")
                .values_list("enterprise__name", "rank_in_city"))


def test_a_saved_enterprise_leaving_the_reform_leaves_todays_ranking(world, ranked, django_capture_on_commit_callbacks):
    leaver = world.enterprises[0]
    leaver.is_active = False
    with django_capture_on_commit_callbacks(execute=True):
        leaver.save()
    assert RankingSnapshot.objects.latest_for(world.period) == ranked  # updated in place, same day
    assert ranked_names(ranked) == [(e.name, rank) for e, rank in zip(world.enterprises[1:], (1, 2, 3), strict=True)]
    assert not RecomputeRequest.objects.exists()

    leaver.is_active = True
    with django_capture_on_commit_callbacks(execute=True):
        leaver.save()
    assert ranked_names(ranked)[0] == (leaver.name, 1)


def test_a_save_that_keeps_the_enterprise_in_the_reform_asks_for_nothing(world, ranked):
    enterprise = world.enterprises[0]
    enterprise.employees = 999
    enterprise.save()
    Enterprise.objects.get(pk=enterprise.pk).save()
    assert not RecomputeRequest.objects.exists()


def test_a_closed_period_keeps_its_ranking(world, ranked):
    world.period.is_closed = True
    world.period.save(update_fields=["is_closed"])
    leaver = world.enterprises[0]
    leaver.is_active = False
    leaver.save()
    assert not RecomputeRequest.objects.exists()


def test_the_spreadsheet_import_ranks_out_an_enterprise_marked_as_left(
    world, ranked, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.LANGUAGE_CODE = "en"  # the sheet's headers are the English msgids
    leaver = world.enterprises[1]
    dataset = EnterpriseResource().export(queryset=Enterprise.objects.order_by("pk"))
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(dataset.headers)
    column = dataset.headers.index("In the reform")
    for values in dataset:
        values = list(values)
        if values[dataset.headers.index("Unified social credit code")] == leaver.credit_code:
            values[column] = "No"
        sheet.append(values)
    path = tmp_path / "sheet.xlsx"
    out = io.BytesIO()
    workbook.save(out)
    path.write_bytes(out.getvalue())

    with django_capture_on_commit_callbacks(execute=True):
        result = apply_import(world.city_user, "enterprises", path)
    assert result.updated == 1
    assert leaver.name not in dict(ranked_names(ranked))
    assert not RecomputeRequest.objects.exists()
