"""The admin's spreadsheet import and export (django-import-export) of enterprises and of the
task library (考核任务指标), with Chinese headers; the portal's own import
(spreadsheets.imports) takes its column headers from these resources.

The widgets for choices, yes/no and regions are shared by both resources; formula escaping
is spreadsheets.cells.
"""

import re

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db.models import OuterRef, Subquery
from django.utils import translation
from django.utils.encoding import force_str
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets

from enterprises.credit_code import is_valid as is_valid_credit_code
from enterprises.inputs import messages_of
from enterprises.models import Enterprise, Profile, Region
from tasks import moves, services
from tasks.models import Indicator

from .cells import FORMULA_PREFIXES, SpreadsheetSafeMixin

SEPARATORS = re.compile(r"[,，、;；/\s]+")


class ChoicesWidget(widgets.Widget):
    """A choice field shown by its label; import accepts the label (in the active language
    or as the English msgid) or the stored value."""

    def __init__(self, choices, **kwargs):
        super().__init__(**kwargs)
        self.choices = choices

    def clean(self, value, row=None, **kwargs):
        text = force_str(value if value is not None else "").strip()
        if not text:
            return None
        for stored, label in self.choices:
            with translation.override("en"):
                msgid = force_str(label)
            if text in (stored, force_str(label), msgid):
                return stored
        raise ValueError(gettext("“%(value)s” is not one of the allowed values.") % {"value": text})

    def render(self, value, obj=None, **kwargs):
        return force_str(dict(self.choices).get(value, value or ""))


class YesNoWidget(widgets.BooleanWidget):
    """是/否 in the spreadsheet (translated "Yes"/"No"); import also accepts 1/0 and true/false."""

    def clean(self, value, row=None, **kwargs):
        text = force_str(value if value is not None else "").strip().lower()
        if text in {"", "none"}:
            return None
        if text in {"1", "true", "yes", "y", force_str(gettext("Yes")).lower()}:
            return True
        if text in {"0", "false", "no", "n", force_str(gettext("No")).lower()}:
            return False
        raise ValueError(gettext("Enter yes or no."))

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        return gettext("Yes") if value else gettext("No")


class RegionWidget(widgets.ForeignKeyWidget):
    """A region of one level, written by name; import accepts its name or its division code."""

    def __init__(self, level, **kwargs):
        super().__init__(Region, field="name", **kwargs)
        self.level = level

    def get_queryset(self, value, row, *args, **kwargs):
        return Region.objects.filter(level=self.level)

    def clean(self, value, row=None, **kwargs):
        text = force_str(value if value is not None else "").strip()
        if not text:
            return None
        regions = self.get_queryset(value, row, **kwargs)
        matches = list(regions.filter(code=text)[:2]) if text.isdigit() else list(regions.filter(name=text)[:2])
        if len(matches) != 1:
            raise ValueError(
                gettext("“%(value)s” does not name exactly one region of this level.") % {"value": text}
            )
        return matches[0]


class CreditCodeWidget(widgets.CharWidget):
    """The unified social credit code, trimmed and upper-cased; EnterpriseResource checks it."""

    def clean(self, value, row=None, **kwargs):
        return force_str(value if value is not None else "").strip().upper()


