"""Spreadsheet import and export of the task library (考核任务指标), with Chinese headers."""

import re

from django.utils.encoding import force_str
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets

from enterprises.models import Enterprise, Profile, Region
from enterprises.resources import ChoicesWidget, RegionWidget, YesNoWidget
from spreadsheets.cells import FORMULA_PREFIXES, SpreadsheetSafeMixin

from .models import Indicator

SEPARATORS = re.compile(r"[,，、;；/\s]+")


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
        """The rules of enterprises.imports for the library: the importer's city, no formula-like title."""
        errors = dict(import_validation_errors or {})
        city_id = getattr(self, "_import_city_id", None)
        if instance.city_id and city_id is not None and instance.city_id != city_id:
            errors.setdefault("city", []).append(gettext("You can only import the task library of your own city."))
        if force_str(instance.title or "").startswith(FORMULA_PREFIXES):
            errors.setdefault("title", []).append(
                gettext("A cell may not start with =, +, - or @ (it could run as a formula).")
            )
        super().validate_instance(instance, errors, validate_unique)

