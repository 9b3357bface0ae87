"""The ranking spreadsheets: one resource per table of the rankings page, with Chinese headers.

Rows come from scoring.selectors (already scoped) and are read with .values_list(), so the
export runs a constant number of queries.
"""

from django.utils.encoding import force_str
from django.utils.translation import pgettext
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from import_export import fields, resources

from .models import CountyRanking, EnterpriseRanking


def movement_label(previous_rank, rank):
    """↑2 / ↓1 / – / New (a county without a previous snapshot), as on the rankings page."""
    if previous_rank is None:
        return pgettext("ranking movement", "New")
    change = previous_rank - rank
    if change > 0:
        return f"↑{change}"
    if change < 0:
        return f"↓{-change}"
    return "–"


class RankingResource(resources.ModelResource):
    """Read-only export.

    The declaration drives the streaming writer of scoring.exports: a field's
    `attribute` is the .values_list() path it reads, and `stream_paths` names the columns
    made of several values (a tuple goes through the `stream_<field>(*values)` method), `cell_kinds` to text / int / points / percent and
    `column_widths` to a width in characters.
    """

    stream_paths = {}
    cell_kinds = {}
    column_widths = {}

    def stream_columns(self):
        """(header, cell kind, width) of every exported field, in order."""
        columns = []
        for field in self.get_export_fields():
            name = self.get_field_name(field)
            header = force_str(field.column_name)
            columns.append((header, self.cell_kinds.get(name, "text"), self.column_widths.get(name, max(10, 2 * len(header) + 2))))
        return columns

    def stream_rows(self, queryset, chunk_size=2000):
        """Tuples of cell values in column order, read with one server-side cursor (no model instances)."""
        names = [self.get_field_name(field) for field in self.get_export_fields()]
        paths, slots = [], []
        for name in names:
            # A column's path is its field's attribute, unless it needs several values.
            wanted = self.stream_paths.get(name) or self.fields[name].attribute
            wanted = wanted if isinstance(wanted, tuple) else (wanted,)
            slots.append((name, len(paths), len(wanted), len(wanted) > 1 or hasattr(self, f"stream_{name}")))
            paths.extend(wanted)
        for values in queryset.values_list(*paths).iterator(chunk_size=chunk_size):
            row = []
            for name, start, count, converted in slots:
                part = values[start : start + count]
                row.append(getattr(self, f"stream_{name}")(*part) if converted else part[0])
            yield row


class CountyRankingResource(RankingResource):
    rank = fields.Field(attribute="rank", column_name=pgettext_lazy("ranking column", "Rank"))
    county = fields.Field(attribute="county__name", column_name=_("County-level unit"))
    score = fields.Field(attribute="score", column_name=pgettext_lazy("ranking column", "Score"))
    office_rate = fields.Field(attribute="office_rate", column_name=_("County office score rate"))
    enterprise_mean_rate = fields.Field(attribute="enterprise_mean_rate", column_name=_("Mean enterprise score rate"))
    enterprises_counted = fields.Field(attribute="enterprises_counted", column_name=_("Enterprises counted"))
    movement = fields.Field(column_name=pgettext_lazy("ranking column", "Change"))

    stream_paths = {"movement": ("previous_rank", "rank")}
    cell_kinds = {
        "rank": "int",
        "score": "points",
        "office_rate": "percent",
        "enterprise_mean_rate": "percent",
        "enterprises_counted": "int",
    }
    column_widths = {"county": 22}

    def stream_movement(self, previous_rank, rank):
        return movement_label(previous_rank, rank)

    class Meta:
        model = CountyRanking
        fields = ("rank", "county", "score", "office_rate", "enterprise_mean_rate", "enterprises_counted", "movement")
        export_order = fields


class EnterpriseRankingResource(RankingResource):
    rank_in_city = fields.Field(attribute="rank_in_city", column_name=_("Rank in city"))
    rank_in_county = fields.Field(attribute="rank_in_county", column_name=_("Rank in county"))
    enterprise = fields.Field(attribute="enterprise__name", column_name=_("Enterprise name"))
    credit_code = fields.Field(attribute="enterprise__credit_code", column_name=_("Unified social credit code"))
    county = fields.Field(attribute="county__name", column_name=_("County-level unit"))
    points = fields.Field(attribute="points", column_name=_("Points"))
    max_points = fields.Field(attribute="max_points", column_name=_("Max points"))
    score_rate = fields.Field(attribute="score_rate", column_name=_("Score rate"))
    completion = fields.Field(column_name=_("Scored / assigned"))

    stream_paths = {"completion": ("scored_count", "assigned_count")}
    cell_kinds = {
        "rank_in_city": "int",
        "rank_in_county": "int",
        "points": "points",
        "max_points": "points",
        "score_rate": "percent",
    }
    column_widths = {"enterprise": 40, "credit_code": 22, "county": 22, "completion": 14}

    def stream_completion(self, scored_count, assigned_count):
        return f"{scored_count}/{assigned_count}"

    class Meta:
        model = EnterpriseRanking
        fields = (
            "rank_in_city",
            "rank_in_county",
            "enterprise",
            "credit_code",
            "county",
            "points",
            "max_points",
            "score_rate",
            "completion",
        )
        export_order = fields