class EnterpriseResource(SpreadsheetSafeMixin, resources.ModelResource):
    """Enterprises keyed by their unified social credit code: importing a sheet again updates them."""

    credit_code = fields.Field(
        attribute="credit_code", column_name=_("Unified social credit code"), widget=CreditCodeWidget()
    )
    name = fields.Field(attribute="name", column_name=_("Enterprise name"), widget=widgets.CharWidget())
    county = fields.Field(
        attribute="county", column_name=_("County-level unit"), widget=RegionWidget(Region.Level.COUNTY)
    )
    size_class = fields.Field(
        attribute="size_class", column_name=_("Size class"), widget=ChoicesWidget(Enterprise.SizeClass.choices)
    )
    ownership = fields.Field(
        attribute="ownership", column_name=_("Ownership"), widget=ChoicesWidget(Enterprise.Ownership.choices)
    )
    pilot_level = fields.Field(
        attribute="pilot_level",
        column_name=_("Pilot level"),
        widget=ChoicesWidget(Enterprise.PilotLevel.choices),
        default=Enterprise.PilotLevel.NONE,
    )
    employees = fields.Field(
        attribute="employees", column_name=_("Employees"), widget=widgets.IntegerWidget(coerce_to_string=False), default=0
    )
    liaison_name = fields.Field(attribute="liaison_name", column_name=_("Liaison name"), widget=widgets.CharWidget())
    liaison_phone = fields.Field(
        attribute="liaison_phone", column_name=_("Liaison phone"), widget=widgets.CharWidget()
    )
    is_active = fields.Field(attribute="is_active", column_name=_("In the reform"), widget=YesNoWidget(), default=True)
    # Exported so that a sheet round-trips through the portal's import (spreadsheets.imports),
    # which creates or links the liaison's account; the admin import leaves accounts alone.
    liaison_account = fields.Field(column_name=_("Liaison account"), readonly=True)

    class Meta:
        model = Enterprise
        fields = (
            "credit_code",
            "name",
            "county",
            "size_class",
            "ownership",
            "pilot_level",
            "employees",
            "liaison_name",
            "liaison_phone",
            "liaison_account",
            "is_active",
        )
        export_order = fields
        import_id_fields = ("credit_code",)
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True

    @staticmethod
    def with_liaison_account(queryset):
        """The enterprises with their liaison's username joined in (one query for any number of rows)."""
        account = Profile.objects.filter(
            enterprise=OuterRef("pk"), role=Profile.Role.ENTERPRISE_LIAISON
        ).order_by("pk").values("user__username")[:1]
        return queryset.select_related("county").annotate(liaison_account=Subquery(account))

    def get_queryset(self):
        return self.with_liaison_account(super().get_queryset())

    def filter_export(self, queryset, **kwargs):
        # The admin passes its own queryset: join the county and the account here too.
        return self.with_liaison_account(super().filter_export(queryset, **kwargs))

    def dehydrate_liaison_account(self, enterprise):
        return getattr(enterprise, "liaison_account", None) or ""

    def before_import(self, dataset, **kwargs):
        """Remember the importer's city and refuse a sheet naming one credit code twice."""
        super().before_import(dataset, **kwargs)
        user = kwargs.get("user")
        self._import_user = user  # a county change moves the enterprise in this user's name
        profile = Profile.for_user(user)
        # Staff import into their own city; superusers and code calling import_data() without
        # a user (management commands, tests) into any.
        if user is None or getattr(user, "is_superuser", False):
            self._import_city_id = None
        else:
            self._import_city_id = getattr(profile.city if profile else None, "pk", 0)
        header = force_str(self.fields["credit_code"].column_name)
        if header in (dataset.headers or []):
            seen = set()
            for number, value in enumerate(dataset[header], start=2):
                code = force_str(value if value is not None else "").strip().upper()
                if code and code in seen:
                    raise ValueError(
                        gettext("Row %(row)s: credit code %(code)s appears twice in the sheet.")
                        % {"row": number, "code": code}
                    )
                seen.add(code)

    def after_init_instance(self, instance, new, row, **kwargs):
        """Remember the city an existing enterprise is in before the row overwrites its county."""
        super().after_init_instance(instance, new, row, **kwargs)
        instance._import_original_city_id = None if new else instance.county.parent_id
        instance._import_was_active = False if new else instance.is_active

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        """The domain rules of spreadsheets.imports, as field errors: a GB 32100-2015 check
        digit, an enterprise and a county of the importer's city, no formula-like name."""
        errors = dict(import_validation_errors or {})
        if not is_valid_credit_code(instance.credit_code):
            errors.setdefault("credit_code", []).append(
                gettext("“%(value)s” is not a valid unified social credit code.") % {"value": instance.credit_code}
            )
        city_id = getattr(self, "_import_city_id", None)
        original_city_id = getattr(instance, "_import_original_city_id", None)
        if city_id is not None and original_city_id is not None and original_city_id != city_id:
            errors.setdefault("credit_code", []).append(
                gettext("The enterprise with credit code “%(value)s” belongs to another city.")
                % {"value": instance.credit_code}
            )
        if instance.county_id and city_id is not None and instance.county.parent_id != city_id:
            errors.setdefault("county", []).append(
                gettext("“%(value)s” is not a county-level unit of your city.") % {"value": instance.county.name}
            )
        if "county" not in errors and instance.county_id and moves.enterprise_county_changed(instance.pk, instance.county_id):
            # Another county moves the enterprise with its open tasks (save_instance): the
            # move's rules decide, so only the city office of the enterprise's city may.
            try:
                moves.check_move(getattr(self, "_import_user", None), instance, instance.county_id)
            except (PermissionDenied, ValidationError, ObjectDoesNotExist) as error:
                errors.setdefault("county", []).extend(messages_of(error))
        for name in ("name", "liaison_name"):
            if force_str(getattr(instance, name) or "").startswith(FORMULA_PREFIXES):
                errors.setdefault(name, []).append(
                    gettext("A cell may not start with =, +, - or @ (it could run as a formula).")
                )
        super().validate_instance(instance, errors, validate_unique)

    def save_instance(self, instance, is_create, row, **kwargs):
        """A row that gives an existing enterprise another county moves it through
        tasks.moves (validate_instance checked that it may) before the other fields are saved."""
        moving = not is_create and moves.enterprise_county_changed(instance.pk, instance.county_id)
        if moving and (self._is_using_transactions(kwargs) or not self._is_dry_run(kwargs)):
            moves.move_enterprise(self._import_user, instance, instance.county_id, str(moves.IMPORT_REASON))
        super().save_instance(instance, is_create, row, **kwargs)
        saved = self._is_using_transactions(kwargs) or not self._is_dry_run(kwargs)
        if saved and instance.is_active and not getattr(instance, "_import_was_active", True):
            # A new enterprise (or one back in the reform) gets its tasks of every open period
            # with its row; a dry run's transaction is rolled back with them.
            services.assign_enterprises([instance.pk])


