"""TwoEndedPaginator: the same pages as Django's Paginator, read from the nearer end."""

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chanjgai_portal.paginator import TwoEndedPaginator
from enterprises.models import Enterprise

from . import factories as f

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("orphans", [0, 2])
def test_every_page_is_the_page_django_gives(orphans):
    county = f.RegionFactory.county()
    for index in range(23):
        # Names repeat, so the order's tie-breaker (pk) matters when read backwards.
        f.EnterpriseFactory(county=county, name=f"企业{index % 4}")
    rows = Enterprise.objects.order_by("-name", "pk")
    expected = Paginator(rows, 5, orphans=orphans)
    paginator = TwoEndedPaginator(rows, 5, orphans=orphans)
    assert paginator.num_pages == expected.num_pages
    for number in expected.page_range:
        page, reference = paginator.page(number), expected.page(number)
        assert [e.pk for e in page] == [e.pk for e in reference]
        assert (page.start_index(), page.end_index(), page.has_next()) == (
            reference.start_index(), reference.end_index(), reference.has_next()
        )


def test_a_deep_page_never_skips_more_than_half_the_rows():
    county = f.RegionFactory.county()
    for _ in range(12):
        f.EnterpriseFactory(county=county)
    rows = Enterprise.objects.order_by("pk")
    paginator = TwoEndedPaginator(rows, 5)
    paginator.count  # noqa: B018 - the COUNT query, outside the measured block
    with CaptureQueriesContext(connection) as queries:
        last = list(paginator.page(3))
    assert [e.pk for e in last] == list(rows.values_list("pk", flat=True)[10:])
    (sql,) = [q["sql"] for q in queries.captured_queries]
    assert "DESC" in sql and "OFFSET" not in sql  # the last page is the first rows backwards


def test_a_list_is_paginated_as_usual():
    paginator = TwoEndedPaginator(list(range(12)), 5)
    assert list(paginator.page(3)) == [10, 11]
