"""Admin for ranking snapshots: read-only, since only scoring.engine.compute_snapshot writes them."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from enterprises.admin import ReadOnlyAdminMixin, ReadOnlyInline, ScopedAdminMixin

from .models import CountyRanking, EnterpriseRanking, RankingSnapshot

COUNTY_RANKING_FIELDS = (
    "rank",
    "previous_rank",
    "county",
    "score",
    "office_points",
    "office_max_points",
    "office_rate",
    "enterprises_counted",
    "enterprise_mean_rate",
)


class CountyRankingInline(ReadOnlyInline):
    model = CountyRanking
    fields = COUNTY_RANKING_FIELDS
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("county")


@admin.register(RankingSnapshot)
class RankingSnapshotAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("period", "computed_at", "trigger", "office_weight", "enterprise_weight")
    list_filter = ("period", "trigger")
    list_select_related = ("period",)
    date_hierarchy = "computed_at"
    inlines = (CountyRankingInline,)
    scope_city = "period__city"


@admin.register(CountyRanking)
class CountyRankingAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("county", "rank", "previous_rank", "score", "office_rate", "enterprise_mean_rate", "snapshot")
    list_filter = ("snapshot__period", ("county", admin.RelatedOnlyFieldListFilter))
    search_fields = ("county__name",)
    list_select_related = ("county", "snapshot__period")
    scope_city = "snapshot__period__city"


@admin.register(EnterpriseRanking)
class EnterpriseRankingAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = (
        "enterprise",
        "county",
        "rank_in_city",
        "rank_in_county",
        "points",
        "max_points",
        "score_rate",
        "completion_display",
        "snapshot",
    )
    list_filter = ("snapshot__period", ("county", admin.RelatedOnlyFieldListFilter))
    search_fields = ("enterprise__name", "enterprise__credit_code")
    list_select_related = ("enterprise", "county", "snapshot__period")
    raw_id_fields = ("snapshot", "enterprise", "county")
    list_per_page = 50
    scope_enterprise = "enterprise"
    scope_county = "county"

    @admin.display(description=_("Scored / assigned"))
    def completion_display(self, obj):
        return f"{obj.scored_count}/{obj.assigned_count}"
