"""What each office sees first: the city office's, a county office's and an enterprise
liaison's dashboards, and the filtered lists their charts link to.

Views read the period, call the selectors (every figure aggregated in the database from
visible_to() querysets) and render; charts get their numbers through json_script.
"""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from chanjgai_portal.paginator import page_of
from enterprises.inputs import profile_or_403
from enterprises.models import Profile
from scoring import charts, explanations
from scoring import selectors as scoring
from scoring.figures import figure, rate
from tasks import selectors as tasks
from tasks.models import Assignment, AssignmentState, CheckInState

from . import selectors
from .filters import AssignmentFilter, EnterpriseFilter

DASHBOARD_BY_ROLE = {
    Profile.Role.CITY_OFFICE: "dashboards:city",
    Profile.Role.COUNTY_OFFICE: "dashboards:county",
    Profile.Role.ENTERPRISE_LIAISON: "dashboards:enterprise",
}


def _dashboard_profile(request, role):
    """The profile of a user of `role` (403 without a role or for another role's dashboard)."""
    profile = profile_or_403(request.user)
    if profile.role != role:
        raise PermissionDenied(_("This dashboard is for another role."))
    return profile


def _link_to(url, **params):
    params = {key: value for key, value in params.items() if value not in (None, "")}
    return f"{url}?{urlencode(params)}" if params else url


def _link(name, **params):
    return _link_to(reverse(name), **params)


@require_safe
@login_required
def index(request):
    """The signed-in user's own dashboard (observers read the rankings)."""
    profile = profile_or_403(request.user)
    return redirect(DASHBOARD_BY_ROLE.get(profile.role, "scoring:rankings"))


def _rate_series(rows):
    """提交率 and 完成率 of figures rows, as two series on one percentage axis."""
    return [
        {"name": str(figure("submission").name), "data": [row["submission"] for row in rows]},
        {"name": str(figure("completion").name), "data": [row["completion"] for row in rows]},
    ]


@require_safe
@login_required
def city(request):
    profile = _dashboard_profile(request, Profile.Role.CITY_OFFICE)
    periods, period = tasks.chosen_period(profile, request.GET.get("period"))
    context = {"period": period, "periods": periods}
    if period is not None:
        counties = selectors.by_county(request.user, period)
        sizes = selectors.by_enterprise_field(request.user, period, "size_class")
        ownership = selectors.by_enterprise_field(request.user, period, "ownership")
        snapshots = scoring.recent_snapshots(period)
        history = scoring.county_rank_history(profile, snapshots)
        latest = snapshots[-1] if snapshots else None
        for row in counties:
            row["link"] = _link("dashboards:assignment_list", period=period.pk, county=row["county"], assignee="enterprise")
            row["scored_link"] = _link(
                "dashboards:assignment_list", period=period.pk, county=row["county"], state=AssignmentState.SCORED
            )
        for rows, param in ((sizes, "size"), (ownership, "ownership")):
            for row in rows:
                row["link"] = _link("dashboards:enterprise_list", period=period.pk, **{param: row["value"]})
        waiting = selectors.waiting_by_step(request.user)
        for row in waiting:
            row["link"] = _link("dashboards:assignment_list", period=period.pk, state=row["state"])
        lowest = selectors.lowest_indicators(request.user, period)
        for row in lowest:
            row["link"] = _link("dashboards:assignment_list", period=period.pk, indicator=row["indicator"])
        dates = [f"{s.taken_on:%m-%d}" for s in snapshots]
        by_county_history = {}
        for row in history:
            by_county_history.setdefault(row.county.name, {})[row.snapshot_id] = row.rank
        county_rows = list(scoring.county_rankings_for(profile, latest))
        county_axis = _("County-level unit")
        rates = [charts.rate_axis()]
        context.update(
            counties=counties,
            sizes=sizes,
            ownership=ownership,
            waiting=waiting,
            oldest=selectors.oldest_waiting(
                request.user, [CheckInState.PENDING_COUNTY_REVIEW, CheckInState.PENDING_CITY_REVIEW]
            ),
            lowest=lowest,
            snapshot=latest,
            county_rankings=county_rows,
            county_total=len(county_rows),
            # The main chart: what counties are ranked on (0–100), best first, as the ranking.
            score_chart=charts.bar_chart(
                [row.county.name for row in county_rows],
                [{"name": str(figure("county_score").name), "data": [float(row.score) for row in county_rows]}],
                [
                    _link_to(reverse("scoring:county_detail", args=[row.county_id]), period=period.pk)
                    for row in county_rows
                ],
                x_name=county_axis,
                axes=[charts.axis("county_score", maximum=100)],
            ),
            county_chart=charts.bar_chart(
                [row["county__name"] for row in counties],
                _rate_series(counties),
                [row["link"] for row in counties],
                x_name=county_axis,
                axes=rates,
            ),
            size_chart=charts.bar_chart(
                [row["label"] for row in sizes],
                _rate_series(sizes),
                [row["link"] for row in sizes],
                x_name=_("Size class"),
                axes=rates,
            ),
            ownership_chart=charts.bar_chart(
                [row["label"] for row in ownership],
                _rate_series(ownership),
                [row["link"] for row in ownership],
                x_name=_("Ownership"),
                axes=rates,
            ),
            history_chart=charts.rank_chart(
                dates,
                [{"name": name, "data": [ranks.get(s.pk) for s in snapshots]} for name, ranks in by_county_history.items()],
                x_name=_("Ranking date"),
            ),
        )
    return render(request, "dashboards/city.html", context)


