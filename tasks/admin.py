"""Admin for the task library and the check-in workflow.

Periods and indicators are edited here; assignments, check-ins, evidence and review
events are only shown: their state changes through tasks.services, never in a form.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from enterprises.admin import EnterpriseAdmin, ReadOnlyAdminMixin, ReadOnlyInline, ScopedAdminMixin, person_column
from enterprises.models import Enterprise, with_names

from . import moves, services
from .models import Assignment, CheckIn, EnterpriseMove, Evidence, Indicator, Period, ReviewEvent


@admin.register(Period)
class PeriodAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "city",
        "starts_on",
        "ends_on",
        "submission_deadline",
        "is_closed",
    )
    list_filter = ("is_closed", "city")
    search_fields = ("name", "city__name")
    list_select_related = ("city",)
    autocomplete_fields = ("city",)
    date_hierarchy = "starts_on"
    # scoring.admin adds "Recompute rankings" (scoring sits above tasks).
    actions = ("generate_assignments_action",)
    scope_city = "city"

    @admin.action(description=_("Generate check-in tasks"), permissions=("change",))
    def generate_assignments_action(self, request, queryset):
        for period in queryset.select_related("city"):
            created = services.generate_assignments(period)
            self.message_user(
                request,
                ngettext(
                    "%(period)s: %(count)d check-in task created.",
                    "%(period)s: %(count)d check-in tasks created.",
                    created,
                )
                % {"period": period, "count": created},
                messages.SUCCESS,
            )


@admin.register(Indicator)
class IndicatorAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Spreadsheet import and export are added by spreadsheets.admin, which registers a subclass."""

    list_display = ("code", "title", "category", "target", "max_points", "city", "order", "is_active")
    list_display_links = ("code", "title")
    list_filter = ("is_active", "target", "category", "city")
    search_fields = ("code", "title", "requirement", "scoring_guidance")
    list_select_related = ("city",)
    autocomplete_fields = ("city",)
    scope_city = "city"


class AssigneeColumnMixin:
    """The assignment's assignee (an enterprise, or a county office) without a query per row."""

    @admin.display(description=_("assignee"))
    def assignee(self, obj):
        assignment = getattr(obj, "assignment", obj)
        return assignment.assignee_name


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, AssigneeColumnMixin, admin.ModelAdmin):
    list_display = ("indicator", "assignee", "county", "period", "state", "points", "updated_at")
    list_filter = ("state", "period", "indicator__category", "indicator__target", "county")
    search_fields = ("enterprise__name", "enterprise__credit_code", "indicator__code", "indicator__title")
    list_select_related = ("indicator", "enterprise", "county", "period")
    raw_id_fields = ("period", "indicator", "enterprise", "county")
    list_per_page = 50
    scope_enterprise = "enterprise"
    scope_county = "county"


class EvidenceFileMixin:
    """Evidence files are served only by the permission-checked download view, never by URL."""

    @admin.display(description=_("file"))
    def download(self, obj):
        try:
            url = reverse("tasks:evidence_download", args=[obj.pk])
        except NoReverseMatch:
            return obj.original_name
        return format_html('<a href="{}">{}</a>', url, obj.original_name)


class EvidenceInline(EvidenceFileMixin, ReadOnlyInline):
    model = Evidence
    fields = ("download", "size", "content_type", "sha256", "uploaded_at", "carried_from")
    readonly_fields = fields


class ReviewEventInline(ReadOnlyInline):
    model = ReviewEvent
    fields = ("at", "action", "actor_name", "actor_role", "from_state", "to_state", "points", "comment")
    readonly_fields = fields
    show_change_link = False
    actor_name = person_column("actor", _("actor"))

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(*with_names("actor"))


@admin.register(CheckIn)
class CheckInAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, AssigneeColumnMixin, admin.ModelAdmin):
    list_display = ("indicator", "assignee", "version", "state", "points", "submitted_by_name", "submitted_at")
    list_filter = ("state", "assignment__period", "assignment__county")
    search_fields = (
        "assignment__enterprise__name",
        "assignment__enterprise__credit_code",
        "assignment__indicator__title",
        "description",
    )
    list_select_related = (
        "assignment__indicator",
        "assignment__enterprise",
        "assignment__county",
        *with_names("submitted_by"),
    )
    raw_id_fields = ("assignment", "submitted_by")
    date_hierarchy = "submitted_at"
    inlines = (EvidenceInline, ReviewEventInline)
    list_per_page = 50
    scope_enterprise = "assignment__enterprise"
    scope_county = "assignment__county"

    submitted_by_name = person_column("submitted_by", _("submitted by"))

    @admin.display(description=_("indicator"), ordering="assignment__indicator__code")
    def indicator(self, obj):
        return obj.assignment.indicator

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(
            "assignment__indicator", "assignment__enterprise", "assignment__county", *with_names("submitted_by")
        )


