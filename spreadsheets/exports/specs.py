"""What each export sheet holds: one spec per sheet (county ranking, enterprise ranking,
completion matrix), its columns and the rows the user may see.

Rows are read with .values_list().iterator(CHUNK_SIZE): a province's 100,000 rows take a
constant number of queries and no model instances. Who may see which rows is decided by the
models' `visible_to(user)` querysets, as everywhere else, and who may see the county ranking
by scoring.selectors, as for the rankings page.
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

from enterprises import capabilities
from enterprises.inputs import profile_or_403
from enterprises.models import Enterprise
from scoring import selectors
from scoring.figures import figure
from scoring.models import EnterpriseRanking
from tasks.models import Assignment, AssignmentState, Indicator

from ..models import ExportJob
from .writer import CHUNK_SIZE, ExportSpec

KINDS = tuple(ExportJob.Kind.values)


@dataclass(frozen=True)
class Column:
    """One column of a ranking sheet: its header, the .values_list() path(s) it reads, its
    cell kind (text / int / points / percent) and width in characters (None: from the
    header). A column of several values is made into one cell by `cell(*values)`."""

    header: str | Promise
    paths: tuple[str, ...]
    kind: str = "text"
    width: int | None = None
    cell: Callable | None = None


def movement_label(previous_rank: int | None, rank: int) -> str:
    """↑2 / ↓1 / – / New (a county without a previous snapshot), as on the rankings page."""
    if previous_rank is None:
        return pgettext("ranking movement", "New")
    change = previous_rank - rank
    if change > 0:
        return f"↑{change}"
    if change < 0:
        return f"↓{-change}"
    return "–"


def completion_label(scored_count: int, assigned_count: int) -> str:
    return f"{scored_count}/{assigned_count}"


COUNTY_RANKING_COLUMNS = (
    Column(figure("rank").name, ("rank",), "int"),
    Column(gettext_lazy("County-level unit"), ("county__name",), width=22),
    Column(figure("county_score").name, ("score",), "points", width=16),
    Column(figure("office_score_rate").name, ("office_rate",), "percent"),
    Column(figure("enterprise_mean_rate").name, ("enterprise_mean_rate",), "percent"),
    Column(gettext_lazy("Enterprises counted"), ("enterprises_counted",), "int"),
    Column(pgettext_lazy("ranking column", "Change"), ("previous_rank", "rank"), cell=movement_label),
)

ENTERPRISE_RANKING_COLUMNS = (
    Column(gettext_lazy("Rank in city"), ("rank_in_city",), "int"),
    Column(gettext_lazy("Rank in county"), ("rank_in_county",), "int"),
    Column(gettext_lazy("Enterprise name"), ("enterprise__name",), width=40),
    Column(gettext_lazy("Unified social credit code"), ("enterprise__credit_code",), width=22),
    Column(gettext_lazy("County-level unit"), ("county__name",), width=22),
    Column(figure("points").name, ("points",), "points"),
    Column(figure("max_points").name, ("max_points",), "points"),
    Column(figure("score_rate").name, ("score_rate",), "percent"),
    Column(gettext_lazy("Scored / assigned"), ("scored_count", "assigned_count"), width=14, cell=completion_label),
)


def sheet_columns(columns: tuple[Column, ...]) -> list[tuple[str, str, int]]:
    """(header, cell kind, width) of each column, headers in the active language."""
    result = []
    for column in columns:
        header = force_str(column.header)
        result.append((header, column.kind, column.width or max(10, 2 * len(header) + 2)))
    return result


def sheet_rows(columns: tuple[Column, ...], queryset: QuerySet, chunk_size: int = CHUNK_SIZE) -> Iterator[list]:
    """Lists of cell values in column order, read with one server-side cursor (no model instances)."""
    paths, slots = [], []
    for column in columns:
        slots.append((len(paths), len(column.paths), column.cell))
        paths.extend(column.paths)
    for values in queryset.values_list(*paths).iterator(chunk_size=chunk_size):
        yield [cell(*values[start : start + count]) if cell else values[start] for start, count, cell in slots]


def _title_line(title, period, scope):
    return _("%(title)s · %(period)s · %(scope)s · generated %(time)s") % {
        "title": title,
        "period": period.name,
        "scope": scope,
        "time": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
    }


def resolve(user: AbstractBaseUser, kind: str, params: Mapping) -> ExportSpec:
    """The spec of an export for the user: 403 for roles that may not export, 404 for a period,
    county or ranking outside the user's scope or not computed yet."""
    profile = profile_or_403(user)
    if not capabilities.may_export(profile):
        raise PermissionDenied(_("Your role cannot download ranking spreadsheets."))
    if kind not in KINDS:
        raise Http404(_("No such export."))
    period = selectors.period_for(profile, params.get("period"))
    county = selectors.county_for(profile, params.get("county"))
    scope = county.name if county else (profile.county.name if profile.is_county_office else profile.city.name)
    if kind == ExportJob.Kind.COMPLETION_MATRIX:
        if period is None:
            raise Http404(_("There is no assessment period yet."))
        return _matrix_spec(user, period, county, scope, params.get("cells") == "points")
    snapshot = selectors.latest_snapshot(period)
    if snapshot is None:
        raise Http404(_("Rankings have not been computed for this period yet."))
    if kind == ExportJob.Kind.COUNTY_RANKING:
        columns = COUNTY_RANKING_COLUMNS
        queryset = selectors.county_rankings_for(profile, snapshot)
        title = _("County ranking")
        filename = f"{title}_{period.name}.xlsx"
        scope = period.city.name
    else:
        columns = ENTERPRISE_RANKING_COLUMNS
        queryset = _enterprise_rankings(user, snapshot, county)
        title = _("Enterprise ranking")
        filename = f"{title}_{period.name}_{scope}.xlsx"
    # values_list() reads plain columns: the page's annotations and joins are not needed.
    queryset = queryset.select_related(None)
    return ExportSpec(
        kind=kind,
        title=title,
        title_line=_title_line(title, period, scope),
        filename=filename,
        columns=sheet_columns(columns),
        rows=lambda: sheet_rows(columns, queryset),
        total=queryset.count(),
    )