class SizeClassListWidget(widgets.Widget):
    """The size classes an indicator applies to, as labels joined by 、; empty means all."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.choice = ChoicesWidget(Enterprise.SizeClass.choices)

    def clean(self, value, row=None, **kwargs):
        text = force_str(value if value is not None else "").strip()
        if not text:
            return []
        sizes = [self.choice.clean(part) for part in SEPARATORS.split(text) if part]
        return list(dict.fromkeys(sizes))

    def render(self, value, obj=None, **kwargs):
        return "、".join(self.choice.render(size) for size in value or [])


class PointsWidget(widgets.DecimalWidget):
    def clean(self, value, row=None, **kwargs):
        points = super().clean(value, row, **kwargs)
        if points is None or points < 0:
            raise ValueError(gettext("Max points must be a number of at least 0."))
        return points


class IndicatorResource(SpreadsheetSafeMixin, resources.ModelResource):
    """Indicators keyed by (city, code): importing the library again updates it in place."""

    city = fields.Field(attribute="city", column_name=_("City"), widget=RegionWidget(Region.Level.CITY))
    code = fields.Field(attribute="code", column_name=_("Indicator code"), widget=widgets.CharWidget())
    category = fields.Field(
        attribute="category", column_name=_("Category"), widget=ChoicesWidget(Indicator.Category.choices)
    )
    title = fields.Field(attribute="title", column_name=_("Indicator"), widget=widgets.CharWidget())
    requirement = fields.Field(attribute="requirement", column_name=_("Requirement"), widget=widgets.CharWidget())
    evidence_hint = fields.Field(
        attribute="evidence_hint", column_name=_("Evidence asked for"), widget=widgets.CharWidget()
    )
    scoring_guidance = fields.Field(
        attribute="scoring_guidance", column_name=_("Scoring guidance"), widget=widgets.CharWidget()
    )
    max_points = fields.Field(
        attribute="max_points", column_name=_("Max points"), widget=PointsWidget(coerce_to_string=False)
    )
    target = fields.Field(
        attribute="target", column_name=_("Assignee"), widget=ChoicesWidget(Indicator.Target.choices)
    )
    applies_to_sizes = fields.Field(
        attribute="applies_to_sizes", column_name=_("Applies to size classes"), widget=SizeClassListWidget()
    )
    order = fields.Field(
        attribute="order", column_name=_("Display order"), widget=widgets.IntegerWidget(coerce_to_string=False), default=0
    )
    is_active = fields.Field(attribute="is_active", column_name=_("Active"), widget=YesNoWidget(), default=True)

    class Meta:
        model = Indicator
        fields = (
            "city",
            "code",
            "category",
            "title",
            "requirement",
            "evidence_hint",
            "scoring_guidance",
            "max_points",
            "target",
            "applies_to_sizes",
            "order",
            "is_active",
        )
        export_order = fields
        import_id_fields = ("city", "code")
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True

    def get_queryset(self):
        return super().get_queryset().select_related("city")

    def before_import(self, dataset, **kwargs):
        """Remember the importer's city: staff import only their own city's library."""
        super().before_import(dataset, **kwargs)
        user = kwargs.get("user")
        if user is None or getattr(user, "is_superuser", False):
            self._import_city_id = None
        else:
            profile = Profile.for_user(user)
            self._import_city_id = getattr(profile.city if profile else None, "pk", 0)

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        """The rules of spreadsheets.imports for the library: the importer's city, no formula-like title."""
        errors = dict(import_validation_errors or {})
        city_id = getattr(self, "_import_city_id", None)
        if instance.city_id and city_id is not None and instance.city_id != city_id:
            errors.setdefault("city", []).append(gettext("You can only import the task library of your own city."))
        if force_str(instance.title or "").startswith(FORMULA_PREFIXES):
            errors.setdefault("title", []).append(
                gettext("A cell may not start with =, +, - or @ (it could run as a formula).")
            )
        super().validate_instance(instance, errors, validate_unique)