@admin.register(Evidence)
class EvidenceAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, EvidenceFileMixin, admin.ModelAdmin):
    list_display = ("original_name", "checkin_assignee", "size", "content_type", "uploaded_at")
    search_fields = ("original_name", "sha256", "checkin__assignment__enterprise__name")
    list_filter = ("content_type",)
    list_select_related = ("checkin__assignment__enterprise", "checkin__assignment__county")
    fields = ("checkin", "download", "original_name", "size", "content_type", "sha256", "uploaded_at", "carried_from")
    readonly_fields = fields
    date_hierarchy = "uploaded_at"
    scope_enterprise = "checkin__assignment__enterprise"
    scope_county = "checkin__assignment__county"

    @admin.display(description=_("assignee"))
    def checkin_assignee(self, obj):
        return obj.checkin.assignment.assignee_name

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(
            "checkin__assignment__indicator", "checkin__assignment__enterprise", "checkin__assignment__county"
        )


@admin.register(ReviewEvent)
class ReviewEventAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """The audit trail: append-only, so never editable or deletable, not even by superusers."""

    list_display = ("at", "action", "checkin_assignee", "actor_name", "actor_role", "from_state", "to_state", "points")
    list_filter = ("action", "actor_role", "to_state")
    search_fields = ("comment", "actor__username", "checkin__assignment__enterprise__name")
    list_select_related = (*with_names("actor"), "checkin__assignment__enterprise", "checkin__assignment__county")
    date_hierarchy = "at"
    scope_enterprise = "checkin__assignment__enterprise"
    scope_county = "checkin__assignment__county"
    actor_name = person_column("actor", _("actor"))

    @admin.display(description=_("assignee"))
    def checkin_assignee(self, obj):
        return obj.checkin.assignment.assignee_name

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(
            *with_names("actor"),
            "checkin__assignment__indicator",
            "checkin__assignment__enterprise",
            "checkin__assignment__county",
        )


@admin.register(EnterpriseMove)
class EnterpriseMoveAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Enterprises moved to another county (tasks.moves): an audit record, never edited here.
    A move is made by changing the county on the enterprise's own page."""

    list_display = ("at", "enterprise", "from_county", "to_county", "moved_by_name", "assignments_moved")
    list_filter = (("to_county", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("enterprise__name", "enterprise__credit_code", "reason", "moved_by__username")
    list_select_related = ("enterprise", "from_county", "to_county", *with_names("moved_by"))
    date_hierarchy = "at"
    scope_city = "to_county__parent"
    moved_by_name = person_column("moved_by", _("moved by"))


# --- Moving an enterprise: a new county on its admin page goes through tasks.moves ---------


class EnterpriseMoveForm(forms.ModelForm):
    """The enterprise form; a new county moves the enterprise through tasks.moves (its open
    periods' tasks follow it), which asks for the reason and the city office's rights."""

    move_reason = forms.CharField(
        label=_("Reason for the move"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required when the county-level unit changes: the enterprise's tasks of open periods move with it."),
    )
    user = None  # set by MovingEnterpriseAdmin.get_form

    class Meta:
        model = Enterprise
        fields = "__all__"

    @property
    def moves_county(self):
        """Whether saving changes an existing enterprise's county (and so is a move)."""
        county = self.cleaned_data.get("county")
        return self.instance.pk is not None and county is not None and moves.enterprise_county_changed(
            self.instance.pk, county
        )

    def clean(self):
        cleaned = super().clean()
        if not self.moves_county:
            return cleaned
        try:
            moves.check_move(self.user, self.instance, cleaned["county"])
        except (PermissionDenied, ValidationError, ObjectDoesNotExist) as error:
            self.add_error("county", getattr(error, "messages", None) or str(error) or _("You cannot move this enterprise."))
            return cleaned
        try:
            cleaned["move_reason"] = moves.clean_reason(cleaned.get("move_reason"))
        except ValidationError as error:
            self.add_error("move_reason", error)
        return cleaned


class MovingEnterpriseAdmin(EnterpriseAdmin):
    """The enterprises admin, where a change of county is a move (tasks.moves) with a reason.
    Registered in place of enterprises.admin.EnterpriseAdmin, which knows nothing of tasks."""

    form = EnterpriseMoveForm

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets  # a new enterprise is placed in a county, not moved
        (title, options), *rest = fieldsets
        fields = []
        for name in options["fields"]:
            fields.append(name)
            if name == "county":
                fields.append("move_reason")
        return ((title, {**options, "fields": tuple(fields)}), *rest)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def save_model(self, request, obj, form, change):
        if change and form.moves_county:
            # The service moves the enterprise and its open tasks (and re-checks under lock);
            # the save below then writes the form's other fields.
            moves.move_enterprise(request.user, obj, obj.county, form.cleaned_data["move_reason"])
        entering = obj.is_active and (not change or "is_active" in form.changed_data)
        super().save_model(request, obj, form, change)
        if entering:
            # A new enterprise, or one back in the reform, gets its tasks of every open
            # period now, in the admin's transaction (not by a separate admin action).
            created = services.assign_enterprises([obj.pk])
            self.message_user(
                request,
                ngettext(
                    "%(enterprise)s: %(count)d check-in task created in the open periods.",
                    "%(enterprise)s: %(count)d check-in tasks created in the open periods.",
                    created,
                )
                % {"enterprise": obj.name, "count": created},
                messages.SUCCESS,
            )


admin.site.unregister(Enterprise)
admin.site.register(Enterprise, MovingEnterpriseAdmin)