@require_safe
@login_required
def county(request):
    profile = _dashboard_profile(request, Profile.Role.COUNTY_OFFICE)
    periods, period = tasks.chosen_period(profile, request.GET.get("period"))
    context = {"period": period, "periods": periods, "county": profile.county}
    if period is not None:
        snapshots = scoring.recent_snapshots(period)
        latest = snapshots[-1] if snapshots else None
        history = scoring.county_rank_history(profile, snapshots, county=profile.county)
        enterprises = selectors.enterprises_for_listing(request.user, latest).order_by(*selectors.RANK_ORDER)
        page_obj = page_of(request, enterprises)
        ranked = scoring.ranked_counts(latest)
        page_obj.object_list = selectors.attach_figures(page_obj.object_list, period, latest, ranked)
        not_started = selectors.enterprises_not_started(request.user, period)
        totals = selectors.by_county(request.user, period)
        context.update(
            totals=totals[0] if totals else None,
            page_obj=page_obj,
            queue=selectors.oldest_waiting(request.user, [CheckInState.PENDING_COUNTY_REVIEW]),
            queue_link=reverse("tasks:review_queue"),
            rank_link=_link_to(reverse("scoring:county_detail", args=[profile.county.pk]), period=period.pk),
            queue_count=selectors.count_waiting(request.user, CheckInState.PENDING_COUNTY_REVIEW),
            not_started=list(not_started.order_by("name", "pk")[: selectors.SHORT_LIST]),
            not_started_count=not_started.count(),
            not_started_link=_link("dashboards:enterprise_list", period=period.pk, progress="not_started"),
            enterprises_link=_link("dashboards:enterprise_list", period=period.pk),
            snapshot=latest,
            ranking=scoring.county_ranking(latest, profile.county),
            county_total=scoring.counties_ranked(latest),
            history_chart=charts.rank_chart(
                [f"{row.snapshot.taken_on:%m-%d}" for row in history],
                [{"name": profile.county.name, "data": [row.rank for row in history]}],
                x_name=_("Ranking date"),
            ),
            history=history,
        )
    return render(request, "dashboards/county.html", context)


