"""Admin for the scoring app: all read-only. Snapshots are written only by scoring.engine,
and scoring rules change only through scoring.services.change_scoring_rule (the rule page),
which records who changed what. The period admin gets a "Recompute rankings" action here,
which asks scoring.recompute for a full recompute through the ranking queue."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from enterprises.admin import ReadOnlyAdminMixin, ReadOnlyInline, ScopedAdminMixin, person_column
from enterprises.models import with_names
from tasks import admin as tasks_admin
from tasks.models import Period

from . import recompute, selectors
from .models import CountyRanking, EnterpriseRanking, RankingSnapshot, RecomputeRequest, ScoringRule, ScoringRuleChange

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
    list_display = (
        "period", "taken_on", "computed_at", "trigger", "office_weight", "enterprise_weight", "tie_method",
        "count_unfinished",
    )
    list_filter = ("period", "trigger", "tie_method")
    list_select_related = ("period",)
    date_hierarchy = "taken_on"
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
        "city_rank",
        "county_rank",
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
    readonly_fields = ("city_rank", "county_rank")
    scope_enterprise = "enterprise"
    scope_county = "county"

    def get_queryset(self, request):
        return super().get_queryset(request).with_ranks()

    @admin.display(description=_("rank in city"), ordering="rank_in_city")
    def city_rank(self, obj):
        return obj.rank_in_city

    @admin.display(description=_("rank in county"), ordering="rank_in_county")
    def county_rank(self, obj):
        return obj.rank_in_county

    @admin.display(description=_("Scored / assigned"))
    def completion_display(self, obj):
        return f"{obj.scored_count}/{obj.assigned_count}"


class ScoringRuleChangeInline(ReadOnlyInline):
    model = ScoringRuleChange
    fields = ("changed_at", "changed_by_name", "before", "after")
    readonly_fields = fields
    show_change_link = False
    changed_by_name = person_column("changed_by", _("changed by"))

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(*with_names("changed_by"))


@admin.register(ScoringRule)
class ScoringRuleAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("period", "office_weight", "enterprise_weight", "tie_method", "count_unfinished", "updated_at")
    list_filter = ("tie_method", "count_unfinished")
    list_select_related = ("period",)
    inlines = (ScoringRuleChangeInline,)
    scope_city = "period__city"


@admin.register(RecomputeRequest)
class RecomputeRequestAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("period", "enterprise", "full", "requested_at")
    list_filter = ("period", "full")
    list_select_related = ("period", "enterprise")
    scope_city = "period__city"


# The period admin is the task library's (tasks.admin); the ranking action is the scoring
# app's, so it extends that admin here rather than tasks importing scoring.
admin.site.unregister(Period)


@admin.register(Period)
class PeriodAdmin(tasks_admin.PeriodAdmin):
    actions = (*tasks_admin.PeriodAdmin.actions, "recompute_rankings_action")

    @admin.action(description=_("Recompute rankings"), permissions=("change",))
    def recompute_rankings_action(self, request, queryset):
        """Ask for each period's rankings in full through the ranking queue; the message says
        what was computed when the job already ran (no broker: inline), else that it runs."""
        for period in queryset.select_related("city"):
            recompute.request_recompute(period, trigger="admin")
            snapshot = selectors.latest_snapshot(period)
            if snapshot is None or selectors.ranking_update_pending(period):
                message = _("%(period)s: rankings are being recomputed.") % {"period": period}
            else:
                message = _("%(period)s: rankings recomputed (%(counties)d counties, %(enterprises)d enterprises).") % {
                    "period": period,
                    "counties": snapshot.county_rankings.count(),
                    "enterprises": snapshot.enterprise_rankings.count(),
                }
            self.message_user(request, message, messages.SUCCESS)
