"""The rankings page, the pages explaining a county's and an enterprise's figures and the
scoring rule page, all reading scoring.selectors (the Excel downloads are spreadsheets.views)."""

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from chanjgai_portal.paginator import TwoEndedPaginator
from enterprises import capabilities
from enterprises.inputs import messages_of, profile_or_403, show_on_field
from tasks import selectors as task_selectors

from . import charts, explanations, selectors, services
from .figures import figure
from .forms import ScoringRuleForm
from .models import ScoringRule, TieMethod

ENTERPRISES_PER_PAGE = 50


@require_GET
@login_required
def rankings(request):
    """County and enterprise rankings of a period's latest snapshot, as far as the user may see."""
    profile = profile_or_403(request.user)
    period = selectors.period_for(profile, request.GET.get("period"))
    county = selectors.county_for(profile, request.GET.get("county"))
    snapshot = selectors.latest_snapshot(period)

    show_county_table = capabilities.may_see_county_rankings(profile)
    page_obj = None
    ranked = selectors.ranked_counts(snapshot)
    if snapshot is not None:
        enterprise_rows = selectors.enterprise_rankings_for(request.user, snapshot, county)
        page_obj = TwoEndedPaginator(enterprise_rows, ENTERPRISES_PER_PAGE).get_page(request.GET.get("page"))
        page_obj.object_list = list(page_obj.object_list)
        for row in page_obj.object_list:
            row.ranked_in_county = ranked["county"].get(row.county_id, 0)
    county_rows = list(selectors.county_rankings_for(profile, snapshot)) if show_county_table else []

    counties = list(selectors.counties_for(profile).order_by("order", "code"))
    rule = selectors.current_rule(period) if snapshot is not None else None
    return render(
        request,
        "scoring/rankings.html",
        {
            "profile": profile,
            "period": period,
            "periods": task_selectors.periods_for(profile),
            "snapshot": snapshot,
            "rule_pending": rule is not None and not snapshot.matches(rule),
            "county": county,
            "counties": counties if len(counties) > 1 else [],
            "show_county_table": show_county_table,
            "county_rows": county_rows,
            "county_total": len(county_rows),
            "ranked_in_city": ranked["city"],
            "county_chart": charts.bar_chart(
                [row.county.name for row in county_rows],
                [{"name": str(figure("county_score").name), "data": [float(row.score) for row in county_rows]}],
                [f"{reverse('scoring:county_detail', args=[row.county_id])}?period={period.pk}" for row in county_rows],
                x_name=_("County-level unit"),
                axes=[charts.axis("county_score", maximum=100)],
            ),
            "page_obj": page_obj,
        },
    )


# --- Explaining a county's score ---------------------------------------------------------


@require_GET
@login_required
def county_detail(request, county_id):
    """How a county's score in the latest snapshot is made, its office tasks and its history."""
    profile = profile_or_403(request.user)
    period = selectors.period_for(profile, request.GET.get("period"))
    county = selectors.county_for_explanation(profile, period, county_id)
    snapshot = selectors.latest_snapshot(period)
    row = selectors.county_ranking(snapshot, county)
    office_tasks = list(selectors.county_office_assignments(period, county))
    equation = history = None
    pending = False
    if row is not None:
        equation = explanations.county_equation(snapshot, row, selectors.county_enterprise_rate_sum(snapshot, county))
        history = selectors.county_history(period, county)
        live = explanations.task_totals(office_tasks, count_unfinished=snapshot.count_unfinished)
        pending = live != (row.office_points, row.office_max_points) or selectors.ranking_update_pending(period)
    return render(
        request,
        "scoring/county_detail.html",
        {
            "period": period,
            "county": county,
            "snapshot": snapshot,
            "row": row,
            "equation": equation,
            "office_tasks": office_tasks,
            "history": history or [],
            # One snapshot is one dot: the page says so in words instead.
            "sparkline": charts.sparkline(history) if history and len(history) > 1 else None,
            "county_total": selectors.counties_ranked(snapshot),
            "pending": pending,
            "can_filter_enterprises": selectors.may_filter_by_county(profile, county),
        },
    )


# --- Explaining an enterprise's points ---------------------------------------------------