@require_safe
@login_required
def enterprise(request):
    profile = _dashboard_profile(request, Profile.Role.ENTERPRISE_LIAISON)
    periods, period = tasks.chosen_period(profile, request.GET.get("period"))
    context = {"period": period, "periods": periods, "enterprise": profile.enterprise}
    if period is not None:
        assignments = selectors.liaison_assignments(request.user, period)
        snapshot = scoring.latest_snapshot(period)
        counts = {state: 0 for state in AssignmentState.values}
        for assignment in assignments:
            counts[assignment.state] += 1
        # Points against max points per category: every task's max points, scored or not.
        by_category = explanations.breakdown(assignments, count_unfinished=True)["categories"]
        ranked = scoring.ranked_counts(snapshot)
        submitted = selectors.submitted(len(assignments), counts[AssignmentState.NOT_SUBMITTED])
        context.update(
            submitted=submitted,
            submission=rate(submitted, len(assignments)),
            by_category=by_category,
            category_chart=charts.bar_chart(
                [str(row["label"]) for row in by_category],
                [
                    {"name": str(figure("points").name), "data": [float(row["points"]) for row in by_category]},
                    {"name": str(figure("max_points").name), "data": [float(row["max_points"]) for row in by_category]},
                ],
                x_name=_("Category"),
                axes=[charts.axis("points")],
            ),
            ranked_in_city=ranked["city"],
            ranked_in_county=ranked["county"].get(profile.enterprise.county_id, 0),
            assignments=assignments,
            returned=[a for a in assignments if a.state == AssignmentState.RETURNED],
            counts=[(state, label, counts[state]) for state, label in AssignmentState.choices],
            points=sum((a.points for a in assignments if a.points is not None), 0),
            max_points=sum((a.indicator.max_points for a in assignments), 0),
            scored=counts[AssignmentState.SCORED],
            ranking=scoring.enterprise_ranking(snapshot, profile.enterprise),
            snapshot=snapshot,
        )
    return render(request, "dashboards/enterprise.html", context)


# --- Drill-down lists ------------------------------------------------------------------


def _list_context(request, profile, period, filterset):
    return {
        "period": period,
        "periods": tasks.periods_for(profile),
        "filter": filterset,
        "page_obj": page_of(request, filterset.qs),
    }


@require_safe
@login_required
def assignment_list(request):
    """Tasks in the user's scope with search, filters and pagination (the charts link here)."""
    profile = profile_or_403(request.user)
    _periods, period = tasks.chosen_period(profile, request.GET.get("period"))
    queryset = (
        Assignment.objects.visible_to(request.user)
        .filter(period=period)
        .select_related("indicator", "enterprise", "county")
        .order_by("county__order", "enterprise__name", "indicator__order", "indicator__code", "pk")
    )
    filterset = AssignmentFilter(request.GET or None, queryset=queryset, counties=scoring.counties_for(profile))
    return render(request, "dashboards/assignment_list.html", _list_context(request, profile, period, filterset))


@require_safe
@login_required
def enterprise_list(request):
    """Enterprises in the user's scope with completion, points and rank; filters and pagination."""
    profile = profile_or_403(request.user)
    _periods, period = tasks.chosen_period(profile, request.GET.get("period"))
    snapshot = scoring.latest_snapshot(period)
    queryset = selectors.enterprises_for_listing(request.user, snapshot).order_by(
        "county__order", "county__code", *selectors.RANK_ORDER
    )
    filterset = EnterpriseFilter(
        request.GET or None,
        queryset=queryset,
        counties=scoring.counties_for(profile),
        period=period,
        user=request.user,
    )
    context = _list_context(request, profile, period, filterset)
    page_obj = context["page_obj"]
    ranked = scoring.ranked_counts(snapshot)
    page_obj.object_list = selectors.attach_figures(page_obj.object_list, period, snapshot, ranked)
    context["snapshot"] = snapshot
    return render(request, "dashboards/enterprise_list.html", context)
