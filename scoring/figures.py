"""Every figure the portal shows, with one name, one definition and one unit.

Pages (column headers, legends, chart axes), the Excel exports and the API's field help texts
take their names and definitions from here, so 得分 never means two things: an enterprise's or
a task's awarded points are 得分, a sum of enterprises' points is 企业得分合计, and what counties
are ranked on is 县区综合得分. The rules behind the definitions are scoring.engine's (score
rates, the county score) and tasks.models' (assignment states); DOMAIN.md states them.

scoring is the lowest app that can own them all: the county score is a scoring rule, and
every app that shows a figure (dashboards, notices, spreadsheets, api) sits above it.
"""

from dataclasses import dataclass

from django.utils.functional import Promise, lazy
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

POINTS_UNIT = pgettext_lazy("unit", "points")
PERCENT_UNIT = "%"


@dataclass(frozen=True)
class Figure:
    """A figure's name as pages and sheets show it, what it means, and its unit ("" for counts)."""

    key: str
    name: str | Promise
    definition: str | Promise
    unit: str | Promise = ""

    @property
    def with_unit(self) -> str:
        """The name with its unit, as a chart axis or a sheet header: 县区综合得分（分）."""
        if not self.unit:
            return str(self.name)
        return _("%(name)s (%(unit)s)") % {"name": self.name, "unit": self.unit}


FIGURES = {
    figure.key: figure
    for figure in (
        Figure(
            "county_score",
            _("County composite score"),
            _(
                "What county-level units are ranked on, 0 to 100 points: the office weight × the "
                "county office's score rate on its own tasks + the enterprise weight × the mean score "
                "rate of the county's enterprises (40 and 60 unless the period's rule says otherwise)."
            ),
            POINTS_UNIT,
        ),
        Figure(
            "enterprise_points_total",
            _("Total enterprise points"),
            _(
                "The points of all the enterprises' scored tasks added up. It grows with the number of "
                "enterprises, so counties are not ranked on it."
            ),
            POINTS_UNIT,
        ),
        Figure(
            "points",
            _("Points"),
            _(
                "The points the city office awarded to a scored task (0 to its max points); an "
                "enterprise's points are the sum over its scored tasks. A task not scored yet has none (—)."
            ),
            POINTS_UNIT,
        ),
        Figure(
            "max_points",
            _("Max points"),
            _(
                "The most a task can be awarded (its indicator's points); an enterprise's max points are "
                "the sum over the tasks that count in its score rate."
            ),
            POINTS_UNIT,
        ),
        Figure(
            "score_rate",
            _("Score rate"),
            _(
                "Points ÷ max points. Whether tasks not scored yet count in the max points is set by "
                "the period's scoring rule."
            ),
            PERCENT_UNIT,
        ),
        Figure(
            "office_score_rate",
            _("County office score rate"),
            _("The county office's score rate on its own tasks."),
            PERCENT_UNIT,
        ),
        Figure(
            "enterprise_mean_rate",
            _("Mean enterprise score rate"),
            _("The mean of the score rates of the county's enterprises that have tasks which count."),
            PERCENT_UNIT,
        ),
        Figure(
            "completion",
            _("Completion"),
            _("Scored tasks ÷ all tasks."),
            PERCENT_UNIT,
        ),
        Figure(
            "submission",
            _("Submission rate"),
            _(
                "Tasks checked in at least once ÷ all tasks. A returned task counts as submitted and a "
                "resubmission does not count twice; a county-level unit's rate includes its county "
                "office's own tasks."
            ),
            PERCENT_UNIT,
        ),
        Figure(
            "rank",
            _("Rank"),
            _("n/N: place n among the N ranked; equal figures share a place."),
        ),
        Figure(
            "read_rate",
            _("Read rate"),
            _("Recipients who have opened the notice ÷ all its recipients."),
            PERCENT_UNIT,
        ),
    )
}


def figure(key: str) -> Figure:
    """The figure named `key` (a KeyError for an unknown one: a typo must not pass silently)."""
    return FIGURES[key]


def help_text(key: str) -> Promise:
    """The figure's name (with its unit) and definition, for API field help texts; lazy, so
    the schema shows them in the request's language."""
    item = FIGURES[key]
    return lazy(
        lambda: gettext("%(figure)s: %(definition)s") % {"figure": item.with_unit, "definition": item.definition}, str
    )()


def rate(part: int, whole: int) -> float:
    """`part` as a percentage of `whole` with one decimal (0.0 when there is nothing to count)."""
    return round(100 * part / whole, 1) if whole else 0.0
