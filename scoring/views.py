"""The rankings page and its two Excel downloads, all reading scoring.selectors."""

from io import BytesIO

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from . import selectors
from .resources import XLSX_CONTENT_TYPE, CountyRankingResource, EnterpriseRankingResource

ENTERPRISES_PER_PAGE = 50


@require_GET
@login_required
def rankings(request):
    """County and enterprise rankings of a period's latest snapshot, as far as the user may see."""
    profile = selectors.profile_for(request.user)
    period = selectors.period_for(profile, request.GET.get("period"))
    county = selectors.county_for(profile, request.GET.get("county"))
    snapshot = selectors.latest_snapshot(period)

    show_county_table = selectors.can_see_county_rankings(profile)
    page_obj = None
    if snapshot is not None:
        enterprise_rows = selectors.enterprise_rankings_for(profile, snapshot, county)
        page_obj = Paginator(enterprise_rows, ENTERPRISES_PER_PAGE).get_page(request.GET.get("page"))

    counties = list(selectors.counties_for(profile).order_by("order", "code"))
    return render(
        request,
        "scoring/rankings.html",
        {
            "profile": profile,
            "period": period,
            "periods": selectors.periods_for(profile) if profile.city else [],
            "snapshot": snapshot,
            "county": county,
            "counties": counties if len(counties) > 1 else [],
            "show_county_table": show_county_table,
            "county_rows": selectors.county_rankings_for(profile, snapshot) if show_county_table else [],
            "page_obj": page_obj,
            "can_export": selectors.can_export_rankings(profile),
        },
    )


def _export_scope(request):
    """The profile, period and snapshot of an export request; 403 for roles that may not
    export, 404 for a period or county outside the user's scope or without rankings yet."""
    profile = selectors.profile_for(request.user)
    if not selectors.can_export_rankings(profile):
        raise PermissionDenied(_("Your role cannot download ranking spreadsheets."))
    period = selectors.period_for(profile, request.GET.get("period"))
    snapshot = selectors.latest_snapshot(period)
    if snapshot is None:
        raise Http404(_("Rankings have not been computed for this period yet."))
    return profile, period, snapshot


def _xlsx_response(content, filename):
    # FileResponse writes the non-ASCII name as filename*=utf-8''… (RFC 5987 / 6266).
    return FileResponse(BytesIO(content), as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)


@require_GET
@login_required
def export_counties(request):
    """The county ranking of the period's latest snapshot as an .xlsx file."""
    profile, period, snapshot = _export_scope(request)
    rows = selectors.county_rankings_for(profile, snapshot)
    title = _("County ranking")
    content = CountyRankingResource().to_xlsx(rows, title)
    return _xlsx_response(content, f"{title}_{period.name}.xlsx")


@require_GET
@login_required
def export_enterprises(request):
    """The enterprise ranking in the user's scope (optionally one county) as an .xlsx file."""
    profile, period, snapshot = _export_scope(request)
    county = selectors.county_for(profile, request.GET.get("county"))
    rows = selectors.enterprise_rankings_for(profile, snapshot, county)
    title = _("Enterprise ranking")
    content = EnterpriseRankingResource().to_xlsx(rows, title)
    scope = county.name if county else (profile.county.name if profile.is_county_office else period.city.name)
    return _xlsx_response(content, f"{title}_{period.name}_{scope}.xlsx")
