"""Query-string filters of the list endpoints. They only narrow a queryset that is already
scoped by visible_to(): an id outside the user's scope simply matches nothing."""

import django_filters
from django import forms
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from enterprises.models import Enterprise, Region
from tasks.models import AssignmentState, CheckInState, Indicator

from .serializers import MAX_ID


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """An id: a whole number within the database's range (never a 500 for 1e30)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class RegionFilter(django_filters.FilterSet):
    level = django_filters.ChoiceFilter(choices=Region.Level.choices)
    parent = IdFilter(field_name="parent_id")


class EnterpriseFilter(django_filters.FilterSet):
    county = IdFilter(field_name="county_id")
    size_class = django_filters.ChoiceFilter(choices=Enterprise.SizeClass.choices)
    ownership = django_filters.ChoiceFilter(choices=Enterprise.Ownership.choices)
    pilot_level = django_filters.ChoiceFilter(choices=Enterprise.PilotLevel.choices)


class PeriodFilter(django_filters.FilterSet):
    is_closed = django_filters.BooleanFilter()


class IndicatorFilter(django_filters.FilterSet):
    category = django_filters.ChoiceFilter(choices=Indicator.Category.choices)
    target = django_filters.ChoiceFilter(choices=Indicator.Target.choices)
    is_active = django_filters.BooleanFilter()


class AssignmentFilter(django_filters.FilterSet):
    period = IdFilter(field_name="period_id")
    county = IdFilter(field_name="county_id")
    enterprise = IdFilter(field_name="enterprise_id")
    indicator = IdFilter(field_name="indicator_id")
    state = django_filters.ChoiceFilter(choices=AssignmentState.choices)
    county_office = django_filters.BooleanFilter(
        field_name="enterprise", lookup_expr="isnull", label="Only county reform offices' own tasks (true) or only enterprises' (false)"
    )


class CheckInFilter(django_filters.FilterSet):
    period = IdFilter(field_name="assignment__period_id")
    county = IdFilter(field_name="assignment__county_id")
    enterprise = IdFilter(field_name="assignment__enterprise_id")
    assignment = IdFilter(field_name="assignment_id")
    state = django_filters.ChoiceFilter(choices=CheckInState.choices)