def _enterprise_rankings(user, snapshot, county):
    """The snapshot's enterprise rows the user may see (optionally of one county), in the
    rankings page's order (scoring.selectors.enterprise_rankings_for), with their ranks."""
    rows = EnterpriseRanking.objects.visible_to(user).filter(snapshot=snapshot).with_ranks().order_by("-points", "enterprise_id")
    if county is not None:
        rows = rows.filter(county=county)
    return rows


def _matrix_spec(user, period, county, scope, points):
    """Enterprises × indicators of the period, each cell the task's state (or its points)."""
    indicators = list(
        Indicator.objects.filter(city=period.city, target=Indicator.Target.ENTERPRISE)
        .filter(Exists(Assignment.objects.filter(period=period, indicator=OuterRef("pk"))))
        .order_by("order", "code")
        .values_list("pk", "code", "title")
    )
    assignments = (
        Assignment.objects.visible_to(user)
        .filter(period=period, enterprise__isnull=False)
        .order_by("county__order", "enterprise__name", "enterprise_id")
    )
    enterprises = Enterprise.objects.visible_to(user)
    if county is not None:
        assignments = assignments.filter(county=county)
        enterprises = enterprises.filter(county=county)
    columns = [
        (_("Unified social credit code"), "text", 22),
        (_("Enterprise name"), "text", 40),
        (_("County-level unit"), "text", 16),
    ]
    columns += [(f"{code} {title}", "points" if points else "text", 16) for _pk, code, title in indicators]
    columns += [(str(figure("points").name), "points", 10), (_("Scored / assigned"), "text", 14)]
    position = {pk: index for index, (pk, _code, _title) in enumerate(indicators)}
    labels = {value: force_str(label) for value, label in AssignmentState.choices}

    def rows():
        current, row, total, scored, assigned = None, None, Decimal(0), 0, 0
        values = assignments.values_list(
            "enterprise_id", "enterprise__credit_code", "enterprise__name", "county__name", "indicator_id", "state", "points"
        ).iterator(chunk_size=CHUNK_SIZE)
        for enterprise_id, code, name, county_name, indicator_id, state, awarded in values:
            if enterprise_id != current:
                if row is not None:
                    yield row + [total, f"{scored}/{assigned}"]
                current, row, total, scored, assigned = enterprise_id, [code, name, county_name] + [None] * len(indicators), Decimal(0), 0, 0
            assigned += 1
            if state == AssignmentState.SCORED:
                scored += 1
                total += awarded or 0
            index = position.get(indicator_id)
            if index is not None:
                row[3 + index] = (awarded if state == AssignmentState.SCORED else None) if points else labels.get(state, state)
        if row is not None:
            yield row + [total, f"{scored}/{assigned}"]

    title = _("Completion matrix")
    return ExportSpec(
        kind=ExportJob.Kind.COMPLETION_MATRIX,
        title=title,
        title_line=_title_line(title, period, scope),
        filename=f"{title}_{period.name}_{scope}.xlsx",
        columns=columns,
        rows=rows,
        total=enterprises.count(),
    )
