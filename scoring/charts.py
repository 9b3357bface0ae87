"""The data of every chart the portal draws, built in one place: the county score's
sparkline (an inline SVG on the county explanation page) and the dashboards' bar and line
charts (drawn by static/js from json_script). Every chart names its axes with the figures'
names and units (scoring.figures) and shows a legend; a chart of one data point carries a
sentence saying so, which the page shows instead of the chart."""

from collections.abc import Sequence
from decimal import Decimal

from django.utils.translation import gettext as _

from .figures import figure
from .models import CountyRanking

SPARKLINE_WIDTH, SPARKLINE_HEIGHT, SPARKLINE_PAD = 240, 48, 4


def sparkline(history: Sequence[CountyRanking]) -> dict | None:
    """Coordinates of the county's score (0–100) over its snapshots, for an inline SVG."""
    if not history:
        return None
    inner_w, inner_h = SPARKLINE_WIDTH - 2 * SPARKLINE_PAD, SPARKLINE_HEIGHT - 2 * SPARKLINE_PAD
    step = inner_w / (len(history) - 1) if len(history) > 1 else 0
    dots = []
    for i, row in enumerate(history):
        x = SPARKLINE_PAD + (i * step if len(history) > 1 else inner_w / 2)
        y = SPARKLINE_PAD + inner_h * (1 - float(min(max(row.score, Decimal(0)), Decimal(100))) / 100)
        dots.append({"x": f"{x:.1f}", "y": f"{y:.1f}", "row": row})
    return {
        "width": SPARKLINE_WIDTH,
        "height": SPARKLINE_HEIGHT,
        "points": " ".join(f"{d['x']},{d['y']}" for d in dots),
        "dots": dots,
    }


def axis(key: str, *, maximum: float | None = None) -> dict:
    """A value axis for a figure of scoring.figures: its title carries the unit (完成率（%）)."""
    item = figure(key)
    return {"name": item.with_unit, "unit": str(item.unit), "max": maximum}


def rate_axis() -> dict:
    """A percentage axis shared by several rates (提交率 and 完成率 side by side)."""
    return {"name": _("Rate (%)"), "unit": "%", "max": 100}


def _single_point(categories: list, x_name: str) -> str:
    """What a chart with one data point says instead of drawing it (a lone bar or a column of
    dots explains nothing)."""
    if len(categories) != 1:
        return ""
    return _(
        "Only one %(what)s so far (%(which)s), so there is nothing to compare yet: the figures are in the table."
    ) % {"what": x_name, "which": categories[0]}


def bar_chart(
    categories: list, series: list[dict], links: list[str] | None = None, *, x_name: str, axes: list[dict]
) -> dict:
    """A bar chart: one bar per category and series (a series with "axis": 1 on the second
    of `axes`); a bar links to links[i] when given. Axis titles and the legend always show."""
    return {
        "kind": "bar",
        "categories": categories,
        "series": series,
        "links": links or [],
        "x_name": x_name,
        "axes": axes,
        "single": _single_point(categories, x_name),
    }


def rank_chart(categories: list, series: list[dict], *, x_name: str) -> dict:
    """A line chart of ranks over time (the axis inverted: rank 1 on top)."""
    return {
        "kind": "line",
        "inverse": True,
        "categories": categories,
        "series": series,
        "x_name": x_name,
        "axes": [{"name": str(figure("rank").name), "unit": "", "max": None}],
        "single": _single_point(categories, x_name),
    }
