"""Admin for regions, enterprises and user profiles, plus the mixins the other apps' admins share."""

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from . import scoping
from .models import Enterprise, Profile, Region, display_name


def person_column(field, description):
    """A list or inline column naming the user in `field` as the portal names people
    (display_name: 邳州市产改办, 张三（企业）), sorted by username; the admin's queryset loads
    the names with `with_names(field)`."""

    @admin.display(description=description, ordering=f"{field}__username")
    def column(self, obj):
        return display_name(getattr(obj, field))

    return column


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


BLANK_DASHES = "---------"


def blank_choice_label(db_field):
    """The label of a select's blank choice in the portal's admin forms: 请选择 where a value is required,
    无 where the field may stay empty (Django's own is ---------)."""
    return _("None") if db_field.blank else _("Please choose")


class ChineseBlankChoiceMixin:
    """Selects of the admin's forms and its action menu offer 请选择 / 无, not ---------."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(field, forms.ModelChoiceField) and field.empty_label == BLANK_DASHES:
            field.empty_label = blank_choice_label(db_field)
        elif isinstance(field, forms.ChoiceField) and not isinstance(field, forms.ModelChoiceField):
            label = blank_choice_label(db_field)
            field.choices = [(value, label if (value, text) == ("", BLANK_DASHES) else text) for value, text in field.choices]
        return field

    def get_action_choices(self, request, default_choices=None):
        return super().get_action_choices(request, default_choices=[("", _("Please choose"))])


class ScopedChoicesMixin(ChineseBlankChoiceMixin, SafeAutocompleteMixin):
    """The write side of the scoping, for every ModelAdmin and inline of the portal.

    Each foreign key and many-to-many of a form offers only the rows the staff user's own
    change list of that model shows (its ScopedAdminMixin queryset: the same scope as
    visible_to), accounts only those of its city (enterprises.scoping.accounts_of_city),
    and nothing for a related model nobody scoped. The form field validates a posted id
    against that queryset, so another city's id is the ordinary "select a valid choice"
    error and nothing is saved. List filters on a relation offer only the values of the
    rows listed, so other cities' names do not leak either. Superusers are not limited.
    """

    def scoped_choices(self, request, model):
        """The rows of `model` the user may pick, or None for no limit (superusers)."""
        if request.user.is_superuser:
            return None
        if model is get_user_model():
            return scoping.accounts_of_city(scoping.city_of(request.user))
        related_admin = self.admin_site._registry.get(model)
        if isinstance(related_admin, ScopedAdminMixin):
            return related_admin.get_queryset(request)
        return model._default_manager.none()  # fail closed: an unscoped relation offers nothing

    def get_field_queryset(self, db, db_field, request):
        queryset = self.scoped_choices(request, db_field.related_model)
        if queryset is None:
            return super().get_field_queryset(db, db_field, request)
        return queryset.using(db) if db else queryset

    def get_list_filter(self, request):
        return tuple(self._scoped_filter(entry) for entry in super().get_list_filter(request))

    def _scoped_filter(self, entry):
        if not isinstance(entry, str):
            return entry
        try:
            field = get_fields_from_path(self.model, entry)[-1]
        except (FieldDoesNotExist, NotRelationField):
            return entry
        return (entry, admin.RelatedOnlyFieldListFilter) if field.is_relation else entry


class ScopedAdminMixin(ScopedChoicesMixin):
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


class ScopedInline(ScopedChoicesMixin, admin.TabularInline):
    extra = 0


class ReadOnlyInline(ReadOnlyAdminMixin, ScopedInline):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True


@admin.register(Region)
class RegionAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "code", "level", "parent", "order")
    list_filter = ("level",)
    search_fields = ("name", "code")
    list_select_related = ("parent",)
    autocomplete_fields = ("parent",)
    ordering = ("level", "order", "code")

    def scope_filter(self, profile):
        return Q(pk__in=scoping.regions_of_city(profile.city).values("pk"))


@admin.register(Enterprise)
class EnterpriseAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """A change of county is a move (tasks.admin registers a subclass that makes it one);
    spreadsheet import and export are added by spreadsheets.admin."""

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


class ProfileAdminForm(forms.ModelForm):
    """Checks the profile against the staff user's city (enterprises.scoping.check_profile)
    on top of the role's own rules (Profile.clean)."""

    request_user = None  # set by ProfileAdmin.get_form

    class Meta:
        model = Profile
        fields = "__all__"

    def _post_clean(self):
        super()._post_clean()
        if self.request_user is not None and not self.errors:
            try:
                scoping.check_profile(self.instance, by=self.request_user)
            except ValidationError as error:
                self._update_errors(error)


@admin.register(Profile)
class ProfileAdmin(ScopedAdminMixin, admin.ModelAdmin):
    form = ProfileAdminForm
    list_display = ("user", "role", "enterprise", "region")
    list_filter = ("role",)
    search_fields = ("user__username", "user__first_name", "user__last_name", "enterprise__name", "region__name")
    list_select_related = ("user", "enterprise", "region")
    autocomplete_fields = ("user", "enterprise", "region")

    def scope_filter(self, profile):
        # A superuser's profile is not the city's to change, even when it is in the city.
        return Q(pk__in=scoping.profiles_of_city(profile.city).values("pk")) & Q(user__is_superuser=False)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"request_user": request.user})