@require_GET
@login_required
def enterprise_detail(request, enterprise_id):
    """An enterprise's figures in the latest snapshot and the task points that make them."""
    profile = profile_or_403(request.user)
    period = selectors.period_for(profile, request.GET.get("period"))
    enterprise = selectors.enterprise_for_explanation(request.user, enterprise_id)
    snapshot = selectors.latest_snapshot(period)
    row = selectors.enterprise_ranking(snapshot, enterprise)
    breakdown, pending, count_unfinished = None, False, True
    how_many_ranked = selectors.ranked_counts(snapshot if row is not None else None)
    if period is not None:
        assignments = list(selectors.enterprise_assignments(period, enterprise))
        count_unfinished = (
            snapshot.count_unfinished if snapshot is not None else selectors.current_rule(period).count_unfinished
        )
        breakdown = explanations.breakdown(assignments, count_unfinished=count_unfinished)
        if snapshot is not None:
            if row is None:
                # Not ranked although it has tasks: its first figures are on their way.
                pending = bool(assignments) and enterprise.is_active
            else:
                live = (breakdown["points"], breakdown["max_points"], breakdown["assigned"], breakdown["scored"])
                ranked = (row.points, row.max_points, row.assigned_count, row.scored_count)
                pending = live != ranked or selectors.ranking_update_pending(period, enterprise)
    return render(
        request,
        "scoring/enterprise_detail.html",
        {
            "period": period,
            "enterprise": enterprise,
            "snapshot": snapshot,
            "row": row,
            "ranked": how_many_ranked,
            "county_ranked": how_many_ranked["county"].get(enterprise.county_id, 0),
            "breakdown": breakdown,
            "count_unfinished": count_unfinished,
            "pending": pending,
            "show_county_link": period is not None and capabilities.may_see_county_rankings(profile),
        },
    )


# --- The scoring rule --------------------------------------------------------------------


def _rule_value(field, value):
    """A recorded rule value as the page shows it."""
    if field == "tie_method":
        return TieMethod(value).label if value in TieMethod.values else value
    if field == "count_unfinished":
        return _("Yes") if value else _("No")
    try:
        return f"{Decimal(str(value)).normalize():f}"
    except ArithmeticError:
        return value


def _change_rows(changes):
    """Each change with the fields that differ: label, value before, value after."""
    rows = []
    for change in changes:
        fields = []
        for field in ScoringRule.FIELDS:
            before, after = change.before.get(field), change.after.get(field)
            if before != after:
                fields.append(
                    {
                        "label": ScoringRule._meta.get_field(field).verbose_name,
                        "before": _rule_value(field, before),
                        "after": _rule_value(field, after),
                    }
                )
        rows.append({"change": change, "fields": fields})
    return rows


def _render_rule(request, period, rule, form, errors=None, status=200):
    return render(
        request,
        "scoring/rule.html",
        {
            "period": period,
            "periods": task_selectors.periods_for(profile_or_403(request.user)),
            "rule": rule,
            "form": form,
            "errors": errors or [],
            "changes": _change_rows(selectors.rule_changes(period)),
        },
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def rule(request):
    """The city office's page for a period's scoring rule: the form and every past change."""
    profile = profile_or_403(request.user)
    if not capabilities.may_change_scoring_rule(profile):
        raise PermissionDenied(_("Only the city reform office can change scoring rules."))
    period = selectors.period_for(profile, request.GET.get("period"))
    if period is None:
        raise Http404(_("There is no assessment period yet."))
    current = selectors.current_rule(period)
    if request.method != "POST":
        return _render_rule(request, period, current, ScoringRuleForm.for_rule(current))
    form = ScoringRuleForm(request.POST)
    before = current.as_dict()
    try:
        saved = services.change_scoring_rule(request.user, period, **form.values())
    except ValidationError as error:
        errors = messages_of(error)
        show_on_field(form, getattr(error, "code", None), error)  # a weight's error names it
        return _render_rule(request, period, current, form, errors, status=400)
    if saved.as_dict() == before:
        messages.info(request, _("The scoring rule is unchanged."))
    else:
        messages.success(request, _("Scoring rule saved. The rankings are being recomputed."))
    return redirect(f"{reverse('scoring:rule')}?period={period.pk}")
