"""The data of every chart the portal draws, built in one place: the county score's
sparkline (an inline SVG on the county explanation page) and the dashboards' bar and line
charts (drawn by static/js from json_script)."""

from collections.abc import Sequence
from decimal import Decimal

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


def bar_chart(categories: list, series: list[dict], links: list[str] | None = None) -> dict:
    """A bar chart: one bar per category and series (a series with "axis": 1 on the right
    axis); a bar links to links[i] when given."""
    return {"kind": "bar", "categories": categories, "series": series, "links": links or []}


def rank_chart(categories: list, series: list[dict]) -> dict:
    """A line chart of ranks over time (the axis inverted: rank 1 on top)."""
    return {"kind": "line", "inverse": True, "categories": categories, "series": series}
