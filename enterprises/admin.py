"""Admin for regions, enterprises and user profiles, plus the mixins the other apps' admins share."""

from axes import admin as axes_admin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin

from . import security
from .models import Enterprise, Profile, Region
from .resources import EnterpriseResource


def admin_profile(request):
    """The staff user's portal profile with its scope joined, or None."""
    return (
        Profile.objects.select_related("region__parent", "enterprise__county__parent")
        .filter(user_id=request.user.pk)
        .first()
    )


class SafeAutocompleteSelect(AutocompleteSelect):
    """Django's AutocompleteSelect re-renders a refused form by looking the posted values up
    as they are: a value that is no key at all (a NUL, "0.2") raised ValueError in the query,
    a 500 (found by tests/test_site_form_fuzz.py). Only values the key can take are looked
    up; the form's own error already says that the choice is invalid."""

    def optgroups(self, name, value, attr=None):
        key = self.field.remote_field.get_related_field()
        valid = []
        for item in value:
            try:
                key.get_prep_value(key.to_python(item))
            except (ValidationError, ValueError, TypeError):
                continue
            valid.append(item)
        return super().optgroups(name, valid, attr)


class SafeAutocompleteMixin:
    """Admins with autocomplete_fields use SafeAutocompleteSelect."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ScopedAdminMixin(SafeAutocompleteMixin):
    """Superusers see every row; other staff only the rows in their profile's scope (the
    same Profile.scope_q the site uses), and nothing without a profile.

    Set `scope_city` to the lookup of the row's city for city-level models, or
    `scope_enterprise` / `scope_county` to the paths Profile.scope_q expects.
    """

    scope_city = None
    scope_enterprise = None
    scope_county = None

    def scope_filter(self, profile):
        if self.scope_city is not None:
            return Q(**{self.scope_city: profile.city}) if profile.city else Q(pk__in=[])
        return profile.scope_q(enterprise=self.scope_enterprise, county=self.scope_county)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        profile = admin_profile(request)
        if profile is None:
            return queryset.none()
        return queryset.filter(self.scope_filter(profile))


class ReadOnlyAdminMixin:
    """Rows that only the domain services write (tasks.services, scoring.engine): the admin
    shows them but never adds, changes or deletes them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True


@admin.register(Region)
class RegionAdmin(SafeAutocompleteMixin, admin.ModelAdmin):
    list_display = ("name", "code", "level", "parent", "order")
    list_filter = ("level",)
    search_fields = ("name", "code")
    list_select_related = ("parent",)
    autocomplete_fields = ("parent",)
    ordering = ("level", "order", "code")

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        profile = admin_profile(request)
        if profile is None or profile.city is None:
            return queryset.none()
        return queryset.filter(Q(pk=profile.city.pk) | Q(parent=profile.city))


@admin.register(Enterprise)
class EnterpriseAdmin(ScopedAdminMixin, ImportExportModelAdmin):
    resource_classes = [EnterpriseResource]
    list_display = (
        "name",
        "credit_code",
        "county",
        "size_class",
        "ownership",
        "pilot_level",
        "employees",
        "liaison_name",
        "is_active",
    )
    list_filter = ("is_active", "size_class", "ownership", "pilot_level", ("county", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "credit_code", "liaison_name", "liaison_phone")
    list_select_related = ("county",)
    autocomplete_fields = ("county",)
    list_per_page = 50
    scope_enterprise = ""
    scope_county = "county"
    fieldsets = (
        (None, {"fields": ("name", "credit_code", "county", "is_active")}),
        (_("Profile"), {"fields": ("size_class", "ownership", "pilot_level", "employees")}),
        (_("Liaison"), {"fields": ("liaison_name", "liaison_phone")}),
    )


@admin.register(Profile)
class ProfileAdmin(SafeAutocompleteMixin, admin.ModelAdmin):
    list_display = ("user", "role", "enterprise", "region")
    list_filter = ("role",)
    search_fields = ("user__username", "user__first_name", "user__last_name", "enterprise__name", "region__name")
    list_select_related = ("user", "enterprise", "region")
    autocomplete_fields = ("user", "enterprise", "region")
    actions = ["revoke_api_tokens"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        profile = admin_profile(request)
        if profile is None or profile.city is None:
            return queryset.none()
        city = profile.city
        return queryset.filter(Q(enterprise__county__parent=city) | Q(region=city) | Q(region__parent=city))

    @admin.action(description=_("Revoke the API tokens of the selected accounts"), permissions=["change"])
    def revoke_api_tokens(self, request, queryset):
        for username in queryset.order_by("user__username").values_list("user__username", flat=True):
            try:
                revoked = security.revoke_tokens_of(request.user, username)
            except (PermissionDenied, ValidationError) as exc:
                self.message_user(request, f"{username}: {' '.join(getattr(exc, 'messages', [str(exc)]))}", messages.ERROR)
            else:
                message = _("The API tokens of %(username)s are revoked (%(count)d).")
                self.message_user(request, message % {"username": username, "count": revoked})


# --- Login lockouts: axes' own admin, plus unlocking through the one service ---------------
class AccessAttemptAdmin(axes_admin.AccessAttemptAdmin):
    actions = ["unlock_selected"]

    @admin.action(description=_("Unlock the selected usernames"))
    def unlock_selected(self, request, queryset):
        for username in sorted(set(queryset.values_list("username", flat=True))):
            try:
                security.unlock_user(request.user, username)
            except (PermissionDenied, ValidationError) as exc:
                self.message_user(request, f"{username}: {' '.join(getattr(exc, 'messages', [str(exc)]))}", messages.ERROR)
            else:
                self.message_user(request, _("%(username)s can log in again.") % {"username": username})


if admin.site.is_registered(AccessAttempt):  # axes registers it unless AXES_ENABLE_ADMIN is off
    admin.site.unregister(AccessAttempt)
    admin.site.register(AccessAttempt, AccessAttemptAdmin)
