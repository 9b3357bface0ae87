"""How the explanation pages take a ranking apart: a county's score as the equation the
engine evaluated, and an enterprise's figures as the task points that make them.

The rules are scoring.engine's (county_score, counts_in_rate); this module only lays them
out for the pages, from the snapshot's stored figures and the period's live tasks.
"""

from collections.abc import Iterable, Sequence
from decimal import Decimal

from tasks.models import Assignment, AssignmentState, Indicator

from .engine import counts_in_rate, county_score
from .models import CountyRanking, RankingSnapshot


def rate_denominator(assignments: Iterable[Assignment], *, count_unfinished: bool) -> Decimal:
    """Σ max points of the tasks that count in their score rate (scoring.engine.counts_in_rate)."""
    return sum(
        (a.indicator.max_points for a in assignments if counts_in_rate(a.state, count_unfinished=count_unfinished)),
        Decimal(0),
    )


def task_totals(assignments: Sequence[Assignment], *, count_unfinished: bool) -> tuple[Decimal, Decimal]:
    """Σ points of the scored tasks and Σ max points of the tasks in the rate's denominator."""
    points = sum((a.points or 0 for a in assignments if a.state == AssignmentState.SCORED), Decimal(0))
    return points, rate_denominator(assignments, count_unfinished=count_unfinished)


def county_equation(snapshot: RankingSnapshot, row: CountyRanking, rate_sum: Decimal | None) -> dict:
    """The parts of a county's score as stored in the snapshot, and the sum they make.

    The snapshot's own weights and rates are used, so the equation on the page is the one
    the engine evaluated: `total` equals the stored score.
    """
    office_rate = row.office_rate if row.office_rate is not None else Decimal(0)
    enterprise_rate = row.enterprise_mean_rate if row.enterprise_mean_rate is not None else Decimal(0)
    total = county_score(row.office_rate, row.enterprise_mean_rate, snapshot.office_weight, snapshot.enterprise_weight)
    office_exact = bool(row.office_max_points) and row.office_points / row.office_max_points == row.office_rate
    enterprise_exact = (
        rate_sum is not None
        and row.enterprises_counted > 0
        and rate_sum / row.enterprises_counted == row.enterprise_mean_rate
    )
    return {
        "office_weight": snapshot.office_weight,
        "office_rate": office_rate,
        "office_missing": row.office_rate is None,
        "office_exact": office_exact,
        "enterprise_weight": snapshot.enterprise_weight,
        "enterprise_rate": enterprise_rate,
        "enterprise_missing": row.enterprise_mean_rate is None,
        "enterprise_rate_sum": rate_sum,
        "enterprise_exact": enterprise_exact,
        "total": total,
        "adds_up": total == row.score,
    }


def breakdown(assignments: Sequence[Assignment], *, count_unfinished: bool) -> dict:
    """The enterprise's tasks grouped by indicator category (in the library's category
    order), each group and the whole with its points and the max points that count."""
    groups = {value: [] for value in Indicator.Category.values}
    for assignment in assignments:
        groups.setdefault(assignment.indicator.category, []).append(assignment)
    categories = []
    for value, tasks in groups.items():
        if not tasks:
            continue
        points, max_points = task_totals(tasks, count_unfinished=count_unfinished)
        label = Indicator.Category(value).label if value in Indicator.Category.values else value
        categories.append(
            {
                "value": value,
                "label": label,
                "tasks": [
                    {
                        "assignment": a,
                        "scored": a.state == AssignmentState.SCORED,
                        "counted": counts_in_rate(a.state, count_unfinished=count_unfinished),
                    }
                    for a in tasks
                ],
                "points": points,
                "max_points": max_points,
            }
        )
    points, max_points = task_totals(assignments, count_unfinished=count_unfinished)
    scored = sum(1 for a in assignments if a.state == AssignmentState.SCORED)
    return {
        "categories": categories,
        "points": points,
        "max_points": max_points,
        "assigned": len(assignments),
        "scored": scored,
    }
